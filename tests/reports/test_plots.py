import re

import pytest
from PIL import Image

from reports.plots import make_plots, slugify, split_bracket
from reports.tables import paired_vs_unpaired, read_metrics, summarize_long

SCRIPT_MODEL = "<script>alert(1)</script>"  # the model name planted by conftest.py


@pytest.fixture
def plots(fake_run, tmp_path):
    rows = read_metrics(fake_run / "metrics.csv")
    out = tmp_path / "plots"
    out.mkdir()
    return make_plots(rows, summarize_long(rows), paired_vs_unpaired(rows), fake_run, out), out


def test_every_kind_of_plot_is_written_as_a_valid_png(plots):
    written, out = plots
    kinds = {p.kind for p in written}
    assert kinds == {"bars", "gap", "curves", "per_class", "distribution", "probe"}
    assert sorted(p.path.name for p in written) == sorted(x.name for x in out.iterdir())
    for plot in written:
        with Image.open(plot.path) as img:
            assert img.format == "PNG" and img.width > 100 and img.height > 100
        assert re.fullmatch(r"[a-z0-9_.-]+", plot.path.name)


def test_expected_figures_per_task(plots):
    written, _ = plots
    by_task = {}
    for p in written:
        by_task.setdefault(p.task, []).append(p.kind)
    assert sorted(by_task["scenes"]) == ["bars", "bars", "curves", "curves", "gap", "per_class"]
    assert by_task["sr"] == ["distribution"]
    assert by_task[""] == ["probe"]
    assert "gap" not in by_task["digits"]


def test_slugify_is_safe_and_distinct():
    slug = slugify(SCRIPT_MODEL)
    assert re.fullmatch(r"[a-z0-9-]+", slug)
    assert slugify("a/b") != slugify("a_b")
    assert slugify("") and slugify("..") != ".."
    assert split_bracket("fcn_iou[road]") == ("fcn_iou", "road") and split_bracket("fid") is None
