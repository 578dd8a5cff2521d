"""High-frequency energy: how much detail a super-resolved image has in the band its LR input could not carry.

SRGAN's claim (Ledig et al. 2017, §4 and Fig. 2/6) is that SRResNet's MSE optimum is an over-smooth average while
SRGAN restores high-frequency texture, at a cost in PSNR. PSNR/SSIM cannot show the second half, so the SR
protocol adds this measure. Per image, on the SR convention's view (``metrics.psnr_ssim.prepare``: [0, 255], border
cropped, Y channel of RGB):

1. subtract the image mean and multiply by a separable Hann window (no spectral leakage from the image borders);
2. take the 2-D power spectrum ``|FFT|²``;
3. ``hf_energy`` = the mean power at frequencies the LR grid cannot represent: ``max(|f_x|, |f_y|) > 1 / (2·scale)``
   cycles per pixel (above the LR Nyquist frequency), per pixel of the image.

``hf_ratio`` = ``hf_energy(SR) / hf_energy(HR)``: 1 means as much fine detail as the ground truth, a bicubic image
is far below 1, noise or artefacts can exceed 1. It measures sharpness, not fidelity: read it beside PSNR/SSIM.
"""

from __future__ import annotations

import torch

from harness.core.errors import HarnessError
from metrics.psnr_ssim import check_sr_pair, prepare


def hf_energy_per_image(images: torch.Tensor, *, scale: int, crop_border: int, y_channel: bool = True) -> torch.Tensor:
    """Mean spectral power above the LR Nyquist frequency of each image (module docstring).

    Args:
        images: Float32 ``(N, C, H, W)`` in [0, 1].
        scale: The SR factor; the band starts at ``1 / (2·scale)`` cycles per pixel.
        crop_border: Pixels removed from every edge first.
        y_channel: Use the Y channel of RGB images (grey images are used as they are).

    Returns:
        Float64 ``(N,)``, in (value range)² units per pixel, averaged over channels.
    """
    if scale < 1:
        raise HarnessError(f"hf_energy: scale must be >= 1, got {scale}")
    x = prepare(images, crop_border=crop_border, y_channel=y_channel).double()
    x = x - x.mean(dim=(2, 3), keepdim=True)
    height, width = x.shape[-2:]
    window = torch.hann_window(height, periodic=False, dtype=torch.float64, device=x.device)[:, None] * \
        torch.hann_window(width, periodic=False, dtype=torch.float64, device=x.device)[None, :]
    power = torch.fft.fft2(x * window).abs().square()
    fy = torch.fft.fftfreq(height, dtype=torch.float64, device=x.device).abs()[:, None]
    fx = torch.fft.fftfreq(width, dtype=torch.float64, device=x.device).abs()[None, :]
    band = torch.maximum(fy, fx) > 1.0 / (2 * scale)
    return (power * band).sum(dim=(2, 3)).mean(dim=1).cpu() / (height * width)


def hf_ratio_per_image(pred: torch.Tensor, target: torch.Tensor, *, scale: int, crop_border: int,
                       y_channel: bool = True) -> torch.Tensor:
    """``hf_energy(pred) / hf_energy(target)`` per image pair (float64 ``(N,)``; NaN for a flat target)."""
    check_sr_pair(tuple(pred.shape), tuple(target.shape), crop_border, "hf_ratio")
    sr = hf_energy_per_image(pred, scale=scale, crop_border=crop_border, y_channel=y_channel)
    hr = hf_energy_per_image(target, scale=scale, crop_border=crop_border, y_channel=y_channel)
    return torch.where(hr > 0, sr / hr, torch.full_like(hr, float("nan")))
