"""The simulated observer: a documented psychophysical model, never a person. Every table it fills is labelled.

Each simulated participant ``p`` perceives an image ``x`` through its signal (``metrics.human_study.signals``)

    s(x) = w_realism * z_real(x) + w_reference * z_ref(x)

plus that participant's own noise and bias:

- **Choices** (AMT real-vs-fake with K = 2 options, best-of-N with K = N): the utility of option ``k`` on a trial is
  ``U_k = s(x_k) + b_p * [k = first] + sigma_p * e_k`` and the participant picks the largest. ``e_k`` is standard
  normal for the ``probit`` link (Thurstone case V: for two options ``P = Phi(d / (sigma_p sqrt 2))``) or standard
  Gumbel for the ``logistic`` link (Luce / Bradley-Terry: ``P = softmax(s / sigma_p)``). ``b_p`` is a position
  bias (towards the left / first image).
- **Ratings** (MOS): the signal is first put on the rating scale by the anchors the raters were calibrated on
  (SRGAN: nearest-neighbour = 1, HR = 5): ``u = 1 + 4 (s - s_nearest) / (s_HR - s_nearest)``; then
  ``q = u + b_p + sigma_p * e`` (``b_p``: leniency) and the rating is ``q`` rounded and clipped to 1..5, i.e. an
  ordered-probit (or ordered-logit) model with cut points 1.5, 2.5, 3.5, 4.5.
- ``sigma_p = noise * exp(noise_spread * z_p)`` (log-normal across participants), ``b_p ~ N(0, bias_sd^2)``.
- With probability ``lapse`` a response is a uniform guess; a ``careless_fraction`` of participants guess on
  every trial (what validation questions are for).

All randomness comes from an explicit ``numpy.random.Generator``; the parameters and the seed go into every
simulated row's protocol string.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import special, stats

from metrics.human_study.protocols import MOS_MAX, MOS_MIN

Link = Literal["probit", "logistic"]


@dataclass(frozen=True)
class ObserverParams:
    """Parameters of the simulated observer (see the module docstring for the model)."""

    link: Link = "probit"  # probit: Thurstone (normal noise); logistic: Bradley-Terry / ordered logit
    noise: float = 1.0  # median sigma_p, in units of the signal (z_real: real-image standard deviations)
    noise_spread: float = 0.3  # log-normal spread of sigma_p across participants
    bias_sd: float = 0.2  # sd of the per-participant bias (position bias for choices, leniency for ratings)
    lapse: float = 0.02  # probability of a uniform guess on a trial
    careless_fraction: float = 0.0  # participants who guess on every trial
    w_realism: float = 1.0  # weight of z_real (distance to the real-image manifold)
    w_reference: float = 0.0  # weight of z_ref (distance to the true counterpart; 0 where it is not shown)


def describe(params: ObserverParams) -> str:
    """A compact ``name=value`` description for protocol strings (``,``-separated: protocol strings use ``;``)."""
    return (f"link={params.link}, noise={params.noise:g}, noise_spread={params.noise_spread:g}, "
            f"bias_sd={params.bias_sd:g}, lapse={params.lapse:g}, careless={params.careless_fraction:g}, "
            f"w_realism={params.w_realism:g}, w_reference={params.w_reference:g}")


def signal(z_real: np.ndarray, z_ref: np.ndarray, params: ObserverParams) -> np.ndarray:
    """The perceived signal ``s = w_realism * z_real + w_reference * z_ref`` (same shapes)."""
    return params.w_realism * np.asarray(z_real, float) + params.w_reference * np.asarray(z_ref, float)


@dataclass(frozen=True)
class Participants:
    """Per-participant draws: ``noise`` sigma_p, ``bias`` b_p, ``careless`` flags, each ``(P,)``."""

    noise: np.ndarray
    bias: np.ndarray
    careless: np.ndarray


def draw_participants(n: int, params: ObserverParams, rng: np.random.Generator) -> Participants:
    """Draws ``n`` simulated participants."""
    noise = params.noise * np.exp(params.noise_spread * rng.standard_normal(n))
    bias = params.bias_sd * rng.standard_normal(n)
    careless = rng.random(n) < params.careless_fraction
    return Participants(noise=noise, bias=bias, careless=careless)


def _noise(shape: tuple[int, ...], link: Link, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(shape) if link == "probit" else rng.gumbel(size=shape)


def choose(utilities: np.ndarray, who: np.ndarray, people: Participants, params: ObserverParams,
           rng: np.random.Generator) -> np.ndarray:
    """Simulated choices among options.

    Args:
        utilities: ``(T, K)`` signals of the K options of each trial, in display order.
        who: ``(T,)`` participant index of each trial.
        people: The participants.
        params: Observer parameters.
        rng: Random generator.

    Returns:
        ``(T,)`` int, the chosen option (0-based).
    """
    t, k = utilities.shape
    u = utilities + people.noise[who, None] * _noise((t, k), params.link, rng)
    u[:, 0] += people.bias[who]
    choice = np.argmax(u, axis=1)
    guess = (rng.random(t) < params.lapse) | people.careless[who]
    return np.where(guess, rng.integers(0, k, size=t), choice)


def to_scale(s: np.ndarray, s_low: float, s_high: float) -> np.ndarray:
    """The anchor mapping ``u = 1 + 4 (s - s_low) / (s_high - s_low)`` (low anchor -> 1, high anchor -> 5)."""
    return MOS_MIN + (MOS_MAX - MOS_MIN) * (np.asarray(s, float) - s_low) / (s_high - s_low)


def rate(u: np.ndarray, who: np.ndarray, people: Participants, params: ObserverParams,
         rng: np.random.Generator) -> np.ndarray:
    """Simulated integer ratings ``(T,)`` in 1..5 of items on the anchored scale ``u`` ``(T,)``."""
    e = rng.standard_normal(len(u)) if params.link == "probit" else rng.logistic(size=len(u))
    q = u + people.bias[who] + people.noise[who] * e
    rating = np.clip(np.rint(q), MOS_MIN, MOS_MAX).astype(int)
    guess = (rng.random(len(u)) < params.lapse) | people.careless[who]
    return np.where(guess, rng.integers(MOS_MIN, MOS_MAX + 1, size=len(u)), rating)


def _cdf(x: np.ndarray, link: Link) -> np.ndarray:
    return stats.norm.cdf(x) if link == "probit" else special.expit(x)


def expected_fooled(diff: np.ndarray, params: ObserverParams, n_people: int = 400, seed: int = 0) -> float:
    """Expected fraction of 2AFC trials where the fake is chosen as real.

    Args:
        diff: ``(n,)`` signal differences ``s(fake) - s(real)`` of the pairs a study would show.
        params: Observer parameters.
        n_people: Participants averaged over (fixed draws: a smooth function of the parameters for fitting).
        seed: Seed of those draws.
    """
    people = draw_participants(n_people, params, np.random.default_rng(seed))
    scale = people.noise[:, None] * (np.sqrt(2.0) if params.link == "probit" else 1.0)
    d = np.asarray(diff, float)[None, :]
    # The fake is on the left half of the time: the position bias helps it, the other half it hurts it.
    p = 0.5 * (_cdf((d + people.bias[:, None]) / scale, params.link) + _cdf((d - people.bias[:, None]) / scale,
                                                                              params.link))
    attentive = (1.0 - params.lapse) * p.mean() + params.lapse * 0.5
    return float((1.0 - params.careless_fraction) * attentive + params.careless_fraction * 0.5)


def expected_rating(u: np.ndarray, params: ObserverParams, n_people: int = 400, seed: int = 0) -> float:
    """Expected MOS of items on the anchored scale ``u`` ``(n,)`` (ordered model, lapse, careless raters)."""
    people = draw_participants(n_people, params, np.random.default_rng(seed))
    q = np.asarray(u, float)[None, :] + people.bias[:, None]
    e_rating = np.full(q.shape, float(MOS_MIN))
    for cut in np.arange(MOS_MIN + 0.5, MOS_MAX):  # E[rating] = 1 + sum_k P(q + noise > k - 1/2)
        e_rating += _cdf((q - cut) / people.noise[:, None], params.link)
    guess = (MOS_MIN + MOS_MAX) / 2.0
    attentive = (1.0 - params.lapse) * e_rating.mean() + params.lapse * guess
    return float((1.0 - params.careless_fraction) * attentive + params.careless_fraction * guess)
