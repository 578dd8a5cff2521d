r"""pix2pix trained with the least-squares GAN loss: an example plugin model for gan-harness (and a template for yours).

Run it beside the references, with their data, budget, seeds and evaluation::

    python -m harness.run suite --plugin examples/pix2pix_lsgan.py --models pix2pix_lsgan,pix2pix,cyclegan \
        --tasks scenes --seeds 0,1,2

**What it is.** Isola et al.'s pix2pix (U-Net G, 70x70 PatchGAN D on the (input, output) pair, lambda x L1 + an
adversarial term, batch 1, Adam(2e-4, 0.5, 0.999), constant then linearly decayed LR, the ``resize_and_crop``
jitter) with the adversarial term replaced by the least-squares loss of Mao et al., "Least Squares Generative
Adversarial Networks", ICCV 2017 (the 0-1 coding a = 0, b = c = 1): D minimises
1/2 E[(D(x, y) - 1)^2] + 1/2 E[D(x, G(x))^2] and G minimises E[(D(x, G(x)) - 1)^2] + lambda E[|y - G(x)|_1]. That is
the official code's ``--gan_mode lsgan`` on its pix2pix model (junyanz/pytorch-CycleGAN-and-pix2pix,
``models/pix2pix_model.py``: the loss is ``networks.GANLoss(opt.gan_mode)``, whose training default for pix2pix
is ``vanilla``; ``GANLoss('lsgan')`` in ``models/networks.py`` is an ``MSELoss`` to 1 / 0 on D's raw output, and
``backward_D`` halves D's two terms). It is a loss ablation, not a method of its own: its rows say so.

**What makes it a plugin** (nothing in the harness names it):

- ``Pix2PixLSGANConfig``: a frozen dataclass with a comment on every default; ``Literal`` choices and
  ``Annotated[..., Range]`` bounds are checked like any built-in section's (``--set pix2pix_lsgan.lambda_l1=50``).
- ``Pix2PixLSGAN``: the model contract of ``reference_models/base.py`` (``train_step``, ``translate``,
  ``directions``, ``provenance``, ``networks``, ``state_dict``, ``load_state_dict``).
- ``HARNESS_MODELS``: its ``ModelSpec``, whose ``SectionSpec`` *follows* the built-in ``pix2pix`` section: on every
  profile the budget (steps, batch, lr, betas, decay, jitter) and the network sizes are pix2pix's, so the only
  difference between the two is the loss (``list config`` marks the followed keys).

It is built from the harness's own blocks (``reference_models``); a lab's model may use anything. ``train_step``
returns floats, moved to the host in one transfer per step; when the train loop takes detached tensors
(``dict[str, Tensor]``) it can return ``{name: value.detach()}`` instead and skip even that.

Code name -> paper name: ``G_<dir>`` = G, ``D_<dir>`` = D (70x70 PatchGAN), ``G_GAN`` = G's least-squares term,
``G_L1`` = lambda x L1, ``D_real`` / ``D_fake`` = D's two least-squares terms (x 1/2 each), ``lambda_l1`` = lambda.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import torch
from torch import nn

from harness.core.bounds import AdamBeta, BatchSize, LearningRate, NonNegative, Range, Steps
from harness.core.errors import HarnessError
from harness.core.images import check_images
from harness.core.task import Task
from harness.models import TRANSLATION_PROTOCOLS, ModelSpec
from harness.sections import SectionSpec
from reference_models.base import sample_indices
from reference_models.discriminators import PAPER_RECEPTIVE_FIELD, min_image_size, patch_discriminator
from reference_models.generators import UnetGenerator
from reference_models.layers import Norm, init_weights
from reference_models.pix2pix import Direction
from reference_models.preprocess import resize_and_crop
from reference_models.training import (
    GANLoss,
    check_decay_steps,
    linear_decay_lambda,
    load_training_state,
    resolve_decay_steps,
    schedule_text,
    training_state,
    translate_official,
)

PAPER = ("Isola et al., Image-to-Image Translation with Conditional Adversarial Networks, CVPR 2017, with the "
         "least-squares GAN loss of Mao et al., ICCV 2017 (official code: --gan_mode lsgan)")
Width = Annotated[int, Range(1, 4096)]


@dataclass(frozen=True)
class Pix2PixLSGANConfig:
    """Hyperparameters; defaults are pix2pix's 256x256 Cityscapes setting (every one follows ``pix2pix.*``)."""

    ngf: Width = 64  # generator width (filters of the first layer)
    ndf: Width = 64  # discriminator width
    norm: Norm = "batch"  # batch (paper), instance or none
    num_downs: Annotated[int, Range(5, 12)] = 8  # U-Net halvings: 8 for 256 px; image size divisible by 2**num_downs
    lambda_l1: NonNegative = 100.0  # lambda, the weight of L1 (paper: 100)
    lr: LearningRate = 2e-4  # Adam learning rate of G and D
    beta1: AdamBeta = 0.5  # Adam beta1
    beta2: AdamBeta = 0.999  # Adam beta2
    batch_size: BatchSize = 1  # images per step (paper: 1; with batch norm only 1, as pix2pix)
    steps: Steps = 595_000  # optimisation steps: Cityscapes 2975 images x 200 epochs at batch 1
    decay_steps: Annotated[int, Range(-1, 100_000_000)] = -1  # final steps of linear LR decay; -1 = second half
    jitter: bool = True  # resize x286/256, random crop and left-right flip, one draw per pair
    directions: tuple[Direction, ...] = ("AtoB", "BtoA")  # directions trained, one independent (G, D) each
    dropout: bool = True  # dropout 0.5 in the decoder at train and test time (paper)


