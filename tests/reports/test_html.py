import re

import pandas as pd
import pytest

import reports.build as build
from harness.core.errors import HarnessError
from reports.build import ReportPaths, build_report

SCRIPT_MODEL = "<script>alert(1)</script>"  # the model name planted by conftest.py


@pytest.fixture
def built(built_run):
    return ReportPaths(built_run / "summary.csv", built_run / "paired_vs_unpaired.csv", built_run / "plots",
                       built_run / "report.html")


def test_build_writes_every_output(built, built_run):
    assert built.summary_csv.is_file() and built.paired_csv.is_file() and built.report_html.is_file()
    assert len(list(built.plots_dir.glob("*.png"))) >= 10
    summary = pd.read_csv(built.summary_csv)
    assert len(summary) == 12 and {"fid", "fid_ci_low", "fid_ci_high"} <= set(summary.columns)
    assert not [p for p in built_run.iterdir() if p.name.startswith(".")]  # no staging folders left


def test_every_text_is_escaped_and_nothing_is_external(built):
    html = built.report_html.read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script" not in html.lower()
    srcs = re.findall(r'<img src="([^"]*)"', html)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html


def test_report_marks_direction_best_unconfirmed_and_simulated(built):
    html = built.report_html.read_text(encoding="utf-8")
    assert "fid ↓" in html and "fcn_labels2photo_pixel_acc ↑" in html
    best = re.findall(r'<td class="best">([^<\n]*)', html)
    assert "60.2" in best and "0.6622" in best  # pix2pix wins both scenes metrics; ground_truth is not ranked
    assert "0.8027" not in best
    assert re.search(r'class="pub unconfirmed"[^>]*>paper: 0.52 \(unconfirmed\)', html)
    assert "Human-study tables" in html and "simulated=true" in html
    assert "observer=logistic(d=1.2)" in html
    assert "Samples: labels2photo" in html and "pix2pix seed 0" in html
    assert "Provenance" in html and "abc1234" in html and "wall_time_s" in html


def test_error_during_build_leaves_no_partial_report(fake_run, monkeypatch):
    def boom(rows, long, pvu, run_dir, out_dir):
        (out_dir / "half.png").write_bytes(b"partial")
        raise RuntimeError("plotting failed")
    monkeypatch.setattr(build, "make_plots", boom)
    with pytest.raises(RuntimeError):
        build_report(fake_run)
    names = {p.name for p in fake_run.iterdir()}
    assert not names & {"report.html", "summary.csv", "paired_vs_unpaired.csv", "plots"}
    assert not [n for n in names if n.startswith(".")]


def test_rebuild_replaces_previous_report(fake_run):
    (fake_run / "plots").mkdir()
    (fake_run / "plots" / "stale.png").write_bytes(b"x")
    (fake_run / "report.html").write_text("old")
    again = build_report(fake_run)
    assert again.report_html.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not (again.plots_dir / "stale.png").exists()


@pytest.mark.parametrize("remove, match", [("manifest.json", "missing manifest.json"),
                                           ("metrics.csv", "missing metrics.csv")])
def test_bad_run_dir_names_what_is_missing(fake_run, remove, match):
    (fake_run / remove).unlink()
    with pytest.raises(HarnessError, match=match):
        build_report(fake_run)


def test_not_a_directory(tmp_path):
    with pytest.raises(HarnessError, match="not a directory"):
        build_report(tmp_path / "nope")


def test_methods_sharing_a_setting_are_ranked_without_new_code():
    from reports.html import _ranking_rows

    long = pd.DataFrame({
        "task": ["faces"] * 4, "metric": ["expr_error", "expr_error", "expr_error", "expr_error"],
        "model": ["stargan", "diat", "cyclegan", "real_data"], "setting": ["unpaired"] * 3 + ["reference"],
        "mean": [2.1, 4.1, 6.0, 0.5], "higher_is_better": [False] * 4})
    rows = _ranking_rows(long)
    assert [m["model"] for m in rows[0]["ranked"]] == ["stargan", "diat", "cyclegan"]  # lower is better; no reference
    assert rows[0]["arrow"] == "↓"
    assert _ranking_rows(long[long["model"].isin(["stargan", "real_data"])]) == []  # one method: nothing to rank
