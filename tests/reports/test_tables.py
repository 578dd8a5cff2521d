import json
import math
import warnings

import pandas as pd
import pytest
from scipy import stats

from harness.core import atomic
from harness.core.errors import HarnessError
from reports.analysis import analyse
from reports.tables import (
    NOT_COMPARABLE,
    parse_protocol,
    published_comparability,
    published_dataset,
    published_status,
    read_metrics,
    summarize,
    summarize_long,
)

T_975_2 = 4.302652729911275  # Student t quantile, 97.5%, 2 degrees of freedom (statistical tables)


@pytest.fixture
def rows(fake_run):
    return read_metrics(fake_run / "metrics.csv")


def _hand_ci(values):
    k = len(values)
    mean = sum(values) / k
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (k - 1))
    half = T_975_2 * sd / math.sqrt(k)
    return mean, mean - half, mean + half


def test_summary_mean_and_t_ci_match_hand_computation(rows):
    summary = summarize(summarize_long(rows)).set_index(["task", "model"])
    row = summary.loc[("scenes", "pix2pix")]
    mean, low, high = _hand_ci([0.66 * 0.99, 0.66, 0.66 * 1.02])
    assert row["fcn_labels2photo_pixel_acc"] == pytest.approx(mean, rel=1e-12)
    assert row["fcn_labels2photo_pixel_acc_ci_low"] == pytest.approx(low, rel=1e-9)
    assert row["fcn_labels2photo_pixel_acc_ci_high"] == pytest.approx(high, rel=1e-9)
    assert row["fcn_labels2photo_pixel_acc_ci_low"] == pytest.approx(0.637155, abs=2e-6)  # pinned
    assert row["n_seeds"] == 3
    parzen = summary.loc[("digits", "vanilla_gan")]
    assert parzen["parzen_ll"] == pytest.approx(226.0)
    assert parzen["parzen_ll_ci_high"] - parzen["parzen_ll"] == pytest.approx(T_975_2 / math.sqrt(3))


