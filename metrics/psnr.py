"""Peak signal-to-noise ratio and L1 between images and their ground truth (paired tasks, ``evaluate --metric psnr``).

What it computes, exactly: PSNR = 10·log10(MAX² / MSE) per image with MAX = 1 — images in [0, 1] (8-bit files
÷255, 16-bit ÷65535), on every channel as given (RGB or grey), **no border crop, no Y channel** — in float64.
This is the per-image-then-mean form of BasicSR and the SR papers, but not their convention (Y channel of
ITU-R BT.601, border cropped by the scale, [0, 255]); that is a separate metric.

One rule for identical images, everywhere (suite protocols and ``evaluate``): their PSNR is ``inf`` (MSE = 0), never
capped. A mean over images reports ``psnr`` = the mean of the *finite* per-image values and ``psnr_identical`` =
how many pairs were identical and left out of that mean (``psnr`` is ``inf`` only when every pair is identical).
So a perfect copy of some images cannot turn the mean into ``inf``, and cannot hide either: the count says it.

Streaming: squared and absolute errors are summed per image over fixed chunks of rows (``rows_per_chunk``, which
depends on the image width only), so the values do not depend on batching, and the folder path — which converts
one band of rows at a time from the decoded file — gives bit-identical per-image sums to the in-memory path.
"""

from __future__ import annotations

import numpy as np
import torch

from harness.core.errors import HarnessError
from harness.core.image_files import array_to_float
from harness.core.images import check_images
from metrics.spec import FolderInputs

CHUNK_VALUES = 1 << 18  # values per image per chunk of rows: bounds the float64 temporaries of one image


def rows_per_chunk(channels: int, width: int) -> int:
    """Rows summed at once: about ``CHUNK_VALUES`` values per image, at least one row."""
    return max(1, CHUNK_VALUES // (channels * width))


def error_sums(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image sums of squared and of absolute errors, accumulated in float64 over chunks of rows.

    Args:
        pred: Float ``(N, C, H, W)``.
        target: Same shape.

    Returns:
        Two float64 ``(N,)`` tensors: sum of (pred − target)² and sum of |pred − target|.
    """
    if pred.shape != target.shape:
        raise HarnessError(f"psnr: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    n, c, h, w = pred.shape
    sse = torch.zeros(n, dtype=torch.float64)
    sae = torch.zeros(n, dtype=torch.float64)
    step = rows_per_chunk(c, w)
    for top in range(0, h, step):
        diff = pred[:, :, top : top + step].double() - target[:, :, top : top + step].double()
        sse += diff.square().sum((1, 2, 3))
        sae += diff.abs().sum((1, 2, 3))
    return sse, sae


def psnr_from_mse(mse: torch.Tensor) -> torch.Tensor:
    """10·log10(1 / MSE) for data in [0, 1]; ``inf`` where MSE is 0 (identical images)."""
    return 10.0 * torch.log10(1.0 / mse)


def psnr_per_image(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR in dB of each image pair.

    Args:
        pred: Float32 ``(N, C, H, W)`` in [0, 1].
        target: Same shape, in [0, 1].

    Returns:
        Float64 ``(N,)``; ``inf`` for identical images.
    """
    check_images(pred, "psnr pred")
    check_images(target, "psnr target")
    sse, _ = error_sums(pred, target)
    return psnr_from_mse(sse / pred[0].numel())


def l1_per_image(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of each image pair, float64 ``(N,)`` in [0, 1]."""
    check_images(pred, "l1 pred")
    check_images(target, "l1 target")
    return error_sums(pred, target)[1] / pred[0].numel()


def psnr_summary(per_image: torch.Tensor) -> dict[str, float]:
    """The mean over images under the identical-images rule (module docstring).

    Args:
        per_image: Float ``(N,)`` per-image PSNR, N ≥ 1, ``inf`` for identical pairs.

    Returns:
        ``{"psnr": mean of the finite values (inf if none), "psnr_identical": count of inf values}``.
    """
    if per_image.numel() == 0:
        raise HarnessError("psnr: no image pairs to average")
    finite = per_image[torch.isfinite(per_image)]
    identical = int(torch.isposinf(per_image).sum())
    return {"psnr": float(finite.mean()) if finite.numel() else float("inf"), "psnr_identical": float(identical)}


def psnr(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """``{"psnr", "psnr_identical", "l1"}`` of ``pred`` against ``target`` (see ``psnr_summary``).

    Example:
        >>> psnr(torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 2, 2), 0.6))["psnr"]  # 10·log10(1/0.01)
        20.0...
    """
    return {**psnr_summary(psnr_per_image(pred, target)), "l1": float(l1_per_image(pred, target).mean())}


def mask_iou_update(counts: torch.Tensor | None, pred_mask: torch.Tensor, target_mask: torch.Tensor) -> torch.Tensor:
    """Accumulates (intersection, union) pixel counts of boolean masks ``(N, H, W)`` into int64 ``(2,)``."""
    counts = torch.zeros(2, dtype=torch.int64) if counts is None else counts
    pred_mask, target_mask = pred_mask.bool(), target_mask.bool()
    inter = int((pred_mask & target_mask).sum())
    union = int((pred_mask | target_mask).sum())
    return counts + torch.tensor([inter, union])


def mask_iou_compute(counts: torch.Tensor) -> dict[str, float]:
    """``{"shape_iou": intersection / union}`` pooled over all pixels (NaN when both masks are empty)."""
    inter, union = int(counts[0]), int(counts[1])
    return {"shape_iou": inter / union if union else float("nan")}


def _pair_sums(pred: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """Squared and absolute error sums of one decoded pair ``(H, W, C)``, converted to float one band at a time."""
    step = rows_per_chunk(pred.shape[2], pred.shape[1])
    sse = sae = 0.0
    for top in range(0, pred.shape[0], step):
        band_sse, band_sae = error_sums(array_to_float(pred[top : top + step])[None],
                                        array_to_float(target[top : top + step])[None])
        sse, sae = sse + float(band_sse[0]), sae + float(band_sae[0])
    return sse, sae


def psnr_on_folders(inputs: FolderInputs) -> dict[str, float]:
    """``evaluate --metric psnr``: ``--pred`` against ``--target``, images paired by file name.

    Streams one pair at a time (memory: the two decoded files plus one band of rows in float64), so folders of any
    length fit. ``inputs.target`` arrives matched to ``inputs.pred`` by name (the registry entry is ``paired``).
    """
    pred, target = inputs.pred, inputs.target
    if target is None or target.names != pred.names or target.size != pred.size:
        raise HarnessError("psnr: --target must hold an image of the same name and size for every --pred image")
    sse = torch.empty(len(pred), dtype=torch.float64)
    sae = torch.empty(len(pred), dtype=torch.float64)
    for index in range(len(pred)):
        sse[index], sae[index] = _pair_sums(pred.read(index), target.read(index))
    values = pred.values_per_image
    return {**psnr_summary(psnr_from_mse(sse / values)), "l1": float((sae / values).mean())}
