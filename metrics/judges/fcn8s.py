"""The papers' FCN-score judge: FCN-8s for Cityscapes, read from its caffemodel without Caffe.

pix2pix (Isola et al. 2017, §4.1) and CycleGAN (Zhu et al. 2017, §5.1.1) score labels→photo outputs with an FCN-8s
(Long et al. 2015) trained on Cityscapes, run by ``scripts/eval_cityscapes/evaluate.py`` of
junyanz/pytorch-CycleGAN-and-pix2pix with Caffe on ``fcn-8s-cityscapes.caffemodel`` (fetched by that folder's
``download_fcn8s.sh``). This module rebuilds that network in torch from ``caffemodel/deploy.prototxt`` and fills it
from the caffemodel through ``metrics.judges.caffemodel`` (a hand-written protobuf reader; nothing is unpickled):

- VGG-16 trunk: ``conv1_1`` (pad 100, the FCN trick that lets any input size through) and 3x3/pad 1 convolutions
  ``conv1_2`` … ``conv5_3`` (64, 128, 256, 512, 512 maps), each followed by ReLU; 2x2/stride 2 max pooling after
  each block. Caffe rounds pooled sizes up, so pooling uses ``ceil_mode=True``.
- ``fc6_cs`` (7x7, 4096, pad 0), ``fc7_cs`` (1x1, 4096), each with ReLU (no dropout at test time), ``score_fr``
  (1x1 to 20 maps: deploy.prototxt's ``num_output: 20``, one more than the 19 trainIds).
- ``upscore2`` (4x4 deconvolution, stride 2, no bias) + ``score_pool4`` (1x1) cropped at offset 5; ``upscore_pool4``
  (4x4, stride 2) + ``score_pool3`` cropped at offset 9; ``upscore8`` (16x16, stride 8) cropped at offset 31 to the
  input's size. Caffe's ``Crop`` takes ``[offset : offset + size]`` on both spatial axes.

Preprocessing is ``cityscapes.py``'s ``preprocess`` after ``evaluate.py``'s resize: the generated uint8 RGB image is
resized to its label map's size (``scipy.misc.imresize``: PIL bilinear on uint8, which passes uint8 through
unscaled), cast to float, turned to BGR, and the BGR mean ``(72.78044, 83.21195, 73.45286)`` is subtracted (values
stay in [0, 255] otherwise); the prediction is the argmax over the 20 output maps (``util.py`` ``segrun``).

The caffemodel's layers are checked against this architecture before a weight is copied: a missing layer, a blob of
another shape or an extra layer with weights is an error naming the first mismatch. The width is read from the file
(``conv1_1``'s and ``fc6_cs``'s output counts) so tests can write a reduced-width file; only the paper's width (64,
4096) is the papers' judge, and only it is marked comparable to the papers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from harness.core.cache import file_sha256
from harness.core.errors import HarnessError
from metrics.judges.caffemodel import CaffeLayer, read_caffemodel

JUDGE_NAME = "fcn8s-cityscapes"
MEAN_BGR = (72.78044, 83.21195, 73.45286)  # cityscapes.py, subtracted after RGB -> BGR
OUTPUTS = 20  # score_fr num_output in deploy.prototxt (the 19 trainIds and one more map)
PAPER_WIDTH, PAPER_FC = 64, 4096  # conv1_1 and fc6_cs output counts of the released model
TRUNK = (("conv1_1", "conv1_2"), ("conv2_1", "conv2_2"), ("conv3_1", "conv3_2", "conv3_3"),
         ("conv4_1", "conv4_2", "conv4_3"), ("conv5_1", "conv5_2", "conv5_3"))
WIDTH_FACTORS = (1, 2, 4, 8, 8)  # maps per block, in units of conv1_1's
CROP_POOL4, CROP_POOL3, CROP_SCORE = 5, 9, 31  # crop_param offsets in deploy.prototxt
FIRST_PAD = 100  # conv1_1 pad


def blob_shapes(width: int = PAPER_WIDTH, fc: int = PAPER_FC) -> dict[str, tuple[tuple[int, ...], ...]]:
    """Every layer with weights, in deploy.prototxt's order, and the shapes of its blobs (weight, then bias).

    Convolution weights are ``(out, in, k, k)``; deconvolution weights ``(in, out, k, k)`` (Caffe's and torch's
    layout alike), without bias (``bias_term: false``).
    """
    shapes: dict[str, tuple[tuple[int, ...], ...]] = {}
    channels = 3
    for block, factor in zip(TRUNK, WIDTH_FACTORS, strict=True):
        for name in block:
            shapes[name] = ((width * factor, channels, 3, 3), (width * factor,))
            channels = width * factor
    shapes["fc6_cs"] = ((fc, channels, 7, 7), (fc,))
    shapes["fc7_cs"] = ((fc, fc, 1, 1), (fc,))
    shapes["score_fr"] = ((OUTPUTS, fc, 1, 1), (OUTPUTS,))
    shapes["upscore2"] = ((OUTPUTS, OUTPUTS, 4, 4),)
    shapes["score_pool4"] = ((OUTPUTS, width * 8, 1, 1), (OUTPUTS,))
    shapes["upscore_pool4"] = ((OUTPUTS, OUTPUTS, 4, 4),)
    shapes["score_pool3"] = ((OUTPUTS, width * 4, 1, 1), (OUTPUTS,))
    shapes["upscore8"] = ((OUTPUTS, OUTPUTS, 16, 16),)
    return shapes


def _crop(x: torch.Tensor, like: torch.Tensor, offset: int) -> torch.Tensor:
    height, width = like.shape[2:]
    if x.shape[2] < offset + height or x.shape[3] < offset + width:
        raise HarnessError(f"fcn8s: cannot crop {tuple(x.shape[2:])} at offset {offset} to {(height, width)}")
    return x[:, :, offset:offset + height, offset:offset + width]


class FCN8s(nn.Module):
    """FCN-8s as deploy.prototxt defines it; parameters are named by the Caffe layers (``layers.conv1_1.weight``).

    Args:
        width: conv1_1's output maps (64 in the released model; the blocks have 1, 2, 4, 8, 8 times as many).
        fc: fc6_cs / fc7_cs output maps (4096).
    """

    def __init__(self, width: int = PAPER_WIDTH, fc: int = PAPER_FC) -> None:
        super().__init__()
        self.width, self.fc = width, fc
        layers: dict[str, nn.Module] = {}
        for name, shapes in blob_shapes(width, fc).items():
            weight = shapes[0]
            if name.startswith("upscore"):
                stride = 8 if name == "upscore8" else 2
                layers[name] = nn.ConvTranspose2d(weight[0], weight[1], weight[2], stride=stride, bias=False)
            else:
                pad = FIRST_PAD if name == "conv1_1" else (1 if name.startswith("conv") else 0)
                layers[name] = nn.Conv2d(weight[1], weight[0], weight[2], padding=pad)
        self.layers = nn.ModuleDict(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Float ``(N, 3, H, W)`` preprocessed BGR (``preprocess``) → class scores ``(N, 20, H, W)``."""
        data, pools = x, []
        for block in TRUNK:
            for name in block:
                x = F.relu(self.layers[name](x))
            x = F.max_pool2d(x, 2, 2, ceil_mode=True)
            pools.append(x)
        x = F.relu(self.layers["fc6_cs"](x))
        x = F.relu(self.layers["fc7_cs"](x))
        up2 = self.layers["upscore2"](self.layers["score_fr"](x))
        fuse4 = up2 + _crop(self.layers["score_pool4"](pools[3]), up2, CROP_POOL4)
        up4 = self.layers["upscore_pool4"](fuse4)
        fuse3 = up4 + _crop(self.layers["score_pool3"](pools[2]), up4, CROP_POOL3)
        return _crop(self.layers["upscore8"](fuse3), data, CROP_SCORE)


