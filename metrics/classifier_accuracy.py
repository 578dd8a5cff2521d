"""Classifier accuracy of translated images, judged by a classifier trained on the target domain.

Provenance: DTN (Taigman, Polyak & Wolf, ICLR 2017, §5) scores SVHN→MNIST transfer by the accuracy of an MNIST
classifier on the transferred images, with the source image's label as ground truth; StarGAN (Choi et al., CVPR
2018, §5.5, Table 3) reports the classification *error* of an expression classifier on translated faces with the
target expression as ground truth. Both are the same computation: a confusion matrix accumulated over batches
(int64), then accuracy = trace / total in float64, as in the FCN-score code of pytorch-CycleGAN-and-pix2pix.
``confusion_matrix_update`` is the one confusion-matrix update of the metrics; ``metrics.fcn_score`` builds on it.
"""

from __future__ import annotations

import torch

from harness.core.errors import HarnessError


def _predictions(logits_or_preds: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Logits ``(N, K)`` → argmax, or integer labels ``(N,)`` unchanged; int64 on CPU."""
    x = torch.as_tensor(logits_or_preds).detach()
    if x.dim() == 2:
        if x.shape[1] != num_classes:
            raise HarnessError(f"confusion matrix: logits have {x.shape[1]} classes, expected {num_classes}")
        return x.argmax(1).to(device="cpu", dtype=torch.int64)
    if x.dim() != 1 or x.dtype.is_floating_point or x.dtype == torch.bool:
        raise HarnessError(
            f"confusion matrix: expected logits (N, K) or integer labels (N,), got {x.dtype} {tuple(x.shape)}"
        )
    return x.to(device="cpu", dtype=torch.int64)


def new_confusion(num_classes: int) -> torch.Tensor:
    """An all-zero int64 ``(K, K)`` confusion matrix."""
    return torch.zeros(num_classes, num_classes, dtype=torch.int64)


def confusion_matrix_update(
    confusion: torch.Tensor | None, logits_or_preds: torch.Tensor, labels: torch.Tensor, num_classes: int
) -> torch.Tensor:
    """Adds a batch to the confusion matrix: the one confusion update of the metrics (FCN-score uses it too).

    Args:
        confusion: ``(K, K)`` counts so far (int64, or float64 for the FCN script's float matrix; rows: true
            class, columns: predicted class), or None to start from zeros (int64).
        logits_or_preds: Float logits ``(N, K)`` or integer predicted labels ``(N,)``.
        labels: Integer true labels ``(N,)`` in [0, K).
        num_classes: K.

    Returns:
        The updated ``(K, K)`` matrix of ``confusion``'s dtype (a new tensor, on CPU).

    Raises:
        HarnessError: Wrong matrix shape, counts that differ, or a label / prediction outside [0, K).
    """
    preds = _predictions(logits_or_preds, num_classes)
    truth = torch.as_tensor(labels).detach().reshape(-1).to(device="cpu", dtype=torch.int64)
    if truth.shape != preds.shape:
        raise HarnessError(f"confusion matrix: {preds.numel()} predictions but {truth.numel()} labels")
    for name, v in (("predictions", preds), ("labels", truth)):
        if v.numel() and (v.min() < 0 or v.max() >= num_classes):
            raise HarnessError(f"confusion matrix: {name} must be in [0, {num_classes - 1}], got "
                               f"[{int(v.min())}, {int(v.max())}]")
    if confusion is None:
        confusion = new_confusion(num_classes)
    if confusion.shape != (num_classes, num_classes):
        raise HarnessError(
            f"confusion matrix: has shape {tuple(confusion.shape)}, expected ({num_classes}, {num_classes})"
        )
    flat = torch.bincount(truth * num_classes + preds, minlength=num_classes * num_classes)
    return confusion.cpu() + flat.view(num_classes, num_classes).to(confusion.dtype)


def confusion_matrix_compute(confusion: torch.Tensor) -> dict[str, float]:
    """``{"accuracy": trace / total}`` in float64 from an int64 ``(K, K)`` confusion matrix."""
    total = int(confusion.sum())
    if total == 0:
        raise HarnessError("classifier accuracy: no examples were classified")
    return {"accuracy": float(torch.diagonal(confusion).sum().to(torch.float64) / total)}


def classification_accuracy(
    logits_or_preds: torch.Tensor, labels: torch.Tensor, num_classes: int | None = None
) -> dict[str, float]:
    """Fraction of examples whose predicted class equals the label.

    Args:
        logits_or_preds: Float logits ``(N, K)`` or integer predicted labels ``(N,)``.
        labels: Integer labels ``(N,)``.
        num_classes: K; inferred from the logits' width, or from the largest label/prediction, when None.

    Returns:
        ``{"accuracy": value in [0, 1]}``.

    Example:
        >>> classification_accuracy(torch.tensor([0, 1, 1, 2]), torch.tensor([0, 1, 2, 2]))
        {'accuracy': 0.75}
    """
    if num_classes is None:
        x = torch.as_tensor(logits_or_preds)
        if x.dim() == 2:
            num_classes = x.shape[1]
        else:
            both = torch.cat([x.reshape(-1), torch.as_tensor(labels).reshape(-1)]).to(torch.int64)
            num_classes = int(both.max()) + 1 if both.numel() else 1
    return confusion_matrix_compute(confusion_matrix_update(None, logits_or_preds, labels, num_classes))


def classification_error(
    logits_or_preds: torch.Tensor, labels: torch.Tensor, num_classes: int | None = None
) -> dict[str, float]:
    """``{"error": 1 - accuracy}``, the form StarGAN's Table 3 reports (as a percentage there)."""
    return {"error": 1.0 - classification_accuracy(logits_or_preds, labels, num_classes)["accuracy"]}
