"""The protocol registry: how each (model, task) is evaluated."""

from __future__ import annotations

from harness.protocols.base import ProtocolSpec
from harness.protocols.generation import GENERATION
from harness.registry import Registry

PROTOCOLS: Registry[ProtocolSpec] = Registry("protocol")
for _spec in (GENERATION,):
    PROTOCOLS.add(_spec.name, _spec)
