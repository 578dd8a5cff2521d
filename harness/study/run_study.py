"""The study commands' work on a run directory: load its config and trained jobs, simulate, calibrate, export."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness.core import atomic
from harness.core.csv_files import write_csv
from harness.core.device import resolve_device
from harness.core.errors import HarnessError
from harness.core.results import Row
from harness.models import MODELS
from harness.plugins import load_saved_config
from harness.run_config import RunConfig
from harness.rundir import RunDir, result_jobs
from harness.study.collect import StudyMaterial, collect
from harness.study.power_table import power_table
from harness.study.scoring import TABLES, read_table, score, simulated_rows, write_tables
from harness.study.simulate import check_signals, parameters_record, simulate_responses

log = logging.getLogger(__name__)

STUDY_JOB = "study__simulated"  # the pseudo-job whose rows.json holds the simulated rows (metrics.csv includes it)


def load_run(run_dir: Path, overrides: dict[str, object] | None = None) -> tuple[RunConfig, dict]:
    """The run's saved config (with ``study.*`` overrides applied) and its manifest.

    The overrides are checked like ``suite``'s (types, ranges, choices) before anything is read or written.

    Raises:
        HarnessError: Not a run directory, a key outside ``study.*``, or a value out of its range.
    """
    path, manifest_path = run_dir / "config.json", run_dir / "manifest.json"
    if not path.is_file() or not manifest_path.is_file():
        raise HarnessError(f"--run {str(run_dir)!r}: no config.json/manifest.json there (expected a run directory)")
    bad = [k for k in (overrides or {}) if not k.startswith("study.")]
    if bad:
        raise HarnessError(f"--set {bad[0]}: study commands take study.* keys only (the models are already trained)")
    return load_saved_config(path, overrides), atomic.read_json(manifest_path)  # with the run's plugin models


def model_jobs(manifest: dict, tasks: tuple[str, ...] = ()) -> list[tuple[str, str, int]]:
    """``(job id, model, seed)`` of every trained model job (reference jobs and the study job excluded).

    In the run's plan order, not the order jobs finished in (which depends on the worker processes), so that the
    study's conditions, methods and tables come out in the same order on every call.
    """
    jobs = []
    recorded = manifest.get("jobs", {})
    for job_id in (j for j in result_jobs(manifest) if j in recorded):
        record = recorded[job_id]
        model = str(record.get("model", ""))
        if record.get("reference") or model not in MODELS or record.get("status") not in ("done", "trained"):
            continue
        if tasks and record.get("task") not in tasks:
            continue
        jobs.append((job_id, model, int(record["seed"])))
    return jobs


def gather(run_dir: Path, config: RunConfig, manifest: dict, *, keep_images: bool,
           tasks: tuple[str, ...] = ()) -> StudyMaterial:
    """Every trained job's outputs and signals."""
    jobs = model_jobs(manifest, tasks)
    if not jobs:
        raise HarnessError(f"--run {str(run_dir)!r}: no trained model jobs to show in a study")
    material = collect(run_dir, config, jobs, device=resolve_device(config.device), keep_images=keep_images)
    for note in material.notes:
        log.info("study: %s", note)
    check_signals(material, log.warning)
    return material


@dataclass(frozen=True)
class SimulationResult:
    """What ``simulate_run`` wrote: the study folder, the tables, the rows and the wall time."""

    study_dir: Path
    tables: dict[str, pd.DataFrame]
    rows: list[Row]
    wall_time_s: float


def simulate_run(run_dir: Path, config: RunConfig, manifest: dict, *, observer_source: str = "prior",
                 save_ratings: bool = False, tasks: tuple[str, ...] = ()) -> SimulationResult:
    """Simulates the three protocols for the run's methods; writes ``study/`` and the study rows into metrics.csv.

    Args:
        run_dir: The run directory.
        config: Its config (``config.study`` drives the simulation).
        manifest: Its manifest (jobs are read; the study job is recorded).
        observer_source: ``prior`` or a description of the calibration used (goes into every row).
        save_ratings: Also write the simulated trial manifests and ratings (``study/simulated/``), which
            ``study import`` turns into the same tables.
        tasks: Only these tasks (default: every task of the run).
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    cfg = config.study
    material = gather(run_dir, config, manifest, keep_images=False, tasks=tasks)
    data = simulate_responses(material, cfg)
    run, study_dir = RunDir(run_dir), run_dir / "study"
    scored = score(data, cfg)
    tables = _with_other_tasks(scored, study_dir, tasks)
    write_tables(tables, study_dir, simulated=True)
    write_csv(study_dir / "power.csv", power_table(tables, cfg))
    record = {**parameters_record(cfg, material), "observer_source": observer_source}
    atomic.write_json(study_dir / "study.json", record)
    if save_ratings:
        _save_ratings(data, cfg, study_dir / "simulated", run_dir)
    rows = simulated_rows(scored, cfg, material.settings, material.variants, provenance=material.provenance,
                          observer_source=observer_source)
    if tasks and run.is_done(STUDY_JOB):  # the earlier study's rows of the tasks not simulated now stay
        rows = [Row(**r) for r in run.read_rows(STUDY_JOB) if r["task"] not in tasks] + rows  # type: ignore[arg-type]
    run.write_rows(STUDY_JOB, rows)
    elapsed = time.perf_counter() - started
    manifest.setdefault("jobs", {})[STUDY_JOB] = {
        "model": "study", "task": "all", "seed": cfg.seed, "protocol": "human_study (simulated)",
        "reference": True, "status": "done", "wall_time_s": round(elapsed, 3),
        "cpu_time_s": round(time.process_time() - cpu_started, 3)}
    run.write_manifest(manifest)
    run.rebuild_metrics(result_jobs(manifest))
    return SimulationResult(study_dir, scored, rows, elapsed)


def _with_other_tasks(tables: dict[str, pd.DataFrame], study_dir: Path, tasks: tuple[str, ...]
                      ) -> dict[str, pd.DataFrame]:
    """``tables`` plus, with ``--tasks``, the rows of the other tasks from the tables an earlier call wrote.

    A study restricted to some tasks replaces those tasks' results only: nothing an earlier command wrote about the
    other tasks is dropped.
    """
    if not tasks:
        return tables
    out = dict(tables)
    for name in TABLES:
        path = study_dir / f"{name}.csv"
        if not path.is_file():
            continue
        earlier = read_table(path)
        earlier = earlier[~earlier["task"].astype(str).isin(tasks)]
        if len(earlier):
            out[name] = pd.concat([earlier, tables[name]], ignore_index=True) if name in tables else earlier
    return {name: out[name] for name in TABLES if name in out}


def _save_ratings(data: dict[str, tuple[pd.DataFrame, pd.DataFrame]], cfg, out: Path, run_dir: Path) -> None:
    """Each protocol as an importable study folder without images: ``<out>/<protocol>/{trials,ratings}.csv``."""
    for protocol, (trials, ratings) in data.items():
        folder = out / protocol
        folder.mkdir(parents=True, exist_ok=True)
        write_csv(folder / "trials.csv", trials)
        write_csv(folder / "ratings.csv", ratings)
        atomic.write_json(folder / "study.json", {"protocol": protocol, "study": dataclasses.asdict(cfg),
                                                  "run": str(run_dir), "simulated": True})
