"""The image-to-image generators: the pix2pix U-Net (and its encoder-decoder ablation) and the CycleGAN ResNet.

Layer for layer as ``junyanz/pytorch-CycleGAN-and-pix2pix`` ``models/networks.py`` (``UnetGenerator``,
``UnetSkipConnectionBlock``, ``ResnetGenerator``, ``ResnetBlock``), so parameter counts at paper width equal the
official ones: U-Net-256 (batch norm) 54,413,955; ResNet-9 (instance norm) 11,378,179; ResNet-6 7,837,699 (tested
in ``tests/reference_models/test_generators.py`` against hand counts). The encoder-decoder is the pix2pix paper's
ablation (the U-Net with its skip connections severed); it is not in the official code.
"""

from __future__ import annotations

import torch
from torch import nn

from harness.core.errors import HarnessError
from reference_models.layers import norm_factory

PAPER_DROPOUT_LEVELS = 3  # pix2pix appendix 6.1.1: decoder CD512-CD512-CD512-C512-C256-C128-C64


def dropout_levels(num_downs: int) -> int:
    """How many U-Net levels just outside the innermost carry dropout: ``max(3, num_downs - 5)``.

    The official code puts dropout on its ``num_downs - 5`` middle levels: three at ``num_downs=8`` (the paper's
    256 px net), but none at 5, one at 6 and two at 7 (its ``unet_128``). The paper's three dropout layers are
    what the harness keeps at every depth, so the small nets of the smoke and standard profiles regularise like
    the paper's; at depth 8 and above this is exactly the official placement.
    """
    return max(PAPER_DROPOUT_LEVELS, num_downs - 5)


class UnetBlock(nn.Module):
    """One level of the U-Net: down-sample, the inner levels, up-sample, then (except outermost) concat the input.

    With ``skip=False`` the level does not concatenate, giving the encoder-decoder of the pix2pix ablation.
    """

    def __init__(self, outer_nc: int, inner_nc: int, *, input_nc: int | None, submodule: nn.Module | None,
                 outermost: bool, norm: str, dropout: bool, skip: bool) -> None:
        super().__init__()
        self.outermost = outermost
        self.skip = skip
        make_norm, use_bias = norm_factory(norm)
        innermost = submodule is None
        down_conv = nn.Conv2d(input_nc or outer_nc, inner_nc, 4, stride=2, padding=1, bias=use_bias)
        # The inner levels return [x, y] concatenated when they have skips, so the up-conv sees twice the channels.
        up_in = inner_nc if innermost or not skip else inner_nc * 2
        if outermost:
            down = [down_conv]
            up = [nn.ReLU(True), nn.ConvTranspose2d(up_in, outer_nc, 4, stride=2, padding=1), nn.Tanh()]
        elif innermost:
            down = [nn.LeakyReLU(0.2, True), down_conv]
            up = [nn.ReLU(True), nn.ConvTranspose2d(up_in, outer_nc, 4, stride=2, padding=1, bias=use_bias),
                  make_norm(outer_nc)]
        else:
            down = [nn.LeakyReLU(0.2, True), down_conv, make_norm(inner_nc)]
            up = [nn.ReLU(True), nn.ConvTranspose2d(up_in, outer_nc, 4, stride=2, padding=1, bias=use_bias),
                  make_norm(outer_nc)]
        if dropout:
            up.append(nn.Dropout(0.5))
        middle = [] if submodule is None else [submodule]
        self.model = nn.Sequential(*down, *middle, *up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C_in, H, W)`` -> ``(N, C_out [+ C_in], H, W)``."""
        y = self.model(x)
        if self.outermost or not self.skip:
            return y
        return torch.cat([x, y], 1)


class UnetGenerator(nn.Module):
    """The pix2pix U-Net (``skip=True``) or its encoder-decoder ablation (``skip=False``).

    ``num_downs`` halvings take an image of side ``2**num_downs`` to 1x1 (8 for 256 px). Widths as the official
    code: the innermost and the ``num_downs - 5`` middle levels use ``8 * ngf``, then ``4, 2, 1 * ngf``. With
    ``dropout``, the ``dropout_levels(num_downs)`` levels just outside the innermost drop with p = 0.5 (the
    innermost up-conv has none, as the official code), so at ``num_downs=8`` the decoder reads
    C512-CD512-CD512-CD512-C256-C128-C64 (the paper's appendix lists the dropout on the first three decoder
    layers; the parameter count is the same).

    Input ``(N, in_channels, H, W)`` in [-1, 1] with H, W divisible by ``2**num_downs``; output in [-1, 1] (tanh).
    """

    def __init__(self, in_channels: int, out_channels: int, *, num_downs: int, ngf: int, norm: str, dropout: bool,
                 skip: bool = True) -> None:
        super().__init__()
        if num_downs < 5:
            raise HarnessError(f"num_downs={num_downs} must be at least 5 (the U-Net has 5 fixed levels)")
        block = UnetBlock(ngf * 8, ngf * 8, input_nc=None, submodule=None, outermost=False, norm=norm, dropout=False,
                          skip=skip)
        widths = [(ngf * 8, ngf * 8)] * (num_downs - 5) + [(ngf * 4, ngf * 8), (ngf * 2, ngf * 4), (ngf, ngf * 2)]
        for level, (outer, inner) in enumerate(widths, start=1):  # level 1 is right outside the innermost
            block = UnetBlock(outer, inner, input_nc=None, submodule=block, outermost=False, norm=norm,
                              dropout=dropout and level <= dropout_levels(num_downs), skip=skip)
        self.model = UnetBlock(out_channels, ngf, input_nc=in_channels, submodule=block, outermost=True, norm=norm,
                               dropout=False, skip=skip)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_channels, H, W)`` in [-1, 1] -> ``(N, out_channels, H, W)`` in [-1, 1]."""
        return self.model(x)


class ResnetBlock(nn.Module):
    """Residual block: reflect-pad, 3x3 conv, norm, ReLU, [dropout], reflect-pad, 3x3 conv, norm; plus identity."""

    def __init__(self, dim: int, *, norm: str, dropout: bool) -> None:
        super().__init__()
        make_norm, use_bias = norm_factory(norm)
        layers: list[nn.Module] = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), make_norm(dim),
                                   nn.ReLU(True)]
        if dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), make_norm(dim)]
        self.block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, dim, H, W)`` -> same shape."""
        return x + self.block(x)


class ResnetGenerator(nn.Module):
    """The CycleGAN generator (Johnson et al. style): c7s1-ngf, d2ngf, d4ngf, ``n_blocks`` x R4ngf, u2ngf, ungf, c7s1.

    Input ``(N, in_channels, H, W)`` in [-1, 1] with H, W divisible by 4; output in [-1, 1] (tanh).
    """

    def __init__(self, in_channels: int, out_channels: int, *, ngf: int, norm: str, n_blocks: int,
                 dropout: bool = False) -> None:
        super().__init__()
        make_norm, use_bias = norm_factory(norm)
        layers: list[nn.Module] = [nn.ReflectionPad2d(3), nn.Conv2d(in_channels, ngf, 7, bias=use_bias),
                                   make_norm(ngf), nn.ReLU(True)]
        for mult in (1, 2):
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=use_bias),
                       make_norm(ngf * mult * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, norm=norm, dropout=dropout) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                          bias=use_bias),
                       make_norm(ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, out_channels, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, in_channels, H, W)`` in [-1, 1] -> ``(N, out_channels, H, W)`` in [-1, 1]."""
        return self.model(x)
