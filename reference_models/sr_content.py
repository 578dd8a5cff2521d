"""SRGAN's content network as the model sees it, and the calibration of its feature scale (Ledig et al. 2017, Eq. 5).

l_X^{VGG/i,j} is the mean squared difference of s·φ_{i,j} feature maps of the SR and HR images. §3.2: "we rescaled
the VGG feature maps by a factor of 1/12.75 to obtain VGG losses of a scale that is comparable to the MSE loss"; that
s belongs to the authors' Caffe VGG19 (BGR inputs in 0–255 minus the ImageNet mean). ``calibrated_scale`` finds the
s that does what the sentence says for any feature network: l_X(bicubic, HR) = l_MSE(bicubic, HR) on a batch of
training crops.

Why calibrate: the pseudo-official ``tensorlayer/SRGAN`` also feeds its VGG19 Caffe-style inputs (``model.py``
``Vgg19_simple_api``: RGB x 255 to BGR minus the mean) and weights the VGG MSE by its own constant 2e-6 (``main.py``).
With torchvision's VGG19 (inputs about 58 times smaller than Caffe's) or the harness's stand-in network, 1/12.75
leaves the content term far below the MSE's scale: on the committed standard stand-in, four 48 px crops of
``astronaut``, bicubic vs HR, pixel MSE on [−1, 1] 1.04e-2 against φ5,4 with 1/12.75 4.5e-4 (23 times weaker),
while 10⁻³·l_Gen is 6.9e-4 at D = 0.5 — the adversarial term dominated (issue 22's measurement).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from harness.core.errors import HarnessError

PAPER_RESCALE = 1 / 12.75  # §3.2's feature-map rescale, set for Caffe VGG19 features
CALIBRATION_CROPS = 512  # training crops of the calibration batch (CALIBRATION_SEED, not the job seed); the ratio
# l_X / l_MSE varies 10x between batches of 8 crops of the smoke task, 1.5x between batches of 512
CALIBRATION_SEED = 0  # so every job of a task and content network calibrates alike


@dataclass(frozen=True)
class ContentNetwork:
    """The frozen feature network of the VGG content losses.

    Attributes:
        module: The network (moved to the model's device, never trained).
        features: ``(images float (N, C, H, W) in [0, 1], layer "22" | "54") -> feature maps``, differentiable
            in the images; ``"22"`` is φ2,2 (or the shallow layer of a stand-in), ``"54"`` φ5,4 (the deep one).
        description: Provenance for result rows: which network and which weights (sha256).
        scale: s, the factor the feature maps are multiplied by before the content MSE (``content_scale``).
        scale_note: How s was set, for result rows (no ``;`` or ``=``).
    """

    module: nn.Module
    features: Callable[[torch.Tensor, str], torch.Tensor]
    description: str
    scale: float = PAPER_RESCALE
    scale_note: str = "fixed 1/12.75 (paper 3.2)"


@torch.no_grad()
def calibrated_scale(features: Callable[[torch.Tensor, str], torch.Tensor], layer: str, upsampled: torch.Tensor,
                     hr: torch.Tensor, batch_size: int = 32) -> float:
    """S with mean((s·φ(up) − s·φ(hr))²) = mean((up − hr)²), pixels in [−1, 1] as G's l_MSE (Eq. 4).

    Args:
        features: The content network's ``(images in [0, 1], layer) -> feature maps``.
        layer: ``"22"`` or ``"54"``.
        upsampled: Float ``(N, C, H, W)`` in [0, 1]: the bicubic upsampling of the batch's LR crops.
        hr: Float ``(N, C, H, W)`` in [0, 1]: the HR crops.
        batch_size: Images per feature pass (the result does not depend on it beyond float rounding).

    Raises:
        HarnessError: When the features of the two batches do not differ (s would be infinite).
    """
    pixel = ((upsampled - hr) * 2).double().square().mean()
    total, count = torch.zeros((), dtype=torch.float64), 0
    for start in range(0, len(hr), batch_size):
        diff = (features(upsampled[start : start + batch_size], layer)
                - features(hr[start : start + batch_size], layer)).double()
        total, count = total + diff.square().sum().cpu(), count + diff.numel()
    feature = total / max(count, 1)
    if not feature > 0:
        raise HarnessError(f"srgan content calibration: phi{layer} features of the bicubic and HR crops are identical; "
                           "the content network cannot be calibrated (set srgan.content_scale=fixed)")
    return float((pixel.cpu() / feature).sqrt())
