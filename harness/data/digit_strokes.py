"""The handwritten (MNIST-like) digit domain: per-digit stroke skeletons drawn with a jittered pen.

Each digit 0-9 has one or more skeletons: strokes given as waypoints in a unit box (x right in about [0, 0.6],
y down in [0, 1]) and drawn as Catmull-Rom splines through the waypoints, so a stroke is smooth where a pen would
be smooth and a sharp corner is a new stroke. Per image the waypoints are jittered, the whole digit is slanted
(shear), rotated and stretched, drawn with a random pen width on a supersampled canvas, and then normalised the
way MNIST was built (LeCun et al., 1998): fitted into a 20x20 box keeping its aspect ratio, anti-aliased, and
placed in the 28x28 frame so that its centre of mass is at the centre. A slight blur softens the stroke edges.

The pen is rasterised here (a pixel is inked when its centre lies within half the pen width of the curve) and the
resampling and blur are ``harness.data.exact``'s, so the images are the same bytes on every machine (no Pillow).
"""

from __future__ import annotations

import numpy as np

from harness.data import exact as ex

Stroke = tuple[tuple[float, float], ...]
Skeleton = tuple[Stroke, ...]

# Skeletons per digit; several variants each (open/closed 4, 1 with or without a flag, 7 with a crossbar ...).
# A stroke whose first and last waypoints coincide is drawn as a closed loop.
SKELETONS: dict[int, tuple[Skeleton, ...]] = {
    0: (
        (((0.30, 0.0), (0.52, 0.12), (0.60, 0.5), (0.50, 0.88), (0.30, 1.0), (0.10, 0.88), (0.0, 0.5),
          (0.08, 0.12), (0.30, 0.0)),),
        (((0.35, 0.02), (0.55, 0.2), (0.55, 0.7), (0.35, 0.98), (0.12, 0.9), (0.04, 0.45), (0.15, 0.08),
          (0.35, 0.02)),),
    ),
    1: (
        (((0.32, 0.0), (0.30, 0.5), (0.28, 1.0)),),
        (((0.10, 0.18), (0.34, 0.0)), ((0.34, 0.0), (0.32, 0.5), (0.30, 1.0))),
        (((0.12, 0.2), (0.34, 0.0)), ((0.34, 0.0), (0.32, 1.0)), ((0.12, 1.0), (0.52, 1.0))),
    ),
    2: (
        (((0.04, 0.22), (0.20, 0.03), (0.42, 0.02), (0.56, 0.2), (0.48, 0.45), (0.22, 0.72), (0.02, 0.98)),
         ((0.02, 0.98), (0.60, 0.97))),
        (((0.06, 0.25), (0.28, 0.02), (0.52, 0.12), (0.50, 0.4), (0.02, 0.97)),
         ((0.02, 0.97), (0.25, 0.88), (0.45, 0.95), (0.62, 0.9))),
    ),
    3: (
        (((0.04, 0.12), (0.28, 0.0), (0.50, 0.08), (0.52, 0.30), (0.24, 0.47)),
         ((0.24, 0.47), (0.50, 0.56), (0.58, 0.78), (0.42, 0.97), (0.16, 0.97), (0.02, 0.85))),
        (((0.06, 0.05), (0.55, 0.04)), ((0.55, 0.04), (0.25, 0.42)),
         ((0.25, 0.42), (0.52, 0.55), (0.56, 0.8), (0.36, 0.98), (0.04, 0.88))),
    ),
    4: (
        (((0.42, 0.0), (0.02, 0.66)), ((0.02, 0.66), (0.62, 0.66)), ((0.46, 0.28), (0.46, 1.0))),
        (((0.10, 0.0), (0.05, 0.55)), ((0.05, 0.55), (0.58, 0.55)), ((0.48, 0.05), (0.46, 1.0))),
    ),
    5: (
        (((0.56, 0.02), (0.14, 0.02)), ((0.14, 0.02), (0.08, 0.45)),
         ((0.08, 0.45), (0.30, 0.38), (0.52, 0.50), (0.57, 0.73), (0.42, 0.95), (0.20, 0.98), (0.02, 0.87))),
        (((0.14, 0.02), (0.08, 0.45), (0.30, 0.38), (0.52, 0.50), (0.56, 0.75), (0.38, 0.97), (0.04, 0.9)),
         ((0.14, 0.02), (0.58, 0.0))),
    ),
    6: (
        (((0.50, 0.02), (0.28, 0.16), (0.10, 0.45), (0.05, 0.74), (0.22, 0.98), (0.46, 0.93), (0.56, 0.72),
          (0.42, 0.52), (0.20, 0.53), (0.07, 0.66)),),
        (((0.45, 0.0), (0.18, 0.3), (0.06, 0.7), (0.28, 1.0), (0.52, 0.82), (0.40, 0.55), (0.10, 0.62)),),
    ),
    7: (
        (((0.02, 0.03), (0.58, 0.03)), ((0.58, 0.03), (0.40, 0.40), (0.24, 1.0))),
        (((0.02, 0.03), (0.58, 0.03)), ((0.58, 0.03), (0.38, 0.45), (0.26, 1.0)), ((0.18, 0.5), (0.52, 0.48))),
        (((0.0, 0.12), (0.06, 0.02), (0.58, 0.04)), ((0.58, 0.04), (0.46, 0.5), (0.40, 1.0))),
    ),
    8: (
        (((0.30, 0.48), (0.52, 0.30), (0.50, 0.08), (0.30, 0.0), (0.10, 0.08), (0.08, 0.30), (0.30, 0.48),
          (0.55, 0.70), (0.50, 0.93), (0.30, 1.0), (0.08, 0.93), (0.04, 0.70), (0.30, 0.48)),),
        (((0.32, 0.45), (0.50, 0.22), (0.30, 0.0), (0.10, 0.22), (0.32, 0.45), (0.54, 0.75), (0.30, 1.0),
          (0.06, 0.75), (0.32, 0.45)),),
    ),
    9: (
        (((0.54, 0.22), (0.40, 0.02), (0.15, 0.05), (0.04, 0.25), (0.20, 0.45), (0.44, 0.40), (0.54, 0.22)),
         ((0.54, 0.22), (0.50, 0.60), (0.42, 1.0))),
        (((0.55, 0.18), (0.30, 0.0), (0.05, 0.18), (0.25, 0.42), (0.55, 0.18)),
         ((0.55, 0.18), (0.55, 1.0))),
    ),
}

