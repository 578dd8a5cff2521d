"""The CI regression gate's check: every metric of a run against a baseline (``reports.baseline``), with a verdict.

``check_run`` gives every metric a verdict and the run an exit code:
0 all hold, 1 a metric moved beyond tolerance in its bad direction, 2 unusable input (missing rows, another
protocol, profile or judge). Improvements are reported, never failed; metrics without a direction are informational.
Rows shown from a reference set are ignored (``reports.baseline.own_rows``).

When only the judge keys of a protocol differ (``reports.baseline.JUDGE_KEYS``), the metric's verdict is ``JUDGE``
and the run gets one error per judge change (not one per metric), saying which weights each side used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from reports.baseline import aggregate, load_baseline, own_rows, run_profile, split_judge
from reports.tables import read_metrics


@dataclass(frozen=True)
class CheckRow:
    """One metric's verdict.

    Attributes:
        task: Task name. model: Model name. metric: Metric key.
        baseline: Expected value. now: This run's mean over seeds (NaN when missing).
        tolerance: Allowed deviation. verdict: ``"ok"``, ``"improved"``, ``"REGRESSED"``, ``"info"`` (no
            direction), ``"MISSING"``, ``"PROTOCOL"`` (protocol changed) or ``"JUDGE"`` (only the judge changed).
    """

    task: str
    model: str
    metric: str
    baseline: float
    now: float
    tolerance: float
    verdict: str


@dataclass(frozen=True)
class CheckResult:
    """Outcome of ``check_run``.

    Attributes:
        rows: One ``CheckRow`` per baseline entry.
        errors: Why the input is unusable (each names the profile, row or protocol); empty when usable.
        exit_code: 0 all hold, 1 any regression, 2 unusable input.
    """

    rows: tuple[CheckRow, ...]
    errors: tuple[str, ...]
    exit_code: int


def _judge_errors(changes: dict[tuple[str, str], list[str]]) -> list[str]:
    """One error per (baseline judge, run judge) pair; ``changes`` lists the task of each metric it affects."""
    errors = []
    for (before, after), tasks in changes.items():
        local = " This run's judge is local (trained on this machine): no committed judge matches its data and " \
                "recipe (see `python -m harness.run judges list`)." if "judge_source=local" in after else ""
        errors.append(f"judge changed for {len(tasks)} metric(s) of task(s) {', '.join(sorted(set(tasks)))}: baseline "
                      f"[{before or 'no judge keys'}], run [{after or 'no judge keys'}]; numbers made by different "
                      f"judges are not comparable, so they were not checked.{local} Regenerate the baseline if the "
                      f"new judge is intended.")
    return errors


def _verdict(entry: dict, now: float) -> str:
    if entry["higher_is_better"] is None:
        return "info"
    if math.isnan(now):
        return "REGRESSED"
    delta = (now - entry["expected"]) * (1 if entry["higher_is_better"] else -1)  # > 0 means better
    if delta < -entry["tolerance"]:
        return "REGRESSED"
    return "improved" if delta > entry["tolerance"] else "ok"


def check_run(run_dir: str | Path, baseline_path: str | Path) -> CheckResult:
    """Compares a run to a baseline; see the module docstring for verdicts and exit codes."""
    run_dir = Path(run_dir)
    baseline = load_baseline(baseline_path)
    errors = []
    profile = run_profile(run_dir)
    if profile != baseline["profile"]:
        errors.append(f"profile: run has {profile!r}, baseline has {baseline['profile']!r}")
    current = {(r.task, r.model, r.metric): r for r in aggregate(own_rows(read_metrics(run_dir / "metrics.csv")))
               .itertuples(index=False)}
    rows, judge_changes = [], {}
    for entry in baseline["entries"]:
        key = (entry["task"], entry["model"], entry["metric"])
        rec = current.get(key)
        if rec is None:
            errors.append(f"missing rows: task={key[0]!r} model={key[1]!r} metric={key[2]!r}")
            verdict, now = "MISSING", math.nan
        else:
            (expected, expected_judge), (got, got_judge) = split_judge(entry["protocol"]), split_judge(rec.protocol)
            now = rec.mean
            if got != expected:
                errors.append(f"protocol changed for {'/'.join(key)}: baseline {expected!r}, run {got!r}")
                verdict = "PROTOCOL"
            elif got_judge != expected_judge:
                judge_changes.setdefault((expected_judge, got_judge), []).append(key[0])
                verdict = "JUDGE"
            else:
                verdict = _verdict(entry, rec.mean)
        rows.append(CheckRow(*key, baseline=float(entry["expected"]), now=now, tolerance=float(entry["tolerance"]),
                             verdict=verdict))
    errors += _judge_errors(judge_changes)
    exit_code = 2 if errors else (1 if any(r.verdict == "REGRESSED" for r in rows) else 0)
    return CheckResult(rows=tuple(rows), errors=tuple(errors), exit_code=exit_code)


def format_check_table(result: CheckResult) -> str:
    """A plain-text table of every metric, then the errors and a one-line outcome, for the CLI to print."""
    header = ("task", "model", "metric", "baseline", "now", "tolerance", "verdict")
    body = [(r.task, r.model, r.metric, f"{r.baseline:.6g}", f"{r.now:.6g}", f"{r.tolerance:.3g}", r.verdict)
            for r in result.rows]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body, strict=True)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip()
             for line in (header, *body)]
    lines += [f"error: {e}" for e in result.errors]
    regressed = sum(r.verdict == "REGRESSED" for r in result.rows)
    outcome = {0: "all metrics hold", 1: f"{regressed} metric(s) REGRESSED", 2: "unusable input (see errors)"}
    lines.append(f"check: {outcome[result.exit_code]} (exit {result.exit_code})")
    return "\n".join(lines)
