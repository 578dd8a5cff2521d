"""The suite end to end on the smoke profile at tiny sizes: files, rows, provenance, and CPU determinism."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from harness.core.results import COLUMNS
from harness.run import main
from metrics.registry import higher_is_better

TRANSLATION_SETS = (
    "scenes.n_train=24", "scenes.n_val=8", "scenes.n_test=12", "probe.n_train=24", "probe.n_val=8",
    "probe.n_test=12", "pix2pix.steps=4", "pix2pix.ngf=8", "pix2pix.ndf=8", "pix2pix.batch_size=1",
    "cyclegan.steps=4", "cyclegan.decay_steps=2", "cyclegan.ngf=8", "cyclegan.ndf=8", "cyclegan.n_blocks=1",
    "cyclegan.batch_size=2", "eval.n_sample_images=4",
)
GAN_METRICS = {"parzen_ll", "fid", "kid", "precision", "recall", "modes_covered"}


@pytest.mark.slow
def test_suite_end_to_end(tmp_path, cache, tiny_args, capsys, one_thread):
    out = tmp_path / "run"
    argv = ["suite", "--models", "gan,pix2pix,cyclegan", "--tasks", "digits,scenes,probe_texture", "--out", str(out),
            "--no-progress", *tiny_args(*TRANSLATION_SETS)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"metrics: {out / 'metrics.csv'}" in printed and "report:" in printed

    metrics = pd.read_csv(out / "metrics.csv", keep_default_na=False)
    assert tuple(metrics.columns) == COLUMNS
    assert metrics["protocol"].str.len().gt(0).all()
    assert pd.to_numeric(metrics["value"]).notna().all()
    gan = metrics[metrics["model"] == "gan"]
    assert GAN_METRICS <= set(gan["metric"]) and set(gan["task"]) == {"digits"}
    assert set(metrics.loc[metrics["model"] == "real_data", "metric"]) >= GAN_METRICS | {"judge_accuracy"}
    for model in ("pix2pix", "cyclegan", "ground_truth"):
        scenes = metrics[(metrics["model"] == model) & (metrics["task"] == "scenes")]
        assert "fcn_labels2photo_pixel_acc" in set(scenes["metric"]), model
        assert {"fcn_labels2photo_class_acc", "fcn_labels2photo_class_iou"} <= set(scenes["metric"]), model
    for model in ("pix2pix", "cyclegan"):
        scenes = set(metrics.loc[(metrics["model"] == model) & (metrics["task"] == "scenes"), "metric"])
        assert {"fcn_photo2labels_pixel_acc", "fcn_photo2labels_class_iou"} <= scenes, model
        probe = set(metrics.loc[(metrics["model"] == model) & (metrics["task"] == "probe_texture"), "metric"])
        assert {"AtoB_l1", "BtoA_l1", "AtoB_shape_iou"} <= probe, model
    assert gan["protocol"].str.contains("gan_update=simultaneous D and G SGD step").all()  # the update rule is named
    direction = metrics.set_index(["model", "metric"]).loc[("gan", "fid"), "higher_is_better"]
    assert str(direction) == "False"
    for row in metrics.itertuples():  # the metric registry is the one source of every row's direction
        assert str(row.higher_is_better) == str(higher_is_better(row.metric) if higher_is_better(row.metric) is not None
                                                else ""), row.metric
    for model in ("pix2pix", "cyclegan"):  # every model row names how the model was trained (its provenance())
        assert metrics.loc[metrics["model"] == model, "protocol"].str.contains("model_train=batch ").all(), model
    assert not metrics.loc[metrics["setting"] == "reference", "protocol"].str.contains("model_train=").any()
    settings = metrics.groupby("model")["setting"].first().to_dict()
    assert settings["gan"] == "unconditional" and settings["pix2pix"] == "paired"
    assert settings["cyclegan"] == "unpaired" and settings["real_data"] == settings["ground_truth"] == "reference"

    config = json.loads((out / "config.json").read_text())
    assert config["profile"] == "smoke" and config["gan"]["steps"] == 20 and config["models"] == ["gan", "pix2pix",
                                                                                                  "cyclegan"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seeds"] == [0] and manifest["git_commit"] and "finished" in manifest
    assert {"torch", "numpy", "torch-fidelity"} <= set(manifest["packages"])
    assert "cpu_count" in manifest["hardware"]
    expected_jobs = {"real_data__digits__s0", "ground_truth__scenes__s0", "gan__digits__s0", "pix2pix__scenes__s0",
                     "pix2pix__probe_texture__s0", "cyclegan__scenes__s0", "cyclegan__probe_texture__s0"}
    assert expected_jobs <= set(manifest["jobs"])
    for record in manifest["jobs"].values():
        assert record["status"] == "done" and record["seed"] == 0
        assert record["wall_time_s"] > 0 and record["cpu_time_s"] > 0

    for name in ("report.html", "summary.csv"):
        assert (out / name).stat().st_size > 0
    assert list((out / "plots").glob("*.png"))
    assert (out / "samples" / "digits" / "samples" / "gan__s0.png").exists()
    for direction in ("labels2photo", "photo2labels"):
        strips = {p.name for p in (out / "samples" / "scenes" / direction).glob("*.png")}
        assert {"pix2pix__s0.png", "cyclegan__s0.png"} <= strips, direction
    assert (out / "jobs" / "gan__digits__s0" / "losses.csv").exists()
    html = (out / "report.html").read_text()
    assert "pix2pix" in html and "cyclegan" in html and "parzen" in html

    # The simulated human studies are part of the default suite, marked simulated, in their own report section.
    study = metrics[metrics["protocol"].str.contains("simulated=true", regex=False)]
    assert {"handwritten_amt_pct_real", "labels2photo_amt_pct_real", "labels2photo_bestof_pct_best",
            "labels2photo_mos"} <= set(study["metric"])
    assert set(study["model"]) >= {"gan", "pix2pix", "cyclegan", "real_data", "nearest_x4"}
    assert len(study) < len(metrics) and "study__simulated" in manifest["jobs"]
    for name in ("amt.csv", "amt_tests.csv", "best_of.csv", "mos.csv", "mos_tests.csv", "power.csv", "study.json"):
        assert (out / "study" / name).stat().st_size > 0, name
    assert "Human-study tables" in html and "labels2photo_amt_pct_real" in html


@pytest.mark.slow
def test_same_run_twice_gives_identical_metrics(tmp_path, cache, tiny_args, one_thread):
    frames = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert main(["suite", "--models", "gan", "--out", str(out), "--no-progress", "--no-report", *tiny_args()]) == 0
        frames.append(pd.read_csv(out / "metrics.csv"))
    assert len(frames[0]) > 0
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=True)
