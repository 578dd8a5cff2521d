"""What a lab does with its own model: train the example plugin beside pix2pix and CycleGAN, read the report, and
put it under the regression gate (issue 20, "Done when").

Smoke profile on tiny scenes, 2 seeds, 4 steps for every method (the same budget: the plugin follows pix2pix's).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from harness.run import main

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_plugins")]
PLUGIN = "pix2pix_lsgan"


def _suite(example_path, out, scene_args, *extra: str) -> list[str]:
    return ["suite", "--plugin", str(example_path), "--models", f"{PLUGIN},pix2pix,cyclegan", "--tasks", "scenes",
            "--seeds", "0,1", "--out", str(out), "--no-progress", *extra, *scene_args()]


def test_a_plugin_beside_the_references_in_report_rankings_and_gate(example_path, tmp_path, cache, scene_args,
                                                                    capsys, one_thread):
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(_suite(example_path, first, scene_args, "--workers", "2")) == 0  # spawned workers load the plugin
    capsys.readouterr()

    metrics = pd.read_csv(first / "metrics.csv", keep_default_na=False)
    mine = metrics[metrics["model"] == PLUGIN]
    assert set(mine["seed"]) == {0, 1} and set(mine["setting"]) == {"paired"}
    assert mine["protocol"].str.contains("model_loss=least squares").all()
    assert (mine["protocol"].str.contains("model_train=batch 1")).all()
    assert {"fcn_labels2photo_pixel_acc", "fcn_photo2labels_class_iou", "photo_fid"} <= set(mine["metric"])

    summary = (first / "summary.md").read_text()
    board = summary.split("Leaderboard by")[1].split("Every metric")[0]
    assert f"| {PLUGIN} | paired | 2 |" in board  # the leaderboard
    wide = pd.read_csv(first / "summary.csv")
    row = wide[(wide["task"] == "scenes") & (wide["model"] == PLUGIN)].iloc[0]
    assert row["fcn_labels2photo_pixel_acc_rank"] >= 1 and row["fcn_labels2photo_pixel_acc_test"].startswith("Welch")
    pairs = pd.read_csv(first / "comparisons.csv")
    tested = pairs[(pairs["model_a"] == PLUGIN) | (pairs["model_b"] == PLUGIN)]
    assert {"pix2pix", "cyclegan"} <= set(tested["model_a"]) | set(tested["model_b"])
    html = (first / "report.html").read_text()
    assert f"<b>{PLUGIN}</b> (paired)" in html.split('<ol class="ranking">', 1)[1]  # the rankings

    long = wide.set_index("model")  # the paired side of paired vs unpaired is the better of pix2pix and the plugin
    pvu = pd.read_csv(first / "paired_vs_unpaired.csv")
    headline = pvu[~pvu["metric"].str.contains("[", regex=False)]
    assert len(headline) >= 8 and set(headline["model_b"]) == {"cyclegan"}
    for r in headline.itertuples():
        ours, theirs = long.at[PLUGIN, r.metric], long.at["pix2pix", r.metric]
        best = PLUGIN if (ours > theirs if r.higher_is_better else ours < theirs) else "pix2pix"
        assert r.model_a == best, r.metric
    assert PLUGIN in set(pvu["model_a"])  # it is the best paired method on some metric of the table

    baseline = tmp_path / "baseline.json"
    assert main(["baseline", "--run", str(first), "--out", str(baseline)]) == 0
    entries = json.loads(baseline.read_text())["entries"]
    assert any(e["model"] == PLUGIN for e in entries)
    assert main(_suite(example_path, second, scene_args, "--workers", "1")) == 0
    capsys.readouterr()
    assert main(["check", "--run", str(second), "--baseline", str(baseline)]) == 0
    assert "all metrics hold (exit 0)" in capsys.readouterr().out

    gated = json.loads(baseline.read_text())  # the gate fails when the plugin's numbers fall
    entry = next(e for e in gated["entries"] if e["model"] == PLUGIN and e["metric"] == "fcn_labels2photo_pixel_acc")
    entry["expected"] += 10 * entry["tolerance"] + 0.1
    baseline.write_text(json.dumps(gated))
    assert main(["check", "--run", str(second), "--baseline", str(baseline)]) == 1
    out = capsys.readouterr().out
    assert f"scenes  {PLUGIN}" in out and "REGRESSED" in out
