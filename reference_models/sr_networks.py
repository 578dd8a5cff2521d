"""SRGAN's networks (Ledig et al., CVPR 2017, Figure 4): SRResNet generator, discriminator, VGG19 features.

Generator (paper → code): k9n64s1 conv + PReLU (``head``); B residual blocks of conv k3n64s1, BN, PReLU, conv
k3n64s1, BN, elementwise sum (``blocks``); conv k3n64s1 + BN and the long skip from the head (``body_out``); two
sub-pixel upsamplers of conv k3n256s1, pixel shuffle ×2, PReLU (``upsample``); conv k9n3s1 (``tail``). PReLU has one
slope per channel (the default of the Lasagne ``ParametricRectifierLayer`` the authors used); the output goes through
tanh so it lies in [−1, 1] like the HR targets (§3.2; the paper's figure does not draw the output activation, the
tensorlayer/srgan reproduction uses tanh).

Discriminator: conv k3n64s1 + LeakyReLU(0.2), then seven conv + BN + LeakyReLU blocks (k3n64s2, k3n128s1, k3n128s2,
k3n256s1, k3n256s2, k3n512s1, k3n512s2), dense 1024 + LeakyReLU, dense 1 (the sigmoid is in the loss, as logits).
The first dense layer's width depends on the HR crop: 512 × 6 × 6 inputs at 96 px.

VGG19: the 16-convolution network of Simonyan & Zisserman in torchvision's layout (``features.<i>``), so a
torchvision ``vgg19`` state dict loads into it. φ_{i,j} is the ReLU output of the j-th convolution before the i-th
max-pooling: φ2,2 = ``features[:9]``, φ5,4 = ``features[:36]``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from harness.core.cache import file_sha256
from harness.core.errors import HarnessError
from harness.core.user_weights import load_user_state_dict


def _conv(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, stride=stride, padding=kernel // 2)


class ResidualBlock(nn.Module):
    """conv k3 → BN → PReLU → conv k3 → BN, plus the identity."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv(channels, channels, 3), nn.BatchNorm2d(channels), nn.PReLU(channels),
                                  _conv(channels, channels, 3), nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, C, h, w) → (N, C, h, w)``."""
        return x + self.body(x)


class SRResNet(nn.Module):
    """The SRGAN generator: LR float ``(N, C, h, w)`` in [0, 1] → SR ``(N, C, h·scale, w·scale)`` in [−1, 1].

    Args:
        channels: Image channels (3 RGB, 1 grey).
        width: Feature maps (64 in the paper).
        n_blocks: Residual blocks B (16 in the paper).
        scale: Upscaling factor, a power of 2 (one sub-pixel ×2 stage per factor of 2).
    """

    def __init__(self, channels: int = 3, width: int = 64, n_blocks: int = 16, scale: int = 4) -> None:
        super().__init__()
        stages = scale.bit_length() - 1
        if scale < 2 or 2**stages != scale:
            raise HarnessError(f"SRResNet: scale {scale} must be a power of 2 (one x2 sub-pixel stage per factor 2)")
        self.head = nn.Sequential(_conv(channels, width, 9), nn.PReLU(width))
        self.blocks = nn.Sequential(*(ResidualBlock(width) for _ in range(n_blocks)))
        self.body_out = nn.Sequential(_conv(width, width, 3), nn.BatchNorm2d(width))
        self.upsample = nn.Sequential(*(nn.Sequential(_conv(width, 4 * width, 3), nn.PixelShuffle(2), nn.PReLU(width))
                                        for _ in range(stages)))
        self.tail = _conv(width, channels, 9)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        """SR image in [−1, 1] from LR in [0, 1] (§3.2: LR scaled to [0, 1], HR to [−1, 1])."""
        features = self.head(lr)
        features = features + self.body_out(self.blocks(features))
        return torch.tanh(self.tail(self.upsample(features)))


class SRDiscriminator(nn.Module):
    """The SRGAN discriminator: HR-size float ``(N, C, S, S)`` in [−1, 1] → logits ``(N,)``.

    Args:
        channels: Image channels.
        image_size: Side S of the HR crops it sees (96 in the paper); sets the first dense layer's width.
        width: Feature maps of the first convolution (64); they double every second block up to 8 × width.
        dense: Units of the hidden dense layer (1024).
    """

    def __init__(self, channels: int = 3, image_size: int = 96, width: int = 64, dense: int = 1024) -> None:
        super().__init__()
        layers: list[nn.Module] = [_conv(channels, width, 3), nn.LeakyReLU(0.2)]
        side, cin = image_size, width
        for mult, stride in ((1, 2), (2, 1), (2, 2), (4, 1), (4, 2), (8, 1), (8, 2)):
            cout = width * mult
            layers += [_conv(cin, cout, 3, stride), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)]
            side = (side + 1) // 2 if stride == 2 else side
            cin = cout
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(cin * side * side, dense), nn.LeakyReLU(0.2),
                                        nn.Linear(dense, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of "real HR" for images in [−1, 1]."""
        return self.classifier(self.features(images)).squeeze(1)


