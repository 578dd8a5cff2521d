"""The image-to-image discriminators: PatchGAN (16x16, 70x70, 286x286 receptive fields) and PixelGAN (1x1).

Layer for layer as ``junyanz/pytorch-CycleGAN-and-pix2pix`` ``models/networks.py`` (``NLayerDiscriminator``,
``PixelDiscriminator``): the 70x70 PatchGAN has 2,768,705 parameters with batch norm on 6 input channels (pix2pix)
and 2,764,737 with instance norm on 3 (CycleGAN), tested against hand counts.
"""

from __future__ import annotations

import torch
from torch import nn

from harness.core.errors import HarnessError
from reference_models.layers import norm_factory

RECEPTIVE_FIELDS = {16: 1, 70: 3, 286: 5}  # PatchGAN receptive field (px) -> n_layers; 1 = PixelDiscriminator
PAPER_RECEPTIVE_FIELD = 70  # pix2pix's default and CycleGAN's discriminator


class NLayerDiscriminator(nn.Module):
    """PatchGAN: ``n_layers`` stride-2 4x4 convs, one stride-1 conv, then a 1-channel map of real/fake logits.

    Receptive field: n_layers 1 -> 16x16, 3 -> 70x70, 5 -> 286x286. Input ``(N, C, H, W)`` in [-1, 1]; output
    ``(N, 1, H / 2**n_layers - 2, W / 2**n_layers - 2)`` unbounded logits.
    """

    def __init__(self, in_channels: int, *, ndf: int, n_layers: int, norm: str) -> None:
        super().__init__()
        make_norm, use_bias = norm_factory(norm)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)]
        mult = 1
        for n in range(1, n_layers + 1):
            prev, mult = mult, min(2**n, 8)
            stride = 2 if n < n_layers else 1
            layers += [nn.Conv2d(ndf * prev, ndf * mult, 4, stride=stride, padding=1, bias=use_bias),
                       make_norm(ndf * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` -> ``(N, 1, h, w)`` logits."""
        return self.model(x)


class PixelDiscriminator(nn.Module):
    """PixelGAN (1x1 receptive field): three 1x1 convs. Output ``(N, 1, H, W)`` logits."""

    def __init__(self, in_channels: int, *, ndf: int, norm: str) -> None:
        super().__init__()
        make_norm, use_bias = norm_factory(norm)
        self.model = nn.Sequential(
            nn.Conv2d(in_channels, ndf, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf, ndf * 2, 1, bias=use_bias), make_norm(ndf * 2), nn.LeakyReLU(0.2, True),
            nn.Conv2d(ndf * 2, 1, 1, bias=use_bias),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, H, W)`` -> ``(N, 1, H, W)`` logits."""
        return self.model(x)


def patch_discriminator(in_channels: int, *, ndf: int, receptive_field: int, norm: str) -> nn.Module:
    """The discriminator with the given receptive field: 1 (PixelGAN), 16, 70 or 286 (PatchGAN)."""
    if receptive_field == 1:
        return PixelDiscriminator(in_channels, ndf=ndf, norm=norm)
    if receptive_field not in RECEPTIVE_FIELDS:
        raise HarnessError(f"d_receptive_field={receptive_field} is not one of 1, 16, 70, 286")
    return NLayerDiscriminator(in_channels, ndf=ndf, n_layers=RECEPTIVE_FIELDS[receptive_field], norm=norm)


def min_image_size(receptive_field: int) -> int:
    """Smallest image side for which a PatchGAN's last normalised map has at least 2x2 values (norm needs > 1)."""
    if receptive_field == 1:
        return 1
    return 3 * 2 ** RECEPTIVE_FIELDS[receptive_field]


def fields_differ(field_a: int, field_b: int, image_size: int) -> bool:
    """Whether two receptive fields judge an ``image_size``-px image differently.

    A field at least as large as the image sees all of it from every output cell, so two fields that both reach
    the image size are the same "whole image" discriminator (at 64 px the 70x70 PatchGAN is already an ImageGAN).
    They differ exactly when the image is larger than the smaller field: from ``min(field_a, field_b) + 1`` px.
    """
    return field_a != field_b and image_size > min(field_a, field_b)
