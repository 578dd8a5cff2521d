"""The model registry: every reference model and named variant, added explicitly."""

from __future__ import annotations

from harness.core.registry import Registry
from reference_models.base import ModelSpec
from reference_models.cyclegan import CYCLEGAN_SPECS
from reference_models.gan import GAN_SPEC
from reference_models.pix2pix import PIX2PIX_SPECS

MODELS: Registry[ModelSpec] = Registry("model")
for _spec in (GAN_SPEC, *PIX2PIX_SPECS, *CYCLEGAN_SPECS):
    MODELS.add(_spec.name, _spec)
