"""The geometry-vs-texture probe: two paired tasks whose ground-truth translation is known exactly.

CycleGAN (Zhu et al., 2017, §5.2 "Limitations") reports that unpaired translation succeeds on colour and texture
changes but "has little success" on geometric ones (e.g. dog → cat). The probe measures that claim, and the gap
between paired and unpaired training on the same data:

- ``probe_texture``: domain A shows flat red objects (discs, squares, triangles); domain B shows the SAME shapes at
  the same positions filled with blue stripes. Only appearance changes.
- ``probe_geometry``: domain A shows discs; domain B shows squares with the same centres, extents and colours.
  Only shape changes.

Both domains carry ``labels["mask"]``: int64 ``(N, H, W)`` foreground masks (1 = object), so a protocol can compare
``foreground_mask`` of a translation with the ground-truth target mask (shape IoU).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from harness.core.bounds import ImageSide, PositiveCount, Seed
from harness.core.cache import load_or_generate
from harness.core.errors import HarnessError
from harness.core.images import check_images
from harness.core.task import DomainData, Task, unpaired_halves
from harness.data import exact as ex

GENERATOR_VERSION = "probe-2"  # bump whenever the generator changes, so stale caches are not reused
BACKGROUND = (0.92, 0.92, 0.88)  # the known background colour of every probe image (light warm grey)
_RED, _BLUE, _NAVY = (0.85, 0.12, 0.10), (0.15, 0.35, 0.95), (0.05, 0.08, 0.45)
_COLOURS = np.array([[0.85, 0.12, 0.10], [0.15, 0.35, 0.95], [0.10, 0.60, 0.20], [0.55, 0.20, 0.65],
                     [0.90, 0.55, 0.05], [0.10, 0.10, 0.10]], dtype=np.float32)  # all far from BACKGROUND
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ProbeConfig:
    """Size and seed of the probe tasks (profiles override these)."""

    image_size: ImageSide = 32  # side length in pixels; shapes need no more, and both probes train in minutes on CPU
    n_train: PositiveCount = 1000  # training pairs; the unpaired halves get 500 each
    n_val: PositiveCount = 100  # validation pairs
    n_test: PositiveCount = 200  # test pairs scored by shape IoU and colour statistics
    seed: Seed = 0  # generator seed; each split draws from its own stream


def _shape_mask(kind: str, yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, r: float) -> np.ndarray:
    """Bool ``(S, S)`` mask of a disc, a square (half side r) or an upward triangle inscribed in the same box."""
    dy, dx = yy - cy, xx - cx
    if kind == "disc":
        return dy * dy + dx * dx <= r * r
    if kind == "square":
        return (np.abs(dy) <= r) & (np.abs(dx) <= r)
    return (dy <= r) & (dy >= -r) & (np.abs(dx) <= (dy + r) / 2)


def _layout(rng: np.random.Generator, size: int) -> list[tuple[float, float, float]]:
    """1–3 non-overlapping objects as (centre row, centre column, half extent)."""
    objects: list[tuple[float, float, float]] = []
    for _ in range(int(rng.integers(1, 4)) * 10):
        if len(objects) == 3:
            break
        r = size * ex.uniform(rng, 0.1, 0.2)
        cy, cx = ex.uniform(rng, r + 1, size - r - 1, size=2)
        if all(ex.hypot(cy - y, cx - x) > (r + q) * 1.5 + 1 for y, x, q in objects):
            objects.append((float(cy), float(cx), float(r)))
    return objects


def generate_probe(kind: str, size: int, count: int, seed: int, stream: int) -> dict[str, torch.Tensor]:
    """Generates ``count`` pairs of one probe.

    Args:
        kind: ``"texture"`` or ``"geometry"``.
        size: Side length S.
        count: Pairs N.
        seed: Task seed.
        stream: Split index (each split has its own random stream).

    Returns:
        ``{"A", "B": uint8 (N, 3, S, S), "mask_A", "mask_B": uint8 (N, S, S) in {0, 1}}``.
    """
    rng = np.random.default_rng([seed, stream, 0 if kind == "texture" else 1])
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    images = np.empty((2, count, size, size, 3), dtype=np.float32)
    masks = np.zeros((2, count, size, size), dtype=np.uint8)
    images[:] = BACKGROUND
    for i in range(count):
        angle, period = ex.uniform(rng, 0, ex.PI), ex.uniform(rng, 3.0, 5.0)
        stripes = np.mod(xx * float(ex.cos(angle)) + yy * float(ex.sin(angle)), period) < period / 2
        for cy, cx, r in _layout(rng, size):
            if kind == "texture":
                mask = _shape_mask(("disc", "square", "triangle")[rng.integers(0, 3)], yy, xx, cy, cx, r)
                images[0, i][mask] = _RED
                images[1, i][mask & stripes], images[1, i][mask & ~stripes] = _BLUE, _NAVY
                masks[:, i][:, mask] = 1
            else:
                colour = _COLOURS[rng.integers(0, len(_COLOURS))]
                for side, shape in enumerate(("disc", "square")):
                    mask = _shape_mask(shape, yy, xx, cy, cx, r)
                    images[side, i][mask], masks[side, i][mask] = colour, 1
    images += ex.normal(rng, 0.0, 0.01, images.shape).astype(np.float32)
    pixels = torch.from_numpy(ex.to_uint8(images)).permute(0, 1, 4, 2, 3)
    return {"A": pixels[0].contiguous(), "B": pixels[1].contiguous(),
            "mask_A": torch.from_numpy(masks[0]), "mask_B": torch.from_numpy(masks[1])}


def foreground_mask(images: torch.Tensor, background: tuple[float, float, float] = BACKGROUND,
                    threshold: float = 0.2) -> torch.Tensor:
    """Foreground of (possibly generated) probe images by distance from the known background colour.

    Args:
        images: float32 ``(N, 3, H, W)`` in [0, 1].
        background: RGB background colour in [0, 1].
        threshold: Euclidean RGB distance above which a pixel is foreground (objects are ≥ 0.6 away, the
            generator's noise is 0.01 per channel).

    Returns:
        bool ``(N, H, W)``.
    """
    check_images(images, "probe images", channels=3)
    reference = torch.tensor(background, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
    return (images - reference).pow(2).sum(dim=1).sqrt() > threshold


def _build(kind: str, config: ProbeConfig) -> Task:
    if config.image_size < 16:
        raise HarnessError(f"probe_{kind}: image_size={config.image_size} is too small (expected at least 16)")
    counts = {"train": config.n_train, "val": config.n_val, "test": config.n_test}

    def generate() -> dict:
        return {s: generate_probe(kind, config.image_size, counts[s], config.seed, i) for i, s in enumerate(SPLITS)}

    data, key = load_or_generate(f"probe_{kind}", config, GENERATOR_VERSION, generate)
    splits = {s: {d: DomainData(data[s][d], {"mask": data[s][f"mask_{d}"].long()}) for d in ("A", "B")} for s in SPLITS}
    change = {"texture": "flat red → blue stripes, same shapes", "geometry": "discs → squares, same colours"}[kind]
    meta = {"background": list(BACKGROUND), "change": change, "probe": kind, "generator_version": GENERATOR_VERSION,
            "seed": config.seed, "cache_key": key}
    return Task(name=f"probe_{kind}", domains=("A", "B"), paired=True, label_kinds=("mask",),
                image_size=config.image_size, splits=splits, meta=meta,
                unpaired_train=unpaired_halves(splits["train"], ("A", "B")))


def build_probe_texture(config: ProbeConfig = ProbeConfig()) -> Task:
    """The texture probe: paired task, domains ``("A", "B")``, ``labels["mask"]`` int64 ``(N, H, W)``."""
    return _build("texture", config)


def build_probe_geometry(config: ProbeConfig = ProbeConfig()) -> Task:
    """The geometry probe: paired task, domains ``("A", "B")``, ``labels["mask"]`` int64 ``(N, H, W)``."""
    return _build("geometry", config)
