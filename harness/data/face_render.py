"""Parametric frontal faces drawn with numpy: identity geometry, CelebA-like attributes and RaFD-like expressions.

A face is drawn on a supersampled canvas in normalised coordinates (x right, y down, the face centred near the
origin, about 0.45 wide and 1.1 tall) and box-filtered down to the output size, so edges are antialiased.

- **Identity** (``sample_identity``, fixed per person): face width and the heights of its upper and lower halves,
  jaw squareness, skin tone, ear size, eye spacing / height / size / iris colour, brow length / gap / thickness,
  nose length / width, mouth height / width, lip thickness and colour, hairline height.
- **Attributes** (CelebA's ``Black_Hair``, ``Blond_Hair``, ``Brown_Hair``, ``Male``, ``Young``): hair colour;
  male = short hair, squarer and wider jaw, thicker brows, beard shadow; female = long hair falling to the
  shoulders, narrower chin, redder lips; old = grey-mixed hair, raised hairline, forehead lines, crow's feet,
  nasolabial folds, under-eye bags and slightly desaturated skin.
- **Expressions** (RaFD's eight, alphabetical as its folders): the mouth (corner curve, opening, width, asymmetry,
  teeth, round "O"), the brows (raise, inner-end tilt) and the eyes (openness), plus nose wrinkles for disgust.
- **Nuisance** per image: head position and scale, gaze, lighting, background and clothing colours, pixel noise.
"""

from __future__ import annotations

import numpy as np

from harness.data import exact as ex

ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")  # StarGAN's selected_attrs, in order
EXPRESSIONS = ("angry", "contemptuous", "disgusted", "fearful", "happy", "neutral", "sad", "surprised")
NEUTRAL = EXPRESSIONS.index("neutral")
HAIR = np.array([[0.07, 0.06, 0.06], [0.86, 0.72, 0.40], [0.40, 0.24, 0.12]], dtype=np.float32)  # black/blond/brown
GREY = np.array([0.78, 0.78, 0.80], dtype=np.float32)
# curve (corners up > 0), open, width scale, asymmetry (right corner up), brow raise, brow inner tilt (down > 0),
# eye openness, round mouth, teeth, nose wrinkle, right brow extra raise
_EXPR = {
    "angry": (-0.2, 0.0, 0.7, 0.0, -0.35, 1.25, 0.6, 0, 0, 0, 0.0),
    "contemptuous": (0.0, 0.0, 0.95, 1.4, 0.0, 0.0, 0.85, 0, 0, 0, 0.8),
    "disgusted": (-0.5, 0.5, 1.0, 0.4, -0.5, 0.1, 0.5, 0, 1, 1, 0.0),
    "fearful": (-0.25, 0.55, 1.25, 0.0, 0.55, -0.7, 1.4, 0, 0, 0, 0.0),
    "happy": (0.75, 0.45, 1.18, 0.0, 0.05, 0.0, 0.7, 0, 1, 0, 0.0),
    "neutral": (0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0, 0, 0, 0.0),
    "sad": (-0.7, 0.0, 0.9, 0.0, 0.2, -0.9, 0.8, 0, 0, 0, 0.0),
    "surprised": (0.0, 1.0, 0.55, 0.0, 0.9, 0.0, 1.5, 1, 0, 0, 0.0),
}
_SKIN_LIGHT = np.array([0.97, 0.82, 0.70], dtype=np.float32)
_SKIN_DARK = np.array([0.42, 0.27, 0.19], dtype=np.float32)
_IRIS = np.array([[0.35, 0.20, 0.10], [0.25, 0.45, 0.70], [0.30, 0.50, 0.30], [0.12, 0.09, 0.08]], dtype=np.float32)


