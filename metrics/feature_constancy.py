"""The f-constancy error of DTN (Taigman, Polyak & Wolf, ICLR 2017, §3-4).

DTN asks a translation G to keep a fixed function's value: ``f(G(x)) ≈ f(x)`` for source samples ``x``; its training
loss L_CONST = Σ_{x∈s} d(f(x), f(G(x))) with d the squared Euclidean distance (MSE in the unofficial code). As an
evaluation number, the f-constancy error here is the mean over images of ``‖f(x) − f(G(x))‖² / D`` (the mean squared
difference per feature dimension, the training loss's reduction), accumulated in float64. Lower is better; 0 means
G preserves f exactly. Only comparable between rows that use the same f (its weights hash is in the provenance).
"""

from __future__ import annotations

import torch

from harness.core.errors import HarnessError


def f_constancy(features_source: torch.Tensor, features_translated: torch.Tensor) -> dict[str, float]:
    """Mean squared feature difference between f(x) and f(G(x)).

    Args:
        features_source: Float ``(N, D)``, f of the source images.
        features_translated: Float ``(N, D)``, f of their translations, row i belonging to row i.

    Returns:
        ``{"f_constancy": mean_i ‖a_i − b_i‖² / D}`` (float64 accumulation).

    Raises:
        HarnessError: Shapes differ, are not 2-D, or N = 0.
    """
    a, b = features_source.detach(), features_translated.detach()
    if a.dim() != 2 or a.shape != b.shape or a.shape[0] == 0:
        raise HarnessError(f"f-constancy: expected two equal non-empty (N, D) feature tensors, got {tuple(a.shape)} "
                           f"and {tuple(b.shape)}")
    diff = a.to("cpu", torch.float64) - b.to("cpu", torch.float64)
    return {"f_constancy": float(diff.pow(2).mean())}
