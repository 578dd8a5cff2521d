"""Procedural street-scene label maps with Cityscapes conventions and a one-point perspective.

The camera looks down a straight street: a horizon row, a vanishing point, a road trapezoid narrowing to it,
sidewalks (and sometimes a terrain verge), facades of buildings or rows of trees on both sides, poles with traffic
signs, cars on the road and persons on the sidewalks scaled by depth, and Cityscapes-like ignore pixels (the ego
vehicle's bonnet at the bottom, a rectification border). Ground depth is ``t`` in (0, 1]: 1 at the bottom row,
0 at the horizon; an object at depth ``t`` is drawn ``t`` times its bottom-row size.

Besides the label map the layout returns what the renderer needs to texture it: a per-pixel base colour of each
object, a part code (glass, wheel, lane marking, door) and the depth.
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
from harness.data.cityscapes_labels import (
    IGNORE_INDEX,
    NUM_CLASSES,
    TRAIN_ID,
    TRAIN_ID_NAMES,
    TRAIN_ID_PALETTE,
    train_ids_to_color,
)
from harness.data.scene_render import PART_GLASS, PART_MARKING, PART_NONE, PART_WHEEL, SceneLayout, render_photo

ROAD, SIDEWALK, BUILDING = TRAIN_ID["road"], TRAIN_ID["sidewalk"], TRAIN_ID["building"]
POLE, SIGN, VEGETATION = TRAIN_ID["pole"], TRAIN_ID["traffic sign"], TRAIN_ID["vegetation"]
TERRAIN, SKY, PERSON, CAR = TRAIN_ID["terrain"], TRAIN_ID["sky"], TRAIN_ID["person"], TRAIN_ID["car"]
# Every trainId generate_layout can write (the FCN-score class set of the task): 10 of the 19, sorted.
DRAWN_CLASSES: tuple[int, ...] = tuple(sorted((ROAD, SIDEWALK, BUILDING, POLE, SIGN, VEGETATION, TERRAIN, SKY, PERSON,
                                               CAR)))
FULL_RES_SEGMENTATION = "segmentation_full_res"  # test labels at the ground truth's own resolution (real data)

_FACADE_COLOURS = np.array(
    [[0.62, 0.32, 0.25], [0.78, 0.70, 0.55], [0.55, 0.55, 0.57], [0.85, 0.82, 0.74], [0.45, 0.40, 0.36],
     [0.70, 0.50, 0.35]], dtype=np.float32)  # brick, sandstone, concrete, render, dark brick, ochre
_CAR_COLOURS = np.array(
    [[0.75, 0.08, 0.08], [0.10, 0.15, 0.45], [0.85, 0.85, 0.85], [0.08, 0.08, 0.08], [0.45, 0.47, 0.50],
     [0.10, 0.35, 0.20], [0.90, 0.75, 0.15]], dtype=np.float32)


def _ground(rng: np.random.Generator, size: int) -> dict[str, object]:
    """Camera and street geometry: horizon row, vanishing column, road/sidewalk/verge half-widths."""
    hw = size * ex.uniform(rng, 0.35, 0.6)
    return {
        "h": size * ex.uniform(rng, 0.36, 0.5),  # horizon row
        "vx": size * ex.uniform(rng, 0.38, 0.62),  # vanishing point column
        "shift": size * ex.uniform(rng, -0.12, 0.12),  # road centre at the bottom row, relative to vx
        "hw": hw,  # road half-width at the bottom row
        "walk": hw * (1 + ex.uniform(rng, 0.25, 0.45)),  # outer edge of the sidewalk
        "verge": ex.uniform(rng, 0.1, 0.35) if ex.random(rng) < 0.4 else 0.0,  # relative terrain strip width
    }


def _draw_ground(g: dict, yy: np.ndarray, xx: np.ndarray, seg, tint, part, depth) -> tuple[np.ndarray, np.ndarray]:
    """Road, sidewalk and verge below the horizon; returns the ground depth t and lateral coordinate d."""
    size = yy.shape[0]
    t = np.clip((yy - g["h"]) / (size - g["h"]), 1e-3, None)
    d = (xx - g["vx"] - t * g["shift"]) / t
    below = yy > g["h"]
    seg[below] = TERRAIN
    seg[below & (np.abs(d) < g["walk"])] = SIDEWALK
    road = below & (np.abs(d) < g["hw"])
    seg[road] = ROAD
    tint[below] = (0.55, 0.58, 0.35)
    tint[below & (np.abs(d) < g["walk"])] = (0.62, 0.60, 0.58)
    tint[road] = (0.30, 0.30, 0.32)
    z = 1.0 / t
    dashes = (np.abs(d) < size * 0.015) & (np.mod(z, 0.6) < 0.3)
    edges = np.abs(np.abs(d) - g["hw"] * 0.92) < size * 0.012
    part[road & (dashes | edges)] = PART_MARKING
    depth[below] = t[below]
    return t, d


def _draw_facades(rng: np.random.Generator, g: dict, yy, xx, seg, tint, part, depth) -> None:
    """Buildings and tree rows standing on the outer ground edge of both sides, in depth segments."""
    size = yy.shape[0]
    outer = g["walk"] * (1 + g["verge"])
    for side in (-1.0, 1.0):
        denom = g["shift"] + side * outer
        t_col = (xx[0] - g["vx"]) / denom  # depth of the facade seen in each column
        valid = t_col > 1e-3
        z = 1.0 / np.maximum(t_col, 1e-3)
        n_seg = int(rng.integers(3, 7))
        bounds = np.cumsum(ex.uniform(rng, 0.5, 2.5, size=n_seg)) + ex.uniform(rng, 0.0, 0.4)
        heights = size * ex.uniform(rng, 0.3, 1.1, size=n_seg)
        kinds = ex.random(rng, n_seg) < 0.25  # True = a row of trees instead of a building
        colours = _FACADE_COLOURS[rng.integers(0, len(_FACADE_COLOURS), size=n_seg)]
        index = np.searchsorted(bounds, z)
        has = valid & (index < n_seg)
        index = np.minimum(index, n_seg - 1)
        ground_row = g["h"] + t_col * (size - g["h"])
        wobble = 1 + 0.25 * ex.sin(z * 9.0 + ex.uniform(rng, 0, 6.3)) * kinds[index]
        top_row = g["h"] - t_col * heights[index] * wobble
        on = has[None, :] & (yy >= top_row[None, :]) & (yy < ground_row[None, :])
        trees = on & kinds[index][None, :]
        build = on & ~kinds[index][None, :]
        seg[build], seg[trees] = BUILDING, VEGETATION
        tint[build] = np.broadcast_to(colours[index][None, :, :], tint.shape)[build]
        tint[trees] = (0.25, 0.42, 0.15)
        depth[on] = np.broadcast_to(np.clip(t_col, 0, 1)[None, :], depth.shape)[on]
        height = (ground_row[None, :] - yy) / np.maximum(t_col[None, :], 1e-3)
        period_z, period_v = ex.uniform(rng, 0.12, 0.25), size * ex.uniform(rng, 0.12, 0.2)
        windows = (np.mod(z[None, :], period_z) < 0.55 * period_z) & (np.mod(height, period_v) > 0.45 * period_v)
        windows &= height > period_v * 0.8
        part[build & windows] = PART_GLASS


def _draw_poles(rng: np.random.Generator, g: dict, yy, xx, seg, tint, depth) -> None:
    """Street-light poles at the kerb, some carrying a traffic sign."""
    size = yy.shape[0]
    for _ in range(int(rng.integers(0, 4))):
        t = 1.0 / ex.uniform(rng, 1.2, 6.0)
        lateral = rng.choice((-1.0, 1.0)) * g["hw"] * 1.08
        x = g["vx"] + t * (g["shift"] + lateral)
        bottom, top = g["h"] + t * (size - g["h"]), g["h"] + t * (size - g["h"]) - t * size * 0.9
        half = max(0.5, t * size * 0.012)
        pole = (np.abs(xx - x) <= half) & (yy >= top) & (yy < bottom)
        seg[pole], tint[pole], depth[pole] = POLE, (0.35, 0.36, 0.38), t
        if ex.random(rng) < 0.6:
            sign = (np.abs(xx - x) <= max(1.0, t * size * 0.05)) & (yy >= top) & (yy < top + max(1.0, t * size * 0.1))
            seg[sign], tint[sign], depth[sign] = SIGN, (0.90, 0.78, 0.10), t


def _draw_objects(rng: np.random.Generator, g: dict, yy, xx, seg, tint, part, depth) -> None:
    """Cars on the road and persons on the sidewalks, drawn far to near so near ones occlude."""
    size = yy.shape[0]
    things = [("car", ex.uniform(rng, 1.1, 7.0)) for _ in range(int(rng.integers(0, 5)))]
    things += [("person", ex.uniform(rng, 1.0, 5.0)) for _ in range(int(rng.integers(0, 4)))]
    for kind, z in sorted(things, key=lambda item: -item[1]):
        t = 1.0 / z
        if kind == "car":
            lateral = ex.uniform(rng, -0.7, 0.7) * g["hw"]
            width = t * size * ex.uniform(rng, 0.28, 0.38)
            height = width * ex.uniform(rng, 0.7, 0.85)
        else:
            lateral = rng.choice((-1.0, 1.0)) * ex.uniform(rng, g["hw"] * 1.1, g["walk"] * 0.95)
            height = t * size * ex.uniform(rng, 0.45, 0.6)
            width = height * 0.32
        cx, bottom = g["vx"] + t * (g["shift"] + lateral), g["h"] + t * (size - g["h"])
        u, v = (xx - cx) / (width / 2), (bottom - yy) / height  # u in [-1, 1], v in [0, 1] over the object
        if kind == "car":
            body = (np.abs(u) <= 1) & (v >= 0) & (v < 0.6)
            cabin = (np.abs(u) <= 0.75 - 0.25 * (v - 0.6) / 0.4) & (v >= 0.6) & (v < 1)
            mask = body | cabin
            seg[mask], tint[mask], part[mask] = CAR, _CAR_COLOURS[rng.integers(0, len(_CAR_COLOURS))], PART_NONE
            glass = cabin & (v > 0.66) & (v < 0.95) & (np.abs(u) < 0.62)
            wheels = body & (v < 0.2) & (np.abs(np.abs(u) - 0.62) < 0.2)
            part[glass], part[wheels] = PART_GLASS, PART_WHEEL
        else:
            torso = ((u / 0.9) ** 2 + ((v - 0.5) / 0.42) ** 2 <= 1) | ((np.abs(u) < 0.5) & (v >= 0) & (v < 0.45))
            head = (u / 0.5) ** 2 + ((v - 0.92) / 0.09) ** 2 <= 1
            mask = torso | head
            seg[mask], tint[mask], part[mask] = PERSON, ex.uniform(rng, 0.05, 0.8, size=3), PART_NONE
            tint[head] = (0.80, 0.62, 0.50)
        depth[mask] = t


def _draw_ignore(rng: np.random.Generator, yy, xx, seg) -> None:
    """Cityscapes-style void pixels: the ego vehicle's bonnet and a rectification border."""
    size = yy.shape[0]
    if ex.random(rng) < 0.6:
        bonnet = size * ex.uniform(rng, 0.03, 0.09) * (1 - 0.6 * ((xx - size / 2) / (size / 2)) ** 2)
        seg[yy > size - bonnet] = IGNORE_INDEX
    if ex.random(rng) < 0.25:
        seg[:, :1], seg[:, -1:] = IGNORE_INDEX, IGNORE_INDEX


