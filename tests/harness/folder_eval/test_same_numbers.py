"""One protocol, one number: outputs a suite saves (``--save-outputs``), scored through ``evaluate``, give the job's
rows — DTN's classifier accuracy and PSNR/SSIM here (FCN-score: ``test_into_scenes.py``; expression error:
``test_into_faces.py``)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from harness.run import main

TINY_DTN = ("dtn.steps=3", "dtn.ngf=4", "dtn.ndf=4", "dtn.batch_size=8", "eval.source_judge_width=4",
            "eval.n_sample_images=4", "eval.n_samples=100", "study.simulate=false")
SR_SETS = ("sr.image_size=16", "sr.tile=32", "sr.test_size=48", "srresnet.n_blocks=1", "srresnet.width=8",
           "srresnet.batch_size=2", "srresnet.steps=3", "eval.n_sample_images=2", "study.simulate=false")

pytestmark = pytest.mark.slow


def _suite(out, models, tasks, sets, tiny_args):
    argv = ["suite", "--models", models, "--tasks", tasks, "--out", str(out), "--no-progress", "--no-report",
            "--save-outputs", *tiny_args(*sets)]
    assert main(argv) == 0


def _value(out, model, metric):
    rows = pd.read_csv(out / "metrics.csv", keep_default_na=False)
    return float(rows[(rows["model"] == model) & (rows["metric"] == metric)]["value"].iloc[0])


def test_dtn_accuracy_of_saved_translations(tmp_path, cache, tiny_args, capsys, one_thread):
    out = tmp_path / "run"
    _suite(out, "dtn_no_const", "digits", TINY_DTN, tiny_args)
    capsys.readouterr()
    saved = out / "outputs" / "digits"
    argv = ["evaluate", "--metric", "accuracy", "--pred", str(saved / "dtn_no_const__s0" / "AtoB"), "--targets",
            str(saved / "_reference" / "AtoB_labels.csv"), "--judge", "digits", "--context", str(out), "--json",
            "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    got = json.loads(capsys.readouterr().out)
    assert got == {"test_mnist_accuracy": _value(out, "dtn_no_const", "test_mnist_accuracy")}


@pytest.mark.parametrize("y_channel", [True, False])
def test_psnr_ssim_of_saved_super_resolutions(tmp_path, cache, tiny_args, capsys, one_thread, y_channel):
    out = tmp_path / "run"
    _suite(out, "srresnet", "sr", SR_SETS, tiny_args)
    capsys.readouterr()
    saved = out / "outputs" / "sr"
    argv = ["evaluate", "--metric", "ssim", "--pred", str(saved / "srresnet__s0" / "LR_to_HR"), "--target",
            str(saved / "_reference" / "HR"), "--scale", "4", "--json", "--no-progress",
            *(["--y-channel"] if y_channel else [])]
    assert main(argv) == 0, capsys.readouterr().err
    got = json.loads(capsys.readouterr().out)
    prefix = "y" if y_channel else "rgb"
    # the same per-image values, averaged in file-name order here and in the task's order there: equal to the ulp
    assert got["psnr"] == pytest.approx(_value(out, "srresnet", f"{prefix}_psnr"), rel=1e-13, abs=0)
    assert got["ssim"] == pytest.approx(_value(out, "srresnet", f"{prefix}_ssim"), rel=1e-13, abs=0)
