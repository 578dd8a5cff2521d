"""The example plugin (examples/pix2pix_lsgan.py): its networks are pix2pix's, its loss is least squares, and it runs
through the harness at the smoke profile as a lab would run it."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
import torch

from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task
from harness.models import MODELS
from harness.run import main
from reference_models.base import count_parameters
from reference_models.pix2pix import Pix2Pix, Pix2PixConfig

CPU = torch.device("cpu")
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def example(example_plugin):
    """The example's module (loaded as the harness loads a plugin file)."""
    import sys

    return sys.modules[MODELS.get("pix2pix_lsgan").model_class.__module__]


def make_task(size: int = 32, n: int = 4) -> Task:
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8)
    split = {"labels": DomainData(a), "photo": DomainData(255 - a)}
    return Task(name="fake", domains=("labels", "photo"), paired=True, label_kinds=(), image_size=size,
                splits={"train": split, "test": split})


def test_its_networks_are_pix2pix_s_at_paper_width(example):
    with torch.device("meta"):
        mine = example.Pix2PixLSGAN(example.Pix2PixLSGANConfig(), {"A": 3, "B": 3}, torch.device("meta"))
        theirs = Pix2Pix(Pix2PixConfig(), 3, 3, torch.device("meta"))
    assert {k: count_parameters(v) for k, v in mine.networks().items()} == {
        k: count_parameters(v) for k, v in theirs.networks().items()}


def test_the_losses_are_least_squares_and_l1(example):
    config = example.Pix2PixLSGANConfig(ngf=8, ndf=8, num_downs=5, steps=4, directions=("AtoB",), dropout=False)
    task = make_task()
    torch.manual_seed(0)
    model = example.build(config, task, CPU)
    batch = example.batch(task, config, torch.Generator().manual_seed(1))
    source, target = batch["A"] * 2 - 1, batch["B"] * 2 - 1
    g, d = model.nets["G_AtoB"], model.nets["D_AtoB"]
    with torch.no_grad():  # the same networks before the step, the losses written out by hand
        fake = g(source)
        d_real = 0.5 * ((d(torch.cat([source, target], 1)) - 1) ** 2).mean()
        d_fake = 0.5 * (d(torch.cat([source, fake], 1)) ** 2).mean()
        g_l1 = 100.0 * (fake - target).abs().mean()
    losses = model.train_step(batch)
    assert set(losses) == {"AtoB/D_real", "AtoB/D_fake", "AtoB/G_GAN", "AtoB/G_L1"}
    assert all(isinstance(v, float) for v in losses.values())
    assert losses["AtoB/D_real"] == pytest.approx(float(d_real), rel=1e-5)
    assert losses["AtoB/D_fake"] == pytest.approx(float(d_fake), rel=1e-5)
    assert losses["AtoB/G_L1"] == pytest.approx(float(g_l1), rel=1e-5)


def test_translate_state_dict_and_config_checks(example):
    config = example.Pix2PixLSGANConfig(ngf=8, ndf=8, num_downs=5, steps=4, decay_steps=2)
    task = make_task()
    torch.manual_seed(0)
    model = example.build(config, task, CPU)
    for step in range(2):
        losses = model.train_step(example.batch(task, config, torch.Generator().manual_seed(step)))
        assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())
    images = task.data("test", "labels").get(torch.arange(3))
    torch.manual_seed(5)
    out = model.translate(images, direction="AtoB")
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 1
    other = example.build(config, task, CPU)
    other.load_state_dict(model.state_dict())
    torch.manual_seed(5)
    assert torch.equal(other.translate(images, direction="AtoB"), out)
    assert model.provenance()["model_loss"].startswith("least squares")
    with pytest.raises(HarnessError, match="num_downs=5 needs the image size \\(40\\)"):
        example.validate_config(config, 40)
    with pytest.raises(HarnessError, match="batch_size=2 with norm=batch"):
        example.validate_config(dataclasses.replace(config, batch_size=2), 32)


@pytest.mark.slow
def test_the_example_runs_through_the_harness_at_smoke(example_path, tmp_path, monkeypatch, capsys, no_plugins):
    """CI's run of the example: the smoke profile as it is (500 steps at 32 px, the committed scenes judge)."""
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    out = tmp_path / "run"
    assert main(["suite", "--plugin", str(example_path), "--models", "pix2pix_lsgan", "--tasks", "scenes", "--out",
                 str(out), "--no-progress", "--set", "study.simulate=false"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["pix2pix_lsgan"]["steps"] == config["pix2pix"]["steps"] == 500
    metrics = pd.read_csv(out / "metrics.csv", keep_default_na=False)
    mine = metrics[metrics["model"] == "pix2pix_lsgan"].set_index("metric")
    assert mine["protocol"].str.contains("judge_source=pinned").all()  # scored by the committed judge
    assert 0 < float(mine.at["fcn_labels2photo_pixel_acc", "value"]) <= 1
    losses = pd.read_csv(out / "jobs" / "pix2pix_lsgan__scenes__s0" / "losses.csv")
    assert losses["step"].iloc[-1] == 500 and losses.drop(columns="step").notna().all().all()
