"""Tables from ``metrics.csv``: per-(task, model) summaries across seeds, and the paired-vs-unpaired comparison.

Reports only format result rows; nothing here recomputes a metric. A new model, task or metric needs no code
change: metrics become columns, settings (the rows' ``setting`` column) become comparison groups.

``summary.csv`` columns (flat, one row per task and model):
    ``task, model, setting, n_seeds`` then, for every metric ``M`` in first-seen order:
    ``M`` (mean over seeds), ``M_ci_low``, ``M_ci_high`` (95% t-interval across seed means when there are >= 2
    seeds, else the row's own stated interval, else empty); for metrics the report ranks (``reports.analysis``):
    ``M_rank`` (methods sharing a rank are tied), ``M_verdict`` (``significantly best`` | ``tied best`` |
    ``rank k`` ...), ``M_vs`` (the method compared against: the leader, or for the leader its runner-up),
    ``M_diff``, ``M_diff_ci_low``, ``M_diff_ci_high`` (this method minus ``M_vs``, 95% interval), ``M_p`` (two-sided;
    for the leader the largest p over all its comparisons) and ``M_test``; and, only for metrics where the run
    carries a paper value: ``M_published``, ``M_published_source``, ``M_published_status`` (``verified`` |
    ``secondary`` | ``unconfirmed`` | ``unknown``), ``M_published_dataset`` and ``M_published_comparable``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from harness.core.csv_files import unescape_frame
from harness.core.errors import HarnessError
from harness.core.results import COLUMNS

CI_LEVEL = 0.95  # two-sided confidence level of the across-seed interval
SETTING_ORDER = ("paired", "unpaired", "unconditional")  # comparison order; other settings follow alphabetically
STATUS_TAGS = {"V": "verified", "S": "secondary", "R": "unconfirmed"}  # published-results.md status tags
REFERENCE_SETTING = "reference"  # rows such as ground_truth / real_data: shown, never compared
PER_IMAGE_SUFFIX = "_per_image"  # metrics whose rows are one value per image
NOT_COMPARABLE = "not comparable: different data and judge"  # a paper value beside an embedded-task number

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


def split_bracket(metric: str) -> tuple[str, str] | None:
    """``"iou[road]"`` -> ``("iou", "road")``; None for a metric without a bracketed part."""
    match = re.fullmatch(r"(.+)\[(.+)\]", metric)
    return (match.group(1), match.group(2)) if match else None


def published_dataset(source: str) -> str:
    """The dataset a published value was measured on: the source's last comma-separated part, tags removed.

    >>> published_dataset("pix2pix v3 Table 1, Cityscapes labels→photo [V]")
    'Cityscapes labels→photo'
    """
    text = re.sub(r"\s*\[[VSR]\]", "", str(source)).strip()
    return text.rsplit(",", 1)[-1].strip() if text else ""


def published_comparability(protocol: str) -> str:
    """Whether our number may be read against the paper's, from the row's ``comparable_to_paper=`` provenance.

    Only an explicit ``yes`` is comparable; embedded tasks (and rows that do not say) are ``NOT_COMPARABLE``.
    """
    said = parse_protocol(protocol).get("comparable_to_paper", "").strip()
    if said.lower().startswith("yes"):
        return "comparable"
    reason = said[2:].strip(" ()") if said.lower().startswith("no") else ""
    return NOT_COMPARABLE if not reason or "embedded" in reason else f"not comparable: {reason}"


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
        frame = unescape_frame(pd.read_csv(path, dtype=str, keep_default_na=False))
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
    """95% t-interval of the mean of per-seed values ``(k,)``, k >= 2; NaN when a value is not finite.

    (HR against itself has PSNR = inf in every seed: its mean is inf and it has no interval.)
    """
    if not np.isfinite(seed_means).all():
        return math.nan, math.nan
    k = len(seed_means)
    half = stats.t.ppf(0.5 + CI_LEVEL / 2, k - 1) * seed_means.std(ddof=1) / math.sqrt(k)
    mean = float(seed_means.mean())
    return mean - float(half), mean + float(half)


def _first(values: pd.Series, default: object) -> object:
    present = [v for v in values if not (isinstance(v, float) and math.isnan(v)) and v != ""]
    return present[0] if present else default


LONG_COLUMNS = ["task", "model", "metric", "setting", "simulated", "mean", "ci_low", "ci_high", "n_seeds",
                "higher_is_better", "protocol", "published_value", "published_source", "published_status",
                "published_dataset", "published_comparable"]


def summarize_long(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, model, metric): mean over seeds with its CI, direction and published value.

    Per-seed values are first averaged (a per-image metric has many rows per seed), then averaged across seeds.

    Returns:
        Columns ``LONG_COLUMNS`` (``published_dataset`` and ``published_comparable`` from ``published_dataset`` and
        ``published_comparability``), in first-seen order.
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
        protocol = str(group["protocol"].iloc[0])
        records.append({
            "task": task, "model": model, "metric": metric,
            "setting": str(group["setting"].iloc[0]), "simulated": bool(group["simulated"].any()),
            "mean": float(seed_means.mean()), "ci_low": ci_low, "ci_high": ci_high, "n_seeds": len(seed_means),
            "higher_is_better": group["higher_is_better"].iloc[0], "protocol": protocol,
            "published_value": float(_first(group["published_value"], math.nan)),
            "published_source": source, "published_status": published_status(source) if source else "",
            "published_dataset": published_dataset(source),
            "published_comparable": published_comparability(protocol) if source else "",
        })
    return pd.DataFrame.from_records(records, columns=LONG_COLUMNS)


RANKED = ("rank", "verdict", "vs", "diff", "diff_ci_low", "diff_ci_high", "p", "test")  # M_<x> of ranked metrics
PUBLISHED = ("published", "published_source", "published_status", "published_dataset", "published_comparable")


def summarize(long: pd.DataFrame) -> pd.DataFrame:
    """Wide summary: one row per (task, model), metric columns as documented in the module docstring.

    Args:
        long: ``summarize_long`` output, optionally with ``reports.analysis.rank``'s columns (and ``verdict``).
    """
    ranked = set(long.loc[long["rank"].notna(), "metric"]) if "rank" in long.columns else set()
    with_published = set(long.loc[long["published_value"].notna(), "metric"])
    out: dict[tuple[str, str], dict[str, object]] = {}
    for rec in long.to_dict("records"):
        row = out.setdefault((rec["task"], rec["model"]), {
            "task": rec["task"], "model": rec["model"], "setting": rec["setting"], "n_seeds": rec["n_seeds"]})
        row["n_seeds"] = max(int(row["n_seeds"]), rec["n_seeds"])
        metric = rec["metric"]
        row[metric], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = rec["mean"], rec["ci_low"], rec["ci_high"]
        if metric in ranked:
            row.update({f"{metric}_{key}": rec.get(key, "") for key in RANKED})
        if metric in with_published:
            row.update({f"{metric}_{key}": rec[key] for key in PUBLISHED[1:]})
            row[f"{metric}_published"] = rec["published_value"]
    columns = ["task", "model", "setting", "n_seeds"]
    for metric in dict.fromkeys(long["metric"]):
        columns += [metric, f"{metric}_ci_low", f"{metric}_ci_high"]
        columns += [f"{metric}_{key}" for key in RANKED] if metric in ranked else []
        columns += [f"{metric}_{key}" for key in PUBLISHED] if metric in with_published else []
    return pd.DataFrame.from_records(list(out.values()), columns=columns)


def _setting_key(setting: str) -> tuple[int, str]:
    return (SETTING_ORDER.index(setting) if setting in SETTING_ORDER else len(SETTING_ORDER), setting)


PVU_COLUMNS = ["task", "metric", "higher_is_better", "setting_a", "model_a", "value_a", "setting_b", "model_b",
               "value_b", "gap", "gap_ci_low", "gap_ci_high", "p", "test", "better"]


def paired_vs_unpaired(long: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Best method of each training setting against the best of every other setting, per task and metric.

    Settings come from the rows' ``setting`` column, so any task with two or more non-reference settings
    (paired/unpaired, unconditional, ...) is compared without new code. Metrics without a direction are skipped.

    Args:
        long: ``summarize_long`` output.
        pairs: ``reports.analysis.pairwise`` output (the test of each pair of methods).

    Returns:
        Columns ``PVU_COLUMNS``: ``gap = value_a - value_b`` with the 95% interval and p-value of its test;
        ``better`` is the setting whose best method is significantly better at alpha = 0.05, else ``"tie"`` (``"no
        test"`` where none could be made).
    """
    long = long[(long["setting"] != REFERENCE_SETTING) & long["higher_is_better"].notna() & ~long["simulated"]]
    tests = {(r.task, r.metric, r.model_a, r.model_b): r for r in pairs.itertuples(index=False)}
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
                (model_a, value_a), (model_b, value_b) = best[a], best[b]
                test = tests.get((task, metric, model_a, model_b))
                sign = 1.0
                if test is None:
                    test, sign = tests[(task, metric, model_b, model_a)], -1.0
                low, high = sorted((sign * test.ci_low, sign * test.ci_high))
                better = {model_a: a, model_b: b}.get(test.better, test.better)  # a model's setting; tie, no test
                records.append({"task": task, "metric": metric, "higher_is_better": higher,
                                "setting_a": a, "model_a": model_a, "value_a": value_a,
                                "setting_b": b, "model_b": model_b, "value_b": value_b,
                                "gap": value_a - value_b, "gap_ci_low": low, "gap_ci_high": high, "p": test.p,
                                "test": test.test, "better": better})
    return pd.DataFrame.from_records(records, columns=PVU_COLUMNS)
