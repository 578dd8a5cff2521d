"""The protocol registry: how each (model, task) is evaluated."""

from __future__ import annotations

from harness.core.registry import Registry
from harness.protocols.base import ProtocolSpec
from harness.protocols.digit_transfer import DIGIT_TRANSFER
from harness.protocols.faces import FACES
from harness.protocols.fcn_scenes import FCN_SCENES
from harness.protocols.generation import GENERATION
from harness.protocols.paired_truth import PROBE, TRANSLATION
from harness.protocols.sr import SR

PROTOCOLS: Registry[ProtocolSpec] = Registry("protocol")
for _spec in (GENERATION, FCN_SCENES, TRANSLATION, PROBE, DIGIT_TRANSFER, SR, FACES):
    PROTOCOLS.add(_spec.name, _spec)
