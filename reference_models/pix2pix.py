"""Pix2Pix: Isola, Zhu, Zhou, Efros, "Image-to-Image Translation with Conditional Adversarial Networks", CVPR 2017.

Code name -> paper name: ``G_<dir>`` = G (U-Net generator, or the encoder-decoder of the ablation), ``D_<dir>`` = D
(PatchGAN; N x N = ``d_receptive_field``), ``G_GAN`` = the generator's part of L_cGAN(G, D) (L_GAN when
``loss`` is unconditional), ``G_L1`` = lambda * L_L1(G), ``D_real`` / ``D_fake`` = D's halves of L_cGAN, each
x 0.5 as in the official code (the paper halves D's objective), ``lambda_l1`` = lambda (100).

Architecture and training follow ``junyanz/pytorch-CycleGAN-and-pix2pix`` (``pix2pix_model.py``): Adam(2e-4, 0.5,
0.999), batch 1, batch norm, vanilla (BCE) GAN loss, no image pool, D on the concatenated (input, output) pair, the
``resize_and_crop`` jitter with one crop and flip per pair (``data/aligned_dataset.py``), and the ``linear`` LR
policy (``options/train_options.py``: ``n_epochs = n_epochs_decay = 100``: constant, then linear to zero over the
second half), the same schedule CycleGAN uses. The paper trains a separate model per direction (labels -> photo and
photo -> labels); here one ``Pix2Pix`` holds an independent (G, D) pair for every direction in
``config.directions``.

Train and test statistics agree by construction. The official test script never calls ``eval()`` (its ``--eval``
flag is off) and uses batch 1, which is what the paper describes: dropout stays on and batch norm uses the test
image's own statistics; ``translate`` does exactly that, one image at a time, so its output does not depend on
how many images are passed together, and running statistics are left untouched. Training therefore runs at the
paper's batch 1 too (the config check refuses batch norm with a larger batch), so in training batch norm also
normalises each image by its own statistics; the profiles give batch 1 proportionally more steps. Both choices are
named in every row's protocol string (``provenance()``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch
from torch import nn

from harness.core.errors import HarnessError
from harness.core.images import check_image_layout, check_images
from harness.core.task import Task
from reference_models.base import sample_indices
from reference_models.discriminators import (
    PAPER_RECEPTIVE_FIELD,
    RECEPTIVE_FIELDS,
    fields_differ,
    min_image_size,
    patch_discriminator,
)
from reference_models.generators import UnetGenerator
from reference_models.layers import NORMS, Norm, init_weights
from reference_models.preprocess import resize_and_crop
from reference_models.training import (
    GANLoss,
    adam,
    check_decay_steps,
    linear_decay_lambda,
    load_training_state,
    resolve_decay_steps,
    schedule_text,
    training_state,
    translate_official,
)

Loss = Literal["l1+cgan", "l1", "cgan", "l1+gan", "gan"]
Direction = Literal["AtoB", "BtoA"]
GeneratorKind = Literal["unet", "encoder_decoder"]
LOSSES: tuple[str, ...] = get_args(Loss)
DIRECTIONS: tuple[str, ...] = get_args(Direction)
GENERATORS: tuple[str, ...] = get_args(GeneratorKind)
PAPER = "Isola et al., Image-to-Image Translation with Conditional Adversarial Networks, CVPR 2017"


@dataclass(frozen=True)
class Pix2PixConfig:
    """Pix2Pix hyperparameters; defaults are the paper's 256x256 Cityscapes setting."""

    ngf: int = 64  # generator width (filters of the first layer)
    ndf: int = 64  # discriminator width
    norm: Norm = "batch"  # "batch" (paper), "instance" or "none"
    generator: GeneratorKind = "unet"  # "unet" (paper) or "encoder_decoder" (the ablation without skips)
    num_downs: int = 8  # U-Net halvings: 8 for 256 px; needs image_size divisible by 2**num_downs, >= 5
    d_receptive_field: int = 70  # D patch size: 1 (PixelGAN), 16, 70 (paper default) or 286 (full image)
    loss: Loss = "l1+cgan"  # "l1+cgan" (paper), "l1", "cgan", "l1+gan", "gan" (gan: D sees the output only)
    lambda_l1: float = 100.0  # lambda, weight of L_L1
    lr: float = 2e-4  # Adam learning rate (G and D)
    beta1: float = 0.5  # Adam beta1
    beta2: float = 0.999  # Adam beta2
    batch_size: int = 1  # images per step (paper: 1); with batch norm only 1 (train and test statistics agree)
    steps: int = 595000  # optimisation steps: Cityscapes 2975 images x 200 epochs at batch 1
    decay_steps: int = -1  # final steps of linear LR decay to 0; -1 = the second half (PyTorch linear, 100 + 100)
    jitter: bool = True  # official resize_and_crop: resize x286/256, random crop, random left-right flip (per pair)
    directions: tuple[Direction, ...] = ("AtoB", "BtoA")  # directions trained, one independent model each
    dropout: bool = True  # dropout 0.5 on three decoder levels, at train and test time (paper)


