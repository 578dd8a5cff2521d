"""Power analysis for the three protocols with statsmodels: how many participants detect a given difference.

- **AMT real vs fake**: the unit is a participant's "% labelled real" over their scored trials (each algorithm has
  its own participants); the bootstrap test of two algorithms is approximated by the two-sample t-test on those
  per-participant rates (``statsmodels.stats.power.TTestIndPower``), effect size ``d = diff / sd`` with ``sd`` the
  between-participant standard deviation of the rates. A published "mean ± SE" over ``n`` participants gives
  ``sd = SE * sqrt(n)``; without one, ``sd`` is at least the binomial part ``sqrt(p (1 - p) / n_trials)``.
- **Best of N**: the vote shares against "no preference" (uniform), chi-square goodness of fit
  (``GofChisquarePower``, effect size ``w`` from ``statsmodels.stats.gof.chisquare_effectsize``) with one
  observation per answer: optimistic, since one participant's answers are not independent.
- **MOS**: the paired Wilcoxon signed-rank test between two methods over raters' mean ratings, approximated by the
  paired t-test (``TTestPower``) with the sample size scaled by the Wilcoxon test's asymptotic relative efficiency
  under normality, ``3 / pi``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import brentq
from statsmodels.stats.gof import chisquare_effectsize
from statsmodels.stats.power import GofChisquarePower, TTestIndPower, TTestPower

WILCOXON_ARE = 3.0 / math.pi  # asymptotic relative efficiency of Wilcoxon signed-rank vs t under normality
MAX_N = 1_000_000  # solve_power search ceiling (participants)


@dataclass(frozen=True)
class PowerResult:
    """One power calculation.

    Attributes:
        protocol: ``amt``, ``best_of`` or ``mos``.
        comparison: What is compared (``"pix2pix L1 vs L1+cGAN, photo→map"``).
        effect: The difference in the protocol's unit (percentage points, share points, MOS points).
        effect_size: Standardised effect (Cohen's d, chi-square w, paired d_z).
        n_participants: Participants per group (AMT), in all (best-of), raters (MOS).
        alpha: Significance level. power: Power at ``n_participants``.
        target_power: The power ``n_for_target`` reaches. n_for_target: Participants needed (ceil; None: >MAX_N).
        mde: Minimal detectable effect at ``n_participants`` and ``target_power``, in the effect's unit (best-of:
            in ``w``).
        basis: Where the inputs come from.
    """

    protocol: str
    comparison: str
    effect: float
    effect_size: float
    n_participants: int
    alpha: float
    power: float
    target_power: float
    n_for_target: int | None
    mde: float
    basis: str

    def to_dict(self) -> dict[str, object]:
        """Plain dict (CSV row)."""
        return asdict(self)


def _solve_n(solve, power_at_minimum: float, target: float, minimum: int) -> int | None:
    """Sample size reaching ``target`` power; ``minimum`` when even that reaches it; None when unreachable."""
    if power_at_minimum >= target:
        return minimum
    with warnings.catch_warnings(record=True):  # statsmodels warns and returns nan when its root finder does not
        # converge; recorded, not filtered: its lazily imported sm_exceptions adds an "always" filter ahead of ours
        try:
            n = float(solve())
        except (ValueError, RuntimeError):
            return None
    return None if not math.isfinite(n) or n > MAX_N else max(int(math.ceil(n)), minimum)


def _power(compute, effect: float, alpha: float) -> float:
    """Power of a test at ``effect``; ``alpha`` at no effect; 1 where statsmodels' noncentral tail underflows."""
    if effect <= 0:
        return alpha
    with warnings.catch_warnings(record=True):  # nan (handled below) comes with a warning; see _solve_n
        value = float(compute())
    return 1.0 if math.isnan(value) else value


def _solve_effect(power_at, target: float) -> float:
    """Smallest standardised effect whose power reaches ``target`` (power rises with the effect); inf if none.

    Solved here by bracketing and Brent's method on the power function itself: statsmodels' ``solve_power`` falls
    back to ``fsolve`` when its bracket fails and then returns a 1-element array (``float()`` of it raises under
    NumPy 2, e.g. the MOS design table at 1,000 raters and alpha 0.2) or a non-converged value with a warning.
    """
    if target <= power_at(0.0):
        return 0.0
    hi = 1.0
    while power_at(hi) < target:
        hi *= 2.0
        if hi > 1e6:
            return math.inf
    return float(brentq(lambda e: power_at(e) - target, 0.0, hi, xtol=1e-12, rtol=1e-12))


