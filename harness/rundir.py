"""The run directory: resolved config, manifest, per-job results, and the run-level ``metrics.csv``.

Layout::

    runs/<name>/config.json                 resolved RunConfig
    runs/<name>/manifest.json               versions, git commit, hardware, threads, the planned jobs, per-job status
    runs/<name>/harness.log                 the log of every command run on it (tracebacks of internal errors too)
    runs/<name>/.lock                       held (flock) by the process working on the run; holds its pid
    runs/<name>/metrics.csv                 every result row (harness.core.results.COLUMNS), rebuilt after each job
    runs/<name>/jobs/<job>/                 checkpoint.pt | model.pt, losses.csv, rows.json (done marker),
                                            outcome.json (status, times, device, host, CPU kind), job.log (Ray, Slurm)
    runs/<name>/samples/<task>/<direction>/ sample strips for the report
    runs/<name>/summary.csv, report.html, plots/   written by reports/

Every file is written atomically; a job is finished exactly when its ``rows.json`` exists. A job writes only its own
folder (``rows.json``, ``outcome.json``, whichever process or machine ran it); the coordinator rebuilds
``metrics.csv`` and the manifest's job records from the job folders. One process at a time coordinates a run: the
lock is an ``flock`` on ``.lock``, which the kernel releases when its owner dies, so a stale lock never blocks a
rerun. A run that fails before any job has written anything is removed again (``discard``).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path

import pandas as pd

from harness.config import flatten_dict
from harness.core import atomic
from harness.core.csv_files import write_csv
from harness.core.errors import HarnessError
from harness.core.logs import LOG_FORMAT
from harness.core.results import COLUMNS, Row
from harness.environment import environment

log = logging.getLogger(__name__)

LOCK, LOG = ".lock", "harness.log"
# config keys that do not change results, so a resume may change them (a resumed job is bit-identical to an
# uninterrupted one wherever it checkpointed: tests/harness/test_resume.py)
RUNTIME_KEYS = ("progress", "checkpoint_every")
# a resume may add seeds (their jobs are new; the finished ones stay valid), never drop one: config.json takes the
# new list, so the run's report, baseline and manifest speak of every seed it holds
SEEDS = "seeds"
ROWS, OUTCOME, JOB_LOG = "rows.json", "outcome.json", "job.log"


def write_job_rows(job_dir: Path, rows: list[Row]) -> None:
    """Writes a job's rows into its own folder, atomically: the job's done marker."""
    data = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.to_dict().items()}
            for r in rows]
    atomic.write_json(Path(job_dir) / ROWS, data)


def write_job_outcome(job_dir: Path, outcome: dict[str, object]) -> None:
    """Writes what a job's run did (status, times, device, host) into its own folder, atomically."""
    atomic.write_json(Path(job_dir) / OUTCOME, outcome)


def read_job_outcome(job_dir: Path) -> dict[str, object] | None:
    """A job's ``outcome.json``, or None when it has none (not run yet, or killed before it finished)."""
    path = Path(job_dir) / OUTCOME
    return atomic.read_json(path) if path.exists() else None


def result_jobs(manifest: dict[str, object]) -> list[str]:
    """Every job whose rows ``metrics.csv`` holds: the planned ones in plan order, then later ones by name.

    Later jobs are those other commands added (the simulated study's pseudo-job). The order never depends on which
    job finished first, so ``metrics.csv`` is the same bytes after a resume, and a command that rebuilds it keeps the
    rows every other command wrote.
    """
    planned = [str(j) for j in manifest.get("planned_jobs") or []]  # type: ignore[union-attr]
    recorded = manifest.get("jobs") or {}
    return planned + sorted(str(j) for j in recorded if j not in planned)  # type: ignore[union-attr]


class RunCrashed(Exception):
    """An unexpected error (a bug) inside a run; its traceback is in the run's log.

    Args:
        cause: The original exception.
        log_path: The file holding the traceback.
    """

    def __init__(self, cause: BaseException, log_path: Path) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause, self.log_path = cause, log_path


def config_differences(saved: dict[str, object], new: dict[str, object], free: tuple[str, ...]) -> list[str]:
    """The flattened keys where ``new`` contradicts the run config ``saved``, top-level keys first.

    Args:
        saved: A run's flattened ``config.json`` (``flatten_dict``).
        new: The flattened config compared with it.
        free: Keys either side may set otherwise (runtime settings, a side run's job subset).

    Returns:
        The differing keys; a key newer than the run that ``new`` leaves empty (``()``, ``""``, None) is no difference.
    """
    keys = sorted(set(saved) | set(new), key=lambda k: (k.count("."), k))
    return [k for k in keys if k not in free and saved.get(k) != new.get(k)
            and (k in saved or new.get(k) not in ((), "", None))]


