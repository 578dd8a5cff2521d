"""Every comparison the report makes, from the rows: each pair of methods per (task, metric), and the ranks.

Compared: non-reference methods (``setting != reference``) of one task on a metric with a direction
(``higher_is_better`` not empty), simulated human-study rows excepted (their tests live in the run's ``study/``
folder). Which test is used is decided per metric by what the rows carry (``reports.significance``): per-image rows
(``*_per_image``) are compared pairwise over images, every other metric across seeds.

``pairwise`` returns one row per compared pair, ``rank`` adds each method's rank to ``summarize_long``'s table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from reports.significance import Comparison, bh_qvalues, paired_images, rank_methods, welch_seeds
from reports.tables import PER_IMAGE_SUFFIX, REFERENCE_SETTING, paired_vs_unpaired, parse_protocol, summarize_long

PAIR_COLUMNS = ("task", "metric", "higher_is_better", "model_a", "setting_a", "model_b", "setting_b", "mean_a",
                "mean_b", "diff", "ci_low", "ci_high", "p", "q", "test", "n_a", "n_b", "better")
RANK_COLUMNS = ("rank", "tied", "significantly_best", "vs", "diff", "diff_ci_low", "diff_ci_high", "p", "test")


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows (or summary rows) that take part in comparisons: non-reference, directional, not simulated."""
    return frame[(frame["setting"] != REFERENCE_SETTING) & frame["higher_is_better"].notna() & ~frame["simulated"]]


def _image_series(group: pd.DataFrame) -> dict[int, pd.Series]:
    """Seed -> per-image values of one method, indexed by the ``image=`` protocol key or the row order."""
    out = {}
    for seed, sub in group.groupby("seed", sort=True):
        keys = [parse_protocol(p).get("image") for p in sub["protocol"]]
        index = keys if all(keys) and len(set(keys)) == len(keys) else list(range(len(sub)))
        out[int(seed)] = pd.Series(sub["value"].to_numpy(dtype=float), index=index)
    return out


def compare_methods(a: pd.DataFrame, b: pd.DataFrame, per_image: bool) -> Comparison:
    """``a - b`` for two methods' rows of one (task, metric): paired over images where possible, else across seeds.

    Args:
        a: Method A's rows (``read_metrics`` columns).
        b: Method B's rows.
        per_image: The metric's rows are one value per image.
    """
    if per_image:
        series_a, series_b = _image_series(a), _image_series(b)
        seeds = sorted(set(series_a) & set(series_b))
        same = [s for s in seeds if len(series_a[s]) == len(series_b[s]) and set(series_a[s].index) == set(
            series_b[s].index)]
        if seeds and same == seeds:
            return paired_images(np.concatenate([series_a[s].to_numpy() for s in seeds]),
                                 np.concatenate([series_b[s].reindex(series_a[s].index).to_numpy() for s in seeds]))
    seed_a = a.groupby("seed", sort=True)["value"].mean().to_numpy(dtype=float)
    seed_b = b.groupby("seed", sort=True)["value"].mean().to_numpy(dtype=float)
    return welch_seeds(seed_a, seed_b)


def pairwise(rows: pd.DataFrame) -> pd.DataFrame:
    """Every pair of compared methods per (task, metric), with its test and Benjamini-Hochberg q-value.

    Args:
        rows: ``read_metrics`` output.

    Returns:
        Columns ``PAIR_COLUMNS``; ``diff = mean_a - mean_b`` with its 95% interval; ``better`` is the model that is
        significantly better at ``ALPHA``, ``"tie"``, or ``"no test"`` where none could be made (e.g. fewer than 2
        seeds); ``q`` is computed over every tested pair of the report.
    """
    records = []
    for (task, metric), group in comparable(rows).groupby(["task", "metric"], sort=False):
        higher = bool(group["higher_is_better"].iloc[0])
        methods = list(dict.fromkeys(group["model"]))
        by_model = {m: group[group["model"] == m] for m in methods}
        for i, model_a in enumerate(methods):
            for model_b in methods[i + 1:]:
                a, b = by_model[model_a], by_model[model_b]
                c = compare_methods(a, b, metric.endswith(PER_IMAGE_SUFFIX))
                better = ("no test" if math.isnan(c.p) else "tie" if not c.significant  # e.g. fewer than 2 seeds
                          else model_a if (c.diff > 0) == higher else model_b)
                records.append({
                    "task": task, "metric": metric, "higher_is_better": higher,
                    "model_a": model_a, "setting_a": str(a["setting"].iloc[0]),
                    "model_b": model_b, "setting_b": str(b["setting"].iloc[0]),
                    "mean_a": float(a.groupby("seed")["value"].mean().mean()),
                    "mean_b": float(b.groupby("seed")["value"].mean().mean()),
                    "diff": c.diff, "ci_low": c.ci_low, "ci_high": c.ci_high, "p": c.p, "q": math.nan,
                    "test": c.test, "n_a": c.n_a, "n_b": c.n_b, "better": better})
    pairs = pd.DataFrame.from_records(records, columns=list(PAIR_COLUMNS))
    pairs["q"] = bh_qvalues(pairs["p"].to_numpy(dtype=float)) if len(pairs) else []
    return pairs


