"""The judge registry: every evaluation network the harness trains itself, by name (explicit entries)."""

from __future__ import annotations

from harness.core.registry import Registry
from metrics.judges.base import JudgeSpec
from metrics.judges.digit_classifier import DIGITS
from metrics.judges.faces import FACE_JUDGES
from metrics.judges.segmenter import SEGMENTER
from metrics.judges.source_digits import SOURCE_DIGITS
from metrics.judges.sr_features import SR_CONTENT, SR_FEATURES

JUDGES: Registry[JudgeSpec] = Registry("judge")
for _spec in (DIGITS, SEGMENTER, SOURCE_DIGITS, SR_FEATURES, SR_CONTENT, *FACE_JUDGES):
    JUDGES.add(_spec.name, _spec)
