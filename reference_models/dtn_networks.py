"""DTN's networks and losses (Taigman, Polyak & Wolf, ICLR 2017): g, the ternary D, L_D, L_GANG, L_TV.

Architecture sources are in ``reference_models/dtn.py``'s docstring: four 4 x 4 transposed convolutions for g, four
convolutions for D (DCGAN layout, the unofficial ``yunjey/domain-transfer-network`` ``model.py`` widths).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

SOURCE_FAKE, TARGET_FAKE, TARGET_REAL = 0, 1, 2  # the ternary D's classes: D1, D2, D3 of the paper


class Decoder(nn.Module):
    """g: representation ``(N, dim)`` → grey image ``(N, 1, 32, 32)`` in [-1, 1] (four transposed convolutions)."""

    def __init__(self, dim: int, ngf: int) -> None:
        super().__init__()
        widths = (8 * ngf, 4 * ngf, 2 * ngf)
        layers: list[nn.Module] = [nn.ConvTranspose2d(dim, widths[0], 4, 1, 0, bias=False)]  # 1 → 4 px
        for c_in, c_out in zip(widths, widths[1:], strict=False):
            layers += [nn.BatchNorm2d(c_in), nn.ReLU(True), nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False)]
        layers += [nn.BatchNorm2d(widths[-1]), nn.ReLU(True), nn.ConvTranspose2d(widths[-1], 1, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """``(N, dim)`` → ``(N, 1, 32, 32)`` in [-1, 1]."""
        return self.net(z[:, :, None, None])


class TernaryDiscriminator(nn.Module):
    """D: grey ``(N, 1, 32, 32)`` in [-1, 1] → logits ``(N, 3)`` over (G(source), G(target), real target)."""

    def __init__(self, ndf: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1), nn.ReLU(True),  # 16 px; no batch norm on the input layer (DCGAN)
            nn.Conv2d(ndf, 2 * ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * ndf), nn.ReLU(True),  # 8 px
            nn.Conv2d(2 * ndf, 4 * ndf, 4, 2, 1, bias=False), nn.BatchNorm2d(4 * ndf), nn.ReLU(True),  # 4 px
            nn.Conv2d(4 * ndf, 3, 4, 1, 0),  # 1 px, three logits
            nn.Flatten(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 1, 32, 32)`` in [-1, 1] → logits ``(N, 3)``."""
        return self.net(x)


def discriminator_loss(d_gs: torch.Tensor, d_gt: torch.Tensor, d_t: torch.Tensor) -> torch.Tensor:
    """L_D from D's logits ``(N, 3)`` on G(source), G(target) and real target images."""
    return _nll(d_gs, SOURCE_FAKE) + _nll(d_gt, TARGET_FAKE) + _nll(d_t, TARGET_REAL)


def generator_gan_loss(d_gs: torch.Tensor, d_gt: torch.Tensor) -> torch.Tensor:
    """L_GANG: both kinds of generated images should be classified as real target (D3)."""
    return _nll(d_gs, TARGET_REAL) + _nll(d_gt, TARGET_REAL)


def _nll(logits: torch.Tensor, target: int) -> torch.Tensor:
    """-E log softmax(logits)[target]."""
    return F.cross_entropy(logits, torch.full((logits.shape[0],), target, dtype=torch.long, device=logits.device))


def total_variation(z: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """L_TV with B = 1, averaged over images and pixels: mean of sqrt(dx² + dy² + eps) (eps keeps 0 differentiable)."""
    dx = z[:, :, :-1, 1:] - z[:, :, :-1, :-1]
    dy = z[:, :, 1:, :-1] - z[:, :, :-1, :-1]
    return (dx.pow(2) + dy.pow(2) + eps).sqrt().mean()
