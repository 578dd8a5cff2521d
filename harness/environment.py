"""What a run records about where it ran: package versions, git commit, Python, the machine and its CPU kind."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import torch

from harness import __version__

PACKAGES = ("torch", "torchvision", "torch-fidelity", "numpy", "scipy", "pandas", "scikit-image", "matplotlib",
            "pillow", "jinja2", "statsmodels")


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=5, check=False)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def cpu_kind() -> str:
    """The CPU's model name and the SIMD level torch dispatches its kernels to, e.g. ``"AMD EPYC 7B13 (AVX2)"``.

    CPU training is bit-reproducible only on the same kind: a job's numbers are a draw of its seed on this kind.
    """
    name = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            name = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), name)
    except OSError:
        pass
    return f"{name} ({torch.backends.cpu.get_cpu_capability()})"


def environment() -> dict[str, object]:
    """Package versions, git commit, Python and hardware, for the manifest."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    hardware = {"platform": platform.platform(), "machine": platform.machine(), "processor": platform.processor(),
                "cpu": cpu_kind(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                "cuda": torch.cuda.is_available(),
                "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}
    return {"harness_version": __version__, "git_commit": _git_commit(), "python": platform.python_version(),
            "packages": versions, "hardware": hardware}
