"""Devices and seeding: resolving ``--device`` and seeding every random number generator of a job."""

from __future__ import annotations

import random

import numpy as np
import torch

from harness.core.errors import HarnessError


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


def seed_everything(seed: int, device: torch.device) -> None:
    """Seeds python, numpy and torch; on CPU also asks torch for deterministic algorithms."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
