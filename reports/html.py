"""The self-contained ``report.html``: Jinja2 with autoescape on, PNGs embedded as base64 data URIs, inline CSS.

``report_context`` turns formatted rows into plain dicts of strings (every number formatted here, every string
escaped by the template); ``render_report`` renders them. Nothing here recomputes a metric.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import jinja2
import pandas as pd

from reports.analysis import Analysis, comparable
from reports.formatting import JUDGE_NOTE, display_scale, fmt, fmt_ci, fmt_p, fmt_signed
from reports.plots import PROBE_TASKS, Plot, method_colours
from reports.significance import ALPHA
from reports.summary import ARROWS, leaderboards, reference_set_notes, rule_text, summary_sentences
from reports.tables import PER_IMAGE_SUFFIX, parse_protocol, split_bracket

TEMPLATE_DIR = Path(__file__).parent / "templates"  # report.html lives here
# Shown above the samples of a smoke run: what a newcomer's first report can and cannot show (figures: docs/faces.md).
SMOKE_NOTE = ("Smoke profile: every model here trained for seconds to a few CPU-minutes (each row's model_train "
              "provenance gives its steps; StarGAN's 1,500 steps, about 2 CPU-minutes, give blurry, mostly "
              "recognisable faces with the target expression or hair colour; most other samples are blurrier or "
              "noise), so they "
              "show what each method does to its input, not what it can do. Run --profile standard for models "
              "trained to meaningful numbers.")


def data_uri(path: Path) -> str:
    """A PNG file as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _main_metrics(task_long: pd.DataFrame) -> list[str]:
    """Metrics shown in a task's main table: not per-class, not per-image, not simulated studies."""
    plain = task_long[~task_long["simulated"]]
    return [m for m in dict.fromkeys(plain["metric"]) if split_bracket(m) is None and not m.endswith(PER_IMAGE_SUFFIX)]


def _cell(rec: pd.Series | None, scale: float) -> dict[str, object]:
    """One of our values: mean, CI, and the highlight class (``best`` significantly best, ``tie`` tied best)."""
    if rec is None:
        return {"value": "–", "ci": "", "cls": "", "note": ""}
    cls = "best" if rec["significantly_best"] else "tie" if rec["verdict"] == "tied best" else ""
    note = "" if not rec["vs"] else (f"{rec['verdict']}; vs {rec['vs']}: {fmt_signed(rec['diff'], scale)}, "
                                     f"{fmt_p(rec['p'])}")
    return {"value": fmt(rec["mean"], scale), "ci": fmt_ci(rec["ci_low"], rec["ci_high"], scale), "cls": cls,
            "note": note}


def _main_table(task_long: pd.DataFrame) -> dict[str, object]:
    metrics = _main_metrics(task_long)
    headers, scales = [], {}
    for m in metrics:
        sub = task_long[task_long["metric"] == m]
        scales[m], unit = display_scale(m, sub["mean"])
        direction = sub["higher_is_better"].iloc[0]
        headers.append({"name": m, "arrow": ARROWS.get(direction, ""), "unit": unit, "info": direction is None})
    rows = []
    for model in dict.fromkeys(task_long["model"]):
        sub = task_long[task_long["model"] == model].set_index("metric")
        if not any(m in sub.index for m in metrics):
            continue
        rows.append({"model": model, "setting": sub["setting"].iloc[0], "n_seeds": int(sub["n_seeds"].max()),
                     "cells": [_cell(sub.loc[m] if m in sub.index else None, scales[m]) for m in metrics]})
    extractors = sorted({parse_protocol(p).get("feature_extractor", "") for p in task_long["protocol"]} - {""})
    return {"headers": headers, "rows": rows, "extractors": extractors,
            "scaled": any(h["unit"] for h in headers)}


def _published_table(task_long: pd.DataFrame) -> dict[str, object]:
    """The papers' values for this task's methods, in their own table: dataset, status and comparability named."""
    pub = task_long[task_long["published_value"].notna() & ~task_long["simulated"]]
    if pub.empty:
        return {}
    metrics = list(dict.fromkeys(pub["metric"]))
    rows = []
    for model in dict.fromkeys(pub["model"]):
        sub = pub[pub["model"] == model].set_index("metric")
        rows.append({"model": model, "cells": [
            {"value": fmt(sub.at[m, "published_value"]), "status": sub.at[m, "published_status"],
             "dataset": sub.at[m, "published_dataset"], "source": sub.at[m, "published_source"]}
            if m in sub.index else None for m in metrics]})
    return {"metrics": metrics, "rows": rows, "datasets": sorted(set(pub["published_dataset"]) - {""}),
            "comparability": sorted(set(pub["published_comparable"]) - {""})}


def _study_rows(task_long: pd.DataFrame) -> list[dict[str, str]]:
    sub = task_long[task_long["simulated"]]
    return [{"model": r.model, "metric": r.metric, "value": fmt(r.mean), "ci": fmt_ci(r.ci_low, r.ci_high),
             "n_seeds": str(r.n_seeds), "protocol": r.protocol} for r in sub.itertuples()]


def _pvu_rows(pvu: pd.DataFrame, task: str) -> list[dict[str, str]]:
    """Headline metrics only: per-class (``metric[class]``) comparisons stay in the CSV and the per-class plots."""
    out = []
    for r in pvu[(pvu["task"] == task) & ~pvu["metric"].str.contains("[", regex=False)].itertuples():
        scale, unit = display_scale(r.metric, [r.value_a, r.value_b])
        out.append({"metric": r.metric, "arrow": ARROWS[bool(r.higher_is_better)], "unit": unit,
                    "setting_a": r.setting_a, "model_a": r.model_a, "value_a": fmt(r.value_a, scale),
                    "setting_b": r.setting_b, "model_b": r.model_b, "value_b": fmt(r.value_b, scale),
                    "gap": fmt_signed(r.gap, scale), "gap_ci": fmt_ci(r.gap_ci_low, r.gap_ci_high, scale),
                    "p": fmt_p(r.p), "test": r.test, "better": r.better})
    return out


