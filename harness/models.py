"""The model registry: which reference models (and named variants) exist, where they run and with which protocol.

A model file (``reference_models/<model>.py``) holds the paper's network, its config, builder, batch sampler and
config check; this file decides what the harness does with it, mirroring ``harness/tasks.py``. Adding a model is a
model file plus one ``ModelSpec`` here (and a protocol in ``harness/protocols/`` if none fits).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import torch

from harness.core.registry import Registry
from harness.core.task import Task
from metrics.judges.resolve import judge_for_task
from metrics.judges.sr_features import SR_CONTENT
from reference_models import cyclegan, gan, pix2pix, srgan
from reference_models.base import ReferenceModel
from reference_models.sr_networks import load_vgg19

Setting = Literal["paired", "unpaired", "unconditional"]
BatchFn = Callable[[Task, Any, torch.Generator], dict[str, torch.Tensor]]
BuildFn = Callable[[Any, Task, torch.device], ReferenceModel]

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


def variant_of(spec: ModelSpec, *, name: str, variant: str, overrides: Mapping[str, object],
               protocols: Mapping[str, str]) -> ModelSpec:
    """A named ablation of ``spec``: same builder and batches, config overrides, opt-in (not in default runs)."""
    return dataclasses.replace(spec, name=name, variant=variant, config_overrides=dict(overrides),
                               protocols=dict(protocols), default=False)


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

CYCLEGAN = ModelSpec(
    name="cyclegan", paper=cyclegan.PAPER, config_section="cyclegan", build=cyclegan.build_cyclegan,
    batch=cyclegan.cyclegan_batch, protocols=TRANSLATION_PROTOCOLS, setting="unpaired",
    check=cyclegan.validate_config,
)


def _ablation(spec: ModelSpec, name: str, variant: str, overrides: dict[str, object]) -> ModelSpec:
    return variant_of(spec, name=name, variant=variant, overrides=overrides, protocols=ABLATION_PROTOCOLS)


SR_PROTOCOLS: Mapping[str, str] = {"sr": "sr", "sr_gray": "sr", "sr_folders": "sr"}


def sr_content_network(config: srgan.SRGANConfig, task: Task, device: torch.device) -> srgan.ContentNetwork | None:
    """The feature network of SRGAN's VGG content losses; None for pixel MSE.

    VGG19 from ``vgg19_weights`` when the user gives that file, else the harness's SR feature network trained on the
    task's HR training tiles (cached).
    """
    if config.content == "mse":
        return None
    if config.vgg19_weights:
        network, sha = load_vgg19(config.vgg19_weights)
        return srgan.ContentNetwork(network, network, f"VGG19 (torchvision layout) from {config.vgg19_weights}, "
                                                      f"file sha256 {sha}")
    judge = judge_for_task(SR_CONTENT, task, steps=config.judge_steps, batch_size=config.batch_size, device=device,
                           progress=False)
    return srgan.ContentNetwork(judge.model, judge.model.features, f"{SR_CONTENT.description}, weights sha256 "
                                                                   f"{judge.sha256[:12]} ({judge.source})")


def build_sr_model(config: srgan.SRGANConfig, task: Task, device: torch.device) -> srgan.SRGAN:
    """SRResNet / SRGAN with the content network this harness supplies (``sr_content_network``)."""
    srgan.validate_config(config, task.image_size)
    return srgan.build_srgan(config, task, device, sr_content_network(config, task, device))


SRRESNET = ModelSpec(
    name="srresnet", paper=srgan.PAPER, config_section="srresnet", build=build_sr_model, batch=srgan.sr_batch,
    protocols=SR_PROTOCOLS, setting="paired", variant="SRResNet-MSE", check=srgan.validate_config,
)
SRGAN = ModelSpec(
    name="srgan", paper=srgan.PAPER, config_section="srgan", build=build_sr_model, batch=srgan.sr_batch,
    protocols=SR_PROTOCOLS, setting="paired", variant="SRGAN-VGG54", check=srgan.validate_config,
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
    SRRESNET,
    SRGAN,
    # SRGAN Table 1: content-loss variants (SRGAN = SRGAN-VGG54; SRResNet-VGG22 adds TV 2e-8).
    _sr_variant(SRGAN, "srgan_mse", "SRGAN-MSE", {"content": "mse"}, default=True),
    _sr_variant(SRGAN, "srgan_vgg22", "SRGAN-VGG22", {"content": "vgg22"}, default=True),
    _sr_variant(SRRESNET, "srresnet_vgg22", "SRResNet-VGG22", {"content": "vgg22", "tv_weight": 2e-8},
                default=False),
):
    MODELS.add(_spec.name, _spec)
