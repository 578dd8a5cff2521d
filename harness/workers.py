"""Running a suite's jobs: one at a time in this process, or several at once in worker processes.

A job trains its model (checkpoints in its own ``jobs/<job>/`` folder), reloads the saved weights and evaluates;
the rows come back to the caller, which alone writes ``rows.json``, the manifest and ``metrics.csv``. Each job seeds
everything from its own seed, so its numbers do not depend on which process ran it or what ran beside it (tested).

Workers are ``spawn``ed processes (a fresh interpreter: no OpenMP or CUDA state inherited through ``fork``), each
with the run's torch thread count, logging to the run's ``harness.log``; they ignore Ctrl-C and are terminated by
the parent when it stops (Ctrl-C, SIGTERM, an internal error). A runner killed outright (SIGKILL, the OOM killer)
runs no clean-up, so each worker also ends itself when its parent dies (``_die_with_parent``): a killed run leaves
at most the jobs' last checkpoints, which ``--resume`` continues from, and no orphan still writing into them.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from harness.core.device import seed_everything
from harness.core.logs import WORKER_LOG_FORMAT
from harness.core.results import Row
from harness.core.task import Task
from harness.models import MODELS, build_model
from harness.protocols.base import EvalContext
from harness.protocols.registry import PROTOCOLS
from harness.run_config import RunConfig, model_config
from harness.train import NonFiniteLoss, load_trained, train_job


@dataclass(frozen=True)
class Work:
    """One job as a worker needs it (picklable).

    Attributes:
        job_id: ``<model>__<task>__s<seed>``.
        model: Model registry name, or the protocol's reference name for a reference job.
        seed: Seed.
        protocol: Protocol registry name.
        reference: Whether the job scores real data (no model is trained).
        task: The built task.
        job_dir: ``jobs/<job>/`` (exists).
        sample_dir: ``samples/<task>/`` (exists).
        train_only: Train without evaluating.
    """

    job_id: str
    model: str
    seed: int
    protocol: str
    reference: bool
    task: Task
    job_dir: Path
    sample_dir: Path
    train_only: bool


@dataclass(frozen=True)
class Outcome:
    """What one job did.

    Attributes:
        job_id: The job.
        rows: Its rows (None when it only trained or failed).
        error: Why training diverged (``NonFiniteLoss``), else None.
        wall_time_s: Seconds of wall time.
        cpu_time_s: CPU seconds of the process that ran it, all threads.
    """

    job_id: str
    rows: list[Row] | None
    error: str | None
    wall_time_s: float
    cpu_time_s: float


def _rows_of(work: Work, config: RunConfig, device: torch.device) -> list[Row] | None:
    """Trains (unless a reference job) and evaluates one job; None when ``train_only``."""
    seed_everything(work.seed, device)
    protocol = PROTOCOLS.get(work.protocol)
    spec = None if work.reference else MODELS.get(work.model)
    ctx = EvalContext(model_name=work.model, task=work.task, seed=work.seed, device=device, config=config.eval,
                      sample_dir=work.sample_dir, setting="reference" if spec is None else spec.setting,
                      variant="" if spec is None else spec.variant, progress=config.progress)
    if spec is None:
        return None if work.train_only else protocol.reference(ctx)  # type: ignore[misc]
    cfg = model_config(config, work.model, work.task.name)  # with the profile's task_overrides for this task
    model = build_model(spec, cfg, work.task, device, config.eval, config.progress)
    train_job(spec, cfg, work.task, model, work.job_dir, seed=work.seed, checkpoint_every=config.checkpoint_every,
              log_every=config.log_every, progress=config.progress, device=device, precision=config.precision,
              compile_networks=config.compile)
    if work.train_only:
        return None
    load_trained(model, work.job_dir)
    seed_everything(work.seed, device)
    provenance = model.provenance() | train_provenance(config)
    return protocol.evaluate(model, dataclasses.replace(ctx, model_provenance=provenance))


def train_provenance(config: RunConfig) -> dict[str, str]:
    """What a row must say about how training ran beyond the model's own settings: bf16, compiled.

    fp32 without compilation says nothing, so the rows and baselines of such runs are unchanged.
    """
    out = {}
    if config.precision != "fp32":
        out["train_precision"] = f"{config.precision} autocast"
    if config.compile:
        out["train_compile"] = "torch.compile"
    return out


def run_work(work: Work, config: RunConfig, device: torch.device) -> Outcome:
    """Runs one job in this process; a diverged training is an ``Outcome`` with ``error``, anything else raises."""
    started, cpu_started = time.perf_counter(), time.process_time()
    rows, error = None, None
    try:
        rows = _rows_of(work, config, device)
    except NonFiniteLoss as exc:
        error = str(exc)
    return Outcome(work.job_id, rows, error, round(time.perf_counter() - started, 3),
                   round(time.process_time() - cpu_started, 3))


PR_SET_PDEATHSIG = 1  # Linux prctl option: the signal this process gets when its parent thread exits
PARENT_POLL_S = 1.0  # elsewhere: how often a worker checks that its parent is alive


def _die_with_parent(parent: int) -> None:
    """Ends this worker (SIGTERM, or exit) as soon as the runner ``parent`` (its pid) is gone, however it died.

    The runner's pid comes from the runner itself: a worker still starting when the runner died already has
    another parent, which it must not mistake for the runner.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) == 0:
            if os.getppid() != parent:  # the runner died before prctl took effect
                os._exit(1)
            return

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


_WORKER: dict[str, object] = {}  # a worker process's run settings, set once by _start_worker


def _start_worker(config: RunConfig, device: str, threads: int, log_path: str, level: int, parent: int) -> None:
    """Initialises a worker: Ctrl-C is the parent's to handle, it ends with the parent, logs go to ``log_path``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    torch.set_num_threads(threads)
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(WORKER_LOG_FORMAT))
    logging.basicConfig(level=level, format=WORKER_LOG_FORMAT)
    logging.getLogger().addHandler(handler)
    _WORKER.update(config=config, device=torch.device(device))


def _run_in_worker(work: Work) -> Outcome:
    return run_work(work, _WORKER["config"], _WORKER["device"])  # type: ignore[arg-type]


def run_pool(works: list[Work], config: RunConfig, device: torch.device, *, workers: int, threads: int,
             log_path: Path) -> Iterator[Outcome]:
    """Runs ``works`` on ``workers`` spawned processes, yielding each outcome as its job finishes.

    Leaving the iteration early (an error, Ctrl-C, SIGTERM) terminates the workers and their jobs.
    """
    context = multiprocessing.get_context("spawn")
    worker_config = dataclasses.replace(config, progress=False)  # one progress bar per process would interleave
    level = logging.getLogger().getEffectiveLevel()
    with context.Pool(workers, initializer=_start_worker,
                      initargs=(worker_config, str(device), threads, str(log_path), level, os.getpid())) as pool:
        yield from pool.imap_unordered(_run_in_worker, works)
