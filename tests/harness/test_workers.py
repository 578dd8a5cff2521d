"""Jobs on worker processes: the same rows as one at a time, the choice recorded, a bad --workers refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from harness.core.device import ThreadChoice, choose_workers
from harness.core.errors import HarnessError
from harness.run import main

pytestmark = pytest.mark.usefixtures("one_thread_module")

SETS = ("digits.n_train=120", "digits.n_val=20", "digits.n_test=60", "eval.n_samples=60", "eval.judge_steps=10",
        "eval.kid_subset_size=20", "eval.kid_subsets=5", "eval.parzen_n_validation=20", "eval.batch_size=60",
        "gan.steps=6", "gan.g_hidden=16", "gan.d_units=8", "checkpoint_every=4", "log_every=2",
        "study.simulate=false")


def _run(out: Path, workers: int) -> dict:
    argv = ["--log-level", "ERROR", "suite", "--no-progress", "--no-report", "--models", "gan", "--seeds", "0,1",
            "--workers", str(workers), "--out", str(out), *[a for s in SETS for a in ("--set", s)]]
    assert main(argv) == 0
    return json.loads((out / "manifest.json").read_text())


def _rows(run: Path) -> dict[str, list]:
    return {job.name: json.loads((job / "rows.json").read_text()) for job in sorted((run / "jobs").iterdir())}


def test_two_workers_give_the_rows_of_one_at_a_time(tmp_path):
    serial, parallel = _run(tmp_path / "serial", 1), _run(tmp_path / "parallel", 2)
    assert serial["workers"] == 1 and parallel["workers"] == 2
    assert set(parallel["jobs"]) == set(serial["jobs"]) == {"real_data__digits__s0", "real_data__digits__s1",
                                                           "gan__digits__s0", "gan__digits__s1"}
    assert all(job["status"] == "done" and job["cpu_time_s"] > 0 for job in parallel["jobs"].values()
               if not job["reference"])
    assert _rows(tmp_path / "parallel") == _rows(tmp_path / "serial")
    assert (tmp_path / "parallel" / "metrics.csv").read_text() == (tmp_path / "serial" / "metrics.csv").read_text()
    assert "worker" in (tmp_path / "parallel" / "harness.log").read_text()  # the workers log into the run's log


def test_default_workers_fill_the_cpus_and_a_gpu_runs_one_job():
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert choose_workers(None, ThreadChoice(1, 2, "default"), cpu) == 2
    assert choose_workers(None, ThreadChoice(8, 16, "default"), cpu) == 2
    assert choose_workers(None, ThreadChoice(3, 2, "--threads"), cpu) == 1
    assert choose_workers(None, ThreadChoice(1, 16, "default"), cuda) == 1
    assert choose_workers(3, ThreadChoice(1, 2, "default"), cpu) == 3
    with pytest.raises(HarnessError, match="--workers 0"):
        choose_workers(0, ThreadChoice(1, 2, "default"), cpu)


def test_a_bad_workers_value_is_exit_2_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["suite", "--no-progress", "--models", "gan", "--workers", "0", "--out", str(out)]
    assert main(argv) == 2
    assert "--workers 0" in capsys.readouterr().err
    assert not out.exists()


def test_a_job_diverging_in_a_worker_is_recorded_failed_and_the_run_exits_2(tmp_path, capsys):
    # No patching (a worker is a fresh process): SGD at the largest accepted rate with heavy momentum diverges.
    out = tmp_path / "run"
    diverge = ("gan.lr=10", "gan.momentum_start=0.99", "gan.momentum_end=0.99", "gan.max_col_norm=0", "gan.steps=60",
               "checkpoint_every=500")
    argv = ["--log-level", "ERROR", "suite", "--no-progress", "--no-report", "--models", "gan", "--seeds", "0,1",
            "--workers", "2", "--out", str(out), *[a for s in (*SETS, *diverge) for a in ("--set", s)]]
    assert main(argv) == 2
    assert "2 of 4 jobs failed" in capsys.readouterr().err
    manifest = json.loads((out / "manifest.json").read_text())
    assert [manifest["jobs"][f"gan__digits__s{s}"]["status"] for s in (0, 1)] == ["failed", "failed"]
    assert "training diverged" in manifest["jobs"]["gan__digits__s1"]["error"]


def _children(pid: int) -> list[int]:
    """Pool workers of ``pid``: its children running multiprocessing's spawn entry point (not the resource tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid and b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            found.append(int(stat.parent.name))
    return found


