"""Tests of the difference between two methods, and the tie rule the report ranks by.

Two tests, both from ``scipy.stats`` (nothing here re-derives a statistic):

- **across seeds** (every metric): Welch's t-test (``ttest_ind(equal_var=False)``) on the per-seed values of the two
  methods, with the 95% confidence interval of the difference of means from the same test. Needs >= 2 seeds per
  method and some spread; otherwise no test is made and the comparison says why.
- **paired over images** (metrics whose rows are one value per image, ``*_per_image``): the Wilcoxon signed-rank
  test on the per-image differences (image ``i`` of method A against image ``i`` of method B, same seed), with a
  bootstrap 95% interval (BCa, ``scipy.stats.bootstrap``) of the mean difference. Images pair by the ``image=`` key
  of the protocol string when every row has one, else by row order within a seed; unequal counts fall back to the
  across-seed test.

Tie rule (``rank_methods``): methods are grouped from the top. The best remaining mean leads a group, and every
remaining method whose difference from that leader is not significant at ``ALPHA`` (or could not be tested) joins
the group; each group is one rank, shown as a tie. A method is *significantly best* only when its group holds it
alone, i.e. it beats every other method at ``ALPHA``. That claim is an intersection-union test (every component
test must reject), so it needs no multiplicity correction and its p-value is the largest of its component p-values.
Across the many metrics and tasks of a report, ``bh_qvalues`` gives Benjamini-Hochberg q-values
(``scipy.stats.false_discovery_control``) over every comparison, reported beside the raw p-values.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

ALPHA = 0.05  # significance level of every highlight, rank and "better" in the report
CONFIDENCE = 0.95  # level of the interval of a difference
BOOTSTRAP_RESAMPLES = 2000  # resamples of the paired bootstrap (a few ms for a few hundred images)
BOOTSTRAP_SEED = 0  # the bootstrap's generator seed: the same rows give the same interval
WELCH = "Welch t-test across seeds"
WILCOXON = "Wilcoxon signed-rank over images (paired), bootstrap CI of the mean difference"


@dataclass(frozen=True)
class Comparison:
    """The difference ``a - b`` of two methods on one metric, and its test.

    Attributes:
        diff: Mean of ``a`` minus mean of ``b``, on the metric's own scale (NaN when a side is empty).
        ci_low: Lower bound of the 95% interval of ``diff`` (NaN when no test was made).
        ci_high: Upper bound.
        p: Two-sided p-value (NaN when no test was made).
        test: ``WELCH``, ``WILCOXON`` or ``"none: <why>"``.
        n_a: Values behind ``a`` (seeds, or image pairs for the paired test).
        n_b: Values behind ``b``.
    """

    diff: float
    ci_low: float
    ci_high: float
    p: float
    test: str
    n_a: int
    n_b: int

    @property
    def significant(self) -> bool:
        """True when a test was made and ``p < ALPHA``."""
        return not math.isnan(self.p) and self.p < ALPHA


def welch_seeds(a: np.ndarray, b: np.ndarray) -> Comparison:
    """Welch's t-test of per-seed values ``a`` (k_a,) against ``b`` (k_b,), with the CI of ``mean(a) - mean(b)``.

    >>> round(welch_seeds(np.array([1., 2, 3]), np.array([4., 5, 7])).p, 4)
    0.0419
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = float(a.mean() - b.mean()) if len(a) and len(b) else math.nan
    if min(len(a), len(b)) < 2:
        return Comparison(diff, math.nan, math.nan, math.nan, "none: fewer than 2 seeds", len(a), len(b))
    if a.std() == 0 and b.std() == 0:
        return Comparison(diff, math.nan, math.nan, math.nan, "none: no spread across seeds", len(a), len(b))
    with warnings.catch_warnings():  # scipy's precision warning on near-constant data; the guard above handles 0
        warnings.simplefilter("ignore", RuntimeWarning)
        result = stats.ttest_ind(a, b, equal_var=False)
        interval = result.confidence_interval(confidence_level=CONFIDENCE)
    return Comparison(diff, float(interval.low), float(interval.high), float(result.pvalue), WELCH, len(a), len(b))


