"""Plots for the report (matplotlib Agg, PNG), written into ``plots/`` with ``plots/plots.json`` describing them.

Per task: the metrics with a direction as small multiples (a bar per method with its 95% CI), the difference
between the best methods of two settings on each metric's own scale with the CI of the test, per-class scores,
per-image distributions; per run: training curves and the geometry-vs-texture probe. Informational rows (no
direction: Parzen sigma/SE, KID spread, counts) are never plotted; they stay in the tables.

Every method has one colour across the whole report (``method_colours``). What each plot actually drew is read
back from its artists and recorded in ``Plot.colours``, in ``plots/plots.json`` and in the PNG's ``Description``
text chunk, so a test can check the colours without trusting this module. Nothing here recomputes a metric.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402

from reports.analysis import Analysis  # noqa: E402
from reports.formatting import display_scale, fmt_p  # noqa: E402
from reports.plot_parts import grouped_bars, margins, panels, training_curves  # noqa: E402
from reports.tables import PER_IMAGE_SUFFIX, REFERENCE_SETTING, split_bracket  # noqa: E402

DPI = 80  # small PNGs: the report embeds them as base64
PROBE_TASKS = ("probe_texture", "probe_geometry")  # the geometry-vs-texture probe's task names
METHOD_PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c",
                  "#ccb974", "#64b5cd", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02")  # methods
REFERENCE_PALETTE = ("#3d3d3d", "#7a7a7a", "#a8a8a8", "#c8c8c8")  # ground truth, real data, identity: greys
DEGENERATE_BELOW = 0.01  # a per-class score whose every method is below this (nothing found) is not drawn
PANEL_COLUMNS = 4  # small multiples per row
STYLE = {
    "axes.titley": 1.01,  # a fixed title height: matplotlib otherwise measures every tick label to place it
    "text.parse_math": False,  # labels are names from the rows, shown as written: "$\\frac{" is no TeX to parse
}


@dataclass(frozen=True)
class Plot:
    """One written figure.

    Attributes:
        task: Task it belongs to (``""`` for run-wide figures such as the probe).
        kind: ``"metrics"``, ``"difference"``, ``"per_class"``, ``"distribution"``, ``"curves"`` or ``"probe"``.
        title: Caption (plain text; the HTML escapes it).
        path: The PNG file.
        colours: ``(method, "#rrggbb")`` as drawn, read back from the figure's artists.
        metrics: The metrics (or per-class keys) drawn.
    """

    task: str
    kind: str
    title: str
    path: Path
    colours: tuple[tuple[str, str], ...] = ()
    metrics: tuple[str, ...] = ()


def slugify(text: str, max_len: int = 60) -> str:
    """A file-name-safe slug of ``text`` plus a short hash, so distinct names never collide.

    >>> slugify("<script>alert(1)</script>")[:18]
    'script-alert-1-scr'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:max_len] or "x"
    return f"{slug}-{hashlib.sha256(text.encode()).hexdigest()[:6]}"


def method_colours(long: pd.DataFrame) -> dict[str, str]:
    """One colour per method for the whole report: compared methods first (first-seen order), references in grey.

    Colours repeat only past ``len(METHOD_PALETTE)`` methods.
    """
    reference = set(long.loc[long["setting"] == REFERENCE_SETTING, "model"])
    methods = [m for m in dict.fromkeys(long["model"]) if m not in reference]
    colours = {m: METHOD_PALETTE[i % len(METHOD_PALETTE)] for i, m in enumerate(methods)}
    colours.update({m: REFERENCE_PALETTE[i % len(REFERENCE_PALETTE)]
                    for i, m in enumerate(m for m in dict.fromkeys(long["model"]) if m in reference)})
    return colours


def _save(fig: plt.Figure, path: Path, plot: tuple[str, str, str], drawn: dict[str, str], metrics: list[str]
          ) -> Plot:
    """Writes ``fig`` (what it drew in the PNG's Description) and returns its ``Plot(task, kind, title, ...)``."""
    fig.savefig(path, dpi=DPI, format="png",
                metadata={"Description": json.dumps({"colours": drawn, "metrics": metrics})})
    plt.close(fig)
    return Plot(*plot, path, tuple(drawn.items()), tuple(metrics))


