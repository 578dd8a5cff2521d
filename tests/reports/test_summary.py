import math

import pandas as pd
import pytest

from reports.analysis import analyse
from reports.formatting import display_scale, fmt_p
from reports.summary import headline_metric, leaderboard, leaderboards, summary_markdown, summary_sentences


def _rows(values: dict[tuple[str, str], tuple[float, float]], setting: dict[str, str] | None = None,
          higher: dict[str, bool | None] | None = None) -> pd.DataFrame:
    """Three seeds per (model, metric): mean +- spread, the first metric of each model first."""
    records = []
    for (model, metric), (mean, spread) in values.items():
        for seed, offset in enumerate((-1.0, 0.0, 1.0)):
            records.append({"task": "t", "model": model, "metric": metric, "value": mean + offset * spread,
                            "seed": seed, "setting": (setting or {}).get(model, "unpaired"),
                            "higher_is_better": (higher or {}).get(metric, True), "simulated": False,
                            "ci_low": math.nan, "ci_high": math.nan, "protocol": "", "published_value": math.nan,
                            "published_source": ""})
    return pd.DataFrame(records)


def test_headline_is_the_first_directional_metric_most_methods_have():
    rows = _rows({("ref", "acc"): (0.9, 0.0), ("a", "only_a"): (1.0, 0.1), ("a", "acc"): (0.8, 0.01),
                  ("b", "acc"): (0.5, 0.01), ("a", "info"): (3.0, 0.1), ("a", "iou[road]"): (0.5, 0.1)},
                 setting={"ref": "reference"}, higher={"info": None})
    long = analyse(rows).long
    assert headline_metric(long) == "acc"  # only_a comes first but one method has it; ref rows do not count
    assert headline_metric(long[long["metric"].isin(["info", "iou[road]"])]) is None


def test_leaderboard_sorts_by_rank_then_direction_with_references_last():
    rows = _rows({("ref", "err"): (0.1, 0.0), ("a", "err"): (5.0, 0.1), ("b", "err"): (3.0, 0.1),
                  ("c", "err"): (3.05, 0.1)}, setting={"ref": "reference"}, higher={"err": False})
    board = leaderboard(analyse(rows).long)
    assert board["metric"] == "err" and board["arrow"] == "↓"
    assert [(r["rank"], r["model"]) for r in board["rows"]] == [("=1", "b"), ("=1", "c"), ("2", "a"), ("ref.", "ref")]
    assert board["rows"][0]["tied"] and not board["rows"][0]["best"] and board["rows"][-1]["reference"]
    assert board["rows"][2]["p"].startswith("p ") and board["rows"][2]["vs"] == "b"


def test_summary_sentences_name_winners_ties_and_lone_methods():
    rows = pd.concat([
        _rows({("a", "acc"): (0.9, 0.01), ("b", "acc"): (0.5, 0.01)}).assign(task="clear"),
        _rows({("a", "acc"): (0.51, 0.05), ("b", "acc"): (0.50, 0.05)}).assign(task="close"),
        _rows({("a", "acc"): (0.5, 0.01)}).assign(task="alone"),
    ], ignore_index=True)
    overall, clear, close, alone = summary_sentences(analyse(rows))
    assert clear["winner"] == "a" and "a (unpaired) is significantly best on acc" in clear["text"]
    assert "Welch p" in clear["text"] and clear["p"] == fmt_p(analyse(rows).pairs.iloc[0]["p"])
    assert close["significant"] == "no" and "no significant winner on acc" in close["text"]
    assert "tied with b" in close["text"] and "Welch p = 0." in close["text"]
    assert alone["winner"] == "" and "only a ran" in alone["text"]
    assert overall["text"].startswith("Across the 2 tasks that compare methods") and "a on 1 (clear)" in overall["text"]
    assert "No significant winner on close" in overall["text"]
    one = summary_sentences(analyse(rows[rows["task"] == "clear"]))[0]
    assert one["text"].startswith("Across the one task that compares methods, significantly best on the headline "
                                  "metric: a on 1 (clear).")


def test_two_methods_without_a_shared_metric_are_not_compared():
    # The GAN (fid) and CycleGAN (DTN's accuracy protocol) both run on digits and share no metric.
    rows = _rows({("gan", "fid"): (30.0, 1.0), ("cyclegan", "acc"): (0.2, 0.01)}, higher={"fid": False})
    _, digits = summary_sentences(analyse(rows.assign(task="digits")))
    assert digits["winner"] == "" and "no ranked metric scores two of" in digits["text"]


@pytest.mark.parametrize("metric, values, expected", [
    ("photo_kid", [0.0104, 0.0303, -0.0002], (1e3, "×10³")),
    ("kid", [3242.8, -13.3], (1.0, "")),  # unnormalised digit features: thousands already read well
    ("kid", [0.0002], (1e6, "×10⁶")),
    ("kid", [52000.0], (1e-3, "×10⁻³")),
    ("fid", [0.01], (1.0, "")),  # only KID is rescaled
    ("kid", [0.0], (1.0, "")),
])
def test_kid_display_units(metric, values, expected):
    assert display_scale(metric, values) == expected


