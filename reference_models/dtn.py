"""DTN: Taigman, Polyak & Wolf, "Unsupervised Cross-Domain Image Generation", ICLR 2017 (arXiv 1611.02200).

The Domain Transfer Network learns ``G: S → T`` from unpaired samples ``s`` of a source domain and ``t`` of a target
domain, such that a given, fixed function ``f`` (defined on both domains) keeps its value: ``f(G(x)) ≈ f(x)``. For
digits (SVHN → MNIST) ``f`` is a digit classifier trained on the source domain, and ``G = g ∘ f``.

Code name → paper name: ``f`` = f (frozen; supplied by the caller, see ``build_dtn``), ``g`` = g (transposed-
convolution decoder from f's representation, 128-d at the paper's width, to a 32 x 32 grey image), ``G`` = g ∘ f,
``D`` = the ternary discriminator D (its softmax classes ``SOURCE_FAKE``, ``TARGET_FAKE``, ``TARGET_REAL`` are the
paper's D1, D2, D3), ``alpha`` / ``beta`` / ``gamma`` = α, β, γ. Losses (returned by ``train_step``, means over the
batch where the paper writes sums, so the scale sits in α, β, γ):

    L_D     = -E_{x∈s} log D1(g(f(x))) - E_{x∈t} log D2(g(f(x))) - E_{x∈t} log D3(x)              ``D``
    L_GANG  = -E_{x∈s} log D3(g(f(x))) - E_{x∈t} log D3(g(f(x)))                                 ``GANG``
    L_CONST = E_{x∈s} ‖f(x) - f(g(f(x)))‖²   (mean squared error over f's dimensions)         ``CONST`` (x α)
    L_TID   = E_{x∈t} ‖x - g(f(x))‖²         (mean squared error over pixels in [-1, 1])         ``TID`` (x β)
    L_TV(z) = Σ_{i,j} ((z_{i,j+1} - z_{i,j})² + (z_{i+1,j} - z_{i,j})²)^{B/2}, B = 1, on G(s)    ``TV`` (x γ)
    L_G     = L_GANG + α L_CONST + β L_TID + γ L_TV

One iteration is one D step on L_D, then one step of g on L_G (the paper alternates them); f never changes.

Budget, stated against the code it is compared with: the unofficial ``yunjey/domain-transfer-network`` (formerly
``dtn-tensorflow``; ``solver.py`` ``train``) runs ``train_iter`` = 2,000 iterations, and each makes 3 D and 10 g
updates (a source half: 1 D, 6 g on the adversarial loss alone; a target half: 2 D, 4 g on adversarial + 15·L_TID)
plus one update of *f* on 15·L_CONST at every 15th batch (every 30th after iteration 1,600; ``model.py``:
``f_train_op_src`` trains the ``content_extractor`` variables, g never sees L_CONST there). ``steps`` here counts
iterations of 1 D + 1 g update: the default 2,000 steps are 2,000 g updates, a fifth of that code's 20,000 (the
smoke and standard profiles run 200 and 1,000); every row says so. The paper's budget is not known.

Table 1's ablations (registry variants): without L_CONST (α = 0), without L_TID (β = 0), without L_D and L_TID
(``use_gan=False``, β = 0: g learns from α L_CONST alone, no D), and G not containing f (``g_contains_f=False``: G =
g ∘ e with e a trainable copy of f's architecture, freshly initialised, trained with g; f still scores L_CONST).

What the architecture follows: the paper text was not available to us (``shared/reference/published-results.md``
§5); its digit networks are known from recollection ([R]) and from the unofficial ``yunjey/dtn-tensorflow``, now
``yunjey/domain-transfer-network`` (``model.py``; [S]): g is four transposed convolutions (128 x 1 x 1 → 4 → 8 →
16 → 32 px), batch norm and ReLU after the first three, tanh at the end; D is four convolutions (32 → 16 → 8 → 4 →
1 px) with batch norm and ReLU, its last one giving the three logits. Kernels are DCGAN's 4 x 4 (the paper refers
to Radford et al. 2015 for the details). Widths are the unofficial code's (g 512-256-128, D 128-256-512), i.e.
``ngf=64``, ``ndf=128``. Where the two sources differ, this follows the paper's method: D is ternary (the
unofficial code uses a binary D and separate source / target updates) and f stays fixed (the unofficial code
trains f, not g, on L_CONST).

The loss weights α = β = 15 assume a bounded representation: the f the harness supplies ends in batch norm and tanh
(``metrics/judges/source_digits.py``, as the unofficial code's f). With unbounded features the same α makes L_CONST
dominate L_G (see that file's docstring for what happened).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from harness.core.cache import weights_sha256
from harness.core.errors import HarnessError
from harness.core.images import check_image_layout, check_images
from harness.core.task import Task
from reference_models.base import sample_indices
from reference_models.dtn_networks import (
    SOURCE_FAKE,
    TARGET_FAKE,
    TARGET_REAL,
    Decoder,
    TernaryDiscriminator,
    discriminator_loss,
    generator_gan_loss,
    total_variation,
)
from reference_models.layers import init_weights
from reference_models.training import adam, load_training_state, training_state

__all__ = ["DTN", "SOURCE_FAKE", "TARGET_FAKE", "TARGET_REAL", "DTNConfig", "Decoder", "TernaryDiscriminator",
           "build_dtn", "discriminator_loss", "dtn_batch", "generator_gan_loss", "provenance", "to_model_size",
           "total_variation", "validate_config"]

PAPER = "Taigman, Polyak & Wolf, Unsupervised Cross-Domain Image Generation, ICLR 2017"
IMAGE_SIZE = 32  # g's output side; MNIST is resized to 32 x 32 (unofficial prepro.py; the paper's g outputs 32 px)
DIRECTIONS = ("AtoB",)  # source (domains[0]) → target (domains[1]) only


@dataclass(frozen=True)
class DTNConfig:
    """DTN hyperparameters; defaults are the paper's digit experiment where known (sources in each comment)."""

    alpha: float = 15.0  # α, weight of g's L_CONST: recalled as the paper's 15 ([R]); the unofficial code's 15
    # weights an L_CONST that trains f, not g ([S], model.py f_loss_src), so it does not confirm this value
    beta: float = 15.0  # β, weight of L_TID: 15 in the unofficial code's g loss ([S], g_loss_const_trg); paper [R]
    gamma: float = 0.0  # γ, weight of L_TV: recalled as 0 for digits ("no need for a smoothness term", [R])
    ngf: int = 64  # g width: 8·ngf, 4·ngf, 2·ngf channels = 512-256-128 as the unofficial code ([S])
    ndf: int = 128  # D width: ndf, 2·ndf, 4·ndf channels = 128-256-512 as the unofficial code ([S])
    lr: float = 3e-4  # Adam learning rate of g and D: the unofficial code's ([S]); the paper's is not known
    beta1: float = 0.5  # Adam beta1: DCGAN's (Radford et al., cited for the networks); unofficial code: TF's 0.9
    beta2: float = 0.999  # Adam beta2 (DCGAN, TF and torch default)
    batch_size: int = 100  # images per domain per step: the unofficial code's ([S])
    steps: int = 2000  # iterations of 1 D + 1 g update; the unofficial code's 2,000 iterations make 3 D + 10 g
    # updates each (20,000 g updates; [S], solver.py), so this is a fifth of its g budget; the paper's is not known
    use_gan: bool = True  # False: no D and no L_GANG (Table 1 "w/o L_D and L_TID", with beta = 0)
    g_contains_f: bool = True  # False: G = g ∘ e, e a trainable, freshly initialised copy of f (Table 1 "G does not
    # contain f"); f still gives L_CONST