def _arrow(higher: object) -> str:
    return {True: " ↑", False: " ↓"}.get(higher, "")


def _panel_grid(n: int, height: float = 2.3) -> tuple[plt.Figure, list[plt.Axes]]:
    cols = min(PANEL_COLUMNS, n)
    rows = math.ceil(n / cols)
    fig = plt.figure(figsize=(2.9 * cols, height * rows + 0.3))
    return fig, panels(fig, rows, cols, n)


def metric_panels(long: pd.DataFrame, task: str, colours: dict[str, str], out_dir: Path) -> Plot | None:
    """Small multiples: one panel per metric with a direction, a bar per method (references in grey), 95% CI."""
    sub = long[(long["task"] == task) & long["higher_is_better"].notna() & ~long["simulated"]]
    metrics = [m for m in dict.fromkeys(sub["metric"]) if split_bracket(m) is None and not m.endswith(PER_IMAGE_SUFFIX)]
    if not metrics:
        return None
    fig, axes = _panel_grid(len(metrics))
    drawn: dict[str, str] = {}
    for ax, metric in zip(axes, metrics, strict=True):
        rows = sub[sub["metric"] == metric]
        scale, unit = display_scale(metric, rows["mean"])
        table = rows.set_index("model")[["mean", "ci_low", "ci_high"]].T * scale
        drawn |= grouped_bars(ax, table.loc[["mean"]], table.loc[["ci_low"]], table.loc[["ci_high"]], colours)
        ax.set_xticks([])
        ax.set_title(f"{metric}{_arrow(rows['higher_is_better'].iloc[0])}" + (f" ({unit})" if unit else ""),
                     fontsize=8)
        ax.tick_params(labelsize=7)
    legend_rows = math.ceil(len(drawn) / 5)
    fig.legend(*_legend(drawn), fontsize=7, loc="upper center", ncol=min(5, len(drawn)), frameon=False)
    margins(fig, left=0.45, bottom=0.1, top=0.3 + 0.2 * legend_rows, wspace=0.5, hspace=0.45)
    path = out_dir / f"metrics_{slugify(task)}.png"
    return _save(fig, path, (task, "metrics", "Every metric with a direction: mean per method, 95% CI across seeds"),
                 drawn, metrics)


def _legend(drawn: dict[str, str]) -> tuple[list[plt.Rectangle], list[str]]:
    return [plt.Rectangle((0, 0), 1, 1, color=c) for c in drawn.values()], [m[:28] for m in drawn]