def _comparisons(pairs: pd.DataFrame) -> dict[tuple[str, str], dict[tuple[str, str], Comparison]]:
    """``(task, metric) -> {(model_a, model_b): Comparison}`` from a ``pairwise`` table."""
    out: dict[tuple[str, str], dict[tuple[str, str], Comparison]] = {}
    for r in pairs.itertuples(index=False):
        out.setdefault((r.task, r.metric), {})[(r.model_a, r.model_b)] = Comparison(
            r.diff, r.ci_low, r.ci_high, r.p, r.test, r.n_a, r.n_b)
    return out


def rank(long: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """``long`` plus ``RANK_COLUMNS``: each compared method's rank by the tie rule (NaN / empty elsewhere).

    Args:
        long: ``summarize_long`` output.
        pairs: ``pairwise`` output for the same rows.
    """
    comps = _comparisons(pairs)
    found: dict[tuple[str, str, str], list[object]] = {}
    for (task, metric), group in comparable(long).groupby(["task", "metric"], sort=False):
        means = dict(zip(group["model"], group["mean"].astype(float), strict=True))
        ranks = rank_methods(means, bool(group["higher_is_better"].iloc[0]), comps.get((task, metric), {}))
        for model, r in ranks.items():
            c = r.comparison
            found[(task, metric, model)] = [float(r.rank), r.tied, r.significantly_best, r.vs, c.diff, c.ci_low,
                                            c.ci_high, c.p, c.test]
    empty = [math.nan, False, False, "", math.nan, math.nan, math.nan, math.nan, ""]
    values = [found.get(key, empty) for key in zip(long["task"], long["metric"], long["model"], strict=True)]
    extra = pd.DataFrame(values, columns=list(RANK_COLUMNS), index=long.index)
    extra["verdict"] = [verdict(r) for r in extra.itertuples(index=False)]
    return pd.concat([long.drop(columns=[c for c in (*RANK_COLUMNS, "verdict") if c in long.columns]), extra], axis=1)


def verdict(rec: pd.Series | object) -> str:
    """``"significantly best"``, ``"tied best"``, ``"rank k (tied)"``, ``"rank k"`` or ``""`` (not ranked)."""
    value = getattr(rec, "rank", math.nan)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if getattr(rec, "significantly_best", False):
        return "significantly best"
    if int(value) == 1:
        return "tied best"
    return f"rank {int(value)}" + (" (tied)" if getattr(rec, "tied", False) else "")



@dataclass(frozen=True)
class Analysis:
    """Everything the report shows, computed once from the rows.

    Attributes:
        rows: ``read_metrics`` output.
        long: ``summarize_long`` plus ``RANK_COLUMNS`` and ``verdict``.
        pairs: ``pairwise`` output (``comparisons.csv``).
        pvu: ``reports.tables.paired_vs_unpaired`` output.
    """

    rows: pd.DataFrame
    long: pd.DataFrame
    pairs: pd.DataFrame
    pvu: pd.DataFrame


def analyse(rows: pd.DataFrame) -> Analysis:
    """Summaries, every pairwise test, ranks and the paired-vs-unpaired table of ``rows``."""
    pairs = pairwise(rows)
    long = rank(summarize_long(rows), pairs)
    return Analysis(rows, long, pairs, paired_vs_unpaired(long, pairs))
