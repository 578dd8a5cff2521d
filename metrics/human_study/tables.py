"""The three protocols' tables from responses (simulated or real), with scipy.stats for every test and interval.

``responses`` is a trial manifest (``design.TRIAL_COLUMNS``) joined with the ratings: plus ``participant`` (str)
and ``response`` (int: clicked 1-based position, or the 1-5 score). Every table is grouped by
``(task, condition, seed)``. Bootstrap intervals are percentile intervals from ``scipy.stats.bootstrap`` over
participants (the unit the papers sample); the bootstrap test of a difference is two-sided,
``p = 2 min(P*(diff <= 0), P*(diff >= 0))`` over the same bootstrap distribution, so ``p < alpha`` exactly when the
``1 - alpha`` percentile interval excludes 0. Each group's resampling generator is seeded from ``stats_seed`` and
the group's key, so the same responses always give the same tables.
"""

from __future__ import annotations

import hashlib
import itertools
import math

import numpy as np
import pandas as pd
from scipy import stats

from metrics.human_study.protocols import BestOfProtocol, StatsConfig

GROUP = ["task", "condition", "seed"]
AMT_COLUMNS = [*GROUP, "method", "n_participants", "n_trials", "pct_real", "se", "ci_low", "ci_high"]
AMT_TEST_COLUMNS = [*GROUP, "method_a", "method_b", "diff_pp", "ci_low", "ci_high", "p_value", "significant"]
BEST_OF_COLUMNS = [*GROUP, "method", "n_participants", "n_rejected", "n_answers", "votes", "pct_best", "ci_low",
                   "ci_high"]
BEST_OF_TEST_COLUMNS = [*GROUP, "n_methods", "chi2", "dof", "p_value", "significant"]
MOS_COLUMNS = [*GROUP, "method", "n_raters", "n_ratings", "mos", "std", "ci_low", "ci_high"]
MOS_TEST_COLUMNS = [*GROUP, "method_a", "method_b", "mos_a", "mos_b", "diff", "n_raters", "sd_rater_diff",
                    "wilcoxon_p", "mannwhitney_p", "significant"]


