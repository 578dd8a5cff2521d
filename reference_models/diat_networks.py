"""DIAT's attribute discriminator, perceptual-regularisation denoiser, identity feature loss and enhancement mask.

The equations and the choices behind each are in ``reference_models/diat.py``'s docstring.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class AttributeDiscriminator(nn.Module):
    """4x4 stride-2 convs (LeakyReLU 0.2, instance norm after the first) down to 4x4, then one logit per image."""

    def __init__(self, image_size: int, ndf: int) -> None:
        super().__init__()
        blocks, side, cin, cout = [], image_size, 3, ndf
        while side > 4 and side % 2 == 0:
            norm = [nn.InstanceNorm2d(cout)] if blocks else []
            blocks.append(nn.Sequential(nn.Conv2d(cin, cout, 4, 2, 1), *norm, nn.LeakyReLU(0.2, True)))
            side, cin, cout = side // 2, cout, min(cout * 2, ndf * 8)
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Conv2d(cin, 1, side)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """``(N, 3, S, S)`` in [-1, 1] -> (logits (N,), feature maps of every block)."""
        feats = []
        for block in self.blocks:
            x = block(x)
            feats.append(x)
        return self.head(x).flatten(), feats


class Denoiser(nn.Module):
    """The perceptual-regularisation network: two 3x3 convolutions predicting the noise of an image."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, channels, 3, 1, 1), nn.ReLU(True), nn.Conv2d(channels, 3, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predicted noise, same shape as ``x``."""
        return self.net(x)


def feature_loss(fake: list[torch.Tensor], real: list[torch.Tensor]) -> torch.Tensor:
    """``sum_l ||phi_l(fake) - phi_l(real)||^2 / (C_l H_l W_l)``, averaged over the batch (w_l = 1)."""
    return sum(F.mse_loss(a, b.detach()) for a, b in zip(fake, real, strict=True))


def attribute_mask(transformed: torch.Tensor, source: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """E's mask M in [0, 1] (N, 1, H, W): 5x5 box-smoothed ``mean_c |T(x) - x| > threshold`` (images in [-1, 1])."""
    hard = ((transformed - source).abs().mean(1, keepdim=True) > threshold).float()
    return F.avg_pool2d(hard, 5, stride=1, padding=2, count_include_pad=False)
