"""Normalisation and initialisation shared by every image-to-image network (generators and discriminators).

Conventions of ``junyanz/pytorch-CycleGAN-and-pix2pix`` ``models/networks.py`` (``get_norm_layer``,
``init_weights``): convolutions carry a bias only when the norm is instance/none (batch norm has its own shift),
instance norm has no affine parameters and no running statistics, and weights start from N(0, 0.02) (batch-norm
scales from N(1, 0.02)).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

from torch import nn

from harness.core.errors import HarnessError

Norm = Literal["batch", "instance", "none"]
NORMS: tuple[str, ...] = get_args(Norm)
NormFactory = Callable[[int], nn.Module]


def norm_factory(norm: str) -> tuple[NormFactory, bool]:
    """The normalisation layer factory and whether convolutions before it need a bias.

    Args:
        norm: ``"batch"`` (affine, running statistics), ``"instance"`` (no affine, no running statistics, as the
            official code) or ``"none"``.

    Returns:
        ``(factory, use_bias)``: ``factory(channels)`` builds the layer; ``use_bias`` is False only for batch norm.
    """
    if norm == "batch":
        return (lambda c: nn.BatchNorm2d(c, affine=True, track_running_stats=True)), False
    if norm == "instance":
        return (lambda c: nn.InstanceNorm2d(c, affine=False, track_running_stats=False)), True
    if norm == "none":
        return (lambda c: nn.Identity()), True
    raise HarnessError(f"norm={norm!r} is not one of {', '.join(NORMS)}")


def init_weights(net: nn.Module, gain: float = 0.02) -> nn.Module:
    """Official "normal" init in place: conv/linear weights N(0, gain), biases 0, batch-norm scale N(1, gain).

    Uses the global torch RNG (the harness seeds it). Returns ``net`` for chaining.
    """
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)
    return net
