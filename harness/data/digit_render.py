"""The printed (SVHN-like house-number) digit domain, drawn from a bundled bank of digit glyphs.

SVHN crops (Netzer et al., 2011) show one centred digit of a house number, often with parts of its neighbours at the
left and right edges, in many typefaces and colours, on textured or shaded backgrounds, blurred and noisy. This
module reproduces those factors procedurally. Every image places glyphs of the glyph bank with an affine map (scale,
rotation, shear, translation) and bilinear sampling, so no text is rasterised per image. Colouring, shading,
texture, blur and noise are applied to the whole batch at once. Every pixel is computed with ``harness.data.exact``
(no torch, Pillow or SIMD transcendental kernel), so the images are the same bytes on every machine.

The glyph bank (``digit_glyphs.npz``, package data, ~80 KB) holds the digits 0-9 of 16 typefaces that matplotlib
ships (DejaVu, STIX, Computer Modern), rendered once at ``_GLYPH_PT`` with Pillow's basic layout engine. Bundling the
rendered glyphs, not the fonts, keeps the task the same on every machine: glyph bitmaps otherwise depend on the
installed matplotlib's font files, on the FreeType inside Pillow and on whether the system has libfribidi (Pillow
then switches to its raqm layout). ``GLYPHS_SHA256`` pins the bank's contents; ``python -m harness.data.digit_render``
re-renders it from the installed fonts deliberately (then bump ``digits.GENERATOR_VERSION`` if it changed).
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

from harness.core.errors import HarnessError
from harness.data import exact as ex

# Typefaces shipped with matplotlib (so no download): sans, serif, mono, bold, italic and Computer Modern cuts.
FONT_FILES = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf", "DejaVuSerif-Italic.ttf", "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf", "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf",
    "cmr10.ttf", "cmss10.ttf", "cmb10.ttf", "cmtt10.ttf",
)
GLYPH_FILE = Path(__file__).resolve().with_name("digit_glyphs.npz")  # the bundled glyph bank
# sha256 of the bank's contents (glyphs_sha256), checked on load
GLYPHS_SHA256 = "15dff24d5a659dae6fb0a799f3b30e180fc1bdd37b0b4df33885a9fc0f079125"
_GLYPH_PT = 48  # Glyph-bank font size: about 35 px tall, at least 1.5x the largest digit drawn at 32 px.
_NEIGHBOUR_P = 0.7  # Probability of a partially visible neighbour digit on each side.
_MIN_CONTRAST = 0.3  # Minimum |luminance(fg) - luminance(bg)|, in [0, 1], so every digit is legible.

Bank = tuple[tuple[np.ndarray, ...], ...]  # bank[font][digit]: uint8 (H, W) ink mask, 255 on 0


def render_glyph_bank(font_dir: str | Path) -> Bank:
    """Renders the digits 0-9 of every ``FONT_FILES`` font in ``font_dir`` (Pillow's basic layout engine).

    The glyphs of one font share a vertical box (so their heights stay comparable) and are cropped horizontally
    to their ink.
    """
    from PIL import Image, ImageDraw, ImageFont  # only to re-render the bundled bank, never to generate data

    bank = []
    for name in FONT_FILES:
        font = ImageFont.truetype(os.path.join(font_dir, name), _GLYPH_PT, layout_engine=ImageFont.Layout.BASIC)
        boxes = [font.getbbox(str(d)) for d in range(10)]
        top, bottom = min(b[1] for b in boxes), max(b[3] for b in boxes)
        glyphs = []
        for digit, box in enumerate(boxes):
            canvas = Image.new("L", (box[2] + 4, bottom + 4), 0)
            ImageDraw.Draw(canvas).text((0, 0), str(digit), fill=255, font=font)
            ink = canvas.getbbox() or (0, 0, canvas.width, canvas.height)
            glyphs.append(np.asarray(canvas.crop((ink[0], top, ink[2], bottom)), dtype=np.uint8))
        bank.append(tuple(glyphs))
    return tuple(bank)


def glyphs_sha256(bank: Bank) -> str:
    """sha256 of a bank's glyph shapes and pixels, font by font, digit by digit."""
    digest = hashlib.sha256()
    for font in bank:
        for glyph in font:
            digest.update(f"{glyph.shape}|".encode())
            digest.update(np.ascontiguousarray(glyph, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def write_glyph_bank(bank: Bank, path: str | Path) -> None:
    """Writes ``bank`` as a compressed ``.npz`` of uint8 arrays ``f<font>_d<digit>``."""
    np.savez_compressed(path, **{f"f{i}_d{d}": glyph for i, font in enumerate(bank) for d, glyph in enumerate(font)})


@functools.lru_cache(maxsize=1)
def glyph_bank() -> Bank:
    """The bundled glyphs, ``bank[font][digit]`` uint8 ``(H, W)`` (ink 255 on 0), checked against the pin.

    Raises:
        HarnessError: The bundled file is missing, unreadable or not the pinned bank.
    """
    try:
        with np.load(GLYPH_FILE, allow_pickle=False) as stored:
            bank = tuple(tuple(stored[f"f{i}_d{d}"] for d in range(10)) for i in range(len(FONT_FILES)))
    except (OSError, KeyError, ValueError) as exc:
        raise HarnessError(f"digit glyph bank {str(GLYPH_FILE)!r} is missing or unreadable ({exc}); restore it from "
                           "the repository") from exc
    if glyphs_sha256(bank) != GLYPHS_SHA256:
        raise HarnessError(f"digit glyph bank {str(GLYPH_FILE)!r} is not the pinned one (sha256 "
                           f"{glyphs_sha256(bank)[:12]}…, expected {GLYPHS_SHA256[:12]}…); restore it from git")
    return bank


Linear = tuple[float, float, float, float]  # a 2x2 matrix (a, b, c, d) = [[a, b], [c, d]], row-major


def _matmul(m: Linear, n: Linear) -> Linear:
    return (m[0] * n[0] + m[1] * n[2], m[0] * n[1] + m[1] * n[3], m[2] * n[0] + m[3] * n[2], m[2] * n[1] + m[3] * n[3])


def _place(glyph: np.ndarray, linear: Linear, centre: tuple[float, float], size: int) -> np.ndarray:
    """Warps ``glyph`` so its centre lands on ``centre`` (x, y) under ``linear``; float64 ``(size, size)`` in [0, 1].

    Every output pixel centre is mapped back through the inverse map and the glyph sampled bilinearly (zero outside).
    """
    a, b, c, d = linear
    det = a * d - b * c
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    centres = np.arange(size, dtype=np.float64) + 0.5
    dx, dy = centres[None, :] - centre[0], centres[:, None] - centre[1]
    src_x = (ia * dx + ib * dy) + glyph.shape[1] / 2.0 - 0.5  # glyph pixel centres sit at integer + 0.5
    src_y = (ic * dx + id_ * dy) + glyph.shape[0] / 2.0 - 0.5
    return ex.bilinear(glyph, src_y, src_x) / 255.0


def _digit_mask(label: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Ink mask of one crop: the centred ``label`` digit plus possible neighbours; float64 ``(size, size)``."""
    bank = glyph_bank()
    font = bank[rng.integers(len(bank))]
    glyph = font[label]
    height, width = glyph.shape
    scale = ex.uniform(rng, 0.55, 0.85) * size / height
    angle = ex.uniform(rng, -10.0, 10.0) * (ex.PI / 180.0)
    cos, sin = float(ex.cos(angle)), float(ex.sin(angle))
    shear = ex.uniform(rng, -0.15, 0.15)
    linear = _matmul(_matmul((cos, -sin, sin, cos), (1.0, shear, 0.0, 1.0)),
                     (scale * ex.uniform(rng, 0.85, 1.2), 0.0, 0.0, scale))
    centre = (size / 2.0 + ex.uniform(rng, -0.06, 0.06) * size, size / 2.0 + ex.uniform(rng, -0.06, 0.06) * size)
    mask = _place(glyph, linear, centre, size)
    gap = ex.uniform(rng, 0.03, 0.25) * height  # In glyph pixels, so it scales with the digit.
    for side in (-1.0, 1.0):
        if ex.random(rng) >= _NEIGHBOUR_P:
            continue
        other = font[rng.integers(10)]
        offset = side * (width / 2.0 + gap + other.shape[1] / 2.0)  # along the glyph's x axis
        moved = (centre[0] + linear[0] * offset, centre[1] + linear[2] * offset)
        np.maximum(mask, _place(other, linear, moved, size), out=mask)
    return mask


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return (0.299 * rgb[..., 0] + 0.587 * rgb[..., 1]) + 0.114 * rgb[..., 2]


def _colours(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Foreground and background RGB colours ``(n, 3)`` in [0, 1] whose luminances differ by ``_MIN_CONTRAST``."""
    fg, bg = _muted(n, rng), _muted(n, rng)
    bad = np.abs(_luminance(fg) - _luminance(bg)) < _MIN_CONTRAST
    while bad.any():
        count = int(np.count_nonzero(bad))
        fg[bad], bg[bad] = _muted(count, rng), _muted(count, rng)
        bad = np.abs(_luminance(fg) - _luminance(bg)) < _MIN_CONTRAST
    return fg, bg


def _muted(n: int, rng: np.random.Generator) -> np.ndarray:
    """RGB ``(n, 3)`` in [0, 1]: a grey level plus a modest tint, like painted signs and plates under daylight."""
    grey = ex.random(rng, (n, 1))
    tint = ex.normal(rng, 0.0, 1.0, (n, 3)) * ex.uniform(rng, 0.0, 0.18, (n, 1))
    return np.clip(grey + tint, 0.0, 1.0)


def _shading(n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """Per-image linear gradient plus low-frequency texture, float64 ``(n, 1, size, size)`` around 0."""
    coords = (np.arange(size, dtype=np.float64) + 0.5) / size - 0.5
    theta = ex.uniform(rng, 0.0, ex.TWO_PI, n)
    amplitude = ex.uniform(rng, 0.0, 0.3, n)
    ramp = ex.cos(theta)[:, None, None] * coords[None, None, :] + ex.sin(theta)[:, None, None] * coords[None, :, None]
    texture = ex.resize_cubic(ex.normal(rng, 0.0, 1.0, (n, 1, 5, 5)), size)  # torch's bicubic (a = -0.75)
    texture = texture * ex.uniform(rng, 0.0, 0.08, n)[:, None, None, None]
    return (amplitude[:, None, None] * ramp)[:, None] + texture


def render_printed(labels: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Renders one SVHN-like crop per label; the centre digit is the label.

    Args:
        labels: int ``(N,)`` digits in 0..9.
        size: Output side length in pixels (32 matches SVHN).
        rng: Source of all randomness (font, geometry, neighbours, colours, shading, blur, noise).

    Returns:
        uint8 ``(N, 3, size, size)`` RGB.
    """
    n = len(labels)
    if not n:
        return np.zeros((0, 3, size, size), dtype=np.uint8)
    masks = np.stack([_digit_mask(int(d), size, rng) for d in labels])[:, None]
    fg, bg = _colours(n, rng)
    shade = _shading(n, size, rng)
    # Lighting shades ink and background alike; the texture belongs to the surface, so it is mostly background.
    background = bg[:, :, None, None] + shade
    ink = fg[:, :, None, None] + 0.5 * shade
    images = masks * ink + (1.0 - masks) * background
    images = ex.gaussian_blur(images, ex.uniform(rng, 0.3, 1.1, n) * (size / 32))
    images = images + ex.normal(rng, 0.0, 1.0, images.shape) * ex.uniform(rng, 0.0, 0.05, (n, 1, 1, 1))
    return ex.to_uint8(images)


def main() -> int:
    """Re-renders the glyph bank from the installed matplotlib's fonts into ``GLYPH_FILE``; prints its sha256."""
    import matplotlib

    bank = render_glyph_bank(os.path.join(matplotlib.get_data_path(), "fonts", "ttf"))
    write_glyph_bank(bank, GLYPH_FILE)
    digest = glyphs_sha256(bank)
    same = "unchanged" if digest == GLYPHS_SHA256 else "CHANGED: set GLYPHS_SHA256 and bump digits.GENERATOR_VERSION"
    print(f"{GLYPH_FILE}: sha256 {digest} ({same})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
