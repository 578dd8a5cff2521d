"""Tables from ``metrics.csv``: per-(task, model) summaries across seeds, and the paired-vs-unpaired comparison.

Reports only format result rows; nothing here recomputes a metric. A new model, task or metric needs no code
change: metrics become columns, settings (the rows' ``setting`` column) become comparison groups.

``summary.csv`` columns (flat, one row per task and model):
    ``task, model, setting, n_seeds`` then, for every metric ``M`` in first-seen order:
    ``M`` (mean over seeds), ``M_ci_low``, ``M_ci_high`` (95% t-interval across seed means when there are >= 2
    seeds, else the row's own stated interval, else empty), and, only for metrics where the run carries a paper
    value: ``M_published``, ``M_published_source``, ``M_published_status`` (``verified`` | ``secondary`` |
    ``unconfirmed`` | ``unknown``).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from harness.core.errors import HarnessError
from harness.core.results import COLUMNS

CI_LEVEL = 0.95  # two-sided confidence level of the across-seed interval
SETTING_ORDER = ("paired", "unpaired", "unconditional")  # comparison order; other settings follow alphabetically
STATUS_TAGS = {"V": "verified", "S": "secondary", "R": "unconfirmed"}  # published-results.md status tags
REFERENCE_SETTING = "reference"  # rows such as ground_truth / real_data: shown, never compared

_NUMERIC = ("value", "ci_low", "ci_high", "published_value")
_TEXT = ("model", "task", "metric", "split", "protocol", "published_source")


def parse_protocol(protocol: str) -> dict[str, str]:
    """Parses ``"key=value; key=value"`` into a dict (a part without ``=`` maps to ``""``)."""
    out: dict[str, str] = {}
    for part in str(protocol).split(";"):
        part = part.strip()
        if part:
            key, _, value = part.partition("=")
            out[key.strip()] = value.strip()
    return out


def published_status(source: str) -> str:
    """Status from the last ``[V]``/``[S]``/``[R]`` tag in a published source (``"unknown"`` when untagged)."""
    tags = re.findall(r"\[([VSR])\]", str(source))
    return STATUS_TAGS[tags[-1]] if tags else "unknown"


def read_json(path: Path) -> dict:
    """Parses a JSON object file, or raises a ``HarnessError`` naming it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{path}: unreadable JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise HarnessError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def _parse_direction(raw: str, path: Path) -> bool | None:
    text = str(raw).strip().lower()
    if text in ("true", "1", "1.0"):
        return True
    if text in ("false", "0", "0.0"):
        return False
    if text in ("", "none", "nan"):
        return None
    raise HarnessError(f"{path}: higher_is_better={raw!r} is not True, False or empty")


