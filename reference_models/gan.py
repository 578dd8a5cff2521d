"""The vanilla GAN: Goodfellow et al., "Generative Adversarial Nets", NIPS 2014 (MNIST configuration).

Code name → paper name: ``generator`` = G(z; θ_g), ``discriminator`` = D(x; θ_d), ``noise_dim`` = dim of p_z,
``d_steps`` = k (discriminator steps per generator step, Algorithm 1).

The defaults are the released code, ``goodfeli/adversarial`` ``mnist.yaml`` with ``adversarial/__init__.py`` and
pylearn2 (see ``shared/reference/published-results.md`` §1): 100-d uniform noise of unit variance, U(-√3, √3)
(``Generator.get_noise``, __init__.py line 208) → ReLU 1200 → ReLU 1200 → sigmoid 784; D = maxout (240 units × 5
pieces) × 2 → sigmoid with dropout (input keep 0.8, hidden keep 0.5, inverted scaling); SGD batch 100, lr 0.1
divided by 1.000004 every step down to 1e-6, momentum 0.5 → 0.7 saturating at epoch 250; weights uniform in
±irange. As released, and unlike what a reading of the paper alone suggests:

- no max-column-norm constraint (``mnist.yaml`` has none; 1.9365 belongs to the TFD configs);
- D's objective is halved, ``0.5·(BCE_real + BCE_fake)`` (``AdversaryCost2.get_samples_and_objectives``,
  __init__.py line 353), and G's is the non-saturating ``BCE(D(G(z)), 1)`` on the same D outputs (line 359);
- D and G are updated simultaneously: one SGD step applies both gradients, each taken from the same samples
  before either network moves (``get_gradients``, lines 397-398 return both). ``update="alternating"`` runs the
  paper's Algorithm 1 instead (k D steps, then a G step on fresh noise) with the same objectives, and
  ``provenance()`` names the rule in every generation row;
- G's output bias starts at the logit of the data's pixel marginals clipped to [1e-7, 1 − 1e-7] (``mnist.yaml``
  ``init_sigmoid_bias_from_marginals``; pylearn2 ``models/dbm/__init__.py`` lines 84-88).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch
from torch import nn
from torch.nn import functional as F

from harness.core.errors import HarnessError
from harness.core.task import Task
from reference_models.base import sample_indices
from reference_models.training import adam

PAPER = "Goodfellow et al., Generative Adversarial Nets, NIPS 2014"
Update = Literal["simultaneous", "alternating"]
GLoss = Literal["non_saturating", "minimax"]
Optimizer = Literal["sgd", "adam"]
UPDATES: tuple[str, ...] = get_args(Update)
G_LOSSES: tuple[str, ...] = get_args(GLoss)
OPTIMIZERS: tuple[str, ...] = get_args(Optimizer)
MARGINAL_CLIP = 1e-7  # pylearn2 init_sigmoid_bias_from_array: np.clip(mean, 1e-7, 1 - 1e-7)


@dataclass(frozen=True)
class GANConfig:
    """Vanilla GAN hyperparameters; defaults are the released MNIST configuration."""

    noise_dim: int = 100  # dimension of z ~ U(-sqrt(3), sqrt(3))^noise_dim
    g_hidden: int = 1200  # units in each of G's two ReLU layers
    d_units: int = 240  # maxout units per D layer
    d_pieces: int = 5  # linear pieces per maxout unit
    g_irange: float = 0.05  # G weights ~ U(-irange, irange)
    d_irange: float = 0.005  # D weights ~ U(-irange, irange)
    max_col_norm: float = 0.0  # D weight column-norm limit (pylearn2 max_col_norm): none on MNIST; 0 disables
    d_input_keep: float = 0.8  # dropout keep-probability on D's input
    d_hidden_keep: float = 0.5  # dropout keep-probability on D's hidden layers
    optimizer: Optimizer = "sgd"  # "sgd" (released: SGD with momentum) or "adam" (lr, beta 0.5/0.999)
    lr: float = 0.1  # initial learning rate
    lr_decay: float = 1.000004  # lr is divided by this every step (pylearn2 ExponentialDecay)
    min_lr: float = 1e-6  # floor of the decayed learning rate
    momentum_start: float = 0.5  # SGD momentum at step 0
    momentum_end: float = 0.7  # SGD momentum after momentum_saturate_steps
    momentum_saturate_steps: int = 125000  # 250 epochs of 500 batches (MNIST train[0:50000], batch 100)
    update: Update = "simultaneous"  # "simultaneous" (released code, one SGD step) or "alternating" (Algorithm 1)
    d_steps: int = 1  # k: discriminator steps per generator step (alternating only; the released code has 1)
    g_loss: GLoss = "non_saturating"  # "non_saturating" (-log D(G(z)), the released code) or "minimax"
    batch_size: int = 100  # minibatch size m
    steps: int = 100000  # generator steps to train
    domain: str = "handwritten"  # which task domain the GAN models


def validate_config(config: GANConfig, image_size: int) -> None:
    """Raises ``HarnessError`` naming the ``gan.*`` option that cannot run (``image_size`` is not needed)."""
    for key, value, allowed in (("update", config.update, UPDATES), ("g_loss", config.g_loss, G_LOSSES),
                                ("optimizer", config.optimizer, OPTIMIZERS)):
        if value not in allowed:
            raise HarnessError(f"gan.{key}={value!r} is not one of {', '.join(allowed)}")
    if config.d_steps < 1 or config.steps < 1 or config.batch_size < 1:
        raise HarnessError("gan.d_steps, gan.steps and gan.batch_size must be positive")
    if config.update == "simultaneous" and config.d_steps != 1:
        raise HarnessError(f"gan.d_steps={config.d_steps} needs gan.update=alternating: the released code's "
                           "simultaneous update takes one D and one G step from the same samples")


class Maxout(nn.Module):
    """Maxout layer: ``units`` outputs, each the max over ``pieces`` linear functions of the input."""

    def __init__(self, in_features: int, units: int, pieces: int) -> None:
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(in_features, units * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Maps ``(N, in_features)`` to ``(N, units)``."""
        return self.linear(x).view(x.shape[0], self.units, self.pieces).amax(dim=2)


