"""Photo rendering for the embedded street scenes, plus the noise helpers the map renderer shares.

Each class gets its own texture over the layout's base colours: a sky gradient with clouds, facades with brick
noise and glazed windows, asphalt grain with lane markings, leafy vegetation, grassy terrain, car bodies with
dark glass and wheels. Then global lighting (brightness, colour temperature, a lit and a shaded side of the
street), haze that grows with distance, and sensor noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.data import exact as ex
from harness.data.cityscapes_labels import IGNORE_INDEX, TRAIN_ID

ROAD, SIDEWALK, BUILDING = TRAIN_ID["road"], TRAIN_ID["sidewalk"], TRAIN_ID["building"]
VEGETATION, TERRAIN, SKY = TRAIN_ID["vegetation"], TRAIN_ID["terrain"], TRAIN_ID["sky"]

PART_NONE, PART_GLASS, PART_WHEEL, PART_MARKING = 0, 1, 2, 3  # what the renderer paints over a base colour


@dataclass(frozen=True)
class SceneLayout:
    """One scene before rendering (S = image size).

    Attributes:
        seg: uint8 ``(S, S)`` trainIds (0..18) or 255 ignore.
        tint: float32 ``(S, S, 3)`` base colour in [0, 1] of the object at each pixel.
        part: uint8 ``(S, S)`` part code (``PART_*``).
        depth: float32 ``(S, S)`` perspective scale in (0, 1] (0 = at the horizon; sky is 0).
    """

    seg: np.ndarray
    tint: np.ndarray
    part: np.ndarray
    depth: np.ndarray


def smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Value noise: a ``(cells+1)²`` Gaussian grid upsampled bilinearly (cubic-free, fast) to ``(size, size)``.

    Returns:
        float32 ``(size, size)``, roughly zero mean and unit variance, varying over ``size / cells`` pixels.
    """
    grid = ex.normal(rng, 0.0, 1.0, (cells + 1, cells + 1))
    return ex.resize_linear(grid, size).astype(np.float32)


def fine_noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """Per-pixel Gaussian grain, float32 ``(size, size)`` with unit variance."""
    return ex.normal(rng, 0.0, 1.0, (size, size)).astype(np.float32)


def _sky(rng: np.random.Generator, size: int, horizon_rows: np.ndarray) -> np.ndarray:
    """Blue-to-pale vertical gradient with soft clouds, float32 ``(S, S, 3)``."""
    top = np.array([0.25, 0.45, 0.80]) + ex.uniform(rng, -0.08, 0.08, 3)
    low = np.array([0.75, 0.82, 0.90]) + ex.uniform(rng, -0.05, 0.05, 3)
    ramp = np.clip(np.arange(size, dtype=np.float32)[:, None] / max(horizon_rows, 1.0), 0, 1)[..., None]
    sky = (1 - ramp) * top + ramp * low
    clouds = smooth_noise(rng, size, 4) * 0.6 + smooth_noise(rng, size, 9) * 0.3
    cloud = np.clip(clouds - ex.uniform(rng, 0.0, 0.8), 0, 1)
    return (sky * (1 - cloud[..., None]) + 0.95 * cloud[..., None]).astype(np.float32)


def _textures(rng: np.random.Generator, layout: SceneLayout) -> np.ndarray:
    """Base colours modulated per class and part, float32 ``(S, S, 3)``."""
    seg, part, size = layout.seg, layout.part, layout.seg.shape[0]
    img = layout.tint.copy()
    grain, blotch = fine_noise(rng, size), smooth_noise(rng, size, 8)
    leaves = smooth_noise(rng, size, size // 3) + 0.5 * grain

    def shade(mask: np.ndarray, amount: np.ndarray) -> None:
        img[mask] *= np.clip(1 + amount[mask], 0.2, 2.0)[:, None]

    shade(seg == BUILDING, 0.06 * grain + 0.05 * blotch)
    shade(seg == ROAD, 0.07 * grain + 0.04 * blotch)
    shade(seg == SIDEWALK, 0.05 * grain + 0.03 * blotch)
    shade(seg == TERRAIN, 0.12 * grain + 0.10 * blotch)
    shade(seg == VEGETATION, 0.30 * leaves)
    glass = part == PART_GLASS
    img[glass] = np.array([0.16, 0.20, 0.26]) + 0.10 * np.clip(blotch[glass], -1, 1)[:, None]
    img[part == PART_WHEEL] = (0.05, 0.05, 0.05)
    img[part == PART_MARKING] = (0.88, 0.88, 0.84)
    rows = np.flatnonzero((seg != SKY).any(axis=1))
    sky_mask = seg == SKY
    img[sky_mask] = _sky(rng, size, rows[0] + 1 if rows.size else size)[sky_mask]
    return img


def render_photo(rng: np.random.Generator, layout: SceneLayout) -> np.ndarray:
    """Renders the photo of a layout.

    Args:
        rng: The generator for every texture and lighting choice.
        layout: The scene (its ignore pixels are rendered as the bonnet / a black border like Cityscapes).

    Returns:
        uint8 ``(S, S, 3)`` RGB photo.
    """
    size = layout.seg.shape[0]
    img = _textures(rng, layout)
    void = layout.seg == IGNORE_INDEX
    img[void] = 0.08 + 0.04 * fine_noise(rng, size)[void][:, None]
    xx = np.arange(size, dtype=np.float32)[None, :] / size
    side = 1 + ex.uniform(rng, -0.2, 0.2) * (xx - 0.5) * 2  # the sun lights one side of the street
    img *= side[..., None]
    haze_colour = np.array([0.78, 0.80, 0.84], dtype=np.float32)
    far = 1 - np.clip(layout.depth, 0, 1)
    haze = 0.45 * (far * far * far) * (layout.seg != SKY)
    img = img * (1 - haze[..., None]) + haze_colour * haze[..., None]
    temperature = ex.uniform(rng, -0.08, 0.08)
    img *= ex.uniform(rng, 0.75, 1.15) * np.array([1 + temperature, 1.0, 1 - temperature], dtype=np.float32)
    img += ex.normal(rng, 0.0, 0.015, img.shape).astype(np.float32)
    return ex.to_uint8(img)
