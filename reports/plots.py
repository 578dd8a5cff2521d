"""Plots for the report (matplotlib Agg, PNG), written into ``plots/``.

Metric bars with CIs, paired-vs-unpaired gaps, training curves, per-class IoU, per-image distributions and the
geometry-vs-texture probe. Every function takes formatted rows (``reports.tables``) and an output folder, writes
PNGs with slugified names and returns ``Plot`` records; none recomputes a metric.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from harness.core.errors import HarnessError  # noqa: E402

DPI = 80  # small PNGs: the report embeds them as base64
PROBE_TASKS = ("probe_texture", "probe_geometry")  # the geometry-vs-texture probe's task names
PER_IMAGE_SUFFIX = "_per_image"  # metrics whose rows are one value per image


@dataclass(frozen=True)
class Plot:
    """One written figure.

    Attributes:
        task: Task it belongs to (``""`` for run-wide figures such as the probe).
        kind: ``"bars"``, ``"gap"``, ``"curves"``, ``"per_class"``, ``"distribution"`` or ``"probe"``.
        title: Caption (plain text; the HTML escapes it).
        path: The PNG file.
    """

    task: str
    kind: str
    title: str
    path: Path


def slugify(text: str, max_len: int = 60) -> str:
    """A file-name-safe slug of ``text`` plus a short hash, so distinct names never collide.

    >>> slugify("<script>alert(1)</script>")[:18]
    'script-alert-1-scr'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:max_len] or "x"
    return f"{slug}-{hashlib.sha256(text.encode()).hexdigest()[:6]}"


def split_bracket(metric: str) -> tuple[str, str] | None:
    """``"iou[road]"`` -> ``("iou", "road")``; None for a metric without a bracketed part."""
    match = re.fullmatch(r"(.+)\[(.+)\]", metric)
    return (match.group(1), match.group(2)) if match else None


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI, format="png")
    plt.close(fig)
    return path


def _arrow(higher: object) -> str:
    return {True: " (higher is better)", False: " (lower is better)"}.get(higher, "")


def metric_bars(long: pd.DataFrame, task: str, metric: str, out_dir: Path) -> Plot:
    """Bar per model of the seed mean, with error bars from its interval where one exists."""
    sub = long[(long["task"] == task) & (long["metric"] == metric)]
    fig, ax = plt.subplots(figsize=(max(3.5, 0.9 * len(sub) + 1.5), 2.8))
    means = sub["mean"].to_numpy(dtype=float)
    infinite = np.isinf(means)  # e.g. the PSNR of identical images: no bar, an "∞" label instead
    means = np.where(infinite, np.nan, means)
    lows = (means - sub["ci_low"].to_numpy(dtype=float)).clip(min=0)
    highs = (sub["ci_high"].to_numpy(dtype=float) - means).clip(min=0)
    err = [[0 if math.isnan(v) else v for v in lows], [0 if math.isnan(v) else v for v in highs]]
    ax.bar(range(len(sub)), np.nan_to_num(means), yerr=err, capsize=4, color="#4c72b0")
    for x in np.flatnonzero(infinite):
        ax.annotate("∞", (x, 0), ha="center", va="bottom", fontsize=12)
    ax.set_xticks(range(len(sub)), [m[:24] for m in sub["model"]], rotation=20, ha="right", fontsize=8)
    ax.set_title(f"{task}: {metric}{_arrow(sub['higher_is_better'].iloc[0])}", fontsize=9)
    path = out_dir / f"bars_{slugify(task)}_{slugify(metric)}.png"
    return Plot(task, "bars", f"{metric} per method (95% CI across seeds)", _save(fig, path))


def gap_plot(pvu: pd.DataFrame, task: str, out_dir: Path) -> Plot:
    """Horizontal bars of setting A's advantage over setting B per metric, in percent of B's best value.

    Metrics differ in scale (FID ~ 100, accuracy ~ 0.5), so the bar is ``gap / |value_b|`` signed so that a
    positive bar means setting A is better in that metric's own direction.
    """
    sub = pvu[pvu["task"] == task]
    labels = [f"{r.metric} ({r.setting_a} vs {r.setting_b})"[:48] for r in sub.itertuples()]
    advantage = [100.0 * r.gap / abs(r.value_b) * (1 if r.higher_is_better else -1) if r.value_b else 0.0
                 for r in sub.itertuples()]
    colours = ["#55a868" if a >= 0 else "#c44e52" for a in advantage]
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(sub) + 1.2))
    ax.barh(range(len(sub)), advantage, color=colours)
    ax.set_yticks(range(len(sub)), labels, fontsize=7)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_xlabel("advantage of the first setting (% of the second's best)", fontsize=7)
    ax.set_title(f"{task}: best paired vs best unpaired", fontsize=9)
    path = out_dir / f"gap_{slugify(task)}.png"
    return Plot(task, "gap", "Paired vs unpaired: advantage of the first setting's best method, in %", _save(fig, path))


