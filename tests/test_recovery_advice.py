"""Every recovery advice the harness prints works when followed: each test makes the fault, reads the advice from the
one error line, does what it says and checks that the command then succeeds."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from harness.run import main

pytestmark = pytest.mark.usefixtures("one_thread_module")
TINY = ("digits.n_train=120", "digits.n_val=20", "digits.n_test=60", "eval.n_samples=60", "eval.judge_steps=10",
        "eval.kid_subset_size=20", "eval.kid_subsets=5", "eval.parzen_n_validation=20", "eval.batch_size=60",
        "gan.steps=6", "gan.g_hidden=16", "gan.d_units=8", "checkpoint_every=4", "log_every=2", "study.simulate=false",
        "study.max_images=20", "study.n_reference=40", "study.amt.n_participants=4", "study.best_of.n_participants=4",
        "study.mos.n_raters=4", "study.mos.n_calibration=2", "study.stats.n_resamples=100")
SETS = [arg for item in TINY for arg in ("--set", item)]
JOB = "jobs/gan__digits__s0"


def _suite(out: Path, *extra: str) -> list[str]:
    return ["--log-level", "ERROR", "suite", "--no-progress", "--no-report", "--models", "gan", "--out", str(out),
            *extra]


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    root = tmp_path_factory.mktemp("advice")
    old = os.environ.get("HARNESS_CACHE_DIR")
    os.environ["HARNESS_CACHE_DIR"] = str(root / "cache")
    try:
        assert main(_suite(root / "run", *SETS)) == 0
    finally:
        os.environ.pop("HARNESS_CACHE_DIR") if old is None else os.environ.__setitem__("HARNESS_CACHE_DIR", old)
    return root / "run", root / "cache"


@pytest.fixture
def env(finished, tmp_path, monkeypatch):
    """``(run, cache)``: private copies of the finished run and of its cache."""
    run, cache = finished
    shutil.copytree(run, tmp_path / "run")
    shutil.copytree(cache, tmp_path / "cache")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "run", tmp_path / "cache"


def _error(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, lines
    return lines[0]


def _folder(path: Path, n: int = 6, bits: int = 8) -> Path:
    path.mkdir(parents=True)
    rng = np.random.default_rng(len(path.name))
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(path / f"{i}.png")
    return path


def test_a_finished_jobs_unreadable_model_retrains_that_job(env, capsys):
    """model.pt of a done job (rows.json present): deleting the file alone would not do; the job folder does."""
    run, _ = env
    (run / JOB / "model.pt").write_bytes(b"truncated")
    assert main(["--log-level", "ERROR", "study", "simulate", "--run", str(run)]) == 2
    error = _error(capsys)
    assert f"delete its job folder {run / JOB} and continue the run with --out {run} --resume" in error
    shutil.rmtree(run / JOB)
    assert main(_suite(run, "--resume")) == 0
    assert main(["--log-level", "ERROR", "study", "simulate", "--run", str(run)]) == 0


def test_a_corrupt_cached_judge_is_retrained_once_deleted(env, capsys):
    run, cache = env
    (judge,) = cache.glob("judges/*.pt")
    judge.write_bytes(b"not a judge")
    (run / JOB / "rows.json").unlink()  # the job is evaluated again, loading the judge
    assert main(_suite(run, "--resume")) == 2
    error = _error(capsys)
    assert str(judge) in error and "delete it and the harness retrains it" in error
    judge.unlink()
    assert main(_suite(run, "--resume")) == 0


def test_a_damaged_committed_judge_is_restored_not_deleted(tmp_path, monkeypatch, capsys):
    from metrics.judges import base, resolve

    copy = tmp_path / "weights"
    shutil.copytree(resolve.WEIGHTS_DIR, copy)
    monkeypatch.setattr(base, "COMMITTED_DIR", copy)
    monkeypatch.setattr(resolve, "WEIGHTS_DIR", copy)
    target = resolve.pinned_file("digits", "standard")
    target.write_bytes(b"damaged")
    argv = ["evaluate", "--metric", "fidelity", "--pred", str(_folder(tmp_path / "a")), "--target",
            str(_folder(tmp_path / "bb")), "--feature-extractor", "digits", "--no-progress"]
    assert main(argv) == 2
    error = _error(capsys)
    assert "committed judge: restore it" in error and "delete" not in error
    shutil.copy(Path(base.__file__).parent / "weights" / target.name, target)  # what `git checkout` does
    assert main(argv) == 0


def test_a_users_unusable_judge_file_is_replaced_by_one_the_harness_wrote(tmp_path, capsys):
    from metrics.judges.resolve import pinned_file

    bad = tmp_path / "mine.pt"
    torch.save({"judge": "something else"}, bad)
    argv = ["evaluate", "--metric", "fidelity", "--pred", str(_folder(tmp_path / "a")), "--target",
            str(_folder(tmp_path / "bb")), "--feature-extractor", "digits", "--no-progress", "--weights"]
    assert main([*argv, str(bad)]) == 2
    error = _error(capsys)
    assert "give the judge file the harness wrote" in error and "delete" not in error
    assert main([*argv, str(pinned_file("digits", "standard"))]) == 0


def _full_disk(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device", "somewhere")


def test_a_full_disk_in_report_keeps_the_old_report_and_says_run_again(env, capsys, monkeypatch):
    from reports import build

    run, _ = env
    assert main(["report", "--run", str(run)]) == 0
    before = {p.name: p.read_bytes() for p in run.glob("*.csv")}
    capsys.readouterr()
    with monkeypatch.context() as patch:
        patch.setattr(build, "write_csv", _full_disk)
        assert main(["report", "--run", str(run)]) == 2
    error = _error(capsys)
    assert error.endswith("free some space, then run the same command again") and "--resume" not in error
    assert {p.name: p.read_bytes() for p in run.glob("*.csv")} == before
    assert not list(run.glob(".report-*"))
    assert main(["report", "--run", str(run)]) == 0


def test_a_full_disk_in_study_export_leaves_nothing_and_says_run_again(env, capsys, monkeypatch):
    from harness.study import export

    run, _ = env
    out = run.parent / "kit"
    argv = ["--log-level", "ERROR", "study", "export", "--protocol", "amt", "--run", str(run), "--out", str(out)]
    real, calls = export.save_image, {"n": 0}

    def fills_up(image, path):
        calls["n"] += 1
        if calls["n"] > 5:
            _full_disk()
        real(image, path)

    with monkeypatch.context() as patch:
        patch.setattr(export, "save_image", fills_up)
        assert main(argv) == 2
    error = _error(capsys)
    assert error.endswith("free some space, then run the same command again") and "--resume" not in error
    assert sorted(p.name for p in run.parent.iterdir()) == ["cache", "run"]  # no kit, no staging folder
    assert main(argv) == 0 and (out / "study.html").is_file()


def test_a_full_disk_while_caching_a_task_says_run_again(tmp_path, capsys, monkeypatch):
    """Nothing of the run was written (the task is generated first): the same command again, not --resume."""
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    real = torch.save
    out = tmp_path / "run"
    with monkeypatch.context() as patch:
        patch.setattr(torch, "save", lambda obj, path: real(obj, "/dev/full" if "digits-" in Path(path).name else path))
        assert main(_suite(out, *SETS)) == 2
    error = _error(capsys)
    assert "the write failed" in error and error.endswith("free some space, then run the same command again")
    assert not out.exists()
    assert main(_suite(out, *SETS)) == 0
