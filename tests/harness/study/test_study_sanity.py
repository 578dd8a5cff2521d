"""Sanity of the simulated studies end to end (signals → designs → observer → tables), and reproducibility."""

import dataclasses

import pandas as pd
import pytest

from harness.study.collect import StudyMaterial, add_condition
from harness.study.scoring import score, simulated_rows
from harness.study.simulate import simulate_responses


@pytest.fixture(scope="module")
def tables(material_factory):
    material, study = material_factory()
    return score(simulate_responses(material, study), study), material, study


def test_identical_real_and_fake_are_labelled_real_half_the_time(tables):
    amt = tables[0]["amt"].set_index("method")
    for method in ("copy", "real_data"):  # the copy, and the real-vs-real sanity row
        assert 45.0 <= amt.loc[method, "pct_real"] <= 55.0, method
        assert amt.loc[method, "ci_low"] <= 50.0 <= amt.loc[method, "ci_high"], method


def test_a_blank_fake_is_almost_never_labelled_real(tables):
    amt = tables[0]["amt"].set_index("method")
    assert amt.loc["blank", "pct_real"] <= 2.5  # only lapses (2% guesses, half of them right)
    assert amt.loc["blank", "pct_real"] < amt.loc["noisy", "pct_real"] < amt.loc["copy", "pct_real"]


def test_real_images_get_the_top_mos_and_the_blank_the_lowest(tables):
    mos = tables[0]["mos"].set_index("method")["mos"]
    assert mos["real_data"] >= mos.drop(["real_data", "copy"]).max()  # copy == real: a tie in expectation
    assert mos["real_data"] > 4.0 and mos["blank"] < mos["nearest_x4"] < mos["real_data"]


def test_best_of_prefers_the_copy_and_rejects_careless_participants(tables):
    best = tables[0]["best_of"].set_index("method")
    assert best.loc["copy", "pct_best"] > best.loc["noisy", "pct_best"] > best.loc["blank", "pct_best"]
    assert 0 < best["n_rejected"].iloc[0] < 20  # careless_fraction 0.1 of 40, plus unlucky lapses


def test_rows_are_marked_simulated_with_observer_and_seed(tables):
    result, material, study = tables
    rows = simulated_rows(result, study, material.settings, material.variants)
    assert {r.metric for r in rows} == {"A2B_amt_pct_real", "A2B_bestof_pct_best", "A2B_mos", "A2B_mos_std"}
    for row in rows:
        assert "simulated=true" in row.protocol and "study_seed=0" in row.protocol and "noise=" in row.protocol
    assert {r.protocol.split("setting=")[1].split(";")[0] for r in rows if r.model == "real_data"} == {"reference"}
    assert {r.setting for r in rows if r.model == "real_data"} == {"reference"}
    assert {r.setting for r in rows if r.model == "noisy"} == {"paired"}
    named = simulated_rows(result, study, material.settings, material.variants,
                           provenance={"noisy": {"model_train": "batch 4"}})
    assert all(("model_train=batch 4" in r.protocol) == (r.model == "noisy") for r in named)


def test_same_seed_same_tables_other_seed_other_draws(material_factory):
    material, study = material_factory(("copy", "noisy"))
    first = score(simulate_responses(material, study), study)
    again = score(simulate_responses(material, study), study)
    for name in first:
        pd.testing.assert_frame_equal(first[name], again[name])
    other = dataclasses.replace(study, seed=1)
    moved = score(simulate_responses(material, other), other)
    assert not first["amt"]["pct_real"].equals(moved["amt"]["pct_real"])


def test_a_single_method_has_no_best_of_table_and_still_a_power_analysis(material_factory):
    from harness.study.power_table import power_table

    material, study = material_factory(("noisy",))
    result = score(simulate_responses(material, study), study)
    assert "best_of" not in result and {"amt", "mos"} <= set(result)
    power = power_table(result, study)
    assert set(power["protocol"]) == {"amt", "best_of", "mos"}  # the papers' designs are always there
    pix2pix = power.set_index("comparison").loc["pix2pix L1+cGAN vs L1, photo→map"]
    assert pix2pix["n_participants"] == 50 and pix2pix["power"] == pytest.approx(0.513, abs=0.001)


def test_more_outputs_than_shown_real_images_are_cut_to_the_real_count(synthetic_parts):
    # A study whose max_images exceeds the test split (e.g. 100 GAN samples, 60 real test digits) used to crash.
    synthetic_task, textures, small = synthetic_parts
    task = synthetic_task(n_test=10)
    real = task.data("test", "B").get()
    material = StudyMaterial()
    add_condition(material, task, "A2B", "A", "B", 0, {"many": textures(30, 9)}, small, keep_images=True, signals={})
    pool = material.pools[0]
    assert len(pool.real) == len(real) == 10
    assert len(pool.methods["many"]) == 10
    assert all(key in material.z_real and key in material.images for key in pool.methods["many"])
