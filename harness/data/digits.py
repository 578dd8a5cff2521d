"""The embedded ``digits`` task: printed house-number crops (SVHN-like) and handwritten digits (MNIST-like).

Both domains are labelled 0-9 and generated procedurally from a seed, so nothing is downloaded. This is the
stand-in for DTN's SVHN→MNIST protocol (Taigman et al., 2017) and for the vanilla GAN's MNIST experiments
(Goodfellow et al., 2014): ``printed`` is domain A (source), ``handwritten`` domain B (target). Every split and
domain is drawn from its own seed derived from ``DigitsConfig.seed``, so splits are independent samples. Generated
tensors are cached under ``cache_root()/tasks`` (``harness.core.cache.load_or_generate``) keyed by the config,
``GENERATOR_VERSION`` and the sha256 of the bundled glyph bank the printed domain is drawn from.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated

import numpy as np
import torch

from harness.core.bounds import PositiveCount, Range, Seed
from harness.core.cache import load_or_generate
from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task
from harness.data.digit_render import FONT_FILES, GLYPHS_SHA256, render_printed
from harness.data.digit_strokes import render_handwritten

# Bump whenever the generated images or labels change for a given config, so stale cache entries are not reused.
GENERATOR_VERSION = 2
DOMAINS = ("printed", "handwritten")
SPLITS = ("train", "val", "test")
CLASSES = tuple(range(10))
DigitSide = Annotated[int, Range(8, 256)]  # side length of a digit crop in pixels


@dataclass(frozen=True)
class DigitsConfig:
    """Sizes and seed of the generated digits task (the defaults are the ``standard`` profile)."""

    n_train: PositiveCount = 10000  # Images per domain in the train split (MNIST-scale subsets train DTN-sized models).
    n_val: PositiveCount = 1000  # Images per domain in the val split (for early stopping / judge selection).
    n_test: PositiveCount = 2000  # Images per domain in the test split (enough for ~1% accuracy resolution).
    printed_size: DigitSide = 32  # Side of the printed RGB crops in pixels (SVHN is 32x32).
    handwritten_size: DigitSide = 28  # Side of the handwritten grayscale digits in pixels (MNIST is 28x28).
    seed: Seed = 0  # Root seed; every (split, domain) stream is derived from it.


def _validate(config: DigitsConfig) -> None:
    for name in ("n_train", "n_val", "n_test"):
        if getattr(config, name) < 0:
            raise HarnessError(f"digits.{name}={getattr(config, name)} must be a count >= 0")
    for name in ("printed_size", "handwritten_size"):
        if not 8 <= getattr(config, name) <= 256:
            raise HarnessError(f"digits.{name}={getattr(config, name)} must be a side length in 8..256 pixels")
    if config.seed < 0:
        raise HarnessError(f"digits.seed={config.seed} must be >= 0")


def split_rng(seed: int, split: str, domain: str) -> np.random.Generator:
    """The independent random stream of one (split, domain), derived from the root ``seed``."""
    key = (SPLITS.index(split), DOMAINS.index(domain))
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=key))


def balanced_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """int64 ``(n,)`` digits with every class appearing ``n // 10`` or ``n // 10 + 1`` times, shuffled."""
    return rng.permutation(np.arange(n, dtype=np.int64) % 10)


def generate_domain(domain: str, n: int, config: DigitsConfig, split: str) -> DomainData:
    """Generates ``n`` labelled images of one domain and split.

    Returns:
        ``DomainData`` with uint8 images ``(n, 3, printed_size, printed_size)`` for ``printed`` or
        ``(n, 1, handwritten_size, handwritten_size)`` for ``handwritten`` and int64 labels ``{"class": (n,)}``.
    """
    rng = split_rng(config.seed, split, domain)
    labels = balanced_labels(n, rng)
    if domain == "printed":
        images = render_printed(labels, config.printed_size, rng)
    else:
        images = render_handwritten(labels, config.handwritten_size, rng)
    return DomainData(torch.from_numpy(np.ascontiguousarray(images)), {"class": torch.from_numpy(labels)})


def _generate_all(config: DigitsConfig) -> dict[str, dict[str, DomainData]]:
    sizes = {"train": config.n_train, "val": config.n_val, "test": config.n_test}
    return {split: {domain: generate_domain(domain, sizes[split], config, split) for domain in DOMAINS}
            for split in SPLITS}


def _to_payload(splits: dict[str, dict[str, DomainData]]) -> dict[str, dict[str, dict[str, torch.Tensor]]]:
    return {split: {domain: {"images": data.images, "class": data.labels["class"]} for domain, data in domains.items()}
            for split, domains in splits.items()}


def _from_payload(payload: dict[str, dict[str, dict[str, torch.Tensor]]]) -> dict[str, dict[str, DomainData]]:
    return {split: {domain: DomainData(entry["images"], {"class": entry["class"]}) for domain, entry in domains.items()}
            for split, domains in payload.items()}


def build_digits(config: DigitsConfig) -> Task:
    """Builds (or loads from the cache) the digits task.

    Args:
        config: Sizes and seed.

    Returns:
        Unpaired ``Task`` named ``"digits"`` with domains ``("printed", "handwritten")``, splits train/val/test and
        labels ``{"class": int64 (N,)}`` in 0..9. Images are uint8 in the task and float32 in [0, 1] via
        ``DomainData.get``. ``image_size`` is the larger of the two domain sizes; ``meta["channels"]`` and
        ``meta["sizes"]`` give each domain's own.

    Raises:
        HarnessError: A size or count out of range.
    """
    _validate(config)
    payload, key = load_or_generate("digits", config, GENERATOR_VERSION, lambda: _to_payload(_generate_all(config)),
                                    extra=(GLYPHS_SHA256,))
    splits = _from_payload(payload)
    meta = {
        "classes": list(CLASSES),
        "num_classes": len(CLASSES),
        "channels": {"printed": 3, "handwritten": 1},
        "sizes": {"printed": config.printed_size, "handwritten": config.handwritten_size},
        "seed": config.seed,
        "generator_version": GENERATOR_VERSION,
        "fonts": list(FONT_FILES),
        "glyphs_sha256": GLYPHS_SHA256,
        "config": dataclasses.asdict(config),
        "cache_key": key,
    }
    return Task(name="digits", domains=DOMAINS, paired=False, label_kinds=("class",),
                image_size=max(config.printed_size, config.handwritten_size), splits=splits, meta=meta)
