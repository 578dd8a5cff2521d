"""The metric registry is the one source of metric directions."""

from __future__ import annotations

import pytest

from harness.core.errors import HarnessError
from metrics.registry import DIRECTIONS, METRICS, higher_is_better


@pytest.mark.parametrize(("row_metric", "expected"), [
    ("fid", False), ("photo_fid", False), ("inception_kid", False), ("kid_std", None), ("parzen_sigma", None),
    ("fcn_labels2photo_pixel_acc", True), ("fcn_photo2labels_class_iou", True), ("fcn_labels2photo_iou[road]", True),
    ("AtoB_l1", False), ("BtoA_psnr", True), ("AtoB_shape_iou", True), ("judge_accuracy", True),
])
def test_row_keys_resolve_to_the_longest_registered_output(row_metric, expected):
    assert higher_is_better(row_metric) is expected


def test_an_unregistered_key_is_an_error_naming_it():
    with pytest.raises(HarnessError, match="'photo_sharpness' matches no registered metric output"):
        higher_is_better("photo_sharpness")


def test_every_output_key_has_one_direction():
    for name, spec in METRICS.items():
        for key, higher in spec.outputs.items():
            assert DIRECTIONS[key] is higher, (name, key)
