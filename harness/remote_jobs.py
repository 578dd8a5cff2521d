"""What a job needs to run away from the coordinator (Ray, Slurm): its placement, its entry point, its failure.

``run_detached`` is the entry a Ray task or a Slurm job calls: the job's device resolved where it runs, its log in
its own folder (``jobs/<job>/job.log``), then ``harness.workers.run_work``, which writes the job's rows and outcome
there. ``harness/executors.py`` chooses the executor; ``executor_ray.py`` and ``executor_slurm.py`` submit.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

import torch

import harness
from harness.core.device import resolve_device, use_device
from harness.core.errors import HarnessError
from harness.plugins import config_for_worker
from harness.rundir import JOB_LOG
from harness.workers import Outcome, Work, run_work

log = logging.getLogger(__name__)

ExecutorKind = Literal["local", "ray", "slurm"]
EXECUTORS: tuple[str, ...] = ("local", "ray", "slurm")


@dataclass(frozen=True)
class RemoteOptions:
    """The Ray and Slurm settings, as given on the command line and as a run uses them (the same values).

    Attributes:
        retries: Ray: retries of a task whose worker died; Slurm: requeues after preemption or timeout
            (``--retries``).
        ray_address: Ray cluster address (``auto``, ``ray://host:10001``), None for a local instance.
        slurm_partition: Slurm partition, None for the cluster's default.
        slurm_time_min: Slurm time limit per job, minutes.
        slurm_cluster: ``"slurm"`` (sbatch) or ``"local"`` (submitit's local executor, to try the path).
        slurm_setup: Shell lines each Slurm job runs first (``module load``, ``source venv/bin/activate``).
    """

    retries: int = 0
    ray_address: str | None = None
    slurm_partition: str | None = None
    slurm_time_min: int = 24 * 60
    slurm_cluster: Literal["slurm", "local"] = "slurm"
    slurm_setup: tuple[str, ...] = ()


@dataclass(frozen=True)
class Placement:
    """How a run places its jobs; runtime choices (the manifest records them, ``config.json`` does not).

    Attributes:
        executor: ``"local"``, ``"ray"`` or ``"slurm"``.
        devices: Local: one device per worker slot (``--devices``, else the run's device).
        workers: Local: jobs at once.
        threads: torch threads per job (Ray and Slurm: the CPUs each job asks for).
        gpus_per_job: Ray and Slurm: GPUs each job asks for (Ray: a fraction shares a GPU).
        device: Ray and Slurm: the device name a job resolves where it runs (``cpu``, ``cuda`` or ``auto``).
        remote: The Ray and Slurm settings (defaults for a local run).
    """

    executor: ExecutorKind = "local"
    devices: tuple[str, ...] = ("cpu",)
    workers: int = 1
    threads: int = 1
    gpus_per_job: float = 0.0
    device: str = "cpu"
    remote: RemoteOptions = RemoteOptions()

    def to_dict(self) -> dict[str, object]:
        """For the manifest: one flat record (the remote settings beside the others)."""
        out = dataclasses.asdict(self)
        return out | out.pop("remote")


def require(module: str, extra: str) -> ModuleType:
    """Imports an optional executor's package, or a ``HarnessError`` saying which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise HarnessError(f"--executor {extra} needs the {module!r} package: pip install -e \".[{extra}]\" (or pip "
                           f"install {module})") from None


def run_detached(work: Work, config: dict, device_name: str, threads: int, executor: str) -> Outcome:
    """A job on a Ray worker or a Slurm node: its device resolved there, its log in its folder's ``job.log``.

    ``config`` is the run's config as ``config_to_dict`` writes it (a config with plugin sections is an instance of a
    class made at run time, which does not pickle): it is rebuilt here after loading the run's plugins. Any error is
    logged with its traceback into ``job.log`` and raised again for the engine to report.
    """
    torch.set_num_threads(threads)
    handler = logging.FileHandler(work.job_dir / JOB_LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root, level = logging.getLogger(), logging.getLogger().level
    root.addHandler(handler)
    root.setLevel(min(level or logging.INFO, logging.INFO))
    try:
        device = resolve_device(device_name)
        use_device(device)
        log.info("job %s on %s, pid %d, device %s, %d thread(s), harness from %s", work.job_id, socket.gethostname(),
                 os.getpid(), device, threads, Path(harness.__file__).parent)
        outcome = run_work(work, dataclasses.replace(config_for_worker(config), progress=False), device, executor)
        log.info("job %s %s in %.1f s", work.job_id, outcome.status, outcome.wall_time_s)
        return outcome
    except BaseException:
        log.exception("job %s failed", work.job_id)
        raise
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


def failed(work: Work, executor: str, error: str, log_path: Path | str | None = None) -> Outcome:
    """The outcome of a job the executor reports as crashed (its worker or node lost, an error raised)."""
    where = f"; log: {log_path}" if log_path else ""
    return Outcome(work.job_id, "failed", f"{work.job_id}: {error}{where}", 0.0, 0.0, "", "", executor)