def read_metrics(path: str | Path) -> pd.DataFrame:
    """Reads and validates a ``metrics.csv``.

    Returns:
        One row per value with the ``harness.core.results.COLUMNS`` columns, numeric columns as float (NaN when empty),
        ``seed``/``n`` as int, ``higher_is_better`` as True/False/None, ``setting`` (``unknown`` when empty), plus
        ``simulated`` (bool) parsed from the protocol string.

    Raises:
        HarnessError: Missing file, missing columns or unparsable values, naming the file.
    """
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{path}: metrics file not found (expected the run's metrics.csv)")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise HarnessError(f"{path}: not a readable CSV ({exc}); expected columns {', '.join(COLUMNS)}") from exc
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise HarnessError(f"{path}: missing columns {missing}; expected columns {', '.join(COLUMNS)}")
    frame = frame[list(COLUMNS)].copy()
    for col in _NUMERIC + ("seed", "n"):
        text = frame[col].str.strip()
        converted = pd.to_numeric(text.replace("", "nan"), errors="coerce")
        empty_ok = col in _NUMERIC  # seed and n must always be given
        bad = converted.isna() & ~(text.str.lower().isin(("", "nan")) & empty_ok)
        if bad.any():
            first = int(np.flatnonzero(bad.to_numpy())[0])
            raise HarnessError(f"{path}: row {first + 2} column {col!r}={frame[col].iloc[first]!r} is not a number")
        frame[col] = converted.astype(float)
    frame["seed"] = frame["seed"].astype(int)
    frame["n"] = frame["n"].astype(int)
    frame["higher_is_better"] = [_parse_direction(v, path) for v in frame["higher_is_better"]]
    frame["setting"] = frame["setting"].str.strip().replace("", "unknown")
    frame["simulated"] = [parse_protocol(p).get("simulated", "").lower() == "true" for p in frame["protocol"]]
    return frame


def _seed_ci(seed_means: np.ndarray) -> tuple[float, float]:
    """95% t-interval of the mean of per-seed values ``(k,)``, k >= 2."""
    k = len(seed_means)
    half = stats.t.ppf(0.5 + CI_LEVEL / 2, k - 1) * seed_means.std(ddof=1) / math.sqrt(k)
    mean = float(seed_means.mean())
    return mean - float(half), mean + float(half)


def _first(values: pd.Series, default: object) -> object:
    present = [v for v in values if not (isinstance(v, float) and math.isnan(v)) and v != ""]
    return present[0] if present else default


def summarize_long(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, model, metric): mean over seeds with its CI, direction and published value.

    Per-seed values are first averaged (a per-image metric has many rows per seed), then averaged across seeds.

    Returns:
        Columns ``task, model, metric, setting, simulated, mean, ci_low, ci_high, n_seeds, higher_is_better,
        protocol, published_value, published_source, published_status``, in first-seen order.
    """
    records = []
    for (task, model, metric), group in rows.groupby(["task", "model", "metric"], sort=False):
        seed_means = group.groupby("seed", sort=True)["value"].mean().to_numpy(dtype=float)
        if len(seed_means) >= 2:
            ci_low, ci_high = _seed_ci(seed_means)
        elif len(group) == 1:
            ci_low, ci_high = float(group["ci_low"].iloc[0]), float(group["ci_high"].iloc[0])
        else:
            ci_low, ci_high = math.nan, math.nan
        source = str(_first(group["published_source"], ""))
        records.append({
            "task": task, "model": model, "metric": metric,
            "setting": str(group["setting"].iloc[0]), "simulated": bool(group["simulated"].any()),
            "mean": float(seed_means.mean()), "ci_low": ci_low, "ci_high": ci_high, "n_seeds": len(seed_means),
            "higher_is_better": group["higher_is_better"].iloc[0], "protocol": str(group["protocol"].iloc[0]),
            "published_value": float(_first(group["published_value"], math.nan)),
            "published_source": source, "published_status": published_status(source) if source else "",
        })
    return pd.DataFrame.from_records(records, columns=[
        "task", "model", "metric", "setting", "simulated", "mean", "ci_low", "ci_high", "n_seeds",
        "higher_is_better", "protocol", "published_value", "published_source", "published_status"])


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    """Wide summary: one row per (task, model), metric columns as documented in the module docstring.

    Args:
        rows: Output of ``read_metrics``.
    """
    long = summarize_long(rows)
    with_published = set(long.loc[long["published_value"].notna(), "metric"])
    out: dict[tuple[str, str], dict[str, object]] = {}
    for rec in long.itertuples(index=False):
        row = out.setdefault((rec.task, rec.model), {
            "task": rec.task, "model": rec.model, "setting": rec.setting, "n_seeds": rec.n_seeds})
        row["n_seeds"] = max(int(row["n_seeds"]), rec.n_seeds)
        row[rec.metric], row[f"{rec.metric}_ci_low"], row[f"{rec.metric}_ci_high"] = rec.mean, rec.ci_low, rec.ci_high
        if rec.metric in with_published:
            row[f"{rec.metric}_published"] = rec.published_value
            row[f"{rec.metric}_published_source"] = rec.published_source
            row[f"{rec.metric}_published_status"] = rec.published_status
    columns = ["task", "model", "setting", "n_seeds"]
    for metric in dict.fromkeys(long["metric"]):
        columns += [metric, f"{metric}_ci_low", f"{metric}_ci_high"]
        if metric in with_published:
            columns += [f"{metric}_published", f"{metric}_published_source", f"{metric}_published_status"]
    return pd.DataFrame.from_records(list(out.values()), columns=columns)


def _setting_key(setting: str) -> tuple[int, str]:
    return (SETTING_ORDER.index(setting) if setting in SETTING_ORDER else len(SETTING_ORDER), setting)


def paired_vs_unpaired(rows: pd.DataFrame) -> pd.DataFrame:
    """Best method of each training setting against the best of every other setting, per task and metric.

    Settings come from ``setting=...`` in the protocol strings, so any task with two or more non-reference settings
    (paired/unpaired, unconditional, ...) is compared without new code. Metrics without a direction are skipped.

    Returns:
        Columns ``task, metric, higher_is_better, setting_a, model_a, value_a, setting_b, model_b, value_b, gap,
        better`` where ``gap = value_a - value_b`` and ``better`` is the setting whose best value wins (``"tie"``).
    """
    long = summarize_long(rows)
    long = long[(long["setting"] != REFERENCE_SETTING) & long["higher_is_better"].notna()]
    records = []
    for (task, metric), group in long.groupby(["task", "metric"], sort=False):
        higher = bool(group["higher_is_better"].iloc[0])
        best = {}
        for setting, sub in group.groupby("setting"):
            sub = sub[sub["mean"].notna()]
            if len(sub):
                idx = sub["mean"].idxmax() if higher else sub["mean"].idxmin()
                best[setting] = (str(sub.at[idx, "model"]), float(sub.at[idx, "mean"]))
        settings = sorted(best, key=_setting_key)
        for i, a in enumerate(settings):
            for b in settings[i + 1:]:
                gap = best[a][1] - best[b][1]
                better = "tie" if gap == 0 else (a if (gap > 0) == higher else b)
                records.append({"task": task, "metric": metric, "higher_is_better": higher,
                                "setting_a": a, "model_a": best[a][0], "value_a": best[a][1],
                                "setting_b": b, "model_b": best[b][0], "value_b": best[b][1],
                                "gap": gap, "better": better})
    return pd.DataFrame.from_records(records, columns=[
        "task", "metric", "higher_is_better", "setting_a", "model_a", "value_a",
        "setting_b", "model_b", "value_b", "gap", "better"])