def difference_plot(pvu: pd.DataFrame, task: str, colours: dict[str, str], out_dir: Path) -> Plot | None:
    """Per metric, the best method of one setting minus the best of another, on the metric's own scale, 95% CI.

    Each metric has its own axis (scales differ: FID ~ 100, accuracy ~ 0.5). The difference is oriented so that
    right of zero means the first setting's method is better in that metric's direction; the p-value of the test
    is written beside it. Per-class metrics are left to the per-class plot.
    """
    sub = pvu[(pvu["task"] == task) & ~pvu["metric"].str.contains("[", regex=False)]
    if sub.empty:
        return None
    fig, axes = plt.subplots(len(sub), 1, figsize=(6.2, 0.95 * len(sub) + 0.5), squeeze=False)
    drawn: dict[str, str] = {}
    for ax, r in zip(axes[:, 0], sub.itertuples(), strict=True):
        sign = 1.0 if r.higher_is_better else -1.0
        scale, unit = display_scale(r.metric, [r.value_a, r.value_b])
        centre = sign * r.gap * scale
        low, high = sorted((sign * r.gap_ci_low * scale, sign * r.gap_ci_high * scale))
        colour = colours[r.model_a]
        if math.isnan(low):
            line = ax.plot([centre], [0], "o", color=colour, mfc="white")[0]
        else:
            line = ax.errorbar([centre], [0], xerr=[[centre - low], [high - centre]], fmt="o", color=colour,
                               capsize=4)[0]
        drawn[r.model_a] = to_hex(line.get_color())
        span = max(abs(centre), abs(low) if not math.isnan(low) else 0, abs(high) if not math.isnan(high) else 0)
        ax.set_xlim(-1.15 * span or -1, 1.15 * span or 1)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks([])
        ax.set_title(f"{r.metric}{_arrow(r.higher_is_better)}" + (f" ({unit})" if unit else "")
                     + f": {r.model_a} ({r.setting_a}) − {r.model_b} ({r.setting_b})", fontsize=7, loc="left")
        ax.tick_params(axis="x", labelsize=7)
        ax.locator_params(axis="x", nbins=5)
        ax.text(1.0, 0.5, f" {fmt_p(r.p)}", transform=ax.transAxes, fontsize=7, va="center")
    first = sub.iloc[0]
    axes[-1, 0].set_xlabel(f"{first.setting_a} best − {first.setting_b} best, in each metric's units "
                           "(right of 0: first setting better)", fontsize=7)
    margins(fig, left=0.15, right=0.75, bottom=0.45, top=0.25, hspace=0.6)
    path = out_dir / f"difference_{slugify(task)}.png"
    return _save(fig, path, (task, "difference",
                             "Best method of each setting: difference on each metric's own scale, 95% CI of the test"),
                 drawn, list(sub["metric"]))


def per_class_bars(long: pd.DataFrame, task: str, base: str, colours: dict[str, str], out_dir: Path) -> Plot | None:
    """Grouped bars of ``base[class]``: classes on x, a bar per method, 95% CI; degenerate classes left out.

    None when every class is degenerate (nothing to draw).
    """
    sub = long[(long["task"] == task) & long["metric"].str.startswith(base + "[")]
    sub = sub.assign(cls=[split_bracket(m)[1] for m in sub["metric"]])
    table = {k: sub.pivot_table(index="cls", columns="model", values=k, sort=False, dropna=False)
             for k in ("mean", "ci_low", "ci_high")}
    keep = table["mean"].max(axis=1) >= DEGENERATE_BELOW
    skipped = list(table["mean"].index[~keep])
    if not keep.any():
        return None
    fig, ax = plt.subplots(figsize=(max(4.5, 0.75 * int(keep.sum()) + 2), 2.8))
    drawn = grouped_bars(ax, table["mean"][keep], table["ci_low"][keep], table["ci_high"][keep], colours)
    ax.legend(*_legend(drawn), fontsize=6)
    ax.set_title(f"{task}: {base} per class", fontsize=9)
    ax.tick_params(labelsize=7)
    margins(fig, bottom=0.75)
    note = f"; not drawn (every method < {DEGENERATE_BELOW:g}): {', '.join(skipped)}" if skipped else ""
    path = out_dir / f"class_{slugify(task)}_{slugify(base)}.png"
    return _save(fig, path, (task, "per_class", f"{base} per class, 95% CI across seeds{note}"), drawn,
                 [f"{base}[{c}]" for c in table["mean"].index[keep]])


def distribution(rows: pd.DataFrame, task: str, metric: str, colours: dict[str, str], out_dir: Path) -> Plot:
    """Box plot per method of a per-image metric's values (all seeds pooled)."""
    sub = rows[(rows["task"] == task) & (rows["metric"] == metric)]
    models = list(dict.fromkeys(sub["model"]))
    fig, ax = plt.subplots(figsize=(max(3.5, 0.9 * len(models) + 1.5), 2.8))
    values = [sub.loc[sub["model"] == m, "value"].to_numpy(dtype=float) for m in models]
    # infinite values (PSNR of identical images) are labelled under the box, not drawn
    boxes = ax.boxplot([v[np.isfinite(v)] for v in values], patch_artist=True)
    drawn = {}
    for model, box in zip(models, boxes["boxes"], strict=True):
        box.set_facecolor(colours[model])
        drawn[model] = to_hex(box.get_facecolor())
    ax.set_xticks(range(1, len(models) + 1), [m[:24] + (" (∞)" if np.isinf(v).any() else "")
                                              for m, v in zip(models, values, strict=True)], fontsize=8)
    ax.set_title(f"{task}: {metric} distribution", fontsize=9)
    ax.locator_params(axis="y", nbins=5)
    margins(fig, bottom=0.45)
    path = out_dir / f"dist_{slugify(task)}_{slugify(metric)}.png"
    return _save(fig, path, (task, "distribution", f"{metric}: per-image distribution"), drawn, [metric])