_CANVAS = 96  # Supersampled drawing canvas (pixels): large enough that rounding of the pen width is invisible.
_BLUR = 0.35  # Final blur radius in pixels at 28x28.
_SEGMENT_POINTS = 8  # Points sampled per spline segment: smooth at 20 px, cheap to draw.


def catmull_rom(points: np.ndarray, closed: bool) -> np.ndarray:
    """Samples a Catmull-Rom spline through ``points``.

    Args:
        points: float ``(P, 2)`` waypoints, P >= 2; for a closed stroke the last equals the first.
        closed: Wrap tangents around the loop instead of clamping them at the ends.

    Returns:
        float ``(M, 2)`` points on the curve, starting at ``points[0]`` and ending at ``points[-1]``.
    """
    if len(points) == 2:
        return points
    if closed:
        ring = points[:-1]
        padded = np.concatenate([ring[-1:], ring, ring[:2]])
    else:
        padded = np.concatenate([points[:1], points, points[-1:]])
    t = (np.arange(_SEGMENT_POINTS, dtype=np.float64) / _SEGMENT_POINTS)[:, None]
    t2, t3 = t * t, t * t * t
    out = []
    for i in range(len(points) - 1):
        p0, p1, p2, p3 = padded[i], padded[i + 1], padded[i + 2], padded[i + 3]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t3))
    out.append(points[-1:])
    return np.concatenate(out)


def _pen_transform(rng: np.random.Generator) -> tuple[float, float, float, float]:
    """A random 2x2 linear map ``(a, b, c, d)`` = [[a, b], [c, d]]: slant (shear), rotation, anisotropic scale."""
    shear = ex.uniform(rng, -0.35, 0.35)
    angle = ex.uniform(rng, -12.0, 12.0) * (ex.PI / 180.0)
    sx, sy = ex.uniform(rng, 0.8, 1.25), ex.uniform(rng, 0.9, 1.1)
    cos, sin = float(ex.cos(angle)), float(ex.sin(angle))
    # rotation @ shear @ diag(sx, sy), multiplied out
    return (cos * sx, (cos * shear - sin) * sy, sin * sx, (sin * shear + cos) * sy)