def generate_layout(rng: np.random.Generator, size: int) -> SceneLayout:
    """Generates one street scene's label map and rendering hints.

    Args:
        rng: The generator every random choice comes from.
        size: Side length S in pixels.

    Returns:
        The layout (label map of trainIds, base colours, part codes, depth).
    """
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    seg = np.full((size, size), SKY, dtype=np.uint8)
    tint = np.zeros((size, size, 3), dtype=np.float32)
    part = np.zeros((size, size), dtype=np.uint8)
    depth = np.zeros((size, size), dtype=np.float32)
    g = _ground(rng, size)
    _draw_ground(g, yy, xx, seg, tint, part, depth)
    _draw_facades(rng, g, yy, xx, seg, tint, part, depth)
    _draw_poles(rng, g, yy, xx, seg, tint, depth)
    _draw_objects(rng, g, yy, xx, seg, tint, part, depth)
    _draw_ignore(rng, yy, xx, seg)
    return SceneLayout(seg=seg, tint=tint, part=part, depth=depth)


# --- the task --------------------------------------------------------------------------------------------------

GENERATOR_VERSION = "scenes-2"  # bump whenever the layout or renderer changes, so stale caches are not reused
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class ScenesConfig:
    """Size and seed of the embedded street-scene task (profiles override these)."""

    image_size: ImageSide = 64  # side in pixels; Pix2Pix/CycleGAN used 256 on Cityscapes, 64 keeps CPU runs short
    n_train: PositiveCount = 1000  # training pairs (Cityscapes has 2975); the unpaired halves get 500 each
    n_val: PositiveCount = 100  # validation pairs (model selection, judge early stopping)
    n_test: PositiveCount = 200  # test pairs, the role Cityscapes val (500 frames) plays in the papers
    seed: Seed = 0  # generator seed; each split draws from its own stream so sizes do not shift other splits


