"""SRGAN and SRResNet: Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a GAN", CVPR 2017.

Paper: "Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network" (arXiv 1609.04802).
No official code was released (Theano/Lasagne); this follows the paper's §2–3 and Figure 4, and the
tensorlayer/srgan reproduction where the paper is silent.

Code name → paper name: ``G`` = G_θG (SRResNet, ``sr_networks.SRResNet``), ``D`` = D_θD (``SRDiscriminator``);
``G_content`` = l^SR_X (``"mse"``: pixel MSE on [−1, 1], Eq. 4; ``"vgg22"`` / ``"vgg54"``: MSE of φ2,2 / φ5,4
feature maps multiplied by s, Eq. 5: the paper's s = 1/12.75 or a calibrated one, see below), ``G_adv`` =
10⁻³ · l^SR_Gen with l_Gen = −log D(G(I_LR)) (Eq. 6), ``G_tv`` = the TV term of SRResNet-VGG22, ``D_real`` /
``D_fake`` = D's cross-entropy on HR and on SR images.

Training (§3.2): LR inputs in [0, 1], HR targets in [−1, 1]; Adam β1 = 0.9. SRResNet: lr 1e-4 for 10⁶ steps.
SRGAN: initialised from SRResNet-MSE — here the first ``pretrain_steps`` steps train G alone with the MSE, so a
SRGAN job with ``pretrain_steps`` equal to SRResNet's ``steps`` starts its adversarial phase from exactly the SRResNet
job's generator (same seed, same initialisation, same batches; the harness takes that job's finished state instead of
repeating the steps when it can, ``harness/sr_models.adopt_srresnet``) — then 10⁵ steps at 1e-4 and 10⁵ at 1e-5
(``decay_after``), with k = 1 D step per G step. Batch norm uses batch statistics in training and its running
statistics at test time ("BN statistics frozen").

The content loss's feature network is an explicit argument (``ContentNetwork``): VGG19 from the user's weights file
when they give one, otherwise a feature network the harness trains itself; the harness decides which
(``harness/sr_models.py``) and every result row says which it was.

The feature scale s of Eq. 5 (``reference_models/sr_content.py``): ``content_scale="calibrated"`` (default) sets it
once per content network and task so that l_X(bicubic, HR) = l_MSE(bicubic, HR) on a fixed batch of training crops,
which is what §3.2 says its 1/12.75 does for Caffe VGG19; ``"fixed"`` uses ``feature_rescale`` (1/12.75 with Caffe
VGG19 weights and ``vgg19_preprocess="caffe"`` is the paper's setting). Every row names s and how it was set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.nn import functional as F

from harness.core.errors import HarnessError
from harness.core.images import check_image_layout, check_images
from harness.core.task import Task
from reference_models.sr_content import PAPER_RESCALE, ContentNetwork
from reference_models.sr_networks import SRDiscriminator, SRResNet
from reference_models.training import adam

PAPER = "Ledig et al., Photo-Realistic Single Image Super-Resolution Using a GAN, CVPR 2017"
CONTENT_LOSSES = ("mse", "vgg22", "vgg54")
Content = Literal["mse", "vgg22", "vgg54"]


@dataclass(frozen=True)
class SRGANConfig:
    """SRGAN / SRResNet hyperparameters; defaults are the paper's SRGAN-VGG54 (×4, 96 px HR crops)."""

    n_blocks: int = 16  # residual blocks B of G
    width: int = 64  # feature maps of G
    d_width: int = 64  # feature maps of D's first convolution (doubling to 8x)
    d_dense: int = 1024  # units of D's hidden dense layer
    adversarial: bool = True  # False = SRResNet (G alone), True = SRGAN (G + D, initialised from SRResNet-MSE)
    content: Content = "vgg54"  # l_X: "mse" (pixels), "vgg22" (φ2,2), "vgg54" (φ5,4)
    content_scale: Literal["calibrated", "fixed"] = "calibrated"  # how s (feature maps x s in l_X) is set: "calibrated"
    # = l_X(bicubic, HR) equals l_MSE(bicubic, HR) on CALIBRATION_CROPS training crops; "fixed" = feature_rescale
    feature_rescale: float = PAPER_RESCALE  # s when content_scale="fixed": §3.2's 1/12.75 (Caffe VGG19 features)
    adv_weight: float = 1e-3  # weight of l_Gen in l_SR = l_X + 1e-3 l_Gen (Eq. 3)
    tv_weight: float = 0.0  # total-variation weight (SRResNet-VGG22: 2e-8); 0 = none
    lr: float = 1e-4  # Adam learning rate of G and D
    adversarial_lr: float = 0.0  # Adam learning rate of the adversarial phase; 0 = lr (the paper: 1e-4 throughout)
    beta1: float = 0.9  # Adam beta1
    batch_size: int = 16  # HR/LR crop pairs per step
    pretrain_steps: int = 1_000_000  # SRGAN: MSE-only steps of G first (= SRResNet-MSE, 10^6 in §3.2)
    steps: int = 1_200_000  # total steps: pretraining + 2 x 10^5 adversarial steps
    decay_after: int = 100_000  # adversarial steps at lr, then lr/10 for the rest (10^5 + 10^5)
    vgg19_weights: str = ""  # torchvision vgg19 state dict for the VGG losses; "" = the harness's own feature network
    vgg19_preprocess: Literal["torchvision", "caffe"] = "torchvision"  # VGG19 inputs: RGB ImageNet mean/std
    # (torchvision's weights) or BGR 0-255 minus the mean (Caffe VGG19 weights in torchvision's layout, the paper's)
    judge_steps: int = 2000  # training steps of the harness's own content feature network (when no VGG19 weights)


