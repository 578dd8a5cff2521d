"""One straight training loop with resumable checkpoints.

A checkpoint holds the model's full state (networks, optimisers, pools), the step, the batch-sampling generator's
state, torch's global RNG state, the loss history and the open loss window, so a job killed at any point continues
from its last checkpoint and, on CPU, ends bit-identical to an uninterrupted run.

Each step runs through ``harness.step.run_step`` (host-checked batch, non-blocking copy, losses summed on the
device); the loop reads the losses back only every ``log_every`` steps: a ``losses.csv`` row holds each loss's mean
over the steps since the previous row, and a non-finite mean stops the job (``NonFiniteLoss``) naming those steps.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm import tqdm

from harness.core import atomic
from harness.core.csv_files import write_csv
from harness.core.errors import HarnessError
from harness.core.task import Task
from harness.models import ModelSpec
from harness.step import LossWindow, Precision, prepare_model, run_step

log = logging.getLogger(__name__)

CHECKPOINT = "checkpoint.pt"
FINAL = "model.pt"
LOSSES = "losses.csv"


class NonFiniteLoss(HarnessError):
    """Training diverged: a loss became NaN or infinite (the job stops; other jobs go on)."""


@dataclass(frozen=True)
class TrainOutcome:
    """What a training job did.

    Attributes:
        steps: Total steps of the schedule.
        resumed_from: Step the job resumed from (0 for a fresh start, ``steps`` when already trained).
        wall_time_s: Seconds spent in this call.
    """

    steps: int
    resumed_from: int
    wall_time_s: float


def _save(path: Path, model: Any, step: int, batch_rng: torch.Generator, history: list[dict[str, float]],
          window: LossWindow) -> None:
    state = {"model": model.state_dict(), "step": step, "batch_rng": batch_rng.get_state(),
             "torch_rng": torch.get_rng_state(), "history": history, "window": window.state_dict()}
    atomic.torch_save(state, path)
    if history:
        write_csv(path.parent / LOSSES, pd.DataFrame(history))


def train_job(spec: ModelSpec, config: Any, task: Task, model: Any, job_dir: Path, *, seed: int,
              checkpoint_every: int, log_every: int, progress: bool, device: torch.device | None = None,
              precision: Precision = "fp32", compile_networks: bool = False) -> TrainOutcome:
    """Trains ``model`` for ``config.steps`` steps, resuming from ``job_dir`` when a checkpoint is there.

    Args:
        spec: The model's registry entry (its ``batch`` function samples training batches).
        config: The model's resolved config (``steps`` and ``batch_size`` are read).
        task: Task supplying training data.
        model: A freshly built model (its state is replaced when resuming).
        job_dir: The job's directory; ``checkpoint.pt``, ``model.pt`` and ``losses.csv`` live there.
        seed: Seeds batch sampling and torch's global RNG for a fresh start.
        checkpoint_every: Steps between checkpoints.
        log_every: Steps between loss-history rows (each the mean over those steps) and finiteness checks.
        progress: Show a tqdm bar.
        device: The model's device (batches are copied there); None for CPU.
        precision: ``"fp32"`` or ``"bf16"`` (autocast; see ``harness.step``).
        compile_networks: Compile every network with ``torch.compile`` first.

    Returns:
        The outcome; afterwards ``job_dir/model.pt`` holds the trained state.
    """
    start_time = time.perf_counter()
    device = device or torch.device("cpu")
    final, ckpt = job_dir / FINAL, job_dir / CHECKPOINT
    batch_rng = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    history: list[dict[str, float]] = []
    window = LossWindow(device)
    start = 0
    prepare_model(model, device, precision, compile_networks)
    source = final if final.exists() else ckpt if ckpt.exists() else None
    if source is not None:
        history, start = _restore(source, model, batch_rng, window)
        log.info("%s: resuming from step %d of %d", job_dir.name, start, config.steps)
    sampler, job = f"model {spec.name}'s batch sampler", job_dir.name
    with tqdm(total=config.steps, initial=start, desc=f"train {job}", disable=not progress, leave=False) as bar:
        for step in range(start, config.steps):
            done = step + 1
            run_step(model, spec.batch(task, config, batch_rng), device=device, precision=precision, window=window,
                     step=done, source=sampler)
            if done % log_every == 0 or done == config.steps:
                losses = _read(window, done, config.steps, job)
                window.reset()
                history.append({"step": done, **losses})
                bar.set_postfix({k: f"{v:.3g}" for k, v in list(losses.items())[:4]})
            bar.update(1)
            if done % checkpoint_every == 0 and done < config.steps:
                if window:
                    _read(window, done, config.steps, job)  # no checkpoint of diverged weights
                _save(ckpt, model, done, batch_rng, history, window)
    if start < config.steps or not final.exists():
        _save(final, model, config.steps, batch_rng, history, window)
        ckpt.unlink(missing_ok=True)
    return TrainOutcome(config.steps, start, time.perf_counter() - start_time)


def _read(window: LossWindow, step: int, steps: int, job: str) -> dict[str, float]:
    """The window's loss means (the loop's one read-back); ``NonFiniteLoss`` naming the steps if one is not finite."""
    losses = window.means()
    bad = [(name, value) for name, value in losses.items() if not math.isfinite(value)]
    if bad:
        name, value = bad[0]
        first = window.first_step if window.first_step is not None else step
        span = f"at step {step}" if first == step else f"in steps {first}-{step} (their mean)"
        raise NonFiniteLoss(f"{job}: loss {name}={value} {span} of {steps}; training diverged (a learning rate or "
                            "loss weight too large?)")
    return losses


def job_file_hint(path: Path) -> str:
    """What to do about an unusable checkpoint or model of ``runs/<run>/jobs/<job>/``: retrain that job.

    Deleting the file alone is not enough for a finished job (its ``rows.json`` marks it done, so ``--resume`` skips
    it and the next reader of ``model.pt`` fails again); deleting the job's folder makes ``--resume`` train it again.
    """
    job_dir = path.parent
    return f"delete its job folder {job_dir} and continue the run with --out {job_dir.parent.parent} --resume (that " \
           "job is trained again)"


def _restore(path: Path, model: Any, batch_rng: torch.Generator, window: LossWindow
             ) -> tuple[list[dict[str, float]], int]:
    """Loads a checkpoint (or ``model.pt``) into ``model``, the batch generator, torch's RNG and the loss window.

    Returns:
        ``(loss history, step)``.

    Raises:
        HarnessError: The file cannot be read or does not hold this job's state (named, with the fix).
    """
    state = atomic.torch_load(path, hint=job_file_hint(path))
    try:
        if not isinstance(state, dict):
            raise TypeError(type(state).__name__)
        model.load_state_dict(state["model"])
        batch_rng.set_state(state["batch_rng"])
        torch.set_rng_state(state["torch_rng"])
        window.load_state_dict(state.get("window", {}))
        return list(state["history"]), int(state["step"])
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise HarnessError(f"{path}: does not hold this job's training state ({type(exc).__name__}); "
                           f"{job_file_hint(path)}") from None


def load_trained(model: Any, job_dir: Path) -> None:
    """Loads ``job_dir/model.pt`` into ``model`` (``weights_only=True``).

    Raises:
        HarnessError: ``model.pt`` cannot be read or does not fit ``model`` (named, with the fix).
    """
    path = job_dir / FINAL
    state = atomic.torch_load(path, hint=job_file_hint(path))
    try:
        if not isinstance(state, dict):
            raise TypeError(type(state).__name__)
        model.load_state_dict(state["model"])
    except (KeyError, IndexError, TypeError, ValueError, RuntimeError, AttributeError) as exc:
        raise HarnessError(f"{path}: does not hold this job's trained model ({type(exc).__name__}); "
                           f"{job_file_hint(path)}") from None