def validate_config(config: DTNConfig, image_size: int) -> None:
    """Raises ``HarnessError`` naming the ``dtn.*`` option that cannot run (any task size works: inputs resize)."""
    for name in ("alpha", "beta", "gamma", "lr"):
        value = getattr(config, name)
        if not value >= 0 or value == float("inf"):
            raise HarnessError(f"dtn.{name}={value} must be a finite number >= 0")
    for name in ("ngf", "ndf", "batch_size", "steps"):
        if getattr(config, name) < 1:
            raise HarnessError(f"dtn.{name}={getattr(config, name)} must be >= 1")
    if not (0 <= config.beta1 < 1 and 0 <= config.beta2 < 1):
        raise HarnessError(f"dtn.beta1={config.beta1}, dtn.beta2={config.beta2}: Adam betas must be in [0, 1)")
    if not config.use_gan and config.alpha == config.beta == config.gamma == 0:
        raise HarnessError("dtn.use_gan=false with alpha = beta = gamma = 0 leaves g no loss to learn from")


def to_model_size(images: torch.Tensor) -> torch.Tensor:
    """Float ``(N, C, H, W)`` in [0, 1] → ``(N, C, 32, 32)`` (bilinear, antialiased), unchanged when already 32 px."""
    if images.shape[2:] == (IMAGE_SIZE, IMAGE_SIZE):
        return images
    return F.interpolate(images, size=(IMAGE_SIZE, IMAGE_SIZE), mode="bilinear", align_corners=False,
                         antialias=True).clamp(0, 1)