def probe_plot(long: pd.DataFrame, colours: dict[str, str], out_dir: Path) -> Plot | None:
    """Geometry-vs-texture probe: a group per (probe task, metric), a bar per method; None when no probe ran."""
    sub = long[long["task"].isin(PROBE_TASKS) & long["higher_is_better"].notna()]
    if sub.empty:
        return None
    sub = sub.assign(key=sub["task"] + ": " + sub["metric"])
    table = {k: sub.pivot_table(index="key", columns="model", values=k, sort=False, dropna=False)
             for k in ("mean", "ci_low", "ci_high")}
    fig, ax = plt.subplots(figsize=(max(4, 1.6 * len(table["mean"]) + 2), 2.8))
    drawn = grouped_bars(ax, table["mean"], table["ci_low"], table["ci_high"], colours)
    ax.legend(*_legend(drawn), fontsize=6)
    ax.set_title("Geometry vs texture probe", fontsize=9)
    margins(fig, bottom=0.5)
    return _save(fig, out_dir / "probe.png", ("", "probe", "Geometry vs texture probe per method, 95% CI"), drawn,
                 list(dict.fromkeys(sub["metric"])))


def make_plots(analysis: Analysis, run_dir: Path, out_dir: Path) -> list[Plot]:
    """Writes every applicable figure and ``plots.json`` into ``out_dir``; returns the figures in report order.

    Args:
        analysis: ``reports.analysis.analyse`` output.
        run_dir: The run (for ``jobs/*/losses.csv``).
        out_dir: Existing folder for the PNGs.
    """
    with plt.rc_context(STYLE):
        written = _draw_all(analysis, run_dir, out_dir)
    (out_dir / "plots.json").write_text(json.dumps({
        "colours": method_colours(analysis.long),
        "plots": [{"file": p.path.name, "task": p.task, "kind": p.kind, "title": p.title, "colours": dict(p.colours),
                   "metrics": list(p.metrics)} for p in written]}, indent=2), encoding="utf-8")
    return written


def _draw_all(analysis: Analysis, run_dir: Path, out_dir: Path) -> list[Plot]:
    long = analysis.long
    colours = method_colours(long)
    plots: list[Plot | None] = []
    for task in dict.fromkeys(long["task"]):
        task_long = long[(long["task"] == task) & ~long["simulated"]]  # simulated studies: table section only
        plots.append(metric_panels(long, task, colours, out_dir))
        plots.append(difference_plot(analysis.pvu, task, colours, out_dir))
        for base in dict.fromkeys(b[0] for b in map(split_bracket, task_long["metric"]) if b):
            plots.append(per_class_bars(task_long, task, base, colours, out_dir))
        per_image = task_long[task_long["metric"].str.endswith(PER_IMAGE_SUFFIX)
                              & task_long["higher_is_better"].notna()]
        for metric in dict.fromkeys(per_image["metric"]):
            plots.append(distribution(analysis.rows, task, metric, colours, out_dir))
    for task, model, title, fig, drawn in training_curves(run_dir, colours):
        path = out_dir / f"curves_{slugify(task)}_{slugify(model)}.png"
        plots.append(_save(fig, path, (task, "curves", title), drawn, []))
    plots.append(probe_plot(long, colours, out_dir))
    return [p for p in plots if p is not None]
