"""The faces protocol refuses, before anything is written, a task it cannot score; a valid small folder then runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from harness.run import main

pytestmark = pytest.mark.usefixtures("one_thread")
EXPRESSIONS = ("angry", "contemptuous", "disgusted", "fearful", "happy", "neutral", "sad", "surprised")
TINY = ("faces_real.image_size=32", "faces_real.rafd_crop=64", "stargan.steps=2", "stargan.batch_size=2",
        "stargan.g_conv_dim=4", "stargan.d_conv_dim=4", "stargan.g_repeat_num=1", "eval.face_judge_steps=2",
        "eval.face_judge_batch_size=8", "eval.kid_subsets=2", "eval.kid_subset_size=2", "eval.n_sample_images=2",
        "study.simulate=false")


def _rafd(root: Path, people: int, expressions=EXPRESSIONS, angles=("090",)) -> Path:
    """RaFD-named 64x64 images: every expression of every person, at each camera angle, three gazes."""
    root.mkdir(parents=True)
    for person in range(1, people + 1):
        for e, expression in enumerate(expressions):
            for angle in angles:
                for gaze in ("frontal", "left", "right"):
                    pixels = np.random.default_rng(person * 100 + e).integers(0, 256, (64, 64, 3), dtype=np.uint8)
                    Image.fromarray(pixels).save(
                        root / f"Rafd{angle}_{person:02d}_Caucasian_female_{expression}_{gaze}.jpg")
    return root


def _suite(out: Path, rafd: Path, *extra: str) -> list[str]:
    sets = [a for item in (*TINY, f"faces_real.rafd_root={rafd}", *extra) for a in ("--set", item)]
    return ["--log-level", "ERROR", "suite", "--no-progress", "--no-report", "--models", "stargan", "--tasks", "rafd",
            "--out", str(out), *sets]


@pytest.mark.parametrize("people, expressions, message", [
    (2, tuple(e for e in EXPRESSIONS if e != "neutral"), "no 'neutral' faces in its rafd images"),
    (2, EXPRESSIONS, "1 rafd test face(s) to translate into 'angry' (its neutral test faces); the faces protocol "
                     "needs at least 2 per target"),
    (1, EXPRESSIONS, "the rafd train split holds 32 face(s) of 1 person(s)"),
])
def test_a_rafd_folder_the_protocol_cannot_score_is_refused_before_anything_is_written(tmp_path, cache, capsys,
                                                                                      people, expressions, message):
    out = tmp_path / "run"
    angles = ("045", "090") if people == 1 else ("090",)  # one person: 6 faces per expression, 2 of them test
    code = main(_suite(out, _rafd(tmp_path / "rafd", people, expressions, angles), "faces_real.rafd_test_fraction=0.34"
                       if people == 1 else "faces_real.rafd_test_fraction=0.1"))
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err
    assert not out.exists()


def test_the_advice_followed_runs(tmp_path, cache, capsys):
    """The refused folder (one neutral test face) runs with the larger test split the message names."""
    rafd, out = _rafd(tmp_path / "rafd", 2), tmp_path / "run"
    assert main(_suite(out, rafd)) == 2
    assert "faces_real.rafd_test_fraction" in capsys.readouterr().err
    assert main(_suite(out, rafd, "faces_real.rafd_test_fraction=0.35")) == 0, capsys.readouterr().err
    metrics = pd.read_csv(out / "metrics.csv")
    stargan = set(metrics.loc[metrics["model"] == "stargan", "metric"])
    assert {"expression_error", "rafd_fid", "rafd_identity_verification"} <= stargan
