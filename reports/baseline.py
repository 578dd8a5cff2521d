"""The CI regression gate's baseline: recorded from one multi-seed run or several pooled, read back for ``check``.

A baseline entry per (task, model, metric) holds the expected value (mean over seeds), a tolerance (``k`` times the
standard deviation across seeds, floored; or one explicit tolerance for all), the direction and the protocol with
its seed- and machine-dependent keys removed, and (format 2) each draw's value, so that ``baseline --add-to``
(``reports.baseline_extend``) can pool a later CPU kind's draws into it without the runs it was made from.
``reports.check`` compares a run with it.

Rows shown from a reference set (protocol key ``reference_set``, ``harness.reference_use``) are not the run's own
results: a baseline leaves them out (``own_rows``).

The judge keys of a protocol (``JUDGE_KEYS``: which judge or feature-extractor weights made the number, and whether
they were the committed ones) are split off by ``split_judge``, so that a check can compare them on their own.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from harness.core.atomic import read_json, write_json
from harness.core.errors import HarnessError
from harness.core.results import REFERENCE_SET_KEY
from reports.tables import parse_protocol, read_metrics

FORMAT_VERSION = 2  # bump when the baseline JSON layout changes; 2 added each draw's values
READABLE_FORMATS = (1, 2)  # what ``check`` reads: format 1 lacks the values, not anything check uses
SEED_KEYS = ("seed", "weights_path", "outputs_folder", "outputs_sha256", "reference_folder",
             "targets_file")  # keys that differ between seeds, runs or machines (a folder's outputs are its seed's,
# like a model's weights); dropped before comparing
PRESENTATION_KEYS = ("headline",)  # which metric a report shows first: not how the number was made; dropped too
JUDGE_KEYS = ("judge_sha256", "judge_source", "inception_sha256")  # which evaluation weights; compared on their own


def seed_independent_protocol(protocol: str) -> str:
    """The protocol string without seed-dependent and presentation keys, the others in their original order."""
    return "; ".join(f"{k}={v}" for k, v in parse_protocol(protocol).items()
                     if k not in SEED_KEYS + PRESENTATION_KEYS)


def run_profile(run_dir: Path) -> str:
    """The ``profile`` of a run's resolved ``config.json``, or a ``HarnessError`` naming the file."""
    config = read_json(run_dir / "config.json")
    if "profile" not in config:
        raise HarnessError(f"{run_dir / 'config.json'}: no top-level 'profile' (expected the resolved run config)")
    return str(config["profile"])


