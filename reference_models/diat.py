"""DIAT and DIAT-A: Li, Zuo, Zhang, "Deep Identity-aware Transfer of Facial Attributes", arXiv 1610.05586v1 (2016).

No implementation was ever published; this one follows the v1 text as summarised by secondary sources (the
published-results notes, §6, tag [S]) and says below where the text is silent and what was chosen instead.

Paper (v1) -> code. One model per attribute value pair, transferring source images x to the reference attribute
(e.g. male -> female), trained on unpaired source images x ~ p_src and reference images y ~ p_ref:

- Face transform network ``T`` [S: "3 conv layers, 5 residual blocks, 2 deconvolutions, 1 conv", Johnson et al.'s
  fast style-transfer network]. Attribute discriminator ``D``.
- Attribute loss (GAN): ``min_T max_D E_y[log D(y)] + E_x[log(1 - D(T(x)))]``; T minimises the non-saturating
  ``-log D(T(x))`` (``T/att``), D the binary cross-entropy (``D/loss``).
- Perceptual identity-aware loss (``T/id``): ``l_id = sum_l w_l / (C_l H_l W_l) ||phi_l(T(x)) - phi_l(x)||^2`` with
  ``phi_l`` the feature maps of VGG-Face (DIAT). **DIAT-A** takes ``phi_l`` from the attribute discriminator's own
  convolutional features instead ("adaptive perceptual loss"; ``identity_features="discriminator"``).
- Perceptual regularisation (``T/reg``): a denoising network ``f`` of two 3x3 convolutions is trained on real faces
  ``g = x + n`` to output the noise, ``min_f ||f(x + n) - n||^2`` (``DN/loss``); T then pays ``l_reg = ||f(T(x))||^2``,
  the noise ``f`` still finds in its output.
- Transform objective: ``L_T = lambda_att l_att + lambda_id l_id + lambda_reg l_reg``.
- Face enhancement network ``E`` (second stage, T frozen) improves the visual quality of ``T(x)``.

Choices where the v1 text (as available to us) is silent — every one is a config field:
1. T is the CycleGAN repository's ResNet generator with ``n_blocks=5`` (7x7 instead of Johnson's 9x9 outer
   kernels, reflection padding, instance norm instead of batch norm so outputs do not depend on the batch).
2. D: 4x4 stride-2 convolutions (LeakyReLU 0.2, instance norm after the first) down to 4x4, then a 4x4 conv to
   one logit; DIAT-A's identity loss uses its last two convolutional feature maps (the later version uses the
   deepest layers too), ``w_l = 1``.
3. DIAT's identity network: VGG-Face where the user supplies its weights; on embedded data the harness's identity
   judge (the harness passes it in, ``IdentityFeatures``; the paper's VGG-Face was trained on other people, and so
   is ours: a separately seeded copy, see ``harness/models.py``).
4. The denoiser: 32 channels, ReLU between the two convolutions, Gaussian noise with sigma 0.1 (images in [-1, 1]).
5. E: input ``[x, T(x)]``, output ``T(x) + e([x, T(x)])`` with ``e`` a ResNet generator (``enhance_blocks``).
   Its loss keeps T's content where the attribute changed and the input's details elsewhere, and stays on the
   attribute manifold:
   ``L_E = lambda_att l_att(E) + lambda_pix ||(1 - M) * (E - x)||_1 + lambda_pix ||M * (E - T(x))||_1`` with
   the mask ``M`` = 5x5-smoothed ``mean_c |T(x) - x| > 0.1``. D keeps training on E's outputs.
6. Adam(2e-4, 0.5, 0.999), batch 16, random horizontal flips, no learning-rate decay; schedule in steps:
   ``denoise_steps`` for f, then T with D, then ``enhance_steps`` for E with D.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from harness.core.bounds import FilePath
from harness.core.errors import HarnessError
from harness.core.images import check_image_layout, check_images
from harness.core.task import Task
from reference_models.base import sample_indices
from reference_models.diat_losses import denoise_loss, discriminator_loss, enhance, enhance_losses, transform_losses
from reference_models.diat_networks import AttributeDiscriminator, Denoiser
from reference_models.generators import ResnetGenerator
from reference_models.layers import init_weights
from reference_models.stacked import PAIR_TRAININGS, PairTraining
from reference_models.training import adam

PAPER = "Li, Zuo, Zhang, Deep Identity-aware Transfer of Facial Attributes, arXiv 1610.05586 (2016)"


@dataclass(frozen=True)
class DIATConfig:
    """DIAT hyperparameters; the paper gives none, so these are the choices listed in the module docstring."""

    identity_features: Literal["identity_net", "discriminator"] = "identity_net"  # DIAT | DIAT-A
    ngf: int = 64  # T and E width (CycleGAN's ResNet generator)
    n_blocks: int = 5  # residual blocks of T (paper: 5)
    enhance_blocks: int = 3  # residual blocks of E
    ndf: int = 64  # D width
    denoise_channels: int = 32  # hidden channels of the 2-layer denoiser
    noise_sigma: float = 0.1  # std of the denoiser's training noise, images in [-1, 1]
    lambda_att: float = 1.0  # attribute (GAN) loss weight
    lambda_id: float = 1.0  # identity loss weight (per layer: mean squared feature difference)
    lambda_reg: float = 1.0  # perceptual regularisation weight
    lambda_pix: float = 10.0  # enhancement network's masked L1 weights
    lr: float = 2e-4  # Adam learning rate (every network)
    beta1: float = 0.5  # Adam beta1
    beta2: float = 0.999  # Adam beta2
    batch_size: int = 16  # source and reference images per step
    steps: int = 100000  # total steps: denoiser, then T with D, then E with D
    denoise_steps: int = 2000  # first steps: the denoiser alone
    enhance_steps: int = 20000  # last steps: E (0 = no enhancement network)
    flip: bool = True  # random horizontal flips of training images
    identity_weights: FilePath = ""  # VGG-Face state dict for the identity loss (real data; the harness loads it)
    identity_net_steps: int = 2000  # without VGG-Face weights: training steps of the harness identity network
    identity_net_batch: int = 64  # ... and its batch size
    # Faces tasks (one DIAT per attribute-value pair): "serial" steps the pair models one by one; "stacked" steps them
    # as one vmapped model (reference_models.stacked), the same recipe and numbers up to rounding, fewer and larger
    # kernels for a GPU.
    pair_training: PairTraining = "serial"


@dataclass(frozen=True)
class IdentityFeatures:
    """The frozen identity network of DIAT's loss, supplied by the harness.

    Attributes:
        net: Module mapping float (N, 3, H, W) in [0, 1] to a list of feature maps (its own preprocessing inside).
        description: Provenance for rows (name and weights sha256; no ``;`` or ``=``).
    """

    net: nn.Module
    description: str


def validate_config(config: DIATConfig, image_size: int) -> None:
    """Raises ``HarnessError`` naming the ``diat.*`` option that cannot run on ``image_size`` px."""
    if image_size % 4 or image_size < 16:
        raise HarnessError(f"diat: the transform network needs an image size divisible by 4, >= 16; got {image_size}")
    if config.identity_features not in ("identity_net", "discriminator"):
        raise HarnessError(f"diat.identity_features={config.identity_features!r}: expected identity_net|discriminator")
    stages = config.denoise_steps + config.enhance_steps
    if min(config.denoise_steps, config.enhance_steps) < 0 or stages >= config.steps:
        raise HarnessError("diat: denoise_steps + enhance_steps must leave steps for the transform network")
    if config.pair_training not in PAIR_TRAININGS:
        raise HarnessError(f"diat.pair_training={config.pair_training!r} is not one of {', '.join(PAIR_TRAININGS)}")
    if min(config.batch_size, config.ngf, config.ndf, config.denoise_channels) < 1 or config.n_blocks < 0:
        raise HarnessError("diat.batch_size, ngf, ndf and denoise_channels must be positive")


class DIAT:
    """One attribute-value pair: transform network, attribute discriminator, denoiser and enhancement network."""

    def __init__(self, config: DIATConfig, image_size: int, device: torch.device,
                 identity: IdentityFeatures | None) -> None:
        """Builds the networks (global torch RNG, official-CycleGAN N(0, 0.02) init for T, E and D).

        Args:
            config: Hyperparameters.
            image_size: Side of the square images.
            device: Where to train.
            identity: DIAT's frozen identity network; unused (may be None) for DIAT-A.
        """
        if config.identity_features == "identity_net" and identity is None:
            raise HarnessError("diat: the identity loss needs an identity network (VGG-Face or the identity judge)")
        self.config, self.device = config, device
        self.identity = identity if config.identity_features == "identity_net" else None
        if self.identity is not None:
            self.identity.net.to(device).eval().requires_grad_(False)
        self.nets: dict[str, nn.Module] = {
            "T": init_weights(ResnetGenerator(3, 3, ngf=config.ngf, norm="instance", n_blocks=config.n_blocks)),
            "D": init_weights(AttributeDiscriminator(image_size, config.ndf)),
            "DN": Denoiser(config.denoise_channels)}
        if config.enhance_steps > 0:
            self.nets["E"] = init_weights(ResnetGenerator(6, 3, ngf=config.ngf, norm="instance",
                                                          n_blocks=config.enhance_blocks))
        for net in self.nets.values():
            net.to(device)
        self.optimizers = {name: adam(net.parameters(), lr=config.lr, betas=(config.beta1, config.beta2), device=device)
                           for name, net in self.nets.items()}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}  # constant lr (choice 6)
        self.step = 0

    def phase(self) -> Literal["denoise", "transform", "enhance"]:
        """The training stage of the next step."""
        cfg = self.config
        if self.step < cfg.denoise_steps:
            return "denoise"
        return "enhance" if self.step >= cfg.steps - cfg.enhance_steps else "transform"

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One step of the current stage.

        Args:
            batch: ``"A"`` source images and ``"B"`` reference-attribute images, float (N, 3, H, W) in [0, 1].

        Returns:
            Detached scalar tensors on the device: ``DN/loss`` (denoiser stage); ``T/att``, ``T/id``, ``T/reg``,
            ``D/loss`` (transform stage); ``E/att``, ``E/pix``, ``D/loss`` (enhancement stage).
        """
        x, y = (check_image_layout(batch[k], f"diat batch[{k!r}]", 3).to(self.device, non_blocking=True) * 2 - 1
                for k in ("A", "B"))
        phase = self.phase()
        self.step += 1
        if phase == "denoise":
            return self._denoise_step(torch.cat([x, y]))
        fake, losses = self._transform_step(x) if phase == "transform" else self._enhance_step(x)
        return losses | self._discriminator_step(y, fake)

    def _update(self, name: str, loss: torch.Tensor) -> None:
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers[name].step()

    def _denoise_step(self, clean: torch.Tensor) -> dict[str, torch.Tensor]:
        loss = denoise_loss(self.nets["DN"], clean, torch.randn_like(clean) * self.config.noise_sigma)
        self._update("DN", loss)
        return {"DN/loss": loss.detach()}

    def _transform_step(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        d = self.nets["D"].requires_grad_(False)
        fake, total, terms = transform_losses(self.nets, self.identity, self.config, x)
        self._update("T", total)
        d.requires_grad_(True)
        return fake.detach(), {k: v.detach() for k, v in terms.items()}

    def _enhance_step(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        d = self.nets["D"].requires_grad_(False)
        out, total, terms = enhance_losses(self.nets, self.config, x)
        self._update("E", total)
        d.requires_grad_(True)
        return out.detach(), {k: v.detach() for k, v in terms.items()}

    def _discriminator_step(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        loss = discriminator_loss(self.nets["D"], real, fake)
        self._update("D", loss)
        return {"D/loss": loss.detach()}

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        """Source images float (N, 3, H, W) in [0, 1] -> the reference attribute: ``E(x, T(x))`` (or ``T(x)``)."""
        if direction != "AtoB":
            raise HarnessError(f"diat translates one way (AtoB, source -> reference attribute), not {direction!r}")
        check_images(images, "diat translate images", 3)
        x = images.to(self.device) * 2 - 1
        for net in self.nets.values():
            net.eval()
        out = self.nets["T"](x)
        if "E" in self.nets:
            out = enhance(self.nets, x, out)
        for net in self.nets.values():
            net.train()
        return ((out + 1) / 2).clamp_(0, 1).to(images.device)

    def directions(self) -> tuple[str, ...]:
        """One way only."""
        return ("AtoB",)

    def provenance(self) -> dict[str, str]:
        """The identity network of the loss and the schedule."""
        cfg = self.config
        loss = "attribute discriminator features (DIAT-A)" if self.identity is None else self.identity.description
        return {"model_architecture": "the harness's design where DIAT's paper is silent (no official code, "
                                      "docs/faces.md), not StarGAN's unpublished 52.6M re-implementation",
                "model_identity_loss": loss,
                "model_train": f"batch {cfg.batch_size}, {cfg.steps} steps ({cfg.denoise_steps} denoiser, "
                               f"{cfg.enhance_steps} enhancement), constant lr"}

    def networks(self) -> dict[str, nn.Module]:
        """``T`` (transform), ``D`` (attribute discriminator), ``DN`` (denoiser) and ``E`` (enhancement)."""
        return dict(self.nets)

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimisers and the step (which fixes the stage)."""
        return {"networks": {k: v.state_dict() for k, v in self.nets.items()},
                "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()}, "step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores ``state_dict()`` output."""
        if set(state.get("networks", {})) != set(self.nets):
            raise HarnessError(f"diat checkpoint holds networks {sorted(state.get('networks', {}))}")
        for name, net in self.nets.items():
            net.load_state_dict(state["networks"][name])
            self.optimizers[name].load_state_dict(state["optimizers"][name])
        self.step = int(state["step"])


def build_diat(config: DIATConfig, task: Task, device: torch.device, identity: IdentityFeatures | None) -> DIAT:
    """DIAT for a two-domain task: A = source attribute value, B = reference attribute value."""
    validate_config(config, task.image_size)
    if len(task.domains) != 2:
        raise HarnessError(f"diat needs a task with a source and a reference domain; {task.name!r} has {task.domains}")
    return DIAT(config, task.image_size, device, identity)


def diat_batch(task: Task, config: DIATConfig, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """``{"A", "B"}``: independent random source and reference images, flipped at random."""
    out = {}
    for key, domain in zip(("A", "B"), task.domains, strict=True):
        data = task.data("train", domain)
        images = data.get(sample_indices(len(data), config.batch_size, generator))
        if config.flip:
            flip = torch.rand(config.batch_size, generator=generator) < 0.5
            images = torch.where(flip[:, None, None, None], images.flip(3), images)
        out[key] = images
    return out
