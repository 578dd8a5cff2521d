"""The report of a run: ``build_report(run_dir)`` writes its CSVs, ``plots/`` and ``report.html``.

Outputs in the run directory: ``summary.csv`` (+ ``summary.md``, the same in markdown tables with the summary
paragraph), ``comparisons.csv`` (every pair of methods compared, with its test), ``paired_vs_unpaired.csv``,
``plots/`` (PNGs and ``plots.json``: the colour of every method and what each plot drew) and ``report.html``.
Everything is first written into a temporary folder inside the run directory and then moved into place with
``os.replace``, so an error leaves the previous report (or none), never a partial one. A run whose planned jobs
(``manifest.json``'s ``planned_jobs``) did not all write results is marked incomplete, listing the missing jobs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.core.atomic import read_json, write_text
from harness.core.csv_files import write_csv
from harness.core.errors import HarnessError
from reports.analysis import analyse
from reports.html import render_report, report_context
from reports.plots import make_plots
from reports.summary import reference_set_notes, summary_markdown
from reports.tables import read_metrics, summarize

REQUIRED_FILES = ("config.json", "manifest.json", "metrics.csv")  # what the runner must have written


@dataclass(frozen=True)
class ReportPaths:
    """Where the report landed.

    Attributes:
        summary_csv: ``summary.csv`` (one row per task and model; columns documented in ``reports.tables``).
        summary_md: ``summary.md`` (summary paragraph, leaderboards and metric tables in markdown).
        comparisons_csv: ``comparisons.csv`` (``reports.analysis.PAIR_COLUMNS``).
        paired_csv: ``paired_vs_unpaired.csv``.
        plots_dir: ``plots/`` with the PNGs.
        report_html: The self-contained ``report.html``.
        missing_jobs: Planned jobs without results (the report says it is incomplete); empty when complete.
    """

    summary_csv: Path
    summary_md: Path
    comparisons_csv: Path
    paired_csv: Path
    plots_dir: Path
    report_html: Path
    missing_jobs: tuple[str, ...] = ()


def missing_jobs(run_dir: Path, manifest: dict) -> tuple[str, ...]:
    """Jobs the run planned (or started) that have no ``jobs/<job>/rows.json``."""
    planned = manifest.get("planned_jobs") or list(manifest.get("jobs", {}))
    return tuple(j for j in planned if not (run_dir / "jobs" / str(j) / "rows.json").is_file())


def check_run_dir(run_dir: Path) -> None:
    """Raises a ``HarnessError`` naming the run directory or the file it lacks."""
    if not run_dir.is_dir():
        raise HarnessError(f"--run {run_dir}: not a directory (expected a run directory such as runs/<name>)")
    missing = [name for name in REQUIRED_FILES if not (run_dir / name).is_file()]
    if missing:
        raise HarnessError(f"--run {run_dir}: missing {', '.join(missing)} (expected the runner's outputs)")


def _replace_dir(new: Path, final: Path) -> None:
    """Moves folder ``new`` to ``final``, swapping out an existing ``final`` (removed afterwards)."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old.{os.getpid()}")
        os.replace(final, old)
    os.replace(new, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_report(run_dir: str | Path) -> ReportPaths:
    """Builds the report of one run directory.

    Args:
        run_dir: ``runs/<name>`` holding ``config.json``, ``manifest.json``, ``metrics.csv`` and optionally
            ``jobs/*/losses.csv`` and ``samples/``.

    Returns:
        The written paths.

    Raises:
        HarnessError: A missing or malformed input file, named.
    """
    run_dir = Path(run_dir)
    check_run_dir(run_dir)
    config = read_json(run_dir / "config.json")
    manifest = read_json(run_dir / "manifest.json")
    rows = read_metrics(run_dir / "metrics.csv")
    if rows.empty:
        missing = missing_jobs(run_dir, manifest)
        raise HarnessError(f"{run_dir / 'metrics.csv'}: holds no result rows; no report was written"
                           + (f" ({len(missing)} planned job(s) without results: {', '.join(missing)})"
                              if missing else ""))
    analysis = analyse(rows)
    paths = ReportPaths(run_dir / "summary.csv", run_dir / "summary.md", run_dir / "comparisons.csv",
                        run_dir / "paired_vs_unpaired.csv", run_dir / "plots", run_dir / "report.html",
                        missing_jobs(run_dir, manifest))
    with tempfile.TemporaryDirectory(prefix=".report-", dir=run_dir) as tmp:
        staging = Path(tmp)
        (staging / "plots").mkdir()
        plots = make_plots(analysis, run_dir, staging / "plots")
        context = report_context(run_dir, config, manifest, analysis, plots)
        if paths.missing_jobs:
            context["title"] = f"{context['title']} (incomplete)"
        html = render_report({**context, "missing_jobs": list(paths.missing_jobs)})
        write_csv(staging / paths.summary_csv.name, summarize(analysis.long))
        (staging / paths.summary_md.name).write_text(
            summary_markdown(analysis, run_dir.name, reference_set_notes(manifest)), encoding="utf-8")
        write_csv(staging / paths.comparisons_csv.name, analysis.pairs)
        write_csv(staging / paths.paired_csv.name, analysis.pvu)
        for path in (paths.summary_csv, paths.summary_md, paths.comparisons_csv, paths.paired_csv):
            os.replace(staging / path.name, path)
        _replace_dir(staging / "plots", paths.plots_dir)
    write_text(paths.report_html, html)
    return paths
