"""``evaluate --metric NAME --pred DIR [--target DIR]``: one registered metric on image folders a user brings.

Every file's header is read and checked first (sizes, bit depth, the per-image pixel limit, symlink loops, pairing
by name for paired metrics), so bad input fails before any pixel is decoded. The metric then streams the folders
(see ``harness.core.image_folder``) while a progress bar counts the decoded images.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from tqdm import tqdm

from harness.core.device import resolve_device
from harness.core.errors import HarnessError
from harness.core.image_folder import ImageFolder, match_by_name, open_image_folder, with_channels
from metrics.registry import METRICS
from metrics.spec import FolderInputs, MetricSpec

log = logging.getLogger(__name__)


def _digit_judge_weights() -> Path:
    """The committed digit judge of the standard profile (nothing is trained)."""
    from metrics.judges.resolve import pinned_file

    return pinned_file("digits", "standard")


def _check_metric(metric: str, target: Path | None) -> MetricSpec:
    spec = METRICS.get(metric)
    if spec.on_folders is None:
        from harness.folder_eval.registry import folder_metrics

        able = ", ".join(folder_metrics())
        raise HarnessError(f"--metric {metric}: needs more than images (it runs inside the suite); metrics that run "
                           f"on folders: {able}")
    if spec.needs_target and target is None:
        raise HarnessError(f"--metric {metric}: needs --target DIR with reference images")
    return spec


def _open_folders(spec: MetricSpec, pred: Path, target: Path | None) -> tuple[ImageFolder, ImageFolder | None]:
    """Both folders validated from their headers; paired metrics get ``target`` matched to ``pred`` by name."""
    pred_folder = open_image_folder(pred, option="--pred", one_size=not spec.sizes_vary)
    if target is None:
        return pred_folder, None
    target_folder = open_image_folder(target, option="--target", one_size=not spec.sizes_vary)
    if spec.paired:
        return match_by_name(pred_folder, target_folder, same_size=not spec.sizes_vary)
    channels = max(pred_folder.channels, target_folder.channels)
    return (with_channels(pred_folder, channels, f"to match the colour images of {target_folder.option}"),
            with_channels(target_folder, channels, f"to match the colour images of {pred_folder.option}"))


FLAGS = {"feature_extractor": "--feature-extractor", "weights": "--weights", "seed": "--seed", "scale": "--scale",
         "y_channel": "--y-channel"}  # MetricSpec.options -> the flag that sets it
DEFAULT_FEATURE_EXTRACTOR, DEFAULT_SEED = "inception", 0


def check_options(spec: MetricSpec, given: dict[str, object]) -> None:
    """Refuses every option given (not None, not False) that the metric does not read, naming the ones it takes.

    Raises:
        HarnessError: ``--metric psnr`` with ``--scale 4``, say: the flag would be ignored without a word.
    """
    unused = [FLAGS[name] for name, value in given.items() if value is not None and value is not False
              and name not in spec.options]
    if unused:
        takes = ", ".join(FLAGS[name] for name in FLAGS if name in spec.options) or "none of them"
        raise HarnessError(f"--metric {spec.name}: does not take {', '.join(unused)} (of the metric options it takes "
                           f"{takes}); drop {'them' if len(unused) > 1 else 'it'}")


def evaluate_folders(*, metric: str, pred: Path, target: Path | None, device: str, seed: int | None,
                     feature_extractor: str | None, weights: Path | None, progress: bool, scale: int | None = None,
                     y_channel: bool = False) -> dict[str, float]:
    """Scores the images in ``pred`` (against ``target`` where the metric needs one).

    The metric options (``seed``, ``feature_extractor``, ``weights``, ``scale``, ``y_channel``) are None / False
    when not given; giving one the metric does not read is refused.

    Raises:
        HarnessError: Unknown metric, a metric that cannot run on folders, an option it does not take, a missing
            ``--target``, or any folder problem ``open_image_folder`` / ``match_by_name`` refuse; nothing is written.
    """
    spec = _check_metric(metric, target)
    check_options(spec, {"feature_extractor": feature_extractor, "weights": weights, "seed": seed, "scale": scale,
                         "y_channel": y_channel})
    feature_extractor = feature_extractor or DEFAULT_FEATURE_EXTRACTOR
    seed = DEFAULT_SEED if seed is None else seed
    pred_folder, target_folder = _open_folders(spec, pred, target)
    if weights is not None and not Path(weights).is_file():
        raise HarnessError(f"--weights {str(weights)!r}: no such file")
    if feature_extractor == "digits" and weights is None:
        weights = _digit_judge_weights()
    if spec.eight_bit:
        for folder in (f for f in (pred_folder, target_folder) if f is not None):
            if deep := [h.path.name for h in folder.headers if h.bits == 16]:
                log.warning("%s: %s scores 8-bit images: its %d 16-bit image(s) are rounded to 8 bits (%s)",
                            folder.option, metric, len(deep), ", ".join(deep[:5]) + (", …" if len(deep) > 5 else ""))
    total = len(pred_folder) + (len(target_folder) if target_folder is not None else 0)
    height, width = pred_folder.size
    log.info("evaluate: %s on %d --pred image(s) of %s%s", metric, len(pred_folder),
             "several sizes" if spec.sizes_vary else f"{width}x{height}",
             f" and {len(target_folder)} --target image(s)" if target_folder is not None else "")
    with tqdm(total=total, desc=f"{metric}: reading images", unit="img", disable=not progress) as bar:
        inputs = FolderInputs(pred=replace(pred_folder, on_read=bar.update),
                              target=None if target_folder is None else replace(target_folder, on_read=bar.update),
                              device=resolve_device(device), seed=seed, feature_extractor=feature_extractor,
                              weights=weights, scale=scale, y_channel=y_channel)
        return spec.on_folders(inputs)
