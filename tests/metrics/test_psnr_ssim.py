"""psnr_ssim against scikit-image on the photos bundled with it, the SR convention's details, and its errors."""

import math

import numpy as np
import pytest
import skimage.data
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from harness.core.errors import HarnessError
from metrics import psnr_ssim as ps

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "moon")  # RGB and grey, all bundled offline
Y = np.array([65.481, 128.553, 24.966])  # MATLAB rgb2ycbcr luma, restated


def _to_tensor(array: np.ndarray) -> torch.Tensor:
    array = array[..., None] if array.ndim == 2 else array
    return torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255


def _degraded(array: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, array.shape)
    return np.clip(array.astype(np.float64) + noise, 0, 255).round().astype(np.uint8)


def _oracle(sr: np.ndarray, hr: np.ndarray, border: int, y_channel: bool) -> tuple[float, float]:
    """scikit-image on the convention restated: crop, Y = (65.481 R + 128.553 G + 24.966 B)/255 + 16."""
    a = sr[border:-border, border:-border].astype(np.float64)
    b = hr[border:-border, border:-border].astype(np.float64)
    if y_channel and a.ndim == 3:
        a, b = a @ Y / 255 + 16, b @ Y / 255 + 16
    channel_axis = 2 if a.ndim == 3 else None
    ssim = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                 data_range=255, channel_axis=channel_axis)
    return peak_signal_noise_ratio(b, a, data_range=255), ssim


@pytest.mark.parametrize("name", PHOTOS)
@pytest.mark.parametrize("y_channel", [False, True])
def test_matches_scikit_image_on_bundled_photos(name, y_channel, one_thread):
    hr = getattr(skimage.data, name)()
    for sigma in (3.0, 25.0):
        sr = _degraded(hr, sigma, seed=int(sigma))
        ours = ps.psnr_ssim_per_image(_to_tensor(sr), _to_tensor(hr), crop_border=4, y_channel=y_channel)
        psnr, ssim = _oracle(sr, hr, 4, y_channel)
        assert float(ours["psnr"][0]) == pytest.approx(psnr, abs=1e-4)
        assert float(ours["ssim"][0]) == pytest.approx(ssim, abs=1e-4)


def test_pinned_value():
    """A fixed pair: a 32x32 ramp and the same ramp brighter by 2 levels on a 8x8 square."""
    ramp = torch.arange(32 * 32, dtype=torch.float32).reshape(1, 1, 32, 32) % 200 / 255
    pred = ramp.clone()
    pred[..., 12:20, 12:20] += 2 / 255
    out = ps.psnr_ssim_per_image(pred, ramp, crop_border=4, y_channel=False)
    mse = 4 * 64 / (24 * 24)  # 64 pixels off by 2 levels, out of 24x24 after the crop
    assert float(out["psnr"][0]) == pytest.approx(10 * math.log10(255**2 / mse), abs=1e-9)
    assert float(out["ssim"][0]) == pytest.approx(0.9998797001, abs=1e-7)  # scikit-image, once; float32 filter: 2e-8


def test_batched_equals_one_image_at_a_time_and_chunking_does_not_matter(monkeypatch):
    g = torch.Generator().manual_seed(0)
    hr = torch.randint(0, 256, (7, 3, 40, 36), generator=g).float() / 255
    sr = (hr + torch.randint(-9, 10, hr.shape, generator=g) / 255).clamp(0, 1)
    whole = ps.psnr_ssim_per_image(sr, hr, crop_border=4, y_channel=True)
    single = [ps.psnr_ssim_per_image(sr[i : i + 1], hr[i : i + 1], crop_border=4, y_channel=True) for i in range(7)]
    monkeypatch.setattr(ps, "IMAGES_PER_CHUNK", 3)
    rechunked = ps.psnr_ssim_per_image(sr, hr, crop_border=4, y_channel=True)
    for key in ("psnr", "ssim"):
        torch.testing.assert_close(whole[key], torch.cat([s[key] for s in single]), rtol=0, atol=1e-12)
        torch.testing.assert_close(whole[key], rechunked[key], rtol=0, atol=1e-12)


def test_identical_images_give_inf_and_the_mean_rule():
    hr = torch.rand(3, 3, 24, 24, generator=torch.Generator().manual_seed(1))
    sr = hr.clone()
    sr[0] = (sr[0] + 0.1).clamp(0, 1)
    per_image = ps.psnr_ssim_per_image(sr, hr, crop_border=2, y_channel=True)
    assert math.isfinite(per_image["psnr"][0]) and torch.isposinf(per_image["psnr"][1:]).all()
    assert torch.equal(per_image["ssim"][1:], torch.ones(2, dtype=torch.float64))
    summary = ps.summarize(per_image)
    assert summary["psnr"] == pytest.approx(float(per_image["psnr"][0]))  # the mean of the finite values
    assert summary["psnr_identical"] == 2
    assert ps.psnr_ssim(hr, hr, crop_border=2, y_channel=False)["psnr"] == math.inf


def test_y_channel_is_matlab_rgb2ycbcr_and_grey_is_kept():
    rgb = torch.tensor([[[[1.0]], [[0.0]], [[0.0]]], [[[1.0]], [[1.0]], [[1.0]]]])  # red, white
    y = ps.rgb_to_y(rgb * 255)
    assert y.flatten().tolist() == pytest.approx([65.481 + 16, 235.0], abs=1e-4)
    grey = torch.rand(1, 1, 20, 20)
    assert torch.equal(ps.prepare(grey, crop_border=0, y_channel=True), ps.prepare(grey, crop_border=0,
                                                                                   y_channel=False))


def test_quantization_rounds_to_8_bit_levels():
    hr = torch.full((1, 1, 16, 16), 100 / 255)
    sr = hr + 0.4 / 255  # rounds back to level 100
    assert ps.psnr_ssim(sr, hr, crop_border=0, y_channel=False)["psnr"] == math.inf
    assert math.isfinite(ps.psnr_ssim(sr, hr, crop_border=0, y_channel=False, quantize=False)["psnr"])


@pytest.mark.parametrize(("shape_sr", "shape_hr", "border", "message"), [
    ((1, 3, 32, 32), (1, 3, 32, 36), 4, "must have the same size"),
    ((1, 3, 8, 40), (1, 3, 8, 40), 4, "smaller than twice the crop border"),
    ((1, 3, 16, 40), (1, 3, 16, 40), 4, "SSIM window"),
])
def test_bad_pairs_are_one_clear_error(shape_sr, shape_hr, border, message):
    with pytest.raises(HarnessError, match=message):
        ps.psnr_ssim_per_image(torch.rand(shape_sr), torch.rand(shape_hr), crop_border=border, y_channel=True)
