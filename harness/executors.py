"""Where a suite's jobs run: processes on this machine, Ray tasks, or Slurm jobs through submitit (``--executor``).

Placement belongs to an existing engine; the harness only hands it jobs. A job (``harness.workers.run_work``) writes
only its own ``jobs/<job>/`` folder, atomically: ``rows.json`` (the done marker), ``outcome.json``, its checkpoints,
and on Ray and Slurm ``job.log`` (the job's own log, traceback included). The coordinator (the ``suite`` process)
turns what comes back into manifest records and rebuilds ``metrics.csv`` after each job, so ``--resume`` skips a
finished job whichever executor ran it, and a job that fails (diverged, crashed, its worker or node lost) is
reported with its log while every other job's results stay.

- ``local``: reference jobs in this process, trained jobs on ``--workers`` spawned processes; ``--devices`` gives
  worker i the device i modulo the list (``harness.workers.claim_device``).
- ``ray``: every job a Ray task (``--ray-address``, or a local Ray instance when none is given) asking for
  ``--threads`` CPUs and ``--gpus-per-job`` GPUs (fractions share a GPU); Ray retries a task whose worker died
  ``--retries`` times, and the retry resumes from the job's checkpoint. Tasks travel through Ray's object store.
- ``slurm``: every job a Slurm job submitted with submitit into ``<run>/slurm/`` (the run directory must be on a
  filesystem the nodes share); a node rebuilds the task from the run's config (the cache, or the dataset path);
  a job preempted or out of time is requeued ``--retries`` times and resumes from its checkpoint.
  ``--slurm-cluster local`` runs the same submission as local processes (submitit's ``LocalExecutor``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import torch

from harness.core.device import ThreadChoice, choose_threads, choose_workers, parse_devices, resolve_device
from harness.core.errors import HarnessError
from harness.remote_jobs import EXECUTORS, ExecutorKind, Placement, RemoteOptions
from harness.run_config import RunConfig
from harness.rundir import RunDir
from harness.step import check_precision
from harness.workers import Outcome, Work, run_pool, run_work

log = logging.getLogger(__name__)

def outcomes(works: list[Work], config: RunConfig, run: RunDir, placement: Placement) -> Iterator[Outcome]:
    """Each work's outcome as it finishes, on ``placement``'s executor.

    Leaving the iteration early (an error, Ctrl-C) stops this executor's unfinished jobs.
    """
    if placement.executor == "ray":
        from harness.executor_ray import ray_outcomes

        yield from ray_outcomes(works, config, run, placement)
    elif placement.executor == "slurm":
        from harness.executor_slurm import slurm_outcomes

        yield from slurm_outcomes(works, config, run, placement)
    else:
        yield from _local(works, config, run, placement)


def _local(works: list[Work], config: RunConfig, run: RunDir, placement: Placement) -> Iterator[Outcome]:
    """Reference jobs here; trained ones on ``placement.workers`` processes when more than one."""
    device = torch.device(placement.devices[0])
    trained = [w for w in works if not w.reference]
    here = works if placement.workers == 1 or len(trained) < 2 else [w for w in works if w.reference]
    for work in here:
        log.info("%s (%s)", work.job_id, work.protocol)
        yield run_work(work, config, device)
    if len(here) < len(works):
        workers = min(placement.workers, len(trained))
        log.info("%d jobs on %d worker processes (%d torch thread(s) each) on %s", len(trained), workers,
                 placement.threads, ", ".join(placement.devices))
        pool = run_pool(trained, config, [torch.device(d) for d in placement.devices], workers=workers,
                        threads=placement.threads, log_path=run.log_path)
        try:
            yield from pool
        finally:
            pool.close()


@dataclass(frozen=True)
class ExecutorOptions:
    """The placement flags as given on the command line (None: not given).

    Attributes:
        executor: ``--executor``.
        devices: ``--devices``.
        gpus_per_job: ``--gpus-per-job``.
        remote: ``--retries``, ``--ray-address``, ``--slurm-partition``, ``--slurm-time-min``, ``--slurm-cluster`` and
            ``--slurm-setup``, passed on to the placement as they are.
    """

    executor: ExecutorKind = "local"
    devices: str | None = None
    gpus_per_job: float | None = None
    remote: RemoteOptions = RemoteOptions()


def resolve_placement(options: ExecutorOptions, config: RunConfig, threads: int | None, workers: int | None
                      ) -> tuple[Placement, ThreadChoice]:
    """Checks the placement flags against each other and the run, before anything is written.

    Raises:
        HarnessError: A flag of another executor, a device that does not exist, a GPU request without a GPU
            device, a fraction of a GPU on Slurm, a negative retry count.
    """
    if options.executor not in EXECUTORS:
        raise HarnessError(f"--executor {options.executor!r}: expected one of {', '.join(EXECUTORS)}")
    remote = options.remote
    if remote.retries < 0 or remote.slurm_time_min < 1:
        raise HarnessError("--retries must be >= 0 and --slurm-time-min >= 1")
    remote_only = {"--gpus-per-job": options.gpus_per_job is not None, "--ray-address": bool(remote.ray_address),
                   "--retries": remote.retries > 0}
    if options.executor == "local":
        given = [flag for flag, on in remote_only.items() if on]
        if given:
            raise HarnessError(f"{', '.join(given)}: for --executor ray or slurm; on this machine use --devices and "
                               "--workers")
        device = resolve_device(config.device)
        devices = parse_devices(options.devices, config.device) if options.devices else [device]
        check_precision(config.precision, devices[0])
        choice = choose_threads(threads, devices[0])
        count = choose_workers(workers, choice, devices[0], len(devices))
        return Placement("local", tuple(str(d) for d in devices), count, choice.threads, device=str(devices[0])), choice
    if options.devices is not None or workers is not None:
        raise HarnessError(f"--devices and --workers place jobs on this machine; --executor {options.executor} "
                           "places them itself (ask with --threads and --gpus-per-job)")
    if config.device not in ("auto", "cpu", "cuda"):
        raise HarnessError(f"--device {config.device} with --executor {options.executor}: the engine picks each "
                           "job's GPU; use --device cuda")
    gpus = options.gpus_per_job if options.gpus_per_job is not None else 1.0 if config.device == "cuda" else 0.0
    if gpus < 0 or (gpus > 0 and config.device == "cpu"):
        raise HarnessError(f"--gpus-per-job {gpus:g} with --device {config.device}: expected 0 on CPU, > 0 for cuda")
    if options.executor == "slurm" and gpus != int(gpus):
        raise HarnessError(f"--gpus-per-job {gpus:g}: Slurm gives whole GPUs; share one with --executor ray or "
                           "--executor local --workers N")
    choice = choose_threads(threads, torch.device("cpu"))
    return Placement(options.executor, (), 1, choice.threads, gpus, config.device, remote), choice
