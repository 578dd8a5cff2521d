"""apply_overrides, parse_set_arguments, flatten/flatten_dict and the profile files."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest

from harness.config import (
    apply_overrides,
    config_to_dict,
    flatten,
    flatten_dict,
    load_profile_file,
    parse_set_arguments,
)
from harness.core.errors import HarnessError
from harness.run_config import PROFILES, RunConfig, profile_path, resolve_config


@dataclass(frozen=True)
class Inner:
    steps: int = 3
    lr: float = 0.1
    flag: bool = False
    name: str = "a"
    sizes: tuple[int, ...] = (1, 2)
    maybe: int | None = None


@dataclass(frozen=True)
class Outer:
    seed: int = 0
    inner: Inner = field(default_factory=Inner)


def test_nested_dotted_keys_and_scalar_parsing():
    cfg = apply_overrides(Outer(), {"seed": "7", "inner.steps": "12", "inner.lr": "2e-4", "inner.flag": "true",
                                    "inner.name": "xyz", "inner.sizes": "4, 5,6", "inner.maybe": "9"}, source="--set")
    assert cfg == Outer(seed=7, inner=Inner(steps=12, lr=2e-4, flag=True, name="xyz", sizes=(4, 5, 6), maybe=9))
    assert isinstance(cfg.inner.lr, float) and isinstance(cfg.inner.steps, int)
    # the original is frozen and untouched
    assert Outer().inner.steps == 3


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("False", False), ("1", True), ("0", False),
                                                ("yes", True), ("no", False), (True, True)])
def test_bool_parsing(raw, expected):
    assert apply_overrides(Outer(), {"inner.flag": raw}, source="s").inner.flag is expected


def test_json_values_from_profiles():
    cfg = apply_overrides(Outer(), {"inner.steps": 5, "inner.lr": 1, "inner.sizes": [3], "inner.maybe": None},
                          source="profile x.json")
    assert cfg.inner == Inner(steps=5, lr=1.0, sizes=(3,), maybe=None)
    assert isinstance(cfg.inner.lr, float)


def test_optional_none_and_empty_tuple():
    cfg = apply_overrides(Outer(inner=Inner(maybe=4)), {"inner.maybe": "none", "inner.sizes": ""}, source="s")
    assert cfg.inner.maybe is None and cfg.inner.sizes == ()


def test_unknown_key_names_key_and_lists_valid_keys():
    with pytest.raises(HarnessError) as info:
        apply_overrides(Outer(), {"inner.stpes": "3"}, source="--set")
    msg = str(info.value)
    assert "'inner.stpes'" in msg and "--set" in msg
    for key in ("flag", "lr", "maybe", "name", "sizes", "steps"):
        assert key in msg
    with pytest.raises(HarnessError, match=r"unknown key 'nope'.*valid keys here: inner, seed"):
        apply_overrides(Outer(), {"nope": "1"}, source="--set")


def test_unknown_key_on_real_run_config():
    with pytest.raises(HarnessError, match=r"'gan\.stepz'.*batch_size.*steps"):
        apply_overrides(RunConfig(), {"gan.stepz": "1"}, source="--set")
    with pytest.raises(HarnessError, match=r"'gan\.steps\.x'.*not a section"):
        apply_overrides(RunConfig(), {"gan.steps.x": "1"}, source="--set")


@pytest.mark.parametrize(("key", "raw"), [("gan.steps", "abc"), ("gan.steps", "1.5"), ("gan.steps", 1.5),
                                          ("gan.steps", True), ("gan.lr", "fast"), ("gan.lr", True),
                                          ("progress", "maybe"), ("seeds", "0,x"), ("gan.domain", 3)])
def test_wrong_type_is_rejected_naming_key(key, raw):
    with pytest.raises(HarnessError) as info:
        apply_overrides(RunConfig(), {key: raw}, source="--set")
    assert key in str(info.value) and "--set" in str(info.value)


def test_setting_a_section_is_rejected():
    with pytest.raises(HarnessError, match=r"'gan' is a section"):
        apply_overrides(RunConfig(), {"gan": "3"}, source="--set")


def test_parse_set_arguments():
    assert parse_set_arguments(["gan.steps=20", " eval.n_samples = 5 ", "tasks=a=b"]) == {
        "gan.steps": "20", "eval.n_samples": "5", "tasks": "a=b"}
    for bad in ("gan.steps", "=3", " =3"):
        with pytest.raises(HarnessError, match="expected key=value"):
            parse_set_arguments([bad])


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_resolve_and_use_valid_keys(profile):
    config = resolve_config(profile, {})
    assert config.profile == profile
    keys = load_profile_file(profile_path(profile))
    valid = flatten(RunConfig())
    assert keys and set(keys) <= set(valid)
    flat = flatten(config)
    for key, value in keys.items():
        assert flat[key] == (tuple(value) if isinstance(value, list) else value)


def test_smoke_profile_values_and_set_wins():
    config = resolve_config("smoke", {"gan.steps": "20"})
    assert config.gan.steps == 20 and config.gan.g_hidden == 256 and config.digits.n_train == 3000
    assert resolve_config("paper", {}).gan.g_hidden == 1200


def test_unknown_profile():
    with pytest.raises(HarnessError, match=r"unknown profile 'quick'.*smoke, standard, paper"):
        resolve_config("quick", {})


def test_bad_profile_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(HarnessError, match="bad.json"):
        load_profile_file(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(HarnessError, match="JSON object"):
        load_profile_file(bad)
    ok = tmp_path / "ok.json"
    ok.write_text(json.dumps({"_doc": "comment", "gan.steps": 3}))
    assert load_profile_file(ok) == {"gan.steps": 3}


def test_flatten_dict_and_round_trip():
    assert flatten_dict({"a": 1, "b": {"c": [1, 2], "d": {"e": "x"}}}) == {"a": 1, "b.c": (1, 2), "b.d.e": "x"}
    config = resolve_config("smoke", {"seeds": "0,1"})
    saved = json.loads(json.dumps(config_to_dict(config)))
    assert flatten_dict(saved) == flatten(config)
    assert apply_overrides(RunConfig(), flatten_dict(saved), source="config.json") == config


@pytest.mark.parametrize("profile", ["smoke", "standard", "paper"])
def test_every_default_job_of_every_profile_fits_its_task(profile):
    """A profile must not give a model a config its tasks' image size cannot take (e.g. U-Net depth vs pixels)."""
    from harness.models import MODELS
    from harness.run_config import model_config
    from harness.suite import plan
    from harness.tasks import TASKS

    config = resolve_config(profile, {})
    for job in plan(config):
        spec = None if job.reference else MODELS.get(job.model)
        if spec is not None and spec.check is not None:
            section = getattr(config, TASKS.get(job.task).config_section)
            size = (section.image_size if hasattr(section, "image_size")  # digits: the larger of its two domains
                    else max(section.printed_size, section.handwritten_size))
            spec.check(model_config(config, job.model, job.task), size)