def generate_scenes(size: int, count: int, seed: int, stream: int) -> dict[str, np.ndarray]:
    """Generates ``count`` scenes.

    Args:
        size: Side length S.
        count: Number of scenes N.
        seed: Task seed.
        stream: Split index, so each split has its own random stream.

    Returns:
        ``{"labels": uint8 (N, 3, S, S) colour-coded maps, "photo": uint8 (N, 3, S, S), "segmentation": uint8
        (N, S, S) trainIds with 255 ignore}``.
    """
    rng = np.random.default_rng([seed, stream])
    seg = np.zeros((count, size, size), dtype=np.uint8)
    photo = np.zeros((count, size, size, 3), dtype=np.uint8)
    for i in range(count):
        layout = generate_layout(rng, size)
        seg[i], photo[i] = layout.seg, render_photo(rng, layout)
    labels = train_ids_to_color(seg)
    return {
        "labels": np.ascontiguousarray(labels.transpose(0, 3, 1, 2)),
        "photo": np.ascontiguousarray(photo.transpose(0, 3, 1, 2)),
        "segmentation": seg,
    }


def scenes_meta(scored_classes: tuple[int, ...], class_set: str) -> dict[str, object]:
    """The meta every Cityscapes-convention task carries (the embedded scenes and real Cityscapes).

    Args:
        scored_classes: The trainIds FCN-scores average over, the same for every model of the task.
        class_set: Where that set comes from, for the rows' protocol string.
    """
    return {
        "palette": TRAIN_ID_PALETTE.tolist(),
        "class_names": list(TRAIN_ID_NAMES),
        "num_classes": NUM_CLASSES,
        "ignore_index": IGNORE_INDEX,
        "scored_classes": list(scored_classes),
        "class_set": class_set,
        "label_domain": "labels",
        "directions": {"AtoB": "labels2photo", "BtoA": "photo2labels"},
    }