def _uses_d(config: Pix2PixConfig) -> bool:
    return config.loss != "l1"


def _conditional(config: Pix2PixConfig) -> bool:
    return config.loss.endswith("cgan")


def validate_config(config: Pix2PixConfig, image_size: int) -> None:
    """Raises ``HarnessError`` naming the ``pix2pix.*`` option when ``config`` cannot run on ``image_size`` px.

    Besides values the networks cannot take, this refuses batch norm at a batch above 1 (training would normalise
    over the batch while the test-time translation normalises each image alone) and a receptive-field ablation
    that is the paper's 70x70 PatchGAN in disguise at this image size (both fields cover the whole image).
    """
    for key, value, allowed in (("norm", config.norm, NORMS), ("generator", config.generator, GENERATORS),
                                ("loss", config.loss, LOSSES)):
        if value not in allowed:
            raise HarnessError(f"pix2pix.{key}={value!r} is not one of {', '.join(allowed)}")
    bad = [d for d in config.directions if d not in DIRECTIONS] or ([] if config.directions else ["(empty)"])
    if bad or len(set(config.directions)) != len(config.directions):
        raise HarnessError(f"pix2pix.directions={config.directions!r}: expected distinct names from AtoB, BtoA")
    if config.num_downs < 5 or image_size % 2**config.num_downs:
        raise HarnessError(f"pix2pix.num_downs={config.num_downs} needs num_downs >= 5 and the image size "
                           f"({image_size}) divisible by 2**num_downs")
    if config.d_receptive_field not in (1, *RECEPTIVE_FIELDS):
        raise HarnessError(f"pix2pix.d_receptive_field={config.d_receptive_field} is not one of 1, 16, 70, 286")
    if _uses_d(config):
        _check_receptive_field(config, image_size)
    if config.steps < 1 or config.batch_size < 1:
        raise HarnessError("pix2pix.steps and pix2pix.batch_size must be positive")
    check_decay_steps("pix2pix", config.steps, config.decay_steps)
    if config.norm == "batch" and config.batch_size > 1:
        raise HarnessError(f"pix2pix.batch_size={config.batch_size} with norm=batch: training would normalise over "
                           f"{config.batch_size} images but translation (batch 1, train mode, as the paper) over "
                           "one; use batch_size=1 (paper) with proportionally more steps, or norm=instance")