FOLLOWED = ("ngf", "ndf", "norm", "num_downs", "lambda_l1", "lr", "beta1", "beta2", "batch_size", "steps",
            "decay_steps", "jitter", "directions", "dropout")  # everything: only the GAN loss differs from pix2pix


def validate_config(config: Pix2PixLSGANConfig, image_size: int) -> None:
    """Raises ``HarnessError`` naming the ``pix2pix_lsgan.*`` option when ``config`` cannot run at ``image_size``."""
    if image_size % 2**config.num_downs:
        raise HarnessError(f"pix2pix_lsgan.num_downs={config.num_downs} needs the image size ({image_size}) "
                           "divisible by 2**num_downs")
    if image_size < min_image_size(PAPER_RECEPTIVE_FIELD):
        raise HarnessError(f"pix2pix_lsgan: the 70x70 PatchGAN needs images of at least "
                           f"{min_image_size(PAPER_RECEPTIVE_FIELD)} px, the task has {image_size}")
    if not config.directions or len(set(config.directions)) != len(config.directions):
        raise HarnessError(f"pix2pix_lsgan.directions={config.directions!r}: expected distinct AtoB, BtoA")
    check_decay_steps("pix2pix_lsgan", config.steps, config.decay_steps)
    if config.norm == "batch" and config.batch_size > 1:
        raise HarnessError(f"pix2pix_lsgan.batch_size={config.batch_size} with norm=batch: translation normalises "
                           "each image alone (batch 1, train mode), so training must too; use batch_size=1")


def _floats(losses: dict[str, torch.Tensor]) -> dict[str, float]:
    """The step's losses as floats, in one device-to-host transfer."""
    return dict(zip(losses, torch.stack([v.detach() for v in losses.values()]).tolist(), strict=True))


