"""FCN-score: segmentation accuracy of translated images, as in pix2pix (§4.1) and CycleGAN (§5.1.1).

Provenance: reproduces ``scripts/eval_cityscapes/util.py`` (``fast_hist``, ``get_scores``) and ``evaluate.py`` of
``phillipi/pix2pix@89ff2a8`` (the same code ships in ``junyanz/pytorch-CycleGAN-and-pix2pix``). One confusion matrix
is accumulated over all frames, rows = ground-truth label, columns = prediction; ground-truth pixels whose label is
not in ``[0, K)`` are dropped (so Cityscapes' 255 = ignore is excluded). Then, in float64:

- per-pixel accuracy = ``trace / sum``
- per-class accuracy = ``nanmean(diag / rowsum)``
- class IoU = ``nanmean(diag / (rowsum + colsum - diag))``

A class absent from both ground truth and prediction gives 0/0 = NaN and is skipped by ``nanmean``, like numpy.
The papers score labels→photo with a Caffe FCN-8s; the photo→labels direction (CycleGAN Table 3) scores the
generator's label-colour output directly, mapped to the nearest palette colour (``colors_to_train_ids``).
"""

from __future__ import annotations

import torch

from harness.core.errors import HarnessError

PIXEL_ACC = "pixel_acc"
CLASS_ACC = "class_acc"
CLASS_IOU = "class_iou"
KEYS = (PIXEL_ACC, CLASS_ACC, CLASS_IOU)


def new_confusion(num_classes: int) -> torch.Tensor:
    """An all-zero int64 ``(K, K)`` confusion matrix."""
    return torch.zeros(num_classes, num_classes, dtype=torch.int64)


def fcn_confusion_update(
    hist: torch.Tensor, pred: torch.Tensor, target: torch.Tensor, num_classes: int
) -> torch.Tensor:
    """Adds one batch of predictions to a confusion matrix, exactly like ``fast_hist``.

    Args:
        hist: int64 or float64 ``(K, K)``; rows = ground truth, columns = prediction.
        pred: Integer ``(N, H, W)`` predicted class ids in ``[0, K)``.
        target: Integer ``(N, H, W)`` ground-truth ids; pixels outside ``[0, K)`` (e.g. 255) are ignored.
        num_classes: K.

    Returns:
        ``hist`` plus this batch's counts (a new tensor of ``hist``'s dtype, on CPU).

    Raises:
        HarnessError: Shape mismatch, non-integer labels, or predictions outside ``[0, K)``.
    """
    if hist.shape != (num_classes, num_classes):
        raise HarnessError(f"fcn confusion: expected a ({num_classes}, {num_classes}) matrix, got {tuple(hist.shape)}")
    if pred.shape != target.shape:
        raise HarnessError(f"fcn confusion: prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    if pred.is_floating_point() or target.is_floating_point():
        raise HarnessError("fcn confusion: expected integer class-id maps for prediction and target, got floats")
    pred = pred.reshape(-1).to(device="cpu", dtype=torch.int64)
    target = target.reshape(-1).to(device="cpu", dtype=torch.int64)
    keep = (target >= 0) & (target < num_classes)
    pred, target = pred[keep], target[keep]
    if pred.numel() and (pred.min() < 0 or pred.max() >= num_classes):
        raise HarnessError(f"fcn confusion: predicted ids must lie in [0, {num_classes}), got "
                           f"[{int(pred.min())}, {int(pred.max())}]")
    counts = torch.bincount(num_classes * target + pred, minlength=num_classes**2)
    return hist.cpu() + counts.reshape(num_classes, num_classes).to(hist.dtype)


def per_class_scores(hist: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-class accuracy and IoU from a confusion matrix.

    Args:
        hist: ``(K, K)`` counts, rows = ground truth, columns = prediction.

    Returns:
        ``(acc, iou)``, each float64 ``(K,)`` in [0, 1]; NaN where the denominator is 0 (class absent from the
        ground truth for ``acc``; absent from both ground truth and prediction for ``iou``).
    """
    hist = hist.to(torch.float64)
    diag = hist.diagonal()
    rows, cols = hist.sum(dim=1), hist.sum(dim=0)
    return diag / rows, diag / (rows + cols - diag)


def fcn_scores_from_confusion(hist: torch.Tensor) -> dict[str, float]:
    """The three FCN-scores of an accumulated confusion matrix (``get_scores`` of the official script).

    Args:
        hist: ``(K, K)`` counts, rows = ground truth, columns = prediction.

    Returns:
        ``{"pixel_acc", "class_acc", "class_iou"}``, each in [0, 1] (NaN for an empty matrix).

    Example:
        >>> h = torch.tensor([[3, 1], [0, 4]])
        >>> round(fcn_scores_from_confusion(h)["class_iou"], 4)  # (3/4 + 4/5) / 2
        0.775
    """
    hist = hist.to(torch.float64)
    acc, iou = per_class_scores(hist)
    return {
        PIXEL_ACC: float(hist.diagonal().sum() / hist.sum()),
        CLASS_ACC: float(torch.nanmean(acc)),
        CLASS_IOU: float(torch.nanmean(iou)),
    }


def fcn_score(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> dict[str, float]:
    """FCN-scores of one set of predictions (one confusion matrix over all frames).

    Args:
        pred: Integer ``(N, H, W)`` predicted class ids in ``[0, K)``.
        target: Integer ``(N, H, W)`` ground-truth ids; ids outside ``[0, K)`` are ignored.
        num_classes: K.

    Returns:
        ``{"pixel_acc", "class_acc", "class_iou"}`` in [0, 1].
    """
    return fcn_scores_from_confusion(fcn_confusion_update(new_confusion(num_classes), pred, target, num_classes))


def colors_to_train_ids(images: torch.Tensor, palette: torch.Tensor, chunk: int = 1 << 16) -> torch.Tensor:
    """Maps label-colour images to class ids by the nearest palette colour (Euclidean in RGB).

    Args:
        images: Float ``(N, 3, H, W)`` in [0, 1], e.g. a generator's photo→labels output.
        palette: uint8 (or integer) ``(K, 3)`` RGB colour of each class id.
        chunk: Pixels per distance computation (memory bound only; the result does not depend on it).

    Returns:
        int64 ``(N, H, W)`` in ``[0, K)``; ties go to the lower class id.
    """
    if images.dim() != 4 or images.shape[1] != 3:
        raise HarnessError(f"colors_to_train_ids: expected images (N, 3, H, W), got {tuple(images.shape)}")
    palette = torch.as_tensor(palette)
    if palette.dim() != 2 or palette.shape[1] != 3:
        raise HarnessError(f"colors_to_train_ids: expected a (K, 3) palette, got {tuple(palette.shape)}")
    n, _, h, w = images.shape
    pixels = images.detach().cpu().to(torch.float64).permute(0, 2, 3, 1).reshape(-1, 3) * 255.0
    colours = palette.to(torch.float64)
    out = torch.empty(pixels.shape[0], dtype=torch.int64)
    for start in range(0, pixels.shape[0], chunk):
        block = pixels[start : start + chunk]
        dist = ((block[:, None, :] - colours[None, :, :]) ** 2).sum(dim=2)
        out[start : start + chunk] = dist.argmin(dim=1)
    return out.reshape(n, h, w)