def _check_layers(path: Path, layers: list[CaffeLayer]) -> tuple[int, int]:
    """The file's ``(width, fc)``, once every weighted layer matches ``blob_shapes`` (else the first mismatch)."""
    weighted = [layer for layer in layers if layer.blobs]
    found = {layer.name: layer for layer in weighted}
    for name in ("conv1_1", "fc6_cs"):
        if name not in found or not found[name].blobs[0].ndim:
            raise HarnessError(f"{str(path)!r} is not FCN-8s: it has no layer {name!r} with weights (layers with "
                               f"weights: {', '.join(found) or 'none'}); expected fcn-8s-cityscapes.caffemodel")
    width, fc = int(found["conv1_1"].blobs[0].shape[0]), int(found["fc6_cs"].blobs[0].shape[0])
    expected = blob_shapes(width, fc)
    for name, shapes in expected.items():
        if name not in found:
            raise HarnessError(f"{str(path)!r} is not FCN-8s: layer {name!r} is missing (deploy.prototxt has it)")
        got = tuple(tuple(b.shape) for b in found[name].blobs)
        if got != shapes:
            raise HarnessError(f"{str(path)!r} is not FCN-8s: layer {name!r} has blobs of shapes {list(got)}, "
                               f"deploy.prototxt needs {list(shapes)}")
    extra = [name for name in found if name not in expected]
    if extra:
        raise HarnessError(f"{str(path)!r} is not FCN-8s: layer {extra[0]!r} has weights but is not in "
                           "deploy.prototxt")
    return width, fc


