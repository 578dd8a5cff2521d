"""RunDir (start, resume checks, rows, metrics.csv, manifest) and atomic writes."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch

from harness.config import config_to_dict
from harness.core import atomic
from harness.core.errors import HarnessError
from harness.core.results import COLUMNS, Row
from harness.environment import environment
from harness.run_config import resolve_config
from harness.rundir import RunDir


def _config(**overrides):
    return config_to_dict(resolve_config("smoke", overrides))


def _files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_start_creates_config_and_manifest(tmp_path):
    run = RunDir(tmp_path / "run")
    config = _config(seeds="0,1")
    manifest = run.start(config, resume=False)
    run.close()
    assert json.loads(run.config_path.read_text()) == config
    on_disk = json.loads(run.manifest_path.read_text())
    assert on_disk == json.loads(json.dumps(manifest))
    assert on_disk["profile"] == "smoke" and on_disk["seeds"] == [0, 1] and on_disk["jobs"] == {}
    for key in ("harness_version", "git_commit", "python", "packages", "hardware", "started"):
        assert key in on_disk
    assert on_disk["packages"]["torch"] == torch.__version__.split("+")[0] or on_disk["packages"]["torch"]
    assert set(on_disk["hardware"]) >= {"platform", "cpu_count", "cuda", "gpus"}


def test_start_refuses_existing_run_without_resume(tmp_path):
    run = RunDir(tmp_path / "run")
    run.start(_config(), resume=False)
    run.close()
    before = {p: p.read_bytes() for p in run.path.iterdir()}
    with pytest.raises(HarnessError, match=r"already holds a run; pass --resume"):
        RunDir(tmp_path / "run").start(_config(), resume=False)
    assert {p: p.read_bytes() for p in run.path.iterdir()} == before


def test_resume_with_same_config_keeps_jobs_and_start_time(tmp_path):
    run = RunDir(tmp_path / "run")
    manifest = run.start(_config(), resume=False)
    manifest["jobs"]["a"] = {"status": "done"}
    run.write_manifest(manifest)
    run.close()
    again = RunDir(tmp_path / "run")
    reopened = again.start(_config(progress="false"), resume=True)  # progress may differ
    again.close()
    assert reopened["jobs"] == {"a": {"status": "done"}} and reopened["started"] == manifest["started"]


def test_resume_with_different_config_names_the_keys(tmp_path):
    run = RunDir(tmp_path / "run")
    run.start(_config(), resume=False)
    run.close()
    with pytest.raises(HarnessError) as info:
        run.start(_config(**{"gan.steps": "7", "seeds": "1"}), resume=True)
    assert "seeds: run has (0,), given (1,); gan.steps: run has 600, given 7" in str(info.value)
    assert "contradict" in str(info.value) and "may add seeds, not drop any" in str(info.value)


def test_resume_may_add_seeds_and_config_json_takes_them(tmp_path):
    run = RunDir(tmp_path / "run")
    manifest = run.start(_config(seeds="0"), resume=False)
    manifest["jobs"]["gan__digits__s0"] = {"status": "done"}
    run.write_manifest(manifest)
    run.close()
    config = run.config_path.read_bytes()
    with pytest.raises(HarnessError, match="seeds: run has \\(0,\\), given \\(1, 2\\)"):  # seed 0 dropped
        run.start(_config(seeds="1,2"), resume=True)
    with pytest.raises(HarnessError, match="gan.steps"):  # added seeds do not excuse another difference
        run.start(_config(seeds="0,1", **{"gan.steps": "7"}), resume=True)
    assert run.config_path.read_bytes() == config
    reopened = run.start(_config(seeds="0,1,2", progress="false"), resume=True)
    run.close()
    saved = json.loads(run.config_path.read_text())
    assert saved["seeds"] == [0, 1, 2] and saved["progress"] == _config()["progress"]  # only the seeds taken
    assert reopened["seeds"] == [0, 1, 2] and reopened["jobs"] == {"gan__digits__s0": {"status": "done"}}
    again = run.start(_config(seeds="0,1,2"), resume=True)  # the run now has three seeds
    run.close()
    assert again["seeds"] == [0, 1, 2]


def test_start_refuses_a_foreign_nonempty_directory(tmp_path):
    (tmp_path / "mine.txt").write_text("x")
    for resume in (False, True):
        with pytest.raises(HarnessError, match="not a run directory"):
            RunDir(tmp_path).start(_config(), resume=resume)
    assert _files(tmp_path) == ["mine.txt"]
    empty = RunDir(tmp_path / "empty")
    empty.start(_config(), resume=False)  # an empty or missing directory is fine
    empty.close()


def test_rows_and_metrics_csv(tmp_path):
    run = RunDir(tmp_path / "run")
    run.start(_config(), resume=False)
    run.close()
    rows = [Row("gan", "digits", "fid", 12.5, n=10, higher_is_better=False, protocol="p=1"),
            Row("gan", "digits", "parzen_ll", 100.0, ci_low=90.0, ci_high=110.0, seed=1, higher_is_better=True)]
    assert not run.is_done("gan__digits__s0")
    run.write_rows("gan__digits__s0", rows)
    assert run.is_done("gan__digits__s0")
    saved = run.read_rows("gan__digits__s0")
    assert saved[0]["ci_low"] is None and saved[1]["ci_low"] == 90.0  # NaN becomes JSON null
    run.write_rows("real__digits__s0", [Row("real", "digits", "fid", 1.0)])
    frame = run.rebuild_metrics(["real__digits__s0", "missing__digits__s0", "gan__digits__s0"])
    on_disk = pd.read_csv(run.metrics_path)
    assert tuple(on_disk.columns) == COLUMNS
    assert list(on_disk["model"]) == ["real", "gan", "gan"] and list(frame["metric"]) == ["fid", "fid", "parzen_ll"]
    assert math.isnan(on_disk.loc[1, "ci_low"]) and on_disk.loc[2, "ci_high"] == 110.0
    empty = run.rebuild_metrics([])
    assert empty.empty and tuple(pd.read_csv(run.metrics_path).columns) == COLUMNS


def test_job_and_sample_dirs_are_created(tmp_path):
    run = RunDir(tmp_path)
    assert run.job_dir("j").is_dir() and run.job_dir("j") == tmp_path / "jobs" / "j"
    assert run.sample_dir("digits").is_dir()


def test_environment_reports_versions():
    env = environment()
    assert env["packages"]["numpy"] != "not installed"
    assert isinstance(env["git_commit"], str) and env["git_commit"]


def test_atomic_writes_leave_no_temp_files(tmp_path):
    atomic.write_text(tmp_path / "a.txt", "one")
    atomic.write_text(tmp_path / "a.txt", "two")
    atomic.write_json(tmp_path / "sub" / "b.json", {"x": float("nan"), "p": tmp_path})
    atomic.torch_save({"w": torch.arange(3)}, tmp_path / "c.pt")
    assert _files(tmp_path) == ["a.txt", "c.pt", "sub", "sub/b.json"]
    assert (tmp_path / "a.txt").read_text() == "two"
    assert json.loads((tmp_path / "sub" / "b.json").read_text())["p"] == str(tmp_path)
    assert torch.equal(atomic.torch_load(tmp_path / "c.pt")["w"], torch.arange(3))


def test_atomic_writes_get_the_umask_mode(tmp_path):
    """mkstemp creates 0o600 files; outputs must be readable like any file the user creates (bug fix)."""
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic.write_text(tmp_path / "atomic.txt", "x")
    assert (tmp_path / "atomic.txt").stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def test_atomic_write_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic.atomic_path(target) as tmp:
        tmp.write_text("half-writ")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old" and _files(tmp_path) == ["keep.txt"]
    with pytest.raises(Exception, match="(?i)pickle"):
        atomic.torch_save({"fn": lambda: 0}, tmp_path / "model.pt")  # fails inside torch.save
    assert _files(tmp_path) == ["keep.txt"]


def test_torch_load_refuses_arbitrary_objects(tmp_path):
    torch.save({"f": _Unpicklable()}, tmp_path / "evil.pt")
    with pytest.raises(HarnessError, match="evil.pt: is corrupt or holds objects other than weights") as info:
        atomic.torch_load(tmp_path / "evil.pt")
    assert "weights_only=False" not in str(info.value)


class _Unpicklable:
    pass


def test_weights_hash_is_stable_across_saves_unlike_the_file_hash(tmp_path):
    import torch

    from harness.core.atomic import torch_load, torch_save
    from harness.core.cache import file_sha256, weights_sha256

    state = {"w": torch.arange(6.0).view(2, 3), "b": torch.zeros(3)}
    torch_save({"state_dict": state}, tmp_path / "a.pt")
    torch_save({"state_dict": state}, tmp_path / "b.pt")
    assert file_sha256(tmp_path / "a.pt") != file_sha256(tmp_path / "b.pt")  # torch.save is not byte-reproducible
    assert weights_sha256(torch_load(tmp_path / "a.pt")["state_dict"]) == weights_sha256(state)
    assert weights_sha256(state) != weights_sha256({**state, "b": torch.ones(3)})