def _is_worker(pid: int) -> bool:
    """Whether ``pid`` still runs multiprocessing's spawn entry point (gone, or a zombie with no cmdline: False)."""
    try:
        return b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # exited between listing and reading
        return False


def test_ctrl_c_of_a_two_worker_run_is_exit_130_and_leaks_no_semaphore(tmp_path):
    # The pool ends its workers with SIGTERM, which runs no finaliser: a named semaphore a worker made (tqdm's lock)
    # stayed registered and the resource tracker printed "There appear to be 2 leaked semaphore objects".
    import os
    import signal
    import subprocess
    import sys
    import time

    argv = [sys.executable, "-m", "harness.run", "--log-level", "ERROR", "suite", "--no-progress", "--models", "gan",
            "--seeds", "0,1", "--workers", "2", "--threads", "1", "--out", str(tmp_path / "run"),
            *[a for s in SETS if not s.startswith("gan.steps") for a in ("--set", s)], "--set", "gan.steps=1000000"]
    # A shell starts background commands with SIGINT ignored, and Python keeps an ignored SIGINT (no
    # KeyboardInterrupt), so under `bash .ci/run &` the runner ignored Ctrl-C and this test hung. A handled signal is
    # reset to the default at exec, so handling it here while the runner starts gives the runner Ctrl-C as a user has.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        runner = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  env={**os.environ, "OMP_NUM_THREADS": "1"})
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        jobs = [tmp_path / "run" / "jobs" / f"gan__digits__s{seed}" / "losses.csv" for seed in (0, 1)]
        deadline = time.monotonic() + 120
        while not all(j.exists() for j in jobs) and time.monotonic() < deadline and runner.poll() is None:
            time.sleep(0.2)  # interrupt mid-job: both workers are training
        assert all(j.exists() for j in jobs), "the workers never started training"
        runner.send_signal(signal.SIGINT)
        _, stderr = runner.communicate(timeout=60)
    finally:
        runner.kill()
    assert runner.returncode == 130, stderr
    assert "interrupted: finished jobs and the last checkpoints are kept" in stderr
    assert "leaked" not in stderr and "resource_tracker" not in stderr, stderr


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc")
def test_workers_end_when_the_runner_is_killed_outright(tmp_path):
    # SIGKILL runs no clean-up in the runner; without _die_with_parent its workers trained on, writing checkpoints
    # into job folders that a `--resume` of the same run would share with them. With it they get SIGTERM at once.
    import os
    import signal
    import subprocess
    import sys
    import time

    argv = [sys.executable, "-m", "harness.run", "--log-level", "ERROR", "suite", "--no-progress", "--models", "gan",
            "--seeds", "0,1", "--workers", "2", "--threads", "1", "--out", str(tmp_path / "run"),
            *[a for s in SETS if not s.startswith("gan.steps") for a in ("--set", s)], "--set", "gan.steps=1000000"]
    workers: list[int] = []
    runner = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while len(workers := _children(runner.pid)) < 2 and time.monotonic() < deadline and runner.poll() is None:
            time.sleep(0.2)
        assert len(workers) == 2, "the runner never started its two workers"
        jobs = [tmp_path / "run" / "jobs" / f"gan__digits__s{seed}" / "losses.csv" for seed in (0, 1)]
        while not all(j.exists() for j in jobs) and time.monotonic() < deadline and runner.poll() is None:
            time.sleep(0.2)  # kill mid-job: both workers are training
        assert all(j.exists() for j in jobs), "the workers never started training"
        runner.send_signal(signal.SIGKILL)
        runner.wait()
        deadline = time.monotonic() + 3
        while any(_is_worker(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.2)
        alive = [w for w in workers if _is_worker(w)]
        assert not alive, f"workers {alive} outlived their killed runner"
    finally:
        runner.kill()
        for w in workers:  # orphans if the test failed: init is their parent now
            if _is_worker(w):
                os.kill(w, signal.SIGKILL)
