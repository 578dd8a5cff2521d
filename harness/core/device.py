"""Devices, CPU threads and seeding: resolving ``--device`` and ``--threads``, seeding a job's generators."""

from __future__ import annotations

import math
import os
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from harness.core.errors import HarnessError

CGROUP_ROOT = Path("/sys/fs/cgroup")


def resolve_device(name: str) -> torch.device:
    """``auto`` → cuda when available, else cpu; a cuda request without a GPU is a ``HarnessError``."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise HarnessError(f"--device {name}: no CUDA device is available; use --device cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise HarnessError(f"--device {name!r}: expected auto, cpu, cuda or cuda:N") from exc


def use_device(device: torch.device) -> None:
    """Makes ``cuda:N`` the process's current GPU (where unindexed allocations and kernels go); others: nothing.

    A bare ``cuda`` keeps the current GPU (the one a Ray or Slurm job was given: ``CUDA_VISIBLE_DEVICES``).
    """
    if device.type == "cuda" and device.index is not None:
        torch.cuda.set_device(device)


def parse_devices(text: str, run_device: str = "auto") -> list[torch.device]:
    """``--devices cuda:0,cuda:1,...``: one device per worker slot (a repeated one shares a GPU between workers).

    Args:
        text: Comma-separated device names (``cpu``, ``cuda``, ``cuda:N``).
        run_device: The run's ``device`` setting; unless ``auto`` it must be of the same kind as the list.

    Raises:
        HarnessError: An empty or malformed list, a GPU this machine does not have, kinds mixed, or a list that
            contradicts ``--device``.
    """
    names = [name.strip() for name in text.split(",")]
    if not text.strip() or any(not name or name == "auto" for name in names):
        raise HarnessError(f"--devices {text!r}: expected a comma-separated list of devices, e.g. cuda:0,cuda:1")
    devices = [resolve_device(name) for name in names]
    if len({d.type for d in devices}) > 1:
        raise HarnessError(f"--devices {text!r}: every device must be of one kind (all cuda:N, or cpu)")
    count = torch.cuda.device_count() if devices[0].type == "cuda" else 0
    for device in devices:
        if device.type == "cuda" and (device.index or 0) >= count:
            raise HarnessError(f"--devices {text!r}: {device} does not exist; this machine has {count} GPU(s) "
                               f"(cuda:0 to cuda:{count - 1})")
    if run_device != "auto" and resolve_device(run_device).type != devices[0].type:
        raise HarnessError(f"--devices {text!r} contradicts --device {run_device}; give one of them")
    return devices


def cgroup_cpu_limit(root: Path = CGROUP_ROOT) -> float | None:
    """CPUs' worth of time the cgroup quota allows (``cpu.max`` v2, ``cpu.cfs_quota_us`` v1), None if unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, lowered to a cgroup CPU quota when one is set (at least 1)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    return max(1, min(cpus, math.floor(limit)) if limit else cpus)


@dataclass(frozen=True)
class ThreadChoice:
    """How many torch intra-op threads a run uses, and why (recorded in the manifest).

    Attributes:
        threads: Intra-op threads.
        cpus: CPUs available to the process (affinity and cgroup quota).
        reason: ``"--threads"`` or the default rule that chose it.
    """

    threads: int
    cpus: int
    reason: str

    def to_dict(self) -> dict[str, object]:
        """For the manifest."""
        return asdict(self)


MAX_THREADS = 1024


def choose_threads(requested: int | None, device: torch.device) -> ThreadChoice:
    """The intra-op thread count of a run: ``--threads N`` when given, else the default rule.

    Default: half the CPUs available to the process (affinity mask, cgroup quota), at least 1 and at most 8 — so 1
    on a 2-core machine. ``tests/benchmarks/thread_ratios.py`` measured why, on this project's 2-core machine shared
    with other sessions (load average 10-16), smoke-width train steps, median ms per step (ratio to 1 thread idle):
    pix2pix 751 / 14900 (19.8x) / 1075 (1.43x) / 16300 (21.7x), CycleGAN 1848 / 34112 (18.5x) / 2400 (1.30x) /
    29205 (15.8x), GAN 311 / 2606 (8.4x) / 415 (1.34x) / 2920 (9.4x) for 1 thread idle / 2 threads idle / 1 thread
    beside one more busy process / 2 threads beside it. OpenMP threads that outnumber the free cores spin in
    barriers, so a second thread costs far more under contention than it can gain on an idle machine; half the
    CPUs keeps a run steady while the machine does other work. The rule depends on the CPUs only, never on the
    momentary load, so reruns on one machine use the same thread count (and so the same kernels).

    Raises:
        HarnessError: ``requested`` is outside 1..1024.
    """
    cpus = available_cpus()
    if requested is not None:
        if not 1 <= requested <= MAX_THREADS:
            raise HarnessError(f"--threads {requested}: expected 1 <= value <= {MAX_THREADS}")
        return ThreadChoice(requested, cpus, "--threads")
    return default_threads(cpus, device)


def choose_workers(requested: int | None, threads: ThreadChoice, device: torch.device, devices: int = 1) -> int:
    """How many jobs a suite runs at once: ``--workers N`` when given, else the CPUs over the threads per job.

    On a CPU the default fills the available CPUs with jobs of ``threads.threads`` threads each (2 jobs of 1 thread
    on a 2-core machine: small convolutions gain far more from a second job than from a second thread); on GPUs one
    job per device listed in ``--devices`` (``devices``; one without it). ``--workers N`` above that shares each GPU
    between several jobs (small models leave a GPU idle). Jobs seed themselves, so the count never changes a number,
    only the wall time.

    Raises:
        HarnessError: ``requested`` is outside 1..1024.
    """
    if requested is not None:
        if not 1 <= requested <= MAX_THREADS:
            raise HarnessError(f"--workers {requested}: expected 1 <= value <= {MAX_THREADS}")
        return requested
    return max(1, threads.cpus // threads.threads) if device.type == "cpu" else devices


def default_threads(cpus: int, device: torch.device) -> ThreadChoice:
    """The default rule (see ``choose_threads``): half the available CPUs, at least 1 and at most 8."""
    threads = max(1, min(cpus // 2, 8))
    return ThreadChoice(threads, cpus, f"default: half of the {cpus} available CPU(s), 1..8 ({device.type} run)")


def seed_everything(seed: int, device: torch.device) -> None:
    """Seeds python, numpy and torch; on CPU also asks torch for deterministic algorithms."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
