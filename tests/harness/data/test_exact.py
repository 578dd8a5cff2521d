"""harness.data.exact against numpy/scipy/torch oracles (values), and its guarantees (fixed order, no reordering)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from harness.data import exact as ex

GRID = np.linspace(-60.0, 60.0, 20001)


@pytest.mark.parametrize(("ours", "oracle", "values", "tolerance"), [
    (ex.sin, np.sin, GRID, 5e-15),
    (ex.cos, np.cos, GRID, 5e-15),
    (ex.tanh, np.tanh, GRID / 10, 5e-16),
    (ex.log, np.log, np.exp(np.linspace(-40, 40, 4001)), 1e-14),
])
def test_functions_match_numpy(ours, oracle, values, tolerance):
    assert np.abs(ours(values) - oracle(values)).max() < tolerance


def test_exp_relative_error_and_saturation():
    x = np.linspace(-30, 30, 6001)
    assert np.abs(ex.exp(x) / np.exp(x) - 1).max() < 5e-15
    assert np.isfinite(ex.exp(np.array([1e6, -1e6]))).all()


def test_power_and_hypot():
    x = np.linspace(0.0, 3.0, 301)
    assert np.abs(ex.power(x, 2.7) - x**2.7).max() < 1e-13
    assert ex.power(np.array([0.0]), 3.3)[0] == 0.0
    assert np.array_equal(ex.hypot(np.array([3.0]), np.array([4.0])), np.array([5.0]))


def test_pinned_values():
    # Pinned bit patterns: what every machine must compute (within an ulp of libm; the point is that they never move).
    assert float(ex.sin(1.0)).hex() == "0x1.aed548f090ceep-1"
    assert float(ex.cos(2.5)).hex() == "-0x1.9a2f7ef858b7ep-1"
    assert float(ex.exp(1.0)).hex() == "0x1.5bf0a8b14576ap+1"
    assert float(ex.log(10.0)).hex() == "0x1.26bb1bbb55515p+1"


def test_draws_are_numpy_integers_scaled():
    a, b = np.random.default_rng(3), np.random.default_rng(3)
    assert np.array_equal(ex.uniform(a, 2.0, 5.0, 4), 2.0 + 3.0 * b.random(4))
    n = ex.normal(np.random.default_rng(0), 1.0, 2.0, 100_000)
    assert abs(n.mean() - 1.0) < 0.03 and abs(n.std() - 2.0) < 0.03
    assert isinstance(ex.uniform(a, 0.0, 1.0), float) and isinstance(ex.normal(a), float)


def test_sums_are_in_index_order():
    values = np.array([1e16, 1.0, -1e16, 1.0])
    assert ex.total(values) == ((1e16 + 1.0) - 1e16) + 1.0
    assert np.array_equal(ex.sum_axis(values.reshape(4, 1), 0), np.array([ex.total(values)]))


def test_resizes_match_scipy_and_torch():
    rng = np.random.default_rng(0)
    grid = rng.normal(size=(2, 1, 5, 5))
    torch_cubic = F.interpolate(torch.from_numpy(grid), size=(32, 32), mode="bicubic", align_corners=False).numpy()
    assert np.abs(ex.resize_cubic(grid, 32) - torch_cubic).max() < 1e-14
    small = rng.normal(size=(5, 5))
    scipy_linear = ndimage.zoom(small, 4, order=1, mode="nearest", grid_mode=True)
    assert np.abs(ex.resize_linear(small, 20) - scipy_linear).max() < 1e-14


def test_blur_matches_scipy():
    rng = np.random.default_rng(1)
    images, sigma = rng.random((3, 2, 16, 16)), np.array([0.5, 1.0, 2.0])
    radius = int(np.ceil(3 * sigma.max()))
    expected = np.stack([
        ndimage.gaussian_filter1d(ndimage.gaussian_filter1d(images[i], s, axis=-1, mode="nearest",
                                                            truncate=radius / s), s, axis=-2, mode="nearest",
                                  truncate=radius / s) for i, s in enumerate(sigma)])
    assert np.abs(ex.gaussian_blur(images, sigma) - expected).max() < 1e-14


def test_bilinear_matches_scipy_inside_and_is_zero_outside():
    rng = np.random.default_rng(2)
    image = rng.random((8, 9))
    rows, cols = rng.uniform(0, 7, 50), rng.uniform(0, 8, 50)
    expected = ndimage.map_coordinates(image, [rows, cols], order=1)
    assert np.abs(ex.bilinear(image, rows, cols) - expected).max() < 1e-14
    assert ex.bilinear(image, np.array([-2.0, 20.0]), np.array([0.0, 0.0])).tolist() == [0.0, 0.0]


def test_to_uint8_rounds_half_to_even_and_clips():
    assert ex.to_uint8(np.array([-1.0, 0.5 / 255, 1.5 / 255, 2.0])).tolist() == [0, 0, 2, 255]
