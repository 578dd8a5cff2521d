"""`suite --tasks sr` end to end at tiny sizes: every SR model and baseline row, per-image rows, report."""

import math

import pandas as pd
import pytest

from harness.run import main

SR_SETS = (
    "sr.image_size=16", "sr.tile=32", "sr.test_size=48", "srresnet.n_blocks=1", "srresnet.width=8",
    "srresnet.batch_size=2", "srresnet.steps=3", "srgan.n_blocks=1", "srgan.width=8", "srgan.d_width=4",
    "srgan.d_dense=8", "srgan.batch_size=2", "srgan.pretrain_steps=3", "srgan.steps=5", "srgan.judge_steps=3",
    "eval.n_sample_images=2", "study.simulate=false",  # the simulated study has its own tests
)
MODELS = ("srresnet", "srgan", "srgan_mse", "srgan_vgg22")


@pytest.mark.slow
def test_sr_suite_end_to_end(tmp_path, cache, tiny_args, one_thread):
    out = tmp_path / "run"
    assert main(["suite", "--tasks", "sr", "--out", str(out), "--no-progress", *tiny_args(*SR_SETS)]) == 0
    metrics = pd.read_csv(out / "metrics.csv")
    assert set(metrics["model"]) == {*MODELS, "nearest", "bicubic", "hr"} and set(metrics["task"]) == {"sr"}
    for model in (*MODELS, "nearest", "bicubic", "hr"):
        keys = set(metrics.loc[metrics["model"] == model, "metric"])
        assert {"y_psnr", "y_ssim", "rgb_psnr", "rgb_ssim", "hf_ratio", "fid", "kid", "y_psnr_per_image"} <= keys
    hr = metrics[(metrics["model"] == "hr") & (metrics["metric"] == "y_psnr")]["value"]
    assert math.isinf(float(hr.iloc[0]))
    fid = metrics[(metrics["model"] == "srgan") & (metrics["metric"] == "fid")]["protocol"].iloc[0]
    assert "small_sample_warning=" in fid and "KID from the tiles of only 4 photos" in fid
    srgan = metrics[(metrics["model"] == "srgan") & (metrics["metric"] == "y_psnr")]["protocol"].iloc[0]
    assert "model_content=harness SR feature network" in srgan and "model_train=3 pixel-MSE steps" in srgan
    assert (out / "report.html").stat().st_size > 0


def test_dry_build_on_meta_trains_no_content_network(monkeypatch, cache):
    # The suite builds every model on the meta device before the run; SRGAN's content network is not trained there.
    import torch

    from harness.models import MODELS, build_sr_model
    from harness.run_config import model_config, resolve_config
    from harness.tasks import build_task
    from metrics.judges import resolve

    monkeypatch.setattr(resolve, "train_judge", lambda *a, **k: pytest.fail("the dry build trained a judge"))
    config = resolve_config("smoke", {})
    model = build_sr_model(model_config(config, "srgan", "sr"), build_task("sr", config), torch.device("meta"))
    assert MODELS.get("srgan").build is build_sr_model
    assert "dry build" in model.provenance()["model_content"]
