"""Which judge a task gets: the committed (pinned) one when its key is listed, else one trained and cached here.

The committed judges (``metrics/judges/weights/*.pt``, listed with their weights sha256 in ``metrics.judges.pins``)
make the embedded benchmark's judges the same on every machine. Any other configuration (other data sizes, other
judge steps, a real dataset) trains its judge on first use, caches it under ``cache_root()/judges/<name>-<key>.pt``
and marks every row ``judge_source=local``: its weights, and so its numbers, depend on the machine that trained it.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from harness.core.cache import cache_lock, cache_root, weights_sha256
from harness.core.errors import HarnessError
from harness.core.task import Task
from metrics.judges.base import Judge, JudgeData, JudgeSpec, Recipe, judge_key, load_judge_file, save_judge, train_judge
from metrics.judges.pins import PINS

log = logging.getLogger(__name__)

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"  # package data: the committed judges


def pinned_judge(spec: JudgeSpec, key: str, device: torch.device) -> Judge | None:
    """The committed judge of ``key``, its weights checked against the pinned sha256; None when none is pinned.

    Raises:
        HarnessError: The pinned file is missing or its weights are not the pinned ones.
    """
    pin = PINS.get(key)
    if pin is None:
        return None
    path = WEIGHTS_DIR / pin["file"]
    if not path.is_file():
        raise HarnessError(f"judge {spec.name!r}: the committed weights {str(path)!r} are missing (a broken install "
                           "or checkout); restore the file or run `python -m harness.run judges retrain`")
    model = load_judge_file(spec, path, device)
    sha = weights_sha256(model.state_dict())
    if sha != pin["weights_sha256"]:
        raise HarnessError(f"judge {spec.name!r}: the committed weights {str(path)!r} have sha256 {sha[:12]}…, the "
                           f"pin says {pin['weights_sha256'][:12]}…; restore the file or rerun `judges retrain`")
    return Judge(spec, model, path, sha, "pinned")


def resolve_judge(spec: JudgeSpec, data: JudgeData, recipe: Recipe, *, device: torch.device, progress: bool) -> Judge:
    """The committed judge for this data and recipe, else the locally cached one (trained first on a miss).

    Args:
        spec: The judge.
        data: Its training data (hashed for the key; read only when training).
        recipe: Steps, batch size, learning rate, seed.
        device: Where the returned model lives (and where a local judge trains).
        progress: Whether to show a progress bar while training.

    Returns:
        The judge with its weights file, weights sha256 and source (``"pinned"`` or ``"local"``).
    """
    key = judge_key(spec, data, recipe)
    pinned = pinned_judge(spec, key, device)
    if pinned is not None:
        return pinned
    path = cache_root() / "judges" / f"{spec.name}-{key}.pt"
    if not path.is_file():
        with cache_lock(path):  # jobs at once train a missing judge once, then all load that one
            if not path.is_file():
                log.warning("judge %s: no committed judge for this data and recipe (%d training images, %d steps); "
                            "training one on this machine (rows say judge_source=local)", spec.name,
                            len(data.images), recipe.steps)
                save_judge(spec, train_judge(spec, data, recipe, device=device, progress=progress), data.params,
                           path)
    model = load_judge_file(spec, path, device)
    return Judge(spec, model, path, weights_sha256(model.state_dict()), "local")


def judge_for_task(spec: JudgeSpec, task: Task, *, steps: int, batch_size: int, device: torch.device,
                   progress: bool) -> Judge:
    """``resolve_judge`` on the spec's data source for ``task`` at the profile's steps and batch size."""
    return resolve_judge(spec, spec.data(task), spec.recipe(steps, batch_size), device=device, progress=progress)


def pinned_file(name: str, config: str) -> Path:
    """The committed weights file of judge ``name`` for the configuration labelled ``config`` (e.g. "standard").

    Raises:
        HarnessError: No such committed judge (listing the ones there are).
    """
    for pin in PINS.values():
        if pin["judge"] == name and pin["config"] == config:
            return WEIGHTS_DIR / pin["file"]
    there = ", ".join(sorted(f"{p['judge']}/{p['config']}" for p in PINS.values())) or "none"
    raise HarnessError(f"no committed judge {name!r} for configuration {config!r}; committed: {there}")
