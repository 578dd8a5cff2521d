"""Many DIATs of one configuration (the faces task's attribute-value pairs) trained in one stacked step.

The step is ``DIAT.train_step``'s, for every model at once (``reference_models.stacked``): the stage of the models'
common step count; the denoiser's noise drawn model by model in model order (the global RNG's draws of the one-by-one
step); each stage's objective (``denoise_loss``, ``transform_losses``, ``enhance_losses``, ``discriminator_loss``) of
each model under ``torch.func.vmap``, one backward pass of their sum over models and one stacked Adam step. The
frozen identity network is shared, unstacked. Chosen with ``diat.pair_training="stacked"``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.func import vmap

from harness.core.images import check_image_layout
from reference_models.diat import DIAT
from reference_models.diat_losses import denoise_loss, discriminator_loss, enhance_losses, transform_losses
from reference_models.stacked import Params, StackedModels, require_alike

OPTION = "diat.pair_training"


class StackedDIATs:
    """The stacked step of M DIATs built from one config; the models keep their state (and step) between steps.

    Args:
        models: The DIATs, in the order of the batches ``train_step`` gets.

    Raises:
        HarnessError: Naming ``diat.pair_training`` when the models differ in configuration, identity network,
            device or step, or their networks cannot be stacked (``StackedModels``).
    """

    def __init__(self, models: Sequence[DIAT]) -> None:
        require_alike(models, lambda m: (m.config, m.identity, m.device, m.step), OPTION,
                      "configuration, identity network, device and step")
        self.models = list(models)
        self.stack = StackedModels(self.models, OPTION)

    def _update(self, name: str, per_model: torch.Tensor) -> None:
        for optimizer in self.stack.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        per_model.sum().backward()  # model m's loss depends on model m's parameters only
        self.stack.optimizers[name].step()

    def train_step(self, batches: Sequence[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
        """One step of every model, ``batches[m]`` to model m (``DIAT.train_step``'s batch and losses).

        Args:
            batches: Per model, ``"A"`` source and ``"B"`` reference images, float (N, 3, H, W) in [0, 1], one N.

        Returns:
            Per model, its detached scalar device losses, the keys of ``DIAT.train_step`` at this stage.
        """
        first, stack = self.models[0], self.stack
        x, y = (torch.stack([check_image_layout(b[k], f"diat batch[{k!r}]", 3).to(first.device, non_blocking=True)
                             for b in batches]) * 2 - 1 for k in ("A", "B"))
        phase, cfg, identity = first.phase(), first.config, first.identity
        for model in self.models:
            model.step += 1
        if phase == "denoise":
            clean = torch.cat([x, y], 1)
            noise = torch.stack([torch.randn_like(c) * cfg.noise_sigma for c in clean])  # model by model, as serial
            loss = vmap(lambda p, c, n: denoise_loss(stack.networks(p)["DN"], c, n))(
                stack.detached(()), clean, noise)
            self._update("DN", loss)
            losses = {"DN/loss": loss.detach()}
        else:
            train = "T" if phase == "transform" else "E"

            def generator(params: Params, source: torch.Tensor
                          ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
                nets = stack.networks(params)
                if phase == "transform":
                    return transform_losses(nets, identity, cfg, source)
                return enhance_losses(nets, cfg, source)

            frozen = [name for name in stack.params if name != train]
            fake, total, terms = vmap(generator)(stack.detached(frozen), x)
            self._update(train, total)
            fake = fake.detach()
            d_loss = vmap(lambda p, real, f: discriminator_loss(stack.networks(p)["D"], real, f))(
                stack.detached([name for name in stack.params if name != "D"]), y, fake)
            self._update("D", d_loss)
            losses = {k: v.detach() for k, v in terms.items()} | {"D/loss": d_loss.detach()}
        return [{k: v[index] for k, v in losses.items()} for index in range(len(self.models))]

    def write_back(self) -> None:
        """Copies the stacked optimiser state into every model (before its ``state_dict``)."""
        self.stack.write_back()