def group_rng(stats_seed: int, *key: object) -> np.random.Generator:
    """A generator seeded from ``stats_seed`` and a group key (stable across runs and processes)."""
    digest = hashlib.sha256(repr((stats_seed, *map(str, key))).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def chosen_option(responses: pd.DataFrame) -> pd.Series:
    """The option name at each response's clicked position (``options`` split on ``|``)."""
    return pd.Series([opts.split("|")[r - 1] for opts, r in zip(responses["options"], responses["response"],
                                                                  strict=True)], index=responses.index, dtype=object)


def bootstrap_mean_ci(values: np.ndarray, cfg: StatsConfig, rng: np.random.Generator) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` ``(n,)`` (a point interval when constant)."""
    values = np.asarray(values, float)
    if len(values) < 2 or np.ptp(values) == 0:
        return float(values.mean()), float(values.mean())
    res = stats.bootstrap((values,), np.mean, n_resamples=cfg.n_resamples, confidence_level=cfg.confidence,
                          method="percentile", rng=rng)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def bootstrap_difference(a: np.ndarray, b: np.ndarray, cfg: StatsConfig,
                         rng: np.random.Generator) -> tuple[float, float, float]:
    """Two-sample bootstrap of ``mean(a) - mean(b)`` (independent samples): ``(ci_low, ci_high, p_value)``.

    NaN when a sample has fewer than two participants; a point interval and ``p = 1`` when every value is equal.
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    if min(len(a), len(b)) < 2:  # no resampling distribution from one participant
        return math.nan, math.nan, math.nan
    if np.ptp(np.concatenate([a, b])) == 0:
        return 0.0, 0.0, 1.0
    res = stats.bootstrap((a, b), lambda x, y, axis: x.mean(axis) - y.mean(axis), n_resamples=cfg.n_resamples,
                          confidence_level=cfg.confidence, method="percentile", rng=rng, paired=False)
    dist = res.bootstrap_distribution
    p = min(1.0, 2.0 * min(float((dist <= 0).mean()), float((dist >= 0).mean())))
    return float(res.confidence_interval.low), float(res.confidence_interval.high), p


def amt_tables(responses: pd.DataFrame, cfg: StatsConfig, stats_seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """"% labelled real" per method (mean ± SE over participants, bootstrap CI) and bootstrap tests between methods.

    A scored trial counts as "labelled real" when the clicked image is the fake (the option named by ``method``).
    """
    scored = responses[(responses["protocol"] == "amt") & (responses["kind"] == "scored")]
    scored = scored.assign(fooled=(chosen_option(scored) == scored["method"]).astype(float))
    rates = scored.groupby([*GROUP, "method", "participant"], sort=False)["fooled"].mean()
    counts = scored.groupby([*GROUP, "method"], sort=False).size()
    table, tests = [], []
    for key, group in rates.groupby(level=[*GROUP, "method"], sort=False):
        values = group.to_numpy()
        low, high = bootstrap_mean_ci(values, cfg, group_rng(stats_seed, "amt", *key))
        se = 100 * values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else math.nan
        table.append([*key, len(values), int(counts[key]), 100 * values.mean(), se, 100 * low, 100 * high])
    for key, group in rates.groupby(level=GROUP, sort=False):
        per_method = {m: g.to_numpy() for m, g in group.groupby(level="method", sort=False)}
        for a, b in itertools.combinations(per_method, 2):
            low, high, p = bootstrap_difference(per_method[a], per_method[b], cfg,
                                                group_rng(stats_seed, "amt-test", *key, a, b))
            diff = 100 * (per_method[a].mean() - per_method[b].mean())
            tests.append([*key, a, b, diff, 100 * low, 100 * high, p, bool(p < cfg.alpha)])
    return pd.DataFrame(table, columns=AMT_COLUMNS), pd.DataFrame(tests, columns=AMT_TEST_COLUMNS)


def validation_rejects(responses: pd.DataFrame, protocol: BestOfProtocol) -> pd.Series:
    """Per ``(task, condition, seed, participant)``: whether best-of validation answers reject the participant."""
    val = responses[(responses["protocol"] == "best_of") & (responses["kind"] == "validation")]
    wrong = (val["response"] != val["answer"]).groupby([val[c] for c in [*GROUP, "participant"]], sort=False).sum()
    return wrong > protocol.max_validation_errors


def best_of_tables(responses: pd.DataFrame, protocol: BestOfProtocol, cfg: StatsConfig,
                   stats_seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """"% of votes for best" per method among validated participants, bootstrap CI, chi-square test vs uniform."""
    sub = responses[(responses["protocol"] == "best_of") & (responses["kind"] == "scored")]
    sub = sub.assign(chosen=chosen_option(sub))
    rejected = validation_rejects(responses, protocol)
    keys = pd.MultiIndex.from_frame(sub[[*GROUP, "participant"]])
    sub = sub[~keys.isin(rejected[rejected].index)]
    table, tests = [], []
    for key, group in sub.groupby(GROUP, sort=False):
        methods = list(dict.fromkeys(o for opts in group["options"] for o in opts.split("|")))
        answers = group.groupby("participant", sort=False).size()
        n_rejected = int(sum(v for k, v in rejected.items() if tuple(k[:3]) == tuple(key)))
        votes = []
        for method in methods:
            per = (group["chosen"] == method).groupby(group["participant"], sort=False).sum().reindex(answers.index)
            votes.append(int(per.sum()))
            low, high = _ratio_ci(per.to_numpy(float), answers.to_numpy(float), cfg,
                                  group_rng(stats_seed, "best_of", *key, method))
            table.append([*key, method, len(answers), n_rejected, int(answers.sum()), votes[-1],
                          100 * votes[-1] / answers.sum(), 100 * low, 100 * high])
        chi2, p = stats.chisquare(votes)
        tests.append([*key, len(methods), float(chi2), len(methods) - 1, float(p), bool(p < cfg.alpha)])
    return pd.DataFrame(table, columns=BEST_OF_COLUMNS), pd.DataFrame(tests, columns=BEST_OF_TEST_COLUMNS)


def _ratio_ci(votes: np.ndarray, answers: np.ndarray, cfg: StatsConfig,
              rng: np.random.Generator) -> tuple[float, float]:
    """Percentile bootstrap over participants of ``sum(votes) / sum(answers)``."""
    ratios = votes / answers
    if len(votes) < 2 or np.ptp(ratios) == 0:
        value = float(votes.sum() / answers.sum())
        return value, value
    res = stats.bootstrap((votes, answers), lambda v, n, axis: v.sum(axis) / n.sum(axis), paired=True,
                          n_resamples=cfg.n_resamples, confidence_level=cfg.confidence, method="percentile", rng=rng)
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def mos_tables(responses: pd.DataFrame, cfg: StatsConfig, stats_seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """MOS mean and standard deviation per method (bootstrap CI over raters), and tests between methods.

    Between every two methods: the paired two-sided Wilcoxon signed-rank test over (rater, image) pairs and the
    Mann-Whitney U test over all ratings.
    """
    scored = responses[(responses["protocol"] == "mos") & (responses["kind"] == "scored")]
    table, tests = [], []
    for key, group in scored.groupby(GROUP, sort=False):
        ratings = {m: g for m, g in group.groupby("method", sort=False)}
        for method, g in ratings.items():
            per_rater = g.groupby("participant", sort=False)["response"].mean().to_numpy(float)
            low, high = bootstrap_mean_ci(per_rater, cfg, group_rng(stats_seed, "mos", *key, method))
            values = g["response"].to_numpy(float)
            std = values.std(ddof=1) if len(values) > 1 else math.nan
            table.append([*key, method, len(per_rater), len(values), values.mean(), std, low, high])
        for a, b in itertools.combinations(ratings, 2):
            x = ratings[a].set_index(["participant", "item"])["response"]
            y = ratings[b].set_index(["participant", "item"])["response"].reindex(x.index)
            matched = y.notna().to_numpy()
            pairs = (x - y)[matched]
            diff = pairs.to_numpy(float)
            per_rater = pairs.groupby(level="participant", sort=False).mean()
            sd_rater = float(per_rater.std(ddof=1)) if len(per_rater) > 1 else math.nan
            w_p = float(stats.wilcoxon(diff).pvalue) if np.any(diff != 0) else 1.0
            u_p = float(stats.mannwhitneyu(ratings[a]["response"], ratings[b]["response"]).pvalue)
            mean_a, mean_b = ratings[a]["response"].mean(), ratings[b]["response"].mean()
            tests.append([*key, a, b, mean_a, mean_b, mean_a - mean_b, len(per_rater), sd_rater, w_p, u_p,
                          bool(w_p < cfg.alpha)])
    return pd.DataFrame(table, columns=MOS_COLUMNS), pd.DataFrame(tests, columns=MOS_TEST_COLUMNS)