def test_metric_table_leaves_out_methods_with_only_simulated_rows():
    rows = _rows({("a", "acc"): (0.9, 0.01), ("b", "acc"): (0.5, 0.01), ("real_data", "amt_fooled"): (0.5, 0.01)})
    rows.loc[rows["model"] == "real_data", ["simulated", "setting"]] = (True, "reference")
    md = summary_markdown(analyse(rows), "run")
    table = md[md.index("Every metric with a direction"):]
    assert "| a |" in table and "| b |" in table and "real_data" not in table


def test_methods_of_different_protocols_get_a_leaderboard_each():
    # digits: the GAN (Parzen) beside DTN and its ablation (classifier accuracy); references on both protocols.
    rows = _rows({("real_data", "parzen_ll"): (330.0, 1.0), ("gan", "parzen_ll"): (40.0, 5.0),
                  ("real_target", "acc"): (0.99, 0.0), ("dtn", "acc"): (0.8, 0.01), ("dtn_no_tid", "acc"): (0.5, 0.01),
                  ("dtn", "fid"): (500.0, 10.0)},
                 setting={"real_data": "reference", "real_target": "reference"}, higher={"fid": False})
    long = analyse(rows).long
    boards = leaderboards(long)
    assert [b["metric"] for b in boards] == ["acc", "parzen_ll"]  # the headline: the metric most methods have
    assert [(r["rank"], r["model"]) for r in boards[0]["rows"]] == [("1", "dtn"), ("2", "dtn_no_tid"),
                                                                    ("ref.", "real_target")]
    assert [r["model"] for r in boards[1]["rows"]] == ["gan", "real_data"]
    md = summary_markdown(analyse(rows), "run")
    assert "Leaderboard by **parzen_ll**" in md and "Leaderboard by **acc**" in md
    single = _rows({("a", "acc"): (0.9, 0.01), ("b", "acc"): (0.5, 0.01)})
    assert [b["metric"] for b in leaderboards(analyse(single).long)] == ["acc"]  # one protocol, one board


def _flag(rows: pd.DataFrame, flags: dict[str, str]) -> pd.DataFrame:
    """Adds ``headline=<board>/<position>`` to the protocol of the named metrics, as ``ProtocolSpec`` writes it."""
    protocol = [f"protocol=x; headline={flags[m]}" if m in flags else "protocol=x" for m in rows["metric"]]
    return rows.assign(protocol=protocol)


def test_the_protocols_headline_flag_leads_over_the_first_directed_metric():
    # faces: hair_transfer_accuracy comes first in the rows, the paper's headline is the expression error.
    values = {(m, k): v for m in ("stargan", "diat", "cyclegan") for k, v in (
        ("hair_transfer_accuracy", (0.5 + 0.1 * len(m), 0.01)), ("expression_error", (10.0 + len(m), 0.1)),
        ("expression_error_floor", (3.6, 0.0)))}
    rows = _rows(values, higher={"expression_error": False, "expression_error_floor": None})
    assert headline_metric(analyse(rows).long) == "hair_transfer_accuracy"  # no flag: the old rule
    flagged = _flag(rows, {"expression_error": "expression_error/1", "expression_error_floor": "expression_error/2"})
    long = analyse(flagged).long
    assert headline_metric(long) == "expression_error"
    board = leaderboard(long)
    assert board["metric"] == "expression_error" and board["arrow"] == "↓"
    assert board["beside"] == [{"metric": "expression_error_floor", "arrow": "", "unit": ""}]
    assert [r["model"] for r in board["rows"]] == ["diat", "stargan", "cyclegan"]
    assert all(r["beside"] == ["3.6"] for r in board["rows"])
    md = summary_markdown(analyse(flagged), "run")
    assert "Leaderboard by **expression_error** ↓" in md and "| expression_error_floor |" in md


def test_flagged_boards_per_protocol_and_sharpness_beside_psnr():
    # digits: DTN's accuracy board first (more methods), the GAN's Parzen board second, each by its own flag.
    rows = _flag(_rows({("gan", "fid"): (9.0, 0.1), ("gan", "parzen_ll"): (40.0, 5.0), ("dtn", "acc"): (0.8, 0.01),
                        ("cyclegan", "acc"): (0.3, 0.01), ("dtn", "f_const"): (0.1, 0.01),
                        ("cyclegan", "f_const"): (0.5, 0.01)}, higher={"fid": False, "f_const": False}),
                 {"parzen_ll": "parzen_ll/1", "acc": "acc/1"})
    assert [b["metric"] for b in leaderboards(analyse(rows).long)] == ["acc", "parzen_ll"]
    sr = _flag(_rows({(m, k): v for m in ("srresnet", "srgan") for k, v in (
        ("y_psnr", (28.0 + len(m) / 10, 0.1)), ("y_ssim", (0.8, 0.01)), ("hf_ratio", (0.1 * len(m), 0.01)))},
        higher={"hf_ratio": None}), {"y_psnr": "y_psnr/1", "y_ssim": "y_psnr/2", "hf_ratio": "y_psnr/3"})
    board = leaderboard(analyse(sr).long)
    assert board["metric"] == "y_psnr" and [c["metric"] for c in board["beside"]] == ["y_ssim", "hf_ratio"]
    assert board["rows"][0]["model"] == "srresnet" and board["rows"][0]["beside"] == ["0.8", "0.8"]