def sd_from_se(se: float, n: int) -> float:
    """Between-participant standard deviation implied by a standard error over ``n`` participants."""
    return se * math.sqrt(n)


def amt_power(p_a: float, p_b: float, sd: float, n_participants: int, *, comparison: str, basis: str,
              alpha: float = 0.05, target_power: float = 0.8) -> PowerResult:
    """Two algorithms' "% labelled real" ``p_a``, ``p_b`` (percent) with per-participant sd ``sd`` (percent)."""
    analysis = TTestIndPower()
    d = abs(p_a - p_b) / sd
    power = _power(lambda: analysis.power(effect_size=d, nobs1=n_participants, alpha=alpha, ratio=1.0), d, alpha)
    n = _solve_n(lambda: analysis.solve_power(effect_size=d, power=target_power, alpha=alpha, ratio=1.0),
                 _power(lambda: analysis.power(effect_size=d, nobs1=2, alpha=alpha, ratio=1.0), d, alpha),
                 target_power, 2) if d > 0 else None
    d_min = _solve_effect(lambda e: _power(lambda: analysis.power(effect_size=e, nobs1=n_participants, alpha=alpha,
                                                                   ratio=1.0), e, alpha), target_power)
    return PowerResult("amt", comparison, p_a - p_b, d, n_participants, alpha, power, target_power, n, d_min * sd,
                       basis)


def best_of_power(shares: np.ndarray, n_participants: int, answers_per_participant: int, *, comparison: str,
                  basis: str, alpha: float = 0.05, target_power: float = 0.8) -> PowerResult:
    """Vote shares ``(K,)`` (summing to 1) against uniform; one observation per scored answer."""
    shares = np.asarray(shares, float) / np.sum(shares)
    k = len(shares)
    uniform = np.full(k, 1.0 / k)
    w = float(chisquare_effectsize(uniform, shares))
    analysis = GofChisquarePower()
    nobs = n_participants * answers_per_participant
    power = _power(lambda: analysis.power(effect_size=w, nobs=nobs, alpha=alpha, n_bins=k), w, alpha)
    n_obs = _solve_n(lambda: analysis.solve_power(effect_size=w, nobs=None, alpha=alpha, power=target_power,
                                                  n_bins=k),
                     _power(lambda: analysis.power(effect_size=w, nobs=k, alpha=alpha, n_bins=k), w, alpha),
                     target_power, k) if w > 0 else None
    n = None if n_obs is None else int(math.ceil(n_obs / answers_per_participant))
    w_min = _solve_effect(lambda e: _power(lambda: analysis.power(effect_size=e, nobs=nobs, alpha=alpha, n_bins=k), e,
                                           alpha), target_power)
    return PowerResult("best_of", comparison, float(shares.max() - 1.0 / k) * 100, w, n_participants, alpha, power,
                       target_power, n, w_min, basis)


def mos_power(diff: float, sd_diff: float, n_raters: int, *, comparison: str, basis: str, alpha: float = 0.05,
              target_power: float = 0.8) -> PowerResult:
    """MOS difference ``diff`` of two methods with sd ``sd_diff`` of the raters' paired mean differences."""
    analysis = TTestPower()
    dz = abs(diff) / sd_diff if sd_diff > 0 else math.inf
    effective = n_raters * WILCOXON_ARE
    if math.isinf(dz):
        power, n = 1.0, 2
    else:
        power = _power(lambda: analysis.power(effect_size=dz, nobs=effective, alpha=alpha), dz, alpha)
        n_t = _solve_n(lambda: analysis.solve_power(effect_size=dz, power=target_power, alpha=alpha),
                       _power(lambda: analysis.power(effect_size=dz, nobs=2, alpha=alpha), dz, alpha),
                       target_power, 2) if dz > 0 else None
        n = None if n_t is None else int(math.ceil(n_t / WILCOXON_ARE))
    dz_min = _solve_effect(lambda e: _power(lambda: analysis.power(effect_size=e, nobs=effective, alpha=alpha), e,
                                            alpha), target_power)
    return PowerResult("mos", comparison, diff, dz, n_raters, alpha, power, target_power, n, dz_min * sd_diff, basis)
