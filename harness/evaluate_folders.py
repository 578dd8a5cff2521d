"""``evaluate --metric NAME --pred DIR [--target DIR]``: one registered metric on image folders a user brings."""

from __future__ import annotations

from pathlib import Path

from harness.core.device import resolve_device
from harness.core.errors import HarnessError
from harness.core.images import load_image_folder
from metrics.registry import METRICS
from metrics.spec import FolderInputs


def _digit_judge_weights(device_name: str, progress: bool) -> Path:
    """Trains (or loads from the cache) the digit judge of the embedded digits task at the standard profile."""
    from harness.protocols.base import EvalContext
    from harness.protocols.generation import judge_for_task
    from harness.run_config import resolve_config
    from harness.tasks import build_task

    config = resolve_config("standard", {})
    task = build_task("digits", config)
    ctx = EvalContext(model_name="folder", task=task, seed=0, device=resolve_device(device_name), config=config.eval,
                      sample_dir=Path("."), setting="", variant="", progress=progress)
    return judge_for_task(ctx)[1]


def evaluate_folders(*, metric: str, pred: Path, target: Path | None, device: str, seed: int,
                     feature_extractor: str, weights: Path | None, progress: bool, scale: int | None = None,
                     y_channel: bool = False) -> dict[str, float]:
    """Scores the images in ``pred`` (against ``target`` where the metric needs one).

    Raises:
        HarnessError: Unknown metric, a metric that cannot run on folders, a missing/empty/corrupt folder, or a
            missing ``--target``; nothing is written.
    """
    spec = METRICS.get(metric)
    if spec.on_folders is None:
        able = ", ".join(n for n, s in METRICS.items() if s.on_folders is not None)
        raise HarnessError(f"--metric {metric}: needs more than images (it runs inside the suite); metrics that run "
                           f"on folders: {able}")
    if spec.needs_target and target is None:
        raise HarnessError(f"--metric {metric}: needs --target DIR with reference images")
    if spec.reads_files:  # the metric pairs and reads the files itself (images of different sizes)
        pred_images = target_images = None
    else:
        pred_images = load_image_folder(pred, option="--pred")
        target_images = load_image_folder(target, option="--target") if target is not None else None
    if weights is not None and not Path(weights).is_file():
        raise HarnessError(f"--weights {str(weights)!r}: no such file")
    if feature_extractor == "digits" and weights is None:
        weights = _digit_judge_weights(device, progress)
    inputs = FolderInputs(pred=pred_images, target=target_images, device=resolve_device(device), seed=seed,
                          feature_extractor=feature_extractor, weights=weights, pred_dir=pred, target_dir=target,
                          scale=scale, y_channel=y_channel)
    return spec.on_folders(inputs)
