import re

import pandas as pd
import pytest

import reports.build as build
from harness.core.errors import HarnessError
from reports.build import ReportPaths, build_report

SCRIPT_MODEL = "<script>alert(1)</script>"  # the model name planted by conftest.py


@pytest.fixture
def built(built_run):
    return ReportPaths(built_run / "summary.csv", built_run / "summary.md", built_run / "comparisons.csv",
                       built_run / "paired_vs_unpaired.csv", built_run / "plots", built_run / "report.html")


def _section(html: str, task: str) -> str:
    start = html.index(f"<h2>Task: {task}</h2>")
    end = html.find("<h2>", start + 5)
    return html[start:end]


def test_build_writes_every_output(built, built_run):
    for path in (built.summary_csv, built.summary_md, built.comparisons_csv, built.paired_csv, built.report_html):
        assert path.is_file(), path
    assert len(list(built.plots_dir.glob("*.png"))) >= 10 and (built.plots_dir / "plots.json").is_file()
    summary = pd.read_csv(built.summary_csv)
    assert len(summary) == 13 and {"fid", "fid_ci_low", "fid_ci_high", "fid_p", "fid_rank"} <= set(summary.columns)
    comparisons = pd.read_csv(built.comparisons_csv)
    assert {"p", "q", "ci_low", "ci_high", "test", "better"} <= set(comparisons.columns)
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
    best = re.findall(r'<td class="best"[^>]*>([^<\n]*)', html)
    assert "60.2" in best and "0.6622" in best  # pix2pix wins both scenes metrics; ground_truth is not ranked
    assert "0.8027" not in best
    assert re.search(r'<span class="unconfirmed"[^>]*>0.52</span><span class="pub">Cityscapes · unconfirmed', html)
    assert "Human-study tables" in html and "simulated=true" in html
    assert "observer=logistic(d=1.2)" in html
    assert "Samples: labels2photo" in html and "pix2pix seed 0" in html
    assert "Provenance" in html and "abc1234" in html and "wall_time_s" in html


def test_error_during_build_leaves_no_partial_report(fake_run, monkeypatch):
    def boom(analysis, run_dir, out_dir):
        (out_dir / "half.png").write_bytes(b"partial")
        raise RuntimeError("plotting failed")
    monkeypatch.setattr(build, "make_plots", boom)
    with pytest.raises(RuntimeError):
        build_report(fake_run)
    names = {p.name for p in fake_run.iterdir()}
    outputs = {"report.html", "summary.csv", "summary.md", "comparisons.csv", "paired_vs_unpaired.csv", "plots"}
    assert not names & outputs
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


def test_single_method_tables_highlight_nothing_and_ties_show_as_ties(built):
    html = built.report_html.read_text(encoding="utf-8")
    digits = _section(html, "digits")  # vanilla_gan alone: nothing to be best against
    assert 'class="best"' not in digits and 'class="tie"' not in digits
    assert 'class="best"' not in _section(html, "sr") or "srresnet" in _section(html, "sr")
    scenes = _section(html, "scenes")
    tied = re.findall(r'<td class="tie"[^>]*title="([^"]*)"', scenes)  # photo_kid: 0.0104 vs 0.0106, seed noise
    assert len(tied) == 2 and all(t.startswith("tied best") for t in tied)


def test_kid_units_informational_columns_and_published_values_apart(built):
    html = built.report_html.read_text(encoding="utf-8")
    scenes = _section(html, "scenes")
    assert "photo_kid ↓ <span class=\"unit\">×10³</span>" in scenes and ">10.4" in scenes  # 0.0104 shown ×10³
    assert "compare only within one judge" in html
    digits = _section(html, "digits")
    assert re.search(r'<th class="info"[^>]*>parzen_se', digits)  # informational: marked, table only
    ours = scenes[scenes.index('<table class="summary">'):scenes.index("</table>", scenes.index('class="summary"'))]
    assert "paper" not in ours and "0.52\n" not in ours and "0.52<" not in ours  # no published number of ours
    published = scenes[scenes.index('<table class="published">'):]
    assert "not comparable: different data and judge" in published and "Cityscapes" in published


def test_summary_paragraph_names_each_winner_with_a_p_value(built):
    html = built.report_html.read_text(encoding="utf-8")
    sentences = dict(re.findall(r'data-task="([^"]+)" data-winner="[^"]*" data-p="[^"]*">([^<]+)</span>', html))
    assert "pix2pix (paired) is significantly best on fcn_labels2photo_pixel_acc" in sentences["scenes"]
    assert "Welch p &lt; 0.001" in sentences["scenes"]
    assert "srresnet (paired) is significantly best on psnr_per_image" in sentences["sr"]
    assert "Wilcoxon p" in sentences["sr"]  # per-image rows: the paired test over images
    assert "only vanilla_gan ran" in sentences["digits"]
    md = built.summary_md.read_text(encoding="utf-8")
    assert md.startswith("# Summary: run") and "| rank | method |" in md and "**0.6622**" in md
    assert "&lt;script&gt;" in md or "&lt;script>" in md  # a model name cannot open a tag in rendered markdown


def test_methods_sharing_a_setting_are_ranked_without_new_code():
    from reports.analysis import analyse
    from reports.html import _ranking_rows

    values = {"stargan": 2.1, "diat": 4.1, "cyclegan": 6.0, "real_data": 0.5}
    rows = pd.DataFrame([{
        "task": "faces", "metric": "expr_error", "model": m, "setting": "reference" if m == "real_data" else "unpaired",
        "value": v + 0.1 * s, "seed": s, "higher_is_better": False, "simulated": False, "ci_low": float("nan"),
        "ci_high": float("nan"), "protocol": "", "published_value": float("nan"), "published_source": ""}
        for m, v in values.items() for s in range(3)])
    ranked = _ranking_rows(analyse(rows).long)
    assert [m["model"] for m in ranked[0]["ranked"]] == ["stargan", "diat", "cyclegan"]  # lower is better, no ref
    assert ranked[0]["arrow"] == "↓" and ranked[0]["ranked"][0]["best"]
    assert ranked[0]["ranked"][1]["p"].startswith("p ")
    one = rows[rows["model"].isin(["stargan", "real_data"])]
    assert _ranking_rows(analyse(one).long) == []  # one method: nothing to rank
