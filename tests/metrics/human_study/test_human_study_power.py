"""Power analysis (statsmodels) against independent checks, and the observer calibration recovering a known value."""

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from scipy import stats

from metrics.human_study.calibration import Target, fit_observer
from metrics.human_study.observer import ObserverParams, choose, draw_participants, expected_fooled
from metrics.human_study.power import amt_power, best_of_power, mos_power, sd_from_se


def test_amt_power_matches_the_noncentral_t_formula_and_a_pinned_value():
    sd = math.sqrt((sd_from_se(1.3, 50) ** 2 + sd_from_se(1.0, 50) ** 2) / 2)
    result = amt_power(6.1, 2.8, sd, 50, comparison="pix2pix photo→map", basis="Table 4")
    d, n = 3.3 / sd, 50
    df, nc = 2 * n - 2, d * math.sqrt(n / 2)
    crit = stats.t.ppf(0.975, df)
    expected = 1 - stats.nct.cdf(crit, df, nc) + stats.nct.cdf(-crit, df, nc)  # restated two-sample t power
    assert result.power == pytest.approx(expected, rel=1e-6)
    assert result.power == pytest.approx(0.5134, abs=1e-3)  # pinned: the paper's "not significant" had ~51% power
    assert result.n_for_target == 98
    again = amt_power(6.1, 2.8, sd, result.n_for_target, comparison="", basis="")
    assert again.power >= 0.8 > amt_power(6.1, 2.8, sd, result.n_for_target - 1, comparison="", basis="").power


def test_amt_power_agrees_with_a_monte_carlo_of_the_t_test():
    rng, n, sd, reps = np.random.default_rng(0), 25, 14.0, 2000
    rejections = sum(stats.ttest_ind(rng.normal(36.8, sd, n), rng.normal(26.8, sd, n)).pvalue < 0.05
                     for _ in range(reps))
    assert amt_power(36.8, 26.8, sd, n, comparison="", basis="").power == pytest.approx(rejections / reps, abs=0.04)


