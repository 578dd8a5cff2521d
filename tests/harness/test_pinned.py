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
    "digits-smoke.pt": "29339a119919ea922edba3cac62e31139eb70ce14764c052c1ffe8e27dfbd4ee",
    "segmenter-smoke.pt": "d90f586fcb663e97ab6dfcfe5ab44cc923dec94889c333905fe98b7eeb39285b",
    "digits-standard.pt": "5191cc0e232fa6029ca05d3afde623874c60ced2adea52e87d25bef9f21ba433",
    "segmenter-standard.pt": "eb4880af8840839a063a7c615d7428bd8df2c4654d78c2d8abac946dd6e1a720",
    "sr_features-smoke.pt": "529270cba78b174f3bbb76edbb6fdf2fdc59b48185b25acab1ba452757458049",
    "sr_features-standard.pt": "51521640ce71230b50d58329ecdbc42f0ae547a2860e20e74a8009445fae4c6d",
    "source_digits-smoke.pt": "d0a90cfe50c737b256ecc24a1544cd40dcf010e074c7095b5b02f6a7f33ba108",
    "source_digits-standard.pt": "adf32c9386442dd5a1833a2da78f3e6a166fb8ca7ed9125d0e78069384aa9f0c",
    "face_expression-smoke.pt": "c6eb73fccfb1a8795c65a78b16db7c6573112891bb331ab6dfe081850001a6a2",
    "face_attributes-smoke.pt": "6e7c08358755a4dbaf0a17f33ff77a11a9dcba97a5148e7bbed60c19bebc8a27",
    "face_identity-smoke.pt": "5d0a26a7c1966deb33deeeb62abc3099ed9b30dfd2a0e0b03207d053b11c9a5a",
    "face_domains-smoke.pt": "371d620d47b05129371c1d5819ad1da809e23d447bc6bafcd1945dc1f2c7f878",
    "sr_content-smoke.pt": "0bad1aee9804cef5f2f5faa46065e72405d52ce5a6928bfc215b94fdea4ea49c",
    "sr_content-standard.pt": "c323fa7f026fe46232c8cf7fbb33dcc61a3f98f34598c291c9b1efe7855e936b",
    "face_identity_loss-smoke.pt": "edb3af2e75978dc2b88b7a2013a5249858f51d16e870bb6c0dd3d615fb58b978",
    "face_expression-standard.pt": "76e46433fce4e381ed9c63d5b4b2ee16427192340db725533aa751fce6550bf2",
    "face_identity_loss-standard.pt": "44d76e0fa7203c96310b20975e8d561c9a458f6cff550a0b4a9977d8d75f26fc",
    "face_attributes-standard.pt": "127d1d5348c8c02380a52f73e4be32b6b5bd875073ad4b1ca0eaf8cfa522bd9c",
    "face_identity-standard.pt": "fb4f33801d363cc338552235e5e619402377ccf589b6b9844021d09fecf7674a",
    "face_domains-standard.pt": "def226ea35d8121c0ccc6632f0b958ad28945c0adcee567e8dc739c0004c5229",
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
