"""Exactly specified arithmetic for the embedded generators: the same bytes on every CPU and library release.

A generated task is a benchmark only if every machine generates the same bytes. Results that IEEE 754 specifies
exactly are the same everywhere: integer arithmetic, and one elementwise ``+ − × ÷ √`` (and comparisons, ``floor``,
``rint``, ``ldexp``, ``frexp``, ``min``/``max``) per numpy call, since each call rounds once whatever SIMD width runs
it. What is *not* specified moves between machines and releases: numpy's transcendental ufuncs (``np.sin``,
``np.exp``, ``np.power`` … are dispatched to SIMD kernels, SVML on AVX-512, with different last bits), float
reductions (``sum``, ``mean``, ``@``: the summation order depends on the SIMD width or on BLAS), numpy's
``Generator.uniform`` / ``normal`` (C code a compiler may contract into fused multiply-adds, and the Ziggurat's
``exp`` / ``log`` from libm), torch kernels, scipy's and Pillow's resampling and drawing.

So the generators draw only ``rng.integers``, ``rng.random`` (a 53-bit integer times 2⁻⁵³, exact),
``rng.permutation`` / ``rng.choice`` without weights, and compute everything else with the functions below, each a
fixed sequence of single elementwise operations in float64: polynomial ``sin`` / ``cos`` / ``exp`` / ``log``
(accurate to ~1e-15 relative, which is plenty: what matters is that they are the same everywhere), sums in a fixed
order, separable filters as explicit tap loops, and a bilinear sampler. ``tests/harness/data/test_exact.py`` checks
them against numpy's own functions; ``tests/harness/data/test_same_everywhere.py`` generates every task with SIMD
dispatch lowered and compares hashes, and scans the generators for calls outside this set.
"""

from __future__ import annotations

import numpy as np

PI = 3.141592653589793
TWO_PI = 6.283185307179586
LN2 = 0.6931471805599453
_SIN_TERMS = 15  # Taylor terms of sin/cos on [-π, π]: the last omitted term is below 1e-18
_EXP_TERMS = 18  # Taylor terms of exp on |r| <= ln2 / 2
_LOG_TERMS = 14  # terms of the atanh series of log on [√½, √2]

Array = np.ndarray


def _f64(x: Array | float) -> Array:
    return np.asarray(x, dtype=np.float64)


def random(rng: np.random.Generator, size: int | tuple[int, ...] | None = None) -> Array | float:
    """Uniform draws in [0, 1): numpy's 53-bit ``random`` (an integer times 2⁻⁵³, exact on every machine)."""
    return rng.random(size)


def uniform(rng: np.random.Generator, low: float | Array, high: float | Array,
            size: int | tuple[int, ...] | None = None) -> Array | float:
    """Uniform draws in [low, high): ``low + (high - low) · u`` as separate roundings (no fused multiply-add).

    Returns a Python float when ``size`` is None and both bounds are scalars, else a float64 array.
    """
    u = rng.random(size)
    out = np.add(low, np.multiply(np.subtract(high, low), u))
    return float(out) if size is None and np.ndim(out) == 0 else out


def normal(rng: np.random.Generator, loc: float | Array = 0.0, scale: float | Array = 1.0,
           size: int | tuple[int, ...] | None = None) -> Array | float:
    """Normal draws by Box–Muller with this module's ``log`` and ``cos`` (two uniforms per draw).

    Returns a Python float when ``size`` is None and ``loc``/``scale`` are scalars, else a float64 array.
    """
    u1 = np.subtract(1.0, rng.random(size))  # (0, 1]: log stays finite
    u2 = rng.random(size)
    z = np.multiply(sqrt(np.multiply(-2.0, log(u1))), cos(np.multiply(TWO_PI, u2)))
    out = np.add(loc, np.multiply(scale, z))
    return float(out) if size is None and np.ndim(out) == 0 else out


def sqrt(x: Array | float) -> Array:
    """``√x``: IEEE correctly rounded in every implementation."""
    return np.sqrt(_f64(x))


def _reduce_pi(x: Array) -> Array:
    """``x − 2πk`` in [−π, π] (k = rint(x / 2π)); exact enough for the generators' arguments (|x| < 1e4)."""
    return x - np.rint(x / TWO_PI) * TWO_PI


def sin(x: Array | float) -> Array:
    """``sin(x)``, float64, by a Taylor polynomial on the reduced argument (Horner, fixed order)."""
    r = _reduce_pi(_f64(x))
    r2 = r * r
    acc = np.ones_like(r)
    for n in range(_SIN_TERMS, 0, -1):  # sin r = r (1 − r²/(2·3) (1 − r²/(4·5) (…)))
        acc = 1.0 - r2 / float((2 * n) * (2 * n + 1)) * acc
    return r * acc


