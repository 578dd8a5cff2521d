"""Resuming: an interrupted training job ends bit-identical to an uninterrupted one; the suite skips done jobs."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
import torch

from harness import train as train_module
from harness.core.task import DomainData, Task
from harness.models import GAN as GAN_SPEC
from harness.run import main
from reference_models.gan import GANConfig, VanillaGAN

CONFIG = GANConfig(g_hidden=16, d_units=8, d_pieces=3, batch_size=8, steps=12)
CHECKPOINT_EVERY, LOG_EVERY = 4, 2


def _task():
    images = torch.randint(0, 256, (20, 1, 28, 28), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    split = {"handwritten": DomainData(images, {"class": torch.arange(20) % 10})}
    return Task("digits", ("handwritten",), False, ("class",), 28, {"train": split, "val": split, "test": split})


def _model(task, init_seed=0):
    torch.manual_seed(init_seed)
    return GAN_SPEC.build(CONFIG, task, torch.device("cpu"))


def _train(task, model, job_dir):
    job_dir.mkdir(exist_ok=True)  # as RunDir.job_dir does
    return train_module.train_job(GAN_SPEC, CONFIG, task, model, job_dir, seed=3, checkpoint_every=CHECKPOINT_EVERY,
                                  log_every=LOG_EVERY, progress=False)


def interrupt(at: int):
    """A ``VanillaGAN.train_step`` replacement raising KeyboardInterrupt when the model is about to do step ``at``."""
    original = VanillaGAN.train_step

    def train_step(model, batch):
        if model.step == at:
            raise KeyboardInterrupt
        return original(model, batch)

    return train_step


def _assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            _assert_same_state(a[key], b[key])
        elif isinstance(a[key], torch.Tensor):
            assert torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key


@pytest.mark.parametrize("interrupt_at", [6, 2, 8])  # after a checkpoint, before the first one, at one
def test_interrupted_job_resumes_bit_identical(tmp_path, monkeypatch, interrupt_at):
    task = _task()
    reference_dir, job_dir = tmp_path / "reference", tmp_path / "job"
    outcome = _train(task, _model(task), reference_dir)
    assert (outcome.steps, outcome.resumed_from) == (12, 0)
    reference = torch.load(reference_dir / "model.pt", weights_only=True)

    with monkeypatch.context() as patch:
        patch.setattr(VanillaGAN, "train_step", interrupt(interrupt_at))
        with pytest.raises(KeyboardInterrupt):
            _train(task, _model(task), job_dir)
    assert not (job_dir / "model.pt").exists()
    last_checkpoint = (interrupt_at // CHECKPOINT_EVERY) * CHECKPOINT_EVERY
    assert (job_dir / "checkpoint.pt").exists() == (last_checkpoint > 0)
    assert not [p for p in job_dir.iterdir() if p.name.endswith(".tmp")]

    # a new instance; with a checkpoint its initial weights do not matter, without one it is built as the suite
    # builds it (seeded by the job seed) and trains from scratch
    resumed = _train(task, _model(task, init_seed=99 if last_checkpoint else 0), job_dir)
    assert resumed.resumed_from == last_checkpoint
    state = torch.load(job_dir / "model.pt", weights_only=True)
    assert state["step"] == 12
    _assert_same_state(reference["model"], state["model"])
    assert state["history"] == reference["history"]
    assert not (job_dir / "checkpoint.pt").exists()
    losses = pd.read_csv(job_dir / "losses.csv")
    assert list(losses["step"]) == list(range(LOG_EVERY, 13, LOG_EVERY))
    assert list(losses.columns) == ["step", "D", "G", "D(x)", "D(G(z))"]
    pd.testing.assert_frame_equal(losses, pd.read_csv(reference_dir / "losses.csv"))


def test_finished_job_is_not_retrained(tmp_path, monkeypatch):
    task = _task()
    _train(task, _model(task), tmp_path)
    before = (tmp_path / "model.pt").stat().st_mtime_ns
    monkeypatch.setattr(VanillaGAN, "train_step", interrupt(0))  # any training step would raise
    model = _model(task, init_seed=5)
    outcome = _train(task, model, tmp_path)
    assert outcome.resumed_from == 12
    assert (tmp_path / "model.pt").stat().st_mtime_ns == before
    assert model.step == 12


def test_checkpoints_load_with_weights_only(tmp_path, monkeypatch):
    task = _task()
    monkeypatch.setattr(VanillaGAN, "train_step", interrupt(5))
    with pytest.raises(KeyboardInterrupt):
        _train(task, _model(task), tmp_path)
    checkpoint = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert checkpoint["step"] == 4 and isinstance(checkpoint["batch_rng"], torch.Tensor)
    assert [row["step"] for row in checkpoint["history"]] == [2, 4]
    monkeypatch.undo()
    _train(task, _model(task), tmp_path)
    final = torch.load(tmp_path / "model.pt", weights_only=True)
    model = _model(task, init_seed=1)
    train_module.load_trained(model, tmp_path)
    assert model.step == 12 and torch.equal(model.generator.net[0].weight, final["model"]["G"]["net.0.weight"])


def _suite(out, tiny_args, *extra):
    # The simulated human study (its own pseudo-job, rerun at the end of every suite) is tested in tests/harness/study.
    return main(["suite", "--models", "gan", "--out", str(out), "--no-progress", "--no-report",
                 *tiny_args("study.simulate=false"), *extra])  # extra last: its --set wins


def test_suite_resume_after_kill(tmp_path, monkeypatch, cache, tiny_args, one_thread):
    out, fresh = tmp_path / "run", tmp_path / "fresh"
    with monkeypatch.context() as patch:  # killed during the GAN job, after its checkpoint at step 8
        patch.setattr(VanillaGAN, "train_step", interrupt(10))
        assert _suite(out, tiny_args) == 130  # main() turns Ctrl-C into exit 130 with a resume hint
    reference_rows = out / "jobs" / "real_data__digits__s0" / "rows.json"
    gan_dir = out / "jobs" / "gan__digits__s0"
    assert reference_rows.exists() and (gan_dir / "checkpoint.pt").exists()
    assert not (gan_dir / "rows.json").exists() and not (gan_dir / "model.pt").exists()
    assert set(pd.read_csv(out / "metrics.csv")["model"]) == {"real_data"}
    mtime = reference_rows.stat().st_mtime_ns

    # checkpoints more often from here on (a runtime choice: config.json keeps the run's 8, the numbers do not move)
    assert _suite(out, tiny_args, "--resume", "--set", "checkpoint_every=3") == 0
    assert json.loads((out / "config.json").read_text())["checkpoint_every"] == 8
    assert reference_rows.stat().st_mtime_ns == mtime
    assert (gan_dir / "rows.json").exists() and (gan_dir / "model.pt").exists()
    assert not (gan_dir / "checkpoint.pt").exists()
    metrics = pd.read_csv(out / "metrics.csv")
    assert set(metrics["model"]) == {"real_data", "gan"}
    assert len(metrics) == 10 + 9  # real data: 9 generation rows + judge accuracy; GAN: 9 generation rows

    # the resumed run's numbers equal an uninterrupted run's
    assert _suite(fresh, tiny_args) == 0
    pd.testing.assert_frame_equal(metrics, pd.read_csv(fresh / "metrics.csv"), check_exact=True)

    # deleting a finished job's outputs makes --resume redo exactly that job
    (gan_dir / "rows.json").unlink()
    (gan_dir / "model.pt").unlink()
    assert _suite(out, tiny_args, "--resume") == 0
    assert reference_rows.stat().st_mtime_ns == mtime
    pd.testing.assert_frame_equal(pd.read_csv(out / "metrics.csv"), metrics)
    manifest = json.loads((out / "manifest.json").read_text())
    assert set(manifest["jobs"]) == {"real_data__digits__s0", "gan__digits__s0"}
    assert "finished" in manifest


def test_suite_resume_adds_seeds(tmp_path, cache, tiny_args, one_thread):
    out, fresh = tmp_path / "run", tmp_path / "fresh"
    assert _suite(out, tiny_args) == 0
    gan_rows = out / "jobs" / "gan__digits__s0" / "rows.json"
    mtime = gan_rows.stat().st_mtime_ns
    assert _suite(out, tiny_args, "--resume", "--seeds", "0,1") == 0  # seed 1's jobs trained, seed 0's kept
    assert gan_rows.stat().st_mtime_ns == mtime
    assert json.loads((out / "config.json").read_text())["seeds"] == [0, 1]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seeds"] == [0, 1] and {"gan__digits__s1", "real_data__digits__s1"} <= set(manifest["jobs"])
    assert _suite(fresh, tiny_args, "--seeds", "0,1") == 0  # the same rows as a run that had both seeds from the start
    pd.testing.assert_frame_equal(pd.read_csv(out / "metrics.csv"), pd.read_csv(fresh / "metrics.csv"),
                                  check_exact=True)
    assert _suite(out, tiny_args, "--resume", "--seeds", "1") == 2  # dropping seed 0 is refused, nothing changes
    assert json.loads((out / "config.json").read_text())["seeds"] == [0, 1]


def test_job_ids_are_unique_per_seed():
    from harness.run_config import resolve_config
    from harness.suite import plan

    jobs = plan(resolve_config("smoke", {"models": "gan", "seeds": "0,1"}))
    assert [j.job_id for j in jobs] == ["real_data__digits__s0", "real_data__digits__s1", "gan__digits__s0",
                                        "gan__digits__s1"]
    assert [j.reference for j in jobs] == [True, True, False, False]
    assert dataclasses.asdict(jobs[2])["protocol"] == "generation"