class RunDir:
    """A run directory on disk.

    Args:
        path: ``runs/<name>``.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock: int | None = None
        self._log: logging.Handler | None = None
        self._created = False  # whether this process created the folder
        self._fresh = False  # whether this process found the folder missing or empty (so may remove it again)

    @property
    def log_path(self) -> Path:
        """``harness.log`` of the run."""
        return self.path / LOG

    @property
    def config_path(self) -> Path:
        """``config.json`` of the run."""
        return self.path / "config.json"

    @property
    def manifest_path(self) -> Path:
        """``manifest.json`` of the run."""
        return self.path / "manifest.json"

    @property
    def metrics_path(self) -> Path:
        """``metrics.csv`` of the run."""
        return self.path / "metrics.csv"

    def job_dir(self, job_id: str) -> Path:
        """The directory of one job (created)."""
        path = self.path / "jobs" / job_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def sample_dir(self, task: str) -> Path:
        """Sample strips of one task (created)."""
        path = self.path / "samples" / task
        path.mkdir(parents=True, exist_ok=True)
        return path

    def is_done(self, job_id: str) -> bool:
        """Whether the job's rows are written."""
        return (self.path / "jobs" / job_id / ROWS).exists()

    def write_rows(self, job_id: str, rows: list[Row]) -> None:
        """Writes the job's rows (the job's done marker)."""
        write_job_rows(self.job_dir(job_id), rows)

    def read_outcome(self, job_id: str) -> dict[str, object] | None:
        """What the job recorded about its last run (``outcome.json``), or None."""
        return read_job_outcome(self.path / "jobs" / job_id)

    def read_rows(self, job_id: str) -> list[dict[str, object]]:
        """The rows a finished job wrote."""
        return json.loads((self.path / "jobs" / job_id / ROWS).read_text())

    def rebuild_metrics(self, job_ids: list[str]) -> pd.DataFrame:
        """Rewrites ``metrics.csv`` from the finished jobs among ``job_ids``, in that order."""
        rows = [r for j in job_ids if self.is_done(j) for r in self.read_rows(j)]
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        write_csv(self.metrics_path, frame)
        return frame

    def start(self, config: dict[str, object], resume: bool, option: str = "--out") -> dict[str, object]:
        """Locks and creates (or, with ``resume``, reopens) the run and returns its manifest.

        Args:
            config: The resolved config (saved, or compared with the saved one on ``resume``).
            resume: Continue the run in the folder.
            option: The option that named the run (``--out``; ``--run`` for ``evaluate --run``), for messages.

        Raises:
            HarnessError: ``--out`` is a file, not a run, or not writable; another process holds the run; the
                directory holds a run and ``resume`` is off, or ``resume`` is on and the saved config differs from
                ``config`` (the differing keys and both values are named) other than by added seeds, which
                ``config.json`` then takes. Nothing is written when it raises.
        """
        self._check(config, resume)  # read-only, so a refused command touches nothing
        if option == "--out":
            self.take_lock()
        else:  # an existing run named by another option (``evaluate --run``)
            self.take_lock(option, wait="wait for it to finish, then run this command again")
        try:
            added = self._check(config, resume)  # again under the lock: another process may have started it meanwhile
            if self.config_path.exists():
                manifest = atomic.read_json(self.manifest_path) if self.manifest_path.exists() else {}
                if added:
                    saved = atomic.read_json(self.config_path)
                    atomic.write_json(self.config_path, {**saved, SEEDS: config[SEEDS]})
                    log.info("--resume: seeds %s added to the run", ", ".join(map(str, added)))
            else:
                atomic.write_json(self.config_path, config)
                manifest = {}
            manifest.update(environment())
            manifest.setdefault("started", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
            manifest.setdefault("jobs", {})
            manifest["profile"], manifest["seeds"] = config.get("profile"), config.get("seeds")
            self.write_manifest(manifest)
        except BaseException:
            self.close(discard=True)
            raise
        return manifest

    def attach(self) -> None:
        """Locks an existing run for a command that adds to it (``evaluate --into``); ``close()`` releases it.

        Raises:
            HarnessError: The folder holds no run, or another process holds its lock.
        """
        if not self.config_path.is_file() or not self.manifest_path.is_file():
            raise HarnessError(f"{str(self.path)!r} is not a run directory (expected config.json and manifest.json)")
        self.take_lock("--into", wait="wait for it to finish, then run this command again")

    def _check(self, config: dict[str, object], resume: bool) -> list[int]:
        """Refuses ``config`` for this folder (see ``start``); returns the seeds it adds to a resumed run."""
        if self.path.exists() and not self.path.is_dir():
            raise HarnessError(f"--out {str(self.path)!r} is a file; choose a folder for the run")
        if self.config_path.exists():
            if not resume:
                raise HarnessError(f"--out {str(self.path)!r} already holds a run; pass --resume to continue it "
                                   "or choose another --out")
            return self._check_same(config)
        if self.path.is_dir() and any(p.name not in (LOCK, LOG) for p in self.path.iterdir()):
            raise HarnessError(f"--out {str(self.path)!r} exists and is not a run directory; choose another --out")
        return []

    def take_lock(self, option: str = "--out", wait: str = "wait for it to finish or choose another --out") -> None:
        """Creates the folder, takes the lock and starts ``harness.log``; ``option`` problems become HarnessErrors.

        Args:
            option: The option that named the run, for messages.
            wait: What to do when another process holds the run.
        """
        if self._lock is not None:
            return
        try:
            self._created = not self.path.exists()
            self._fresh = self._created or not any(self.path.iterdir())
            self.path.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            verb = "create the run" if self._created else "lock the run"
            raise HarnessError(f"{option} {str(self.path)!r}: cannot {verb} there ({exc.strerror}); choose a "
                               "writable location") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            owner = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise HarnessError(f"{option} {str(self.path)!r} is in use by another harness process (pid {owner}); "
                                   f"{wait}") from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock = fd
        self._log = logging.FileHandler(self.log_path, encoding="utf-8", delay=True)
        self._log.setFormatter(logging.Formatter(LOG_FORMAT))
        logging.getLogger().addHandler(self._log)

    def _check_same(self, config: dict[str, object]) -> list[int]:
        saved, new = flatten_dict(atomic.read_json(self.config_path)), flatten_dict(config)
        diff = config_differences(saved, new, RUNTIME_KEYS)
        had, given = set(saved.get(SEEDS) or ()), list(new.get(SEEDS) or ())
        added = [seed for seed in given if seed not in had]
        if SEEDS in diff and had <= set(given):  # more seeds (or the same in another order): SEEDS' comment
            diff.remove(SEEDS)
        if diff:
            shown = "; ".join(f"{k}: run has {saved.get(k)!r}, given {new.get(k)!r}" for k in diff[:3])
            more = f"; also {', '.join(diff[3:])}" if diff[3:] else ""
            seeds = " (a resumed run may add seeds, not drop any)" if SEEDS in diff else ""
            raise HarnessError(f"--resume: options contradict the run in {str(self.path)!r} ({shown}{more}){seeds}; "
                               "drop them to continue the run with its saved settings, or choose another --out")
        return added

    def has_job_output(self) -> bool:
        """Whether any job has written anything (a checkpoint, a model, rows)."""
        jobs = self.path / "jobs"
        return jobs.is_dir() and any(p.is_file() for p in jobs.rglob("*"))

    def crashed(self, exc: BaseException) -> RunCrashed:
        """Writes ``exc``'s traceback to ``harness.log`` only (not the screen) and closes the run.

        The run is kept, so ``--resume`` continues it. Returns the ``RunCrashed`` to raise.
        """
        if self._log is not None:
            record = logging.LogRecord("harness", logging.ERROR, __file__, 0, "internal error", None,
                                       (type(exc), exc, exc.__traceback__))
            self._log.handle(record)
        self.close()
        return RunCrashed(exc, self.log_path)

    def close(self, *, discard: bool = False) -> bool:
        """Stops the log and releases the lock; returns whether the run was removed.

        With ``discard``, a run this process started in a missing or empty folder, and that no job has written
        into yet, is removed first (an empty folder the user made stays).
        """
        removed = discard and self._fresh and self._lock is not None and not self.has_job_output()
        if self._log is not None:
            logging.getLogger().removeHandler(self._log)
            self._log.close()
            self._log = None
        if removed:
            shutil.rmtree(self.path, ignore_errors=True)
            if not self._created:  # the user's own empty folder stays, empty
                self.path.mkdir(exist_ok=True)
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None
        return removed

    def write_manifest(self, manifest: dict[str, object]) -> None:
        """Atomically writes the manifest."""
        atomic.write_json(self.manifest_path, manifest)
