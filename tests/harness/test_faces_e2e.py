"""The faces models (StarGAN-SNG and -JNT, DIAT, DIAT-A, CycleGAN) end to end through the suite at tiny sizes.

Every row, provenance and the report grids.
"""

from __future__ import annotations

import pandas as pd
import pytest

from harness.run import main

FACES_SETS = (
    "faces.image_size=32", "faces.celeba_identities=8", "faces.celeba_train=96", "faces.celeba_test=24",
    "faces.rafd_identities=4", "faces.rafd_variants=5", "stargan.steps=5",
    "stargan.batch_size=2", "stargan.g_conv_dim=4", "stargan.d_conv_dim=4", "stargan.g_repeat_num=1",
    "diat.steps=3", "diat.denoise_steps=1", "diat.enhance_steps=1", "diat.ngf=4", "diat.ndf=8", "diat.n_blocks=1",
    "diat.enhance_blocks=1", "diat.batch_size=2", "diat.identity_net_steps=3", "diat.identity_net_batch=4",
    "task_overrides=cyclegan@faces.steps=2,cyclegan@faces.batch_size=1,cyclegan@faces.ngf=4,cyclegan@faces.ndf=4",
    "eval.kid_subsets=5",
    "eval.kid_subset_size=10", "eval.n_sample_images=2", "eval.face_judge_steps=5", "eval.face_judge_batch_size=8",
)
EVERY_MODEL = {"expression_error", "expression_error[happy]", "hair_transfer_accuracy", "Male_transfer_accuracy",
               "Young_transfer_accuracy", "HG_transfer_accuracy", "HGA_transfer_accuracy",
               "celeba_identity_verification", "rafd_identity_distance", "celeba_fid", "rafd_kid[sad]",
               "parameters", "rafd_parameters"}


@pytest.mark.slow
def test_faces_suite_end_to_end(tmp_path, cache, tiny_args, capsys, one_thread) -> None:
    out = tmp_path / "run"
    argv = ["suite", "--models", "stargan,stargan_jnt,diat,diat_a,cyclegan", "--tasks", "faces", "--out", str(out),
            "--no-progress", *tiny_args(*FACES_SETS)]
    assert main(argv) == 0, capsys.readouterr().err
    metrics = pd.read_csv(out / "metrics.csv", keep_default_na=False)
    for model in ("stargan", "stargan_jnt", "diat", "diat_a", "cyclegan"):
        assert EVERY_MODEL <= set(metrics.loc[metrics["model"] == model, "metric"]), model
    every_face = {m for m in set(metrics["model"]) if "all_faces_expression_error" in set(
        metrics.loc[metrics["model"] == m, "metric"])}
    assert every_face == {"stargan", "stargan_jnt", "cyclegan"}  # DIAT's one-way pairs cannot leave non-neutral
    reference = set(metrics.loc[metrics["model"] == "real_data", "metric"])
    assert {"expression_error", "hair_accuracy", "identity_accuracy", "celeba_identity_false_accept"} <= reference
    protocol = metrics.set_index(["model", "metric"])["protocol"]
    assert "model_identity_loss=harness identity network" in protocol[("diat", "expression_error")]
    assert "attribute discriminator" in protocol[("diat_a", "expression_error")]
    assert "model_pairs=12" in protocol[("cyclegan", "expression_error")]
    assert "model_pairs=14" in protocol[("diat", "expression_error")]
    # Table 3's rows come from the RaFD-only model; the joint one is its own variant with no paper value.
    assert "model_train=one model per dataset (StarGAN-SNG)" in protocol[("stargan", "expression_error")]
    assert "CelebA and RaFD jointly with the mask vector" in protocol[("stargan_jnt", "expression_error")]
    params = metrics[metrics["metric"] == "rafd_parameters"].set_index("model")
    assert str(params.loc["stargan", "published_value"]).startswith("53200000")
    assert params.loc["stargan_jnt", "published_value"] == ""
    assert "comparable_to_paper=no (the harness's design" in params.loc["diat", "protocol"]
    # The paper's headline (StarGAN Table 3) leads the report, the judge's floor beside it.
    assert "headline=expression_error/1" in protocol[("stargan", "expression_error")]
    assert "headline=expression_error/2" in protocol[("diat", "expression_error_floor")]
    assert "Leaderboard by **expression_error** ↓" in (out / "summary.md").read_text()
    html = (out / "report.html").read_text()
    assert "celeba_H+G+A" in html and "rafd_surprised" in html
