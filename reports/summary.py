"""What a reader sees first: the headline metric of each task, its leaderboard, the summary paragraph, summary.md.

The headline metric of a task is the paper's: each protocol names its headline metrics (``ProtocolSpec.headline``)
and the runner writes them into the rows' protocol strings as ``headline=<board metric>/<position>``. Among the
position-1 metrics of a task, the one the most compared methods have leads (DTN's accuracy before the GAN's Parzen
window on digits); its leaderboard shows the same board's other positions beside it (SR: Y SSIM and the sharpness
``hf_ratio`` beside Y PSNR; faces: the judge's floor beside the expression error). Rows without the flag (older
runs, protocols that name none) fall back to the first metric with a direction that the most compared methods
have, per-class and simulated rows excepted, per-image ones only when nothing else is there. Nothing names a model
or a task, so new ones need no change here.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from reports.analysis import Analysis, comparable
from reports.formatting import display_scale, fmt, fmt_ci, fmt_p, fmt_signed, is_nan
from reports.significance import ALPHA
from reports.tables import PER_IMAGE_SUFFIX, REFERENCE_SETTING, parse_protocol, split_bracket

ARROWS = {True: "↑", False: "↓"}  # direction marks; informational metrics get none
HEADLINE_KEY = "headline"  # the protocol-string key of a headline metric (harness.protocols.base.HEADLINE_KEY)


def headline_flags(task_long: pd.DataFrame) -> dict[str, tuple[str, int]]:
    """Metric -> ``(board metric, position)`` from the rows' ``headline=<board>/<position>`` protocol key."""
    flags: dict[str, tuple[str, int]] = {}
    for metric, protocol in zip(task_long["metric"], task_long["protocol"], strict=True):
        board, _, position = parse_protocol(str(protocol)).get(HEADLINE_KEY, "").rpartition("/")
        if board and position.isdigit():
            flags.setdefault(str(metric), (board, int(position)))
    return flags


def headline_metric(task_long: pd.DataFrame, models: set[str] | None = None) -> str | None:
    """The task's headline metric (module docstring), or None when it has no metric with a direction.

    Args:
        task_long: One task's rows of ``Analysis.long``.
        models: Choose among these methods' metrics only (default: every compared method).
    """
    sub = comparable(task_long)
    if models is not None:
        sub = sub[sub["model"].isin(models)]
    sub = sub[~sub["metric"].str.contains("[", regex=False)]
    whole = sub[~sub["metric"].str.endswith(PER_IMAGE_SUFFIX)]
    sub = whole if len(whole) else sub  # per-image metrics lead only where a task has nothing else
    leading = [metric for metric, (_, position) in headline_flags(task_long).items() if position == 1]
    flagged = sub[sub["metric"].isin(leading)]
    sub = flagged if len(flagged) else sub  # the protocols' headline first; the old rule where none is flagged
    if sub.empty:
        return None
    counts = sub.groupby("metric", sort=False)["model"].nunique()
    return str(counts.index[int(counts.to_numpy().argmax())])  # argmax keeps the first of equal counts


def _sig_best_counts(task_long: pd.DataFrame) -> tuple[dict[str, int], int]:
    """Method -> metrics (with a direction, per-class excepted) it is significantly best on; and how many ranked."""
    ranked = task_long[task_long["rank"].notna() & ~task_long["metric"].str.contains("[", regex=False)]
    wins = ranked[ranked["significantly_best"].astype(bool)].groupby("model").size().to_dict()
    return {str(k): int(v) for k, v in wins.items()}, int(ranked["metric"].nunique())


def leaderboards(task_long: pd.DataFrame) -> list[dict[str, object]]:
    """One leaderboard per group of methods that share a headline metric, the task's headline first.

    A task can hold methods scored by different protocols (the GAN's Parzen window and DTN's classifier accuracy
    on digits): each compared method is ranked on the first board whose metric it has, and a method without the
    task's headline gets the board of the headline among the metrics of the methods still unplaced.
    """
    unplaced = set(comparable(task_long)["model"].astype(str))
    boards = []
    while unplaced and (metric := headline_metric(task_long, unplaced)) is not None:
        boards.append(leaderboard(task_long, metric))
        unplaced -= set(task_long.loc[task_long["metric"] == metric, "model"].astype(str))
    return boards