class DTN:
    """g and D around a frozen f; satisfies ``ReferenceModel`` (translates source → target only)."""

    def __init__(self, config: DTNConfig, f: nn.Module, source_channels: int, device: torch.device) -> None:
        """Builds g and D (global torch RNG for their weights).

        Args:
            config: Hyperparameters.
            f: The fixed representation: float ``(N, 1 or 3, H, W)`` in [0, 1] → ``(N, dim)``; it is frozen here
                (``requires_grad_(False)``, eval mode) and never updated.
            source_channels: Channels of the source domain (3 for SVHN-like digits).
            device: Where to train.
        """
        self.config, self.device, self.source_channels = config, device, source_channels
        self.f_sha256 = weights_sha256(f.state_dict())  # before the move: on the meta device there is nothing to hash
        self.f = f.to(device).eval().requires_grad_(False)
        with torch.no_grad():
            dim = self.f(torch.zeros(1, source_channels, IMAGE_SIZE, IMAGE_SIZE, device=device)).shape[1]
        self.nets: dict[str, nn.Module] = {"g": init_weights(Decoder(dim, config.ngf)).to(device)}
        if config.use_gan:
            self.nets["D"] = init_weights(TernaryDiscriminator(config.ndf)).to(device)
        if not config.g_contains_f:
            self.nets["e"] = fresh_copy(self.f)
        betas = (config.beta1, config.beta2)
        g_params = [p for name in ("g", "e") if name in self.nets for p in self.nets[name].parameters()]
        # e (when there) trains with g, as part of G
        self.optimizers = {"g": adam(g_params, lr=config.lr, betas=betas, device=device)}
        if config.use_gan:
            self.optimizers["D"] = adam(self.nets["D"].parameters(), lr=config.lr, betas=betas, device=device)

    def encoder(self) -> nn.Module:
        """G's first half: the frozen f, or the trainable e of the "G does not contain f" ablation."""
        return self.nets.get("e", self.f)

    def G(self, images: torch.Tensor) -> torch.Tensor:  # noqa: N802 (the paper's name)
        """G = g ∘ f (or g ∘ e): float ``(N, C, H, W)`` in [0, 1] (on the device) → ``(N, 1, 32, 32)`` in [-1, 1]."""
        return self.nets["g"](self.encoder()(images))

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One D step on L_D, then one g step on L_G.

        Args:
            batch: ``"source"`` float ``(N, C_s, 32, 32)`` and ``"target"`` float ``(N, 1, 32, 32)``, both in [0, 1].

        Returns:
            Detached scalar tensors on the device: ``D`` (L_D) and ``GANG`` (with a D), ``CONST``, ``TID``, ``TV``
            where their weight is > 0 (each multiplied by its weight), and ``G`` (L_G).
        """
        cfg, g, d = self.config, self.nets["g"], self.nets.get("D")
        s = check_image_layout(batch["source"], "dtn batch['source']", self.source_channels).to(self.device,
                                                                                               non_blocking=True)
        t = check_image_layout(batch["target"], "dtn batch['target']", 1).to(self.device, non_blocking=True)
        with torch.no_grad():
            f_s, f_t = self.f(s), self.f(t)
        g.train()
        if "e" in self.nets:  # the "G does not contain f" ablation: G's encoder trains with g
            e = self.nets["e"].train()
            g_s, g_t = g(e(s)), g(e(t))
        else:
            g_s, g_t = g(f_s), g(f_t)  # G(x) for x in s and in t, [-1, 1]
        out: dict[str, torch.Tensor] = {}
        terms: dict[str, torch.Tensor] = {}
        if d is not None:
            d.requires_grad_(True).train()
            loss_d = discriminator_loss(d(g_s.detach()), d(g_t.detach()), d(t * 2 - 1))
            self.optimizers["D"].zero_grad(set_to_none=True)
            loss_d.backward()
            self.optimizers["D"].step()
            out["D"] = loss_d.detach()
            d.requires_grad_(False)
            terms["GANG"] = generator_gan_loss(d(g_s), d(g_t))
        if cfg.alpha > 0:  # a zero weight (an ablation) skips the term and its cost
            terms["CONST"] = cfg.alpha * F.mse_loss(self.f((g_s + 1) / 2), f_s)  # f(G(x)) vs f(x), x in s
        if cfg.beta > 0:
            terms["TID"] = cfg.beta * F.mse_loss(g_t, t * 2 - 1)  # G(x) vs x, x in t
        if cfg.gamma > 0:
            terms["TV"] = cfg.gamma * total_variation(g_s)
        loss_g = sum(terms.values())
        self.optimizers["g"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["g"].step()
        if d is not None:
            d.requires_grad_(True)
        return out | {k: v.detach() for k, v in terms.items()} | {"G": loss_g.detach()}

    @torch.no_grad()
    def translate(self, images: torch.Tensor, direction: str = "AtoB") -> torch.Tensor:
        """G(x) for source images: float ``(N, C_s, H, W)`` in [0, 1] → grey ``(N, 1, 32, 32)`` in [0, 1].

        g runs in eval mode (batch norm on its running statistics), so each image's output is independent of the
        others in the batch. The output is on ``images.device``.
        """
        if direction not in DIRECTIONS:
            raise HarnessError(f"dtn: direction {direction!r} is not one of {DIRECTIONS} (DTN maps source → target)")
        check_images(images, "dtn translate images", self.source_channels)
        nets = [self.nets[name] for name in ("g", "e") if name in self.nets]
        modes = [net.training for net in nets]
        for net in nets:
            net.eval()
        try:
            out = self.G(images.to(self.device))
        finally:
            for net, mode in zip(nets, modes, strict=True):
                net.train(mode)
        return ((out + 1) / 2).clamp_(0, 1).to(images.device)

    def directions(self) -> tuple[str, ...]:
        """``("AtoB",)``: G maps the source domain to the target domain."""
        return DIRECTIONS

    def provenance(self) -> dict[str, str]:
        """How g was trained and translates, for every row's protocol string."""
        return provenance(self.config) | {"model_f": f"frozen, weights sha256 {self.f_sha256[:12]}"}

    def networks(self) -> dict[str, nn.Module]:
        """``g``, ``D`` and ``e`` where configured (trained) and ``f`` (frozen, not part of the checkpoint)."""
        return {**self.nets, "f": self.f}

    def state_dict(self) -> dict[str, Any]:
        """g, D (and e), the optimisers, and the sha256 of the f they were trained with; ``weights_only``-loadable."""
        return training_state(self.nets, self.optimizers, {}) | {"f_sha256": self.f_sha256}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores ``state_dict()`` output; a checkpoint trained with another f is a ``HarnessError``."""
        if state.get("f_sha256") != self.f_sha256:
            raise HarnessError(f"dtn checkpoint was trained with f {str(state.get('f_sha256'))[:12]}…, this f is "
                               f"{self.f_sha256[:12]}… (the source judge changed); delete the job folder to retrain")
        load_training_state("dtn", state, self.nets, {}, {})
        for name, optimizer in self.optimizers.items():
            optimizer.load_state_dict(state["optimizers"][name])


def fresh_copy(f: nn.Module) -> nn.Module:
    """A trainable copy of ``f``'s architecture with every layer re-initialised (its own defaults; global RNG)."""
    e = copy.deepcopy(f)
    for module in e.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()  # batch norm: running statistics too
    return e.requires_grad_(True).train()