def _ranking_rows(task_long: pd.DataFrame) -> list[dict[str, object]]:
    """Every compared method of a task ranked per headline metric, best first, with each difference's test.

    This is what compares methods that share a setting (StarGAN vs DIAT vs CycleGAN, SRGAN vs SRResNet) without
    report code per model; shown when a task has two or more compared methods.
    """
    methods = comparable(task_long)
    methods = methods[~methods["metric"].str.contains("[", regex=False) & methods["rank"].notna()]
    rows = []
    for metric, group in methods.groupby("metric", sort=False):
        higher = bool(group["higher_is_better"].iloc[0])
        scale, unit = display_scale(metric, group["mean"])
        ranked = group.assign(sort_key=-group["mean"] if higher else group["mean"]).sort_values(["rank", "sort_key"])
        rows.append({"metric": metric, "arrow": ARROWS[higher], "unit": unit, "ranked": [
            {"rank": f"{'=' if r.tied else ''}{int(r.rank)}", "model": str(r.model), "setting": str(r.setting),
             "value": fmt(r.mean, scale), "best": bool(r.significantly_best), "tied": bool(r.tied),
             "vs": str(r.vs), "diff": fmt_signed(r.diff, scale),
             "diff_ci": fmt_ci(r.diff_ci_low, r.diff_ci_high, scale), "p": fmt_p(r.p)} for r in ranked.itertuples()]})
    return rows


def sample_grids(run_dir: Path, task: str) -> list[dict[str, object]]:
    """Per direction under ``samples/<task>/``: rows input, each method's strip (sorted), target."""
    grids = []
    for folder in sorted(p for p in (run_dir / "samples" / task).glob("*") if p.is_dir()):
        methods = sorted(p for p in folder.glob("*.png") if not p.name.startswith("_"))
        rows = [("input", folder / "_input.png")] if (folder / "_input.png").is_file() else []
        rows += [(p.stem.replace("__s", " seed "), p) for p in methods]
        rows += [("target", folder / "_target.png")] if (folder / "_target.png").is_file() else []
        if rows:
            grids.append({"direction": folder.name, "rows": [{"label": lab, "src": data_uri(p)} for lab, p in rows]})
    return grids


def _provenance(run_dir: Path, config: dict, manifest: dict, long: pd.DataFrame) -> dict[str, object]:
    jobs = [{"job": job, **{k: str(v) for k, v in info.items()}} for job, info in manifest.get("jobs", {}).items()]
    protocols = sorted({(r.task, r.model, r.metric, r.protocol) for r in long.itertuples()})
    return {
        "run": run_dir.name, "config": json.dumps(config, indent=2, sort_keys=True),
        "facts": [(k, str(manifest.get(k, ""))) for k in ("harness_version", "git_commit", "python", "profile",
                                                          "seeds", "started", "finished")],
        "packages": sorted((str(k), str(v)) for k, v in manifest.get("packages", {}).items()),
        "hardware": json.dumps(manifest.get("hardware", {}), indent=2, sort_keys=True),
        "jobs": jobs, "job_keys": ["model", "task", "seed", "status", "wall_time_s"], "protocols": protocols,
    }


def _plot(plot: Plot) -> dict[str, str]:
    return {"title": plot.title, "src": data_uri(plot.path), "kind": plot.kind,
            "colours": json.dumps(dict(plot.colours), sort_keys=True)}


def report_context(run_dir: Path, config: dict, manifest: dict, analysis: Analysis,
                   plots: list[Plot]) -> dict[str, object]:
    """Everything the template shows, as plain strings, numbers and lists.

    Args:
        run_dir: The run directory (for sample strips).
        config: Parsed ``config.json``.
        manifest: Parsed ``manifest.json``.
        analysis: ``reports.analysis.analyse`` output.
        plots: Written figures (embedded as data URIs).
    """
    long = analysis.long
    sentences = summary_sentences(analysis)
    verdicts = {s["task"]: s["text"] for s in sentences if s["task"]}
    tasks = []
    for task in dict.fromkeys(long["task"]):
        task_long = long[long["task"] == task]
        tasks.append({
            "name": task, "verdict": verdicts.get(task, ""), "leaderboards": leaderboards(task_long),
            "table": _main_table(task_long),
            "published": _published_table(task_long), "pvu": _pvu_rows(analysis.pvu, task),
            "ranking": _ranking_rows(task_long), "studies": _study_rows(task_long),
            "grids": sample_grids(run_dir, task), "plots": [_plot(p) for p in plots if p.task == task],
        })
    return {"title": f"Report: {run_dir.name}", "summary": sentences, "rules": rule_text(),
            "smoke_note": SMOKE_NOTE if manifest.get("profile") == "smoke" else "",
            "judge_note": JUDGE_NOTE, "alpha": ALPHA,
            "colours": [{"model": m, "colour": c} for m, c in method_colours(long).items()],
            "colours_json": json.dumps(method_colours(long), sort_keys=True),
            "tasks": tasks, "probe_tasks": list(PROBE_TASKS), "reference_sets": reference_set_notes(manifest),
            "global_plots": [_plot(p) for p in plots if p.task == ""],
            "provenance": _provenance(run_dir, config, manifest, long)}


def render_report(context: dict[str, object]) -> str:
    """Renders ``templates/report.html`` with autoescaping on for every value."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("report.html").render(**context)