def _check_receptive_field(config: Pix2PixConfig, image_size: int) -> None:
    field = config.d_receptive_field
    if field != PAPER_RECEPTIVE_FIELD and not fields_differ(field, PAPER_RECEPTIVE_FIELD, image_size):
        step = 2**config.num_downs
        smallest = max(min(field, PAPER_RECEPTIVE_FIELD) + 1, min_image_size(field))
        smallest = -(-smallest // step) * step  # the U-Net also needs a multiple of 2**num_downs
        raise HarnessError(f"pix2pix.d_receptive_field={field}: at {image_size} px this ablation and the paper's "
                           f"{PAPER_RECEPTIVE_FIELD}x{PAPER_RECEPTIVE_FIELD} PatchGAN both see the whole image, so "
                           f"comparing them means nothing; they differ from {smallest} px (with num_downs="
                           f"{config.num_downs}); run this ablation on a larger task")
    if image_size < min_image_size(field):
        raise HarnessError(f"pix2pix.d_receptive_field={field} needs images of at least "
                           f"{min_image_size(field)} px, the task has {image_size}")


class Pix2Pix:
    """One independent pix2pix (G, D) per direction; satisfies ``reference_models.base.ReferenceModel``."""

    def __init__(self, config: Pix2PixConfig, in_channels_a: int, in_channels_b: int, device: torch.device) -> None:
        self.config = config
        self.device = device
        self.gan_loss = GANLoss("vanilla").to(device)
        self.channels = {"A": in_channels_a, "B": in_channels_b}
        self.nets: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Adam] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LambdaLR] = {}
        for direction in config.directions:
            c_in, c_out = self._io_channels(direction)
            self.nets[f"G_{direction}"] = init_weights(UnetGenerator(
                c_in, c_out, num_downs=config.num_downs, ngf=config.ngf, norm=config.norm, dropout=config.dropout,
                skip=config.generator == "unet")).to(device)
            if _uses_d(config):
                d_in = c_in + c_out if _conditional(config) else c_out
                self.nets[f"D_{direction}"] = init_weights(patch_discriminator(
                    d_in, ndf=config.ndf, receptive_field=config.d_receptive_field, norm=config.norm)).to(device)
        decay = linear_decay_lambda(config.steps, resolve_decay_steps(config.steps, config.decay_steps))
        for name, net in self.nets.items():
            self.optimizers[name] = adam(net.parameters(), lr=config.lr, betas=(config.beta1, config.beta2),
                                         device=device)
            self.schedulers[name] = torch.optim.lr_scheduler.LambdaLR(self.optimizers[name], decay)

    def _io_channels(self, direction: str) -> tuple[int, int]:
        return (self.channels["A"], self.channels["B"]) if direction == "AtoB" else (
            self.channels["B"], self.channels["A"])

    def _d_input(self, source: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return torch.cat([source, image], 1) if _conditional(self.config) else image

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One D step then one G step for every direction.

        Args:
            batch: ``"A"`` and ``"B"``: aligned float32 ``(N, C, H, W)`` in [0, 1] (index i is one scene); the
                values were checked on the host (only the layout is checked here: no host synchronisation).

        Returns:
            Detached scalar tensors on the device: ``"<dir>/G_GAN"``, ``"<dir>/G_L1"``, ``"<dir>/D_real"``,
            ``"<dir>/D_fake"`` for the terms the loss uses.
        """
        images = {k: check_image_layout(batch[k], f"pix2pix batch[{k!r}]", self.channels[k]).to(
            self.device, non_blocking=True) * 2 - 1 for k in ("A", "B")}
        losses: dict[str, torch.Tensor] = {}
        for direction in self.config.directions:
            source, target = (images["A"], images["B"]) if direction == "AtoB" else (images["B"], images["A"])
            for key, value in self._step_direction(direction, source, target).items():
                losses[f"{direction}/{key}"] = value
        for scheduler in self.schedulers.values():
            scheduler.step()
        return losses

    def _step_direction(self, direction: str, source: torch.Tensor, target: torch.Tensor
                        ) -> dict[str, torch.Tensor]:
        """Official order: G forward once; D update on (detached fake, real); G update against the updated D."""
        g, d = self.nets[f"G_{direction}"], self.nets.get(f"D_{direction}")
        fake = g(source)
        out: dict[str, torch.Tensor] = {}
        if d is not None:
            d.requires_grad_(True)
            opt_d = self.optimizers[f"D_{direction}"]
            opt_d.zero_grad(set_to_none=True)
            loss_fake = self.gan_loss(d(self._d_input(source, fake.detach())), False) * 0.5
            loss_real = self.gan_loss(d(self._d_input(source, target)), True) * 0.5
            (loss_fake + loss_real).backward()
            opt_d.step()
            d.requires_grad_(False)
            out["D_real"], out["D_fake"] = loss_real.detach(), loss_fake.detach()
        opt_g = self.optimizers[f"G_{direction}"]
        opt_g.zero_grad(set_to_none=True)
        total = fake.new_zeros(())
        if d is not None:
            g_gan = self.gan_loss(d(self._d_input(source, fake)), True)
            total = total + g_gan
            out["G_GAN"] = g_gan.detach()
        if self.config.loss.startswith("l1"):
            g_l1 = nn.functional.l1_loss(fake, target) * self.config.lambda_l1
            total = total + g_l1
            out["G_L1"] = g_l1.detach()
        total.backward()
        opt_g.step()
        return out

    def translate(self, images: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        """Test-time translation as in the paper: dropout on, batch norm on each image's own statistics.

        Args:
            images: Float32 ``(N, C, H, W)`` in [0, 1] of the source domain of ``direction``.
            direction: ``"AtoB"`` or ``"BtoA"``; must be one of the trained ``config.directions``.

        Returns:
            Float32 ``(N, C_out, H, W)`` in [0, 1] on ``images.device``. Dropout draws from the global torch RNG.
        """
        if direction not in self.config.directions:
            raise HarnessError(f"pix2pix: direction {direction!r} was not trained; trained: "
                               f"{', '.join(self.config.directions)}")
        check_images(images, f"pix2pix translate({direction}) images", self._io_channels(direction)[0])
        return translate_official(self.nets[f"G_{direction}"], images, self.device)

    def directions(self) -> tuple[str, ...]:
        """The trained ``config.directions``, one independent (G, D) each."""
        return tuple(self.config.directions)

    def provenance(self) -> dict[str, str]:
        """How training and translation were run, for every row's protocol string."""
        return provenance(self.config)

    def networks(self) -> dict[str, nn.Module]:
        """``{"G_AtoB", "D_AtoB", "G_BtoA", "D_BtoA"}`` for the trained directions (no D with ``loss="l1"``)."""
        return dict(self.nets)

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimisers and schedulers by network name; loadable with ``weights_only=True``."""
        return training_state(self.nets, self.optimizers, self.schedulers)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores ``state_dict()`` output; a checkpoint of another configuration is a ``HarnessError``."""
        load_training_state("pix2pix", state, self.nets, self.optimizers, self.schedulers)


def build_pix2pix(config: Pix2PixConfig, task: Task, device: torch.device) -> Pix2Pix:
    """Builds pix2pix for ``task``: A = ``task.domains[0]``, B = ``task.domains[1]`` (channels from the train split)."""
    if len(task.domains) < 2:
        raise HarnessError(f"pix2pix needs a task with two domains; {task.name!r} has {task.domains}")
    validate_config(config, task.image_size)
    channels = [task.data("train", domain).images.shape[1] for domain in task.domains[:2]]
    return Pix2Pix(config, channels[0], channels[1], device)


def provenance(config: Pix2PixConfig) -> dict[str, str]:
    """``model_train`` and ``model_test``: batch, statistics, LR schedule, jitter (values hold no ``;`` or ``=``)."""
    jitter = "resize_and_crop x286/256 + left-right flip, one per pair" if config.jitter else "no jitter"
    norm = "each image's own batch-norm statistics" if config.norm == "batch" else f"{config.norm} norm"
    train = f"batch {config.batch_size} ({norm}), {schedule_text(config.steps, config.decay_steps)}, {jitter}"
    return {"model_train": train,
            "model_test": f"one image at a time in train mode (dropout {'on' if config.dropout else 'off'}, {norm}) "
                    "as the official test.py"}


def pix2pix_batch(task: Task, config: Pix2PixConfig, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """``{"A", "B"}``: the same random indices of both domains of the paired train split, jittered alike.

    Args:
        task: A paired task; A = ``task.domains[0]``, B = ``task.domains[1]``.
        config: ``batch_size`` and ``jitter`` are read.
        generator: The only source of randomness (indices, then crop offsets and flips).

    Returns:
        Float32 ``(batch_size, C, S, S)`` in [0, 1] per domain, S = ``task.image_size``; with ``jitter`` each pair
        is resized to ``load_size(S)`` and cropped and flipped identically in A and B.
    """
    if not task.paired:
        raise HarnessError(f"pix2pix needs a paired task; {task.name!r} is unpaired")
    a, b = (task.data("train", domain) for domain in task.domains[:2])
    index = sample_indices(len(a), config.batch_size, generator)
    images = [a.get(index), b.get(index)]
    if config.jitter:
        images = resize_and_crop(images, task.image_size, generator)
    return {"A": images[0], "B": images[1]}
