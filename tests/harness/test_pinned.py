"""The embedded benchmark is the same on every machine: generated data and committed judges, pinned by hash.

A failure here on another machine means that machine generates other data (then its judges are trained locally and
the gate says so) or that a committed judge file changed; on this machine, that a change moved the data or the
judges without bumping the generator version / rerunning ``python -m harness.run judges retrain``.
"""

import importlib.util

import pytest
import torch

from harness.core.cache import weights_sha256
from harness.core.task import task_sha256
from harness.data.pins import DATA_SHA256
from harness.pinned_judges import PINNED_CONFIGS, pinned_recipe, record_pin, write_pins
from harness.run import main
from harness.run_config import resolve_config
from harness.source_judge import judge_data
from harness.tasks import build_task
from metrics.judges import pins as pins_module
from metrics.judges import resolve
from metrics.judges.base import data_sha256, judge_key, load_judge_file
from metrics.judges.registry import JUDGES

CPU = torch.device("cpu")
SMOKE_DATA_SHA256 = DATA_SHA256["smoke"]
# weights_sha256 of each committed judge (rerun `judges retrain` and update these together with pins.py).
COMMITTED_WEIGHTS_SHA256 = {
    "digits-smoke.pt": "6ec1074e80d6d2b2deba0c9075190ecd1b66a3e8825380f42d1f0d0ec53ab6a6",
    "segmenter-smoke.pt": "ac77fb6ef65251fb67d0dc966a2ecc2fcbe1c87ca4125214fed7717ae129c620",
    "digits-standard.pt": "c7ad92dc8c1c2bb36b81d0c5259771fa2889c09515197bcf07cca4cfd373d835",
    "segmenter-standard.pt": "3a6db11478ed8698905bb92b304d3d9b865df25eb7ad4fe4aecf2246813c02dd",
    "sr_features-smoke.pt": "529270cba78b174f3bbb76edbb6fdf2fdc59b48185b25acab1ba452757458049",
    "sr_features-standard.pt": "51521640ce71230b50d58329ecdbc42f0ae547a2860e20e74a8009445fae4c6d",
    "source_digits-smoke.pt": "b38abf2b7995b69f5d79aad22e96119dde22c3eab33ddd6cf7de25a40c61810e",
    "source_digits-standard.pt": "0efbc61006a7be06f6a3e3afb201209d29c9305431ac79ae0a5b65a134a77a38",
    "face_expression-smoke.pt": "98fdf552c383f4c9f171adb41615ca6699ba0a26052cce9e7754b5f8cb007cff",
    "face_attributes-smoke.pt": "c5284fb33ca1da38994c0bb5b03fd92ce577e0a01dad926e4e002946d99489bc",
    "face_identity-smoke.pt": "f9a4667ea3bd8c69625ed1138824695e5b58646d1a4318c583317a61a1900682",
    "face_domains-smoke.pt": "bb08e97e6273ce769b306cb8d35ae7861a9227e61943f204d35809f39ac9db8d",
    "sr_content-smoke.pt": "0bad1aee9804cef5f2f5faa46065e72405d52ce5a6928bfc215b94fdea4ea49c",
    "sr_content-standard.pt": "c323fa7f026fe46232c8cf7fbb33dcc61a3f98f34598c291c9b1efe7855e936b",
    "face_identity_loss-smoke.pt": "d99c185d1259753ad5e3b1dc34e6f0fd12ae6ddb471a69785632142d86d0ba4b",
    "face_expression-standard.pt": "421cef033554fdde80d8067ef0d0dd8d845d032dbd99f14793ae277e6c3335c3",
    "face_identity_loss-standard.pt": "f450d96de08418c3976109861ebeebe4d15f9f1c4356c7b2cf99a4c45c45fa84",
    "face_attributes-standard.pt": "088d75f9ebdf29890a842e4e878a91b0ea27572a846e4b667b1440b1e52986a9",
    "face_identity-standard.pt": "cbd42dcb417537988aff61ed8e3c66ac820e85a7fefa7162e777bc0c329c7d63",
    "face_domains-standard.pt": "cba5c7acc7ac4bfb1f41aa4bbf8b18f5d62fc28f05a9213071c121cfee86da47",
}
MAX_FILE_BYTES = 1_000_000  # committed judges stay small (float16 weights)


@pytest.fixture(scope="module")
def smoke_tasks(tmp_path_factory):
    """Every default embedded task generated afresh (a private cache) at the smoke profile's sizes."""
    config = resolve_config("smoke", {})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield {name: build_task(name, config) for name in SMOKE_DATA_SHA256}


@pytest.mark.parametrize("name", sorted(SMOKE_DATA_SHA256))
def test_generated_task_is_pinned(smoke_tasks, name):
    assert task_sha256(smoke_tasks[name]) == SMOKE_DATA_SHA256[name]


@pytest.mark.parametrize("config", PINNED_CONFIGS, ids=lambda c: c.file)
def test_committed_judge_file_is_pinned(config):
    path = resolve.WEIGHTS_DIR / config.file
    assert path.is_file() and path.stat().st_size < MAX_FILE_BYTES
    sha = weights_sha256(load_judge_file(JUDGES.get(config.judge), path).state_dict())
    assert sha == COMMITTED_WEIGHTS_SHA256[config.file]
    (pin,) = [p for p in pins_module.PINS.values() if p["file"] == config.file]
    assert {k: v for k, v in pin.items() if k != "data_sha256"} == {
        "judge": config.judge, "config": config.profile, "file": config.file, "weights_sha256": sha}


