"""CycleGAN: Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks".

Zhu, Park, Isola, Efros, ICCV 2017.

Code name -> paper name: ``G_A`` = G: X -> Y (A -> B), ``G_B`` = F: Y -> X (B -> A), ``D_A`` = D_Y (judges B
images), ``D_B`` = D_X (judges A images). Losses: ``G_A`` / ``G_B`` = L_GAN(G, D_Y, X, Y) / L_GAN(F, D_X, Y, X) (least
squares), ``cycle_A`` = lambda * ||F(G(x)) - x||_1 (forward cycle), ``cycle_B`` = lambda * ||G(F(y)) - y||_1
(backward cycle), ``idt_A`` / ``idt_B`` = the identity loss (§5.2, "photo generation from paintings"),
``D_A`` / ``D_B`` = the discriminators' objectives x 0.5 (§4: "we divide the objective by 2 while optimizing D").

Architecture and training follow ``junyanz/pytorch-CycleGAN-and-pix2pix`` (``cycle_gan_model.py``): ResNet
generators with instance norm and no dropout, 70x70 PatchGANs, LSGAN, history pools of 50, Adam(2e-4, 0.5, 0.999),
batch 1, lambda_A = lambda_B = 10, identity weight 0.5 x lambda, one G step (both generators) then one D step
(both discriminators) per iteration, LR constant then linear to zero over the second half. As in the paper for
labels <-> photos, the identity loss is off when the task marks a label domain (``task.meta["label_domain"]``); it
is also off when the two domains differ in channels.

Data as ``data/unaligned_dataset.py`` with ``serial_batches`` off: A and B are drawn independently from the whole
training split of each domain (``train_split="whole"``, what the paper did on Cityscapes), each with its own
``resize_and_crop`` jitter. ``train_split="disjoint_halves"`` draws A from the first and B from the second half of
a paired training split instead, for a guarantee that no pair is ever seen. The paper trained Cityscapes at
128x128 with 6 residual blocks (§7.2; Lua ``options.lua`` lines 10-11, 40: ``loadSize=143``, ``fineSize=128``,
``resnet_6blocks``): ``image_size`` lets the networks work at such a size on a task stored at another (batches are
resized, and ``translate`` resizes its input to ``image_size`` and its output back, bicubic).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import chain
from typing import Any, Literal, get_args

import torch
from torch import nn

from harness.core.errors import HarnessError
from harness.core.images import check_image_layout, check_images
from harness.core.task import Task
from reference_models.base import sample_indices
from reference_models.cyclegan_losses import discriminator_loss, generator_terms
from reference_models.discriminators import NLayerDiscriminator, min_image_size
from reference_models.generators import ResnetGenerator
from reference_models.layers import NORMS, Norm, init_weights
from reference_models.preprocess import resize, resize_and_crop
from reference_models.stacked import PAIR_TRAININGS, PairTraining
from reference_models.training import (
    GAN_MODES,
    GANLoss,
    GanMode,
    ImagePool,
    adam,
    check_decay_steps,
    linear_decay_lambda,
    load_training_state,
    resolve_decay_steps,
    schedule_text,
    training_state,
    translate_official,
)

TrainSplit = Literal["whole", "disjoint_halves"]
TRAIN_SPLITS: tuple[str, ...] = get_args(TrainSplit)
DIRECTIONS = ("AtoB", "BtoA")
PAPER = "Zhu et al., Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks, ICCV 2017"


@dataclass(frozen=True)
class CycleGANConfig:
    """CycleGAN hyperparameters; defaults are the official PyTorch 256 px setting (paper Cityscapes: 128 px)."""

    ngf: int = 64  # generator width
    ndf: int = 64  # discriminator width
    norm: Norm = "instance"  # "instance" (paper), "batch" or "none"
    n_blocks: int = 9  # residual blocks: 9 for 256 px, 6 for 128 px (paper §7.2)
    image_size: int = 0  # side the networks train and translate at; 0 = the task's (paper Cityscapes: 128)
    lambda_cycle: float = 10.0  # lambda, weight of each cycle loss (official lambda_A = lambda_B)
    lambda_identity: float = 0.5  # identity weight as a fraction of lambda_cycle (official convention)
    use_forward_cycle: bool = True  # x -> G(x) -> F(G(x)) ~ x (off for the "GAN + backward" ablation)
    use_backward_cycle: bool = True  # y -> F(y) -> G(F(y)) ~ y (off for the "GAN + forward" ablation)
    use_gan: bool = True  # adversarial losses and discriminators (off for the "Cycle alone" ablation)
    pool_size: int = 50  # history of generated images shown to D (Shrivastava et al.); 0 disables
    gan_mode: GanMode = "lsgan"  # "lsgan" (paper) or "vanilla"
    lr: float = 2e-4  # Adam learning rate
    beta1: float = 0.5  # Adam beta1
    beta2: float = 0.999  # Adam beta2
    batch_size: int = 1  # images per domain per step (paper: 1)
    steps: int = 595000  # Cityscapes: 2975 images x 200 epochs at batch 1
    decay_steps: int = -1  # final steps of linear LR decay to 0; -1 = the second half (paper: last 100 of 200 epochs)
    jitter: bool = True  # official resize_and_crop: resize x286/256, random crop, random left-right flip
    train_split: TrainSplit = "whole"  # "whole" (official unaligned_dataset) or "disjoint_halves" (no pair seen)
    # Faces tasks (one CycleGAN per attribute-value pair): "serial" steps the pair models one by one; "stacked" steps
    # them as one vmapped model (reference_models.stacked), the same recipe and numbers up to rounding, fewer and
    # larger kernels for a GPU. Ignored on two-domain tasks.
    pair_training: PairTraining = "serial"


def work_size(config: CycleGANConfig, task_size: int) -> int:
    """The side the networks see: ``config.image_size``, or the task's when it is 0."""
    return config.image_size or task_size


