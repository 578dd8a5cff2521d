"""StarGAN: Choi et al., "StarGAN: Unified GANs for Multi-Domain Image-to-Image Translation", CVPR 2018.

arXiv 1711.09020. Official code: ``yunjey/stargan`` (``model.py``, ``solver.py``).

Code name -> paper name: ``G`` = G(x, c) (generator conditioned on the target domain label c), ``D`` = D_src and
D_cls (one trunk, two heads: ``conv1`` the PatchGAN real/fake map, ``conv2`` the domain classifier). Losses (§3,
Eq. 1-7, WGAN-GP form of §4 "Improved GAN training"): ``D/loss_real`` = -E[D_src(x)], ``D/loss_fake`` =
E[D_src(G(x, c))], ``D/loss_gp`` = E[(||grad D_src(x_hat)||_2 - 1)^2] (weight lambda_gp = 10), ``D/loss_cls`` =
L_cls^r (real images classified as their own domain c'), ``G/loss_fake`` = -E[D_src(G(x, c))], ``G/loss_cls`` =
L_cls^f (fakes classified as the target c), ``G/loss_rec`` = L_rec = ||x - G(G(x, c), c')||_1 (lambda_rec = 10).
CelebA's classification loss is a sum of binary cross-entropies over attributes divided by the batch
(``solver.classification_loss``); RaFD's is a softmax cross-entropy.

Joint training on CelebA and RaFD (§3.2, §5.3; ``solver.train_multi``): the label vector is
``[CelebA attributes (5), RaFD one-hot expression (8), mask (2)]`` with the other dataset's labels zeroed and the
mask one-hot naming the dataset (CelebA ``[1, 0]``, RaFD ``[0, 1]``); D classifies into all 13 domains and the loss
reads only the known dataset's slice. Each iteration trains on a CelebA batch, then a RaFD batch; D updates
every time, G every ``n_critic`` = 5 iterations. Adam(1e-4, 0.5, 0.999), batch 16, random horizontal flips.

The learning rate decays linearly to zero over the last ``decay_steps`` iterations, as the paper says
("linearly decay ... to 0"); ``lr_schedule="official"`` reproduces the code instead, which subtracts
lr0 / num_iters_decay only every ``lr_update_step`` = 1000 iterations (100 decrements: 0.1 % in total).
Architecture (``model.py``): G = 7x7 stem, two 4x4 stride-2 downsamplings, ``g_repeat_num`` residual blocks, two
4x4 stride-2 transposed convolutions, 7x7 to RGB and tanh, every conv bias-free and followed by instance norm with
affine parameters; D = ``d_repeat_num`` 4x4 stride-2 convs with LeakyReLU(0.01), a 3x3 source head and a
(size / 2**repeat)-wide classification head. At 128 px and 5 attributes: G 8,430,528 and D 44,762,048 parameters.
Like the official test script, translation runs G in train mode (instance statistics of each image).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F

from harness.core.errors import HarnessError
from harness.core.images import check_image_layout, check_images
from harness.core.task import Task
from reference_models.base import sample_indices
from reference_models.stargan_networks import Discriminator, Generator, gradient_penalty
from reference_models.training import adam, batch_statistics, check_decay_steps, resolve_decay_steps, schedule_text

PAPER = "Choi et al., StarGAN: Unified GANs for Multi-Domain Image-to-Image Translation, CVPR 2018"
DATASET_ORDER = ("celeba", "rafd")  # label-vector order of joint training (solver.train_multi)


@dataclass(frozen=True)
class StarGANConfig:
    """StarGAN hyperparameters; defaults are the official ``main.py`` values (128 px)."""

    g_conv_dim: int = 64  # channels of G's first layer
    d_conv_dim: int = 64  # channels of D's first layer
    g_repeat_num: int = 6  # residual blocks in G
    d_repeat_num: int = 6  # stride-2 convs in D (image_size must be divisible by 2**d_repeat_num)
    lambda_cls: float = 1.0  # weight of the domain classification losses
    lambda_rec: float = 10.0  # weight of the reconstruction (cycle) loss
    lambda_gp: float = 10.0  # weight of the WGAN-GP gradient penalty
    g_lr: float = 1e-4  # Adam learning rate of G
    d_lr: float = 1e-4  # Adam learning rate of D
    beta1: float = 0.5  # Adam beta1
    beta2: float = 0.999  # Adam beta2
    n_critic: int = 5  # D updates per G update
    batch_size: int = 16  # images per dataset per iteration
    steps: int = 200000  # official num_iters
    decay_steps: int = -1  # lr decays over the last decay_steps iterations; -1 = the second half (official 100k)
    lr_schedule: Literal["paper", "official"] = "paper"  # linear to 0 (paper) or the code's 100 small decrements
    lr_update_step: int = 1000  # official lr_update_step (only used by lr_schedule="official")
    flip: bool = True  # random horizontal flip of training images (official RandomHorizontalFlip)
    datasets: Literal["each", "both", "celeba", "rafd"] = "each"  # "each": one model per dataset of the task
    # (StarGAN-SNG: the paper's Tables 1-3 score CelebA-only and RaFD-only models); "both": one joint model with the
    # mask vector (StarGAN-JNT, §5.5); "celeba" / "rafd": that dataset only
    rafd_steps: int = -1  # "each" on a task with both datasets: iterations of the RaFD model, decaying over its
    # second half (-1 = steps); the paper trains RaFD 100 + 100 epochs, CelebA 10 + 10 (profiles say how many)


def validate_config(config: StarGANConfig, image_size: int) -> None:
    """Raises ``HarnessError`` naming the ``stargan.*`` option that cannot run on ``image_size`` px."""
    if image_size % 4 or image_size % 2**config.d_repeat_num:
        raise HarnessError(f"stargan: image size {image_size} must be divisible by 4 (G) and by 2**d_repeat_num = "
                           f"{2**config.d_repeat_num} (D); lower stargan.d_repeat_num")
    if min(config.steps, config.batch_size, config.n_critic, config.g_conv_dim, config.d_conv_dim,
           config.lr_update_step) < 1:
        raise HarnessError("stargan.steps, batch_size, n_critic, g_conv_dim, d_conv_dim and lr_update_step must be "
                           "positive")
    check_decay_steps("stargan", config.steps, config.decay_steps)
    if config.lr_schedule not in ("paper", "official") or config.datasets not in ("each", "both", "celeba", "rafd"):
        raise HarnessError("stargan.lr_schedule must be paper|official and stargan.datasets each|both|celeba|rafd")
    if config.rafd_steps != -1 and not 1 <= config.rafd_steps <= config.steps:
        raise HarnessError(f"stargan.rafd_steps={config.rafd_steps} must be -1 (= steps) or between 1 and "
                           f"stargan.steps={config.steps}: the job runs steps iterations")


def lr_factor(config: StarGANConfig, step: int) -> float:
    """Multiplier of the base learning rates after ``step`` completed iterations."""
    decay = resolve_decay_steps(config.steps, config.decay_steps)
    start = config.steps - decay
    if decay == 0 or step < start:
        return 1.0
    if config.lr_schedule == "paper":
        return max(0.0, 1.0 - (step - start) / decay)
    # official (solver.py, train loop): after iteration i + 1 with (i + 1) % lr_update_step == 0 and
    # i + 1 > num_iters - num_iters_decay, lr -= lr0 / num_iters_decay. The multiples of lr_update_step in
    # (start, step] number step // u - start // u: a closed form, O(1) per call.
    updates = step // config.lr_update_step - start // config.lr_update_step
    return 1.0 - updates / decay


def architecture(config: StarGANConfig, image_size: int) -> str:
    """Provenance of the layers: the official ones, at the paper's sizes (128 px, 64 maps, 6 + 6) or smaller."""
    paper = (config.g_conv_dim, config.d_conv_dim, config.g_repeat_num, config.d_repeat_num, image_size)
    sizes = "at the paper's sizes" if paper == (64, 64, 6, 6, 128) else "at this profile's smaller sizes"
    return f"official code {sizes} (yunjey/stargan model.py)"


