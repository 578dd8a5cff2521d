"""Peak signal-to-noise ratio between translations and their ground truth (paired tasks, SRGAN's PSNR).

PSNR = 10·log10(MAX² / MSE) per image, averaged over images (the convention of SRGAN Table 1-2 and BasicSR), with
MAX = 1 for images in [0, 1]. Computed in float64. Streaming: ``psnr_update`` accumulates per-image values so the
result does not depend on batching. (The SRGAN-specific Y-channel and border-crop conventions belong to the
super-resolution protocol; this function takes images as given.)
"""

from __future__ import annotations

import torch

from harness.core.errors import HarnessError
from harness.core.images import check_images
from metrics.spec import FolderInputs


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
    if pred.shape != target.shape:
        raise ValueError(f"psnr: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ in shape")
    mse = (pred.double() - target.double()).pow(2).flatten(1).mean(1)
    return 10.0 * torch.log10(1.0 / mse)


def l1_per_image(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean absolute error of each image pair, float64 ``(N,)`` in [0, 1]."""
    return (pred.double() - target.double()).abs().flatten(1).mean(1)


def psnr(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """``{"psnr": mean per-image PSNR (dB), "l1": mean absolute error}`` of ``pred`` against ``target``.

    Example:
        >>> psnr(torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 2, 2), 0.6))["psnr"]  # 10·log10(1/0.01)
        20.0...
    """
    return {"psnr": float(psnr_per_image(pred, target).mean()), "l1": float(l1_per_image(pred, target).mean())}


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


def psnr_on_folders(inputs: FolderInputs) -> dict[str, float]:
    """``evaluate --metric psnr``: ``--pred`` and ``--target`` images paired by sorted file name."""
    if inputs.target is None or inputs.target.shape != inputs.pred.shape:
        got = None if inputs.target is None else tuple(inputs.target.shape)
        raise HarnessError(f"psnr: --target must hold as many images as --pred, of the same size "
                           f"({tuple(inputs.pred.shape)}), paired by sorted file name; got {got}")
    return psnr(inputs.pred, inputs.target)
