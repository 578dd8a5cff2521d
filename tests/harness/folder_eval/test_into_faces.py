"""A folder of translated faces scored with the expression error and put --into a smoke faces run."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from harness.run import main

FACES_SETS = (
    "faces.image_size=32", "faces.celeba_identities=8", "faces.celeba_train=96", "faces.celeba_test=24",
    "faces.rafd_identities=4", "faces.rafd_variants=5", "stargan.steps=5", "stargan.batch_size=2",
    "stargan.g_conv_dim=4", "stargan.d_conv_dim=4", "stargan.g_repeat_num=1", "eval.kid_subsets=5",
    "eval.kid_subset_size=10", "eval.n_sample_images=2", "eval.face_judge_steps=5", "eval.face_judge_batch_size=8",
    "study.simulate=false",
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    out = tmp_path_factory.mktemp("runs") / "faces"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_CACHE_DIR", str(cache))
        argv = ["suite", "--models", "stargan", "--tasks", "faces", "--out", str(out), "--no-progress",
                "--save-outputs", "--no-report", "--threads", "1"]
        for item in FACES_SETS:
            argv += ["--set", item]
        assert main(argv) == 0
        yield out


def _rows(run_dir):
    return pd.read_csv(run_dir / "metrics.csv", keep_default_na=False)


def test_saved_faces_score_the_jobs_expression_error(run, capsys):
    saved = run / "outputs" / "faces" / "stargan__s0" / "rafd"
    assert main(["evaluate", "--metric", "expression_error", "--pred", str(saved), "--context", str(run), "--json",
                 "--no-progress"]) == 0, capsys.readouterr().err
    got = json.loads(capsys.readouterr().out)
    rows = _rows(run)
    job = rows[(rows["model"] == "stargan") & rows["metric"].str.startswith("expression_error")
               & ~rows["metric"].str.startswith("expression_error_floor")]  # the floor is the judge's, not the outputs'
    assert len(got) == len(job) == 8  # pooled and the seven targets
    for metric, value in zip(job["metric"], job["value"], strict=True):
        assert got[metric] == float(value), metric
    celeba = run / "outputs" / "faces" / "stargan__s0" / "celeba"
    assert main(["evaluate", "--metric", "attribute_accuracy", "--pred", str(celeba), "--context", str(run),
                 "--json", "--no-progress"]) == 0, capsys.readouterr().err
    got = json.loads(capsys.readouterr().out)
    for metric in ("hair_transfer_accuracy", "Male_transfer_accuracy", "Young_transfer_accuracy[not_Young]"):
        assert got[metric] == float(rows[(rows["model"] == "stargan") & (rows["metric"] == metric)]["value"].iloc[0])
    inputs = run / "outputs" / "faces" / "_reference" / "inputs" / "rafd"
    assert main(["evaluate", "--metric", "identity", "--pred", str(saved), "--target", str(inputs), "--dataset",
                 "rafd", "--context", str(run), "--json", "--no-progress"]) == 0, capsys.readouterr().err
    got = json.loads(capsys.readouterr().out)
    expected = float(rows[(rows["model"] == "stargan") & (rows["metric"] == "rafd_identity_distance")]["value"].iloc[0])
    assert got["rafd_identity_distance"] == pytest.approx(expected, rel=1e-9)


def test_translated_faces_join_the_report(run, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(run, run_dir)
    saved = run / "outputs" / "faces" / "stargan__s0" / "rafd"
    for seed in (0, 1):  # "mine": StarGAN's faces with seeded noise, one folder per seed
        folder = tmp_path / f"mine_s{seed}"
        rng = np.random.default_rng(seed)
        for path in saved.rglob("*.png"):
            (folder / path.parent.name).mkdir(parents=True, exist_ok=True)
            image = np.asarray(Image.open(path)).astype(np.int64)
            Image.fromarray(np.clip(image + rng.integers(-3, 4, image.shape), 0, 255).astype(np.uint8)).save(
                folder / path.parent.name / path.name)
        argv = ["evaluate", "--metric", "expression", "--pred", str(folder), "--into", str(run_dir), "--as", "mine",
                "--setting", "paired", "--seed", str(seed), "--no-progress"]
        assert main(argv) == 0, capsys.readouterr().err
    rows = _rows(run_dir)
    mine = rows[rows["model"] == "mine"]
    assert set(mine["seed"]) == {0, 1} and "expression_error" in set(mine["metric"])
    assert set(mine["higher_is_better"]) == {"False"}
    assert main(["report", "--run", str(run_dir)]) == 0
    summary = pd.read_csv(run_dir / "summary.csv").set_index("model")
    assert {"mine", "stargan"} <= set(summary.index) and "expression_error" in summary.columns
    pvu = pd.read_csv(run_dir / "paired_vs_unpaired.csv")
    pair = pvu[pvu["metric"] == "expression_error"].iloc[0]
    assert {pair["model_a"], pair["model_b"]} == {"mine", "stargan"}
    assert "mine" in (run_dir / "summary.md").read_text()
    wrong = tmp_path / "wrong"
    (wrong / "happy").mkdir(parents=True)
    Image.fromarray(np.zeros((48, 48, 3), np.uint8)).save(wrong / "happy" / "00000.png")
    before = (run_dir / "metrics.csv").read_bytes()
    argv = ["evaluate", "--metric", "expression_error", "--pred", str(wrong), "--into", str(run_dir), "--as", "mine",
            "--setting", "paired", "--seed", "2", "--no-progress"]
    assert main(argv) == 2
    assert "task 'faces' scores 32x32 RGB faces" in capsys.readouterr().err
    (wrong / "happy" / "00000.png").unlink()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(wrong / "happy" / "00000.png")
    (wrong / "grumpy").mkdir()
    Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(wrong / "grumpy" / "00000.png")
    assert main(argv) == 2
    assert "target 'grumpy': not an expression" in capsys.readouterr().err
    assert (run_dir / "metrics.csv").read_bytes() == before
