"""Per-task model settings (``task_overrides``): parsed and type-checked at resolve time, applied per task."""

from __future__ import annotations

import pytest

from harness.core.errors import HarnessError
from harness.run_config import model_config, model_section, parse_task_override, resolve_config


def test_task_override_applies_on_its_task_only():
    config = resolve_config("smoke", {"task_overrides": "cyclegan@maps.n_blocks=1,pix2pix@scenes.lambda_l1=10"})
    assert model_section(config, "cyclegan", "maps").n_blocks == 1
    assert model_section(config, "cyclegan", "scenes").n_blocks == 3 == config.cyclegan.n_blocks
    assert model_config(config, "pix2pix_l1", "scenes").lambda_l1 == 10.0
    assert model_config(config, "pix2pix_l1", "scenes").loss == "l1"  # the variant's overrides still apply
    assert parse_task_override(" cyclegan@cityscapes.image_size = 128") == ("cyclegan", "cityscapes", "image_size",
                                                                             "128")


@pytest.mark.parametrize(("entry", "message"), [
    ("cyclegan.n_blocks=6", "is not <model section>@<task>.<key>=<value>"),
    ("cyclegan@cityscapes.n_blocks", "is not <model section>@<task>.<key>=<value>"),
    ("scenes@maps.image_size=64", "'scenes' is not a model section"),
    ("cyclegan@city.n_blocks=6", "city"),
    ("cyclegan@cityscapes.n_blockz=6", "unknown key 'n_blockz'"),
    ("cyclegan@cityscapes.n_blocks=six", "n_blocks='six' is not a valid int"),
])
def test_a_bad_task_override_fails_at_resolve_time(entry, message):
    with pytest.raises(HarnessError, match=message):
        resolve_config("smoke", {"task_overrides": entry})