def leaderboard(task_long: pd.DataFrame, metric: str | None = None) -> dict[str, object]:
    """The task's methods sorted by ``metric`` (rank, then mean in its direction); references last.

    Args:
        task_long: One task's rows of ``Analysis.long``.
        metric: The metric to rank by (default: the task's headline metric).

    Returns:
        ``{"metric", "arrow", "unit", "beside": [{metric, arrow, unit}], "rows": [{rank, model, setting, n_seeds,
        value, ci, diff, diff_ci, p, test, wins, reference, best, tied, beside: [value]}]}`` as strings (and
        flags), or ``{}`` without a headline metric. ``beside`` are the board's other headline positions.
    """
    metric = metric or headline_metric(task_long)
    if metric is None:
        return {}
    sub = task_long[(task_long["metric"] == metric) & ~task_long["simulated"]]
    higher = bool(comparable(sub)["higher_is_better"].iloc[0])
    scale, unit = display_scale(metric, sub["mean"])
    wins, ranked = _sig_best_counts(task_long)
    beside = _beside(task_long, metric)
    order = sub.assign(is_ref=sub["setting"] == REFERENCE_SETTING, rank_key=sub["rank"].fillna(math.inf),
                       sort_key=-sub["mean"] if higher else sub["mean"]).sort_values(["is_ref", "rank_key", "sort_key"])
    rows = []
    for r in order.itertuples(index=False):
        rank = ("ref." if r.is_ref else "–") if is_nan(r.rank) else f"{'=' if r.tied else ''}{int(r.rank)}"
        rows.append({"rank": rank, "model": str(r.model), "setting": str(r.setting), "n_seeds": str(r.n_seeds),
                     "value": fmt(r.mean, scale), "ci": fmt_ci(r.ci_low, r.ci_high, scale),
                     "vs": str(r.vs), "diff": fmt_signed(r.diff, scale) if r.vs else "",
                     "diff_ci": fmt_ci(r.diff_ci_low, r.diff_ci_high, scale), "p": fmt_p(r.p) if r.vs else "",
                     "test": str(r.test), "wins": "" if is_nan(r.rank) else f"{wins.get(r.model, 0)} of {ranked}",
                     "reference": bool(r.is_ref), "best": bool(r.significantly_best), "tied": bool(r.tied),
                     "beside": [values.get(str(r.model), "–") for values in beside.values()]})
    columns = [{"metric": m, "arrow": _arrow(task_long, m), "unit": display_scale(m, task_long.loc[
        task_long["metric"] == m, "mean"])[1]} for m in beside]
    return {"metric": metric, "arrow": ARROWS[higher], "unit": unit, "beside": columns, "rows": rows}


def _beside(task_long: pd.DataFrame, metric: str) -> dict[str, dict[str, str]]:
    """The board's other headline metrics in position order: metric -> {model: formatted mean}."""
    positions = {m: pos for m, (board, pos) in headline_flags(task_long).items() if board == metric and pos > 1}
    out: dict[str, dict[str, str]] = {}
    for m in sorted(positions, key=positions.get):
        sub = task_long[(task_long["metric"] == m) & ~task_long["simulated"]]
        if len(sub):
            scale = display_scale(m, sub["mean"])[0]
            out[m] = {str(r.model): fmt(r.mean, scale) for r in sub.itertuples(index=False)}
    return out


def _arrow(task_long: pd.DataFrame, metric: str) -> str:
    """The direction mark of ``metric`` ("" for an informational one)."""
    direction = task_long.loc[task_long["metric"] == metric, "higher_is_better"].iloc[0]
    return "" if direction is None or (isinstance(direction, float) and math.isnan(direction)) else ARROWS[
        bool(direction)]


