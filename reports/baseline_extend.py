"""``baseline --add-to``: a committed baseline widened with the draws of runs made on another CPU kind.

CPU training is bit-reproducible only on one CPU kind, so a baseline holds on the kinds its draws came from; a
machine of a new kind draws new numbers. Its session adds them without the runs the baseline came from (those are
gone with their machines): a format-2 baseline keeps every draw's value per entry, and the runs' draws are appended
to them and each entry's interval recomputed (``reports.baseline.gate_interval``: mean +- ``k`` std of all draws).

A format-1 baseline kept only each entry's expected value and tolerance: those become the entry's ``prior``, an
interval the new one is widened to cover, so a draw the old file passed still passes. The result is format 2 either
way; its top-level ``prior`` says which runs the priors came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.core.errors import HarnessError
from reports.baseline import FORMAT_VERSION, gate_interval, load_baseline, make_baseline, split_judge

Key = tuple[str, str, str]


def _key(entry: dict) -> Key:
    return entry["task"], entry["model"], entry["metric"]


def _refuse_repeats(old: dict, stored: dict[Key, dict], new: dict, option: str) -> None:
    """Raises when a new draw equals a stored draw of the same seed in every entry both have (one draw twice).

    ``stored`` is ``old``'s entries by key.
    """
    old_draws, new_draws = old.get("draws") or [], new["draws"]
    if old["format"] < 2:
        return  # format 1 kept no values to compare
    pairs = [(i, j) for i, a in enumerate(old_draws) for j, b in enumerate(new_draws) if a.get("seed") == b["seed"]]
    for i, j in pairs:
        shared = [(stored[_key(e)]["values"][i], e["values"][j]) for e in new["entries"]
                  if _key(e) in stored and stored[_key(e)]["values"][i] is not None]
        if shared and all(a == b for a, b in shared):
            raise HarnessError(
                f"--run {new_draws[j]['run']}: seed {new_draws[j]['seed']} repeats the draw of run "
                f"{old_draws[i]['run']!r} seed {old_draws[i]['seed']} in {option} value for value (the same seed on "
                "the same CPU kind trains to the same numbers), so adding it would count one draw twice; add runs "
                "made on another CPU kind, or other seeds")


def _merged_entry(old: dict | None, new: dict, n_old: int, legacy: bool, k: float, fixed: float | None,
                  option: str) -> dict:
    """One entry from a stored entry (or None for a metric the baseline predates) and the runs' entry.

    ``k`` and ``fixed`` are the baseline's std multiplier and explicit tolerance (``baseline --tolerance``, kept).
    """
    if old is not None:
        (before, _), (now, _) = split_judge(old["protocol"]), split_judge(new["protocol"])
        if before != now or old["higher_is_better"] != new["higher_is_better"]:
            raise HarnessError(f"{option}: {'/'.join(_key(new))} was measured otherwise by the runs than in the "
                               f"baseline (protocol {before!r} there, {now!r} here); draws of different protocols "
                               "cannot be pooled: make a new baseline with 'baseline --run' alone")
    stored = [None] * n_old if old is None or legacy else list(old["values"])
    prior = (None if old is None
             else {"expected": old["expected"], "tolerance": old["tolerance"], "n_seeds": old.get("n_seeds")} if legacy
             else old.get("prior"))  # format 1: the stored interval; format 2: the prior it already carries
    values = stored + new["values"]
    expected, tolerance = gate_interval([v for v in values if v is not None], k, prior, fixed=fixed)
    merged = {**new, "expected": expected, "tolerance": tolerance, "values": values,
              "n_seeds": sum(v is not None for v in values)}
    return merged | ({"prior": prior} if prior is not None else {})


def extend_baseline(path: str | Path, run_dirs: Sequence[str | Path]) -> dict:
    """The baseline at ``path`` with the draws of ``run_dirs`` added (see the module docstring).

    Args:
        path: A baseline JSON written by ``baseline`` (format 1 or 2).
        run_dirs: Runs of the baseline's profile made on another CPU kind (or with other seeds).

    Returns:
        A format-2 baseline: the stored draws, then the runs' draws; entries in the runs' order, each with
        ``values`` (null where a stored draw predates the metric) and, from a format-1 file, ``prior``.

    Raises:
        HarnessError: The baseline is unreadable; the runs are of another profile, lack a metric the baseline gates,
            measure one under another protocol, or repeat a stored draw value for value (``make_baseline``'s refusals
            too).
    """
    option = f"--add-to {path}"
    old = load_baseline(path, "--add-to")
    new = make_baseline(run_dirs, k=float(old.get("k", 3.0)), tolerance=old.get("tolerance"))
    if new["profile"] != old.get("profile"):
        raise HarnessError(f"{option}: the baseline is of profile {old.get('profile')!r}, the runs of "
                           f"{new['profile']!r}; a baseline pools draws of one profile")
    legacy = old["format"] < 2
    made = {_key(e) for e in new["entries"]}
    missing = [e for e in old["entries"] if _key(e) not in made]
    if missing:
        names = ", ".join("/".join(_key(e)) for e in missing[:3]) + (f" and {len(missing) - 3} more" if missing[3:]
                                                                      else "")
        raise HarnessError(f"{option}: the runs have no rows for {names}, which the baseline gates; add runs of the "
                           "same suite (every model and task the baseline was made from)")
    stored = {_key(e): e for e in old["entries"]}
    n_old = 0 if legacy else len(old["draws"])
    entries = [_merged_entry(stored.get(_key(e)), e, n_old, legacy, new["k"], new["tolerance"], option)
               for e in new["entries"]]
    _refuse_repeats(old, stored, new, option)  # after the protocol comparison: a remeasured metric is the clearer error
    draws = ([] if legacy else list(old["draws"])) + new["draws"]
    prior_from = {"run": old.get("run"), "seeds": old.get("seeds"), "format": old["format"]} if legacy \
        else old.get("prior")
    return {"format": FORMAT_VERSION, "run": f"{old.get('run')}+{new['run']}", "profile": new["profile"],
            "seeds": sorted({d["seed"] for d in draws} | set(old.get("seeds") or [])), "k": new["k"],
            "tolerance": new["tolerance"], "draws": draws, **({"prior": prior_from} if prior_from else {}),
            "entries": entries}
