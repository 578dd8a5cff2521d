"""The runner under faults: the run lock, a diverging job, a full disk, SIGTERM mid-write, internal errors, runs
that die before their first job, ``--resume`` from the saved settings, and the cache under concurrent writers."""

from __future__ import annotations

import errno
import json
import math
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from harness.config import config_to_dict
from harness.core import atomic
from harness.core.errors import HarnessError
from harness.run import main
from harness.run_config import resolve_config
from harness.rundir import RunDir

pytestmark = pytest.mark.usefixtures("one_thread_module")
ROOT = Path(__file__).resolve().parents[2]
GAN_SETS = ("digits.n_train=120", "digits.n_val=20", "digits.n_test=60", "eval.n_samples=60", "eval.judge_steps=10",
            "eval.kid_subset_size=20", "eval.kid_subsets=5", "eval.parzen_n_validation=20", "eval.batch_size=60",
            "gan.steps=6", "gan.g_hidden=16", "gan.d_units=8", "checkpoint_every=4", "log_every=2",
            "study.simulate=false")  # the simulated study has its own tests


def _sets(*extra: str) -> list[str]:
    return [arg for item in (*GAN_SETS, *extra) for arg in ("--set", item)]


def _gan(out: Path, *argv: str, command: str = "suite") -> list[str]:
    return ["--log-level", "ERROR", command, "--no-progress", "--models", "gan", "--out", str(out), *argv]


def _error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith(("error:", "internal error"))]


# ---------------------------------------------------------------- the lock