def sample_identity(rng: np.random.Generator) -> dict[str, object]:
    """A person's fixed geometry and colours (every value a float, or an RGB array)."""
    def u(low: float, high: float) -> float:
        return ex.uniform(rng, low, high)

    skin = _SKIN_LIGHT + (_SKIN_DARK - _SKIN_LIGHT) * u(0, 0.85) + ex.normal(rng, 0.0, 0.02, 3).astype(np.float32)
    return {
        "rx": u(0.38, 0.47), "ry_top": u(0.50, 0.58), "ry_bot": u(0.50, 0.62), "jaw": u(-0.3, 0.3),
        "skin": np.clip(skin, 0, 1), "ear": u(0.055, 0.085), "eye_dx": u(0.14, 0.2), "eye_y": u(-0.13, -0.05),
        "eye_rx": u(0.065, 0.085), "eye_ry": u(0.034, 0.046), "iris": _IRIS[rng.integers(len(_IRIS))],
        "brow_gap": u(0.065, 0.1), "brow_len": u(0.13, 0.18), "brow_thick": u(0.02, 0.03),
        "nose_len": u(0.14, 0.22), "nose_w": u(0.045, 0.085), "mouth_y": u(0.27, 0.34), "mouth_w": u(0.15, 0.2),
        "lip": u(0.018, 0.03), "lip_tint": u(0.0, 1.0), "hairline": u(-0.44, -0.32), "part": u(-0.15, 0.15),
    }


def _canvas(size: int, supersample: int) -> tuple[np.ndarray, np.ndarray]:
    n = size * supersample
    axis = (np.arange(n, dtype=np.float32) + 0.5) / n * 2 - 1
    return np.meshgrid(axis, axis)  # (x, y), each (n, n)