def _ink(start: np.ndarray, end: np.ndarray, radius: float) -> np.ndarray:
    """Bool ``(_CANVAS, _CANVAS)``: pixel centres within ``radius`` of any segment ``start[i] → end[i]`` (x, y).

    A round pen: every segment is a capsule, so joints and both ends of a stroke are round.
    """
    canvas = np.zeros((_CANVAS, _CANVAS), dtype=bool)
    points = np.concatenate([start, end])
    low = np.floor(np.min(points, axis=0) - radius).astype(np.int64).clip(0, _CANVAS - 1)
    high = np.ceil(np.max(points, axis=0) + radius).astype(np.int64).clip(0, _CANVAS - 1)
    px = (np.arange(low[0], high[0] + 1, dtype=np.float64) + 0.5)[None, :, None]
    py = (np.arange(low[1], high[1] + 1, dtype=np.float64) + 0.5)[:, None, None]
    ax, ay = start[:, 0], start[:, 1]
    vx, vy = end[:, 0] - ax, end[:, 1] - ay
    length2 = vx * vx + vy * vy
    wx, wy = px - ax, py - ay  # (rows, cols, segments)
    t = np.clip((wx * vx + wy * vy) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    dx, dy = wx - t * vx, wy - t * vy
    near = np.min(dx * dx + dy * dy, axis=2) <= radius * radius  # min is exact: no rounding, any order
    canvas[low[1]:high[1] + 1, low[0]:high[0] + 1] = near
    return canvas


def draw_skeleton(skeleton: Skeleton, rng: np.random.Generator) -> np.ndarray:
    """Draws one jittered, slanted instance of ``skeleton`` on the supersampled canvas.

    Returns:
        uint8 ``(_CANVAS, _CANVAS)``, stroke 255 on 0.
    """
    a, b, c, d = _pen_transform(rng)
    jitter = ex.uniform(rng, 0.025, 0.06)
    width = ex.uniform(rng, 0.09, 0.17) * _CANVAS * 0.5
    # Shared waypoints (a stroke ending where the next starts) must move together, so jitter per unique point.
    unique = list(dict.fromkeys(p for stroke in skeleton for p in stroke))
    offsets = dict(zip(unique, ex.normal(rng, 0.0, jitter, (len(unique), 2)), strict=True))
    starts, ends = [], []
    for stroke in skeleton:
        moved = np.array([np.asarray(p) + offsets[p] for p in stroke])
        curve = catmull_rom(moved - (0.3, 0.5), closed=stroke[0] == stroke[-1] and len(stroke) > 2)
        x = (a * curve[:, 0] + b * curve[:, 1]) * (_CANVAS * 0.5) + _CANVAS / 2.0
        y = (c * curve[:, 0] + d * curve[:, 1]) * (_CANVAS * 0.5) + _CANVAS / 2.0
        pixels = np.stack([x, y], axis=1)
        starts.append(pixels[:-1])
        ends.append(pixels[1:])
    canvas = _ink(np.concatenate(starts), np.concatenate(ends), width / 2.0)
    return canvas.astype(np.uint8) * np.uint8(255)


def _box_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``(n_out, n_in)`` area weights of a box filter from ``n_in`` to ``n_out`` pixels (rows sum to 1)."""
    edges_in = np.arange(n_in + 1, dtype=np.float64)
    edges_out = np.arange(n_out + 1, dtype=np.float64) * (float(n_in) / float(n_out))
    overlap = np.minimum(edges_in[None, 1:], edges_out[1:, None]) - np.maximum(edges_in[None, :-1],
                                                                               edges_out[:-1, None])
    return np.clip(overlap, 0.0, None) * (float(n_out) / float(n_in))


def _box_resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Area-average resize of float ``(H, W)`` to ``(height, width)``, sums in input order."""
    rows, cols = _box_matrix(image.shape[0], height), _box_matrix(image.shape[1], width)
    tall = ex.sum_axis(rows[:, :, None] * image[None, :, :], 1)  # (height, W)
    return ex.sum_axis(tall[:, None, :] * cols[None, :, :], 2)  # (height, width)


def mnist_normalise(canvas: np.ndarray, size: int) -> np.ndarray:
    """Fits the drawn digit into a ``20/28 * size`` box and centres it by centre of mass, as MNIST did.

    Args:
        canvas: uint8 ``(H, W)`` drawing, stroke bright on black.
        size: Output side length in pixels.

    Returns:
        uint8 ``(size, size)`` image.
    """
    rows, cols = np.flatnonzero(canvas.any(axis=1)), np.flatnonzero(canvas.any(axis=0))
    glyph = canvas[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] if rows.size else canvas
    box = max(1, round(size * 20 / 28))
    scale = box / max(glyph.shape)
    new_h, new_w = max(1, round(glyph.shape[0] * scale)), max(1, round(glyph.shape[1] * scale))
    small = np.rint(_box_resize(glyph.astype(np.float64), new_h, new_w)).astype(np.int64)
    mass = int(small.sum())  # integers: exact
    if mass > 0:
        cy = int((small.sum(axis=1) * np.arange(new_h)).sum()) / mass  # integers
        cx = int((small.sum(axis=0) * np.arange(new_w)).sum()) / mass  # integers
    else:
        cy, cx = (new_h - 1) / 2.0, (new_w - 1) / 2.0
    top = int(np.clip(round((size - 1) / 2.0 - cy), 0, size - new_h))
    left = int(np.clip(round((size - 1) / 2.0 - cx), 0, size - new_w))
    out = np.zeros((1, size, size), dtype=np.float64)
    out[0, top:top + new_h, left:left + new_w] = small
    # A fixed slight blur, scaled with the frame, gives the soft stroke edges of MNIST's anti-aliasing.
    blurred = ex.gaussian_blur(out, np.array([_BLUR * size / 28]), mode="constant")
    return np.rint(np.clip(blurred[0], 0.0, 255.0)).astype(np.uint8)


def render_handwritten(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Renders one handwritten digit per label.

    Args:
        labels: int ``(N,)`` digits in 0..9.
        size: Output side length in pixels (28 matches MNIST).
        rng: Source of all randomness (variant choice, jitter, pen, slant).

    Returns:
        uint8 ``(N, 1, size, size)``, white stroke on black.
    """
    out = np.empty((len(labels), 1, size, size), dtype=np.uint8)
    for i, digit in enumerate(labels):
        variants = SKELETONS[int(digit)]
        skeleton = variants[rng.integers(len(variants))]
        out[i, 0] = mnist_normalise(draw_skeleton(skeleton, rng), size)
    return out
