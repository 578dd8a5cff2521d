"""The one CSV writer: formula-like text neutralised, read back exactly, and used for every CSV the harness writes."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from harness.core.csv_files import escape_cell, unescape_cell, unescape_frame, write_csv

ROOT = Path(__file__).resolve().parents[3]
CELLS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "'=1", "'", "plain", "", "-1", "+2.5", "-3e-4", ".5",
         "-inf", "-", "=", "a=b", "x-1", "1-", "pix2pix"]


@pytest.mark.parametrize("cell", CELLS)
def test_escape_then_unescape_is_the_identity(cell):
    assert unescape_cell(escape_cell(cell)) == cell


def test_what_is_escaped():
    escaped = {c for c in CELLS if escape_cell(c) != c}
    assert escaped == {"=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "'=1", "'", "-inf", "-", "="}
    assert all(escape_cell(c) == "'" + c for c in escaped)
    assert escape_cell(-1.5) == -1.5 and escape_cell(None) is None


def test_a_frame_round_trips_with_its_types(tmp_path):
    frame = pd.DataFrame({"model": ["=HYPERLINK(\"x\")", "ok", "-2"], "value": [-1.0, float("nan"), 2.5],
                          "n": [1, 2, 3], "=header": ["a", "+b", "c"]})
    write_csv(tmp_path / "t.csv", frame)
    text = (tmp_path / "t.csv").read_text()
    assert text.splitlines()[0] == "model,value,n,'=header" and "\"'=HYPERLINK(\"\"x\"\")\"" in text
    assert "-1.0" in text and "'-2" not in text
    back = unescape_frame(pd.read_csv(tmp_path / "t.csv"))
    pd.testing.assert_frame_equal(back, frame, check_dtype=False)


def test_every_csv_is_written_through_write_csv():
    """No module of the harness writes a CSV another way (``to_csv``, ``csv.writer``)."""
    offenders = []
    for package in ("harness", "metrics", "reports", "reference_models"):
        for path in (ROOT / package).rglob("*.py"):
            if path.name == "csv_files.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and node.attr in ("to_csv", "writer", "DictWriter"):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.attr}")
    assert not offenders, offenders


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to run the study page's csvField")
def test_the_study_page_escapes_as_the_harness_does():
    page = (ROOT / "harness" / "study" / "templates" / "study.html").read_text(encoding="utf-8")
    source = re.search(r"function csvField\(v\) \{.*?\n\}", page, re.S).group(0)
    script = f"{source}\nconsole.log(JSON.stringify({json.dumps(CELLS)}.map(csvField)));"
    out = json.loads(subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout)
    expected = [str(escape_cell(c)) for c in CELLS]
    quoted = [f'"{e}"' if re.search(r'[",\n]', e) else e for e in expected]
    assert out == quoted