VGG19_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
VGG_LAYERS = {"22": 9, "54": 36}  # φ_{i,j} → number of torchvision ``features`` modules up to its ReLU
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's input normalisation of its ImageNet VGG19 weights
IMAGENET_STD = (0.229, 0.224, 0.225)
CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)  # Caffe VGG19's input: BGR in 0-255 minus this (tensorlayer/SRGAN too)
PREPROCESSING = ("torchvision", "caffe")


class VGG19Features(nn.Module):
    """VGG19's convolutional part in torchvision's module order; ``forward(images, layer)`` gives φ2,2 or φ5,4.

    Images are float ``(N, C, H, W)`` in [0, 1], C = 3 (grey is repeated), normalised as the weights expect:
    ``preprocess="torchvision"`` (RGB, ImageNet mean/std: torchvision's weights) or ``"caffe"`` (BGR, 0–255, the
    Caffe mean subtracted: the original VGG19 the paper's Lasagne code used, converted to torchvision's layout).
    """

    def __init__(self, preprocess: str = "torchvision") -> None:
        super().__init__()
        if preprocess not in PREPROCESSING:
            raise HarnessError(f"VGG19 preprocess={preprocess!r}: expected one of {', '.join(PREPROCESSING)}")
        self.preprocess = preprocess
        layers: list[nn.Module] = []
        cin = 3
        for item in VGG19_CONFIG:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, int(item), 3, padding=1), nn.ReLU(inplace=False)]
                cin = int(item)
        self.features = nn.Sequential(*layers[: VGG_LAYERS["54"]])  # nothing after φ5,4 is ever used
        caffe = preprocess == "caffe"  # inputs become (x·scale − mean) / std in the network's channel order
        mean = torch.tensor(CAFFE_BGR_MEAN[::-1]) / 255 if caffe else torch.tensor(IMAGENET_MEAN)  # RGB order
        std = torch.full((3,), 1 / 255) if caffe else torch.tensor(IMAGENET_STD)
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 3, 1, 1), persistent=False)

    def forward(self, images: torch.Tensor, layer: str) -> torch.Tensor:
        """φ_{layer} feature maps (``layer`` ``"22"`` or ``"54"``) of images in [0, 1]."""
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        normalised = (images - self.mean) / self.std
        if self.preprocess == "caffe":
            normalised = normalised.flip(1)  # RGB -> BGR, the channel order of Caffe's first convolution
        return self.features[: VGG_LAYERS[layer]](normalised)


def load_vgg19(path: str | Path, preprocess: str = "torchvision") -> tuple[VGG19Features, str]:
    """VGG19 from a user's torchvision-layout weights file, loaded with ``weights_only=True``.

    Args:
        path: A ``torch.save`` file of torchvision's ``vgg19`` state dict (``features.<i>.weight`` …; the
            classifier's keys are ignored), e.g. ``vgg19-dcbb9e9d.pth``. Nothing is downloaded.
        preprocess: ``"torchvision"`` or ``"caffe"``: the input normalisation those weights were trained with.

    Returns:
        ``(network in eval mode with frozen parameters, the file's full sha256)``.

    Raises:
        HarnessError: A missing file, a file that is not a state dict, or weights that do not fit VGG19.
    """
    state = load_user_state_dict(path, "VGG19 weights", "torchvision's vgg19 state dict, e.g. vgg19-dcbb9e9d.pth")
    network = VGG19Features(preprocess)
    wanted = network.features.state_dict()
    weights = {key: value for key, value in state.items() if key.startswith("features.")}
    weights = {key.removeprefix("features."): value for key, value in weights.items()
               if key.removeprefix("features.") in wanted}
    try:
        network.features.load_state_dict(weights)
    except RuntimeError as exc:
        raise HarnessError(f"VGG19 weights {str(path)!r} do not fit torchvision's VGG19 layout: {exc}") from exc
    return network.eval().requires_grad_(False), file_sha256(path)