def task_sentence(task: str, task_long: pd.DataFrame) -> dict[str, str]:
    """One sentence on who wins ``task``: ``{"task", "winner", "p", "text"}`` (winner/p empty without a test)."""
    methods = comparable(task_long)["model"].unique()
    metric = headline_metric(task_long)
    sub = task_long[(task_long["metric"] == metric) & task_long["rank"].notna()]
    if metric is None or len(methods) < 2 or sub["model"].nunique() < 2:
        text = (f"{task}: only {', '.join(map(str, methods))} ran here, nothing to compare." if len(methods) == 1
                else f"{task}: no ranked metric scores two of {', '.join(map(str, methods))}, nothing to compare."
                if len(methods) else f"{task}: no method with a ranked metric (reference or simulated rows only).")
        return {"task": task, "winner": "", "p": "", "text": text, "significant": ""}
    lead = sub.sort_values(["rank", "mean"], ascending=[True, not bool(sub["higher_is_better"].iloc[0])]).iloc[0]
    scale, unit = display_scale(metric, sub["mean"])
    runner = sub[sub["model"] == lead["vs"]].iloc[0]
    values = (f"{fmt(lead['mean'], scale)} vs {fmt(runner['mean'], scale)} for {runner['model']}"
              + (f", {unit}" if unit else ""))
    wins, ranked = _sig_best_counts(task_long)
    test = "Wilcoxon" if lead["test"].startswith("Wilcoxon") else "Welch" if lead["test"].startswith("Welch") else ""
    p_text = f"{test} {fmt_p(lead['p'])}".strip()
    if lead["significantly_best"]:
        text = f"{task}: {lead['model']} ({lead['setting']}) is significantly best on {metric} ({values}; {p_text})"
    else:
        tied = ", ".join(sub.loc[(sub["rank"] == 1) & (sub["model"] != lead["model"]), "model"].astype(str))
        text = (f"{task}: no significant winner on {metric}; {lead['model']} ({lead['setting']}) leads but is tied "
                f"with {tied} ({values}; {p_text})")
    best_count = wins.get(str(lead["model"]), 0)
    text += f", and significantly best on {best_count} of {ranked} metrics with a direction."
    return {"task": task, "winner": str(lead["model"]), "p": fmt_p(lead["p"]), "text": text,
            "significant": "yes" if lead["significantly_best"] else "no"}


def summary_sentences(analysis: Analysis) -> list[dict[str, str]]:
    """An overall sentence (task ``""``), then ``task_sentence`` for every task in the rows' order."""
    long = analysis.long
    per_task = [task_sentence(task, long[long["task"] == task]) for task in dict.fromkeys(long["task"])]
    return [overall_sentence(per_task)] + per_task


def overall_sentence(per_task: list[dict[str, str]]) -> dict[str, str]:
    """Which method wins where: headline wins per method over the tasks that compare methods."""
    compared = [s for s in per_task if s["winner"]]
    wins: dict[str, list[str]] = {}
    for s in compared:
        if s["significant"] == "yes":
            wins.setdefault(s["winner"], []).append(s["task"])
    parts = [f"{model} on {len(tasks)} ({', '.join(tasks)})" for model, tasks in
             sorted(wins.items(), key=lambda kv: -len(kv[1]))]
    open_tasks = [s["task"] for s in compared if s["significant"] != "yes"]
    tasks = "the one task that compares" if len(compared) == 1 else f"the {len(compared)} tasks that compare"
    text = (f"Across {tasks} methods, significantly best on the headline metric: "
            + ("; ".join(parts) if parts else "none") + "."
            + (f" No significant winner on {', '.join(open_tasks)}." if open_tasks else ""))
    if not compared:
        text = "No task of this run compares two methods."
    return {"task": "", "winner": "", "p": "", "text": text, "significant": ""}


def rule_text() -> str:
    """How ranks, highlights and ties are decided (shown under the summary and in summary.md)."""
    return (f"Significance: Welch's t-test across seeds (or, for per-image metrics, a Wilcoxon signed-rank test over "
            f"paired images with a bootstrap CI), two-sided, alpha = {ALPHA}. Ties: methods are grouped from the top; "
            "a method not significantly different from its group's leader (or not testable, e.g. one seed) shares "
            "the leader's rank. 'Significantly best' means better than every other method at alpha (an "
            "intersection-union test: no multiplicity correction is needed for that claim; its p is the largest of "
            "its comparisons). Across the report's many metrics some nulls come out significant by chance; "
            "comparisons.csv gives Benjamini-Hochberg q-values over every comparison.")


def _md(text: object) -> str:
    """Text safe in a markdown table cell: pipes escaped, anything that could open an HTML tag escaped."""
    return re.sub(r"<(?=[A-Za-z/!?])", "&lt;", str(text).replace("|", "\\|"))