def validate_config(config: SRGANConfig, image_size: int) -> None:
    """Raises ``HarnessError`` naming the option when ``config`` cannot train on ``image_size`` px HR crops."""
    if config.content not in CONTENT_LOSSES:
        raise HarnessError(f"srgan content={config.content!r} is not one of {', '.join(CONTENT_LOSSES)}")
    if min(config.n_blocks, config.width, config.d_width, config.d_dense, config.batch_size) < 1:
        raise HarnessError("srgan n_blocks, width, d_width, d_dense and batch_size must be positive")
    if config.steps < 1 or not 0 <= config.pretrain_steps <= config.steps or config.decay_after < 0:
        raise HarnessError(f"srgan steps={config.steps} and pretrain_steps={config.pretrain_steps}: expected "
                           "0 <= pretrain_steps <= steps, steps >= 1, decay_after >= 0")
    if image_size < 16:
        raise HarnessError(f"srgan: HR crops of {image_size} px are too small for D's four stride-2 stages (>= 16)")
    if config.content_scale not in ("calibrated", "fixed") or config.vgg19_preprocess not in ("torchvision", "caffe"):
        raise HarnessError(f"srgan content_scale={config.content_scale!r} (calibrated|fixed) or vgg19_preprocess="
                           f"{config.vgg19_preprocess!r} (torchvision|caffe) is not a valid choice")
    if not (0 <= config.adversarial_lr < float("inf")):
        raise HarnessError(f"srgan adversarial_lr={config.adversarial_lr}: expected a finite number >= 0 (0 = lr)")
    if not (0 < config.feature_rescale < float("inf")):
        raise HarnessError(f"srgan feature_rescale={config.feature_rescale}: expected a finite number > 0")
    if config.vgg19_weights and not Path(config.vgg19_weights).is_file():
        raise HarnessError(f"srgan vgg19_weights={config.vgg19_weights!r}: no such file (torchvision's vgg19 state "
                           "dict; nothing is downloaded)")


def lr_factor(config: SRGANConfig) -> Callable[[int], float]:
    """The LR multiplier at a step: 1 through pretraining and ``decay_after`` adversarial steps, then 0.1."""
    boundary = config.pretrain_steps + config.decay_after if config.adversarial else config.steps

    def factor(step: int) -> float:
        return 1.0 if step < boundary else 0.1

    return factor