def provenance(config: DTNConfig) -> dict[str, str]:
    """``model_train`` and ``model_test`` keys (no ``;`` or ``=`` in the values)."""
    weights = f"alpha {config.alpha:g}, beta {config.beta:g}, gamma {config.gamma:g}"
    update = "one D then one g update" if config.use_gan else "one g update, no D (w/o L_D)"
    encoder = "G is g of f" if config.g_contains_f else "G is g of e, e a trainable fresh copy of f's architecture"
    return {"model_train": (f"batch {config.batch_size} per domain, {config.steps} steps of {update} (the unofficial "
                            f"code's iteration: 3 D and 10 g updates), Adam lr {config.lr:g} betas "
                            f"({config.beta1:g}, {config.beta2:g}) constant, {weights}, {encoder}, "
                            f"targets resized to {IMAGE_SIZE} px, no jitter"),
            "model_test": "g in eval mode (running batch-norm statistics), grey 32 px output",
            "model_size": f"ngf {config.ngf}, ndf {config.ndf}"}


def build_dtn(config: DTNConfig, task: Task, device: torch.device, f: nn.Module) -> DTN:
    """Builds DTN for ``task``: source = ``task.domains[0]``, target = ``task.domains[1]`` (grey).

    Args:
        config: Hyperparameters.
        task: A two-domain task whose target domain is single-channel.
        device: Where to train.
        f: The frozen representation (see ``DTN``); ``harness/models.py`` supplies the source-domain judge.
    """
    if len(task.domains) < 2:
        raise HarnessError(f"dtn needs a task with a source and a target domain; {task.name!r} has {task.domains}")
    validate_config(config, task.image_size)
    source, target = (task.data("train", domain).images.shape[1] for domain in task.domains[:2])
    if target != 1:
        raise HarnessError(f"dtn: g outputs grey images; task {task.name!r} target domain {task.domains[1]!r} has "
                           f"{target} channels")
    return DTN(config, f, source, device)


def dtn_batch(task: Task, config: DTNConfig, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """``{"source", "target"}``: independent random training images of each domain, resized to 32 px."""
    s, t = (task.train_domain(domain, unpaired=True) for domain in task.domains[:2])
    index_s = sample_indices(len(s), config.batch_size, generator)
    index_t = sample_indices(len(t), config.batch_size, generator)
    return {"source": to_model_size(s.get(index_s)), "target": to_model_size(t.get(index_t))}