def _uniform_init(module: nn.Module, irange: float) -> None:
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            nn.init.uniform_(layer.weight, -irange, irange)
            nn.init.zeros_(layer.bias)


class Generator(nn.Module):
    """G: z ``(N, noise_dim)`` → images ``(N, C, H, W)`` in [0, 1] (sigmoid output)."""

    def __init__(self, config: GANConfig, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.image_shape = image_shape
        self.net = nn.Sequential(
            nn.Linear(config.noise_dim, config.g_hidden), nn.ReLU(),
            nn.Linear(config.g_hidden, config.g_hidden), nn.ReLU(),
            nn.Linear(config.g_hidden, math.prod(image_shape)),
        )
        _uniform_init(self, config.g_irange)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Maps noise to images in [0, 1]."""
        return torch.sigmoid(self.net(z)).view(z.shape[0], *self.image_shape)


class Discriminator(nn.Module):
    """D: images ``(N, C, H, W)`` in [0, 1] → logits ``(N,)`` of "came from the data"."""

    def __init__(self, config: GANConfig, image_shape: tuple[int, int, int]) -> None:
        super().__init__()
        dim = math.prod(image_shape)
        self.net = nn.Sequential(
            nn.Dropout(1 - config.d_input_keep),
            Maxout(dim, config.d_units, config.d_pieces), nn.Dropout(1 - config.d_hidden_keep),
            Maxout(config.d_units, config.d_units, config.d_pieces), nn.Dropout(1 - config.d_hidden_keep),
            nn.Linear(config.d_units, 1),
        )
        _uniform_init(self, config.d_irange)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (apply a sigmoid for D(x))."""
        return self.net(x.flatten(1)).squeeze(1)


def sample_noise(n: int, dim: int, generator: torch.Generator | None = None,
                 device: torch.device | None = None) -> torch.Tensor:
    """Z ~ U(-√3, √3)^dim, unit variance, shape ``(n, dim)``, drawn on ``device`` (default CPU).

    Training draws on the model's device from its global generator (seeded by the job seed): no host-to-device copy
    in a step, and on CPU the same numbers as before the device argument existed.
    """
    return (torch.rand(n, dim, generator=generator, device=device) * 2 - 1) * math.sqrt(3.0)


def _report(loss_d: torch.Tensor, loss_g: torch.Tensor, logit_real: torch.Tensor, logit_fake: torch.Tensor
            ) -> dict[str, torch.Tensor]:
    with torch.no_grad():
        return {"D": loss_d.detach(), "G": loss_g.detach(), "D(x)": torch.sigmoid(logit_real).mean(),
                "D(G(z))": torch.sigmoid(logit_fake).mean()}


class VanillaGAN:
    """The 2014 GAN: simultaneous D/G updates as released, or Algorithm 1 (``config.update``)."""

    def __init__(self, config: GANConfig, image_shape: tuple[int, int, int], pixel_mean: torch.Tensor,
                 device: torch.device) -> None:
        self.config, self.device = config, device
        self.generator = Generator(config, image_shape).to(device)
        self.discriminator = Discriminator(config, image_shape).to(device)
        with torch.no_grad():  # pylearn2 init_sigmoid_bias_from_marginals
            p = pixel_mean.flatten().double().clamp(MARGINAL_CLIP, 1 - MARGINAL_CLIP)
            self.generator.net[-1].bias.copy_(torch.log(p / (1 - p)).float().to(device))
        self.opt_g = self._optimizer(self.generator)
        self.opt_d = self._optimizer(self.discriminator)
        self.step = 0

    def _optimizer(self, net: nn.Module) -> torch.optim.Optimizer:
        if self.config.optimizer == "sgd":
            return torch.optim.SGD(net.parameters(), lr=self.config.lr, momentum=self.config.momentum_start)
        if self.config.optimizer == "adam":
            return adam(net.parameters(), lr=self.config.lr, betas=(0.5, 0.999), device=self.device)
        raise HarnessError(f"gan.optimizer={self.config.optimizer!r} is not one of {', '.join(OPTIMIZERS)}")

    def _schedule(self) -> None:
        cfg = self.config
        lr = max(cfg.lr / cfg.lr_decay**self.step, cfg.min_lr)
        frac = min(1.0, self.step / max(1, cfg.momentum_saturate_steps))
        for opt in (self.opt_g, self.opt_d):
            for group in opt.param_groups:
                group["lr"] = lr
                if cfg.optimizer == "sgd":
                    group["momentum"] = cfg.momentum_start + frac * (cfg.momentum_end - cfg.momentum_start)

    def _clip_columns(self) -> None:
        if self.config.max_col_norm <= 0:
            return
        with torch.no_grad():
            for layer in self.discriminator.modules():
                if isinstance(layer, nn.Linear):  # a column of pylearn2's W is the weights into one unit: a row here
                    norms = layer.weight.norm(dim=1, keepdim=True).clamp(min=1e-12)
                    layer.weight.mul_(norms.clamp(max=self.config.max_col_norm) / norms)

    @staticmethod
    def _d_objective(logit_real: torch.Tensor, logit_fake: torch.Tensor) -> torch.Tensor:
        """``0.5 * (BCE(D(x), 1) + BCE(D(G(z)), 0))``, AdversaryCost2's d_obj."""
        return 0.5 * (F.binary_cross_entropy_with_logits(logit_real, torch.ones_like(logit_real))
                      + F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake)))

    def _g_objective(self, logit_fake: torch.Tensor) -> torch.Tensor:
        if self.config.g_loss == "non_saturating":  # AdversaryCost2's g_obj: BCE against the "real" label
            return F.binary_cross_entropy_with_logits(logit_fake, torch.ones_like(logit_fake))
        return -F.binary_cross_entropy_with_logits(logit_fake, torch.zeros_like(logit_fake))  # log(1 - D(G(z)))

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One SGD step of both networks (simultaneous) or one iteration of Algorithm 1 (alternating).

        Args:
            batch: ``{"real": (k * m, C, H, W)}`` float in [0, 1]; split into k minibatches for the D steps.

        Returns:
            Detached scalar tensors on the device: ``{"D": D objective, "G": G objective, "D(x)": mean D on real,
            "D(G(z))": mean D on fake}``.
        """
        self._schedule()
        self.generator.train()
        self.discriminator.train()
        reals = batch["real"].to(self.device, non_blocking=True)
        if self.config.update == "simultaneous":
            out = self._simultaneous(reals)
        else:
            out = self._alternating(reals.chunk(self.config.d_steps))
        self._clip_columns()
        self.step += 1
        return out

    def _simultaneous(self, real: torch.Tensor) -> dict[str, torch.Tensor]:
        """Both gradients from one forward pass, taken before either network moves, then one step of each."""
        z = sample_noise(real.shape[0], self.config.noise_dim, device=self.device)
        logit_real, logit_fake = self.discriminator(real), self.discriminator(self.generator(z))
        loss_d, loss_g = self._d_objective(logit_real, logit_fake), self._g_objective(logit_fake)
        d_params, g_params = list(self.discriminator.parameters()), list(self.generator.parameters())
        d_grads = torch.autograd.grad(loss_d, d_params, retain_graph=True)
        g_grads = torch.autograd.grad(loss_g, g_params)
        for param, grad in zip([*d_params, *g_params], [*d_grads, *g_grads], strict=True):
            param.grad = grad
        self.opt_d.step()
        self.opt_g.step()
        return _report(loss_d, loss_g, logit_real, logit_fake)

    def _alternating(self, reals: tuple[torch.Tensor, ...]) -> dict[str, torch.Tensor]:
        """Algorithm 1: k D steps on detached fakes, then one G step on fresh noise against the updated D."""
        cfg = self.config
        for real in reals:
            fake = self.generator(sample_noise(real.shape[0], cfg.noise_dim, device=self.device)).detach()
            logit_real = self.discriminator(real)
            loss_d = self._d_objective(logit_real, self.discriminator(fake))
            self.opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            self.opt_d.step()
            self._clip_columns()
        logit = self.discriminator(self.generator(sample_noise(cfg.batch_size, cfg.noise_dim, device=self.device)))
        loss_g = self._g_objective(logit)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        return _report(loss_d, loss_g, logit_real, logit)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator, batch_size: int = 500) -> torch.Tensor:
        """``n`` samples ``(n, C, H, W)`` in [0, 1], noise drawn from ``generator`` (reproducible)."""
        self.generator.eval()
        noise = sample_noise(n, self.config.noise_dim, generator)
        return torch.cat([self.generator(z.to(self.device)).cpu() for z in noise.split(batch_size)])

    def directions(self) -> tuple[str, ...]:
        """None: the GAN samples from noise (``sample``) and translates nothing."""
        return ()

    def provenance(self) -> dict[str, str]:
        """The update rule (``gan_update``), for every generation row's protocol string."""
        if self.config.update == "simultaneous":
            return {"gan_update": "simultaneous D and G SGD step from the same samples (released code)"}
        return {"gan_update": f"alternating, k={self.config.d_steps} D steps then 1 G step (paper Algorithm 1)"}

    def networks(self) -> dict[str, nn.Module]:
        """``{"G": generator, "D": discriminator}``."""
        return {"G": self.generator, "D": self.discriminator}

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimisers and the step counter."""
        return {"G": self.generator.state_dict(), "D": self.discriminator.state_dict(),
                "opt_G": self.opt_g.state_dict(), "opt_D": self.opt_d.state_dict(), "step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores ``state_dict()`` output."""
        self.generator.load_state_dict(state["G"])
        self.discriminator.load_state_dict(state["D"])
        self.opt_g.load_state_dict(state["opt_G"])
        self.opt_d.load_state_dict(state["opt_D"])
        self.step = int(state["step"])


def build_gan(config: GANConfig, task: Task, device: torch.device) -> VanillaGAN:
    """Builds the GAN for ``task``'s ``config.domain`` (image shape and pixel marginals from its train split)."""
    train = task.data("train", config.domain)
    shape = tuple(train.images.shape[1:])
    return VanillaGAN(config, shape, train.get().mean(dim=0), device)  # type: ignore[arg-type]


def gan_batch(task: Task, config: GANConfig, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """``{"real": (k * m, C, H, W)}``: k minibatches of real training images for the D steps."""
    train = task.data("train", config.domain)
    return {"real": train.get(sample_indices(len(train), config.batch_size * config.d_steps, generator))}