def training_curves(run_dir: Path, out_dir: Path) -> list[Plot]:
    """One figure per (model, task) from ``jobs/<model>__<task>__s<seed>/losses.csv``, seeds overlaid."""
    groups: dict[tuple[str, str], list[tuple[str, pd.DataFrame]]] = {}
    for path in sorted((run_dir / "jobs").glob("*/losses.csv")):
        parts = path.parent.name.split("__")
        if len(parts) != 3:
            continue
        try:
            frame = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise HarnessError(f"{path}: unreadable losses file ({exc}); expected a 'step' column then losses") from exc
        if "step" not in frame.columns or len(frame.columns) < 2:
            raise HarnessError(f"{path}: expected a 'step' column then one column per loss")
        groups.setdefault((parts[0], parts[1]), []).append((parts[2], frame))
    plots = []
    for (model, task), runs in groups.items():
        losses = [c for c in runs[0][1].columns if c != "step"]
        fig, axes = plt.subplots(1, len(losses), figsize=(3 * len(losses), 2.5), squeeze=False)
        for ax, loss in zip(axes[0], losses, strict=True):
            for seed, frame in runs:
                if loss in frame.columns:
                    ax.plot(frame["step"], frame[loss], lw=1, label=seed)
            ax.set_title(loss, fontsize=8)
            ax.set_xlabel("step", fontsize=7)
        axes[0][0].legend(fontsize=6)
        path = out_dir / f"curves_{slugify(task)}_{slugify(model)}.png"
        plots.append(Plot(task, "curves", f"Training losses: {model} (seeds overlaid)", _save(fig, path)))
    return plots


def per_class_bars(long: pd.DataFrame, task: str, base: str, out_dir: Path) -> Plot:
    """Grouped bars of ``base[class]`` metrics: classes on x, one bar per model."""
    sub = long[(long["task"] == task) & long["metric"].str.startswith(base + "[")]
    table = sub.assign(cls=[split_bracket(m)[1] for m in sub["metric"]]).pivot_table(
        index="cls", columns="model", values="mean", sort=False)
    fig, ax = plt.subplots(figsize=(max(4, 0.8 * len(table) + 2), 2.8))
    width = 0.8 / max(1, len(table.columns))
    for i, model in enumerate(table.columns):
        ax.bar([x + i * width for x in range(len(table))], table[model].to_numpy(), width, label=model[:24])
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(table))], list(table.index), fontsize=8)
    ax.legend(fontsize=6)
    ax.set_title(f"{task}: {base} per class", fontsize=9)
    path = out_dir / f"class_{slugify(task)}_{slugify(base)}.png"
    return Plot(task, "per_class", f"{base} per class", _save(fig, path))


def distribution(rows: pd.DataFrame, task: str, metric: str, out_dir: Path) -> Plot:
    """Box plot per model of a per-image metric's values (all seeds pooled)."""
    sub = rows[(rows["task"] == task) & (rows["metric"] == metric)]
    models = list(dict.fromkeys(sub["model"]))
    fig, ax = plt.subplots(figsize=(max(3.5, 0.9 * len(models) + 1.5), 2.8))
    values = [sub.loc[sub["model"] == m, "value"].to_numpy(dtype=float) for m in models]
    ax.boxplot([v[np.isfinite(v)] for v in values])  # infinite values (identical images) are labelled, not drawn
    ax.set_xticks(range(1, len(models) + 1), [m[:24] + (" (∞)" if np.isinf(v).any() else "") for m, v in
                                              zip(models, values, strict=True)], fontsize=8)
    ax.set_title(f"{task}: {metric} distribution", fontsize=9)
    path = out_dir / f"dist_{slugify(task)}_{slugify(metric)}.png"
    return Plot(task, "distribution", f"{metric}: per-image distribution", _save(fig, path))


def probe_plot(long: pd.DataFrame, out_dir: Path) -> Plot | None:
    """Geometry-vs-texture probe: per method, one bar per (probe task, metric); None when no probe tasks ran."""
    sub = long[long["task"].isin(PROBE_TASKS)]
    if sub.empty:
        return None
    table = sub.assign(key=sub["task"] + ": " + sub["metric"]).pivot_table(
        index="model", columns="key", values="mean", sort=False)
    fig, ax = plt.subplots(figsize=(max(4, 1.2 * len(table) + 2), 2.8))
    width = 0.8 / max(1, len(table.columns))
    for i, key in enumerate(table.columns):
        ax.bar([x + i * width for x in range(len(table))], table[key].to_numpy(), width, label=key)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(table))], [m[:24] for m in table.index], fontsize=8)
    ax.legend(fontsize=6)
    ax.set_title("Geometry vs texture probe", fontsize=9)
    return Plot("", "probe", "Geometry vs texture probe per method", _save(fig, out_dir / "probe.png"))


def make_plots(rows: pd.DataFrame, long: pd.DataFrame, pvu: pd.DataFrame, run_dir: Path, out_dir: Path) -> list[Plot]:
    """Writes every applicable figure into ``out_dir`` and returns them in report order.

    Args:
        rows: ``read_metrics`` output.
        long: ``summarize_long`` output.
        pvu: ``paired_vs_unpaired`` output.
        run_dir: The run (for ``jobs/*/losses.csv``).
        out_dir: Existing folder for the PNGs.
    """
    plots: list[Plot] = []
    for task in dict.fromkeys(long["task"]):
        task_long = long[(long["task"] == task) & ~long["simulated"]]  # simulated studies: table section only
        for metric in dict.fromkeys(task_long["metric"]):
            if metric.endswith(PER_IMAGE_SUFFIX):
                plots.append(distribution(rows, task, metric, out_dir))
            elif split_bracket(metric) is None:
                plots.append(metric_bars(long, task, metric, out_dir))
        for base in dict.fromkeys(b[0] for b in map(split_bracket, task_long["metric"]) if b):
            plots.append(per_class_bars(long, task, base, out_dir))
        if (pvu["task"] == task).any():
            plots.append(gap_plot(pvu, task, out_dir))
    plots += training_curves(run_dir, out_dir)
    probe = probe_plot(long, out_dir)
    return plots + ([probe] if probe else [])
