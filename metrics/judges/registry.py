"""The judge registry: every evaluation network the harness trains itself, by name (explicit entries)."""

from __future__ import annotations

from harness.core.registry import Registry
from metrics.judges.base import JudgeSpec
from metrics.judges.digit_classifier import DIGITS
from metrics.judges.faces import FACE_JUDGES
from metrics.judges.segmenter import SEGMENTER
from metrics.judges.source_digits import SOURCE_DIGITS

JUDGES: Registry[JudgeSpec] = Registry("judge")
for _spec in (DIGITS, SEGMENTER, SOURCE_DIGITS, *FACE_JUDGES):
    JUDGES.add(_spec.name, _spec)
