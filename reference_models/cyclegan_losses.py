"""CycleGAN's objectives as functions of its networks, shared by the one-model step and the stacked step.

``CycleGAN.train_step`` (``reference_models/cyclegan.py``) calls them with the model's modules;
``StackedCycleGANs`` (``reference_models/cyclegan_stacked.py``) with one model's slice of stacked parameters under
``torch.func.vmap``. Official code: ``models/cycle_gan_model.py`` ``backward_G`` and ``backward_D_basic``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import torch
from torch import nn

from reference_models.training import GANLoss


class TermSwitches(Protocol):
    """What the objectives read of a ``CycleGANConfig`` (which terms are on, the cycle weight)."""

    use_gan: bool
    use_forward_cycle: bool
    use_backward_cycle: bool
    lambda_cycle: float


Net = Callable[[torch.Tensor], torch.Tensor]


def generator_terms(nets: Mapping[str, Net], gan_loss: GANLoss, config: TermSwitches, lambda_identity: float,
                    real_a: torch.Tensor, real_b: torch.Tensor
                    ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
    """The generators' loss terms (official ``backward_G``), for one model's networks or a stacked copy's.

    Args:
        nets: ``G_A``, ``G_B`` and, with ``config.use_gan``, ``D_A``, ``D_B``: modules, or per-model functions
            under ``torch.func.vmap`` (``reference_models.stacked``).
        gan_loss: The adversarial loss.
        config: Which terms are on and their weights.
        lambda_identity: The identity weight in use (``CycleGAN.effective_lambda_identity``).
        real_a: Float ``(N, C_A, H, W)`` in [-1, 1].
        real_b: Float ``(N, C_B, H, W)`` in [-1, 1].

    Returns:
        ``fake_a`` = F(y), ``fake_b`` = G(x) in [-1, 1] (not detached), and the active scalar terms among ``G_A``,
        ``G_B``, ``cycle_A``, ``cycle_B``, ``idt_A``, ``idt_B`` (summed in this order for the backward pass).
    """
    g_a, g_b = nets["G_A"], nets["G_B"]
    fake_b, fake_a = g_a(real_a), g_b(real_b)
    terms: dict[str, torch.Tensor] = {}
    if config.use_gan:
        terms["G_A"] = gan_loss(nets["D_A"](fake_b), True)
        terms["G_B"] = gan_loss(nets["D_B"](fake_a), True)
    if config.use_forward_cycle:
        terms["cycle_A"] = nn.functional.l1_loss(g_b(fake_b), real_a) * config.lambda_cycle
    if config.use_backward_cycle:
        terms["cycle_B"] = nn.functional.l1_loss(g_a(fake_a), real_b) * config.lambda_cycle
    if lambda_identity > 0:
        weight = config.lambda_cycle * lambda_identity
        terms["idt_A"] = nn.functional.l1_loss(g_a(real_b), real_b) * weight
        terms["idt_B"] = nn.functional.l1_loss(g_b(real_a), real_a) * weight
    return fake_a, fake_b, terms


def discriminator_loss(net: Net, gan_loss: GANLoss, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """One discriminator's objective x 0.5 (official ``backward_D_basic``) on ``real`` and pooled ``fake`` images."""
    return (gan_loss(net(real), True) + gan_loss(net(fake), False)) * 0.5
