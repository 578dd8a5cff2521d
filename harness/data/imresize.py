"""MATLAB ``imresize`` with the bicubic kernel and antialiasing: how the SR benchmarks make their LR images.

SRGAN (§3.2) and the Set5/Set14/BSD100 ×4 benchmarks obtain LR images with MATLAB's ``imresize(HR, 1/4,
'bicubic')``. MATLAB's documented algorithm (``imresize.m``: ``contributions``, ``cubic``), restated:

- Kernel: Keys' cubic convolution with a = −0.5,
  ``cubic(x) = 1.5|x|³ − 2.5|x|² + 1`` for ``|x| ≤ 1``, ``−0.5|x|³ + 2.5|x|² − 4|x| + 2`` for ``1 < |x| ≤ 2``, else 0.
- Antialiasing when shrinking (scale s < 1): the kernel is stretched, ``h(x) = s·cubic(s·x)``, width ``4/s``
  (16 input pixels per output pixel at ×1/4). Enlarging uses ``cubic`` itself (width 4).
- Coordinates: output pixel i (1-based) samples input position ``u = i/s + 0.5·(1 − 1/s)`` (pixel centres align).
  Its taps are ``floor(u − width/2) + 0 … ceil(width) + 1``, weighted ``h(u − j)`` and normalised to sum to 1.
- Borders: taps outside the image are mirrored (symmetric padding: ``…, 2, 1, 1, 2, …``).
- Output size ``ceil(s · size)``; rows (height) are resized first, then columns. uint8 input gives uint8 output,
  rounded and saturated after each of the two passes (``imresizemex`` returns the input's class); float input
  stays float, unrounded.

How it differs from the other bicubics:

- ``torch.nn.functional.interpolate(mode="bicubic")``: a = −0.75 (not −0.5) and, by default, no antialiasing, so a
  ×1/4 reduction samples 4 of every 16 pixels and aliases; borders are clamped (edge pixel repeated), not mirrored.
  With ``antialias=True`` it uses a = −0.5 and a stretched support like MATLAB, but still clamps at the borders.
- PIL ``Image.resize(..., BICUBIC)``: a = −0.5 and a stretched support, but taps outside the image are dropped and
  the remaining weights renormalised (no mirroring), and 8-bit images are filtered in fixed-point integer
  arithmetic, so values differ from MATLAB near the borders and by rounding everywhere.

Both therefore give LR images that differ from the benchmarks' (typically by 0.1–0.5 dB in the bicubic baseline's
PSNR); this module reproduces MATLAB's.
"""

from __future__ import annotations

import functools
import math
import operator

import numpy as np
import torch

