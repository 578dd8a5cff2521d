"""The command line in-process: exit codes, error messages, and that bad input writes nothing."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from harness.run import build_parser, main

BAD_DEVICE = "tpu" if torch.cuda.is_available() else "cuda:7"  # no CUDA here: asking for it is an input error
SUBCOMMANDS = ("list", "suite", "train", "evaluate", "report", "baseline", "check")


def _snapshot(root):
    return sorted((str(p.relative_to(root)), p.stat().st_mtime_ns) for p in root.rglob("*"))


def _write_pngs(folder, n, size=(8, 8), seed=0, mode="L"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        shape = size if mode == "L" else (*size, 3)
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode=mode).save(folder / f"{i:03d}.png")
    return folder


@pytest.fixture
def workdir(tmp_path, monkeypatch, cache):
    """An empty working directory (so a stray default ``runs/`` would be noticed) with a private cache."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def _fails(argv, capsys, *expected):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    for text in expected:
        assert text in err, err
    return err


@pytest.mark.parametrize(("argv", "expected"), [
    (["--models", "gam"], ("unknown model 'gam'", "gan", "pix2pix", "cyclegan")),
    (["--models", "gan", "--tasks", "digitz"], ("unknown task 'digitz'", "digits", "scenes", "probe_texture")),
    (["--set", "gan.stpes=3"], ("gan.stpes", "steps", "batch_size")),
    (["--set", "gan.steps=abc"], ("gan.steps", "abc")),
    (["--set", "gan.steps"], ("expected key=value",)),
    (["--seeds", "0,x"], ("seeds",)),
    (["--seeds", ""], ("--seeds", "at least one seed")),
    (["--set", "checkpoint_every=0"], ("checkpoint_every=0", "1 <= value")),
    (["--models", "gan", "--tasks", "scenes"], ("no jobs",)),
    (["--models", "gan", "--device", BAD_DEVICE], ("--device",)),
])
@pytest.mark.parametrize("command", ["suite", "train"])
def test_bad_run_options_exit_2_and_write_nothing(command, argv, expected, workdir, capsys):
    out = workdir / "run"
    _fails([command, "--out", str(out), *argv], capsys, *expected)
    assert not out.exists()
    assert list(workdir.iterdir()) == []


def test_unknown_metric_lists_metrics(workdir, capsys):
    pred = _write_pngs(workdir / "pred", 2)
    before = _snapshot(workdir)
    _fails(["evaluate", "--metric", "fdi", "--pred", str(pred)], capsys, "unknown metric 'fdi'", "parzen", "fidelity")
    _fails(["evaluate", "--metric", "mode_coverage", "--pred", str(pred)], capsys, "mode_coverage", "parzen")
    _fails(["evaluate", "--metric", "parzen", "--pred", str(pred)], capsys, "--target")
    _fails(["evaluate"], capsys, "--run")
    assert _snapshot(workdir) == before


def test_evaluate_missing_empty_corrupt_and_mixed_size_folders(workdir, capsys):
    target = _write_pngs(workdir / "target", 4)
    empty = workdir / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    corrupt = _write_pngs(workdir / "corrupt", 2)
    (corrupt / "bad.png").write_bytes(np.random.default_rng(1).integers(0, 256, 200, dtype=np.uint8).tobytes())
    mixed = _write_pngs(workdir / "mixed", 2)
    Image.new("L", (9, 8)).save(mixed / "zz_wide.png")
    before = _snapshot(workdir)
    missing = workdir / "MISSING"
    _fails(["evaluate", "--metric", "parzen", "--pred", str(missing), "--target", str(target)], capsys,
           "--pred", str(missing), "does not exist")
    _fails(["evaluate", "--metric", "parzen", "--pred", str(target), "--target", str(missing)], capsys,
           "--target", str(missing))
    _fails(["evaluate", "--metric", "parzen", "--pred", str(empty), "--target", str(target)], capsys,
           "--pred", str(empty), "no images")
    _fails(["evaluate", "--metric", "parzen", "--pred", str(corrupt), "--target", str(target)], capsys,
           str(corrupt / "bad.png"))
    _fails(["evaluate", "--metric", "parzen", "--pred", str(mixed), "--target", str(target)], capsys,
           str(mixed), "zz_wide.png", "9x8")
    _fails(["evaluate", "--metric", "fidelity", "--pred", str(target), "--target", str(target),
            "--weights", str(missing)], capsys, "--weights", str(missing))
    _fails(["evaluate", "--run", str(missing)], capsys, "--run", "config.json")
    assert _snapshot(workdir) == before


