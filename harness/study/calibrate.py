"""``study calibrate``: fit the simulated observers to the papers' numbers for the methods this run has.

AMT: each published "% labelled real" whose model, task and direction the run contains (pix2pix, its L1 ablation
and CycleGAN on ``maps``; ``published_studies.AMT_PUBLISHED``) is a target; the model's prediction is the expected
rate over every (fake, real) pair of that condition's images. MOS: SRGAN's nearest-neighbour and HR means (over its
three data sets) are targets for every condition's ``nearest_x4`` and ``real_data`` versions, plus the SRGAN and
SRResNet cells when the run has such models. The free parameters are fitted by least squares
(``metrics.human_study.calibration``); the fit (published vs fitted per target, RMSE, degrees of freedom) is written
to ``study/calibration.csv`` and ``study/calibration.json``, and ``study simulate --calibrated`` uses it.
"""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path

import numpy as np
import pandas as pd

from harness.core import atomic
from harness.core.csv_files import write_csv
from harness.core.errors import HarnessError
from harness.study.collect import StudyMaterial
from harness.study.config import StudyConfig
from harness.study.published_studies import AMT_PUBLISHED, MOS_PUBLISHED, MOS_SOURCE
from harness.study.simulate import pool_signal
from metrics.human_study.calibration import BOUNDS, Fit, Target, fit_observer
from metrics.human_study.design import NEAREST, REAL
from metrics.human_study.observer import ObserverParams, expected_fooled, expected_rating, to_scale

MAX_PAIRS = 4000  # (fake, real) pairs per AMT target: a fixed subsample keeps each prediction fast


def _amt_predictor(material: StudyMaterial, pool, method: str):
    fakes, reals = pool.methods[method], pool.real
    rng = np.random.default_rng(0)
    i = rng.integers(0, len(fakes), MAX_PAIRS)
    j = rng.integers(0, len(reals), MAX_PAIRS)

    def predict(params: ObserverParams) -> float:
        diff = pool_signal(material, fakes, params)[i] - pool_signal(material, reals, params)[j]
        return 100.0 * expected_fooled(diff, params, n_people=200)
    return predict


def amt_targets(material: StudyMaterial) -> list[Target]:
    """Published AMT cells the run has a method and condition for."""
    targets = []
    for pub in AMT_PUBLISHED:
        for pool in material.pools:
            if pool.task == pub.task and pool.condition == pub.condition and pub.model in pool.methods:
                targets.append(Target(f"{pub.model} {pub.task}/{pub.condition} s{pool.seed}", pub.pct_real,
                                      pub.source, _amt_predictor(material, pool, pub.model)))
    return targets


def _mos_predictor(material: StudyMaterial, pools: list, version: str):
    def predict(params: ObserverParams) -> float:
        values = []
        for pool in pools:
            keys = {REAL: pool.real, NEAREST: pool.nearest}.get(version) or pool.methods[version]
            low = float(pool_signal(material, pool.nearest, params).mean())
            high = max(float(pool_signal(material, pool.real, params).mean()), low + 1e-6)
            values.append(expected_rating(to_scale(pool_signal(material, keys, params), low, high), params,
                                          n_people=200))
        return float(np.mean(values))
    return predict


def mos_targets(material: StudyMaterial) -> list[Target]:
    """SRGAN's anchor means for every condition, and its model cells where the run has those models."""
    targets = []
    for version in (NEAREST, REAL, "srresnet", "srgan"):
        pools = [p for p in material.pools if version in (NEAREST, REAL) or version in p.methods]
        if pools:
            mean = statistics.fmean(v[version] for v in MOS_PUBLISHED.values())
            targets.append(Target(f"{version} (mean of SRGAN's 3 data sets; {len(pools)} conditions here)", mean,
                                  MOS_SOURCE, _mos_predictor(material, pools, version)))
    return targets


def free_parameters(option: str, text: str) -> tuple[str, ...]:
    """The comma-separated observer parameters of ``--free-amt`` / ``--free-mos``, checked before any work.

    Raises:
        HarnessError: An empty list, a repeated name, or a name that cannot be fitted (the fittable ones listed).
    """
    names = tuple(name.strip() for name in text.split(","))
    unknown = [name for name in names if name not in BOUNDS]
    if unknown or not names:
        raise HarnessError(f"{option} {text!r}: cannot fit {', '.join(map(repr, unknown))}; expected a comma-separated "
                           f"list of {', '.join(BOUNDS)}")
    if len(set(names)) != len(names):
        raise HarnessError(f"{option} {text!r}: a parameter is named twice; name each once")
    return names


def _fit_record(protocol: str, fit: Fit) -> dict[str, object]:
    return {"protocol": protocol, "params": dataclasses.asdict(fit.params), "free": list(fit.free),
            "rmse": fit.rmse, "max_abs_residual": fit.max_abs_residual, "dof": fit.dof,
            "targets": [{"target": lab, "published": p, "fitted": f, "residual": f - p, "source": s}
                        for lab, p, f, s in zip(fit.labels, fit.published, fit.fitted, fit.sources, strict=True)]}


def calibrate(material: StudyMaterial, cfg: StudyConfig, study_dir: Path, free: dict[str, tuple[str, ...]]
              ) -> dict[str, dict[str, object]]:
    """Fits the AMT and MOS observers; writes ``calibration.json`` and ``calibration.csv`` into ``study_dir``.

    Raises:
        HarnessError: No published number matches anything in the run.
    """
    records = {}
    amt = amt_targets(material)
    if amt:
        records["amt"] = _fit_record("amt", fit_observer(cfg.amt_observer, free["amt"], amt))
    mos = mos_targets(material)
    if mos:
        records["mos"] = _fit_record("mos", fit_observer(cfg.mos_observer, free["mos"], mos))
    if not records:
        raise HarnessError("study calibrate: no published study number matches a method and condition of this run")
    study_dir.mkdir(parents=True, exist_ok=True)
    atomic.write_json(study_dir / "calibration.json", records)
    table = pd.DataFrame([{"protocol": name, **t, "free": ",".join(r["free"]), "rmse": r["rmse"], "dof": r["dof"]}
                          for name, r in records.items() for t in r["targets"]])
    write_csv(study_dir / "calibration.csv", table)
    return records


def calibrated_config(cfg: StudyConfig, path: Path) -> StudyConfig:
    """``cfg`` with the observers replaced by the fitted ones in ``calibration.json``."""
    if not path.is_file():
        raise HarnessError(f"--calibrated: {str(path)!r} not found (run `study calibrate --run DIR` first)")
    import json

    records = json.loads(path.read_text())
    out = cfg
    for name, field in (("amt", "amt_observer"), ("mos", "mos_observer")):
        if name in records:
            out = dataclasses.replace(out, **{field: ObserverParams(**records[name]["params"])})
    return out