def _md_table(headers: list[str], rows: list[list[object]]) -> list[str]:
    out = ["| " + " | ".join(map(_md, headers)) + " |", "|" + "---|" * len(headers)]
    return out + ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]


def reference_set_notes(manifest: dict) -> list[str]:
    """One sentence per reference set of a run (``manifest["reference_sets"]``): shown or not, and why.

    Rows of a shown set carry ``(committed)`` in their model name and ``reference_set=<label>`` in their protocol;
    they were trained elsewhere (``made_from``), not in this run.
    """
    notes = []
    for task, d in manifest.get("reference_sets", {}).items():
        if d.get("shown"):
            note = (f"Reference set {d.get('set')} on {task}: the rows of {', '.join(d['shown'])} marked (committed) "
                    f"were trained elsewhere, not in this run ({d.get('made_from', '')}).")
        else:
            note = f"Reference set {d.get('set')} on {task}: NOT shown, {d.get('why', '')}."
        note += "".join(f" {m} left out: {why}." for m, why in d.get("hidden", {}).items())
        notes.append(note)
    return notes


def summary_markdown(analysis: Analysis, run_name: str, notes: list[str] | None = None) -> str:
    """``summary.md``: the summary paragraph, ``notes`` (reference sets), then per task its tables.

    Per task: its leaderboards and every metric with a direction.
    """
    long = analysis.long
    lines = [f"# Summary: {_md(run_name)}", "", " ".join(_md(s["text"]) for s in summary_sentences(analysis)), ""]
    lines += [line for note in notes or [] for line in (f"> {_md(note)}", "")]
    lines += [f"_{_md(rule_text())}_", ""]
    for task in dict.fromkeys(long["task"]):
        task_long = long[long["task"] == task]
        lines += [f"## {_md(task)}", ""]
        for board in leaderboards(task_long):
            unit = f" ({board['unit']})" if board["unit"] else ""
            lines += [f"Leaderboard by **{_md(board['metric'])}** {board['arrow']}{unit}:", ""]
            beside = [f"{c['metric']} {c['arrow']}".strip() + (f" ({c['unit']})" if c["unit"] else "")
                      for c in board["beside"]]
            lines += _md_table(["rank", "method", "setting", "seeds", "mean", "95% CI", "vs", "difference",
                                "difference CI", "p", "significantly best on", *beside],
                               [[r["rank"], r["model"], r["setting"], r["n_seeds"],
                                 f"**{r['value']}**" if r["best"] else r["value"], r["ci"], r["vs"], r["diff"],
                                 r["diff_ci"], r["p"], r["wins"], *r["beside"]] for r in board["rows"]]) + [""]
        lines += _metrics_markdown(task_long)
    return "\n".join(lines) + "\n"


def _metrics_markdown(task_long: pd.DataFrame) -> list[str]:
    metrics = [m for m in dict.fromkeys(task_long.loc[task_long["higher_is_better"].notna() & ~task_long["simulated"],
                                                      "metric"]) if split_bracket(m) is None]
    if not metrics:
        return []
    scales = {m: display_scale(m, task_long.loc[task_long["metric"] == m, "mean"]) for m in metrics}
    headers = ["method", "setting"]
    for m in metrics:
        higher = bool(task_long.loc[task_long["metric"] == m, "higher_is_better"].iloc[0])
        headers.append(f"{m} {ARROWS[higher]}" + (f" {scales[m][1]}" if scales[m][1] else ""))
    rows = []
    for model in dict.fromkeys(task_long["model"]):
        sub = task_long[task_long["model"] == model].set_index("metric")
        if not any(m in sub.index for m in metrics):
            continue  # e.g. a human study's reference methods: simulated rows only, listed with the study
        cells = []
        for m in metrics:
            if m not in sub.index:
                cells.append("–")
                continue
            r = sub.loc[m]
            value = fmt(r["mean"], scales[m][0])
            cells.append(f"**{value}**" if r["significantly_best"] else f"{value} (tied)" if r["verdict"] == "tied best"
                         else value)
        rows.append([model, sub["setting"].iloc[0], *cells])
    return ["Every metric with a direction (mean over seeds; **bold**: significantly best; (tied): tied best):", "",
            *_md_table(headers, rows), ""]