def test_an_unreachable_sample_size_is_none_without_a_warning_on_screen():
    # In a fresh interpreter: statsmodels imports sm_exceptions (which sets global "always" filters) only when its
    # root finder first fails, i.e. inside the power module's own warning guard.
    code = ("import warnings; warnings.simplefilter('error')\n"
            "from metrics.human_study.power import amt_power\n"
            "r = amt_power(50.0, 50.0 - 1e-14, 10.0, 50, comparison='', basis='')\n"
            "print(r.n_for_target, r.power < 0.06)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout.split(), done.stderr) == (0, ["None", "True"], "")


def test_best_of_and_mos_power_match_their_formulas():
    shares = np.array([0.2, 0.3, 0.5])
    result = best_of_power(shares, 10, 3, comparison="", basis="")
    w = math.sqrt(((shares - 1 / 3) ** 2 / (1 / 3)).sum())
    crit = stats.chi2.ppf(0.95, 2)
    assert result.effect_size == pytest.approx(w)
    assert result.power == pytest.approx(1 - stats.ncx2.cdf(crit, 2, 30 * w * w), rel=1e-6)
    mos = mos_power(0.3, 0.6, 26, comparison="", basis="")
    n_eff, dz = 26 * 3 / math.pi, 0.5
    crit = stats.t.ppf(0.975, n_eff - 1)
    nct = stats.nct(n_eff - 1, dz * math.sqrt(n_eff))
    assert mos.power == pytest.approx(1 - nct.cdf(crit) + nct.cdf(-crit), rel=1e-6)
    assert mos_power(0.0, 0.6, 26, comparison="", basis="").power == 0.05  # no effect: the level


def test_expected_fooled_matches_simulated_choices():
    params, rng = ObserverParams(noise=0.8, lapse=0.05, bias_sd=0.3), np.random.default_rng(0)
    diff = rng.normal(-1.0, 0.5, size=20000)
    people = draw_participants(400, params, np.random.default_rng(0))
    who = rng.integers(0, 400, size=len(diff))
    fake_left = rng.random(len(diff)) < 0.5
    utilities = np.where(fake_left[:, None], np.stack([diff, np.zeros_like(diff)], 1),
                         np.stack([np.zeros_like(diff), diff], 1))
    chosen = choose(utilities, who, people, params, rng)
    simulated = np.mean(chosen == np.where(fake_left, 0, 1))
    assert expected_fooled(diff, params, n_people=400, seed=0) == pytest.approx(simulated, abs=0.01)


@pytest.mark.parametrize("link", ["probit", "logistic"])
def test_calibration_recovers_a_known_noise(link):
    truth = ObserverParams(link=link, noise=0.7)
    rng = np.random.default_rng(2)
    diffs = [rng.normal(m, 0.7, 300) for m in (-2.0, -1.0, -0.3)]
    targets = [Target(f"t{i}", 100 * expected_fooled(d, truth), "synthetic",
                      lambda p, d=d: 100 * expected_fooled(d, p)) for i, d in enumerate(diffs)]
    fit = fit_observer(ObserverParams(link=link, noise=2.0), ["noise"], targets)
    assert fit.params.noise == pytest.approx(0.7, rel=0.02) and fit.rmse < 0.05 and fit.dof == 2
    with pytest.raises(ValueError, match="cannot fit"):
        fit_observer(truth, ["link"], targets)


@pytest.mark.parametrize("n, alpha", [(50, 0.05), (1000, 0.2), (300, 0.001), (3, 0.05)])
def test_the_minimal_detectable_effect_has_the_target_power_where_statsmodels_solve_fails(n, alpha):
    # At (1000, 0.2) and (300, 0.001) statsmodels' solve_power falls back to fsolve and returns a 1-element array,
    # which float() refused (TypeError: a crash of the MOS design table); here the MDE is solved on the power itself.
    mos = mos_power(0.3, 1.0, n, comparison="", basis="", alpha=alpha)
    n_eff = n * 3 / math.pi
    crit = stats.t.ppf(1 - alpha / 2, n_eff - 1)
    nct = stats.nct(n_eff - 1, mos.mde * math.sqrt(n_eff))  # restated paired t power at the MDE (sd 1)
    assert 1 - nct.cdf(crit) + nct.cdf(-crit) == pytest.approx(0.8, abs=1e-6)
    amt = amt_power(50.0, 40.0, 10.0, n, comparison="", basis="", alpha=alpha)
    df, nc = 2 * n - 2, amt.mde / 10.0 * math.sqrt(n / 2)
    crit = stats.t.ppf(1 - alpha / 2, df)
    assert 1 - stats.nct.cdf(crit, df, nc) + stats.nct.cdf(-crit, df, nc) == pytest.approx(0.8, abs=1e-6)
    best = best_of_power(np.array([0.5, 0.3, 0.2]), n, 3, comparison="", basis="", alpha=alpha)
    crit = stats.chi2.ppf(1 - alpha, 2)
    assert 1 - stats.ncx2.cdf(crit, 2, 3 * n * best.mde ** 2) == pytest.approx(0.8, abs=1e-6)


def test_the_minimal_detectable_effect_matches_statsmodels_where_it_converges():
    from statsmodels.stats.power import TTestIndPower
    expected = TTestIndPower().solve_power(nobs1=50, power=0.8, alpha=0.05, ratio=1.0) * 10.0  # its power: 0.799997
    assert amt_power(50.0, 40.0, 10.0, 50, comparison="", basis="").mde == pytest.approx(expected, rel=1e-5)
    assert amt_power(50.0, 40.0, 10.0, 50, comparison="", basis="").mde == pytest.approx(5.6588, abs=1e-4)  # pinned


def test_a_tiny_effect_gives_an_unreachable_size_not_an_exception_under_an_error_filter():
    # statsmodels' solve_power warned (ConvergenceWarning) here, an exception under a caller's "error" filter
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = best_of_power(np.array([0.5 + 1e-9, 0.5 - 1e-9]), 30, 1, comparison="", basis="", alpha=0.001)
    assert result.n_for_target is None and result.power == pytest.approx(0.001, abs=1e-6)
    assert math.isfinite(result.mde) and result.mde > 0