def test_a_second_process_on_the_same_run_is_refused_and_a_dead_owners_lock_is_taken_over(tmp_path):
    config = config_to_dict(resolve_config("smoke", {}))
    path = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from harness.rundir import RunDir
        RunDir({str(path)!r}).start({config!r}, resume=False)
        print("locked", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(HarnessError, match=rf"in use by another harness process \(pid {holder.pid}\)"):
            RunDir(path).start(config, resume=True)
    finally:
        holder.kill()  # dies without releasing anything itself: the kernel drops its flock
        holder.wait()
    assert (path / ".lock").read_text().strip() == str(holder.pid)  # the stale lock file is still there
    run = RunDir(path)
    run.start(config, resume=True)
    assert (path / ".lock").read_text().strip() == str(os.getpid())
    run.close()


def test_two_suites_on_one_out_do_not_interleave(tmp_path, cache, capsys):
    out = tmp_path / "run"
    first = RunDir(out)
    tiny = dict(item.split("=") for item in GAN_SETS) | {"models": "gan"}
    first.start(config_to_dict(resolve_config("smoke", tiny)), resume=False)  # another suite holds the run
    try:
        assert main(["suite", "--out", str(out), "--resume"]) == 2
    finally:
        first.close()
    assert "in use by another harness process" in capsys.readouterr().err


# ---------------------------------------------------------------- a diverging job


def _nan_once(real, at: int):
    """Wraps GAN.train_step: the ``at``-th call overall returns a NaN loss (the first job diverges, others do not).

    The NaN is a device tensor, as ``train_step`` returns its losses; the loop sees it at the next log row.
    """
    calls = {"n": 0}

    def train_step(model, batch):
        calls["n"] += 1
        losses = real(model, batch)
        return {**losses, "D": torch.tensor(math.nan)} if calls["n"] == at else losses
    return train_step


def test_a_nan_loss_stops_its_job_naming_step_and_loss_and_keeps_the_other_jobs(tmp_path, cache, capsys,
                                                                               monkeypatch):
    from reference_models.gan import VanillaGAN as GAN

    monkeypatch.setattr(GAN, "train_step", _nan_once(GAN.train_step, at=3))
    out = tmp_path / "run"
    code = main(_gan(out, "--seeds", "0,1", "--workers", "1", *_sets()))  # in this process, where the patch is
    captured = capsys.readouterr()
    errors = _error_lines(captured.err)
    assert code == 2 and len(errors) == 1, captured.err
    assert "1 of 4 jobs failed" in errors[0]
    assert "gan__digits__s0: loss D=nan in steps 3-4 (their mean) of 6" in errors[0]
    assert not (out / "jobs" / "gan__digits__s0" / "model.pt").exists()  # no model from a diverged run
    metrics = pd.read_csv(out / "metrics.csv")
    assert set(metrics["model"]) == {"real_data", "gan"} and set(metrics.loc[metrics.model == "gan", "seed"]) == {1}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["jobs"]["gan__digits__s0"]["status"] == "failed"
    assert manifest["jobs"]["gan__digits__s1"]["status"] == "done"
    html = (out / "report.html").read_text()
    assert 'id="incomplete"' in html and "gan__digits__s0" in html and "(incomplete)" in html
    assert "report INCOMPLETE: 1 planned job(s) without results: gan__digits__s0" in captured.out


def test_a_real_divergence_is_caught_at_the_log_row_after_its_first_non_finite_step(tmp_path, cache, capsys):
    """No patching: SGD at the largest accepted learning rate, heavy momentum and no norm constraint diverges."""
    out = tmp_path / "run"
    code = main(_gan(out, "--no-report", *_sets("gan.lr=10", "gan.momentum_start=0.99", "gan.momentum_end=0.99",
                                                "gan.max_col_norm=0", "gan.steps=60", "checkpoint_every=500")))
    errors = _error_lines(capsys.readouterr().err)
    assert code == 2 and len(errors) == 1 and "training diverged" in errors[0], errors
    found = re.search(r"at step (\d+) |in steps (\d+)-(\d+) ", errors[0])
    assert found, errors[0]
    first, last = (int(found[1]),) * 2 if found[1] else (int(found[2]), int(found[3]))
    assert 1 <= first <= last < 60 and last - first < 2  # log_every=2: the window of the first non-finite step
    assert not (out / "jobs" / "gan__digits__s0" / "model.pt").exists()


def test_a_run_whose_only_model_diverged_gets_its_report_and_names_the_job_last(tmp_path, cache, capsys):
    """With the simulated study on: it is skipped with a note (nothing to show), the report is built, and the last
    line is the error naming the failed job and why (not the study's complaint)."""
    out = tmp_path / "run"
    code = main(_gan(out, *_sets("gan.lr=10", "gan.momentum_start=0.99", "gan.momentum_end=0.99",
                                 "gan.max_col_norm=0", "gan.steps=60", "checkpoint_every=500", "study.simulate=true")))
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err.strip().splitlines()[-1].startswith("error: 1 of 2 jobs failed")
    assert "gan__digits__s0: loss" in captured.err and "training diverged" in captured.err
    assert "study (simulated): skipped, no trained model job" in captured.out
    assert (out / "report.html").is_file() and "gan__digits__s0" in (out / "report.html").read_text()
    assert "report INCOMPLETE: 1 planned job(s) without results: gan__digits__s0" in captured.out


# ---------------------------------------------------------------- a full disk


def test_torch_save_on_a_full_disk_is_one_clear_error_and_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "model.pt"
    atomic.torch_save({"w": torch.ones(3)}, target)
    real_save = torch.save
    monkeypatch.setattr(torch, "save", lambda obj, path: real_save(obj, "/dev/full"))  # torch's own ENOSPC failure
    with pytest.raises(HarnessError, match=r"cannot write .*model\.pt: the write failed .*full disk"):
        atomic.torch_save({"w": torch.zeros(3)}, target)
    assert torch.equal(atomic.torch_load(target)["w"], torch.ones(3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt"]


def test_enospc_in_any_write_names_the_final_file(tmp_path):
    target = tmp_path / "metrics.csv"
    target.write_text("old")
    with pytest.raises(OSError) as info, atomic.atomic_path(target) as tmp, open("/dev/full", "w") as full:
        tmp.write_text("new")
        full.write("x" * 10000)
        full.flush()
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(target)
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["metrics.csv"]


def test_a_full_disk_during_a_run_exits_2_in_one_line_and_leaves_nothing(tmp_path, cache, capsys, monkeypatch):
    out = tmp_path / "run"
    real_save = torch.save

    def full_disk_for_checkpoints(obj, path):
        return real_save(obj, "/dev/full" if Path(path).name.startswith(".checkpoint.pt") else path)

    monkeypatch.setattr(torch, "save", full_disk_for_checkpoints)
    code = main(_gan(out, *_sets(), command="train"))
    errors = _error_lines(capsys.readouterr().err)
    assert code == 2 and len(errors) == 1 and "checkpoint.pt: the write failed" in errors[0], errors
    assert not out.exists()  # died before any job wrote anything: nothing left
    monkeypatch.setattr(torch, "save", real_save)
    assert main(_gan(out, "--resume", *_sets(), command="train")) == 0


def test_a_read_only_out_is_exit_2(tmp_path, capsys, monkeypatch):
    def refuse(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert main(_gan(tmp_path / "ro" / "run", *_sets())) == 2
    assert "Read-only file system" in capsys.readouterr().err


# ---------------------------------------------------------------- SIGTERM


SIGTERM_WRITER = """
import sys, time, signal
sys.path.insert(0, {root!r})
from harness.core import atomic
from harness.run import _on_sigterm
if {handler}:
    signal.signal(signal.SIGTERM, _on_sigterm)
atomic.write_text({path!r}, "previous")
with atomic.atomic_path({path!r}) as tmp:
    with open(tmp, "w") as handle:
        handle.write("half of the new ver")
        handle.flush()
        print("writing", flush=True)
        time.sleep(60)
"""


@pytest.mark.parametrize(("handler", "sig"), [(True, signal.SIGTERM), (False, signal.SIGTERM),
                                              (False, signal.SIGKILL)])
def test_a_signal_during_a_write_keeps_the_previous_file(tmp_path, handler, sig):
    path = tmp_path / "metrics.csv"
    proc = subprocess.Popen([sys.executable, "-c", SIGTERM_WRITER.format(root=str(ROOT), handler=handler,
                                                                         path=str(path))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert path.read_text() == "previous"
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name != "metrics.csv")
    assert leftovers == [] if handler else all(name.endswith(".tmp") for name in leftovers)  # never the final name


def test_sigterm_exits_143_with_a_resume_hint(monkeypatch, capsys):
    from harness import commands

    def terminated(args):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        return 0

    monkeypatch.setattr(commands, "dispatch", terminated)
    previous = signal.getsignal(signal.SIGTERM)
    assert main(["list"]) == 143
    assert capsys.readouterr().err == "terminated: run the same command again\n"  # no --resume: list has none
    assert signal.getsignal(signal.SIGTERM) == previous  # main restores the handler it replaced


# ---------------------------------------------------------------- internal errors and early deaths


def test_an_internal_error_in_a_run_is_exit_3_one_line_and_its_traceback_in_harness_log(tmp_path, cache, capsys,
                                                                                       monkeypatch):
    from harness import executors as suite  # where the local executor calls run_work

    real = suite.run_work
    calls = {"n": 0}

    def buggy(work, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ZeroDivisionError("a bug")
        return real(work, *args, **kwargs)

    monkeypatch.setattr(suite, "run_work", buggy)
    out = tmp_path / "run"
    assert main(_gan(out, *_sets())) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(_error_lines(err)) == 1
    assert "internal error" in err and "ZeroDivisionError: a bug" in err and str(out / "harness.log") in err
    log = (out / "harness.log").read_text()
    assert "Traceback" in log and "ZeroDivisionError: a bug" in log
    monkeypatch.setattr(suite, "run_work", real)
    assert main(_gan(out, "--resume")) == 0  # the reference job's rows were kept; resume finishes the run


def test_an_internal_error_outside_a_run_writes_a_crash_log(monkeypatch, capsys):
    from harness import commands

    monkeypatch.setattr(commands, "_list", lambda what, profile="smoke": 1 / 0)
    assert main(["list"]) == 3
    err = capsys.readouterr().err
    assert "Traceback" not in err and "ZeroDivisionError" in err
    path = Path(err.split("the traceback is in ")[1].strip())
    assert "Traceback" in path.read_text()
    path.unlink()


@pytest.mark.parametrize("fault", [HarnessError("a corrupt cache entry"), KeyboardInterrupt()])
def test_a_run_that_dies_before_its_first_job_wrote_anything_leaves_nothing(tmp_path, cache, monkeypatch, fault):
    from harness import executors as suite  # where the local executor calls run_work

    def dies(*args, **kwargs):
        raise fault

    monkeypatch.setattr(suite, "run_work", dies)
    out = tmp_path / "run"
    assert main(_gan(out, *_sets())) in (2, 130)
    assert not out.exists()
    mine = tmp_path / "mine"
    mine.mkdir()  # an empty folder the user made stays, empty
    assert main(_gan(mine, *_sets())) in (2, 130)
    assert list(mine.iterdir()) == []


# ---------------------------------------------------------------- --resume reads the run's settings


def test_resume_reads_the_settings_from_the_run(tmp_path, cache, capsys):
    out = tmp_path / "run"
    assert main(_gan(out, "--seeds", "3", *_sets(), command="train")) == 0
    (out / "jobs" / "gan__digits__s3" / "model.pt").unlink()  # as if killed before the end
    assert main(["--log-level", "ERROR", "train", "--out", str(out), "--resume", "--no-progress"]) == 0
    assert (out / "jobs" / "gan__digits__s3" / "model.pt").exists()
    assert main(_gan(out, "--resume", "--seeds", "3", *_sets(), command="train")) == 0  # the same flags again: fine
    assert main(["train", "--out", str(out), "--resume", "--set", "gan.steps=7"]) == 2
    assert "gan.steps: run has 6, given 7" in capsys.readouterr().err


# ---------------------------------------------------------------- threads and the manifest


def test_the_manifest_records_the_thread_choice(tmp_path, cache):
    out = tmp_path / "run"
    assert main(_gan(out, "--threads", "1", *_sets(), command="train")) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["threads"]["threads"] == 1 and manifest["threads"]["reason"] == "--threads"
    assert manifest["hardware"]["torch_threads"] == 1
    assert manifest["planned_jobs"] == ["real_data__digits__s0", "gan__digits__s0"]


# ---------------------------------------------------------------- the cache under concurrent writers


CACHE_WRITER = """
import sys
sys.path.insert(0, {root!r})
import torch
from harness.core import atomic
for i in range(40):
    atomic.torch_save({{"x": torch.full((200_000,), float(i))}}, {path!r})
"""


def test_a_reader_never_sees_a_half_written_cache_entry(tmp_path):
    path = tmp_path / "entry.pt"
    atomic.torch_save({"x": torch.full((200_000,), -1.0)}, path)
    writers = [subprocess.Popen([sys.executable, "-c", CACHE_WRITER.format(root=str(ROOT), path=str(path))])
               for _ in range(2)]
    reads = 0
    while any(w.poll() is None for w in writers):
        x = atomic.torch_load(path)["x"]  # raises HarnessError on a torn file
        assert torch.all(x == x[0])
        reads += 1
    assert all(w.returncode == 0 for w in writers) and reads > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry.pt"]