def validate_config(config: CycleGANConfig, image_size: int) -> None:
    """Raises ``HarnessError`` naming the ``cyclegan.*`` option when ``config`` cannot run on ``image_size`` px."""
    for key, value, allowed in (("norm", config.norm, NORMS), ("gan_mode", config.gan_mode, GAN_MODES),
                                ("train_split", config.train_split, TRAIN_SPLITS),
                                ("pair_training", config.pair_training, PAIR_TRAININGS)):
        if value not in allowed:
            raise HarnessError(f"cyclegan.{key}={value!r} is not one of {', '.join(allowed)}")
    if config.image_size < 0:
        raise HarnessError(f"cyclegan.image_size={config.image_size}: expected 0 (the task's size) or a side in px")
    image_size = work_size(config, image_size)
    if not (config.use_gan or config.use_forward_cycle or config.use_backward_cycle):
        raise HarnessError("cyclegan: use_gan, use_forward_cycle and use_backward_cycle are all off; nothing to train")
    if image_size % 4:
        raise HarnessError(f"cyclegan: the ResNet generator needs an image size divisible by 4, got {image_size} "
                           "(cyclegan.image_size, or the task's)")
    if config.use_gan and image_size < min_image_size(70):
        raise HarnessError(f"cyclegan: the 70x70 PatchGAN needs images of at least {min_image_size(70)} px, "
                           f"got {image_size}")
    if config.pair_training == "stacked" and config.norm == "batch":
        raise HarnessError("cyclegan.pair_training='stacked' cannot stack batch norm's running statistics "
                           "(cyclegan.norm='batch'): use 'serial' or norm 'instance'/'none'")
    if config.steps < 1 or config.batch_size < 1 or config.n_blocks < 0 or config.pool_size < 0:
        raise HarnessError("cyclegan.steps and cyclegan.batch_size must be positive, n_blocks and pool_size >= 0")
    check_decay_steps("cyclegan", config.steps, config.decay_steps)