def cos(x: Array | float) -> Array:
    """``cos(x)``, float64, by a Taylor polynomial on the reduced argument (Horner, fixed order)."""
    r = _reduce_pi(_f64(x))
    r2 = r * r
    acc = np.ones_like(r)
    for n in range(_SIN_TERMS, 0, -1):  # cos r = 1 − r²/(1·2) (1 − r²/(3·4) (…))
        acc = 1.0 - r2 / float((2 * n - 1) * (2 * n)) * acc
    return acc


def exp(x: Array | float) -> Array:
    """``exp(x)``, float64: ``2^k · e^r`` with |r| <= ln2/2 (Taylor, Horner) and an exact ``ldexp``.

    Arguments are clipped to [−700, 700] (the result saturates instead of overflowing).
    """
    x = np.clip(_f64(x), -700.0, 700.0)
    k = np.rint(x / LN2)
    r = x - k * LN2
    acc = np.ones_like(r)
    for n in range(_EXP_TERMS, 0, -1):  # e^r = 1 + r (1 + r/2 (1 + r/3 (…)))
        acc = 1.0 + r / float(n) * acc
    return np.ldexp(acc, k.astype(np.int64))


def log(x: Array | float) -> Array:
    """Natural ``log(x)`` for x > 0, float64: exponent by ``frexp``, mantissa by the atanh series."""
    x = _f64(x)
    if np.any(x <= 0):
        raise ValueError("exact.log: arguments must be positive")
    m, e = np.frexp(x)  # x = m · 2^e, m in [0.5, 1)
    low = m < 0.7071067811865476
    m = np.where(low, m * 2.0, m)
    e = np.where(low, e - 1, e).astype(np.float64)
    s = (m - 1.0) / (m + 1.0)  # log m = 2 atanh s = 2 (s + s³/3 + s⁵/5 + …), |s| <= 0.172
    s2 = s * s
    acc = np.full_like(s, 1.0 / float(2 * _LOG_TERMS + 1))
    for n in range(_LOG_TERMS - 1, -1, -1):
        acc = 1.0 / float(2 * n + 1) + s2 * acc
    return 2.0 * s * acc + e * LN2


def tanh(x: Array | float) -> Array:
    """``tanh(x)`` from ``exp``: sign(x) (1 − e^{−2|x|}) / (1 + e^{−2|x|})."""
    x = _f64(x)
    t = exp(-2.0 * np.abs(x))
    return np.where(x < 0, -1.0, 1.0) * ((1.0 - t) / (1.0 + t))


def power(x: Array | float, p: float) -> Array:
    """``x ** p`` for x >= 0 and any real p, as ``exp(p · log x)`` (0 for x = 0 and p > 0)."""
    x = _f64(x)
    if p <= 0:
        raise ValueError("exact.power: p must be positive")
    safe = np.where(x > 0, x, 1.0)
    return np.where(x > 0, exp(p * log(safe)), 0.0)


def hypot(x: Array | float, y: Array | float) -> Array:
    """``√(x² + y²)``, each step one rounding."""
    x, y = _f64(x), _f64(y)
    return np.sqrt(x * x + y * y)


def total(values: Array | list[float]) -> float:
    """Sum of a 1-D sequence in index order (one rounding per addition; no pairwise or SIMD reordering)."""
    acc = 0.0
    for value in np.asarray(values, dtype=np.float64).ravel().tolist():
        acc += value
    return acc


def sum_axis(values: Array, axis: int) -> Array:
    """Sum along ``axis`` in index order: one elementwise addition per slice (exact everywhere)."""
    values = np.moveaxis(_f64(values), axis, 0)
    acc = np.zeros(values.shape[1:], dtype=np.float64)
    for piece in values:
        acc = acc + piece
    return acc


def gaussian_kernels(sigma: Array, radius: int) -> Array:
    """Normalised Gaussian taps ``(len(sigma), 2·radius + 1)``, one row per ``sigma`` (pixels)."""
    sigma = _f64(sigma).reshape(-1, 1)
    taps = np.arange(-radius, radius + 1, dtype=np.float64)[None, :] / sigma
    kernel = exp(-0.5 * (taps * taps))
    return kernel / sum_axis(kernel, 1)[:, None]


