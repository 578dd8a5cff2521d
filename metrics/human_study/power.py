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
MAX_N = 1_000_000  # sample-size search ceiling (participants; best-of: scored answers per participant times this)
MAX_EFFECT = 1e6  # minimal-detectable-effect search ceiling (standardised units)


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


def _power(compute, effect: float, alpha: float) -> float:
    """Power of a test at ``effect``; ``alpha`` at no effect; 1 where statsmodels' noncentral tail underflows."""
    if effect <= 0:
        return alpha
    with warnings.catch_warnings(record=True):  # nan (handled below) comes with a warning: recorded, not filtered
        # (statsmodels' lazily imported sm_exceptions adds an "always" filter ahead of ours), and "always" here so a
        # caller's "error" filter does not turn it into an exception
        warnings.simplefilter("always")
        value = float(compute())
    return 1.0 if math.isnan(value) else value


def _smallest(power_at, target: float, lo: float, limit: float) -> float:
    """Smallest ``x >= lo`` at which the increasing ``power_at(x)`` reaches ``target``; inf when not by ``limit``.

    Sample sizes and minimal detectable effects are solved here, by bracketing and Brent's method on the power
    function itself, not with statsmodels' ``solve_power``: when its bracket fails it falls back to ``fsolve`` and
    returns a 1-element array (``float()`` of it raises under NumPy 2: the MOS design table at 1,000 raters and
    alpha 0.2 crashed) or a non-converged value with a warning.
    """
    if power_at(lo) >= target:
        return lo
    hi = max(2.0 * lo, 1.0)
    while power_at(hi) < target:
        if hi >= limit:
            return math.inf
        hi = min(2.0 * hi, limit)
    return float(brentq(lambda x: power_at(x) - target, lo, hi, xtol=1e-12, rtol=1e-12))


def _count(n: float, per: float = 1.0) -> int | None:
    """A solved sample size ``n`` as whole units of ``per`` observations; None when unreachable."""
    return None if not math.isfinite(n) else int(math.ceil(n / per))


def sd_from_se(se: float, n: int) -> float:
    """Between-participant standard deviation implied by a standard error over ``n`` participants."""
    return se * math.sqrt(n)


def amt_power(p_a: float, p_b: float, sd: float, n_participants: int, *, comparison: str, basis: str,
              alpha: float = 0.05, target_power: float = 0.8) -> PowerResult:
    """Two algorithms' "% labelled real" ``p_a``, ``p_b`` (percent) with per-participant sd ``sd`` (percent)."""
    analysis = TTestIndPower()
    d = abs(p_a - p_b) / sd

    def at(effect: float, n: float) -> float:
        return _power(lambda: analysis.power(effect_size=effect, nobs1=n, alpha=alpha, ratio=1.0), effect, alpha)

    power = at(d, n_participants)
    n = _count(_smallest(lambda m: at(d, m), target_power, 2, MAX_N)) if d > 0 else None
    d_min = _smallest(lambda e: at(e, n_participants), target_power, 0.0, MAX_EFFECT)
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

    def at(effect: float, n: float) -> float:
        return _power(lambda: analysis.power(effect_size=effect, nobs=n, alpha=alpha, n_bins=k), effect, alpha)

    power = at(w, nobs)
    n = _count(_smallest(lambda m: at(w, m), target_power, k, MAX_N * answers_per_participant),
               answers_per_participant) if w > 0 else None
    w_min = _smallest(lambda e: at(e, nobs), target_power, 0.0, MAX_EFFECT)
    return PowerResult("best_of", comparison, float(shares.max() - 1.0 / k) * 100, w, n_participants, alpha, power,
                       target_power, n, w_min, basis)


def mos_power(diff: float, sd_diff: float, n_raters: int, *, comparison: str, basis: str, alpha: float = 0.05,
              target_power: float = 0.8) -> PowerResult:
    """MOS difference ``diff`` of two methods with sd ``sd_diff`` of the raters' paired mean differences."""
    analysis = TTestPower()
    dz = abs(diff) / sd_diff if sd_diff > 0 else math.inf
    effective = n_raters * WILCOXON_ARE

    def at(effect: float, n: float) -> float:
        return _power(lambda: analysis.power(effect_size=effect, nobs=n, alpha=alpha), effect, alpha)

    if math.isinf(dz):
        power, n = 1.0, 2
    else:
        power = at(dz, effective)
        n = _count(_smallest(lambda m: at(dz, m), target_power, 2, MAX_N), WILCOXON_ARE) if dz > 0 else None
    dz_min = _smallest(lambda e: at(e, effective), target_power, 0.0, MAX_EFFECT)
    return PowerResult("mos", comparison, diff, dz, n_raters, alpha, power, target_power, n, dz_min * sd_diff, basis)