def paired_images(a: np.ndarray, b: np.ndarray) -> Comparison:
    """Wilcoxon signed-rank test of paired per-image values ``a`` and ``b`` (N,), bootstrap CI of the mean difference.

    Args:
        a: Method A's per-image values, image ``i`` at index ``i``.
        b: Method B's values on the same images, same order.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) != len(b):
        raise ValueError(f"paired test needs equal lengths, got {len(a)} and {len(b)}")
    d = a - b
    n = len(d)
    diff = float(d.mean()) if n else math.nan
    if n < 2:
        return Comparison(diff, math.nan, math.nan, math.nan, "none: fewer than 2 image pairs", n, n)
    if not np.any(d):
        return Comparison(0.0, 0.0, 0.0, 1.0, WILCOXON, n, n)  # identical outputs: no difference at all
    with warnings.catch_warnings():  # scipy's precision warnings on near-constant differences
        warnings.simplefilter("ignore", RuntimeWarning)
        p = float(stats.wilcoxon(d).pvalue)
        boot = stats.bootstrap((d,), np.mean, confidence_level=CONFIDENCE, n_resamples=BOOTSTRAP_RESAMPLES,
                               rng=np.random.default_rng(BOOTSTRAP_SEED))
        low, high = float(boot.confidence_interval.low), float(boot.confidence_interval.high)
        if math.isnan(low) or math.isnan(high):  # BCa undefined (e.g. one non-zero difference): percentile instead
            boot = stats.bootstrap((d,), np.mean, confidence_level=CONFIDENCE, n_resamples=BOOTSTRAP_RESAMPLES,
                                   method="percentile", rng=np.random.default_rng(BOOTSTRAP_SEED))
            low, high = float(boot.confidence_interval.low), float(boot.confidence_interval.high)
    return Comparison(diff, low, high, p, WILCOXON, n, n)


def bh_qvalues(pvalues: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values of ``pvalues`` (NaN entries stay NaN and do not count as tests)."""
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, math.nan)
    tested = ~np.isnan(p)
    if tested.any():
        out[tested] = stats.false_discovery_control(p[tested], method="bh")
    return out


@dataclass(frozen=True)
class Rank:
    """Where one method stands on one metric (see the module docstring for the rule).

    Attributes:
        rank: 1 for the top group, 2 for the next, ...
        tied: Shares its rank with another method.
        significantly_best: Alone in the top group: beats every other method at ``ALPHA``.
        vs: The method this one's ``comparison`` is against: the leader, or for the leader its runner-up.
        comparison: ``self - vs``; for the leader its ``p`` is the largest p-value over all its comparisons
            (the intersection-union p-value of "better than every other method").
    """

    rank: int
    tied: bool
    significantly_best: bool
    vs: str
    comparison: Comparison


def rank_methods(means: dict[str, float], higher_is_better: bool,
                 compare: dict[tuple[str, str], Comparison]) -> dict[str, Rank]:
    """Groups methods into ranks by the tie rule.

    Args:
        means: Method -> mean (NaN means not ranked).
        higher_is_better: The metric's direction.
        compare: ``(a, b) -> a - b`` for every ordered pair of methods in ``means`` (one order suffices).

    Returns:
        Method -> ``Rank`` for every method with a mean; empty when fewer than two methods.
    """
    def pair(a: str, b: str) -> Comparison:
        if (a, b) in compare:
            return compare[(a, b)]
        c = compare[(b, a)]
        return Comparison(-c.diff, -c.ci_high, -c.ci_low, c.p, c.test, c.n_b, c.n_a)

    order = sorted((m for m, v in means.items() if not math.isnan(v)), key=lambda m: means[m],
                   reverse=higher_is_better)
    if len(order) < 2:
        return {}
    leader = order[0]
    others = [pair(leader, m) for m in order[1:]]
    worst_p = max((c.p for c in others), key=lambda p: math.inf if math.isnan(p) else p)
    runner_up = others[0]
    out: dict[str, Rank] = {}
    remaining, rank = list(order), 1
    while remaining:
        head = remaining[0]
        group = [head] + [m for m in remaining[1:] if not pair(head, m).significant]
        for m in group:
            if m == leader:
                comp = Comparison(runner_up.diff, runner_up.ci_low, runner_up.ci_high, worst_p, runner_up.test,
                                  runner_up.n_a, runner_up.n_b)
                out[m] = Rank(rank, len(group) > 1, len(group) == 1, order[1], comp)
            else:
                out[m] = Rank(rank, len(group) > 1, False, leader, pair(m, leader))
        remaining = [m for m in remaining if m not in group]
        rank += 1
    return out