from harness.data import exact as ex


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = −0.5 (MATLAB ``imresize``'s ``cubic``), float64."""
    ax = np.abs(np.asarray(x, dtype=np.float64))
    ax2 = ax * ax
    ax3 = ax2 * ax
    inner = ((1.5 * ax3 - 2.5 * ax2) + 1.0) * (ax <= 1)
    outer = (((-0.5 * ax3 + 2.5 * ax2) - 4.0 * ax) + 2.0) * ((ax > 1) & (ax <= 2))
    return inner + outer


def resize_taps(in_size: int, scale: float, antialias: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The taps of one pass of MATLAB's bicubic ``imresize`` along an axis of ``in_size``.

    Args:
        in_size: Input length along the axis.
        scale: Output/input length ratio (0.25 for ×4 downsampling, 4 for ×4 upsampling).
        antialias: Stretch the kernel when shrinking (MATLAB's default).

    Returns:
        ``(index, weights)``, int64 and float64 ``(out, K)``: output pixel i is ``Σ_k weights[i, k] ·
        input[index[i, k]]`` (mirrored taps already mapped inside the image); each row of weights sums to 1.
        Computed with ``harness.data.exact``'s elementwise operations, so they are the same bytes everywhere.
    """
    out_size = math.ceil(in_size * scale)
    stretch = scale if (antialias and scale < 1) else 1.0
    width = 4.0 / stretch
    u = np.arange(1, out_size + 1, dtype=np.float64) / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = left[:, None] + np.arange(math.ceil(width) + 2, dtype=np.float64)[None, :]  # 1-based positions
    weights = stretch * cubic(stretch * (u[:, None] - taps))
    weights = weights / ex.sum_axis(weights, 1)[:, None]
    period = np.arange(2 * in_size)  # 0-based symmetric padding: 0 … n−1, n−1 … 0, repeated
    mirror = np.where(period < in_size, period, 2 * in_size - 1 - period)
    index = mirror[np.mod(taps.astype(np.int64) - 1, 2 * in_size)]
    return index, weights


def resize_matrix(in_size: int, scale: float, antialias: bool = True) -> torch.Tensor:
    """The float64 ``(out, in)`` matrix of one pass (``resize_taps`` with mirrored taps folded in, in tap order)."""
    index, weights = resize_taps(in_size, scale, antialias)
    matrix = np.zeros((index.shape[0], in_size), dtype=np.float64)
    for k in range(index.shape[1]):
        np.add.at(matrix, (np.arange(index.shape[0]), index[:, k]), weights[:, k])
    return torch.from_numpy(matrix)


def _pass(images: torch.Tensor, taps: tuple[np.ndarray, np.ndarray], dim: int, integer: bool) -> torch.Tensor:
    """One pass along ``dim`` (-2 rows, -1 columns) of float64 images, taps summed in order (one rounding each).

    Rounds to 0..255 if ``integer``. Only elementwise multiplies and adds, so the result does not depend on the
    device's matrix kernels.
    """
    index, weights = (torch.from_numpy(t).to(images.device) for t in taps)
    shape = [1] * images.dim()
    shape[dim] = index.shape[0]
    terms = (images.index_select(dim, index[:, k]) * weights[:, k].reshape(shape) for k in range(index.shape[1]))
    out = functools.reduce(operator.add, terms)  # ((t0 + t1) + t2) + …
    return out.round().clamp_(0, 255) if integer else out


def imresize(images: torch.Tensor, scale: float, *, antialias: bool = True) -> torch.Tensor:
    """MATLAB ``imresize(images, scale, 'bicubic')`` of a batch (module docstring).

    Args:
        images: ``(N, C, H, W)`` uint8 (the benchmarks' case) or float.
        scale: Output/input size ratio, e.g. ``1/4`` or ``4``; output is ``ceil(scale·H) x ceil(scale·W)``.
        antialias: MATLAB's ``'Antialiasing'`` option (on by default; only matters when shrinking).

    Returns:
        uint8 for uint8 input (rounded after each pass, as MATLAB), else float64; on the input's device.

    Example:
        >>> imresize(torch.full((1, 1, 8, 8), 200, dtype=torch.uint8), 1 / 4)
        tensor([[[[200, 200],
                  [200, 200]]]], dtype=torch.uint8)
    """
    if images.dim() != 4:
        raise ValueError(f"imresize: expected (N, C, H, W), got shape {tuple(images.shape)}")
    if not scale > 0:
        raise ValueError(f"imresize: scale must be positive, got {scale}")
    integer = images.dtype == torch.uint8
    rows = resize_taps(images.shape[-2], scale, antialias)
    cols = resize_taps(images.shape[-1], scale, antialias)
    out = _pass(_pass(images.double(), rows, -2, integer), cols, -1, integer)
    return out.to(torch.uint8) if integer else out


def nearest_upscale(images: torch.Tensor, factor: int) -> torch.Tensor:
    """Nearest-neighbour ×``factor`` enlargement: each pixel repeated factor × factor times.

    For an integer factor this is MATLAB's ``imresize(..., 'nearest')`` (output pixel i samples input position
    ``i/f + 0.5·(1 − 1/f)``, which rounds to pixel ``ceil(i/f)``).
    """
    return images.repeat_interleave(factor, dim=-2).repeat_interleave(factor, dim=-1)