class SRGAN:
    """SRResNet (``adversarial=False``) or SRGAN; satisfies ``reference_models.base.ReferenceModel``.

    Args:
        config: Hyperparameters.
        channels: Image channels (3 or 1).
        image_size: HR crop side (sets D's dense layer).
        scale: Upscaling factor.
        content: The feature network for ``"vgg22"`` / ``"vgg54"`` content losses (None for ``"mse"``).
        device: Where to train.
    """

    def __init__(self, config: SRGANConfig, *, channels: int, image_size: int, scale: int,
                 content: ContentNetwork | None, device: torch.device) -> None:
        if config.content != "mse" and content is None:
            raise HarnessError(f"srgan content={config.content!r} needs a feature network")
        self.config, self.device, self.channels, self.scale = config, device, channels, scale
        self.content = content
        if content is not None:
            content.module.to(device).eval().requires_grad_(False)
        self.nets: dict[str, nn.Module] = {"G": SRResNet(channels, config.width, config.n_blocks, scale).to(device)}
        if config.adversarial:
            self.nets["D"] = SRDiscriminator(channels, image_size, config.d_width, config.d_dense).to(device)
        self.optimizers = {name: adam(net.parameters(), lr=config.lr, betas=(config.beta1, 0.999), device=device)
                           for name, net in self.nets.items()}
        self.lr_factor = lr_factor(config)
        self.content_scale = content.scale if content is not None else 1.0  # s of Eq. 5 (restored with the state)
        self.step = 0  # steps taken; sets the phase (pretraining or adversarial) and the learning rate

    def _content_loss(self, sr: torch.Tensor, hr: torch.Tensor, kind: str) -> torch.Tensor:
        """l_X between SR and HR images in [−1, 1] (Eq. 4 or Eq. 5 on rescaled feature maps)."""
        if kind == "mse":
            return F.mse_loss(sr, hr)
        assert self.content is not None
        layer = kind.removeprefix("vgg")
        scale = self.content_scale
        with torch.no_grad():
            target = self.content.features((hr + 1) / 2, layer) * scale
        return F.mse_loss(self.content.features((sr + 1) / 2, layer) * scale, target)

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One step: G alone with MSE while pretraining (or for SRResNet), else one D step then one G step.

        Args:
            batch: ``"LR"`` float32 ``(N, C, h, w)`` and ``"HR"`` ``(N, C, h·scale, w·scale)``, both in [0, 1].

        Returns:
            Detached scalar tensors on the device: ``G_content`` (and ``G_adv``, ``D_real``, ``D_fake`` in the
            adversarial phase; ``G_tv`` when used).
        """
        lr = check_image_layout(batch["LR"], "srgan batch['LR']", self.channels).to(self.device, non_blocking=True)
        hr = check_image_layout(batch["HR"], "srgan batch['HR']", self.channels).to(self.device,
                                                                                   non_blocking=True) * 2 - 1
        adversarial = self.config.adversarial and self.step >= self.config.pretrain_steps
        base_lr = self.config.adversarial_lr if adversarial and self.config.adversarial_lr > 0 else self.config.lr
        for optimizer in self.optimizers.values():
            for group in optimizer.param_groups:
                group["lr"] = base_lr * self.lr_factor(self.step)
        kind = self.config.content if (adversarial or not self.config.adversarial) else "mse"
        for net in self.nets.values():
            net.train()
        sr = self.nets["G"](lr)
        out: dict[str, torch.Tensor] = {}
        if adversarial:
            out |= self._step_d(sr.detach(), hr)
        loss = self._content_loss(sr, hr, kind)
        out["G_content"] = loss.detach()
        if adversarial:
            self.nets["D"].requires_grad_(False)
            logits = self.nets["D"](sr)
            g_adv = self.config.adv_weight * F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
            self.nets["D"].requires_grad_(True)
            loss, out["G_adv"] = loss + g_adv, g_adv.detach()
        if self.config.tv_weight:
            tv = self.config.tv_weight * ((sr[..., 1:, :] - sr[..., :-1, :]).square().sum()
                                          + (sr[..., :, 1:] - sr[..., :, :-1]).square().sum())
            loss, out["G_tv"] = loss + tv, tv.detach()
        self.optimizers["G"].zero_grad(set_to_none=True)
        loss.backward()
        self.optimizers["G"].step()
        self.step += 1
        return out

    def _step_d(self, sr: torch.Tensor, hr: torch.Tensor) -> dict[str, torch.Tensor]:
        """D's cross-entropy step on HR (label 1) and detached SR (label 0) images."""
        d, opt = self.nets["D"], self.optimizers["D"]
        real, fake = d(hr), d(sr)
        loss_real = F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
        loss_fake = F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake))
        opt.zero_grad(set_to_none=True)
        (loss_real + loss_fake).backward()
        opt.step()
        return {"D_real": loss_real.detach(), "D_fake": loss_fake.detach()}

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        """Super-resolves LR images (eval mode: BN running statistics).

        Args:
            images: Float32 ``(N, C, h, w)`` in [0, 1].
            direction: ``"AtoB"`` (LR → HR), the only direction.

        Returns:
            Float32 ``(N, C, h·scale, w·scale)`` in [0, 1] on ``images.device``.
        """
        if direction != "AtoB":
            raise HarnessError(f"srgan: direction {direction!r} does not exist; SR models map LR to HR (AtoB)")
        check_images(images, "srgan translate images", self.channels)
        g = self.nets["G"].eval()
        return ((g(images.to(self.device)) + 1) / 2).clamp(0, 1).to(images.device)

    def directions(self) -> tuple[str, ...]:
        """``("AtoB",)``: LR → HR."""
        return ("AtoB",)

    def networks(self) -> dict[str, nn.Module]:
        """``{"G"}`` for SRResNet, ``{"G", "D"}`` for SRGAN (the content network is frozen and not listed)."""
        return dict(self.nets)

    def provenance(self) -> dict[str, str]:
        """``model_train``, ``model_content`` and ``model_test`` for every row (values hold no ``;`` or ``=``).

        ``model_content`` names the content network and its weights' sha256 (VGG19 file or the harness's network).
        """
        cfg = self.config
        loss = {"mse": "pixel MSE", "vgg22": "phi2,2 feature MSE", "vgg54": "phi5,4 feature MSE"}[cfg.content]
        if cfg.adversarial:
            train = (f"{cfg.pretrain_steps} pixel-MSE steps (SRResNet init), then {cfg.steps - cfg.pretrain_steps} "
                     f"steps of {loss} + {cfg.adv_weight:g} adversarial, lr {cfg.lr:g}"
                     + (f" (adversarial phase {cfg.adversarial_lr:g})" if cfg.adversarial_lr > 0 else "")
                     + f" then x0.1 after {cfg.decay_after}")
        else:
            train = f"{cfg.steps} steps of {loss}" + (f" + {cfg.tv_weight:g} TV" if cfg.tv_weight else "")
        uses_features = self.content is not None and cfg.content != "mse"
        network = self.content.description if uses_features else "none"
        scale = f"s {self.content_scale:.6g}, {self.content.scale_note}" if uses_features else "none (pixel MSE)"
        return {"model_train": f"{train}, batch {cfg.batch_size}, Adam beta1 {cfg.beta1:g}",
                "model_content": network.replace(";", ",").replace("=", ":"),
                "model_content_scale": scale.replace(";", ",").replace("=", ":"),
                "model_test": "eval mode, batch-norm running statistics"}

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimisers and the step (which sets phase and learning rate); loadable with ``weights_only``."""
        return {"networks": {k: v.state_dict() for k, v in self.nets.items()},
                "optimizers": {k: v.state_dict() for k, v in self.optimizers.items()}, "step": self.step,
                "content_scale": self.content_scale}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores ``state_dict()`` output (s too: a resumed job keeps the s it started with).

        Raises:
            HarnessError: A checkpoint of another configuration.
        """
        if set(state.get("networks", {})) != set(self.nets):
            raise HarnessError(f"srgan checkpoint holds networks {sorted(state.get('networks', {}))}, this "
                               f"configuration has {sorted(self.nets)}")
        for name, net in self.nets.items():
            net.load_state_dict(state["networks"][name])
            self.optimizers[name].load_state_dict(state["optimizers"][name])
        self.step = int(state["step"])
        self.content_scale = float(state.get("content_scale", self.content_scale))


