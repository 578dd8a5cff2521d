"""The self-contained ``report.html``: Jinja2 with autoescape on, PNGs embedded as base64 data URIs, inline CSS.

``report_context`` turns formatted rows into plain dicts of strings (every number formatted here, every string
escaped by the template); ``render_report`` renders them. Nothing here recomputes a metric.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

import jinja2
import pandas as pd

from reports.plots import PER_IMAGE_SUFFIX, PROBE_TASKS, Plot, split_bracket
from reports.tables import REFERENCE_SETTING

TEMPLATE_DIR = Path(__file__).parent / "templates"  # report.html lives here
ARROWS = {True: "↑", False: "↓"}  # direction marks in table headers; informational metrics get none


def fmt(value: float) -> str:
    """Four significant digits; an en dash for a missing value."""
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.4g}"


def data_uri(path: Path) -> str:
    """A PNG file as a ``data:image/png;base64,...`` URI."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _main_metrics(task_long: pd.DataFrame) -> list[str]:
    """Metrics shown in a task's main table: not per-class, not per-image, not simulated studies."""
    plain = task_long[~task_long["simulated"]]
    return [m for m in dict.fromkeys(plain["metric"]) if split_bracket(m) is None and not m.endswith(PER_IMAGE_SUFFIX)]


def _best_models(task_long: pd.DataFrame, metric: str) -> set[str]:
    """Non-reference models holding the best mean of ``metric`` (empty for informational metrics)."""
    sub = task_long[(task_long["metric"] == metric) & (task_long["setting"] != REFERENCE_SETTING)]
    sub = sub[sub["mean"].notna()]
    higher = sub["higher_is_better"].iloc[0] if len(sub) else None
    if higher is None:
        return set()
    best = sub["mean"].max() if higher else sub["mean"].min()
    return set(sub.loc[sub["mean"] == best, "model"])


def _cell(rec: pd.Series | None, best: bool) -> dict[str, object]:
    if rec is None:
        return {"value": "–", "ci": "", "best": False, "published": "", "status": ""}
    ci = "" if math.isnan(rec["ci_low"]) else f"[{fmt(rec['ci_low'])}, {fmt(rec['ci_high'])}]"
    published = "" if math.isnan(rec["published_value"]) else fmt(rec["published_value"])
    return {"value": fmt(rec["mean"]), "ci": ci, "best": best, "published": published,
            "status": rec["published_status"], "source": rec["published_source"]}


def _main_table(task_long: pd.DataFrame) -> dict[str, object]:
    metrics = _main_metrics(task_long)
    headers = [{"name": m, "arrow": ARROWS.get(task_long.loc[task_long["metric"] == m, "higher_is_better"].iloc[0], "")}
               for m in metrics]
    best = {m: _best_models(task_long, m) for m in metrics}
    rows = []
    for model in dict.fromkeys(task_long["model"]):
        sub = task_long[task_long["model"] == model].set_index("metric")
        if not any(m in sub.index for m in metrics):
            continue
        first = sub.iloc[0]
        rows.append({"model": model, "setting": first["setting"], "n_seeds": int(sub["n_seeds"].max()),
                     "cells": [_cell(sub.loc[m] if m in sub.index else None, model in best[m]) for m in metrics]})
    return {"headers": headers, "rows": rows}


def _study_rows(task_long: pd.DataFrame) -> list[dict[str, str]]:
    sub = task_long[task_long["simulated"]]
    return [{"model": r.model, "metric": r.metric, "value": fmt(r.mean),
             "ci": "" if math.isnan(r.ci_low) else f"[{fmt(r.ci_low)}, {fmt(r.ci_high)}]",
             "n_seeds": str(r.n_seeds), "protocol": r.protocol} for r in sub.itertuples()]


def _pvu_rows(pvu: pd.DataFrame, task: str) -> list[dict[str, str]]:
    """Headline metrics only: per-class (``metric[class]``) comparisons stay in the CSV and the per-class plots."""
    return [{"metric": r.metric, "arrow": ARROWS[bool(r.higher_is_better)], "setting_a": r.setting_a,
             "model_a": r.model_a, "value_a": fmt(r.value_a), "setting_b": r.setting_b, "model_b": r.model_b,
             "value_b": fmt(r.value_b), "gap": fmt(r.gap), "better": r.better}
            for r in pvu[(pvu["task"] == task) & ~pvu["metric"].str.contains("[", regex=False)].itertuples()]


def _ranking_rows(task_long: pd.DataFrame) -> list[dict[str, object]]:
    """Every method of a task ranked per headline metric, best first, whatever their settings.

    This is what compares methods that share a setting (StarGAN vs DIAT vs CycleGAN, SRGAN vs SRResNet) without
    report code per model; shown when a task has two or more non-reference methods.
    """
    methods = task_long[(task_long["setting"] != REFERENCE_SETTING) & task_long["higher_is_better"].notna()
                        & ~task_long["metric"].str.contains("[", regex=False) & task_long["mean"].notna()]
    if methods["model"].nunique() < 2:
        return []
    rows = []
    for metric, group in methods.groupby("metric", sort=False):
        higher = bool(group["higher_is_better"].iloc[0])
        ranked = group.sort_values("mean", ascending=not higher, kind="stable")
        rows.append({"metric": metric, "arrow": ARROWS[higher],
                     "ranked": [{"model": str(r.model), "setting": str(r.setting), "value": fmt(r.mean)}
                                for r in ranked.itertuples()]})
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


def report_context(run_dir: Path, config: dict, manifest: dict, long: pd.DataFrame, pvu: pd.DataFrame,
                   plots: list[Plot]) -> dict[str, object]:
    """Everything the template shows, as plain strings, numbers and lists.

    Args:
        run_dir: The run directory (for sample strips).
        config: Parsed ``config.json``.
        manifest: Parsed ``manifest.json``.
        long: ``summarize_long`` output.
        pvu: ``paired_vs_unpaired`` output.
        plots: Written figures (embedded as data URIs).
    """
    tasks = []
    for task in dict.fromkeys(long["task"]):
        task_long = long[long["task"] == task]
        simulated = set(task_long.loc[task_long["simulated"], "metric"])  # shown in their own section only
        tasks.append({
            "name": task, "table": _main_table(task_long),
            "pvu": [r for r in _pvu_rows(pvu, task) if r["metric"] not in simulated],
            "ranking": _ranking_rows(task_long[~task_long["simulated"]]),  # simulated studies: their own section
            "studies": _study_rows(task_long), "grids": sample_grids(run_dir, task),
            "plots": [{"title": p.title, "src": data_uri(p.path)} for p in plots if p.task == task],
        })
    global_plots = [{"title": p.title, "src": data_uri(p.path)} for p in plots if p.task == "" or p.kind == "probe"]
    return {"title": f"Report: {run_dir.name}", "tasks": tasks, "probe_tasks": list(PROBE_TASKS),
            "global_plots": global_plots, "provenance": _provenance(run_dir, config, manifest, long)}


def render_report(context: dict[str, object]) -> str:
    """Renders ``templates/report.html`` with autoescaping on for every value."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    return env.get_template("report.html").render(**context)
