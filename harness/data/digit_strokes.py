"""The handwritten (MNIST-like) digit domain: per-digit stroke skeletons drawn with a jittered pen.

Each digit 0-9 has one or more skeletons: strokes given as waypoints in a unit box (x right in about [0, 0.6],
y down in [0, 1]) and drawn as Catmull-Rom splines through the waypoints, so a stroke is smooth where a pen would
be smooth and a sharp corner is a new stroke. Per image the waypoints are jittered, the whole digit is slanted
(shear), rotated and stretched, drawn with a random pen width on a supersampled canvas, and then normalised the
way MNIST was built (LeCun et al., 1998): fitted into a 20x20 box keeping its aspect ratio, anti-aliased, and
placed in the 28x28 frame so that its centre of mass is at the centre. A slight blur softens the stroke edges.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

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
    t = np.linspace(0.0, 1.0, _SEGMENT_POINTS, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    out = []
    for i in range(len(points) - 1):
        p0, p1, p2, p3 = padded[i], padded[i + 1], padded[i + 2], padded[i + 3]
        out.append(0.5 * (2 * p1 + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t2
                          + (-p0 + 3 * p1 - 3 * p2 + p3) * t3))
    out.append(points[-1:])
    return np.concatenate(out)


def _pen_transform(rng: np.random.Generator) -> np.ndarray:
    """A random 2x2 linear map: slant (shear), rotation and anisotropic scale of a writer's hand."""
    shear = rng.uniform(-0.35, 0.35)
    angle = np.deg2rad(rng.uniform(-12.0, 12.0))
    sx, sy = rng.uniform(0.8, 1.25), rng.uniform(0.9, 1.1)
    cos, sin = np.cos(angle), np.sin(angle)
    return np.array([[cos, -sin], [sin, cos]]) @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([sx, sy])


def draw_skeleton(skeleton: Skeleton, rng: np.random.Generator) -> Image.Image:
    """Draws one jittered, slanted instance of ``skeleton`` on the supersampled canvas.

    Returns:
        Mode ``"L"`` image ``(_CANVAS, _CANVAS)``, stroke 255 on 0.
    """
    linear = _pen_transform(rng)
    jitter = rng.uniform(0.025, 0.06)
    width = rng.uniform(0.09, 0.17) * _CANVAS * 0.5
    canvas = Image.new("L", (_CANVAS, _CANVAS), 0)
    draw = ImageDraw.Draw(canvas)
    # Shared waypoints (a stroke ending where the next starts) must move together, so jitter per unique point.
    offsets: dict[tuple[float, float], np.ndarray] = {}
    radius = width / 2.0
    for stroke in skeleton:
        moved = np.array([np.asarray(p) + offsets.setdefault(p, rng.normal(0.0, jitter, 2)) for p in stroke])
        curve = catmull_rom(moved - (0.3, 0.5), closed=stroke[0] == stroke[-1] and len(stroke) > 2)
        pixels = (curve @ linear.T) * (_CANVAS * 0.5) + _CANVAS / 2.0
        draw.line([tuple(p) for p in pixels], fill=255, width=max(1, round(width)), joint="curve")
        for end in (pixels[0], pixels[-1]):  # Round pen caps.
            draw.ellipse([end[0] - radius, end[1] - radius, end[0] + radius, end[1] + radius], fill=255)
    return canvas


def mnist_normalise(canvas: Image.Image, size: int) -> np.ndarray:
    """Fits the drawn digit into a ``20/28 * size`` box and centres it by centre of mass, as MNIST did.

    Args:
        canvas: Mode ``"L"`` drawing, stroke bright on black.
        size: Output side length in pixels.

    Returns:
        uint8 ``(size, size)`` image.
    """
    left, top, right, bottom = canvas.getbbox() or (0, 0, canvas.width, canvas.height)
    glyph = canvas.crop((left, top, right, bottom))
    box = max(1, round(size * 20 / 28))
    scale = box / max(glyph.width, glyph.height)
    new_w, new_h = max(1, round(glyph.width * scale)), max(1, round(glyph.height * scale))
    small = np.asarray(glyph.resize((new_w, new_h), Image.Resampling.BOX), dtype=np.float64)
    total = small.sum()
    if total > 0:
        cy = (small.sum(axis=1) * np.arange(new_h)).sum() / total
        cx = (small.sum(axis=0) * np.arange(new_w)).sum() / total
    else:
        cy, cx = (new_h - 1) / 2.0, (new_w - 1) / 2.0
    top_px = int(np.clip(round((size - 1) / 2.0 - cy), 0, size - new_h))
    left_px = int(np.clip(round((size - 1) / 2.0 - cx), 0, size - new_w))
    out = Image.new("L", (size, size), 0)
    out.paste(Image.fromarray(small.round().astype(np.uint8)), (left_px, top_px))
    # A fixed slight blur, scaled with the frame, gives the soft stroke edges of MNIST's anti-aliasing.
    return np.asarray(out.filter(ImageFilter.GaussianBlur(radius=_BLUR * size / 28)), dtype=np.uint8)


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