def test_evaluate_parzen_on_folders_json(workdir, capsys):
    pred = _write_pngs(workdir / "pred", 6, seed=1)
    target = _write_pngs(workdir / "target", 6, seed=2)
    before = _snapshot(workdir)
    assert main(["evaluate", "--metric", "parzen", "--pred", str(pred), "--target", str(target), "--json",
                 "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"parzen_ll", "parzen_se", "parzen_sigma"}
    assert np.isfinite(result["parzen_ll"]) and result["parzen_sigma"] > 0
    assert main(["evaluate", "--metric", "parzen", "--pred", str(pred), "--target", str(target)]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split()[0] == "parzen_ll"
    assert float(text.splitlines()[0].split()[1]) == pytest.approx(result["parzen_ll"], rel=1e-5)
    assert _snapshot(workdir) == before


@pytest.mark.parametrize("what", ["all", "models", "tasks", "metrics", "profiles", "config"])
def test_list(what, capsys):
    assert main(["list", what]) == 0
    out = capsys.readouterr().out
    expected = {"all": ("models:", "gan", "tasks:", "digits", "metrics:", "parzen", "profiles: smoke"),
                "models": ("gan", "pix2pix", "cyclegan"), "tasks": ("digits", "scenes"),
                "metrics": ("parzen", "fidelity"), "profiles": ("smoke, standard, paper",),
                "config": ("config at --profile smoke", "gan.steps = ", "eval.n_samples = ")}[what]
    for text in expected:
        assert text in out


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_of_each_subcommand(command, capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args([command, "--help"])
    assert info.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_rerun_without_resume_and_resume_with_other_settings(workdir, capsys, tiny_args, one_thread):
    out = workdir / "run"
    assert main(["train", "--models", "gan", "--out", str(out), "--no-progress", *tiny_args()]) == 0
    assert (out / "jobs" / "gan__digits__s0" / "model.pt").exists()
    assert not (out / "metrics.csv").read_text().strip().splitlines()[1:]  # trained, nothing evaluated yet
    before = _snapshot(out)
    _fails(["suite", "--models", "gan", "--out", str(out), "--no-progress", *tiny_args()], capsys,
           "already holds a run", "--resume")
    _fails(["suite", "--models", "gan", "--out", str(out), "--resume", "--no-progress", *tiny_args("gan.steps=21")],
           capsys, "contradict", "gan.steps: run has 20, given 21")
    assert _snapshot(out) == before
    # the trained run is then evaluated in place from its saved config.json
    assert main(["evaluate", "--run", str(out)]) == 0
    metrics = pd.read_csv(out / "metrics.csv")
    assert set(metrics["model"]) == {"real_data", "gan"}
    assert {"parzen_ll", "fid"} <= set(metrics.loc[metrics["model"] == "gan", "metric"])


def test_out_exists_but_is_not_a_run(workdir, capsys, tiny_args):
    out = workdir / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    _fails(["suite", "--models", "gan", "--out", str(out), *tiny_args()], capsys, "not a run directory")
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_ctrl_c_exits_130_with_a_hint_true_for_the_command(monkeypatch, capsys, tmp_path):
    from harness import commands

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(commands, "dispatch", interrupted)
    assert main(["list"]) == 130
    assert capsys.readouterr().err == "interrupted: run the same command again\n"
    run = tmp_path / "run"
    assert main(["suite", "--out", str(run)]) == 130  # nothing kept: the same command again
    assert capsys.readouterr().err.endswith("; run the same command again\n")
    run.mkdir()
    (run / "config.json").write_text("{}")  # a run its jobs wrote into: continue it
    assert main(["suite", "--out", str(run)]) == 130
    assert capsys.readouterr().err == (f"interrupted: finished jobs and the last checkpoints are kept; continue the "
                                       f"run with --out {run} --resume\n")


def test_a_config_that_cannot_run_on_the_task_is_refused_before_anything_is_written(tmp_path, capsys, cache):
    out = tmp_path / "run"
    code = main(["suite", "--models", "pix2pix", "--tasks", "probe_texture", "--out", str(out),
                 "--set", "pix2pix.num_downs=8", "--set", "probe.n_train=20", "--set", "probe.n_val=4",
                 "--set", "probe.n_test=4"])
    assert code == 2 and "pix2pix.num_downs" in capsys.readouterr().err
    assert not out.exists()


def test_list_config_says_which_profile_its_values_are(capsys):
    """Each profile's listing is labelled with it and shows its own values (not the paper defaults under 'smoke')."""
    listings = {}
    for profile in ("smoke", "paper"):
        assert main(["list", "config", "--profile", profile]) == 0
        listings[profile] = capsys.readouterr().out
        assert listings[profile].splitlines()[0].startswith(f"config at --profile {profile} ")
        assert f"  profile = {profile!r}" in listings[profile]
    assert "  pix2pix.steps = 500\n" in listings["smoke"] and "  checkpoint_every = 200\n" in listings["smoke"]
    assert "  pix2pix.steps = 595000\n" in listings["paper"] and "  checkpoint_every = 500\n" in listings["paper"]
    assert main(["list", "config"]) == 0 and capsys.readouterr().out == listings["smoke"]