class CycleGAN:
    """Two generators and (with ``use_gan``) two discriminators; satisfies ``ReferenceModel``."""

    def __init__(self, config: CycleGANConfig, in_channels_a: int, in_channels_b: int, device: torch.device,
                 identity_allowed: bool = True) -> None:
        """Builds the networks (global torch RNG for weights and the pool seeds).

        Args:
            config: Hyperparameters.
            in_channels_a: Channels of domain A (X).
            in_channels_b: Channels of domain B (Y).
            device: Where to train.
            identity_allowed: False when a domain is a label map (the paper drops the identity loss there).
        """
        self.config = config
        self.device = device
        self.channels = {"A": in_channels_a, "B": in_channels_b}
        same = in_channels_a == in_channels_b
        self._lambda_identity = config.lambda_identity if identity_allowed and same else 0.0
        self.gan_loss = GANLoss(config.gan_mode).to(device)

        def generator(c_in: int, c_out: int) -> nn.Module:
            return init_weights(ResnetGenerator(c_in, c_out, ngf=config.ngf, norm=config.norm,
                                                n_blocks=config.n_blocks)).to(device)

        def discriminator(c_in: int) -> nn.Module:
            return init_weights(NLayerDiscriminator(c_in, ndf=config.ndf, n_layers=3, norm=config.norm)).to(device)

        self.nets: dict[str, nn.Module] = {"G_A": generator(in_channels_a, in_channels_b),
                                           "G_B": generator(in_channels_b, in_channels_a)}
        groups = {"G": ("G_A", "G_B")}
        if config.use_gan:
            self.nets["D_A"] = discriminator(in_channels_b)
            self.nets["D_B"] = discriminator(in_channels_a)
            groups["D"] = ("D_A", "D_B")
        decay = linear_decay_lambda(config.steps, resolve_decay_steps(config.steps, config.decay_steps))
        self.optimizers = {
            group: adam(chain(*(self.nets[n].parameters() for n in names)), lr=config.lr,
                        betas=(config.beta1, config.beta2), device=device)
            for group, names in groups.items()}
        self.schedulers = {k: torch.optim.lr_scheduler.LambdaLR(opt, decay) for k, opt in self.optimizers.items()}
        seeds = torch.randint(0, 2**31 - 1, (2,), device="cpu").tolist()  # global RNG, CPU even under meta
        # fake_A feeds D_B, fake_B feeds D_A (official fake_A_pool / fake_B_pool).
        self.pools = {"fake_A": ImagePool(config.pool_size, seeds[0]), "fake_B": ImagePool(config.pool_size, seeds[1])}

    @property
    def effective_lambda_identity(self) -> float:
        """The identity weight in use (fraction of lambda_cycle): 0 for label domains or differing channels."""
        return self._lambda_identity

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One G step (both generators) then one D step (both discriminators).

        Args:
            batch: ``"A"``, ``"B"``: unpaired float32 ``(N, C, H, W)`` in [0, 1] (values checked on the host; the
                layout here, with no host synchronisation).

        Returns:
            Detached scalar tensors on the device: the active terms among ``G_A``, ``G_B``, ``cycle_A``, ``cycle_B``,
            ``idt_A``, ``idt_B``, ``D_A``, ``D_B``.
        """
        real_a, real_b = (check_image_layout(batch[k], f"cyclegan batch[{k!r}]", self.channels[k]).to(
            self.device, non_blocking=True) * 2 - 1 for k in ("A", "B"))
        fake_a, fake_b, losses = self._generator_step(real_a, real_b)
        if self.config.use_gan:
            losses.update(self._discriminator_step(real_a, real_b, fake_a, fake_b))
        for scheduler in self.schedulers.values():
            scheduler.step()
        return losses

    def _generator_step(self, real_a: torch.Tensor, real_b: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        if self.config.use_gan:
            for name in ("D_A", "D_B"):
                self.nets[name].requires_grad_(False)
        fake_a, fake_b, terms = generator_terms(self.nets, self.gan_loss, self.config, self._lambda_identity,
                                                real_a, real_b)
        self.optimizers["G"].zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        self.optimizers["G"].step()
        return fake_a.detach(), fake_b.detach(), {k: v.detach() for k, v in terms.items()}

    def _discriminator_step(self, real_a: torch.Tensor, real_b: torch.Tensor, fake_a: torch.Tensor,
                            fake_b: torch.Tensor) -> dict[str, torch.Tensor]:
        self.optimizers["D"].zero_grad(set_to_none=True)
        losses = {}
        for name, real, fake in (("D_A", real_b, self.pools["fake_B"].query(fake_b)),
                                 ("D_B", real_a, self.pools["fake_A"].query(fake_a))):
            loss = discriminator_loss(self.nets[name].requires_grad_(True), self.gan_loss, real, fake)
            loss.backward()
            losses[name] = loss.detach()
        self.optimizers["D"].step()
        return losses

    def translate(self, images: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        """Maps float32 ``(N, C, H, W)`` in [0, 1] with G (``"AtoB"``) or F (``"BtoA"``) to [0, 1].

        Runs like the official test script (batch 1, train mode); with instance norm and no dropout this equals
        eval mode. With ``config.image_size`` set, the input is resized to it and the output back to H x W
        (bicubic), as the paper's 128 px Cityscapes model is scored against full-size labels. The output is on
        ``images.device``.
        """
        if direction not in DIRECTIONS:
            raise HarnessError(f"cyclegan: direction {direction!r} is not one of 'AtoB', 'BtoA'")
        source = "A" if direction == "AtoB" else "B"
        check_images(images, f"cyclegan translate({direction}) images", self.channels[source])
        size = images.shape[-1]
        small = resize(images, work_size(self.config, size))
        out = translate_official(self.nets["G_A" if direction == "AtoB" else "G_B"], small, self.device)
        return resize(out, size)

    def directions(self) -> tuple[str, ...]:
        """Both: ``G_A`` translates A → B and ``G_B`` B → A."""
        return DIRECTIONS

    def provenance(self) -> dict[str, str]:
        """How training and translation were run, for every row's protocol string."""
        return provenance(self.config)

    def networks(self) -> dict[str, nn.Module]:
        """``G_A`` (G), ``G_B`` (F) and, with ``use_gan``, ``D_A`` (D_Y), ``D_B`` (D_X)."""
        return dict(self.nets)

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimisers, schedulers and history pools; loadable with ``weights_only=True``."""
        return training_state(self.nets, self.optimizers, self.schedulers) | {
            "pools": {k: v.state_dict() for k, v in self.pools.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores ``state_dict()`` output; a checkpoint of another configuration is a ``HarnessError``."""
        load_training_state("cyclegan", state, self.nets, self.optimizers, self.schedulers)
        for name, pool in self.pools.items():
            pool.load_state_dict(state["pools"][name], self.device)


