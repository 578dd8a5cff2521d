"""The power analysis of ``study simulate``.

The papers' designs from their published numbers, and the run's simulated comparisons, each as one
``metrics.human_study.power`` result.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from harness.study.config import StudyConfig
from harness.study.published_studies import AMT_PUBLISHED, BEST_OF_PUBLISHED, MOS_PUBLISHED, MOS_SOURCE, AMTResult
from metrics.human_study.design import NEAREST, REAL
from metrics.human_study.power import PowerResult, amt_power, best_of_power, mos_power, sd_from_se

PAPER_SIZES = {"pix2pix": 50, "CycleGAN": 25}  # participants per algorithm in the papers' AMT studies
REFERENCE = (REAL, NEAREST)
AMT_GRID = (2.0, 5.0, 10.0, 15.0)  # differences in "% labelled real" (percentage points) for the design table


def _pooled(*sds: float) -> float:
    return math.sqrt(sum(s * s for s in sds) / len(sds))


def _published(model: str, condition: str) -> AMTResult:
    return next(r for r in AMT_PUBLISHED if r.model == model and r.condition == condition)


def amt_design(cfg: StudyConfig) -> list[PowerResult]:
    """AMT at the papers' sizes: pix2pix's L1 vs L1+cGAN comparisons, and the detectable difference grid."""
    alpha, out = cfg.stats.alpha, []
    for condition, label in (("aerial2map", "photo→map"), ("map2aerial", "map→photo")):
        a, b = _published("pix2pix", condition), _published("pix2pix_l1", condition)
        sd = _pooled(sd_from_se(a.se, a.n), sd_from_se(b.se, b.n))
        out.append(amt_power(a.pct_real, b.pct_real, sd, a.n, alpha=alpha,
                             comparison=f"pix2pix L1+cGAN vs L1, {label}",
                             basis=f"means and SEs of {a.source}; sd = SE*sqrt(n)"))
    spreads = {"pix2pix": _published("pix2pix", "map2aerial"), "CycleGAN": _published("cyclegan", "map2aerial")}
    for paper, n in PAPER_SIZES.items():
        ref = spreads[paper]
        sd = sd_from_se(ref.se, ref.n)
        for delta in AMT_GRID:
            out.append(amt_power(ref.pct_real + delta, ref.pct_real, sd, n, alpha=alpha,
                                 comparison=f"{paper} size: +{delta:g} pp over {ref.pct_real:g}%",
                                 basis=f"sd {sd:.1f} pp from {ref.model} {ref.condition} ({ref.source})"))
    return out


def best_of_design(cfg: StudyConfig) -> list[PowerResult]:
    """StarGAN's published single-attribute vote shares at its size (146 participants, scored answers each)."""
    answers = cfg.best_of.n_questions - cfg.best_of.n_validation
    return [best_of_power(np.array(shares) / 100, cfg.best_of.n_participants, answers, alpha=cfg.stats.alpha,
                          comparison=f"StarGAN {attribute}: 4 methods vs no preference", basis=source)
            for attribute, (shares, source) in BEST_OF_PUBLISHED.items()]


def observed(tables: dict[str, pd.DataFrame], cfg: StudyConfig) -> list[PowerResult]:
    """Power of each comparison between the run's methods, at the simulated sizes, from the simulated spread.

    Comparisons with the reference versions (``real_data``, ``nearest_x4``) are not repeated here: they are the
    sanity rows and their power is 1 at any size.
    """
    alpha, out = cfg.stats.alpha, []
    amt = tables.get("amt")
    if amt is not None:
        sd = {(r.task, r.condition, r.seed, r.method): sd_from_se(r.se, r.n_participants)
              for r in amt.itertuples() if not math.isnan(r.se)}
        for t in tables["amt_tests"].itertuples():
            if t.method_a in REFERENCE or t.method_b in REFERENCE:
                continue
            key_a, key_b = (t.task, t.condition, t.seed, t.method_a), (t.task, t.condition, t.seed, t.method_b)
            spread = _pooled(sd.get(key_a, 0.0), sd.get(key_b, 0.0))
            if spread > 0:
                a = amt.set_index(["task", "condition", "seed", "method"]).loc[key_a]
                out.append(amt_power(a.pct_real, a.pct_real - t.diff_pp, spread, int(a.n_participants), alpha=alpha,
                                     comparison=f"{t.task}/{t.condition}/s{t.seed}: {t.method_a} vs {t.method_b}",
                                     basis="simulated observer (this run)"))
    best_of = tables.get("best_of", pd.DataFrame(columns=["task", "condition", "seed"]))
    for key, group in best_of.groupby(["task", "condition", "seed"]):
        answers = cfg.best_of.n_questions - cfg.best_of.n_validation
        out.append(best_of_power(group["votes"].to_numpy(float) / group["votes"].sum(),
                                 int(group["n_participants"].iloc[0]), answers, alpha=alpha,
                                 comparison=f"{key[0]}/{key[1]}/s{key[2]}: {len(group)} methods vs no preference",
                                 basis="simulated observer (this run)"))
    for t in tables.get("mos_tests", pd.DataFrame()).itertuples():
        if not math.isnan(t.sd_rater_diff) and t.method_a not in REFERENCE and t.method_b not in REFERENCE:
            out.append(mos_power(t.diff, t.sd_rater_diff, int(t.n_raters), alpha=alpha,
                                 comparison=f"{t.task}/{t.condition}/s{t.seed}: {t.method_a} vs {t.method_b}",
                                 basis="simulated observer (this run)"))
    return out


def mos_design(tables: dict[str, pd.DataFrame], cfg: StudyConfig) -> list[PowerResult]:
    """SRGAN's SRResNet vs SRGAN MOS differences at 26 raters, with the rater spread the simulation shows."""
    tests = tables.get("mos_tests")
    if tests is None:
        return []
    methods = tests[~tests["method_a"].isin(REFERENCE) & ~tests["method_b"].isin(REFERENCE)]
    spread = (methods if len(methods) else tests)["sd_rater_diff"].dropna()
    if spread.empty:
        return []
    sd = float(spread.median())
    return [mos_power(v["srgan"] - v["srresnet"], sd, cfg.mos.n_raters, alpha=cfg.stats.alpha,
                      comparison=f"SRGAN vs SRResNet, {name}", basis=f"{MOS_SOURCE}; rater sd {sd:.2f} (simulated)")
            for name, v in MOS_PUBLISHED.items()]


def power_table(tables: dict[str, pd.DataFrame], cfg: StudyConfig) -> pd.DataFrame:
    """Every power result as a table (``metrics.human_study.power.PowerResult`` fields)."""
    results = amt_design(cfg) + best_of_design(cfg) + mos_design(tables, cfg) + observed(tables, cfg)
    return pd.DataFrame([r.to_dict() for r in results])
