"""The model registry: every reference model and named variant, added explicitly."""

from __future__ import annotations

from harness.registry import Registry
from reference_models.base import ModelSpec
from reference_models.gan import GAN_SPEC

MODELS: Registry[ModelSpec] = Registry("model")
for _spec in (GAN_SPEC,):
    MODELS.add(_spec.name, _spec)