@dataclass(frozen=True)
class Fcn8sJudge:
    """The loaded FCN-8s and where it came from.

    Attributes:
        model: The network, in eval mode, on the requested device.
        path: The caffemodel.
        sha256: The file's full sha256.
        width: conv1_1's maps (64 for the released model).
        fc: fc6_cs's maps (4096).
    """

    model: FCN8s
    path: Path
    sha256: str
    width: int
    fc: int

    @property
    def comparable_to_paper(self) -> bool:
        """Whether this is the released network's size (the file's hash names which file it was)."""
        return (self.width, self.fc) == (PAPER_WIDTH, PAPER_FC)

    def provenance(self) -> dict[str, str]:
        """Protocol-string keys: ``judge``, ``judge_sha256`` (the whole file's), ``judge_source``, comparability."""
        size = "" if self.comparable_to_paper else f" at reduced width {self.width}/{self.fc}"
        return {"judge": f"{JUDGE_NAME}{size}", "judge_sha256": self.sha256, "judge_source": "user caffemodel",
                "preprocess": "resized to the label map (PIL bilinear uint8), RGB->BGR, BGR mean subtracted",
                "comparable_to_paper": "yes" if self.comparable_to_paper else "no (FCN-8s at reduced width)"}


def load_fcn8s(path: str | Path, device: torch.device | str = "cpu") -> Fcn8sJudge:
    """Reads ``fcn-8s-cityscapes.caffemodel`` into ``FCN8s``.

    Raises:
        HarnessError: A missing, truncated or foreign file, or one whose layers or blob shapes differ from
            deploy.prototxt (the first mismatch is named).
    """
    path = Path(path)
    layers = read_caffemodel(path)
    width, fc = _check_layers(path, layers)
    model = FCN8s(width, fc)
    found = {layer.name: layer for layer in layers if layer.blobs}
    with torch.no_grad():
        for name, module in model.layers.items():
            blobs = found[name].blobs
            module.weight.copy_(torch.from_numpy(blobs[0]))
            if module.bias is not None:
                module.bias.copy_(torch.from_numpy(blobs[1]))
    return Fcn8sJudge(model.to(device).eval(), path, file_sha256(path), width, fc)


def preprocess(image: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """evaluate.py's resize and cityscapes.py's ``preprocess`` of one generated image.

    Args:
        image: uint8 ``(h, w, 3)`` RGB, as read from the generated PNG.
        size: ``(H, W)`` of the frame's label map.

    Returns:
        float32 ``(3, H, W)``: BGR minus ``MEAN_BGR``, in [0, 255] minus the mean.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise HarnessError(f"fcn8s: expected a uint8 (H, W, 3) RGB image, got {image.dtype} {image.shape}")
    if image.shape[:2] != tuple(size):
        image = np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.Resampling.BILINEAR))
    bgr = image.astype(np.float32)[:, :, ::-1] - np.asarray(MEAN_BGR, dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(bgr.transpose(2, 0, 1)))


@torch.no_grad()
def segment(judge: Fcn8sJudge, image: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """The argmax map of one generated uint8 RGB image at its label map's ``(H, W)``: int64 ``(H, W)`` in [0, 20)."""
    device = next(judge.model.parameters()).device
    scores = judge.model(preprocess(image, size)[None].to(device))
    return scores[0].argmax(dim=0).cpu()
