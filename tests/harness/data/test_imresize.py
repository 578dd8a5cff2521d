"""MATLAB bicubic imresize: the documented kernel and antialiasing formula restated independently, small known cases."""

import math

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from harness.data.imresize import imresize, nearest_upscale, resize_matrix


def _keys(x: float) -> float:
    """Keys' cubic, a = -0.5 (MATLAB imresize.m ``cubic``), written out again."""
    x = abs(x)
    if x <= 1:
        return 1.5 * x**3 - 2.5 * x**2 + 1
    if x <= 2:
        return -0.5 * x**3 + 2.5 * x**2 - 4 * x + 2
    return 0.0


def _matlab_1d(signal: np.ndarray, scale: float) -> np.ndarray:
    """One axis of ``imresize(..., scale, 'bicubic')`` by MATLAB's ``contributions`` loop, in plain Python."""
    n = len(signal)
    shrink = scale < 1
    width = 4 / scale if shrink else 4
    out = []
    for i in range(1, math.ceil(n * scale) + 1):
        u = i / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        taps = range(left, left + math.ceil(width) + 2)
        weights = [scale * _keys(scale * (u - j)) if shrink else _keys(u - j) for j in taps]
        total = sum(weights)
        value = 0.0
        for j, w in zip(taps, weights, strict=True):
            k = (j - 1) % (2 * n)  # symmetric padding: 1..n, n..1, repeated
            k = k if k < n else 2 * n - 1 - k
            value += w / total * signal[k]
        out.append(value)
    return np.array(out)


def _matlab_2d(image: np.ndarray, scale: float) -> np.ndarray:
    rows = np.stack([_matlab_1d(col, scale) for col in image.T], axis=1)  # height first, as MATLAB
    return np.stack([_matlab_1d(row, scale) for row in rows])


def test_x4_upsampling_weights_by_hand():
    """Output pixel 1 of x4 enlargement samples u = 0.625; taps 0.625, 0.375 on pixel 1 and 1.625, 1.375 on pixel 2
    (mirrored): cubic(0.625) + cubic(0.375) = 0.3896484375 + 0.7275390625, cubic(1.625) + cubic(1.375) =
    -0.0439453125 - 0.0732421875."""
    row = resize_matrix(4, 4.0)[0]
    assert row.tolist() == [1.1171875, -0.1171875, 0.0, 0.0]


@pytest.mark.parametrize("scale", [1 / 4, 1 / 2, 1 / 3, 4.0, 2.0])
def test_matches_the_formula_restated(scale):
    image = np.random.default_rng(0).uniform(0, 255, (12, 9))
    ours = imresize(torch.from_numpy(image)[None, None], scale)[0, 0].numpy()
    np.testing.assert_allclose(ours, _matlab_2d(image, scale), rtol=0, atol=1e-10)


def test_small_known_case_8x8_to_2x2():
    """An 8x8 step (left half 0, right half 255) to 2x2, by hand.

    Output column 1 samples u = 2.5 with h(x) = cubic(x/4)/4. The taps landing on columns 5..8 (mirrored ones
    included) sit at distances 2.5, 3.5, 4.5, 5.5 and twice 6.5 and 7.5: cubic(0.625) + cubic(0.875) +
    cubic(1.125) + cubic(1.375) + 2 cubic(1.625) + 2 cubic(1.875) = 0.2578125, /4 = 33/512 (the weights sum to 1).
    So the left column is 255 * 33/512 and the right column its mirror image.
    """
    image = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    image[..., 4:] = 255
    out = imresize(image, 1 / 4)[0, 0]
    left = float(resize_matrix(8, 1 / 4)[0, 4:].sum()) * 255
    assert out[:, 0].tolist() == pytest.approx([left, left], abs=1e-9)
    assert out[:, 1].tolist() == pytest.approx([255 - left, 255 - left], abs=1e-9)
    assert left == pytest.approx(_matlab_1d(np.r_[np.zeros(4), np.full(4, 255.0)], 1 / 4)[0], abs=1e-9)
    assert left == 255 * 33 / 512  # 16.435546875


def test_uint8_rounds_after_each_pass_and_keeps_constants():
    flat = torch.full((2, 3, 16, 20), 137, dtype=torch.uint8)
    out = imresize(flat, 1 / 4)
    assert out.dtype == torch.uint8 and out.shape == (2, 3, 4, 5) and (out == 137).all()
    image = torch.from_numpy(np.random.default_rng(1).integers(0, 256, (1, 1, 16, 16), dtype=np.uint8))
    rows = torch.from_numpy(np.clip(np.round(np.stack([_matlab_1d(c, 0.25) for c in image[0, 0].numpy().T.astype(
        float)], axis=1)), 0, 255))
    expected = np.clip(np.round(np.stack([_matlab_1d(r, 0.25) for r in rows.numpy()])), 0, 255)
    assert imresize(image, 1 / 4)[0, 0].numpy().tolist() == expected.tolist()


def test_interior_equals_torch_antialiased_bicubic_but_borders_differ():
    """torch's antialiased bicubic uses the same a = -0.5 and stretched support; it clamps at the borders."""
    image = torch.rand(1, 1, 64, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    ours = imresize(image, 1 / 4)
    theirs = F.interpolate(image, size=(16, 16), mode="bicubic", antialias=True, align_corners=False)
    torch.testing.assert_close(ours[..., 3:-3, 3:-3], theirs[..., 3:-3, 3:-3], rtol=0, atol=1e-12)
    assert (ours - theirs).abs().max() > 1e-3
    default = F.interpolate(image, size=(16, 16), mode="bicubic", align_corners=False)  # a = -0.75, no antialias
    assert (ours - default)[..., 3:-3, 3:-3].abs().max() > 1e-2


def test_nearest_upscale_replicates_pixels():
    image = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    out = nearest_upscale(image, 2)
    assert out[0, 0].tolist() == [[1, 1, 2, 2], [1, 1, 2, 2], [3, 3, 4, 4], [3, 3, 4, 4]]
