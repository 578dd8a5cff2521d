"""The study tables against scipy.stats and hand computation on hand-made ratings."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from metrics.human_study.design import TRIAL_COLUMNS
from metrics.human_study.protocols import BestOfProtocol, StatsConfig
from metrics.human_study.tables import (
    amt_tables,
    best_of_tables,
    bootstrap_mean_ci,
    group_rng,
    mos_tables,
)

CFG = StatsConfig(n_resamples=2000)


def _responses(records: list[dict]) -> pd.DataFrame:
    base = {"protocol": "amt", "kind": "scored", "task": "t", "condition": "c", "seed": 0, "method": "m", "item": 0,
            "input": "", "images": "x|y", "options": "real|m", "answer": 1, "order": 0}
    rows = [{**base, **r} for r in records]
    for i, r in enumerate(rows):
        r.setdefault("trial_id", f"t{i}")
        r.setdefault("session", f"s-{r['participant']}")
    return pd.DataFrame(rows)[[*TRIAL_COLUMNS, "participant", "response"]]


def _amt_rows(method: str, participant: str, fooled: list[bool], practice_fooled: bool = False) -> list[dict]:
    rows = [{"method": method, "participant": participant, "kind": "practice", "options": f"real|{method}",
             "response": 2 if practice_fooled else 1}]
    for k, f in enumerate(fooled):  # alternate sides: the fake is option 2, then option 1
        options = f"real|{method}" if k % 2 == 0 else f"{method}|real"
        fake_pos = 2 if k % 2 == 0 else 1
        rows.append({"method": method, "participant": participant, "options": options,
                     "response": fake_pos if f else 3 - fake_pos})
    return rows


def test_amt_percent_real_and_standard_error_by_hand():
    records = (_amt_rows("a", "p1", [True, False, False, False], practice_fooled=True)
               + _amt_rows("a", "p2", [True, True, False, False]) + _amt_rows("a", "p3", [False] * 4)
               + _amt_rows("b", "q1", [False] * 4) + _amt_rows("b", "q2", [False] * 4))
    table, tests = amt_tables(_responses(records), CFG)
    a = table.set_index("method").loc["a"]
    assert a["pct_real"] == pytest.approx(25.0)  # (25 + 50 + 0) / 3: practice trials do not count
    assert a["se"] == pytest.approx(25.0 / math.sqrt(3))  # std([25, 50, 0], ddof=1) = 25
    assert (a["n_participants"], a["n_trials"]) == (3, 12)
    b = table.set_index("method").loc["b"]
    assert (b["pct_real"], b["ci_low"], b["ci_high"]) == (0.0, 0.0, 0.0)  # constant: a point interval
    expected = stats.bootstrap((np.array([0.25, 0.5, 0.0]),), np.mean, n_resamples=CFG.n_resamples,
                               confidence_level=0.95, method="percentile",
                               rng=group_rng(0, "amt", "t", "c", 0, "a")).confidence_interval
    assert (a["ci_low"], a["ci_high"]) == pytest.approx((100 * expected.low, 100 * expected.high))
    test = tests.iloc[0]
    assert (test["method_a"], test["method_b"], test["diff_pp"]) == ("a", "b", pytest.approx(25.0))
    assert test["ci_low"] <= 25.0 <= test["ci_high"] and 0.0 <= test["p_value"] <= 1.0


def test_bootstrap_interval_covers_the_true_mean_at_its_level():
    """Percentile bootstrap over participants: ~95% coverage of a known rate (binomial participants)."""
    rng, cfg, truth, hits, reps = np.random.default_rng(1), StatsConfig(n_resamples=999), 0.2, 0, 300
    for k in range(reps):
        rates = rng.binomial(40, truth, size=30) / 40
        low, high = bootstrap_mean_ci(rates, cfg, np.random.default_rng(k))
        hits += low <= truth <= high
    assert 0.90 <= hits / reps <= 0.985


def test_bootstrap_test_separates_clear_differences_and_not_equal_groups():
    rng = np.random.default_rng(0)
    rows = []
    for p in range(30):
        rows += _amt_rows("good", f"g{p}", list(rng.random(20) < 0.3))
        rows += _amt_rows("bad", f"b{p}", list(rng.random(20) < 0.05))
        rows += _amt_rows("same", f"s{p}", list(rng.random(20) < 0.3))
    tests = amt_tables(_responses(rows), CFG)[1].set_index(["method_a", "method_b"])
    assert tests.loc[("good", "bad"), "significant"] and tests.loc[("good", "bad"), "p_value"] < 0.001
    assert not tests.loc[("good", "same"), "significant"]


def _mos_rows() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    a = rng.integers(2, 6, size=(6, 5))  # 6 raters x 5 images
    b = np.clip(a - rng.integers(0, 3, size=a.shape), 1, 5)
    records = []
    for method, ratings in (("a", a), ("b", b)):
        for r in range(6):
            for i in range(5):
                records.append({"protocol": "mos", "method": method, "participant": f"r{r}", "item": i,
                                "options": method, "response": int(ratings[r, i])})
    records.append({"protocol": "mos", "kind": "calibration", "method": "a", "participant": "r0", "item": 0,
                    "options": "a", "response": 1})
    return _responses(records), a, b


def test_mos_mean_std_and_tests_match_scipy():
    responses, a, b = _mos_rows()
    table, tests = mos_tables(responses, CFG)
    row = table.set_index("method").loc["a"]
    assert row["mos"] == pytest.approx(a.mean()) and row["std"] == pytest.approx(a.std(ddof=1))  # calibration out
    assert (row["n_raters"], row["n_ratings"]) == (6, 30)
    t = tests.iloc[0]
    assert t["wilcoxon_p"] == pytest.approx(stats.wilcoxon(a.ravel() - b.ravel()).pvalue)
    assert t["mannwhitney_p"] == pytest.approx(stats.mannwhitneyu(a.ravel(), b.ravel()).pvalue)
    assert t["diff"] == pytest.approx(a.mean() - b.mean())
    assert t["sd_rater_diff"] == pytest.approx((a - b).mean(axis=1).std(ddof=1))


def test_best_of_votes_validation_and_chi_square():
    records = []
    for p, picks in enumerate([[1, 1, 2], [1, 1, 1], [2, 2, 2]]):  # option positions clicked on scored questions
        for k, pick in enumerate(picks):
            records.append({"protocol": "best_of", "participant": f"p{p}", "method": "", "options": "x|y",
                            "response": pick, "trial_id": f"p{p}-{k}"})
        wrong = p == 2  # p2 fails the validation question: rejected
        records.append({"protocol": "best_of", "kind": "validation", "participant": f"p{p}", "method": "",
                        "options": "real_data|blank", "answer": 1, "response": 2 if wrong else 1,
                        "trial_id": f"p{p}-v"})
    table, tests = best_of_tables(_responses(records), BestOfProtocol(), CFG)
    t = table.set_index("method")
    assert (t.loc["x", "votes"], t.loc["y", "votes"], t.loc["x", "n_answers"]) == (5, 1, 6)
    assert t.loc["x", "pct_best"] == pytest.approx(500 / 6) and t.loc["x", "n_rejected"] == 1
    assert tests.iloc[0]["p_value"] == pytest.approx(stats.chisquare([5, 1]).pvalue)
