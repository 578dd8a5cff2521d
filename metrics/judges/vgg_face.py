"""VGG-Face (Parkhi, Vedaldi, Zisserman, BMVC 2015) convolutional features, from user-supplied weights only.

DIAT's identity-aware perceptual loss compares VGG-Face feature maps of the input and the transferred face. The
weights are never downloaded: the user passes a ``torch.save`` state dict of the VGG-16 layout with the names of
the common PyTorch conversion of the MatConvNet release (``conv1_1.weight`` ... ``conv5_3.bias``; ``fc6``-``fc8``
may be present and are ignored). It is loaded with ``weights_only=True`` and the file's sha256 goes into the
provenance of every row of a model trained with it.

Preprocessing as that conversion (``vgg_face_dag``, RGB input): bilinear resize to 224x224, 0-255 range minus the
mean (129.1863, 104.7624, 93.5940).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from harness.core.cache import file_sha256
from harness.core.errors import HarnessError
from harness.core.user_weights import load_user_state_dict

BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))  # VGG-16: channels and convs per block
FEATURE_LAYERS = ("conv2_2", "conv3_3", "conv4_3")  # ReLU outputs used by the identity loss (choice, see diat.py)
MEAN_RGB = (129.1863, 104.7624, 93.5940)  # vgg_face_dag normalisation (RGB order, 0-255)


class VGGFaceFeatures(nn.Module):
    """VGG-16 convolutional trunk; ``forward(images in [0, 1]) -> [ReLU maps of FEATURE_LAYERS]``."""

    def __init__(self) -> None:
        super().__init__()
        cin = 3
        for block, (cout, count) in enumerate(BLOCKS, 1):
            for i in range(1, count + 1):
                self.add_module(f"conv{block}_{i}", nn.Conv2d(cin, cout, 3, padding=1))
                cin = cout
        self.last = max(int(name[4]) for name in FEATURE_LAYERS)

    def forward(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Float (N, 3, H, W) in [0, 1] -> the ReLU outputs of ``FEATURE_LAYERS`` at 224 px input."""
        x = F.interpolate(images * 255, size=(224, 224), mode="bilinear", align_corners=False)
        x = x - torch.tensor(MEAN_RGB, device=x.device).view(1, 3, 1, 1)
        maps = []
        for block, (_, count) in enumerate(BLOCKS[: self.last], 1):
            for i in range(1, count + 1):
                x = F.relu(getattr(self, f"conv{block}_{i}")(x))
                if f"conv{block}_{i}" in FEATURE_LAYERS:
                    maps.append(x)
            x = F.max_pool2d(x, 2)
        return maps


def load_vgg_face(path: str | Path) -> tuple[VGGFaceFeatures, str]:
    """The frozen VGG-Face trunk from a user's weights file, and the file's sha256.

    Raises:
        HarnessError: A missing file (saying that nothing is downloaded), a file that is not a state dict, or one
            without every convolution of the VGG-16 layout.
    """
    state = load_user_state_dict(path, "diat.identity_weights",
                                 "a VGG-Face state dict (conv1_1.weight ... conv5_3.bias)")
    model = VGGFaceFeatures()
    wanted = model.state_dict()
    missing = [k for k in wanted if k not in state]
    if missing:
        raise HarnessError(f"diat.identity_weights: {str(path)!r} lacks VGG-16 layers {missing[:4]}")
    try:
        model.load_state_dict({k: state[k] for k in wanted})
    except RuntimeError as exc:
        raise HarnessError(f"diat.identity_weights: {str(path)!r} does not fit VGG-16: {exc}") from exc
    return model.eval().requires_grad_(False), file_sha256(path)
