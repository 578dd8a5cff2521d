"""High-frequency energy: a numpy restatement, known spectra, and the bicubic-vs-HR ordering on a real photo."""

import numpy as np
import pytest
import skimage.data
import torch

from harness.core.errors import HarnessError
from harness.data.imresize import imresize
from metrics.sharpness import hf_energy_per_image, hf_ratio_per_image


def _numpy_hf(image: np.ndarray, scale: int) -> float:
    """The definition restated: mean-free, Hann-windowed, |FFT|^2 summed where max(|fx|, |fy|) > 1/(2 scale)."""
    x = image - image.mean()
    h, w = x.shape
    x = x * np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2(x)) ** 2
    band = np.maximum.outer(np.abs(np.fft.fftfreq(h)), np.abs(np.fft.fftfreq(w))) > 1 / (2 * scale)
    return float((power * band).sum() / (h * w))


def test_matches_numpy_restatement():
    image = torch.rand(1, 1, 40, 48, generator=torch.Generator().manual_seed(0))
    ours = hf_energy_per_image(image, scale=4, crop_border=4, y_channel=False)
    reference = _numpy_hf(np.round(image[0, 0, 4:-4, 4:-4].double().numpy() * 255), 4)
    assert float(ours[0]) == pytest.approx(reference, rel=1e-9)


def test_smooth_image_has_no_energy_above_the_lr_nyquist_and_a_checkerboard_has_a_lot():
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    smooth = (0.5 + 0.4 * torch.sin(2 * torch.pi * xx / 32))[None, None]  # 1/32 cycles per pixel < 1/8
    checker = ((yy + xx) % 2)[None, None].float()  # 1/2 cycles per pixel
    low, high = hf_energy_per_image(torch.cat([smooth, checker]), scale=4, crop_border=0, y_channel=False)
    assert float(low) < 1e-3 * float(high)


def test_bicubic_upscale_has_little_high_frequency_energy_relative_to_hr():
    hr = torch.from_numpy(skimage.data.astronaut()[:256, :256]).permute(2, 0, 1)[None]
    bicubic = imresize(imresize(hr, 1 / 4), 4.0)
    hr_f, bic_f = hr.float() / 255, bicubic.float() / 255
    assert float(hf_ratio_per_image(hr_f, hr_f, scale=4, crop_border=4)[0]) == pytest.approx(1.0)
    assert float(hf_ratio_per_image(bic_f, hr_f, scale=4, crop_border=4)[0]) < 0.1


def test_size_mismatch_is_an_error():
    with pytest.raises(HarnessError, match="same size"):
        hf_ratio_per_image(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 36), scale=4, crop_border=4)