def schedule_rule(config: StarGANConfig) -> str:
    """How the lr decays, for provenance: the paper's linear decay or the official code's decrements."""
    if config.lr_schedule == "paper":
        return "paper linear decay"
    return f"official decay (lr -= lr0/decay every {config.lr_update_step})"


class StarGAN:
    """One G and one D over every domain of the task's datasets; satisfies ``ReferenceModel``."""

    def __init__(self, config: StarGANConfig, label_dims: dict[str, int], image_size: int,
                 device: torch.device) -> None:
        """Builds G and D (PyTorch default initialisation, as the official code).

        Args:
            config: Hyperparameters.
            label_dims: Dataset -> label width (``{"celeba": 5, "rafd": 8}``); two datasets mean joint training.
            image_size: Side of the square images.
            device: Where to train.
        """
        self.config, self.device, self.label_dims, self.image_size = config, device, dict(label_dims), image_size
        self.datasets = tuple(d for d in DATASET_ORDER if d in label_dims)
        self.joint = len(self.datasets) == 2
        classes = sum(label_dims.values())
        self.nets: dict[str, nn.Module] = {
            "G": Generator(config.g_conv_dim, classes + (2 if self.joint else 0), config.g_repeat_num).to(device),
            "D": Discriminator(image_size, config.d_conv_dim, classes, config.d_repeat_num).to(device)}
        self.optimizers = {
            "G": adam(self.nets["G"].parameters(), lr=config.g_lr, betas=(config.beta1, config.beta2), device=device),
            "D": adam(self.nets["D"].parameters(), lr=config.d_lr, betas=(config.beta1, config.beta2), device=device)}
        self.step = 0

    def condition(self, dataset: str, labels: torch.Tensor) -> torch.Tensor:
        """G's label vector: the labels, or with joint training ``[celeba, rafd, mask]`` with the other zeroed."""
        if not self.joint:
            return labels
        parts = [labels if d == dataset else labels.new_zeros(labels.size(0), self.label_dims[d])
                 for d in DATASET_ORDER]
        mask = labels.new_zeros(labels.size(0), 2)  # one-hot of the dataset, made on the labels' device (no copy)
        mask[:, DATASET_ORDER.index(dataset)] = 1
        return torch.cat([*parts, mask], dim=1)

    def _class_slice(self, dataset: str, logits: torch.Tensor) -> torch.Tensor:
        start = 0 if dataset == self.datasets[0] else self.label_dims[self.datasets[0]]
        return logits[:, start: start + self.label_dims[dataset]]

    @staticmethod
    def classification_loss(dataset: str, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """CelebA: summed BCE over attributes / batch; RaFD: cross-entropy against the one-hot's index."""
        if dataset == "celeba":
            return F.binary_cross_entropy_with_logits(logits, labels, reduction="sum") / logits.size(0)
        return F.cross_entropy(logits, labels.argmax(1))

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One official iteration: per dataset a D update, and a G update every ``n_critic`` iterations.

        Args:
            batch: Per dataset ``"<ds>/x"`` float (N, 3, H, W) in [0, 1], ``"<ds>/c_org"`` and ``"<ds>/c_trg"``
                float label vectors (CelebA attributes or RaFD one-hot expressions).

        Returns:
            Detached scalar tensors on the device: ``"<ds>/D/loss_real"``, ``.../loss_fake``, ``.../loss_cls``,
            ``.../loss_gp`` and, on G iterations, ``"<ds>/G/loss_fake"``, ``.../loss_rec``, ``.../loss_cls``.
        """
        factor = lr_factor(self.config, self.step)
        for name, base in (("G", self.config.g_lr), ("D", self.config.d_lr)):
            for group in self.optimizers[name].param_groups:
                group["lr"] = base * factor
        losses: dict[str, torch.Tensor] = {}
        for dataset in self.datasets:
            x = check_image_layout(batch[f"{dataset}/x"], f"stargan batch {dataset}/x", 3).to(
                self.device, non_blocking=True) * 2 - 1
            c_org, c_trg = (batch[f"{dataset}/{k}"].to(self.device, non_blocking=True) for k in ("c_org", "c_trg"))
            losses.update({f"{dataset}/{k}": v for k, v in self._d_step(dataset, x, c_org, c_trg).items()})
            if (self.step + 1) % self.config.n_critic == 0:
                losses.update({f"{dataset}/{k}": v for k, v in self._g_step(dataset, x, c_org, c_trg).items()})
        self.step += 1
        return losses

    def _d_step(self, dataset: str, x: torch.Tensor, c_org: torch.Tensor, c_trg: torch.Tensor
                ) -> dict[str, torch.Tensor]:
        cfg, g, d = self.config, self.nets["G"], self.nets["D"]
        out_src, out_cls = d(x)
        loss_real = -out_src.mean()
        loss_cls = self.classification_loss(dataset, self._class_slice(dataset, out_cls), c_org)
        fake = g(x, self.condition(dataset, c_trg))
        loss_fake = d(fake.detach())[0].mean()
        alpha = torch.rand(x.size(0), 1, 1, 1, device=x.device)
        x_hat = (alpha * x.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
        loss_gp = gradient_penalty(d(x_hat)[0], x_hat)
        total = loss_real + loss_fake + cfg.lambda_cls * loss_cls + cfg.lambda_gp * loss_gp
        self.optimizers["D"].zero_grad(set_to_none=True)
        self.optimizers["G"].zero_grad(set_to_none=True)
        total.backward()
        self.optimizers["D"].step()
        return {"D/loss_real": loss_real.detach(), "D/loss_fake": loss_fake.detach(),
                "D/loss_cls": loss_cls.detach(), "D/loss_gp": loss_gp.detach()}

    def _g_step(self, dataset: str, x: torch.Tensor, c_org: torch.Tensor, c_trg: torch.Tensor
                ) -> dict[str, torch.Tensor]:
        cfg, g, d = self.config, self.nets["G"], self.nets["D"]
        fake = g(x, self.condition(dataset, c_trg))
        out_src, out_cls = d(fake)
        loss_fake = -out_src.mean()
        loss_cls = self.classification_loss(dataset, self._class_slice(dataset, out_cls), c_trg)
        loss_rec = (x - g(fake, self.condition(dataset, c_org))).abs().mean()
        total = loss_fake + cfg.lambda_rec * loss_rec + cfg.lambda_cls * loss_cls
        self.optimizers["G"].zero_grad(set_to_none=True)
        self.optimizers["D"].zero_grad(set_to_none=True)
        total.backward()
        self.optimizers["G"].step()
        return {"G/loss_fake": loss_fake.detach(), "G/loss_rec": loss_rec.detach(), "G/loss_cls": loss_cls.detach()}

    @torch.no_grad()
    def translate(self, images: torch.Tensor, *, dataset: str, source: torch.Tensor, target: torch.Tensor
                  ) -> torch.Tensor:
        """G(x, c) for float (N, 3, H, W) in [0, 1] and target labels (N, C) of ``dataset``; returns [0, 1].

        ``source`` (the inputs' own labels) is not needed by StarGAN; it is part of the faces-model signature.
        """
        if dataset not in self.datasets:
            raise HarnessError(f"stargan was trained on {', '.join(self.datasets)}, not {dataset!r}")
        check_images(images, f"stargan translate({dataset}) images", 3)
        g = self.nets["G"]
        with batch_statistics(g):
            out = g(images.to(self.device) * 2 - 1, self.condition(dataset, target.float().to(self.device)))
        return ((out + 1) / 2).clamp_(0, 1).to(images.device)

    def directions(self) -> tuple[str, ...]:
        """The datasets whose labels ``translate`` accepts."""
        return self.datasets

    def can_translate(self, *, dataset: str, source: torch.Tensor, target: torch.Tensor) -> bool:
        """One G reaches every target of a dataset it was trained on, from any input."""
        return dataset in self.datasets

    def provenance(self) -> dict[str, str]:
        """Training data (joint with the mask vector, or one dataset), batch, schedule and lr rule."""
        cfg = self.config
        data = "CelebA and RaFD jointly with the mask vector" if self.joint else f"{self.datasets[0]} only"
        rule = schedule_rule(cfg)
        return {"model_train": f"{data}, batch {cfg.batch_size} per dataset, n_critic {cfg.n_critic}, "
                               f"{schedule_text(cfg.steps, cfg.decay_steps)} ({rule})",
                "model_architecture": architecture(cfg, self.image_size)}

    def networks(self) -> dict[str, nn.Module]:
        """``G`` and ``D`` (D_src and D_cls share the trunk)."""
        return dict(self.nets)

    def networks_for(self, dataset: str) -> dict[str, nn.Module]:
        """One model serves every dataset: ``G`` and ``D``."""
        return dict(self.nets) if dataset in self.datasets else {}

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimisers and the iteration count (the lr follows from it)."""
        return {"networks": {k: v.state_dict() for k, v in self.nets.items()},
                "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()}, "step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores ``state_dict()`` output."""
        if set(state.get("networks", {})) != set(self.nets):
            raise HarnessError(f"stargan checkpoint holds networks {sorted(state.get('networks', {}))}")
        for name, net in self.nets.items():
            net.load_state_dict(state["networks"][name])
            self.optimizers[name].load_state_dict(state["optimizers"][name])
        self.step = int(state["step"])


def label_dims(task: Task, config: StarGANConfig) -> dict[str, int]:
    """Dataset -> label width for the datasets of ``task`` that ``config.datasets`` selects (``each``: all)."""
    widths = {"celeba": len(task.meta.get("attribute_names", ())), "rafd": len(task.meta.get("expression_names", ()))}
    chosen = {d: widths[d] for d in DATASET_ORDER if d in task.domains and config.datasets in ("each", "both", d)}
    if not chosen:
        raise HarnessError(f"stargan.datasets={config.datasets!r}: task {task.name!r} has datasets {task.domains}")
    return chosen


def build_stargan(config: StarGANConfig, task: Task, device: torch.device) -> StarGAN:
    """Builds one StarGAN over the datasets of ``task`` that ``config.datasets`` selects.

    ``datasets="each"`` on a task with two datasets means one model per dataset:
    ``reference_models.stargan_sng.build_stargan_models`` builds that (and calls this for each one).
    """
    validate_config(config, task.image_size)
    dims = label_dims(task, config)
    if config.datasets == "each" and len(dims) > 1:
        raise HarnessError("stargan.datasets=each on a task with two datasets is one model per dataset: build it "
                           "with reference_models.stargan_sng.build_stargan_models")
    return StarGAN(config, dims, task.image_size, device)


def _labels(task: Task, dataset: str, index: torch.Tensor) -> torch.Tensor:
    data = task.data("train", dataset)
    if dataset == "celeba":
        return data.labels["attributes"][index].float()
    return F.one_hot(data.labels["expression"][index], len(task.meta["expression_names"])).float()


def stargan_batch(task: Task, config: StarGANConfig, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Per dataset: a batch of training images (flipped at random), their labels and shuffled target labels.

    As ``solver.train``: the target labels are the batch's own labels in a random order (``torch.randperm``).
    """
    batch = {}
    for dataset in label_dims(task, config):
        data = task.data("train", dataset)
        index = sample_indices(len(data), config.batch_size, generator)
        x = data.get(index)
        if config.flip:
            flip = torch.rand(config.batch_size, generator=generator) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
        c_org = _labels(task, dataset, index)
        batch |= {f"{dataset}/x": x, f"{dataset}/c_org": c_org,
                  f"{dataset}/c_trg": c_org[torch.randperm(config.batch_size, generator=generator)]}
    return batch