def build_cyclegan(config: CycleGANConfig, task: Task, device: torch.device) -> CycleGAN:
    """Builds CycleGAN for ``task``: A = ``task.domains[0]``, B = ``task.domains[1]``."""
    if len(task.domains) < 2:
        raise HarnessError(f"cyclegan needs a task with two domains; {task.name!r} has {task.domains}")
    validate_config(config, task.image_size)
    channels = [task.data("train", domain).images.shape[1] for domain in task.domains[:2]]
    return CycleGAN(config, channels[0], channels[1], device, identity_allowed=not task.meta.get("label_domain"))


def provenance(config: CycleGANConfig) -> dict[str, str]:
    """``model_train`` and, with ``image_size`` set, ``model_size`` keys (no ``;`` or ``=`` in the values)."""
    split = ("A and B drawn independently from the whole train split" if config.train_split == "whole"
             else "A and B from disjoint halves of the train split")
    jitter = "resize_and_crop x286/256 + left-right flip per image" if config.jitter else "no jitter"
    train = f"batch {config.batch_size}, {schedule_text(config.steps, config.decay_steps)}, {split}, {jitter}"
    out = {"model_train": train}
    if config.image_size:
        out["model_size"] = (f"{config.image_size} px networks with {config.n_blocks} residual blocks (CycleGAN "
                             "paper 7.2), inputs resized to it and outputs back to the task size (bicubic)")
    return out


def cyclegan_batch(task: Task, config: CycleGANConfig, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """``{"A", "B"}``: independent random images of each domain, each with its own jitter.

    Args:
        task: A two-domain task; A = ``task.domains[0]``, B = ``task.domains[1]``.
        config: ``batch_size``, ``train_split``, ``jitter`` and ``image_size`` are read.
        generator: The only source of randomness (A indices, B indices, then A's and B's crops and flips).

    Returns:
        Float32 ``(batch_size, C, S, S)`` in [0, 1] per domain, S = ``work_size(config, task.image_size)``.
    """
    halves = config.train_split == "disjoint_halves"
    a, b = (task.train_domain(domain, unpaired=halves) for domain in task.domains[:2])
    index_a = sample_indices(len(a), config.batch_size, generator)
    index_b = sample_indices(len(b), config.batch_size, generator)
    images = {"A": a.get(index_a), "B": b.get(index_b)}
    size = work_size(config, task.image_size)
    for key, value in images.items():
        images[key] = resize_and_crop([value], size, generator)[0] if config.jitter else resize(value, size)
    return images