def filter_axis(images: Array, kernels: Array, axis: int, mode: str = "edge") -> Array:
    """Correlates ``images`` along ``axis`` with one odd-length kernel per leading index, taps in order.

    Args:
        images: float ``(N, ..., H, W)``.
        kernels: float ``(N, K)`` (one kernel per image) or ``(1, K)`` (shared), K odd.
        axis: ``-1`` (columns) or ``-2`` (rows).
        mode: Border handling, ``"edge"`` (replicate) or ``"constant"`` (zeros).

    Returns:
        float64 array of the input's shape.
    """
    images = _f64(images)
    radius = kernels.shape[1] // 2
    pad = [(0, 0)] * images.ndim
    pad[axis] = (radius, radius)
    padded = np.pad(images, pad, mode=mode)
    length = images.shape[axis]
    out = np.zeros_like(images)
    for tap in range(kernels.shape[1]):
        weight = kernels[:, tap].reshape(-1, *([1] * (images.ndim - 1)))
        out = out + weight * np.take(padded, np.arange(tap, tap + length), axis=axis)
    return out


def gaussian_blur(images: Array, sigma: Array, mode: str = "edge") -> Array:
    """Separable Gaussian blur of ``(N, ...)`` with one ``sigma`` per image (radius ⌈3σ_max⌉); float64 out."""
    sigma = _f64(sigma).reshape(-1)
    kernels = gaussian_kernels(sigma, max(1, int(np.ceil(3.0 * float(sigma.max())))))
    return filter_axis(filter_axis(images, kernels, -1, mode), kernels, -2, mode)


def bilinear(image: Array, rows: Array, cols: Array) -> Array:
    """Samples ``image`` (H, W) at fractional pixel positions (pixel centres at integers), zero outside.

    Args:
        image: float ``(H, W)``.
        rows: float array, the row positions to sample.
        cols: float array of the same shape, the column positions.

    Returns:
        float64 array of that shape.
    """
    image = _f64(image)
    h, w = image.shape
    r0, c0 = np.floor(rows), np.floor(cols)
    fr, fc = rows - r0, cols - c0
    r0, c0 = r0.astype(np.int64), c0.astype(np.int64)

    def at(r: Array, c: Array) -> Array:
        inside = (r >= 0) & (r < h) & (c >= 0) & (c < w)
        return np.where(inside, image[np.clip(r, 0, h - 1), np.clip(c, 0, w - 1)], 0.0)

    top = at(r0, c0) * (1.0 - fc) + at(r0, c0 + 1) * fc
    bottom = at(r0 + 1, c0) * (1.0 - fc) + at(r0 + 1, c0 + 1) * fc
    return top * (1.0 - fr) + bottom * fr


def resize_linear(grid: Array, size: int) -> Array:
    """Bilinear upsampling of ``(..., h, w)`` to ``(..., size, size)``, pixel centres aligned, edges clamped."""
    grid = _f64(grid)

    def along(values: Array, axis: int) -> Array:
        n = values.shape[axis]
        pos = (np.arange(size, dtype=np.float64) + 0.5) * (float(n) / float(size)) - 0.5
        pos = np.clip(pos, 0.0, float(n - 1))
        i0 = np.floor(pos).astype(np.int64)
        i1 = np.minimum(i0 + 1, n - 1)
        frac = pos - i0
        shape = [1] * values.ndim
        shape[axis] = size
        frac = frac.reshape(shape)
        return np.take(values, i0, axis=axis) * (1.0 - frac) + np.take(values, i1, axis=axis) * frac

    return along(along(grid, -1), -2)


def resize_cubic(grid: Array, size: int, a: float = -0.75) -> Array:
    """Bicubic (Keys, ``a``) upsampling of ``(..., h, w)`` to ``(..., size, size)``, centres aligned, edges clamped."""
    grid = _f64(grid)

    def weight(t: Array) -> Array:
        t = np.abs(t)
        t2 = t * t
        t3 = t2 * t
        near = ((a + 2.0) * t3 - (a + 3.0) * t2) + 1.0
        far = ((a * t3 - 5.0 * a * t2) + 8.0 * a * t) - 4.0 * a
        return np.where(t <= 1.0, near, np.where(t < 2.0, far, 0.0))

    def along(values: Array, axis: int) -> Array:
        n = values.shape[axis]
        pos = (np.arange(size, dtype=np.float64) + 0.5) * (float(n) / float(size)) - 0.5
        base = np.floor(pos)
        shape = [1] * values.ndim
        shape[axis] = size
        out = None
        for offset in (-1, 0, 1, 2):
            index = np.clip(base.astype(np.int64) + offset, 0, n - 1)
            term = np.take(values, index, axis=axis) * weight(pos - (base + offset)).reshape(shape)
            out = term if out is None else out + term
        return out

    return along(along(grid, -1), -2)


def to_uint8(unit: Array) -> Array:
    """[0, 1] floats to uint8: clipped, times 255, rounded half to even (``rint``)."""
    return np.rint(np.clip(_f64(unit), 0.0, 1.0) * 255.0).astype(np.uint8)
