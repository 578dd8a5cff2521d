"""The harness's own feature network for super-resolution: a stand-in for VGG19 when no VGG19 weights are given.

Provenance: SRGAN's perceptual losses compare VGG19 (ImageNet) feature maps φ2,2 and φ5,4 (Ledig et al. 2017, Eq.
5), and FID compares Inception features. Neither set of weights ships with the harness and nothing is downloaded, so
on embedded tasks the harness trains a small VGG-style network itself, through the shared judge machinery
(``metrics.judges.base``), on crops of the task's *real HR training tiles*, with a self-supervised objective: name
the training photo a crop comes from and how it was rotated (0°, 90°, 180°, 270°). That needs texture and
orientation features, which is what a content loss and a distribution distance should compare. Numbers made with it
are comparable between runs with the same weights (their sha256 is in every row), never with VGG/Inception ones.

Two judges share the network and the data, with different seeds: ``sr_features`` scores FID/KID (its recipe is the
profile's ``eval.judge_steps``), ``sr_content`` is SRGAN's content network (a loss the generator optimises; recipe
from the model's config), so a generator is never judged by the features it was trained to match.

Features: ``"22"`` = the second stage's last ReLU (the φ2,2 stand-in, 2·WIDTH maps at 1/2 resolution), ``"54"`` =
the third stage's last ReLU (the φ5,4 stand-in, 4·WIDTH maps at 1/4 resolution); the FID/KID layer is the spatial
mean of ``"54"``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn
from torch.nn import functional as F

from harness.core.errors import HarnessError
from harness.core.task import Task
from metrics.judges.base import JudgeData, JudgeSpec

WIDTH = 16  # maps of the first stage; stages use WIDTH, 2·WIDTH, 4·WIDTH (~0.07M parameters, CPU-cheap)
FEATURE_DIM = 4 * WIDTH  # width of ``pooled`` (the FID/KID features)
ROTATIONS = 4  # 0, 90, 180, 270 degrees
CROPS = 2048  # training crops drawn once per task (uniform over photos, tiles, positions and rotations)
DATA_SEED = 0  # the crops' generator: the data, hence the judge key, depend on the task only


def _stage(cin: int, cout: int) -> nn.Sequential:
    """Two 3x3 conv + GroupNorm + ReLU (GroupNorm: features do not depend on the batch)."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.GroupNorm(8, cout), nn.ReLU(),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.GroupNorm(8, cout), nn.ReLU())


class SRFeatureNet(nn.Module):
    """Three VGG-style stages and a linear head: float ``(N, C, H, W)`` in [0, 1] (C = 1 or 3) → logits ``(N, K)``."""

    def __init__(self, num_classes: int, width: int = WIDTH) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.stage1, self.stage2, self.stage3 = _stage(3, width), _stage(width, 2 * width), _stage(2 * width, 4 * width)
        self.head = nn.Linear(4 * width, num_classes)

    def features(self, images: torch.Tensor, layer: str) -> torch.Tensor:
        """Feature maps ``"22"`` (stage 2) or ``"54"`` (stage 3) of images in [0, 1]; grey is repeated to RGB."""
        if images.shape[1] == 1:
            images = images.expand(-1, 3, -1, -1)
        shallow = self.stage2(F.max_pool2d(self.stage1(images * 2 - 1), 2, ceil_mode=True))
        if layer == "22":
            return shallow
        if layer == "54":
            return self.stage3(F.max_pool2d(shallow, 2, ceil_mode=True))
        raise ValueError(f"SR feature layer must be '22' or '54', got {layer!r}")

    def pooled(self, images: torch.Tensor) -> torch.Tensor:
        """Image-level features ``(N, FEATURE_DIM)``: the spatial mean of ``"54"`` (FID/KID)."""
        return self.features(images, "54").mean(dim=(2, 3))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Logits of (photo, rotation) classes."""
        return self.head(self.pooled(images))


def rotation_crops(tiles: torch.Tensor, sources: torch.Tensor, *, crop: int, count: int,
                   generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` random crops of uint8 tiles, each rotated by a random multiple of 90°.

    A photo is drawn uniformly, then one of its tiles, a position and a rotation; the target is
    ``photo · ROTATIONS + rotation``.

    Returns:
        ``(uint8 (count, C, crop, crop), int64 (count,))``.
    """
    if tiles.dtype != torch.uint8 or tiles.dim() != 4 or not 0 < crop <= tiles.shape[-1]:
        raise HarnessError(f"SR feature network: expected uint8 (N, C, T, T) tiles of at least {crop} px, got "
                           f"{tiles.dtype} {tuple(tiles.shape)}")
    photos, counts = torch.unique(sources, return_counts=True)
    order, starts = torch.argsort(sources, stable=True), torch.cumsum(counts, 0) - counts
    photo = torch.randint(0, len(photos), (count,), generator=generator)
    tile = order[starts[photo] + (torch.rand(count, generator=generator, dtype=torch.float64)
                                  * counts[photo]).long()]
    corners = torch.randint(0, tiles.shape[-1] - crop + 1, (count, 2), generator=generator)
    turns = torch.randint(0, ROTATIONS, (count,), generator=generator)
    images = [torch.rot90(tiles[i, :, top : top + crop, left : left + crop], int(k), dims=(1, 2))
              for i, (top, left), k in zip(tile.tolist(), corners.tolist(), turns, strict=True)]
    return torch.stack(images).contiguous(), photos[photo] * ROTATIONS + turns


def sr_task_data(task: Task) -> JudgeData:
    """The data source: ``CROPS`` rotated crops of the task's HR training tiles at its training crop size."""
    if "scale" not in task.meta or tuple(task.domains) != ("LR", "HR"):
        raise HarnessError(f"task {task.name!r} cannot train the SR feature network: it is not an SR task")
    hr = task.data("train", "HR")
    images, targets = rotation_crops(hr.images, hr.labels["source"], crop=task.image_size, count=CROPS,
                                     generator=torch.Generator().manual_seed(DATA_SEED))
    return JudgeData(images, targets, {"num_classes": int(hr.labels["source"].unique().numel()) * ROTATIONS})


def _build(params: Mapping[str, int]) -> SRFeatureNet:
    return SRFeatureNet(int(params["num_classes"]))


def _features(model: nn.Module, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Float RGB ``(N, 3, H, W)`` in [0, 1] → pooled deepest-stage features ``(N, FEATURE_DIM)``."""
    return {str(FEATURE_DIM): model.pooled(images)}


def _spec(name: str, description: str, seed: int) -> JudgeSpec:
    return JudgeSpec(name=name, arch="harness-sr-features-v1", description=description, build=_build,
                     data=sr_task_data, target="class", augment="none", lr=1e-3, seed=seed, features=_features,
                     feature_layers=(str(FEATURE_DIM),))


SR_FEATURES = _spec("sr_features", "harness SR feature network (not Inception)", seed=1)
SR_CONTENT = _spec("sr_content", "harness SR feature network (offline stand-in for VGG19)", seed=2)
