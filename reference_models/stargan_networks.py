"""StarGAN's networks and gradient penalty, layer for layer as ``yunjey/stargan`` ``model.py`` / ``solver.py``.

Module names match the official code (``main.<i>``, ``conv1``, ``conv2``), so official checkpoints load with
``load_state_dict``. At 128 px and 5 attributes: G 8,430,528 and D 44,762,048 parameters (tested).
"""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    """Official ``ResidualBlock``: conv3x3-IN-ReLU-conv3x3-IN plus the input (no biases, affine IN)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), nn.InstanceNorm2d(dim, affine=True, track_running_stats=True),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, 3, 1, 1, bias=False), nn.InstanceNorm2d(dim, affine=True, track_running_stats=True))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, dim, H, W)`` -> same shape."""
        return x + self.main(x)


def _conv_in_relu(cin: int, cout: int, k: int, s: int, p: int, transpose: bool = False) -> list[nn.Module]:
    conv = (nn.ConvTranspose2d if transpose else nn.Conv2d)(cin, cout, k, s, p, bias=False)
    return [conv, nn.InstanceNorm2d(cout, affine=True, track_running_stats=True), nn.ReLU(inplace=True)]


class Generator(nn.Module):
    """Official ``Generator``: image (N, 3, H, W) in [-1, 1] + label (N, c_dim) -> image in [-1, 1].

    Module names match ``model.py`` (``main.<i>``), so official checkpoints load with ``load_state_dict``.
    """

    def __init__(self, conv_dim: int = 64, c_dim: int = 5, repeat_num: int = 6) -> None:
        super().__init__()
        layers = _conv_in_relu(3 + c_dim, conv_dim, 7, 1, 3)
        dim = conv_dim
        for _ in range(2):
            layers += _conv_in_relu(dim, dim * 2, 4, 2, 1)
            dim *= 2
        layers += [ResidualBlock(dim) for _ in range(repeat_num)]
        for _ in range(2):
            layers += _conv_in_relu(dim, dim // 2, 4, 2, 1, transpose=True)
            dim //= 2
        layers += [nn.Conv2d(dim, 3, 7, 1, 3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Tiles ``c`` over the image and concatenates it as extra input channels."""
        tiled = c.view(c.size(0), c.size(1), 1, 1).expand(-1, -1, x.size(2), x.size(3))
        return self.main(torch.cat([x, tiled], dim=1))


class Discriminator(nn.Module):
    """Official ``Discriminator``: (N, 3, S, S) -> (source map (N, 1, S/2**r, S/2**r), class logits (N, c_dim))."""

    def __init__(self, image_size: int = 128, conv_dim: int = 64, c_dim: int = 5, repeat_num: int = 6) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, conv_dim, 4, 2, 1), nn.LeakyReLU(0.01)]
        dim = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(dim, dim * 2, 4, 2, 1), nn.LeakyReLU(0.01)]
            dim *= 2
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(dim, 1, 3, 1, 1, bias=False)
        self.conv2 = nn.Conv2d(dim, c_dim, image_size // 2**repeat_num, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Source logits map and domain logits."""
        h = self.main(x)
        return self.conv1(h), self.conv2(h).view(x.size(0), -1)


def gradient_penalty(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """WGAN-GP term E[(||d out / d x||_2 - 1)^2] over the batch (official ``solver.gradient_penalty``).

    Args:
        out: D's source output on ``x`` (any shape with batch first), built with ``create_graph``-able ops.
        x: The interpolates, ``requires_grad=True``.
    """
    grad = torch.autograd.grad(outputs=out, inputs=x, grad_outputs=torch.ones_like(out), retain_graph=True,
                               create_graph=True, only_inputs=True)[0]
    norm = grad.reshape(grad.size(0), -1).pow(2).sum(1).sqrt()
    return (norm - 1).pow(2).mean()
