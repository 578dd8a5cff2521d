import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from reports.analysis import compare_methods
from reports.significance import (
    WELCH,
    WILCOXON,
    Comparison,
    bh_qvalues,
    paired_images,
    rank_methods,
    welch_seeds,
)

A, B = np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 7.0])


def test_welch_matches_scipy_and_the_formula_restated():
    c = welch_seeds(A, B)
    ref = stats.ttest_ind(A, B, equal_var=False)
    assert c.p == pytest.approx(ref.pvalue, rel=1e-12) and c.test == WELCH
    va, vb = A.var(ddof=1) / 3, B.var(ddof=1) / 3  # Welch (1947): t and the Welch-Satterthwaite df, by hand
    t = (A.mean() - B.mean()) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 2)
    assert c.p == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-12)
    half = stats.t.ppf(0.975, df) * math.sqrt(va + vb)
    assert (c.ci_low, c.ci_high) == pytest.approx((A.mean() - B.mean() - half, A.mean() - B.mean() + half), rel=1e-12)
    assert c.p == pytest.approx(0.041914517471454, rel=1e-9)  # pinned
    assert c.diff == pytest.approx(-10 / 3) and c.significant and (c.n_a, c.n_b) == (3, 3)


@pytest.mark.parametrize("a, b, why", [(A[:1], B, "fewer than 2 seeds"), (np.ones(3), np.full(3, 2.0), "no spread")])
def test_welch_refuses_what_it_cannot_test(a, b, why):
    c = welch_seeds(a, b)
    assert math.isnan(c.p) and math.isnan(c.ci_low) and why in c.test and not c.significant
    assert c.diff == pytest.approx(a.mean() - b.mean())


def test_wilcoxon_matches_scipy_and_the_exact_distribution():
    a = np.array([3.1, 2.0, 5.5, 4.0, 1.2])
    b = a - np.array([0.1, 0.2, 0.05, 0.3, 0.25])  # every difference positive, distinct magnitudes
    c = paired_images(a, b)
    assert c.p == pytest.approx(stats.wilcoxon(a - b).pvalue, rel=1e-12) and c.test == WILCOXON
    assert c.p == pytest.approx(2 / 2**5)  # exact null: all five signs positive has probability 1/32, two-sided
    assert c.diff == pytest.approx(0.18) and c.ci_low <= c.diff <= c.ci_high
    assert c.ci_low > 0.05 and c.ci_high <= 0.3  # the interval lies within the observed differences
    assert paired_images(a, b) == c  # seeded bootstrap: the same rows give the same interval


def test_paired_test_edge_cases():
    same = paired_images(np.ones(4), np.ones(4))
    assert (same.p, same.diff, same.ci_low, same.ci_high) == (1.0, 0.0, 0.0, 0.0)
    assert math.isnan(paired_images(np.ones(1), np.zeros(1)).p)
    with pytest.raises(ValueError, match="equal lengths"):
        paired_images(np.ones(3), np.ones(4))


def test_bh_qvalues_match_scipy_and_hand_values():
    p = np.array([0.01, 0.04, 0.03, 0.2, math.nan])
    q = bh_qvalues(p)
    assert q[:4] == pytest.approx(stats.false_discovery_control(p[:4], method="bh"))
    assert q[:4] == pytest.approx([0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.2])  # p_(i) m / i, then running minimum
    assert math.isnan(q[4])


def _c(p: float, diff: float = 1.0) -> Comparison:
    return Comparison(diff, diff - 0.5, diff + 0.5, p, WELCH, 3, 3)


def test_tie_rule_two_methods():
    ranks = rank_methods({"a": 2.0, "b": 1.0}, True, {("a", "b"): _c(0.01)})
    assert (ranks["a"].rank, ranks["a"].significantly_best, ranks["a"].tied) == (1, True, False)
    assert (ranks["b"].rank, ranks["b"].vs, ranks["b"].comparison.diff) == (2, "a", -1.0)
    tied = rank_methods({"a": 2.0, "b": 1.0}, True, {("a", "b"): _c(0.2)})
    assert {m: (r.rank, r.tied, r.significantly_best) for m, r in tied.items()} == {
        "a": (1, True, False), "b": (1, True, False)}
    untested = rank_methods({"a": 2.0, "b": 1.0}, True, {("a", "b"): _c(math.nan)})
    assert untested["a"].tied and not untested["a"].significantly_best  # no test (one seed) is a tie, not a win


def test_tie_rule_groups_from_the_top_in_the_metric_direction():
    # lower is better: c (1.0) leads; b (2.0) is not significantly worse than c; a (3.0) is.
    compare = {("a", "b"): _c(0.001, 1.0), ("a", "c"): _c(0.001, 2.0), ("b", "c"): _c(0.3, 1.0)}
    ranks = rank_methods({"a": 3.0, "b": 2.0, "c": 1.0}, False, compare)
    assert {m: (r.rank, r.tied) for m, r in ranks.items()} == {"c": (1, True), "b": (1, True), "a": (2, False)}
    assert not ranks["c"].significantly_best
    # a significant leader, then two methods tied with each other
    compare = {("a", "b"): _c(0.01), ("a", "c"): _c(0.001), ("b", "c"): _c(0.5)}
    ranks = rank_methods({"a": 3.0, "b": 2.0, "c": 1.9}, True, compare)
    assert {m: (r.rank, r.tied) for m, r in ranks.items()} == {"a": (1, False), "b": (2, True), "c": (2, True)}
    assert ranks["a"].significantly_best and ranks["a"].vs == "b"
    assert ranks["a"].comparison.p == 0.01  # the intersection-union p: the largest of a's p-values


def test_tie_rule_needs_two_methods_and_skips_missing_means():
    assert rank_methods({"a": 1.0}, True, {}) == {}
    assert rank_methods({"a": 1.0, "b": math.nan}, True, {}) == {}


def _rows(model: str, values: list[float], seed: int = 0, images: list[str] | None = None) -> pd.DataFrame:
    protocols = [f"seed={seed}" + (f"; image={i}" if images else "") for i in (images or values)]
    return pd.DataFrame({"model": model, "value": values, "seed": seed, "protocol": protocols})


def test_per_image_rows_are_paired_by_image_key_else_row_order():
    a = _rows("a", [3.1, 2.0, 5.5, 4.0, 1.2], images=["i0", "i1", "i2", "i3", "i4"])
    b_values = [3.0, 1.8, 5.45, 3.7, 0.95]
    shuffled = _rows("b", b_values[::-1], images=["i4", "i3", "i2", "i1", "i0"])
    by_key = compare_methods(a, shuffled, per_image=True)
    assert by_key.test == WILCOXON and by_key.p == pytest.approx(0.0625)
    assert by_key.diff == pytest.approx(np.mean(np.array(a["value"]) - np.array(b_values)))
    by_order = compare_methods(a.assign(protocol="seed=0"), _rows("b", b_values), per_image=True)
    assert by_order.p == pytest.approx(0.0625)
    unequal = compare_methods(a.assign(protocol="seed=0"), _rows("b", b_values[:4]), per_image=True)
    assert unequal.test.startswith("none: fewer than 2 seeds")  # cannot pair: falls back to the seed test
