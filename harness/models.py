"""The model registry: which reference models (and named variants) exist, where they run and with which protocol.

A model file (``reference_models/<model>.py``) holds the paper's network, its config, builder, batch sampler and
config check; this file decides what the harness does with it, mirroring ``harness/tasks.py``. Adding a model is a
model file plus one ``ModelSpec`` here (and a protocol in ``harness/protocols/`` if none fits).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from harness.core.registry import Registry
from harness.core.task import Task
from harness.face_models import (
    FACE_PROTOCOLS,
    JOINT_FACE_TASKS,
    build_cyclegan_any,
    build_diat_pairs,
    cyclegan_any_batch,
    diat_pairs_batch,
)
from harness.protocols.base import EvalConfig
from harness.sections import SectionSpec
from harness.source_judge import dtn_representation
from harness.sr_models import adopt_srresnet, build_sr_model
from reference_models import cyclegan, diat, dtn, gan, pix2pix, srgan, stargan, stargan_sng
from reference_models.base import ReferenceModel

Setting = Literal["paired", "unpaired", "unconditional"]
BatchFn = Callable[[Task, Any, torch.Generator], dict[str, torch.Tensor]]
BuildFn = Callable[..., ReferenceModel]  # (config, task, device) or, with ``frozen``, (config, task, device, net)
FrozenFn = Callable[[Task, EvalConfig, torch.device, bool], nn.Module]
WarmStartFn = Callable[[Any, Any, Any, Path, Path, int], str | None]  # (model, config, donor config, donor's model.pt,
# checkpoint to write, log_every) -> what was taken, or None when the donor's training is not this job's first steps


@dataclass(frozen=True)
class WarmStart:
    """A job whose first steps are, step for step, another model's whole training (SRGAN's pretraining = SRResNet).

    Attributes:
        donor: The model whose finished job of the same task and seed in the same run is taken over.
        adopt: Writes this job's checkpoint at the end of those steps from the donor's ``model.pt`` when both
            configs say the steps are the same, and says what it took (``harness.sr_models.adopt_srresnet``);
            returns None, writing nothing, otherwise.
    """

    donor: str
    adopt: WarmStartFn

TRANSLATION_PROTOCOLS: Mapping[str, str] = {  # task → protocol for models that translate A ↔ B (pix2pix, CycleGAN)
    "scenes": "fcn_scenes", "maps": "translation", "probe_texture": "probe", "probe_geometry": "probe",
    "cityscapes": "fcn_scenes", "aligned": "translation",
}


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry for one model (or one named variant of a model).

    Attributes:
        name: Registry name, e.g. ``"pix2pix"`` or a variant ``"pix2pix_l1"``.
        paper: Short citation of the paper the model comes from.
        config_section: Name of the ``RunConfig`` field holding this model's config (variants share one).
        build: ``(config, task, device) -> model``.
        batch: ``(task, config, generator) -> batch dict`` of float tensors in [0, 1] (on CPU).
        protocols: Task name → evaluation protocol name; the keys are the tasks the model runs on.
        setting: ``"paired"``, ``"unpaired"`` or ``"unconditional"``; reports group methods by it.
        variant: Human-readable variant label for reports (``"L1+cGAN"``), ``""`` for the default.
        config_overrides: Dotted overrides applied to the config section for this variant.
        default: Whether a run without ``--models`` includes it (ablation variants are opt-in).
        check: ``(config, image_size) -> None`` raising ``HarnessError`` when the config cannot run on the task;
            called for every job before the run directory is written.
        frozen: ``(task, eval config, device, progress) -> network``: a frozen judge network the builder takes as
            its fourth argument (DTN's f), resolved from ``metrics/judges`` with the run's judge recipe.
        compared_with: Models of the paper's comparison table that run beside this one, on its tasks, when it is
            named in ``--models`` (DTN: its ablations and CycleGAN).
        opt_in_tasks: Tasks a run without ``--tasks`` leaves out for this model unless a named model compares with it
            there (CycleGAN on the digit tasks: DTN's baseline, not part of CycleGAN's own default run).
        section: Plugins only: their own config section ``config_section`` (default, profile values, the built-in
            section it follows); a built-in model's section is a ``RunConfig`` field (``harness.sections``).
        model_class: Plugins only: the class ``build`` returns, checked against the model contract
            (``reference_models/base.py``) when the plugin loads (``harness.plugins``).
        warm_start: Where its first steps can come from when the donor's job of the same run is finished (SRGAN
            from SRResNet: the paper initialises SRGAN from the trained SRResNet); the result is the same either way.
    """

    name: str
    paper: str
    config_section: str
    build: BuildFn
    batch: BatchFn
    protocols: Mapping[str, str]
    setting: Setting
    variant: str = ""
    config_overrides: Mapping[str, object] | None = None
    default: bool = True
    check: Callable[[Any, int], None] | None = None
    frozen: FrozenFn | None = None
    compared_with: tuple[str, ...] = ()
    opt_in_tasks: frozenset[str] = frozenset()
    section: SectionSpec | None = None
    model_class: type | None = None
    warm_start: WarmStart | None = None