class Pix2PixLSGAN:
    """One independent (G, D) per direction, trained with L1 + least-squares cGAN."""

    def __init__(self, config: Pix2PixLSGANConfig, channels: dict[str, int], device: torch.device) -> None:
        self.config, self.channels, self.device = config, channels, device
        self.gan_loss = GANLoss("lsgan").to(device)  # MSE to 1 (real) / 0 (fake) on D's raw PatchGAN output
        self.nets: dict[str, nn.Module] = {}
        for direction in config.directions:
            c_in, c_out = self._io_channels(direction)
            self.nets[f"G_{direction}"] = init_weights(UnetGenerator(
                c_in, c_out, num_downs=config.num_downs, ngf=config.ngf, norm=config.norm, dropout=config.dropout))
            self.nets[f"D_{direction}"] = init_weights(patch_discriminator(
                c_in + c_out, ndf=config.ndf, receptive_field=PAPER_RECEPTIVE_FIELD, norm=config.norm))
        self.nets = {name: net.to(device) for name, net in self.nets.items()}
        decay = linear_decay_lambda(config.steps, resolve_decay_steps(config.steps, config.decay_steps))
        self.optimizers = {name: torch.optim.Adam(net.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
                           for name, net in self.nets.items()}
        self.schedulers = {name: torch.optim.lr_scheduler.LambdaLR(opt, decay) for name, opt in self.optimizers.items()}

    def _io_channels(self, direction: str) -> tuple[int, int]:
        return (self.channels["A"], self.channels["B"]) if direction == "AtoB" else (
            self.channels["B"], self.channels["A"])

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One D step then one G step per direction on aligned ``"A"``, ``"B"`` float32 (N, C, H, W) in [0, 1].

        Returns:
            ``"<dir>/D_real"``, ``"<dir>/D_fake"``, ``"<dir>/G_GAN"``, ``"<dir>/G_L1"``.
        """
        images = {k: check_images(batch[k], f"pix2pix_lsgan batch[{k!r}]", self.channels[k]).to(self.device) * 2 - 1
                  for k in ("A", "B")}
        losses: dict[str, torch.Tensor] = {}
        for direction in self.config.directions:
            source, target = (images["A"], images["B"]) if direction == "AtoB" else (images["B"], images["A"])
            for key, value in self._step(direction, source, target).items():
                losses[f"{direction}/{key}"] = value
        for scheduler in self.schedulers.values():
            scheduler.step()
        return _floats(losses)

    def _step(self, direction: str, source: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """The official order: G forward once; D on (detached fake, real); G against the updated D."""
        g, d = self.nets[f"G_{direction}"], self.nets[f"D_{direction}"]
        fake = g(source)
        d.requires_grad_(True)
        self.optimizers[f"D_{direction}"].zero_grad(set_to_none=True)
        d_fake = self.gan_loss(d(torch.cat([source, fake.detach()], 1)), False) * 0.5
        d_real = self.gan_loss(d(torch.cat([source, target], 1)), True) * 0.5
        (d_fake + d_real).backward()
        self.optimizers[f"D_{direction}"].step()
        d.requires_grad_(False)
        self.optimizers[f"G_{direction}"].zero_grad(set_to_none=True)
        g_gan = self.gan_loss(d(torch.cat([source, fake], 1)), True)
        g_l1 = nn.functional.l1_loss(fake, target) * self.config.lambda_l1
        (g_gan + g_l1).backward()
        self.optimizers[f"G_{direction}"].step()
        return {"D_real": d_real, "D_fake": d_fake, "G_GAN": g_gan, "G_L1": g_l1}

    def translate(self, images: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        """As pix2pix's test script: one image at a time in train mode; (N, C, H, W) in [0, 1] → [0, 1]."""
        if direction not in self.config.directions:
            raise HarnessError(f"pix2pix_lsgan: direction {direction!r} was not trained")
        check_images(images, f"pix2pix_lsgan translate({direction})", self._io_channels(direction)[0])
        return translate_official(self.nets[f"G_{direction}"], images, self.device)

    def directions(self) -> tuple[str, ...]:
        """The trained directions."""
        return tuple(self.config.directions)

    def provenance(self) -> dict[str, str]:
        """How it was trained and translates (values hold no ``;`` or ``=``)."""
        c = self.config
        jitter = "resize_and_crop x286/256 + left-right flip, one per pair" if c.jitter else "no jitter"
        norm = "each image's own batch-norm statistics" if c.norm == "batch" else f"{c.norm} norm"
        return {"model_train": f"batch {c.batch_size} ({norm}), {schedule_text(c.steps, c.decay_steps)}, {jitter}",
                "model_loss": f"least squares (MSE to 1/0 on the 70x70 PatchGAN output, D terms x 0.5) + "
                              f"{c.lambda_l1:g} x L1",
                "model_test": f"one image at a time in train mode (dropout {'on' if c.dropout else 'off'}, {norm}) "
                              "as the official test.py"}

    def networks(self) -> dict[str, nn.Module]:
        """``G_<dir>`` and ``D_<dir>`` of every trained direction."""
        return dict(self.nets)

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimisers and LR schedulers (loadable with ``weights_only=True``)."""
        return training_state(self.nets, self.optimizers, self.schedulers)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores ``state_dict()`` output."""
        load_training_state("pix2pix_lsgan", state, self.nets, self.optimizers, self.schedulers)


def build(config: Pix2PixLSGANConfig, task: Task, device: torch.device) -> Pix2PixLSGAN:
    """The model for ``task`` (A = ``task.domains[0]``, B = ``task.domains[1]``)."""
    if len(task.domains) < 2:
        raise HarnessError(f"pix2pix_lsgan needs a task with two domains; {task.name!r} has {task.domains}")
    validate_config(config, task.image_size)
    channels = {key: task.data("train", domain).images.shape[1] for key, domain in zip("AB", task.domains[:2],
                                                                                           strict=True)}
    return Pix2PixLSGAN(config, channels, device)


def batch(task: Task, config: Pix2PixLSGANConfig, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """The same random pairs of both domains, jittered alike; all randomness from ``generator``."""
    a, b = (task.data("train", domain) for domain in task.domains[:2])
    index = sample_indices(len(a), config.batch_size, generator)
    images = [a.get(index), b.get(index)]
    if config.jitter:
        images = resize_and_crop(images, task.image_size, generator)
    return {"A": images[0], "B": images[1]}


HARNESS_MODELS = (
    ModelSpec(name="pix2pix_lsgan", paper=PAPER, config_section="pix2pix_lsgan", build=build, batch=batch,
              protocols=TRANSLATION_PROTOCOLS, setting="paired", variant="L1+LSGAN", check=validate_config,
              section=SectionSpec(default=Pix2PixLSGANConfig(), follows="pix2pix", follow_keys=FOLLOWED),
              model_class=Pix2PixLSGAN),
)
