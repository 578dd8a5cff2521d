"""``study simulate``: the three protocol tables for the methods of a run, from the simulated observer.

The trial designs are the ones ``study export`` writes for real participants (``metrics.human_study.design``);
the simulated participants answer them (``metrics.human_study.observer``); the answers are scored by the same code
that scores imported real ratings (``harness.study.scoring``). Outputs go to ``<run>/study/`` (CSV tables marked
``simulated``, the power analysis, ``study.json`` with every parameter and seed) and become rows of
``metrics.csv`` whose protocol says ``simulated=true``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd

from harness.study.collect import StudyMaterial
from harness.study.config import StudyConfig
from metrics.human_study.design import ConditionPool, amt_trials, best_of_trials, mos_trials
from metrics.human_study.observer import ObserverParams, choose, draw_participants, rate, signal, to_scale
from metrics.human_study.tables import group_rng

RATING_COLUMNS = ("participant", "session", "trial_id", "response", "rt_ms")  # what the exported page writes
PROTOCOLS = ("amt", "best_of", "mos")


def pool_signal(material: StudyMaterial, keys: list[str] | tuple[str, ...], params: ObserverParams) -> np.ndarray:
    """The observer's signal of each image key."""
    z_real = np.array([material.z_real[k] for k in keys], float)
    z_ref = np.array([material.z_ref[k] for k in keys], float)
    return signal(z_real, z_ref, params)


def design(pool: ConditionPool, protocol: str, cfg: StudyConfig) -> pd.DataFrame:
    """The trial manifest of one protocol and condition (seeded by the study seed and the condition)."""
    rng = group_rng(cfg.seed, "design", protocol, pool.tag)
    if protocol == "amt":
        return amt_trials(pool, cfg.amt, rng)
    if protocol == "best_of":
        return best_of_trials(pool, cfg.best_of, rng)
    return mos_trials(pool, cfg.mos, rng)


def _choices(trials: pd.DataFrame, material: StudyMaterial, params: ObserverParams,
             rng: np.random.Generator) -> np.ndarray:
    options = trials["images"].str.split("|").tolist()
    width = len(options[0])
    utilities = pool_signal(material, [k for opts in options for k in opts], params).reshape(-1, width)
    who, sessions = pd.factorize(trials["session"])
    people = draw_participants(len(sessions), params, rng)
    return choose(utilities, who, people, params, rng) + 1


def _ratings(trials: pd.DataFrame, pool: ConditionPool, material: StudyMaterial, params: ObserverParams,
             rng: np.random.Generator) -> np.ndarray:
    low = float(pool_signal(material, pool.nearest, params).mean())
    high = max(float(pool_signal(material, pool.real, params).mean()), low + 1e-6)  # see check_signals
    u = to_scale(pool_signal(material, trials["images"].tolist(), params), low, high)
    who, sessions = pd.factorize(trials["session"])
    people = draw_participants(len(sessions), params, rng)
    scores = rate(u, who, people, params, rng)
    return np.where(trials["kind"] == "calibration", trials["answer"], scores)


def observer_for(protocol: str, cfg: StudyConfig) -> ObserverParams:
    """The observer parameters of ``protocol``."""
    return {"amt": cfg.amt_observer, "best_of": cfg.best_of_observer, "mos": cfg.mos_observer}[protocol]


def simulate_responses(material: StudyMaterial, cfg: StudyConfig) -> dict[str, tuple[pd.DataFrame, pd.DataFrame]]:
    """Per protocol: (trial manifest, simulated ratings with ``RATING_COLUMNS``), over every condition."""
    out = {}
    for protocol in PROTOCOLS:
        params = observer_for(protocol, cfg)
        manifests, ratings = [], []
        for pool in material.pools:
            trials = design(pool, protocol, cfg)
            if trials.empty:
                continue
            rng = group_rng(cfg.seed, "observer", protocol, pool.tag)
            if protocol == "mos":
                response = _ratings(trials, pool, material, params, rng)
            else:  # every trial of a condition has the same number of options
                response = _choices(trials, material, params, rng)
            manifests.append(trials)
            ratings.append(pd.DataFrame({"participant": "sim-" + trials["session"], "session": trials["session"],
                                         "trial_id": trials["trial_id"], "response": response.astype(int),
                                         "rt_ms": ""}))
        if manifests:
            out[protocol] = (pd.concat(manifests, ignore_index=True), pd.concat(ratings, ignore_index=True))
    return out


def parameters_record(cfg: StudyConfig, material: StudyMaterial) -> dict[str, object]:
    """Everything a simulated table depends on, for ``study.json``."""
    return {"simulated": True, "study": dataclasses.asdict(cfg), "settings": material.settings,
            "conditions": [p.tag for p in material.pools], "notes": material.notes}


def check_signals(material: StudyMaterial, warn: Callable[[str], None]) -> None:
    """Warns about conditions whose MOS anchors do not order (nearest_x4 looking as real as the real images)."""
    for pool in material.pools:
        low = np.mean([material.z_real[k] for k in pool.nearest])
        if low >= 0:
            warn(f"{pool.tag}: nearest_x4 anchors look as real as the real images (mean z_real {low:.2f}); "
                 "MOS of that condition is not meaningful")
