"""``--set cityscapes.fcn_weights=PATH``: a suite on real-format Cityscapes scored by the papers' FCN-8s."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from caffe_writer import write_fcn8s
from PIL import Image

from harness.core.cache import file_sha256
from harness.run import main

SETS = ("cityscapes.image_size=32", "pix2pix.steps=3", "pix2pix.ngf=8", "pix2pix.ndf=8", "eval.n_sample_images=2",
        "eval.judge_steps=10", "eval.kid_subset_size=2", "eval.kid_subsets=2", "study.simulate=false")

pytestmark = pytest.mark.slow


def _cityscapes(root):
    rng = np.random.default_rng(0)
    for split, city, count in (("train", "aachen", 4), ("val", "frankfurt", 3)):
        for i in range(count):
            stem = f"{city}_{i:06d}_000019"
            for kind, suffix, image in (
                    ("leftImg8bit", "_leftImg8bit.png", rng.integers(0, 256, (32, 64, 3), dtype=np.uint8)),
                    ("gtFine", "_gtFine_labelIds.png", rng.choice([0, 7, 8, 11, 21, 23, 26], (32, 64)).astype(
                        np.uint8))):
                folder = root / kind / split / city
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(folder / f"{stem}{suffix}")
    return root


def _argv(out, root, weights, *extra):
    argv = ["suite", "--models", "pix2pix", "--tasks", "cityscapes", "--out", str(out), "--no-progress",
            "--no-report", "--set", f"cityscapes.root={root}", "--set", f"cityscapes.fcn_weights={weights}", *extra]
    for item in SETS:
        argv += ["--set", item]
    return argv


def test_suite_scores_labels2photo_with_the_caffemodel(tmp_path, cache, capsys, one_thread):
    root = _cityscapes(tmp_path / "cityscapes")
    weights = tmp_path / "fcn-8s-cityscapes.caffemodel"
    write_fcn8s(weights, width=2, fc=8)
    out = tmp_path / "run"
    assert main(_argv(out, root, weights, "--save-outputs")) == 0, capsys.readouterr().err
    rows = pd.read_csv(out / "metrics.csv", keep_default_na=False)
    sha = file_sha256(weights)
    for model in ("pix2pix", "ground_truth"):
        fcn = rows[(rows["model"] == model) & rows["metric"].str.startswith("fcn_labels2photo_")]
        assert len(fcn) == 3 + 19
        for protocol in fcn["protocol"]:
            assert "judge=fcn8s-cityscapes at reduced width 2/8" in protocol
            assert f"judge_sha256={sha}" in protocol and "fast_hist=official util.py fast_hist" in protocol
            assert "comparable_to_paper=no (FCN-8s at reduced width)" in protocol
            assert "scored_at=32x64 ground-truth pixels (outputs resized to them, then segmented)" in protocol
    capsys.readouterr()
    saved = out / "outputs" / "cityscapes"
    for judge in ([], ["--judge", "fcn8s", "--weights", str(weights)]):  # the run's judge is the caffemodel
        argv = ["evaluate", "--metric", "fcn", "--pred", str(saved / "pix2pix__s0" / "labels2photo"), "--labels",
                str(saved / "_reference" / "trainIds"), "--context", str(out), "--json", "--no-progress", *judge]
        assert main(argv) == 0, capsys.readouterr().err
        got = json.loads(capsys.readouterr().out)
        job = rows[(rows["model"] == "pix2pix") & rows["metric"].str.startswith("fcn_labels2photo_")]
        assert {m: float(v) for m, v in zip(job["metric"], job["value"], strict=True)} == got


def test_bad_caffemodel_fails_before_the_run_is_written(tmp_path, cache, capsys):
    root = _cityscapes(tmp_path / "cityscapes")
    weights = tmp_path / "fcn.caffemodel"
    write_fcn8s(weights)
    weights.write_bytes(weights.read_bytes()[: len(weights.read_bytes()) // 2])
    out = tmp_path / "run"
    assert main(_argv(out, root, weights)) == 2
    err = capsys.readouterr().err
    assert "fcn.caffemodel" in err and "truncated" in err and not out.exists()
