"""check_config: declared ranges, choices, paths and finiteness on every config section; the thread choice; the
CLI's start-up imports."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import pytest
import torch

from harness.config import apply_overrides, check_config
from harness.core import device as device_module
from harness.core.bounds import PathTo, Range
from harness.core.device import available_cpus, cgroup_cpu_limit, choose_threads
from harness.core.errors import HarnessError
from harness.run_config import PROFILES, SECTION_BOUNDS, RunConfig, resolve_config

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Inner:
    size: Annotated[int, Range(8, 64)] = 32
    rate: Annotated[float, Range(0.0, 1.0, open_lo=True)] = 0.5
    field_: Literal[1, 16, 70] = 70
    mode: Literal["a", "b"] = "a"
    seeds: tuple[Annotated[int, Range(0, 9)], ...] = (0,)
    weights: Annotated[str, PathTo("file")] = ""
    free: float = 1.0


@dataclass(frozen=True)
class Outer:
    inner: Inner = field(default_factory=Inner)
    extra: int = 3


def _leaves(config: object, prefix: str = "") -> dict[str, object]:
    """Dotted key → annotation of every leaf of a config instance (sections built by lambdas included)."""
    out: dict[str, object] = {}
    hints = typing.get_type_hints(type(config), include_extras=True)
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out.update(_leaves(value, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = hints[f.name]
    return out


def _numeric(annotation: object) -> bool:
    base = typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation
    if typing.get_origin(base) is tuple:
        return _numeric(typing.get_args(base)[0])
    return base in (int, float)


def _has_range(annotation: object) -> bool:
    if typing.get_origin(annotation) is typing.Annotated:
        return any(isinstance(m, Range) for m in typing.get_args(annotation)[1:])
    if typing.get_origin(annotation) is tuple:
        return _has_range(typing.get_args(annotation)[0])
    return False


def test_every_numeric_option_of_every_section_has_a_range():
    leaves = _leaves(RunConfig())
    missing = [k for k, a in leaves.items() if _numeric(a) and not _has_range(a) and k not in SECTION_BOUNDS]
    assert missing == [], f"numeric options without a Range (annotate them or add them to SECTION_BOUNDS): {missing}"
    assert set(SECTION_BOUNDS) <= set(leaves), "SECTION_BOUNDS names keys that do not exist"


@pytest.mark.parametrize("profile", PROFILES)
def test_every_profile_and_its_defaults_pass_the_checks(profile):
    check_config(resolve_config(profile, {}), bounds=SECTION_BOUNDS)


@pytest.mark.parametrize(("key", "raw", "message"), [
    ("inner.size", "7", "inner.size=7 is out of range; expected 8 <= value <= 64"),
    ("inner.size", "65", "expected 8 <= value <= 64"),
    ("inner.rate", "0", "expected 0 < value <= 1"),
    ("inner.rate", "nan", "expected 0 < value <= 1"),
    ("inner.free", "inf", "is not a finite number"),
    ("inner.free", "-nan", "is not a finite number"),
    ("inner.seeds", "1,10", "holds 10, which is out of range"),
    ("inner.weights", "/no/such/file", "does not exist (expected a file path, or empty)"),
])
def test_out_of_range_values_are_named_with_their_source(key, raw, message):
    config = apply_overrides(Outer(), {key: raw}, source="--set")
    with pytest.raises(HarnessError) as info:
        check_config(config, sources={key: "--set"})
    assert str(info.value).startswith(f"--set: {key}=") and message in str(info.value)


def test_values_inside_their_ranges_and_choices_pass(tmp_path):
    weights = tmp_path / "w.pth"
    weights.write_bytes(b"x")
    config = apply_overrides(Outer(), {"inner.size": "8", "inner.rate": "1", "inner.field_": "16", "inner.mode": "b",
                                       "inner.seeds": "0,9", "inner.weights": str(weights), "extra": "1e3"},
                             source="--set")
    check_config(config)
    assert config.inner.field_ == 16 and config.extra == 1000


def test_literal_choices_parse_ints_and_reject_others():
    with pytest.raises(HarnessError, match=r"inner.field_='17' is not one of 1, 16, 70"):
        apply_overrides(Outer(), {"inner.field_": "17"}, source="--set")
    with pytest.raises(HarnessError, match=r"inner.mode='c' is not one of 'a', 'b'"):
        apply_overrides(Outer(), {"inner.mode": "c"}, source="--set")
    bad = dataclasses.replace(Outer(), inner=dataclasses.replace(Inner(), mode="zzz"))  # built in code, not parsed
    with pytest.raises(HarnessError, match=r"config: inner.mode='zzz' is not one of"):
        check_config(bad)


def test_bounds_table_applies_to_sections_without_annotations():
    with pytest.raises(HarnessError, match=r"extra=3 is out of range; expected 5 <= value"):
        check_config(Outer(), bounds={"extra": Range(5, None)})
    check_config(Outer(), bounds={"inner.size": Range(0, 10)})  # a declared range (8..64) wins over the table


@pytest.mark.parametrize(("overrides", "message"), [
    ({"gan.steps": "-1"}, "--set: gan.steps=-1 is out of range; expected 1 <= value <= 100000000"),
    ({"eval.n_samples": "0"}, "--set: eval.n_samples=0 is out of range"),
    ({"scenes.image_size": "100000"}, "scenes.image_size=100000 is out of range; expected 16 <= value <= 1024"),
    ({"seeds": "-1"}, "--seeds: seeds='-1' holds -1"),
    ({"gan.steps": "abc"}, "gan.steps='abc' is not a valid int; expected 1 <= value <= 100000000"),
    ({"profile": "huge"}, "profile='huge' is not one of 'smoke', 'standard', 'paper'"),
])
def test_resolve_config_checks_the_whole_config(overrides, message):
    with pytest.raises(HarnessError) as info:
        resolve_config("smoke", overrides, {"seeds": "--seeds"})
    assert message in str(info.value)


# ---------------------------------------------------------------- threads


def test_cgroup_v2_and_v1_quotas(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert cgroup_cpu_limit(tmp_path) == 1.5
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpu_limit(tmp_path) is None
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("300000")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert cgroup_cpu_limit(tmp_path) == 3.0
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1")
    assert cgroup_cpu_limit(tmp_path) is None


@pytest.mark.parametrize(("affinity", "quota", "cpus", "threads"), [
    (2, None, 2, 1), (1, None, 1, 1), (4, None, 4, 2), (16, None, 16, 8), (64, None, 64, 8), (16, 1.5, 1, 1),
    (16, 4.0, 4, 2),
])
def test_default_threads_follow_the_cpus_available(monkeypatch, affinity, quota, cpus, threads):
    monkeypatch.setattr(device_module.os, "sched_getaffinity", lambda pid: set(range(affinity)))
    monkeypatch.setattr(device_module, "cgroup_cpu_limit", lambda: quota)
    assert available_cpus() == cpus
    choice = choose_threads(None, torch.device("cpu"))
    assert (choice.threads, choice.cpus) == (threads, cpus) and choice.reason.startswith("default")


def test_threads_flag_wins_and_is_range_checked():
    assert choose_threads(3, torch.device("cpu")).threads == 3
    assert choose_threads(3, torch.device("cpu")).reason == "--threads"
    for bad in (0, -1, 5000):
        with pytest.raises(HarnessError, match=rf"--threads {bad}: expected 1 <= value <= 1024"):
            choose_threads(bad, torch.device("cpu"))


# ---------------------------------------------------------------- start-up


@pytest.mark.parametrize("argv", [["--help"], ["suite", "--help"], ["list", "profiles"]])
def test_help_and_list_profiles_import_neither_torch_nor_metric_libraries(argv):
    code = (f"import sys; from harness.run import main; code = main({argv!r}); "
            "heavy = sorted(m for m in ('torch', 'torch_fidelity', 'scipy', 'pandas', 'numpy', 'metrics') "
            "if m in sys.modules); print('HEAVY', heavy); sys.exit(code)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "HEAVY []" in out.stdout
