"""DIAT's objectives as functions of its networks, shared by the one-model step and the stacked step.

``DIAT.train_step`` (``reference_models/diat.py``) calls them with the model's modules; ``StackedDIATs``
(``reference_models/diat_stacked.py``) with one model's slice of stacked parameters under ``torch.func.vmap``. The
losses are those of ``reference_models/diat.py``'s docstring (Li, Zuo, Zhang 2016, §3).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import torch
from torch.nn import functional as F

from reference_models.diat_networks import attribute_mask, feature_loss


class LossWeights(Protocol):
    """What the objectives read of a ``DIATConfig``: the loss weights."""

    lambda_att: float
    lambda_id: float
    lambda_reg: float
    lambda_pix: float


class IdentityNetwork(Protocol):
    """What the objectives read of ``IdentityFeatures``: the frozen network, images in [0, 1] -> feature maps."""

    net: Callable[[torch.Tensor], list[torch.Tensor]]


Nets = Mapping[str, Callable[[torch.Tensor], Any]]


def denoise_loss(denoiser: Callable[[torch.Tensor], torch.Tensor], clean: torch.Tensor,
                 noise: torch.Tensor) -> torch.Tensor:
    """The denoiser's ``||f(x + n) - n||^2`` (mean) on images in [-1, 1] and their noise."""
    return F.mse_loss(denoiser(clean + noise), noise)


def _identity_features(nets: Nets, identity: IdentityNetwork | None, images: torch.Tensor) -> list[torch.Tensor]:
    """DIAT: the frozen identity network's maps of images in [-1, 1]; DIAT-A: D's last two convolutional maps."""
    if identity is not None:
        return identity.net((images + 1) / 2)
    return nets["D"](images)[1][-2:]


def transform_losses(nets: Nets, identity: IdentityNetwork | None, config: LossWeights, x: torch.Tensor
                     ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """T's objective on source images ``x`` (N, 3, H, W) in [-1, 1].

    ``nets`` are one model's networks or, under ``vmap``, one slice of a stacked copy's
    (``reference_models.diat_stacked``).

    Returns:
        ``T(x)``, ``L_T`` and its terms ``T/att``, ``T/id``, ``T/reg`` (scalars, not detached).
    """
    fake = nets["T"](x)
    att = F.binary_cross_entropy_with_logits(nets["D"](fake)[0], torch.ones(x.size(0), device=x.device))
    ident = feature_loss(_identity_features(nets, identity, fake), _identity_features(nets, identity, x))
    reg = nets["DN"](fake).pow(2).mean()
    total = config.lambda_att * att + config.lambda_id * ident + config.lambda_reg * reg
    return fake, total, {"T/att": att, "T/id": ident, "T/reg": reg}


def enhance(nets: Nets, x: torch.Tensor, transformed: torch.Tensor) -> torch.Tensor:
    """``E(x, T(x)) = T(x) + e([x, T(x)])`` clamped to [-1, 1]."""
    return (transformed + nets["E"](torch.cat([x, transformed], 1))).clamp(-1, 1)


def enhance_losses(nets: Nets, config: LossWeights, x: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """E's objective on source images ``x`` in [-1, 1] (T frozen): ``E(x, T(x))``, ``L_E``, ``E/att``, ``E/pix``."""
    with torch.no_grad():
        transformed = nets["T"](x)
    mask = attribute_mask(transformed, x)
    out = enhance(nets, x, transformed)
    att = F.binary_cross_entropy_with_logits(nets["D"](out)[0], torch.ones(x.size(0), device=x.device))
    pix = ((1 - mask) * (out - x)).abs().mean() + (mask * (out - transformed)).abs().mean()
    return out, config.lambda_att * att + config.lambda_pix * pix, {"E/att": att, "E/pix": pix}


def discriminator_loss(d: Callable[[torch.Tensor], Any], real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """D's binary cross-entropy on reference images (real) and T's or E's outputs (fake), both in [-1, 1]."""
    real_logits, fake_logits = d(real)[0], d(fake)[0]
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))
