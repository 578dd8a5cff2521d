"""``--executor ray`` (a local Ray instance, 2 CPUs) and ``--executor slurm`` (submitit's local executor).

Each gives the ``metrics.csv`` of the same run in one process, byte for byte; a job whose worker is killed
mid-training is reported failed with its log while the other job's rows stay, and ``--resume`` (on any executor)
completes the run with the same bytes again. One tiny GAN job and its reference job per run: CPU is scarce. The
tests skip, saying why, when the optional extra is not installed (``pip install -e ".[ray]"`` / ``".[slurm]"``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from harness.run import main

pytestmark = pytest.mark.slow  # a Ray instance and submitit processes: minutes on 2 cores

SETS = ("digits.n_train=300", "digits.n_val=100", "digits.n_test=200", "eval.n_samples=200", "eval.judge_steps=30",
        "eval.kid_subset_size=50", "eval.kid_subsets=10", "eval.parzen_n_validation=100", "eval.batch_size=100",
        "gan.g_hidden=32", "gan.d_units=16", "log_every=4", "study.simulate=false")
SHORT = ("gan.steps=20", "checkpoint_every=8")
LONG = ("gan.steps=3000", "checkpoint_every=100")  # long enough to be killed after its first checkpoint
GAN_JOB = "gan__digits__s0"


def _suite(out: Path, extra: tuple[str, ...], *flags: str) -> int:
    sets = [a for item in (*SETS, *extra) for a in ("--set", item)]
    return main(["--log-level", "ERROR", "suite", "--no-progress", "--no-report", "--models", "gan", "--threads", "1",
                 "--out", str(out), *flags, *sets])


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache for the module, set before Ray starts so its workers inherit it (the judge is trained once)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def in_process(tmp_path_factory, shared_cache):
    """The reference: the short and the long run in this process."""
    root = tmp_path_factory.mktemp("in_process")
    assert _suite(root / "short", SHORT, "--workers", "1") == 0
    assert _suite(root / "long", LONG, "--workers", "1") == 0
    return root


@pytest.fixture(scope="module")
def local_ray(shared_cache):
    ray = pytest.importorskip("ray", reason="the ray extra is not installed: pip install -e '.[ray]'")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def submitit_local(shared_cache):
    pytest.importorskip("submitit", reason="the slurm extra is not installed: pip install -e '.[slurm]'")
    return ("--executor", "slurm", "--slurm-cluster", "local")


def _kill_after_first_checkpoint(job_dir: Path, killed: dict[str, int], deadline_s: float = 300) -> None:
    """Waits for the job's first checkpoint, reads the job's pid from its ``job.log`` and kills it (SIGKILL)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        log = job_dir / "job.log"
        found = re.search(r"pid (\d+),", log.read_text()) if log.exists() else None
        if found and (job_dir / "checkpoint.pt").exists():
            killed["pid"] = int(found[1])
            os.kill(killed["pid"], signal.SIGKILL)
            return
        time.sleep(0.02)


def _killed_then_resumed(out: Path, flags: tuple[str, ...], capsys) -> None:
    killed: dict[str, int] = {}
    killer = threading.Thread(target=_kill_after_first_checkpoint, args=(out / "jobs" / GAN_JOB, killed))
    killer.start()
    code = _suite(out, LONG, *flags)
    killer.join()
    assert killed, "the GAN job never reached its first checkpoint"
    err = capsys.readouterr().err
    assert code == 2 and "1 of 2 jobs failed" in err and "job.log" in err, err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["jobs"][GAN_JOB]["status"] == "failed"
    assert (out / "jobs" / GAN_JOB / "checkpoint.pt").exists() and not (out / "jobs" / GAN_JOB / "rows.json").exists()
    assert "real_data" in (out / "metrics.csv").read_text()  # the other job's rows are kept
    assert main(["--log-level", "ERROR", "suite", "--no-progress", "--no-report", "--out", str(out), "--resume",
                 "--threads", "1", *flags]) == 0
    log = (out / "jobs" / GAN_JOB / "job.log").read_text()
    assert "resuming from step" in log


def test_ray_gives_the_metrics_of_one_process(tmp_path, in_process, local_ray):
    assert _suite(tmp_path / "run", SHORT, "--executor", "ray") == 0
    assert (tmp_path / "run" / "metrics.csv").read_bytes() == (in_process / "short" / "metrics.csv").read_bytes()
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["placement"]["executor"] == "ray"
    assert {job["executor"] for job in manifest["jobs"].values()} == {"ray"}
    assert "harness from" in (tmp_path / "run" / "jobs" / GAN_JOB / "job.log").read_text()


def test_a_killed_ray_worker_fails_its_job_and_resume_completes_the_run(tmp_path, in_process, local_ray, capsys):
    _killed_then_resumed(tmp_path / "run", ("--executor", "ray"), capsys)
    assert (tmp_path / "run" / "metrics.csv").read_bytes() == (in_process / "long" / "metrics.csv").read_bytes()


def test_submitit_local_gives_the_metrics_of_one_process(tmp_path, in_process, submitit_local):
    assert _suite(tmp_path / "run", SHORT, *submitit_local) == 0
    assert (tmp_path / "run" / "metrics.csv").read_bytes() == (in_process / "short" / "metrics.csv").read_bytes()
    assert list((tmp_path / "run" / "slurm").glob("*_submitted.pkl"))


def test_a_killed_submitit_job_fails_and_resume_on_another_executor_completes_it(tmp_path, in_process,
                                                                                 submitit_local, capsys):
    out = tmp_path / "run"
    killed: dict[str, int] = {}
    killer = threading.Thread(target=_kill_after_first_checkpoint, args=(out / "jobs" / GAN_JOB, killed))
    killer.start()
    code = _suite(out, LONG, *submitit_local)
    killer.join()
    assert killed and code == 2, capsys.readouterr().err
    assert "job.log" in json.loads((out / "manifest.json").read_text())["jobs"][GAN_JOB]["error"]
    # finished jobs are skipped whichever executor ran them: the in-process resume trains only the GAN
    assert main(["--log-level", "ERROR", "suite", "--no-progress", "--no-report", "--out", str(out), "--resume",
                 "--threads", "1", "--workers", "1"]) == 0
    assert (out / "metrics.csv").read_bytes() == (in_process / "long" / "metrics.csv").read_bytes()
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["jobs"]["real_data__digits__s0"]["executor"], manifest["jobs"][GAN_JOB]["executor"]) == (
        "slurm", "local")


def test_without_the_extra_the_executor_is_one_clear_error(tmp_path, monkeypatch, capsys, shared_cache):
    monkeypatch.setitem(sys.modules, "ray", None)  # as if not installed: importing it raises ImportError
    assert _suite(tmp_path / "run", SHORT, "--executor", "ray") == 2
    assert 'needs the \'ray\' package: pip install -e ".[ray]"' in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