def build_srgan(config: SRGANConfig, task: Task, device: torch.device, content: ContentNetwork | None) -> SRGAN:
    """SRGAN/SRResNet for an SR task (domains LR, HR; ``task.meta["scale"]``) with the given content network."""
    if tuple(task.domains) != ("LR", "HR") or "scale" not in task.meta:
        raise HarnessError(f"srgan needs a super-resolution task (domains LR, HR); {task.name!r} is not one")
    validate_config(config, task.image_size)
    channels = task.data("train", "HR").images.shape[1]
    return SRGAN(config, channels=channels, image_size=task.image_size, scale=int(task.meta["scale"]),
                 content=content, device=device)


def tiles_of_random_photos(sources: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` tile indices: a photo drawn uniformly, then one of its tiles (``sources`` = photo of each tile)."""
    photos, counts = torch.unique(sources, return_counts=True)
    starts = torch.cumsum(counts, 0) - counts
    chosen = torch.randint(0, len(photos), (count,), generator=generator)
    within = (torch.rand(count, generator=generator, dtype=torch.float64) * counts[chosen]).long()
    order = torch.argsort(sources, stable=True)
    return order[starts[chosen] + within]


def sr_batch(task: Task, config: SRGANConfig, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """``config.batch_size`` aligned random crops: HR ``task.image_size`` px and the LR crop at the same place.

    Each crop comes from a training photo drawn uniformly (SRGAN §3.2 draws every crop of a batch from another
    image, so small and large photos count alike), a tile of that photo drawn uniformly (label ``"source"``), and a
    position drawn uniformly on the LR grid (so HR and LR align).
    """
    lr_tiles, hr_tiles = task.data("train", "LR"), task.data("train", "HR")
    scale, crop = int(task.meta["scale"]), task.image_size
    lr_crop, lr_side = crop // scale, lr_tiles.images.shape[-1]
    index = tiles_of_random_photos(hr_tiles.labels["source"], config.batch_size, generator)
    corners = torch.randint(0, lr_side - lr_crop + 1, (config.batch_size, 2), generator=generator)
    lr, hr = [], []
    for i, (top, left) in zip(index.tolist(), corners.tolist(), strict=True):
        lr.append(lr_tiles.images[i, :, top : top + lr_crop, left : left + lr_crop])
        hr.append(hr_tiles.images[i, :, top * scale : (top + lr_crop) * scale, left * scale : (left + lr_crop) * scale])
    return {"LR": torch.stack(lr).float().div_(255.0), "HR": torch.stack(hr).float().div_(255.0)}