def variant_of(spec: ModelSpec, *, name: str, variant: str, overrides: Mapping[str, object],
               protocols: Mapping[str, str]) -> ModelSpec:
    """A named ablation of ``spec``: same builder and batches, config overrides, opt-in (not in default runs)."""
    return dataclasses.replace(spec, name=name, variant=variant, config_overrides=dict(overrides),
                               protocols=dict(protocols), default=False, compared_with=())


def build_model(spec: ModelSpec, config: Any, task: Task, device: torch.device, eval_config: EvalConfig,
                progress: bool) -> ReferenceModel:
    """Builds ``spec``'s model for ``task``, resolving its frozen judge network first where it takes one (DTN's f).

    Args:
        spec: The model's registry entry.
        config: Its resolved config section (``run_config.model_config``).
        task: The task it trains on.
        device: Where to build it.
        eval_config: The run's evaluation settings (the frozen judge's width and training recipe).
        progress: Whether a judge trained here shows a progress bar.
    """
    if spec.frozen is None:
        return spec.build(config, task, device)
    return spec.build(config, task, device, spec.frozen(task, eval_config, device, progress))


def comparisons(named: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """Models that run beside the ones named in ``--models`` (their ``compared_with``), each with the tasks asked for.

    A comparison model that is not itself named runs only on the tasks of the model(s) that asked for it (CycleGAN
    beside DTN runs on the digit tasks, not on scenes); a named one runs on its usual tasks plus these.
    """
    found: dict[str, set[str]] = {}
    for name in named:
        spec = MODELS.get(name)
        for other in spec.compared_with:
            found.setdefault(other, set()).update(spec.protocols)
    return {name: frozenset(tasks) for name, tasks in found.items()}


ABLATION_PROTOCOLS: Mapping[str, str] = {"scenes": "fcn_scenes"}  # the papers' ablation tables are on Cityscapes

GAN = ModelSpec(
    name="gan", paper=gan.PAPER, config_section="gan", build=gan.build_gan, batch=gan.gan_batch,
    protocols={"digits": "generation"}, setting="unconditional", check=gan.validate_config,
)

PIX2PIX = ModelSpec(
    name="pix2pix", paper=pix2pix.PAPER, config_section="pix2pix", build=pix2pix.build_pix2pix,
    batch=pix2pix.pix2pix_batch, protocols=TRANSLATION_PROTOCOLS, setting="paired", variant="L1+cGAN",
    check=pix2pix.validate_config,
)

DIGIT_TRANSFER_PROTOCOLS: Mapping[str, str] = {"digits": "digit_transfer", "svhn_mnist": "digit_transfer"}

CYCLEGAN = ModelSpec(  # digit tasks: DTN's second unpaired baseline; faces tasks: one per attribute pair (StarGAN's)
    name="cyclegan", paper=cyclegan.PAPER, config_section="cyclegan", build=build_cyclegan_any,
    batch=cyclegan_any_batch, protocols={**TRANSLATION_PROTOCOLS, **DIGIT_TRANSFER_PROTOCOLS, **FACE_PROTOCOLS},
    setting="unpaired", check=cyclegan.validate_config, opt_in_tasks=frozenset(DIGIT_TRANSFER_PROTOCOLS),
)

DTN = ModelSpec(
    name="dtn", paper=dtn.PAPER, config_section="dtn", build=dtn.build_dtn, batch=dtn.dtn_batch,
    protocols=DIGIT_TRANSFER_PROTOCOLS, setting="unpaired", check=dtn.validate_config, frozen=dtn_representation,
    compared_with=("dtn_no_const", "dtn_no_tid", "dtn_no_d_no_tid", "dtn_no_f", "cyclegan"),
)


STARGAN = ModelSpec(  # one model per dataset (StarGAN-SNG): the paper's Tables 1-3, RaFD's Table 3 from RaFD alone
    name="stargan", paper=stargan.PAPER, config_section="stargan", build=stargan_sng.build_stargan_models,
    batch=stargan.stargan_batch, protocols=FACE_PROTOCOLS, setting="unpaired", variant="StarGAN-SNG",
    check=stargan.validate_config, compared_with=("stargan_jnt",),
)
STARGAN_JNT = dataclasses.replace(  # one model trained on CelebA and RaFD jointly with the mask vector (§5.5); runs
    # when named, or beside stargan when --models names it (the paper's §5.5 comparison), not in the default suite
    STARGAN, name="stargan_jnt", variant="StarGAN-JNT", config_overrides={"datasets": "both"},
    protocols={task: FACE_PROTOCOLS[task] for task in JOINT_FACE_TASKS}, default=False, compared_with=())

DIAT = ModelSpec(  # one model per attribute-value pair; identity loss on VGG-Face or the harness identity network
    name="diat", paper=diat.PAPER, config_section="diat", build=build_diat_pairs, batch=diat_pairs_batch,
    protocols=FACE_PROTOCOLS, setting="unpaired", check=diat.validate_config,
)

DIAT_A = dataclasses.replace(  # DIAT-A: the identity loss on the attribute discriminator's features
    DIAT, name="diat_a", variant="DIAT-A", config_overrides={"identity_features": "discriminator"})


def _ablation(spec: ModelSpec, name: str, variant: str, overrides: dict[str, object]) -> ModelSpec:
    return variant_of(spec, name=name, variant=variant, overrides=overrides, protocols=ABLATION_PROTOCOLS)


SR_PROTOCOLS: Mapping[str, str] = {"sr": "sr", "sr_gray": "sr", "sr_folders": "sr"}


SRRESNET = ModelSpec(
    name="srresnet", paper=srgan.PAPER, config_section="srresnet", build=build_sr_model, batch=srgan.sr_batch,
    protocols=SR_PROTOCOLS, setting="paired", variant="SRResNet-MSE", check=srgan.validate_config,
)
SRGAN = ModelSpec(
    name="srgan", paper=srgan.PAPER, config_section="srgan", build=build_sr_model, batch=srgan.sr_batch,
    protocols=SR_PROTOCOLS, setting="paired", variant="SRGAN-VGG54", check=srgan.validate_config,
    warm_start=WarmStart("srresnet", adopt_srresnet),
)


def _sr_variant(spec: ModelSpec, name: str, variant: str, overrides: dict[str, object], default: bool) -> ModelSpec:
    """A loss variant of SRGAN's Table 1 on the SR tasks; the adversarial ones run by default (the table's point)."""
    return dataclasses.replace(variant_of(spec, name=name, variant=variant, overrides=overrides,
                                          protocols=SR_PROTOCOLS), default=default)


MODELS: Registry[ModelSpec] = Registry("model")
for _spec in (
    GAN,
    PIX2PIX,
    # pix2pix Table 1 (v3): objective ablation with the U-Net and the 70x70 PatchGAN.
    _ablation(PIX2PIX, "pix2pix_l1", "L1", {"loss": "l1"}),
    _ablation(PIX2PIX, "pix2pix_gan", "GAN", {"loss": "gan"}),
    _ablation(PIX2PIX, "pix2pix_cgan", "cGAN", {"loss": "cgan"}),
    _ablation(PIX2PIX, "pix2pix_l1gan", "L1+GAN", {"loss": "l1+gan"}),
    # pix2pix Table 2 (v3): encoder-decoder (no skips) vs U-Net.
    _ablation(PIX2PIX, "pix2pix_encdec_l1", "Encoder-decoder (L1)", {"generator": "encoder_decoder", "loss": "l1"}),
    _ablation(PIX2PIX, "pix2pix_encdec", "Encoder-decoder (L1+cGAN)", {"generator": "encoder_decoder"}),
    # pix2pix Table 3 (v3): discriminator receptive field with L1+cGAN.
    _ablation(PIX2PIX, "pix2pix_pixelgan", "PixelGAN (1x1)", {"d_receptive_field": 1}),
    _ablation(PIX2PIX, "pix2pix_patch16", "PatchGAN (16x16)", {"d_receptive_field": 16}),
    _ablation(PIX2PIX, "pix2pix_patch286", "ImageGAN (286x286)", {"d_receptive_field": 286}),
    CYCLEGAN,
    # CycleGAN Table 4: loss ablation on Cityscapes.
    _ablation(CYCLEGAN, "cyclegan_gan_only", "GAN alone", {"use_forward_cycle": False, "use_backward_cycle": False}),
    _ablation(CYCLEGAN, "cyclegan_cycle_only", "Cycle alone", {"use_gan": False}),
    _ablation(CYCLEGAN, "cyclegan_gan_forward", "GAN + forward cycle", {"use_backward_cycle": False}),
    _ablation(CYCLEGAN, "cyclegan_gan_backward", "GAN + backward cycle", {"use_forward_cycle": False}),
    DTN,
    # DTN Table 1 ablations (its "Original SVHN image" row is the protocol's reference row "original_source").
    variant_of(DTN, name="dtn_no_const", variant="w/o L_CONST", overrides={"alpha": 0.0},
               protocols=DIGIT_TRANSFER_PROTOCOLS),
    variant_of(DTN, name="dtn_no_tid", variant="w/o L_TID", overrides={"beta": 0.0},
               protocols=DIGIT_TRANSFER_PROTOCOLS),
    variant_of(DTN, name="dtn_no_d_no_tid", variant="w/o L_D and L_TID", overrides={"use_gan": False, "beta": 0.0},
               protocols=DIGIT_TRANSFER_PROTOCOLS),
    variant_of(DTN, name="dtn_no_f", variant="G does not contain f", overrides={"g_contains_f": False},
               protocols=DIGIT_TRANSFER_PROTOCOLS),
    SRRESNET,
    SRGAN,
    # SRGAN Table 1: content-loss variants (SRGAN = SRGAN-VGG54; SRResNet-VGG22 adds TV 2e-8).
    _sr_variant(SRGAN, "srgan_mse", "SRGAN-MSE", {"content": "mse"}, default=True),
    _sr_variant(SRGAN, "srgan_vgg22", "SRGAN-VGG22", {"content": "vgg22"}, default=True),
    _sr_variant(SRRESNET, "srresnet_vgg22", "SRResNet-VGG22", {"content": "vgg22", "tv_weight": 2e-8},
                default=False),
    STARGAN,
    STARGAN_JNT,
    DIAT,
    DIAT_A,
):
    MODELS.add(_spec.name, _spec)