def _paint(canvas: np.ndarray, mask: np.ndarray, colour: np.ndarray | tuple, alpha: float = 1.0) -> None:
    """Blends ``colour`` into ``canvas`` (H, W, 3) where ``mask`` (H, W) is set, working in the mask's bounding box."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if not len(rows):
        return
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    sub, inside = canvas[box], mask[box][..., None]
    colour = np.asarray(colour, dtype=np.float32)
    sub[...] = np.where(inside, sub * (1 - alpha) + colour * alpha, sub)


def _ellipse(x, y, cx, cy, rx, ry) -> np.ndarray:
    return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1


def _band(x, y, x0, x1, curve, half_thickness) -> np.ndarray:
    """Pixels within ``half_thickness`` (vertically) of ``y = curve(x)`` for ``x0 <= x <= x1``."""
    inside = (x >= x0) & (x <= x1)
    return inside & (np.abs(y - curve(np.clip(x, x0, x1))) <= half_thickness)


def _face_mask(x, y, p: dict, male: bool) -> np.ndarray:
    """The head outline: an ellipse on top, a superellipse below (squarer and wider for men)."""
    lower_exp = (3.0 if male else 2.0) + p["jaw"]
    rx_low = p["rx"] * (1.0 if male else 0.92)
    top = (y < 0) & ((x / p["rx"]) ** 2 + (y / p["ry_top"]) ** 2 <= 1)
    bottom = (y >= 0) & (ex.power(np.abs(x / rx_low), lower_exp) + (y / p["ry_bot"]) ** 2 <= 1)
    return top | bottom


def _hair_colour(hair: int, young: bool, rng: np.random.Generator) -> np.ndarray:
    colour = HAIR[hair] + ex.normal(rng, 0.0, 0.025, 3).astype(np.float32)
    if not young:
        colour = colour * 0.45 + GREY * 0.55
    return np.clip(colour, 0, 1)


def _draw_hair(img, x, y, p, face, colour, male: bool, young: bool, back: bool) -> None:
    """Long hair behind the head (women, ``back=True``) or the hair cap over the forehead (everyone)."""
    def strands(region: np.ndarray) -> np.ndarray:  # hair texture, computed only where hair is drawn
        return (1 + 0.1 * ex.sin(x[region] * 90 + ex.sin(y[region] * 7) * 2))[:, None]

    if back:
        if not male:
            region = _ellipse(x, y, 0, -0.05, p["rx"] * 1.32, p["ry_top"] * 1.15)
            region |= (np.abs(x) <= p["rx"] * 1.3) & (y >= -0.05) & (y <= 0.72 - 0.3 * (x / p["rx"]) ** 2)
            _paint(img, region, colour * 0.85)
            img[region] = np.clip(img[region] * strands(region), 0, 1)
        return
    hairline = p["hairline"] - (0.0 if young else 0.07) + (0.0 if male else 0.04)
    drop = 0.28 if male else 0.55  # how far the hair comes down the temples
    line = hairline + drop * (x / p["rx"]) ** 2 + 0.05 * ex.tanh((x - p["part"]) * 20)
    head = _ellipse(x, y, 0, -0.02, p["rx"] * (1.08 if male else 1.14), p["ry_top"] * (1.1 if male else 1.16))
    brow_top = p["eye_y"] - p["eye_ry"] - p["brow_gap"] - 0.06
    clear = face & (y > brow_top) & (np.abs(x) < p["eye_dx"] + p["eye_rx"] + 0.03)  # never over brows and eyes
    region = head & (y < line) & ((y < 0.1) | ~face) & ~clear
    _paint(img, region, colour)
    img[region] = np.clip(img[region] * strands(region), 0, 1)


def _draw_age(img, x, y, p, face, skin, young: bool, male: bool) -> None:
    if young:
        return
    line_col, t = skin * 0.72, 0.008
    forehead = face & (y < p["eye_y"] - p["brow_gap"] - 0.05)
    for k in range(3):
        level = p["eye_y"] - p["brow_gap"] - 0.09 - 0.045 * k
        _paint(img, forehead & _band(x, y, -0.2, 0.2, lambda xs, lv=level: lv + 0.02 * ex.cos(xs * 9), t), line_col)
    for side in (-1, 1):
        x0 = side * p["nose_w"] * 0.9
        x1 = side * (p["mouth_w"] + 0.05)
        lo, hi = sorted((x0, x1))
        fold = _band(x, y, lo, hi, lambda xs, a=x0, b=x1: p["eye_y"] + p["nose_len"] + (xs - a) / (b - a) * (
            p["mouth_y"] - p["eye_y"] - p["nose_len"] + 0.02), t * 1.2)
        _paint(img, face & fold, line_col)
        corner = side * (p["eye_dx"] + p["eye_rx"] + 0.015)
        lo2, hi2 = sorted((corner, corner + side * 0.05))
        for slope in (-0.5, 0.0, 0.5):  # crow's feet fanning out from the outer eye corner
            _paint(img, _band(x, y, lo2, hi2, lambda xs, a=corner, k=slope: p["eye_y"] + k * np.abs(xs - a), t * 0.8),
                   line_col)
        bag = _ellipse(x, y, side * p["eye_dx"], p["eye_y"] + p["eye_ry"] + 0.03, p["eye_rx"] * 0.9, 0.018)
        _paint(img, bag & ~_ellipse(x, y, side * p["eye_dx"], p["eye_y"] + p["eye_ry"] + 0.02,
                                    p["eye_rx"] * 0.9, 0.016), line_col, 0.7)


def _draw_eyes(img, x, y, p, expr, gaze: float, brow_colour, male: bool) -> None:
    raise_, tilt, openness, brow_asym = expr[4], expr[5], expr[6], expr[10]
    for side in (-1, 1):
        cx, cy = side * p["eye_dx"], p["eye_y"]
        ry = p["eye_ry"] * openness
        white = _ellipse(x, y, cx, cy, p["eye_rx"], max(ry, 0.006))
        _paint(img, white, (0.96, 0.96, 0.94))
        iris_r = p["eye_ry"] * 0.95
        ix = cx + gaze * p["eye_rx"] * 0.45
        _paint(img, white & _ellipse(x, y, ix, cy, iris_r, iris_r), p["iris"])
        _paint(img, white & _ellipse(x, y, ix, cy, iris_r * 0.45, iris_r * 0.45), (0.03, 0.03, 0.03))
        top = max(ry, 0.006)
        lid = _band(x, y, cx - p["eye_rx"], cx + p["eye_rx"], lambda xs, c=cx, c_y=cy, r=top: c_y - r * ex.sqrt(
            np.clip(1 - ((xs - c) / p["eye_rx"]) ** 2, 0, 1)), 0.006)
        _paint(img, lid, (0.1, 0.07, 0.06))
        # Brow: inner end at the nose side; tilt > 0 pulls the inner end down (anger), < 0 lifts it (sadness).
        inner, outer = cx - side * p["brow_len"] * 0.45, cx + side * p["brow_len"] * 0.55
        base = cy - p["eye_ry"] - p["brow_gap"] - (raise_ + brow_asym * (side > 0)) * 0.07
        thick = p["brow_thick"] * (1.4 if male else 1.0)
        lo, hi = sorted((inner, outer))
        _paint(img, _band(x, y, lo, hi, lambda xs, a=inner, b=outer, b0=base: b0 + tilt * 0.06 * (xs - b) / (a - b)
                          - 0.012 * ex.sin(ex.PI * (xs - a) / (b - a)), thick), brow_colour)


def _draw_nose(img, x, y, p, skin, wrinkle: bool) -> None:
    tip = p["eye_y"] + p["nose_len"]
    shade = skin * 0.78
    _paint(img, _band(x, y, -p["nose_w"] * 0.3, p["nose_w"] * 0.3, lambda xs: tip + 8 * xs**2, 0.006), shade)
    for side in (-1, 1):
        _paint(img, _ellipse(x, y, side * p["nose_w"] * 0.45, tip, 0.016, 0.01), skin * 0.55)
    ridge = (np.abs(x - 0.022) < 0.006) & (y > p["eye_y"] + 0.02) & (y < tip - 0.02)
    _paint(img, ridge, shade, 0.6)
    if wrinkle:
        for k in range(3):
            level = p["eye_y"] + 0.015 + 0.022 * k
            _paint(img, _band(x, y, -0.045, 0.045, lambda xs, lv=level: lv - 4 * xs**2, 0.005), skin * 0.65)


def _draw_mouth(img, x, y, p, expr, female: bool) -> None:
    curve, opening, width, asym, round_mouth, teeth = expr[0], expr[1], expr[2], expr[3], expr[7], expr[8]
    w, my = p["mouth_w"] * width, p["mouth_y"]
    lip = p["skin"] * np.array([0.85, 0.58, 0.58], dtype=np.float32)
    if female:
        lip = lip * 0.5 + np.array([0.72, 0.2, 0.28], dtype=np.float32) * 0.5

    def centre(xs):
        t = xs / w
        return my - curve * 0.1 * t**2 - asym * 0.09 * np.clip(t, 0, None) ** 2

    if round_mouth:
        outer = _ellipse(x, y, 0, my + 0.01, w * 0.75 + p["lip"], 0.075 * opening + p["lip"])
        _paint(img, outer, lip)
        _paint(img, _ellipse(x, y, 0, my + 0.01, w * 0.75, 0.075 * opening), (0.28, 0.05, 0.06))
        return
    up = lambda xs: centre(xs) - opening * 0.06 * (1 - (xs / w) ** 2)  # noqa: E731
    lo = lambda xs: centre(xs) + opening * 0.09 * (1 - (xs / w) ** 2)  # noqa: E731
    xs_in = (x >= -w) & (x <= w)
    lips = xs_in & (y >= up(np.clip(x, -w, w)) - p["lip"]) & (y <= lo(np.clip(x, -w, w)) + p["lip"] * 1.2)
    _paint(img, lips, lip)
    if opening > 0:
        inside = xs_in & (y > up(np.clip(x, -w, w))) & (y < lo(np.clip(x, -w, w)))
        _paint(img, inside, (0.28, 0.05, 0.06))
        if teeth:
            _paint(img, inside & (y < up(np.clip(x, -w, w)) + opening * 0.035), (0.95, 0.95, 0.92))
    _paint(img, _band(x, y, -w, w, centre if opening == 0 else up, 0.004), lip * 0.45)


def _scaled_expression(name: str, intensity: float) -> tuple:
    """The expression's table row with its displacements (not its switches) scaled by ``intensity``."""
    curve, opening, width, asym, raise_, tilt, eyes, round_mouth, teeth, wrinkle, brow_asym = _EXPR[name]
    k = intensity
    return (curve * k, opening * k, 1 + (width - 1) * k, asym * k, raise_ * k, tilt * k, 1 + (eyes - 1) * k,
            round_mouth, teeth, wrinkle, brow_asym * k)


