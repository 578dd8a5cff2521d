"""Many CycleGANs of one configuration (the faces task's attribute-value pairs) trained in one stacked step.

The step is ``CycleGAN.train_step``'s, for every model at once (``reference_models.stacked``): the generators' terms
(``generator_terms``) of each model under ``torch.func.vmap``, one backward pass of their sum over models and one
stacked Adam step for the G group; each model's fakes through its own history pools (same pools, same seeds); the
discriminators' objectives (``discriminator_loss``) under ``vmap``, one backward pass and one Adam step for the D
group; then the LR schedules. Chosen with ``cyclegan.pair_training="stacked"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.func import vmap

from harness.core.images import check_image_layout
from reference_models.cyclegan import CycleGAN
from reference_models.cyclegan_losses import discriminator_loss, generator_terms
from reference_models.stacked import Params, StackedModels, require_alike

OPTION = "cyclegan.pair_training"


class StackedCycleGANs:
    """The stacked step of M CycleGANs built from one config; the models keep their state between steps.

    Args:
        models: The CycleGANs, in the order of the batches ``train_step`` gets.

    Raises:
        HarnessError: Naming ``cyclegan.pair_training`` when the models differ in configuration, channels or
            identity weight, or their networks cannot be stacked (``StackedModels``).
    """

    def __init__(self, models: Sequence[CycleGAN]) -> None:
        require_alike(models, lambda m: (m.config, m.channels, m.effective_lambda_identity, m.device), OPTION,
                      "configuration, channels, identity weight and device")
        self.models = list(models)
        self.stack = StackedModels(self.models, OPTION)

    def train_step(self, batches: Sequence[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
        """One step of every model, ``batches[m]`` to model m (``CycleGAN.train_step``'s batch and losses).

        Args:
            batches: Per model, ``"A"``, ``"B"``: float32 ``(N, C, H, W)`` in [0, 1], one N for all.

        Returns:
            Per model, its detached scalar device losses, the keys of ``CycleGAN.train_step``.
        """
        first, stack = self.models[0], self.stack
        real_a, real_b = (torch.stack([check_image_layout(b[k], f"cyclegan batch[{k!r}]", first.channels[k]).to(
            first.device, non_blocking=True) for b in batches]) * 2 - 1 for k in ("A", "B"))
        cfg, lambda_identity, gan_loss = first.config, first.effective_lambda_identity, first.gan_loss

        def generators(params: Params, a: torch.Tensor, b: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
            return generator_terms(stack.networks(params), gan_loss, cfg, lambda_identity, a, b)

        fake_a, fake_b, terms = vmap(generators)(stack.detached(("D_A", "D_B")), real_a, real_b)
        stack.optimizers["G"].zero_grad(set_to_none=True)
        sum(terms.values()).sum().backward()  # model m's total depends on model m's parameters only
        stack.optimizers["G"].step()
        losses = {k: v.detach() for k, v in terms.items()}
        if cfg.use_gan:
            fake_a, fake_b = fake_a.detach(), fake_b.detach()
            pooled_b = torch.stack([m.pools["fake_B"].query(f) for m, f in zip(self.models, fake_b, strict=True)])
            pooled_a = torch.stack([m.pools["fake_A"].query(f) for m, f in zip(self.models, fake_a, strict=True)])

            def discriminators(params: Params, a: torch.Tensor, b: torch.Tensor, fa: torch.Tensor,
                               fb: torch.Tensor) -> dict[str, torch.Tensor]:
                nets = stack.networks(params)
                return {"D_A": discriminator_loss(nets["D_A"], gan_loss, b, fb),
                        "D_B": discriminator_loss(nets["D_B"], gan_loss, a, fa)}

            stack.optimizers["D"].zero_grad(set_to_none=True)
            d_losses = vmap(discriminators)(stack.detached(("G_A", "G_B")), real_a, real_b, pooled_a, pooled_b)
            sum(d_losses.values()).sum().backward()
            stack.optimizers["D"].step()
            losses |= {k: v.detach() for k, v in d_losses.items()}
        for scheduler in stack.schedulers.values():
            scheduler.step()
        return [{k: v[index] for k, v in losses.items()} for index in range(len(self.models))]

    def write_back(self) -> None:
        """Copies the stacked optimiser and scheduler state into every model (before its ``state_dict``)."""
        self.stack.write_back()