def own_rows(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows the run made itself: those shown from a reference set (``reference_set=`` in the protocol) dropped."""
    return rows[[REFERENCE_SET_KEY not in parse_protocol(p) for p in rows["protocol"]]]


def aggregate(rows: pd.DataFrame, draw: str = "seed") -> pd.DataFrame:
    """Per (task, model, metric): mean and sample std of per-draw means, those means, count, direction, protocol.

    ``draw`` is the column that tells draws apart: ``seed`` within one run, ``draw`` (the index of the run and seed
    in ``_pooled_rows``' list) when runs from several machines are pooled.
    """
    records = []
    for (task, model, metric), group in rows.groupby(["task", "model", "metric"], sort=False):
        seed_means = group.groupby(draw)["value"].mean()
        spread = seed_means.std(ddof=1) if len(seed_means) > 1 and np.isfinite(seed_means).all() else 0.0
        protocols = sorted({seed_independent_protocol(p) for p in group["protocol"]})
        records.append({"task": task, "model": model, "metric": metric, "mean": float(seed_means.mean()),
                        "std": float(spread),  # 0 for one seed or an infinite value (not gated)
                        "values": [float(v) for v in seed_means],
                        "n_seeds": len(seed_means), "higher_is_better": group["higher_is_better"].iloc[0],
                        "protocol": " | ".join(protocols)})
    return pd.DataFrame.from_records(records)


def _pooled_rows(run_dirs: list[Path]) -> tuple[pd.DataFrame, str, list[dict]]:
    """Every run's own rows with a ``draw`` column, their common profile, and one ``{run, seed, cpu}`` per draw.

    ``draw`` is the index of the row's (run, seed) in the returned list, which is in run order, then seed order.

    Raises:
        HarnessError: No run, a run named twice, runs of different profiles, a run without rows of its own, or a
            seed that repeats another run's seed value for value (the same seed on the same CPU kind draws the same
            numbers bit for bit: pooling it again would shrink the spread, not widen it).
    """
    if not run_dirs:
        raise HarnessError("--run: expected at least one run directory")
    resolved = [path.resolve() for path in run_dirs]
    for index, path in enumerate(resolved):
        if path in resolved[:index]:
            raise HarnessError(f"--run {run_dirs[index]}: given twice; each run's seeds are pooled once")
    frames, profiles, draws = [], {}, []
    for run_dir in run_dirs:
        profiles[run_dir] = run_profile(run_dir)
        rows = own_rows(read_metrics(run_dir / "metrics.csv"))
        if rows.empty:
            raise HarnessError(f"{run_dir / 'metrics.csv'}: holds no result rows of its own to make a baseline from")
        manifest = read_json(run_dir / "manifest.json") if (run_dir / "manifest.json").is_file() else {}
        cpu, first = (manifest.get("hardware") or {}).get("cpu"), len(draws)
        seeds = sorted(int(s) for s in rows["seed"].unique())
        draws += [{"run": run_dir.name, "seed": seed, "cpu": cpu} for seed in seeds]
        frames.append(rows.assign(draw=[first + seeds.index(int(seed)) for seed in rows["seed"]]))
    if len(set(profiles.values())) > 1:
        raise HarnessError("--run: runs of different profiles cannot be pooled: "
                           + ", ".join(f"{path} is {profile!r}" for path, profile in profiles.items()))
    for later in range(1, len(frames)):
        for earlier in range(later):
            _refuse_repeated_draws(frames[earlier], run_dirs[earlier], frames[later], run_dirs[later])
    return pd.concat(frames, ignore_index=True), next(iter(profiles.values())), draws


def _refuse_repeated_draws(first: pd.DataFrame, first_dir: Path, second: pd.DataFrame, second_dir: Path) -> None:
    """Raises when a seed of ``second`` holds exactly ``first``'s values of that seed (one draw counted twice)."""
    columns = ["task", "model", "metric", "value"]
    for seed in sorted(set(first["seed"]) & set(second["seed"])):
        a = first.loc[first["seed"] == seed, columns].sort_values(columns[:3], kind="stable").reset_index(drop=True)
        b = second.loc[second["seed"] == seed, columns].sort_values(columns[:3], kind="stable").reset_index(drop=True)
        if a.equals(b):
            raise HarnessError(f"--run {second_dir}: seed {seed} repeats --run {first_dir}'s seed {seed} value for "
                               "value (the same seed on the same CPU kind trains to the same numbers), so pooling it "
                               "would count one draw twice; pool runs made on different CPU kinds, or other seeds")


def gate_interval(values: Sequence[float], k: float, prior: dict | None = None, min_tolerance: float = 1e-6,
                  min_rel_tolerance: float = 0.01, fixed: float | None = None) -> tuple[float, float]:
    """``(expected, tolerance)`` of an entry: the mean of ``values`` +- ``k`` sample std's, floored, then widened.

    Args:
        values: The per-draw values (finite, at least one).
        k: Std multiplier.
        prior: ``{"expected", "tolerance"}`` of a baseline whose draws were not kept (format 1), or None. The result
            is the smallest interval holding both (so a draw it passed still passes).
        min_tolerance: Absolute floor of the tolerance (a single draw has no spread).
        min_rel_tolerance: Relative floor, as a fraction of ``|mean|``.
        fixed: An explicit tolerance (``baseline --tolerance``) used instead of the spread and the floors; None
            derives it.
    """
    mean = float(np.mean(values))
    spread = float(np.std(values, ddof=1)) if len(values) > 1 else 0.0
    tolerance = float(fixed) if fixed is not None else max(k * spread, min_tolerance, min_rel_tolerance * abs(mean))
    if prior is None:
        return mean, tolerance
    low = min(mean - tolerance, prior["expected"] - prior["tolerance"])
    high = max(mean + tolerance, prior["expected"] + prior["tolerance"])
    return (low + high) / 2, (high - low) / 2


def make_baseline(run_dirs: Sequence[str | Path], *, tolerance: float | None = None, k: float = 3.0,
                  min_tolerance: float = 1e-6, min_rel_tolerance: float = 0.01) -> dict:
    """A baseline from one run (ideally several seeds) or several pooled, as a JSON-ready dict.

    Runs made on different machines are pooled draw by draw: each (run, seed) is one draw of training, since CPU
    training is bit-reproducible only on one CPU kind (``outcome.json``'s ``cpu``) and the same seed elsewhere is a
    new draw. Pooling kinds gives the gate a spread that holds on each of them.

    Args:
        run_dirs: Run directories with ``config.json`` and ``metrics.csv``, all of one profile.
        tolerance: One explicit absolute tolerance for every metric; None derives it from the spread of the draws.
        k: Tolerance = ``k`` x standard deviation across draws, when ``tolerance`` is None.
        min_tolerance: Absolute floor of a derived tolerance (a single seed has no spread).
        min_rel_tolerance: Relative floor, as a fraction of ``|expected|``, of a derived tolerance.

    Returns:
        ``{"format", "run", "profile", "seeds", "k", "tolerance" (the explicit one or null), "draws": [{run, seed,
        cpu}], "entries": [{task, model, metric, expected, tolerance, higher_is_better, n_seeds (draws), protocol,
        values (one per draw, in draws' order)}]}``.
        Per-class values (``metric[class]``), non-finite means and values missing from some draws are left out:
        whether a class gets a row depends on the predictions (an absent class has no IoU), so gating them would fail
        on rows that legitimately come and go.
    """
    run_dirs = [Path(path) for path in run_dirs]
    if tolerance is not None and not (tolerance >= 0 and math.isfinite(tolerance)):
        raise HarnessError(f"--tolerance {tolerance}: expected a finite number >= 0")
    rows, profile, draws = _pooled_rows(run_dirs)
    entries = []
    n_draws = rows["draw"].nunique()
    for rec in aggregate(rows, draw="draw").itertuples(index=False):
        if "[" in rec.metric or rec.n_seeds < n_draws or not math.isfinite(rec.mean):
            continue  # an infinite mean (PSNR of identical images) is not gated; its count row (*_identical) is
        _, entry_tolerance = gate_interval(rec.values, k, None, min_tolerance, min_rel_tolerance, fixed=tolerance)
        entries.append({"task": rec.task, "model": rec.model, "metric": rec.metric, "expected": rec.mean,
                        "tolerance": entry_tolerance,
                        "higher_is_better": rec.higher_is_better, "n_seeds": rec.n_seeds, "protocol": rec.protocol,
                        "values": rec.values})
    return {"format": FORMAT_VERSION, "run": "+".join(path.name for path in run_dirs), "profile": profile,
            "seeds": sorted(int(s) for s in rows["seed"].unique()), "k": k,
            "tolerance": float(tolerance) if tolerance is not None else None, "draws": draws, "entries": entries}


def write_baseline(run_dirs: Sequence[str | Path], out: str | Path, *, tolerance: float | None = None) -> dict:
    """``make_baseline`` then an atomic JSON write to ``out``; returns the baseline."""
    baseline = make_baseline(run_dirs, tolerance=tolerance)
    write_json(out, baseline)
    return baseline


def load_baseline(path: str | Path, option: str = "--baseline") -> dict:
    """Reads a baseline JSON file, or raises a ``HarnessError`` naming it (given as ``option``) and what is wrong."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{option} {path}: unreadable ({exc}); expected a file written by 'baseline'") from exc
    readable = isinstance(data, dict) and data.get("format") in READABLE_FORMATS
    if not readable or not isinstance(data.get("entries"), list):
        raise HarnessError(f"{option} {path}: not a baseline written by 'baseline' (format "
                           f"{' or '.join(map(str, READABLE_FORMATS))})")
    draws = data.get("draws")
    listed = isinstance(draws, list) and all(isinstance(d, dict) and "seed" in d for d in draws)
    if data["format"] >= 2 and not listed:
        raise HarnessError(f"{option} {path}: 'draws' is not a list of {{run, seed, cpu}}; regenerate it with "
                           "'baseline'")
    fixed = data.get("tolerance")
    if fixed is not None and not (_finite_number(fixed) and fixed >= 0):
        raise HarnessError(f"{option} {path}: top-level tolerance={fixed!r} is not null or a finite number >= 0; "
                           "regenerate it with 'baseline'")
    for index, entry in enumerate(data["entries"]):
        problem = _entry_problem(entry)
        if not problem and data["format"] >= 2 and len(entry.get("values", ())) != len(draws):
            problem = f"({entry['task']}/{entry['model']}/{entry['metric']}): has not one value per draw"
        if problem:
            raise HarnessError(f"{option} {path}: entry {index} {problem}; regenerate it with 'baseline'")
    return data


def split_judge(protocol: str) -> tuple[str, str]:
    """``(protocol without JUDGE_KEYS, the JUDGE_KEYS part)`` of a (possibly ``" | "``-joined) protocol string."""
    rest, judge = [], []
    for part in protocol.split(" | "):
        keys = parse_protocol(part)
        rest.append("; ".join(f"{k}={v}" for k, v in keys.items() if k not in JUDGE_KEYS))
        judge.append("; ".join(f"{k}={keys[k]}" for k in JUDGE_KEYS if k in keys))
    return " | ".join(rest), " | ".join(dict.fromkeys(judge))


def _finite_number(value: object) -> bool:
    """Whether ``value`` is a finite JSON number (an int or float, not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _entry_problem(entry: object) -> str | None:
    """What is wrong with one baseline entry (None when it is usable)."""
    if not isinstance(entry, dict):
        return "is not a JSON object"
    for key in ("task", "model", "metric", "protocol"):
        if not isinstance(entry.get(key), str):
            return f"has no text {key!r}"
    for key in ("expected", "tolerance"):
        value = entry.get(key)
        if not _finite_number(value):
            return f"({entry['task']}/{entry['model']}/{entry['metric']}): {key}={value!r} is not a finite number"
    if entry["tolerance"] < 0:
        return f"({entry['task']}/{entry['model']}/{entry['metric']}): tolerance={entry['tolerance']!r} is negative"
    if entry.get("higher_is_better") not in (True, False, None):
        return f"({entry['task']}/{entry['model']}/{entry['metric']}): higher_is_better must be true, false or null"
    values = entry.get("values", [])
    if not isinstance(values, list) or not all(v is None or _finite_number(v) for v in values):
        return f"({entry['task']}/{entry['model']}/{entry['metric']}): values must be a list of finite numbers or null"
    return None
