import json
import re

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from PIL import Image

from reports.analysis import analyse
from reports.plot_parts import grouped_bars
from reports.plots import DEGENERATE_BELOW, make_plots, method_colours, per_class_bars, slugify
from reports.tables import read_metrics, split_bracket

SCRIPT_MODEL = "<script>alert(1)</script>"  # the model name planted by conftest.py


@pytest.fixture(scope="module")
def plots(module_fake_run):
    run = module_fake_run
    analysis = analyse(read_metrics(run / "metrics.csv"))
    out = run / "plots"
    out.mkdir()
    return make_plots(analysis, run, out), out, analysis


def test_every_kind_of_plot_is_written_as_a_valid_png(plots):
    written, out, _ = plots
    assert {p.kind for p in written} == {"metrics", "difference", "curves", "per_class", "distribution", "probe"}
    assert sorted(p.path.name for p in written) == sorted(x.name for x in out.glob("*.png"))
    for plot in written:
        with Image.open(plot.path) as img:
            assert img.format == "PNG" and img.width > 100 and img.height > 100
        assert re.fullmatch(r"[a-z0-9_.-]+", plot.path.name)


def test_expected_figures_per_task(plots):
    written, _, _ = plots
    by_task = {}
    for p in written:
        by_task.setdefault(p.task, []).append(p.kind)
    assert sorted(by_task["scenes"]) == ["curves", "curves", "difference", "metrics", "per_class"]
    assert by_task["sr"] == ["distribution"]  # two methods of one setting: ranked, no setting difference
    assert by_task[""] == ["probe"]
    assert by_task["digits"] == ["metrics"]  # one method, one setting: no difference plot
    assert "maps" not in by_task  # simulated human-study rows are a table section only


def test_one_colour_per_method_in_every_plot_and_recorded(plots):
    written, out, analysis = plots
    colours = method_colours(analysis.long)
    assert colours["pix2pix"] != colours["cyclegan"] and colours["ground_truth"].startswith("#")
    record = json.loads((out / "plots.json").read_text())
    assert record["colours"] == colours
    assert {p["file"] for p in record["plots"]} == {p.path.name for p in written}
    seen = set()
    for plot in written:
        drawn = dict(plot.colours)
        assert drawn and all(colours[m] == c for m, c in drawn.items()), (plot.kind, drawn)
        with Image.open(plot.path) as img:
            assert json.loads(img.info["Description"])["colours"] == drawn  # read back from the PNG itself
        seen |= set(drawn)
    assert {"pix2pix", "cyclegan", SCRIPT_MODEL, "vanilla_gan", "srgan", "srresnet"} <= seen


def test_informational_rows_are_never_plotted(plots):
    written, _, analysis = plots
    informational = set(analysis.long.loc[analysis.long["higher_is_better"].isna(), "metric"])
    assert "parzen_se" in informational
    drawn = {m for p in written for m in p.metrics}
    assert not drawn & informational
    digits = next(p for p in written if p.task == "digits")
    assert digits.metrics == ("parzen_ll", "kid")


def test_difference_plot_keeps_each_metric_on_its_own_scale(plots):
    written, _, _ = plots
    diff = next(p for p in written if p.task == "scenes" and p.kind == "difference")
    assert diff.metrics == ("fcn_labels2photo_pixel_acc", "fid", "photo_kid")  # per-class metrics: their own plot
    assert "own scale" in diff.title and "% advantage" not in diff.title


def test_degenerate_classes_are_not_drawn_and_are_named(tmp_path):
    long = pd.DataFrame({
        "task": "t", "model": ["a", "a", "b", "b"], "metric": ["iou[road]", "iou[pole]"] * 2,
        "mean": [0.8, 0.0, 0.6, DEGENERATE_BELOW / 2], "ci_low": float("nan"), "ci_high": float("nan"),
        "setting": "paired", "higher_is_better": True, "simulated": False})
    plot = per_class_bars(long, "t", "iou", {"a": "#4c72b0", "b": "#dd8452"}, tmp_path)
    assert plot.metrics == ("iou[road]",) and "not drawn" in plot.title and "pole" in plot.title


def test_one_grouped_bar_routine_draws_values_whiskers_and_colours():
    means = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, float("nan")]}, index=["x", "y"])
    lows, highs = means - 0.5, means + 0.25
    fig, ax = plt.subplots()
    drawn = grouped_bars(ax, means, lows, highs, {"a": "#112233", "b": "#445566"})
    assert drawn == {"a": "#112233", "b": "#445566"}
    heights = [(to_hex(p.get_facecolor()), p.get_height()) for p in ax.patches]
    assert heights == [("#112233", 1.0), ("#112233", 2.0), ("#445566", 3.0), ("#445566", 0.0)]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["x", "y"]
    plt.close(fig)


def test_slugify_is_safe_and_distinct():
    slug = slugify(SCRIPT_MODEL)
    assert re.fullmatch(r"[a-z0-9-]+", slug)
    assert slugify("a/b") != slugify("a_b")
    assert slugify("") and slugify("..") != ".."
    assert split_bracket("fcn_iou[road]") == ("fcn_iou", "road") and split_bracket("fid") is None
