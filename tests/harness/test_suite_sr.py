"""`suite --tasks sr` end to end at tiny sizes: every SR model and baseline row, per-image rows, report; SRGAN started
from the run's finished SRResNet (paper §3.2) only when that is its own pretraining, step for step."""

import json
import logging
import math

import pandas as pd
import pytest
import torch

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

WARM_SETS = (*SR_SETS, "log_every=1")  # log_every divides the 3 pretraining steps


def _run(out, models, tiny_args, *extra, job="srgan_mse__sr__s0"):
    args = ["suite", "--tasks", "sr", "--models", models, "--out", str(out), "--no-progress", "--workers", "1"]
    assert main([*args, *tiny_args(*WARM_SETS, *extra)]) == 0
    return json.loads((out / "jobs" / job / "rows.json").read_text())


def _weights(out, job):
    state = torch.load(out / "jobs" / job / "model.pt", weights_only=True)
    return state["model"]["networks"], state["model"]["optimizers"]["G"]["state"], state["history"]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["srgan_mse", "srgan_vgg22"])
def test_srgan_from_the_finished_srresnet_gives_the_bytes_of_training_it(model, tmp_path, cache, tiny_args, one_thread,
                                                                        caplog):
    # srgan_vgg22 builds (and calibrates) its content network before G: without a fork of the RNG there, its G started
    # from another initialisation than SRResNet's, so its pretraining was not SRResNet's
    caplog.set_level(logging.INFO, logger="harness.workers")
    job = f"{model}__sr__s0"
    taken = _run(tmp_path / "both", f"srresnet,{model}", tiny_args, job=job)
    assert f"{job}: its 3 pretraining steps taken from srresnet__sr__s0" in caplog.text
    caplog.clear()
    alone = _run(tmp_path / "alone", model, tiny_args, job=job)
    assert "pretraining steps taken" not in caplog.text
    assert taken == alone  # every row, value and protocol string
    (nets_a, adam_a, history_a), (nets_b, adam_b, history_b) = _weights(tmp_path / "both", job), _weights(
        tmp_path / "alone", job)
    for net in ("G", "D"):
        assert all(torch.equal(value, nets_b[net][key]) for key, value in nets_a[net].items()), net
    assert all(torch.equal(adam_a[i]["exp_avg"], adam_b[i]["exp_avg"]) for i in adam_a)
    assert history_a == history_b


@pytest.mark.slow
def test_a_srresnet_of_other_steps_is_not_taken(tmp_path, cache, tiny_args, one_thread, caplog):
    caplog.set_level(logging.INFO, logger="harness.workers")
    _run(tmp_path / "run", "srresnet,srgan_mse", tiny_args, "srresnet.steps=4")
    assert "pretraining steps taken" not in caplog.text
