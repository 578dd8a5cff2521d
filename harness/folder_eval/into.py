"""``evaluate --into RUN --as NAME``: a folder's rows added to an existing run, beside its reference models.

The rows go into ``jobs/<NAME>__<task>__s<seed>/rows.json`` (a job the manifest records with ``external: true``
and the folders it came from), then ``metrics.csv`` is rebuilt, so ``report``, ``baseline`` and ``check`` read them
like any other rows. Everything is checked before the run is touched: that RUN is a run, that NAME is a new name (not
a registered model, nor a model or reference of the run), that the seed has no rows of these metrics yet. The rows
are computed first; then, under the run's lock (``RunDir.attach``), the checks are repeated and the three files are
written atomically. Several folders, one per ``--seed``, give the seeds the report's tests need.
"""

from __future__ import annotations

import csv
import math
import re
import time
from pathlib import Path

from harness.core import atomic
from harness.core.errors import HarnessError
from harness.core.results import Row
from harness.folder_eval.context import run_tasks
from harness.rundir import RunDir, result_jobs

SETTINGS = ("paired", "unpaired", "unconditional")
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.+-]*")


def _run_models(run: Path) -> set[str]:
    """Every model name the run's own jobs and rows use (references included; folder methods excluded)."""
    manifest = atomic.read_json(run / "manifest.json")
    jobs = manifest.get("jobs", {})
    external = {str(r.get("model")) for r in jobs.values() if isinstance(r, dict) and r.get("external")}
    names = {str(r.get("model")) for r in jobs.values() if isinstance(r, dict) and not r.get("external")}
    if (run / "metrics.csv").is_file():
        with open(run / "metrics.csv", newline="", encoding="utf-8") as handle:
            names |= {row["model"] for row in csv.DictReader(handle)}
    return names - external


def check_into(run: Path, name: str | None, setting: str | None) -> None:
    """Refuses a bad ``--into`` / ``--as`` / ``--setting`` before anything is computed or written."""
    from harness.models import MODELS

    run_tasks(run)  # not a run: a clear error
    if not name:
        raise HarnessError("--into: needs --as NAME, the name of your method in the run's tables")
    if not NAME.fullmatch(name) or "__" in name:
        raise HarnessError(f"--as {name!r}: expected a name of letters, digits, '_', '.', '+', '-' starting with a "
                           "letter and without '__'")
    if setting not in SETTINGS:
        raise HarnessError(f"--into: needs --setting {'|'.join(SETTINGS)} (how {name} was trained; the report ranks "
                           "methods within a setting and sets the best of each against the others)")
    if name in MODELS:
        raise HarnessError(f"--as {name}: a model the harness trains has that name; choose a name of your own (e.g. "
                           f"{name}_ours)")
    if name in _run_models(run):
        raise HarnessError(f"--as {name}: already a model of run {str(run)!r}; choose another name")


def _plain(row: Row) -> dict[str, object]:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.to_dict().items()}


def add_rows(run: Path, name: str, setting: str, task: str, seed: int, rows: list[Row], source: dict[str, object]
             ) -> Path:
    """Adds ``rows`` to the run as ``<name>__<task>__s<seed>`` under the run's lock; returns ``metrics.csv``.

    Raises:
        HarnessError: Another process holds the run, the name became a model of the run meanwhile, or the job
            already has rows of these metrics (naming them).
    """
    run_dir = RunDir(run)
    run_dir.attach()
    try:
        check_into(run, name, setting)  # again under the lock
        manifest = atomic.read_json(run_dir.manifest_path)
        job_id = f"{name}__{task}__s{seed}"
        existing = run_dir.read_rows(job_id) if run_dir.is_done(job_id) else []
        clash = sorted({str(r["metric"]) for r in existing} & {r.metric for r in rows})
        if clash:
            raise HarnessError(f"--as {name} --seed {seed}: run {str(run)!r} already has {name}'s "
                               f"{', '.join(clash[:5])} on {task} for seed {seed}; give another --seed or --as")
        atomic.write_json(run_dir.job_dir(job_id) / "rows.json", [*existing, *(_plain(r) for r in rows)])
        record = manifest.setdefault("jobs", {}).get(job_id) or {
            "model": name, "task": task, "seed": seed, "protocol": "folder", "reference": False, "external": True,
            "setting": setting, "status": "done", "sources": []}
        record["sources"].append({**source, "metrics": sorted({r.metric for r in rows}),
                                  "added": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        manifest["jobs"][job_id] = record
        run_dir.write_manifest(manifest)
        run_dir.rebuild_metrics(result_jobs(manifest))
    finally:
        run_dir.close()
    return run_dir.metrics_path
