"""Drawing pieces shared by the report's plots: the one grouped-bar routine and the training-curve figures.

Both return what they drew as ``{method: "#rrggbb"}`` read back from the matplotlib artists.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.colors import to_hex

from harness.core.csv_files import unescape_frame
from harness.core.errors import HarnessError

SEED_STYLES = ("-", "--", ":", "-.")  # seeds of one method: same colour, different line style
TICKS = 4  # at most this many ticks per numeric axis: tick text is most of a small figure's drawing time


def margins(fig: plt.Figure, left: float = 0.5, right: float = 0.15, bottom: float = 0.35, top: float = 0.3,
            wspace: float = 0.55, hspace: float = 0.55) -> None:
    """Fixed margins and gaps in inches (instead of ``tight_layout``, which draws every figure twice)."""
    width, height = fig.get_size_inches()
    cols, rows = _grid_shape(fig)
    cell_w = (width - left - right - wspace * (cols - 1)) / cols
    cell_h = (height - top - bottom - hspace * (rows - 1)) / rows
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
                        wspace=wspace / max(cell_w, 1e-3), hspace=hspace / max(cell_h, 1e-3))


def panels(fig: plt.Figure, rows: int, cols: int, n: int) -> list[plt.Axes]:
    """The first ``n`` cells of a ``rows`` x ``cols`` grid (empty cells get no axes: each costs drawing time)."""
    return [fig.add_subplot(rows, cols, i + 1) for i in range(n)]


def _grid_shape(fig: plt.Figure) -> tuple[int, int]:
    spec = fig.axes[0].get_subplotspec().get_gridspec() if fig.axes else None
    return (spec.ncols, spec.nrows) if spec is not None else (1, 1)


def grouped_bars(ax: plt.Axes, means: pd.DataFrame, lows: pd.DataFrame, highs: pd.DataFrame,
                 colours: dict[str, str]) -> dict[str, str]:
    """Bars of ``means`` (groups as rows, methods as columns) with interval whiskers, one colour per method.

    Args:
        ax: Axes to draw on; x ticks are the group labels (``means.index``), unless a single unnamed group.
        means: (groups, methods) values; NaN draws nothing, ±inf draws an "∞" label at zero.
        lows: Same shape: interval lower bounds (NaN: no whisker).
        highs: Same shape: interval upper bounds.
        colours: Method -> colour (every column of ``means`` must have one).

    Returns:
        ``{method: colour as drawn}`` in column order.
    """
    groups, methods = len(means.index), list(means.columns)
    width = 0.8 / max(1, len(methods))
    mean, low, high = (f.to_numpy(dtype=float) for f in (means, lows, highs))
    infinite = np.isinf(mean)  # e.g. the PSNR of identical images: no bar, an "∞" label instead
    mean = np.where(infinite, np.nan, mean)
    drawn = {}
    for j, method in enumerate(methods):
        x = np.arange(groups) + (j - (len(methods) - 1) / 2) * width
        for i in np.flatnonzero(infinite[:, j]):
            ax.annotate("∞", (x[i], 0), ha="center", va="bottom", fontsize=10)
        below = np.nan_to_num(np.clip(mean[:, j] - low[:, j], 0, None))
        above = np.nan_to_num(np.clip(high[:, j] - mean[:, j], 0, None))
        bars = ax.bar(x, np.nan_to_num(mean[:, j]), width, yerr=[below, above], capsize=2,
                      color=colours[method], error_kw={"lw": 0.8})
        drawn[method] = to_hex(bars.patches[0].get_facecolor())
    if groups > 1 or str(means.index[0]) not in ("", "mean"):
        ax.set_xticks(range(groups), [str(g)[:22] for g in means.index], rotation=20 if groups > 4 else 0,
                      ha="right" if groups > 4 else "center")
    ax.axhline(0, color="black", lw=0.5)
    ax.locator_params(axis="y", nbins=TICKS)
    return drawn


def _read_losses(path: Path) -> pd.DataFrame:
    try:
        frame = unescape_frame(pd.read_csv(path))
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise HarnessError(f"{path}: unreadable losses file ({exc}); expected a 'step' column then losses") from exc
    if "step" not in frame.columns or len(frame.columns) < 2:
        raise HarnessError(f"{path}: expected a 'step' column then one column per loss")
    return frame


def training_curves(run_dir: Path, colours: dict[str, str]
                    ) -> Iterator[tuple[str, str, str, plt.Figure, dict[str, str]]]:
    """One figure per (model, task) from ``jobs/<model>__<task>__s<seed>/losses.csv``.

    Every line has the method's colour; seeds differ by line style.

    Yields:
        ``(task, model, caption, figure, {model: colour as drawn})``; the caller saves and closes each figure before
        the next is drawn.
    """
    groups: dict[tuple[str, str], list[tuple[str, pd.DataFrame]]] = {}
    for path in sorted((run_dir / "jobs").glob("*/losses.csv")):
        parts = path.parent.name.split("__")
        if len(parts) == 3:
            groups.setdefault((parts[0], parts[1]), []).append((parts[2], _read_losses(path)))
    fallback = "#4c72b0"
    for (model, task), runs in groups.items():
        losses = [c for c in runs[0][1].columns if c != "step"]
        cols = min(4, len(losses))
        rows = math.ceil(len(losses) / cols)
        fig = plt.figure(figsize=(2.8 * cols, 2.2 * rows))
        axes = panels(fig, rows, cols, len(losses))
        drawn = {}
        for ax, loss in zip(axes, losses, strict=True):
            for i, (seed, frame) in enumerate(runs):
                if loss in frame.columns:
                    line = ax.plot(frame["step"], frame[loss], lw=1, label=seed, color=colours.get(model, fallback),
                                   ls=SEED_STYLES[i % len(SEED_STYLES)])[0]
                    drawn[model] = to_hex(line.get_color())
            ax.set_title(loss, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.locator_params(nbins=TICKS)
        axes[0].legend(fontsize=6)
        margins(fig, left=0.45, bottom=0.3, top=0.5, wspace=0.45, hspace=0.45)
        fig.suptitle(f"{model} on {task}: training losses by step", fontsize=8)
        yield task, model, f"Training losses: {model} (seeds as line styles)", fig, drawn
