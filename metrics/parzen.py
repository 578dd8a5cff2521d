"""Gaussian Parzen-window log-likelihood, the vanilla GAN's evaluation (Goodfellow et al., NIPS 2014, §5, Table 1).

Matches the official code (``goodfeli/adversarial@1720041f``, ``parzen_ll.py``): an isotropic Gaussian of width
sigma is centred on every generated sample mu_j, and a test example x gets

    log p(x) = logmeanexp_j(-0.5 * ||(x - mu_j) / sigma||^2) - d * log(sigma * sqrt(2 * pi)),

with d the input dimension. Sigma is chosen from ``numpy.logspace(-1, 0, 10)`` by the highest mean log-likelihood on
validation examples; the reported value is the mean over the test set with standard error ``std / sqrt(N_test)``
(numpy's population std, as in the official code). The official code works on pixel values in [0, 1]; so do we.
Everything is accumulated in float64, and results do not depend on ``batch_size``.

The authors warn the estimator "has somewhat high variance and does not perform well in high dimensional spaces".
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from harness.core.errors import HarnessError
from harness.core.images import check_images
from metrics.spec import FolderInputs

FOLDER_MAX_VALUES = 100_000_000  # parzen_on_folders: pixel values held in memory (about 1.2 GB), refused above
PAPER_SIGMAS = tuple(float(s) for s in np.logspace(-1, 0, 10))  # official sigma grid: 10 values from 0.1 to 1.0


def _flatten(x: torch.Tensor, name: str) -> torch.Tensor:
    """Images ``(N, C, H, W)`` in [0, 1] or vectors ``(N, D)`` → float64 ``(N, D)`` on CPU."""
    if not isinstance(x, torch.Tensor) or x.dim() not in (2, 4):
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise HarnessError(f"{name}: expected images (N, C, H, W) or vectors (N, D), got {shape}")
    if x.dim() == 4:
        check_images(x, name)
    if x.shape[0] == 0:
        raise HarnessError(f"{name}: expected at least one example, got none")
    return x.detach().reshape(x.shape[0], -1).to(device="cpu", dtype=torch.float64)


def _log_density_grid(x: torch.Tensor, mu: torch.Tensor, sigmas: Sequence[float], batch_size: int) -> torch.Tensor:
    """Parzen log-density of each row of ``x`` for several sigmas.

    Args:
        x: Float64 ``(N, D)``.
        mu: Float64 ``(M, D)``, the kernel centres.
        sigmas: S positive kernel widths.
        batch_size: Rows of ``x`` per distance computation (memory only).

    Returns:
        Float64 ``(S, N)``.
    """
    if batch_size < 1:
        raise HarnessError(f"parzen: batch_size must be a positive integer, got {batch_size}")
    if any(not s > 0 for s in sigmas):
        raise HarnessError(f"parzen: sigmas must be positive, got {list(sigmas)}")
    if x.shape[1] != mu.shape[1]:
        raise HarnessError(f"parzen: examples have dimension {x.shape[1]} but samples have {mu.shape[1]}")
    d, m = x.shape[1], mu.shape[0]
    sig = torch.tensor(list(sigmas), dtype=torch.float64).view(-1, 1, 1)
    const = d * torch.log(sig.view(-1, 1) * math.sqrt(2 * math.pi)) + math.log(m)
    mu_sq = (mu * mu).sum(1)
    out = []
    for chunk in x.split(batch_size):
        # ||x - mu||^2 by expansion: exact enough in float64 for pixel data, and row results do not mix.
        sq = ((chunk * chunk).sum(1, keepdim=True) + mu_sq - 2.0 * chunk @ mu.T).clamp_min(0.0)
        out.append(torch.logsumexp(-0.5 * sq / sig**2, dim=2) - const)
    return torch.cat(out, dim=1)


def parzen_log_density(x: torch.Tensor, mu: torch.Tensor, sigma: float, batch_size: int) -> torch.Tensor:
    """Log-density of each example under a Gaussian Parzen window centred on ``mu``.

    Args:
        x: Images ``(N, C, H, W)`` in [0, 1] or vectors ``(N, D)``.
        mu: Kernel centres (generated samples), same layout as ``x``: ``(M, C, H, W)`` or ``(M, D)``.
        sigma: Kernel width (in pixel-value units).
        batch_size: Examples per distance computation; the result does not depend on it.

    Returns:
        Float64 ``(N,)`` log-densities (nats).

    Example:
        log of the mean of N(0; 0, 1) and N(0; 1, 1):

        >>> parzen_log_density(torch.zeros(1, 1), torch.tensor([[0.0], [1.0]]), 1.0, 10)
        tensor([-1.1380], dtype=torch.float64)
    """
    return _log_density_grid(_flatten(x, "parzen examples"), _flatten(mu, "parzen samples"), [sigma], batch_size)[0]


def select_sigma(
    samples: torch.Tensor, validation: torch.Tensor, sigmas: Sequence[float], batch_size: int
) -> tuple[float, dict[float, float]]:
    """Cross-validates the kernel width: the sigma with the highest mean validation log-likelihood.

    Args:
        samples: Generated samples ``(M, C, H, W)`` in [0, 1] or ``(M, D)``.
        validation: Validation examples, same layout.
        sigmas: Candidate widths.
        batch_size: Examples per distance computation.

    Returns:
        ``(best sigma, {sigma: mean validation log-likelihood})``; ties go to the first candidate.
    """
    if len(sigmas) == 0:
        raise HarnessError("parzen: sigmas must hold at least one candidate width")
    grid = _log_density_grid(
        _flatten(validation, "parzen validation"), _flatten(samples, "parzen samples"), sigmas, batch_size
    )
    means = grid.mean(1)
    scores = {float(s): float(v) for s, v in zip(sigmas, means, strict=True)}
    return float(sigmas[int(torch.argmax(means))]), scores


def parzen_log_likelihood(
    samples: torch.Tensor,
    validation: torch.Tensor,
    test: torch.Tensor,
    *,
    sigmas: Sequence[float] = PAPER_SIGMAS,
    batch_size: int = 100,
) -> dict[str, float]:
    """The paper's protocol: choose sigma on ``validation``, report the mean test log-likelihood and its SE.

    Args:
        samples: Generated samples ``(M, C, H, W)`` in [0, 1] or ``(M, D)`` (paper: 10,000).
        validation: Validation examples for choosing sigma (official code: 1,000), same layout.
        test: Test examples, same layout.
        sigmas: Candidate widths (default: the official ``logspace(-1, 0, 10)``).
        batch_size: Examples per distance computation (official: 100); results do not depend on it.

    Returns:
        ``{"parzen_ll": mean test log-likelihood (nats), "parzen_se": std / sqrt(N_test),
        "parzen_sigma": chosen sigma}``.
    """
    sigma, _ = select_sigma(samples, validation, sigmas, batch_size)
    ll = parzen_log_density(test, samples, sigma, batch_size)
    std = float(ll.std(unbiased=False)) if ll.numel() > 1 else 0.0
    return {"parzen_ll": float(ll.mean()), "parzen_se": std / math.sqrt(ll.numel()), "parzen_sigma": sigma}


def parzen_on_folders(inputs: FolderInputs) -> dict[str, float]:
    """``evaluate --metric parzen``: ``--pred`` are the generated samples, ``--target`` the real held-out images.

    The target folder is split in file order: the first half (at most 1,000 images, the official ``limit_size``)
    chooses sigma, the second half is the test set, so sigma is never chosen on the examples it is scored on.
    Every kernel centre meets every example, so both folders are held in memory (float32, plus a float64 copy):
    their total size is checked against ``FOLDER_MAX_VALUES`` before anything is decoded.
    """
    pred, target = inputs.pred, inputs.target
    if target is None or len(target) < 2:
        raise HarnessError("parzen: --target must hold at least 2 real images (half choose sigma, half are scored)")
    if pred.values_per_image != target.values_per_image:
        raise HarnessError(f"parzen: --pred images have {pred.channels}x{pred.size[0]}x{pred.size[1]} values but "
                           f"--target images {target.channels}x{target.size[0]}x{target.size[1]}; expected the same")
    total = (len(pred) + len(target)) * pred.values_per_image
    if total > FOLDER_MAX_VALUES:
        raise HarnessError(
            f"parzen: --pred and --target hold {len(pred)} + {len(target)} images of {pred.values_per_image:,} values "
            f"= {total:,} values, about {total * 12 / 1e9:.1f} GB in memory (float32 + float64); the limit is "
            f"{FOLDER_MAX_VALUES:,} values (the paper's MNIST protocol: 11,000 x 784 = 8.6M); use fewer or smaller "
            "images")
    real = target.load()
    half = len(target) // 2
    return parzen_log_likelihood(pred.load(), real[: min(half, 1000)], real[half:])