def scenes_split(labels: torch.Tensor, photo: torch.Tensor, seg: torch.Tensor,
                 full_res: torch.Tensor | None = None) -> dict[str, DomainData]:
    """Both domains of one split; each carries the int64 ``(N, H, W)`` segmentation.

    ``full_res`` (uint8 ``(N, H0, W0)`` trainIds at the ground truth's own size, real data only) is added as
    ``FULL_RES_SEGMENTATION``, the label maps FCN-scores are computed against.
    """
    extra = {} if full_res is None else {FULL_RES_SEGMENTATION: full_res}
    seg = seg.long()
    return {"labels": DomainData(labels, {"segmentation": seg} | extra),
            "photo": DomainData(photo, {"segmentation": seg} | extra)}


def build_scenes(config: ScenesConfig = ScenesConfig()) -> Task:
    """Builds (or loads from the cache) the embedded street-scene task.

    Returns:
        Paired task with domains ``("labels", "photo")``, splits train/val/test, uint8 images, int64
        ``"segmentation"`` trainIds, and disjoint unpaired halves of train (labels: first half, photo: second).
    """
    if config.image_size < 16:
        raise HarnessError(f"scenes: image_size={config.image_size} is too small (expected at least 16)")
    counts = {"train": config.n_train, "val": config.n_val, "test": config.n_test}

    def generate() -> dict:
        out = {}
        for stream, split in enumerate(SPLITS):
            arrays = generate_scenes(config.image_size, counts[split], config.seed, stream)
            out[split] = {k: torch.from_numpy(v) for k, v in arrays.items()}
        return out

    data, key = load_or_generate("scenes", config, GENERATOR_VERSION, generate)
    splits = {s: scenes_split(data[s]["labels"], data[s]["photo"], data[s]["segmentation"]) for s in SPLITS}
    meta = scenes_meta(DRAWN_CLASSES, "the trainIds the scenes generator draws") | {
        "generator_version": GENERATOR_VERSION, "seed": config.seed, "cache_key": key}
    return Task(
        name="scenes",
        domains=("labels", "photo"),
        paired=True,
        label_kinds=("segmentation",),
        image_size=config.image_size,
        splits=splits,
        meta=meta,
        unpaired_train=unpaired_halves(splits["train"], ("labels", "photo")),
    )
