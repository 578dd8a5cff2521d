"""The embedded map ↔ aerial task: flat-coloured map tiles and matching aerial renderings.

Stands in for the Google Maps ↔ aerial photo pairs of Pix2Pix (1096 training tiles scraped by its authors), which
CycleGAN and Pix2Pix score with the AMT "real vs fake" study. A top-down town: land, parks, a river or lake,
buildings on land, a street grid and a highway. The map tile paints each class in a flat map colour (white
streets, yellow highway, blue water, green parks, beige buildings on a light background); the aerial rendering
textures the same layout (asphalt with lane markings, rippled water, tree canopies on grass, roofs with a lit and
a shaded slope and cast shadows) under random lighting and sensor noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from harness.core.bounds import ImageSide, PositiveCount, Seed
from harness.core.cache import load_or_generate
from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task, unpaired_halves
from harness.data import exact as ex
from harness.data.scene_render import fine_noise, smooth_noise

GENERATOR_VERSION = "maps-2"  # bump whenever the layout or renderers change, so stale caches are not reused
CLASS_NAMES = ("land", "road", "highway", "water", "park", "building")
LAND, ROAD, HIGHWAY, WATER, PARK, BUILDING = range(len(CLASS_NAMES))
MAP_PALETTE = np.array(
    [[242, 239, 233], [255, 255, 255], [252, 214, 112], [170, 211, 223], [200, 228, 178], [217, 208, 195]],
    dtype=np.uint8)  # the map tile's flat colour per class (Google-Maps-like)
_AERIAL_BASE = np.array(
    [[0.46, 0.44, 0.34], [0.42, 0.42, 0.43], [0.30, 0.30, 0.31], [0.13, 0.25, 0.30], [0.30, 0.45, 0.18],
     [0.60, 0.58, 0.55]], dtype=np.float32)
_ROOFS = np.array([[0.55, 0.55, 0.57], [0.62, 0.30, 0.22], [0.85, 0.84, 0.80], [0.35, 0.33, 0.32]], dtype=np.float32)
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class MapsConfig:
    """Size and seed of the embedded map ↔ aerial task (profiles override these)."""

    image_size: ImageSide = 64  # side length in pixels; Pix2Pix trained at 256 (tested at 512), 64 keeps CPU runs short
    n_train: PositiveCount = 1000  # training pairs (the Pix2Pix maps set has 1096); unpaired halves get 500 each
    n_val: PositiveCount = 100  # validation pairs
    n_test: PositiveCount = 200  # test pairs for the AMT-style study and distribution metrics
    seed: Seed = 0  # generator seed; each split draws from its own stream


def _water(rng: np.random.Generator, yy: np.ndarray, xx: np.ndarray, seg: np.ndarray) -> None:
    """A meandering river (half the tiles) or a lake blob (some of the rest)."""
    size = seg.shape[0]
    if ex.random(rng) < 0.5:
        along, across = (xx, yy) if ex.random(rng) < 0.5 else (yy, xx)
        centre = size * ex.uniform(rng, 0.2, 0.8) + size * ex.uniform(rng, 0.05, 0.15) * ex.sin(
            along * 2 * ex.PI / (size * ex.uniform(rng, 0.6, 1.5)) + ex.uniform(rng, 0, 6.3))
        seg[np.abs(across - centre) < size * ex.uniform(rng, 0.05, 0.12)] = WATER
    elif ex.random(rng) < 0.5:
        cy, cx, r = size * ex.uniform(rng, 0.2, 0.8), size * ex.uniform(rng, 0.2, 0.8), size * ex.uniform(rng, 0.1, 0.2)
        wobble = 1 + 0.3 * smooth_noise(rng, size, 3)
        seg[ex.hypot(yy - cy, xx - cx) < r * wobble] = WATER


def _roads(rng: np.random.Generator, seg: np.ndarray, marks: np.ndarray) -> None:
    """A street grid (white on the map) and one wider highway with a dashed centre line."""
    size, unit = seg.shape[0], max(1, seg.shape[0] // 32)
    for axis in (0, 1):
        for pos in rng.choice(np.arange(2, size - 2), size=int(rng.integers(1, 4)), replace=False):
            band = slice(pos, pos + unit + int(rng.integers(0, 2)))
            if axis == 0:
                seg[band, :] = ROAD
            else:
                seg[:, band] = ROAD
    if ex.random(rng) < 0.7:
        pos, width = int(rng.integers(4, size - 8)), 2 * unit + 1
        dashed = (np.arange(size) // (3 * unit)) % 2 == 0
        if ex.random(rng) < 0.5:
            seg[pos : pos + width, :] = HIGHWAY
            marks[pos + width // 2, dashed] = True
        else:
            seg[:, pos : pos + width] = HIGHWAY
            marks[dashed, pos + width // 2] = True


def _buildings(rng: np.random.Generator, seg: np.ndarray, roof: np.ndarray, slope: np.ndarray) -> None:
    """Rectangular buildings on free land, each with a roof colour and a gable (lit / shaded half)."""
    size = seg.shape[0]
    for _ in range(int(rng.integers(20, 60)) * size // 64):
        h, w = (rng.integers(2, 8, 2) * max(1, size // 64)).tolist()
        y, x = int(rng.integers(0, size - h)), int(rng.integers(0, size - w))
        if not (seg[y : y + h, x : x + w] == LAND).all():
            continue
        seg[y : y + h, x : x + w] = BUILDING
        roof[y : y + h, x : x + w] = _ROOFS[rng.integers(0, len(_ROOFS))] * ex.uniform(rng, 0.85, 1.15)
        if w >= h:
            slope[y : y + h // 2, x : x + w], slope[y + h // 2 : y + h, x : x + w] = 1.0, -1.0
        else:
            slope[y : y + h, x : x + w // 2], slope[y : y + h, x + w // 2 : x + w] = 1.0, -1.0


def generate_tile(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One tile.

    Returns:
        ``(seg, map_tile, aerial)``: uint8 ``(S, S)`` class ids (``CLASS_NAMES``), uint8 ``(S, S, 3)`` map, uint8
        ``(S, S, 3)`` aerial rendering.
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    seg = np.full((size, size), LAND, dtype=np.uint8)
    for _ in range(int(rng.integers(0, 3))):
        h, w = (size * ex.uniform(rng, 0.15, 0.4, 2)).astype(int).tolist()
        y, x = int(rng.integers(0, size - h)), int(rng.integers(0, size - w))
        seg[y : y + h, x : x + w] = PARK
    _water(rng, yy, xx, seg)
    roof, slope = np.zeros((size, size, 3), dtype=np.float32), np.zeros((size, size), dtype=np.float32)
    _buildings(rng, seg, roof, slope)
    marks = np.zeros((size, size), dtype=bool)
    _roads(rng, seg, marks)
    return seg, MAP_PALETTE[seg], _render_aerial(rng, seg, roof, slope, marks)


def _render_aerial(rng: np.random.Generator, seg, roof, slope, marks) -> np.ndarray:
    """Textures a tile's layout as an aerial photo, uint8 ``(S, S, 3)``."""
    size = seg.shape[0]
    img = _AERIAL_BASE[seg].copy()
    grain, blotch = fine_noise(rng, size), smooth_noise(rng, size, 6)
    img *= (1 + 0.06 * grain + 0.08 * blotch)[..., None]
    trees = (seg == PARK) & (smooth_noise(rng, size, size // 3) + 0.4 * grain > -0.2)
    img[trees] = np.array([0.12, 0.26, 0.09]) * (1 + 0.25 * grain[trees])[:, None]
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    theta, freq = ex.uniform(rng, 0, ex.PI), ex.uniform(rng, 1.2, 2.2)
    ripples = ex.sin((xx * float(ex.cos(theta)) + yy * float(ex.sin(theta))) * freq + 2 * blotch)
    water = seg == WATER
    img[water] *= (1 + 0.12 * ripples[water])[:, None]
    building = seg == BUILDING
    img[building] = roof[building] * (1 + 0.22 * slope[building] + 0.04 * grain[building])[:, None]
    shift = max(1, size // 32)
    shadow = np.zeros_like(building)
    shadow[shift:, shift:] = building[:-shift, :-shift]
    img[shadow & ~building] *= 0.55
    img[marks & (seg == HIGHWAY)] = (0.85, 0.80, 0.55)
    temperature = ex.uniform(rng, -0.06, 0.06)
    img *= ex.uniform(rng, 0.8, 1.15) * np.array([1 + temperature, 1.0, 1 - temperature], dtype=np.float32)
    img += ex.normal(rng, 0.0, 0.015, img.shape).astype(np.float32)
    return ex.to_uint8(img)


def generate_maps(size: int, count: int, seed: int, stream: int) -> dict[str, torch.Tensor]:
    """``count`` tiles of one split's random stream.

    Returns:
        ``{"map": uint8 (N, 3, S, S), "aerial": uint8 (N, 3, S, S), "segmentation": uint8 (N, S, S)}``.
    """
    rng = np.random.default_rng([seed, stream])
    seg = np.zeros((count, size, size), dtype=np.uint8)
    tile, aerial = np.zeros((2, count, size, size, 3), dtype=np.uint8)
    for i in range(count):
        seg[i], tile[i], aerial[i] = generate_tile(rng, size)
    return {
        "segmentation": torch.from_numpy(seg),
        "map": torch.from_numpy(tile).permute(0, 3, 1, 2).contiguous(),
        "aerial": torch.from_numpy(aerial).permute(0, 3, 1, 2).contiguous(),
    }


def build_maps(config: MapsConfig = MapsConfig()) -> Task:
    """Builds (or loads from the cache) the embedded map ↔ aerial task.

    Returns:
        Paired task with domains ``("map", "aerial")``, splits train/val/test, int64 ``"segmentation"`` class ids
        on both domains, and disjoint unpaired halves of train (map: first half, aerial: second half).
    """
    if config.image_size < 16:
        raise HarnessError(f"maps: image_size={config.image_size} is too small (expected at least 16)")
    counts = {"train": config.n_train, "val": config.n_val, "test": config.n_test}

    def generate() -> dict:
        return {s: generate_maps(config.image_size, counts[s], config.seed, i) for i, s in enumerate(SPLITS)}

    data, key = load_or_generate("maps", config, GENERATOR_VERSION, generate)
    splits = {}
    for split in SPLITS:
        seg = data[split]["segmentation"].long()
        splits[split] = {d: DomainData(data[split][d], {"segmentation": seg}) for d in ("map", "aerial")}
    meta = {
        "palette": MAP_PALETTE.tolist(),
        "class_names": list(CLASS_NAMES),
        "num_classes": len(CLASS_NAMES),
        "ignore_index": 255,
        "label_domain": "map",
        "directions": {"AtoB": "map2photo", "BtoA": "photo2map"},
        "generator_version": GENERATOR_VERSION,
        "seed": config.seed,
        "cache_key": key,
    }
    return Task(name="maps", domains=("map", "aerial"), paired=True, label_kinds=("segmentation",),
                image_size=config.image_size, splits=splits, meta=meta,
                unpaired_train=unpaired_halves(splits["train"], ("map", "aerial")))
