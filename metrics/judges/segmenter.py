"""The segmentation judge of the FCN-score protocol (pix2pix §4.1, CycleGAN §5.1.1).

Provenance: the papers score generated photos with a Caffe FCN-8s trained on Cityscapes
(``fcn-8s-cityscapes.caffemodel``, fetched by ``scripts/eval_cityscapes/download_fcn8s.sh``). Those weights cannot be
loaded here (Caffe format, no network at run time), so on embedded tasks the harness trains its own compact fully
convolutional segmenter on the task's *real* training photos through the shared judge machinery
(``metrics.judges.base``; the committed judges are listed in ``metrics.judges.pins``). Scores made with it are
therefore NOT comparable with the papers' numbers; only the protocol (confusion matrix accumulated over frames,
pixel/class accuracy, class IoU) is the same.

Architecture (v2): a three-stage U-Net of 3x3 conv + GroupNorm + ReLU blocks, ``WIDTH`` channels in the first stage
(~0.12M parameters). Training: cross-entropy with the task's ignore index, Adam 1e-3, random horizontal flips.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F

from harness.core.cache import stable_hash
from harness.core.errors import HarnessError
from harness.core.images import check_images
from harness.core.task import Task
from metrics.judges.base import JudgeData, JudgeSpec

WIDTH = 16  # channels of the first stage; stages use WIDTH, 2*WIDTH, 4*WIDTH (~0.12M parameters; CPU-cheap)
FEATURE_DIM = 6 * WIDTH  # width of Segmenter.features (spatial means of the two deepest encoder stages)
# One judge per task for every model and seed, so seed spread measures the models, not the judge.
SEED = int(stable_hash("fcn_scenes judge", 0, length=8), 16) % (2**31)


def _block(cin: int, cout: int) -> nn.Sequential:
    """Two 3x3 conv + GroupNorm + ReLU layers (GroupNorm: outputs do not depend on the batch)."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(8, cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(8, cout), nn.ReLU(inplace=True),
    )


class Segmenter(nn.Module):
    """A small three-stage U-Net: float ``(N, 3, H, W)`` in [0, 1] → logits ``(N, K, H, W)``; any H, W."""

    def __init__(self, num_classes: int, width: int = WIDTH) -> None:
        super().__init__()
        self.enc1 = _block(3, width)
        self.enc2 = _block(width, 2 * width)
        self.mid = _block(2 * width, 4 * width)
        self.dec2 = _block(4 * width + 2 * width, 2 * width)
        self.dec1 = _block(2 * width + width, width)
        self.head = nn.Conv2d(width, num_classes, 1)

    def _encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        e1 = self.enc1(images * 2 - 1)
        e2 = self.enc2(F.max_pool2d(e1, 2, ceil_mode=True))
        return e1, e2, self.mid(F.max_pool2d(e2, 2, ceil_mode=True))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits ``(N, K, H, W)`` for images ``(N, 3, H, W)`` in [0, 1]."""
        e1, e2, m = self._encode(images)
        d2 = self.dec2(torch.cat([F.interpolate(m, size=e2.shape[2:], mode="nearest"), e2], dim=1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, size=e1.shape[2:], mode="nearest"), e1], dim=1))
        return self.head(d1)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Image-level features ``(N, 6 * width)``: spatial means of the two deepest encoder stages.

        Used as the feature extractor for FID/KID of generated photos on embedded tasks (no Inception weights).
        """
        _, e2, m = self._encode(images)
        return torch.cat([e2.mean(dim=(2, 3)), m.mean(dim=(2, 3))], dim=1)


def segmenter_data(images: torch.Tensor, masks: torch.Tensor, *, num_classes: int, ignore_index: int) -> JudgeData:
    """Training data from uint8 RGB photos ``(N, 3, H, W)`` and int64 masks ``(N, H, W)`` in [0, K) or ignore."""
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
        raise HarnessError(f"segmenter training images: expected uint8 (N, 3, H, W), got {images.dtype} "
                           f"{tuple(images.shape)}")
    if masks.dtype != torch.int64 or masks.shape != (images.shape[0], *images.shape[2:]):
        raise HarnessError(f"segmenter training masks: expected int64 {(images.shape[0], *images.shape[2:])}, "
                           f"got {masks.dtype} {tuple(masks.shape)}")
    return JudgeData(images, masks, {"num_classes": num_classes}, ignore_index=ignore_index)


def scenes_task_data(task: Task) -> JudgeData:
    """The data source: the real training photos (domain B) of a Cityscapes-convention task and their masks."""
    missing = [k for k in ("num_classes", "ignore_index") if k not in task.meta]
    if missing or len(task.domains) < 2:
        raise HarnessError(f"task {task.name!r} cannot train a segmenter judge: it needs two domains and meta keys "
                           f"num_classes, ignore_index (missing: {missing})")
    photos = task.data("train", task.domains[1])
    return segmenter_data(photos.images, photos.labels["segmentation"], num_classes=int(task.meta["num_classes"]),
                          ignore_index=int(task.meta["ignore_index"]))


@torch.no_grad()
def segment(model: nn.Module, images: torch.Tensor, batch_size: int, device: torch.device) -> torch.Tensor:
    """Per-pixel arg-max class of ``images``.

    Args:
        model: A segmenter (logits ``(n, K, H, W)``).
        images: Float ``(N, 3, H, W)`` in [0, 1].
        batch_size: Images per forward pass (the result does not depend on it).
        device: Where to compute.

    Returns:
        int64 ``(N, H, W)`` on CPU.
    """
    check_images(images, "images to segment", channels=3)
    model.eval()
    out = [model(images[i : i + batch_size].to(device)).argmax(dim=1).cpu() for i in range(0, len(images), batch_size)]
    return torch.cat(out) if out else torch.empty(0, *images.shape[2:], dtype=torch.int64)


def _build(params: Mapping[str, int]) -> Segmenter:
    return Segmenter(int(params["num_classes"]))


def _features(model: nn.Module, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Float RGB ``(N, 3, H, W)`` in [0, 1] → pooled encoder features ``(N, 6 * WIDTH)``."""
    return {str(FEATURE_DIM): model.features(images)}


SEGMENTER = JudgeSpec(name="segmenter", arch="harness-segmenter-v2", description="harness-segmenter", build=_build,
                      data=scenes_task_data, target="segmentation", augment="hflip", lr=1e-3, seed=SEED,
                      features=_features, feature_layers=(str(FEATURE_DIM),))
