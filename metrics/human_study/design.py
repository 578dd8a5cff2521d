"""Trial manifests: which images each participant sees, in which order and position.

Shared by the simulation and the exported study, so simulated and real ratings are scored by the same code.

A manifest is a table with ``TRIAL_COLUMNS``; ``images`` and ``options`` list the shown images and what each one
is (a method name, ``real_data`` or ``nearest_x4``) in display order, ``|``-separated. ``answer`` is the 1-based
position of the correct option where one exists (AMT: the real image; best-of validation: the real image; MOS
calibration: the anchor score). ``response`` of a rating is the clicked position (AMT, best-of) or the score (MOS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.human_study.protocols import MOS_MAX, MOS_MIN, AMTProtocol, BestOfProtocol, MOSProtocol

TRIAL_COLUMNS = ("trial_id", "protocol", "session", "order", "kind", "task", "condition", "seed", "method", "item",
                 "input", "images", "options", "answer")
REAL = "real_data"  # a real target image (HR in SRGAN's table); also the "perfect generator" sanity row of AMT
NEAREST = "nearest_x4"  # nearest-neighbour upsampling of a x4 bicubic-downsampled real image (SRGAN's NN row)
BLANK = "blank"  # a real image replaced by its mean colour: best-of validation distractor
SHOWN_REAL = "real"  # the real image of an AMT pair (the other option is named by the session's method)
KINDS = ("practice", "scored", "validation", "calibration")


@dataclass(frozen=True)
class ConditionPool:
    """The image keys of one study condition: one task, one translation direction (or generated domain), one seed.

    Attributes:
        task: Task name.
        condition: Condition name (``labels2photo``, the generated domain, a face attribute...).
        seed: Seed of the models whose outputs are shown.
        real: Keys of the real target images, ``(n,)``; ``real[i]`` is the counterpart of input ``i`` when
            ``paired``.
        methods: Method name -> keys of its outputs for inputs ``0..n-1``.
        inputs: Keys of the inputs, or None for unconditional generation.
        nearest: Keys of ``nearest_x4`` versions of ``real`` (the MOS low anchor).
        blank: Keys of blank versions of ``real`` (each pixel the image's mean colour): best-of validation
            distractors and the "blank fake" sanity case.
        calibration: ``(real keys, nearest keys)`` of the MOS calibration images (another split).
        paired: Whether ``real[i]`` is the true counterpart of each method's output ``i``.
    """

    task: str
    condition: str
    seed: int
    real: tuple[str, ...]
    methods: Mapping[str, tuple[str, ...]]
    inputs: tuple[str, ...] | None
    nearest: tuple[str, ...]
    blank: tuple[str, ...]
    calibration: tuple[tuple[str, ...], tuple[str, ...]]
    paired: bool

    @property
    def tag(self) -> str:
        """``task-condition-s<seed>``, the prefix of session ids."""
        return f"{self.task}-{self.condition}-s{self.seed}"


def _draw(n: int, rows: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """``(rows, k)`` indices of ``range(n)``, each row without replacement when ``k <= n``."""
    return rng.random((rows, n)).argsort(axis=1)[:, :k] if k <= n else rng.integers(0, n, size=(rows, k))


def _keys(keys: tuple[str, ...]) -> np.ndarray:
    return np.array(keys, dtype=object)


def _join(columns: list[np.ndarray]) -> np.ndarray:
    out = columns[0]
    for col in columns[1:]:
        out = out + "|" + col
    return out


def _frame(pool: ConditionPool, protocol: str, sessions: list[str], per_session: int,
           columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """A manifest from ``(n_sessions, per_session)`` arrays of the varying columns."""
    session = np.repeat(np.array(sessions, dtype=object), per_session)
    order = np.tile(np.arange(per_session), len(sessions))
    suffix = np.array([f"-t{k:03d}" for k in range(per_session)], dtype=object)
    data = {"trial_id": session + np.tile(suffix, len(sessions)), "protocol": protocol, "session": session,
            "order": order, "task": pool.task, "condition": pool.condition, "seed": pool.seed}
    data.update({name: np.asarray(col).reshape(-1) for name, col in columns.items()})
    return pd.DataFrame(data)[list(TRIAL_COLUMNS)]


def amt_trials(pool: ConditionPool, protocol: AMTProtocol, rng: np.random.Generator) -> pd.DataFrame:
    """Real-vs-fake sessions: per method (and the ``real_data`` sanity row) ``n_participants`` sessions.

    A session is ``n_practice`` practice trials then ``n_trials`` scored ones, each an (input, real) pair drawn
    without replacement; the real image is of the same input when ``same_input``, else of another one; its side is
    random. For ``real_data`` the "fake" is another real image, so a perfect generator's rate is measured directly.
    """
    n, p, s = len(pool.real), protocol.n_participants, protocol.n_practice + protocol.n_trials
    real = _keys(pool.real)
    frames = []
    for method in [*pool.methods, REAL]:
        fakes = _keys(pool.methods.get(method, pool.real))
        items = _draw(n, p, s, rng)
        shifted = (items + rng.integers(1, max(n, 2), size=(p, s))) % n  # another input, never the same one
        partners = items if protocol.same_input and method != REAL else shifted
        left = rng.random((p, s)) < 0.5
        real_img, fake_img = real[partners], fakes[items]
        kind = np.where(np.arange(s) < protocol.n_practice, "practice", "scored")
        frames.append(_frame(pool, "amt", [f"amt-{pool.tag}-{method}-p{k:03d}" for k in range(p)], s, {
            "kind": np.broadcast_to(kind, (p, s)), "method": np.full((p, s), method, dtype=object), "item": items,
            "input": np.full((p, s), "", dtype=object),
            "images": np.where(left, real_img + "|" + fake_img, fake_img + "|" + real_img),
            "options": np.where(left, f"{SHOWN_REAL}|{method}", f"{method}|{SHOWN_REAL}"),
            "answer": np.where(left, 1, 2)}))
    return pd.concat(frames, ignore_index=True)


def best_of_trials(pool: ConditionPool, protocol: BestOfProtocol, rng: np.random.Generator) -> pd.DataFrame:
    """Best-of-N sessions: per participant, ``n_questions`` questions of which ``n_validation`` are validation.

    A scored question shows input ``i`` and every method's output for it in random order. A validation question
    shows input ``i``, its real counterpart and ``N - 1`` blank (mean-colour) images; the real one is correct.
    Empty when the condition has fewer than two methods.
    """
    methods = list(pool.methods)
    if len(methods) < 2:
        return pd.DataFrame(columns=list(TRIAL_COLUMNS))
    n, p, q, k = len(pool.real), protocol.n_participants, protocol.n_questions, len(methods)
    base = np.array(["validation"] * protocol.n_validation + ["scored"] * (q - protocol.n_validation), dtype=object)
    kinds = base[rng.random((p, q)).argsort(axis=1)]
    items = _draw(n, p, q, rng)
    perms = rng.random((p, q, k)).argsort(axis=2)
    validation = kinds == "validation"
    scored_names = np.array(methods, dtype=object)[perms]
    check_names = np.array([REAL] + [BLANK] * (k - 1), dtype=object)[perms]
    names = np.where(validation[..., None], check_names, scored_names)
    table = np.stack([_keys(pool.methods[m]) for m in methods])  # (k, n)
    scored_images = table[perms, items[..., None]]
    check_images = np.stack([_keys(pool.real), _keys(pool.blank)])[np.minimum(perms, 1), items[..., None]]
    images = np.where(validation[..., None], check_images, scored_images)
    answer = np.where(validation, np.argmax(names == REAL, axis=2) + 1, 0)
    shown = _keys(pool.inputs)[items] if pool.inputs is not None else np.full((p, q), "", dtype=object)
    return _frame(pool, "best_of", [f"bestof-{pool.tag}-p{j:03d}" for j in range(p)], q, {
        "kind": kinds, "method": np.full((p, q), "", dtype=object), "item": items, "input": shown,
        "images": _join([images[..., j] for j in range(k)]), "options": _join([names[..., j] for j in range(k)]),
        "answer": answer})


def mos_trials(pool: ConditionPool, protocol: MOSProtocol, rng: np.random.Generator) -> pd.DataFrame:
    """MOS sessions: per rater, calibration first, then every version of every test image in random order.

    Calibration shows each calibration image as nearest (score 1) then HR (score 5). The versions are each method,
    ``real_data`` (HR) and ``nearest_x4``, of the first ``n_images`` test images.
    """
    versions = {**pool.methods, REAL: pool.real, NEAREST: pool.nearest}
    n, r = min(protocol.n_images, len(pool.real)), protocol.n_raters
    cal_real, cal_near = pool.calibration
    c = min(protocol.n_calibration, len(cal_real))
    names = np.repeat(np.array(list(versions), dtype=object), n)
    keys = np.concatenate([_keys(v[:n]) for v in versions.values()])
    item = np.tile(np.arange(n), len(versions))
    order = rng.random((r, len(keys))).argsort(axis=1)
    cal_names = np.tile(np.array([NEAREST, REAL], dtype=object), c)
    cal_keys = np.array([k for pair in zip(cal_near[:c], cal_real[:c], strict=True) for k in pair], dtype=object)
    per = 2 * c + len(keys)

    def both(cal: np.ndarray, scored: np.ndarray) -> np.ndarray:
        return np.concatenate([np.broadcast_to(cal, (r, 2 * c)), scored], axis=1)

    kind = np.array(["calibration"] * (2 * c) + ["scored"] * len(keys), dtype=object)
    return _frame(pool, "mos", [f"mos-{pool.tag}-r{j:03d}" for j in range(r)], per, {
        "kind": np.broadcast_to(kind, (r, per)), "method": both(cal_names, names[order]),
        "item": both(np.repeat(np.arange(c), 2), item[order]), "input": np.full((r, per), "", dtype=object),
        "images": both(cal_keys, keys[order]), "options": both(cal_names, names[order]),
        "answer": both(np.tile([MOS_MIN, MOS_MAX], c), np.zeros((r, len(keys)), dtype=int))})
