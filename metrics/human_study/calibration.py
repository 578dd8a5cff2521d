"""Fitting the observer's free parameters to published study numbers, with the fit quality reported.

Each target pairs a published number (a "% labelled real" or a MOS) with a predictor: a function of the observer
parameters that gives the model's expected value for the same method, from that method's measured per-image
signals. ``fit_observer`` minimises the squared error over the chosen free parameters (``scipy.optimize.minimize``,
Powell within bounds) and returns every target's published and fitted value, the residuals and their RMSE, so a
poor fit is visible. Nothing is fitted unless asked: the defaults of ``ObserverParams`` are documented priors.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from metrics.human_study.observer import ObserverParams

BOUNDS = {  # parameter -> (low, high) searched
    "noise": (0.05, 20.0),
    "noise_spread": (0.0, 1.5),
    "bias_sd": (0.0, 2.0),
    "lapse": (0.0, 0.2),
    "w_reference": (0.0, 5.0),
}


@dataclass(frozen=True)
class Target:
    """A published number and the model's prediction of it.

    Attributes:
        label: What it is (``"pix2pix L1+cGAN, map→photo"``).
        published: The paper's value (percent for AMT, 1-5 for MOS).
        source: Paper, table and status tag.
        predict: ``params -> expected value`` in the same unit.
    """

    label: str
    published: float
    source: str
    predict: Callable[[ObserverParams], float]


@dataclass(frozen=True)
class Fit:
    """A calibration result.

    Attributes:
        params: The fitted parameters (the others kept from the start).
        free: Names of the fitted parameters.
        labels, published, fitted, sources: Per target.
        rmse: Root mean squared residual, in the targets' unit.
        max_abs_residual: Largest absolute residual.
        dof: Targets minus free parameters (<= 0: the fit is exactly determined and its RMSE says nothing).
    """

    params: ObserverParams
    free: tuple[str, ...]
    labels: tuple[str, ...]
    published: tuple[float, ...]
    fitted: tuple[float, ...]
    sources: tuple[str, ...]
    rmse: float
    max_abs_residual: float
    dof: int


def _with(params: ObserverParams, free: Sequence[str], values: np.ndarray) -> ObserverParams:
    return dataclasses.replace(params, **{name: float(v) for name, v in zip(free, values, strict=True)})


def fit_observer(start: ObserverParams, free: Sequence[str], targets: Sequence[Target]) -> Fit:
    """Least-squares fit of ``free`` parameters of ``start`` to ``targets``.

    Raises:
        ValueError: No targets, or an unknown free parameter.
    """
    if not targets:
        raise ValueError("calibration needs at least one target")
    unknown = [name for name in free if name not in BOUNDS]
    if unknown:
        raise ValueError(f"cannot fit {unknown}; fittable parameters: {', '.join(BOUNDS)}")
    published = np.array([t.published for t in targets], float)

    def predict(params: ObserverParams) -> np.ndarray:
        return np.array([t.predict(params) for t in targets], float)

    def loss(values: np.ndarray) -> float:
        return float(np.mean((predict(_with(start, free, values)) - published) ** 2))

    x0 = np.array([getattr(start, name) for name in free], float)
    bounds = [BOUNDS[name] for name in free]
    x0 = np.clip(x0, [b[0] for b in bounds], [b[1] for b in bounds])
    best = optimize.minimize(loss, x0, method="Powell", bounds=bounds, options={"xtol": 1e-4, "ftol": 1e-8})
    params = _with(start, free, best.x) if free else start
    fitted = predict(params)
    residuals = fitted - published
    return Fit(params=params, free=tuple(free), labels=tuple(t.label for t in targets),
               published=tuple(map(float, published)), fitted=tuple(map(float, fitted)),
               sources=tuple(t.source for t in targets), rmse=float(math.sqrt(np.mean(residuals ** 2))),
               max_abs_residual=float(np.abs(residuals).max()), dof=len(targets) - len(free))