def test_infinite_seed_values_have_no_interval_and_warn_nothing(rows):
    """HR scored against itself: PSNR = inf in every seed; the mean is inf and the CI NaN, with no numpy warning."""
    hr = rows[(rows["task"] == "scenes") & (rows["model"] == "pix2pix")].assign(model="hr", value=math.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        long = summarize_long(hr).set_index("metric")
    assert (long["mean"] == math.inf).all() and long["ci_low"].isna().all() and long["ci_high"].isna().all()


def test_single_seed_keeps_the_rows_own_interval(rows):
    one = rows[rows["seed"] == 0]
    summary = summarize(summarize_long(one)).set_index(["task", "model"])
    parzen = summary.loc[("digits", "vanilla_gan")]
    assert (parzen["parzen_ll"], parzen["parzen_ll_ci_low"], parzen["parzen_ll_ci_high"]) == (225.0, 223.0, 227.0)
    assert math.isnan(summary.loc[("scenes", "pix2pix"), "fid_ci_low"])
    assert parzen["n_seeds"] == 1


def test_per_image_metric_is_averaged_and_published_group_is_parsed(rows):
    long = summarize_long(rows).set_index(["task", "model", "metric"])
    per_image = rows[(rows["metric"] == "psnr_per_image") & (rows["model"] == "srgan")]["value"]
    assert long.loc[("sr", "srgan", "psnr_per_image"), "mean"] == pytest.approx(per_image.mean())
    summary = summarize(summarize_long(rows)).set_index(["task", "model"])
    assert summary.loc[("scenes", "pix2pix"), "fcn_labels2photo_pixel_acc_published_status"] == "verified"
    assert summary.loc[("scenes", "cyclegan"), "fcn_labels2photo_pixel_acc_published_status"] == "unconfirmed"
    assert summary.loc[("scenes", "cyclegan"), "fcn_labels2photo_pixel_acc_published"] == 0.52
    assert "fid_published" not in summary.columns  # no paper value for fid in this run
    assert list(summarize(summarize_long(rows)).columns[:7]) == [
        "task", "model", "setting", "n_seeds", "fcn_labels2photo_pixel_acc", "fcn_labels2photo_pixel_acc_ci_low",
        "fcn_labels2photo_pixel_acc_ci_high"]


def test_published_status_and_protocol_parsing():
    assert published_status("GAN Table 1 [V]") == "verified"
    assert published_status("means [S], ± [R]") == "unconfirmed"
    assert published_status("somewhere") == "unknown"
    assert parse_protocol("setting=paired; variant=a=b; flag") == {"setting": "paired", "variant": "a=b", "flag": ""}


def test_paired_vs_unpaired_picks_best_per_setting_by_direction(rows):
    pvu = analyse(rows).pvu.set_index(["task", "metric"])
    fid = pvu.loc[("scenes", "fid")]
    assert (fid["model_a"], fid["model_b"], fid["better"]) == ("pix2pix", "cyclegan", "paired")
    assert fid["gap"] == pytest.approx(60.2 - 80.0 * (0.99 + 1 + 1.02) / 3)
    seeds_a, seeds_b = [60.0 * (1 + o) for o in (-0.01, 0, 0.02)], [80.0 * (1 + o) for o in (-0.01, 0, 0.02)]
    welch = stats.ttest_ind(seeds_a, seeds_b, equal_var=False)
    assert fid["p"] == pytest.approx(welch.pvalue, rel=1e-9)
    assert (fid["gap_ci_low"], fid["gap_ci_high"]) == pytest.approx(tuple(welch.confidence_interval()), rel=1e-9)
    kid = pvu.loc[("scenes", "photo_kid")]  # 0.0104 vs 0.0106 with 1-2% seed noise: not significant
    assert kid["better"] == "tie" and kid["p"] > 0.05
    assert ("maps", "amt_fooled_rate") not in pvu.index  # simulated studies are tested in their own section
    assert ("digits", "parzen_ll") not in pvu.index  # one setting only: nothing to compare
    assert "reference" not in set(pvu["setting_a"]) | set(pvu["setting_b"])


def test_a_pair_without_a_test_says_no_test_not_tie(rows):
    one_seed = rows[(rows["model"] != "cyclegan") | (rows["seed"] == 0)]  # CycleGAN at one seed: no Welch test
    result = analyse(one_seed)
    pair = result.pairs[(result.pairs["metric"] == "fid") & (result.pairs["task"] == "scenes")].iloc[0]
    assert pair["test"] == "none: fewer than 2 seeds" and pair["better"] == "no test"
    assert result.pvu.set_index(["task", "metric"]).loc[("scenes", "fid"), "better"] == "no test"


def test_summary_carries_rank_difference_and_p_beside_each_value(rows):
    summary = summarize(analyse(rows).long).set_index(["task", "model"])
    p2p, cyc = summary.loc[("scenes", "pix2pix")], summary.loc[("scenes", "cyclegan")]
    assert (p2p["fid_rank"], p2p["fid_verdict"], p2p["fid_vs"]) == (1, "significantly best", "cyclegan")
    assert (cyc["fid_rank"], cyc["fid_verdict"], cyc["fid_vs"]) == (2, "rank 2", "pix2pix")
    assert cyc["fid_diff"] == pytest.approx(cyc["fid"] - p2p["fid"]) and cyc["fid_p"] < 0.05
    assert cyc["fid_diff_ci_low"] < cyc["fid_diff"] < cyc["fid_diff_ci_high"]
    assert p2p["fid_test"] == "Welch t-test across seeds"
    assert (p2p["photo_kid_verdict"], cyc["photo_kid_verdict"]) == ("tied best", "tied best")
    assert summary.loc[("sr", "srresnet"), "psnr_per_image_verdict"] == "significantly best"
    assert summary.loc[("sr", "srresnet"), "psnr_per_image_test"].startswith("Wilcoxon")
    assert "parzen_se_rank" not in summary.columns  # informational: never ranked
    assert "kid_rank" not in summary.columns  # one method (digits): nothing to rank
    assert pd.isna(summary.loc[("scenes", "ground_truth"), "fcn_labels2photo_pixel_acc_rank"])  # reference


def test_published_dataset_and_comparability():
    assert published_dataset("pix2pix v3 Table 1, Cityscapes labels→photo [V]") == "Cityscapes labels→photo"
    assert published_dataset("Goodfellow et al. 2014 Table 1, MNIST (± 2 SE) [V]") == "MNIST (± 2 SE)"
    assert published_comparability("judge=x; comparable_to_paper=no (retrained judge, embedded task)") == NOT_COMPARABLE
    assert published_comparability("variant=mlp") == NOT_COMPARABLE  # not said: not comparable
    assert published_comparability("comparable_to_paper=no (retrained judge)") == "not comparable: retrained judge"
    assert published_comparability("comparable_to_paper=yes (official weights)") == "comparable"


def test_new_setting_is_compared_without_code_change(rows):
    extra = rows[(rows["task"] == "scenes") & (rows["model"] == "pix2pix")].copy()
    extra["model"], extra["setting"] = "new_model", "semi_paired"
    extra["value"] = extra["value"] * 0.5
    pvu = analyse(pd.concat([rows, extra], ignore_index=True)).pvu
    fid = pvu[(pvu["task"] == "scenes") & (pvu["metric"] == "fid")]
    assert [(r.setting_a, r.setting_b) for r in fid.itertuples()] == [
        ("paired", "unpaired"), ("paired", "semi_paired"), ("unpaired", "semi_paired")]
    assert fid.iloc[1]["better"] == "semi_paired"


@pytest.mark.parametrize("mutate, match", [
    (lambda f: f.drop(columns=["protocol"]), "missing columns"),
    (lambda f: f.assign(seed="x"), "column 'seed'"),
    (lambda f: f.assign(value="abc"), "column 'value'"),
    (lambda f: f.assign(higher_is_better="maybe"), "higher_is_better"),
])
def test_malformed_metrics_name_the_file(fake_run, mutate, match):
    path = fake_run / "metrics.csv"
    mutate(pd.read_csv(path, dtype=str, keep_default_na=False)).to_csv(path, index=False)
    with pytest.raises(HarnessError, match=match) as info:
        read_metrics(path)
    assert "metrics.csv" in str(info.value)


def test_missing_files_are_harness_errors(tmp_path):
    with pytest.raises(HarnessError, match="not found"):
        read_metrics(tmp_path / "metrics.csv")
    (tmp_path / "x.json").write_text(json.dumps([1]))
    with pytest.raises(HarnessError, match="x.json"):
        atomic.read_json(tmp_path / "x.json")