def render_face(p: dict, *, hair: int, male: bool, young: bool, expression: int, size: int, supersample: int,
                rng: np.random.Generator, gaze: float = 0.0, intensity: float = 1.0) -> np.ndarray:
    """Renders one face.

    Args:
        p: Identity parameters from ``sample_identity``.
        hair: 0 black, 1 blond, 2 brown.
        male: Male (short hair, square jaw, beard shadow) or female (long hair, narrow chin, red lips).
        young: Young, or old (grey hair, wrinkles).
        expression: Index into ``EXPRESSIONS``.
        size: Output side in pixels.
        supersample: Canvas oversampling factor (antialiasing).
        rng: Nuisance randomness (pose, light, colours, noise).
        gaze: Horizontal gaze in [-1, 1] (RaFD's left / frontal / right gaze).
        intensity: Scales the expression's displacements (1 = the table's values).

    Returns:
        uint8 ``(3, size, size)``.
    """
    expr = _scaled_expression(EXPRESSIONS[expression], intensity)
    u, v = _canvas(size, supersample)
    scale, cx, cy = ex.uniform(rng, 1.25, 1.38), ex.normal(rng, 0.0, 0.03), 0.06 + ex.normal(rng, 0.0, 0.025)
    x, y = (u - cx) / scale, (v - cy) / scale
    img = np.empty((*x.shape, 3), dtype=np.float32)
    img[:] = ex.uniform(rng, 0.25, 0.8, 3).astype(np.float32)
    img *= (1 - 0.15 * (v[..., None] + 1) / 2)
    skin = p["skin"] * (0.96 if young else 0.9) + (0 if young else 0.04)
    hair_colour = _hair_colour(hair, young, rng)
    face = _face_mask(x, y, p, male)
    _draw_hair(img, x, y, p, face, hair_colour, male, young, back=True)
    _paint(img, _ellipse(x, y, 0, 1.25, 0.95, 0.55), ex.uniform(rng, 0.1, 0.9, 3))  # clothes
    _paint(img, (np.abs(x) < 0.16) & (y > 0.3) & (y < 0.85), skin * 0.88)  # neck
    for side in (-1, 1):
        _paint(img, _ellipse(x, y, side * p["rx"] * 0.98, -0.02, p["ear"], p["ear"] * 1.5), skin * 0.92)
    _paint(img, face, skin)
    img[face] *= (1 - 0.12 * (x[face] ** 2 + y[face] ** 2))[:, None]
    if male:
        beard = face & (y > p["eye_y"] + p["nose_len"] + 0.03) & ~_ellipse(x, y, 0, p["mouth_y"],
                                                                            p["mouth_w"] * 1.25, 0.06)
        _paint(img, beard, skin * 0.7, 0.45)
    _draw_hair(img, x, y, p, face, hair_colour, male, young, back=False)
    _draw_age(img, x, y, p, face, skin, young, male)
    _draw_eyes(img, x, y, p, expr, gaze, np.clip(hair_colour * 0.7, 0, 1), male)
    _draw_nose(img, x, y, p, skin, bool(expr[9]))
    _draw_mouth(img, x, y, p, expr, not male)
    img *= ex.uniform(rng, 0.88, 1.1)
    blocks = img.reshape(size, supersample, size, supersample, 3)  # box filter: the subsamples summed in order
    img = ex.sum_axis(ex.sum_axis(blocks, 3), 1) / float(supersample * supersample)
    img += ex.normal(rng, 0.0, 0.008, img.shape)
    return ex.to_uint8(img).transpose(2, 0, 1)