def test_every_pin_is_tested():
    assert {p["file"] for p in pins_module.PINS.values()} == set(COMMITTED_WEIGHTS_SHA256)


@pytest.mark.parametrize("config", [c for c in PINNED_CONFIGS if c.profile == "smoke"], ids=lambda c: c.file)
def test_smoke_runs_load_the_committed_judge(smoke_tasks, config, monkeypatch):
    monkeypatch.setattr(resolve, "train_judge", lambda *a, **k: pytest.fail("trained instead of loading the pin"))
    run_config = resolve_config("smoke", {})
    spec = JUDGES.get(config.judge)
    recipe = spec.recipe(*pinned_recipe(config, run_config))
    data = judge_data(spec, smoke_tasks[config.task], run_config.eval)  # as a run builds it (DTN f: its width)
    judge = resolve.resolve_judge(spec, data, recipe, device=CPU, progress=False)
    assert (judge.source, judge.path.name) == ("pinned", config.file)
    (pin,) = [p for p in pins_module.PINS.values() if p["file"] == config.file]
    assert pin["data_sha256"] == data_sha256(data)  # the data generated here are the ones it was trained on
    assert judge.sha256 == COMMITTED_WEIGHTS_SHA256[config.file]


@pytest.mark.slow
@pytest.mark.parametrize("config", [c for c in PINNED_CONFIGS if c.profile == "standard"], ids=lambda c: c.file)
def test_standard_pins_match_the_standard_data(config):
    run_config = resolve_config("standard", {})
    spec = JUDGES.get(config.judge)
    recipe = spec.recipe(*pinned_recipe(config, run_config))
    data = judge_data(spec, build_task(config.task, run_config), run_config.eval)
    pin = pins_module.PINS[judge_key(spec, data, recipe)]
    assert pin["file"] == config.file and pin["data_sha256"] == data_sha256(data)


def test_pins_file_round_trips(tmp_path, monkeypatch):
    target = tmp_path / "pins.py"
    monkeypatch.setattr(pins_module, "__file__", str(target))
    write_pins(pins_module.PINS)
    spec = importlib.util.spec_from_file_location("pins_copy", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.PINS == pins_module.PINS and module.__doc__ == pins_module.__doc__


def test_retrains_at_once_keep_each_others_pins(tmp_path, monkeypatch):
    """A pin another process wrote after this one started survives this one's write (the file is read again)."""
    target = tmp_path / "pins.py"
    monkeypatch.setattr(pins_module, "__file__", str(target))
    monkeypatch.setattr(pins_module, "PINS", dict(pins_module.PINS))
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    write_pins({**pins_module.PINS, "k-other": {"judge": "digits", "config": "x", "file": "other.pt",
                                                "weights_sha256": "1" * 64, "data_sha256": "a" * 64}})  # other's
    mine = {"judge": "digits", "config": "y", "file": "mine.pt", "weights_sha256": "2" * 64, "data_sha256": "b" * 64}
    record_pin("k-mine", mine)
    spec = importlib.util.spec_from_file_location("pins_copy", target)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.PINS["k-other"]["file"] == "other.pt" and module.PINS["k-mine"] == mine
    assert pins_module.PINS == module.PINS
    record_pin("k-mine-2", {**mine, "weights_sha256": "3" * 64})  # a retrain of the same file replaces its pin
    assert [k for k, v in pins_module.PINS.items() if v["file"] == "mine.pt"] == ["k-mine-2"]


def test_pinned_judge_on_other_data_warns_and_is_still_used(monkeypatch, caplog):
    """A machine whose generated data differ from the pin's gets the committed judge and one warning naming both."""
    spec = JUDGES.get("digits")
    images = torch.zeros(4, 1, 8, 8, dtype=torch.uint8)
    data = resolve.JudgeData(images, torch.zeros(4, dtype=torch.long), {"num_classes": 10}, origin="digits:abc")
    recipe = spec.recipe(1, 2)
    config = next(c for c in PINNED_CONFIGS if c.judge == "digits" and c.profile == "smoke")
    (pin,) = [p for p in pins_module.PINS.values() if p["file"] == config.file]
    monkeypatch.setitem(pins_module.PINS, judge_key(spec, data, recipe), pin)
    monkeypatch.setattr(resolve, "PINS", pins_module.PINS)
    monkeypatch.setattr(resolve, "train_judge", lambda *a, **k: pytest.fail("retrained instead of warning"))
    monkeypatch.setattr(resolve, "_WARNED", set())
    with caplog.at_level("WARNING"):
        judge = resolve.resolve_judge(spec, data, recipe, device=CPU, progress=False)
        resolve.resolve_judge(spec, data, recipe, device=CPU, progress=False)
    assert judge.source == "pinned"
    warnings = [r.getMessage() for r in caplog.records if "differs from the data" in r.getMessage()]
    assert len(warnings) == 1 and "'digits'" in warnings[0]
    assert data_sha256(data)[:12] in warnings[0] and pin["data_sha256"][:12] in warnings[0]


def test_judges_list_command(capsys):
    assert main(["judges", "list"]) == 0
    out = capsys.readouterr().out
    for config in PINNED_CONFIGS:
        assert config.file in out
