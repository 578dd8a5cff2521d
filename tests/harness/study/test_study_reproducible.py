"""The simulated study of a run is the same bytes on every call, after a kill and --resume too, and keeps rows."""

from __future__ import annotations

import json

import pytest

from harness.run import main
from reference_models.pix2pix import Pix2Pix

pytestmark = pytest.mark.usefixtures("one_thread")


def _study_files(run) -> dict[str, bytes]:
    files = {p.relative_to(run).as_posix(): p.read_bytes() for p in sorted((run / "study").glob("*.csv"))}
    return {**files, "metrics.csv": (run / "metrics.csv").read_bytes()}


def _simulate(run, *extra: str) -> int:
    return main(["--log-level", "ERROR", "study", "simulate", "--run", str(run), *extra])


def test_simulate_twice_on_copies_gives_the_same_bytes(run_copy):
    first, second = run_copy("a"), run_copy("b")
    assert _simulate(first) == 0 and _simulate(second) == 0
    files = _study_files(first)
    assert {"study/amt.csv", "study/mos.csv", "metrics.csv"} <= set(files)
    assert files == _study_files(second)
    assert _simulate(first) == 0  # and again on the same run
    assert _study_files(first) == files


def test_study_signals_do_not_depend_on_what_ran_before(run_copy):
    """pix2pix translates with dropout on: the study seeds it per job, so earlier draws change no image signal."""
    import torch

    from harness.study.run_study import gather, load_run

    run = run_copy("a")
    config, manifest = load_run(run)
    signals = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        material = gather(run, config, manifest, keep_images=True)
        signals.append((material.z_real, material.z_ref, {k: v.clone() for k, v in material.images.items()}))
    (real_a, ref_a, images_a), (real_b, ref_b, images_b) = signals
    assert real_a == real_b and ref_a == ref_b
    assert images_a.keys() == images_b.keys() and all(torch.equal(images_a[k], images_b[k]) for k in images_a)
    assert any("pix2pix" in k for k in real_a)


def _interrupt_after(steps: int):
    original = Pix2Pix.train_step
    calls = {"n": 0}

    def step(self, batch):
        calls["n"] += 1
        if calls["n"] > steps:
            raise KeyboardInterrupt
        return original(self, batch)
    return step


@pytest.mark.slow
def test_kill_and_resume_give_the_uninterrupted_runs_bytes(tmp_path, monkeypatch, cache, pix2pix_argv):
    suite_argv = pix2pix_argv
    killed, fresh = tmp_path / "killed", tmp_path / "fresh"
    with monkeypatch.context() as patch:
        patch.setattr(Pix2Pix, "train_step", _interrupt_after(2))
        assert main(suite_argv(killed, study=True)) == 130
    assert main(suite_argv(killed, "--resume", study=True)) == 0
    assert main(suite_argv(fresh, study=True)) == 0
    assert (killed / "jobs" / "study__simulated" / "rows.json").is_file()
    assert _study_files(killed) == _study_files(fresh)


def test_rebuilding_metrics_keeps_the_study_rows(run_copy):
    """``evaluate --run`` (a resume) rebuilds metrics.csv: the rows ``study simulate`` wrote stay."""
    run = run_copy("a")
    assert _simulate(run) == 0
    with_study = (run / "metrics.csv").read_bytes()
    assert b"simulated=true" in with_study
    assert main(["--log-level", "ERROR", "evaluate", "--run", str(run), "--no-progress"]) == 0
    assert (run / "metrics.csv").read_bytes() == with_study
    assert "study__simulated" in json.loads((run / "manifest.json").read_text())["jobs"]


def test_a_refused_option_leaves_the_earlier_study_whole(run_copy, capsys):
    run = run_copy("a")
    assert _simulate(run) == 0
    before = _study_files(run)
    capsys.readouterr()
    assert _simulate(run, "--set", "study.amt.n_participants=0") == 2
    assert "study.amt.n_participants=0" in capsys.readouterr().err
    assert _study_files(run) == before


def test_a_study_of_some_tasks_keeps_the_other_tasks_results(run_copy):
    """``--tasks`` replaces those tasks' tables and rows; an earlier study's rows of other tasks stay."""
    import pandas as pd

    run = run_copy("a")
    assert _simulate(run) == 0
    rows_path = run / "jobs" / "study__simulated" / "rows.json"
    rows = json.loads(rows_path.read_text())
    other = {**rows[0], "task": "maps", "value": 12.5}
    rows_path.write_text(json.dumps([other, *rows]))
    amt = pd.read_csv(run / "study" / "amt.csv")
    amt = pd.concat([amt.iloc[:1].assign(task="maps", pct_real=12.5), amt], ignore_index=True)
    amt.to_csv(run / "study" / "amt.csv", index=False)
    assert _simulate(run, "--tasks", "probe_texture") == 0
    metrics = pd.read_csv(run / "metrics.csv")
    kept = metrics[metrics["task"] == "maps"]
    assert len(kept) == 1 and kept["value"].iloc[0] == 12.5
    simulated = metrics["protocol"].str.contains("simulated=true")
    assert (simulated & (metrics["task"] == "probe_texture")).sum() == len(rows)
    table = pd.read_csv(run / "study" / "amt.csv")
    assert (table["task"] == "maps").sum() == 1 and (table["task"] == "probe_texture").sum() == len(amt) - 1
