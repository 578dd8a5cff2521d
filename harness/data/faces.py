"""The embedded ``faces`` task: a CelebA-like and a RaFD-like set of parametric faces (StarGAN §5, DIAT).

Two datasets in one task, the setting of StarGAN's joint training (§3.2, §5.3):

- ``celeba``: people drawn at random, each image with independently drawn attributes in StarGAN's order
  ``Black_Hair, Blond_Hair, Brown_Hair, Male, Young`` (labels ``"attributes"``, float {0, 1}, shape (N, 5)) and a
  neutral or smiling face. Train and test are disjoint images of the same people, like the official code's random
  2,000-image test split.
- ``rafd``: every person shows all eight expressions (labels ``"expression"``, int64 in RaFD's alphabetical order,
  see ``face_render.EXPRESSIONS``) in ``rafd_variants`` images each (gaze left / frontal / right, head position,
  light); hair colour, sex and age are fixed per person and not labelled (RaFD has no such labels). The split is
  90 % / 10 % by image, stratified by expression, so the people are shared across splits as in StarGAN's protocol.

Every image stores its person in ``"identity"`` (int64; RaFD people are numbered after the CelebA-like ones).
Data are deterministic from ``seed`` and cached by ``harness.core.cache.load_or_generate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import numpy as np
import torch

from harness.core.bounds import PositiveCount, Range, Seed
from harness.core.cache import load_or_generate
from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task
from harness.data import exact as ex
from harness.data.face_render import ATTRIBUTES, EXPRESSIONS, render_face, sample_identity

GENERATOR_VERSION = "faces-4"  # bump whenever the renderer or the sampling changes, so stale caches are not reused
DATASETS = ("celeba", "rafd")
FaceSide = Annotated[int, Range(16, 1024)]  # side of a face image in pixels (a multiple of 4, checked below)
TestFraction = Annotated[float, Range(0.0, 1.0, open_lo=True, open_hi=True)]  # share of RaFD images held out
_CELEBA_STREAM, _RAFD_STREAM, _IDENTITY_STREAM, _SPLIT_STREAM = 1, 2, 3, 4


@dataclass(frozen=True)
class FacesConfig:
    """Sizes and seed of the embedded faces task (defaults: StarGAN's resolution, RaFD's size; profiles shrink)."""

    image_size: FaceSide = 128  # StarGAN: CelebA 178 crop and RaFD 256 crop, both resized to 128
    celeba_identities: PositiveCount = 1000  # people in the CelebA-like set (CelebA: 10,177)
    celeba_train: PositiveCount = 20000  # CelebA-like training images (CelebA: 200,599; rendering 200k is not worth it)
    celeba_test: PositiveCount = 2000  # test images (StarGAN: "2,000 images as test set")
    rafd_identities: PositiveCount = 67  # RaFD: 67 participants
    rafd_variants: PositiveCount = 9  # images per person and expression (RaFD: 3 gaze directions x 3 camera angles)
    rafd_test_fraction: TestFraction = 0.1  # StarGAN's RaFD classifier protocol: 90 % / 10 % split by image
    seed: Seed = 0  # generator seed


def validate_config(config: FacesConfig) -> None:
    """Raises ``HarnessError`` naming the ``faces.*`` option that cannot build a task."""
    if config.image_size < 16 or config.image_size % 4:
        raise HarnessError(f"faces.image_size={config.image_size}: expected a multiple of 4 of at least 16")
    for key in ("celeba_identities", "celeba_train", "celeba_test", "rafd_identities", "rafd_variants"):
        if getattr(config, key) < 1:
            raise HarnessError(f"faces.{key}={getattr(config, key)}: expected a positive count")
    if not 0 < config.rafd_test_fraction < 1:
        raise HarnessError(f"faces.rafd_test_fraction={config.rafd_test_fraction}: expected a value in (0, 1)")


def _supersample(size: int) -> int:
    return 2  # 2x2 box filter: enough antialiasing for flat shapes, 4x cheaper than 4x4


def _identities(seed: int, offset: int, count: int) -> list[dict]:
    return [sample_identity(np.random.default_rng([seed, _IDENTITY_STREAM, offset + i])) for i in range(count)]


def generate_celeba(config: FacesConfig, count: int, stream: int) -> dict[str, np.ndarray]:
    """``count`` CelebA-like images: uint8 images (N, 3, S, S), float attributes (N, 5), int64 identities (N,)."""
    people = _identities(config.seed, 0, config.celeba_identities)
    rng = np.random.default_rng([config.seed, _CELEBA_STREAM, stream])
    size, ss = config.image_size, _supersample(config.image_size)
    images = np.empty((count, 3, size, size), dtype=np.uint8)
    attributes = np.zeros((count, len(ATTRIBUTES)), dtype=np.float32)
    identity = rng.integers(0, config.celeba_identities, count)
    for i in range(count):
        hair, male, young = int(rng.integers(3)), bool(ex.random(rng) < 0.5), bool(ex.random(rng) < 0.5)
        smiling = ex.random(rng) < 0.3
        attributes[i, hair], attributes[i, 3], attributes[i, 4] = 1, male, young
        images[i] = render_face(people[identity[i]], hair=hair, male=male, young=young,
                                expression=EXPRESSIONS.index("happy" if smiling else "neutral"), size=size,
                                supersample=ss, rng=rng, gaze=ex.normal(rng, 0.0, 0.3),
                                intensity=ex.uniform(rng, 0.4, 0.9) if smiling else 1.0)
    return {"images": images, "attributes": attributes, "identity": identity.astype(np.int64)}


def generate_rafd(config: FacesConfig) -> dict[str, np.ndarray]:
    """Every RaFD-like person in all eight expressions: images, int64 expressions and identities."""
    offset = config.celeba_identities
    people = _identities(config.seed, offset, config.rafd_identities)
    rng = np.random.default_rng([config.seed, _RAFD_STREAM])
    size, ss = config.image_size, _supersample(config.image_size)
    count = config.rafd_identities * len(EXPRESSIONS) * config.rafd_variants
    images = np.empty((count, 3, size, size), dtype=np.uint8)
    expression, identity = np.empty(count, dtype=np.int64), np.empty(count, dtype=np.int64)
    gazes = (-1.0, 0.0, 1.0)  # RaFD's left, frontal and right gaze
    i = 0
    for person, params in enumerate(people):
        hair, male, young = int(rng.integers(3)), bool(ex.random(rng) < 0.5), bool(ex.random(rng) < 0.6)
        for expr in range(len(EXPRESSIONS)):
            for variant in range(config.rafd_variants):
                images[i] = render_face(params, hair=hair, male=male, young=young, expression=expr, size=size,
                                        supersample=ss, rng=rng, gaze=float(gazes[variant % 3]),
                                        intensity=ex.uniform(rng, 0.85, 1.15))
                expression[i], identity[i] = expr, offset + person
                i += 1
    return {"images": images, "expression": expression, "identity": identity}


def rafd_split(expression: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """Boolean test mask: ``test_fraction`` of the images of each expression, drawn at random (by image)."""
    rng = np.random.default_rng([seed, _SPLIT_STREAM])
    test = np.zeros(len(expression), dtype=bool)
    for value in np.unique(expression):
        index = np.flatnonzero(expression == value)
        test[rng.permutation(index)[: max(1, round(len(index) * test_fraction))]] = True
    return test


def _generate(config: FacesConfig) -> dict:
    rafd = generate_rafd(config)
    test = rafd_split(rafd["expression"], config.rafd_test_fraction, config.seed)
    out = {"train": {"celeba": generate_celeba(config, config.celeba_train, 0)},
           "test": {"celeba": generate_celeba(config, config.celeba_test, 1)}}
    out["train"]["rafd"] = {k: v[~test] for k, v in rafd.items()}
    out["test"]["rafd"] = {k: v[test] for k, v in rafd.items()}
    return {split: {ds: {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in d.items()}
                    for ds, d in part.items()} for split, part in out.items()}


def faces_meta(n_identities: int) -> dict[str, object]:
    """The meta keys every faces task (embedded or real) carries for protocols and models."""
    return {"attribute_names": ATTRIBUTES, "expression_names": EXPRESSIONS, "n_identities": n_identities,
            "neutral": "neutral"}


def build_faces(config: FacesConfig = FacesConfig()) -> Task:
    """Builds (or loads from the cache) the embedded faces task."""
    validate_config(config)
    data, key = load_or_generate("faces", config, GENERATOR_VERSION, lambda: _generate(config))
    splits = {}
    for split, part in data.items():
        splits[split] = {ds: DomainData(d["images"], {k: v for k, v in d.items() if k != "images"})
                         for ds, d in part.items()}
    meta = faces_meta(config.celeba_identities + config.rafd_identities) | {"cache_key": key,
                                                                            "generator": GENERATOR_VERSION}
    return Task(name="faces", domains=DATASETS, paired=False, label_kinds=("attributes", "expression", "identity"),
                image_size=config.image_size, splits=splits, meta=meta)
