"""Running a suite's jobs: one at a time in this process, or several at once in worker processes.

A job trains its model (checkpoints in its own ``jobs/<job>/`` folder), reloads the saved weights, evaluates and
writes its ``rows.json`` and ``outcome.json`` there (atomically); only a small ``Outcome`` comes back to the
coordinator, which rebuilds the manifest and ``metrics.csv`` from the job folders. So the same job runs unchanged
in this process, in a worker process, as a Ray task or as a Slurm job (``harness/executors.py``). Each job seeds
everything from its own seed, so its numbers do not depend on which process ran it or what ran beside it (tested).

With ``--devices`` each worker claims one device from the list when it starts (``claim_device``: worker i gets
device i modulo the list), so ``--devices cuda:0,cuda:1`` gives each worker its own GPU and ``--workers 4`` with
``--device cuda`` puts four workers on one GPU.

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
import socket
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from harness.config import config_to_dict
from harness.core.device import seed_everything, use_device
from harness.core.logs import WORKER_LOG_FORMAT
from harness.core.results import Row
from harness.core.task import Task
from harness.environment import cpu_kind
from harness.models import MODELS, ModelSpec, build_model
from harness.plugins import config_for_worker
from harness.protocols.base import EvalContext
from harness.protocols.registry import PROTOCOLS
from harness.run_config import RunConfig, model_config
from harness.rundir import write_job_outcome, write_job_rows
from harness.tasks import build_task
from harness.train import CHECKPOINT, FINAL, NonFiniteLoss, load_trained, train_job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Work:
    """One job as a worker needs it (picklable).

    Attributes:
        job_id: ``<model>__<task>__s<seed>``.
        model: Model registry name, or the protocol's reference name for a reference job.
        seed: Seed.
        protocol: Protocol registry name.
        reference: Whether the job scores real data (no model is trained).
        task_name: The task's registry name.
        task: The built task, or None to build it where the job runs (a Slurm node: from the cache or the dataset
            path in ``config``; ``harness.tasks.build_task``).
        job_dir: ``jobs/<job>/`` (exists).
        sample_dir: ``samples/<task>/`` (exists).
        train_only: Train without evaluating.
        outputs_dir: ``outputs/<task>/<model>__s<seed>/`` (``_reference/`` for reference jobs) when the run saves
            what it scores (``--save-outputs``), else None.
        donor_dir: The folder of the job of the same run whose finished training this job's first steps repeat
            (the model's ``warm_start`` donor, same task and seed), else None.
    """

    job_id: str
    model: str
    seed: int
    protocol: str
    reference: bool
    task_name: str
    task: Task | None
    job_dir: Path
    sample_dir: Path
    train_only: bool
    outputs_dir: Path | None = None
    donor_dir: Path | None = None


@dataclass(frozen=True)
class Outcome:
    """What one job did (its rows are in its folder's ``rows.json``).

    Attributes:
        job_id: The job.
        status: ``"done"`` (rows written), ``"trained"`` (``train`` only) or ``"failed"``.
        error: Why it failed (training diverged, or the executor's report of a crash), else None.
        wall_time_s: Seconds of wall time.
        cpu_time_s: CPU seconds of the process that ran it, all threads.
        device: The device it ran on.
        host: The machine that ran it.
        executor: What ran it: ``local``, ``ray`` or ``slurm``.
        cpu: The CPU's model name and the SIMD level torch's kernels dispatch to (e.g. ``"Intel(R) Xeon(R)
            Processor (AVX512)"``): CPU training is bit-reproducible only on the same kind, so a run carried across
            machines records each job's. Empty where the job did not run.
    """

    job_id: str
    status: str
    error: str | None
    wall_time_s: float
    cpu_time_s: float
    device: str
    host: str
    executor: str = "local"
    cpu: str = ""

    def record(self) -> dict[str, Any]:
        """The manifest's fields of this outcome (``outcome.json``)."""
        out = {k: v for k, v in dataclasses.asdict(self).items() if k != "job_id"}
        return out if self.error is not None else {k: v for k, v in out.items() if k != "error"}


def _rows_of(work: Work, config: RunConfig, device: torch.device) -> list[Row] | None:
    """Trains (unless a reference job) and evaluates one job; None when ``train_only``."""
    task = work.task if work.task is not None else build_task(work.task_name, config)
    seed_everything(work.seed, device)
    protocol = PROTOCOLS.get(work.protocol)
    spec = None if work.reference else MODELS.get(work.model)
    ctx = EvalContext(model_name=work.model, task=task, seed=work.seed, device=device, config=config.eval,
                      sample_dir=work.sample_dir, setting="reference" if spec is None else spec.setting,
                      variant="" if spec is None else spec.variant, progress=config.progress,
                      outputs_dir=work.outputs_dir)
    if spec is None:
        return None if work.train_only else protocol.mark_headline(protocol.reference(ctx))  # type: ignore[misc]
    cfg = model_config(config, work.model, task.name)  # with the profile's task_overrides for this task
    model = build_model(spec, cfg, task, device, config.eval, config.progress)
    _warm_start(spec, model, cfg, config, task.name, work)
    train_job(spec, cfg, task, model, work.job_dir, seed=work.seed, checkpoint_every=config.checkpoint_every,
              log_every=config.log_every, progress=config.progress, device=device, precision=config.precision,
              compile_networks=config.compile)
    if work.train_only:
        return None
    load_trained(model, work.job_dir)
    seed_everything(work.seed, device)
    provenance = model.provenance() | train_provenance(config)
    return protocol.mark_headline(protocol.evaluate(model, dataclasses.replace(ctx, model_provenance=provenance)))


def _warm_start(spec: ModelSpec, model: object, cfg: object, config: RunConfig, task: str, work: Work) -> None:
    """Starts a job from its donor's finished training (``ModelSpec.warm_start``) when it has no state of its own.

    Nothing happens when the donor is not finished yet (the job then trains those steps itself, to the same bytes
    on CPU), when the job already has a checkpoint or model, or with ``--compile`` (compiled state dicts).
    """
    start, own = spec.warm_start, (work.job_dir / FINAL, work.job_dir / CHECKPOINT)
    if start is None or work.donor_dir is None or config.compile or any(path.exists() for path in own):
        return
    donor_final = work.donor_dir / FINAL
    if not donor_final.exists():
        return
    note = start.adopt(model, cfg, model_config(config, start.donor, task), donor_final, work.job_dir / CHECKPOINT,
                       config.log_every)
    if note is not None:
        log.info("%s: %s", work.job_id, note)


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


def run_work(work: Work, config: RunConfig, device: torch.device, executor: str = "local") -> Outcome:
    """Runs one job in this process and writes its rows and outcome into its folder (``executor``: what ran it).

    A diverged training is an ``Outcome`` with ``error`` (status ``failed``); anything else raises.
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    rows, error = None, None
    try:
        rows = _rows_of(work, config, device)
    except NonFiniteLoss as exc:
        error = str(exc)
    if rows is not None:
        write_job_rows(work.job_dir, rows)
    status = "failed" if error is not None else "trained" if work.train_only else "done"
    outcome = Outcome(work.job_id, status, error, round(time.perf_counter() - started, 3),
                      round(time.process_time() - cpu_started, 3), str(device), socket.gethostname(), executor,
                      cpu_kind())
    if not (work.reference and work.train_only):  # `train` has nothing to do for a reference job: no record
        write_job_outcome(work.job_dir, outcome.record())
    return outcome


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


def claim_device(counter: Any, devices: Sequence[str]) -> str:
    """The device of the next worker to start: ``devices[i % len(devices)]`` for the i-th claim of ``counter``.

    Args:
        counter: A shared ``multiprocessing.Value("i")``, counting the workers started so far (a worker the pool
            replaces claims the next device in turn).
        devices: The run's devices (``--devices``, or the one ``--device``).
    """
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    return devices[index % len(devices)]


def _start_worker(config: dict, devices: Sequence[str], counter: Any, threads: int, log_path: str, level: int,
                  parent: int) -> None:
    """Initialises a worker: Ctrl-C is the parent's to handle, it ends with the parent, logs go to ``log_path``.

    ``config`` is the run's config as ``config_to_dict`` writes it: a config with plugin sections is an instance of
    a class made at run time, which does not pickle, so the worker loads the run's plugins and rebuilds it.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(parent)
    # tqdm's default lock holds a named multiprocessing semaphore, registered with the resource tracker; the pool
    # ends its workers with SIGTERM, which runs no finaliser, so Ctrl-C of the runner printed "leaked semaphore
    # objects" (one per worker). A worker draws no bar (progress is off), so a thread lock does.
    tqdm.set_lock(threading.RLock())
    device = torch.device(claim_device(counter, devices))
    use_device(device)
    torch.set_num_threads(threads)
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(WORKER_LOG_FORMAT))
    logging.basicConfig(level=level, format=WORKER_LOG_FORMAT)
    logging.getLogger().addHandler(handler)
    _WORKER.update(config=config_for_worker(config), device=device)


def _run_in_worker(work: Work) -> Outcome:
    return run_work(work, _WORKER["config"], _WORKER["device"])  # type: ignore[arg-type]


def run_pool(works: list[Work], config: RunConfig, devices: Sequence[torch.device], *, workers: int, threads: int,
             log_path: Path) -> Iterator[Outcome]:
    """Runs ``works`` on ``workers`` spawned processes, yielding each outcome as its job finishes.

    Worker i runs on ``devices[i % len(devices)]`` (``claim_device``). Leaving the iteration early (an error,
    Ctrl-C, SIGTERM) terminates the workers and their jobs.
    """
    context = multiprocessing.get_context("spawn")
    worker_config = config_to_dict(dataclasses.replace(config, progress=False))  # one progress bar per process
    level = logging.getLogger().getEffectiveLevel()
    counter = context.Value("i", 0)
    names = [str(d) for d in devices]
    with context.Pool(workers, initializer=_start_worker,
                      initargs=(worker_config, names, counter, threads, str(log_path), level, os.getpid())) as pool:
        yield from pool.imap_unordered(_run_in_worker, works)
