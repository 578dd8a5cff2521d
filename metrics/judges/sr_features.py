"""The harness's own feature network for super-resolution: a stand-in for VGG19 when no VGG19 weights are given.

Provenance: SRGAN's perceptual losses compare VGG19 (ImageNet) feature maps φ2,2 and φ5,4 (Ledig et al. 2017, Eq.
5), and FID compares Inception features. Neither set of weights ships with the harness and nothing is downloaded, so
on embedded tasks the harness trains a small VGG-style network itself, on the task's *real HR training crops*, with
a self-supervised objective: name the training photo a crop comes from and how it was rotated (0°, 90°, 180°,
270°). That needs texture and orientation features, which is what a content loss and a distribution distance
should compare. It is cached under a hash of everything it depends on and its weights' sha256 goes into every row.
Numbers made with it are comparable between runs with the same weights, never with VGG- or Inception-based ones.

Two instances are used, with different seeds: one is SRGAN's content network (a loss the generator optimises), the
other scores FID/KID, so a generator is never judged by the features it was trained to match.

Features: ``"22"`` = the second stage's last ReLU (the φ2,2 stand-in, 2·WIDTH maps at 1/2 resolution), ``"54"`` =
the third stage's last ReLU (the φ5,4 stand-in, 4·WIDTH maps at 1/4 resolution); ``pooled`` = spatial mean of
``"54"`` (the FID/KID features).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from harness.core.atomic import torch_load, torch_save
from harness.core.cache import cache_root, stable_hash, weights_sha256
from harness.core.errors import HarnessError

ARCH = "harness-sr-features-v1"  # bump when the architecture or the training recipe changes (invalidates the cache)
WIDTH = 16  # maps of the first stage; stages use WIDTH, 2·WIDTH, 4·WIDTH (~0.07M parameters, CPU-cheap)
FEATURE_DIM = 4 * WIDTH  # width of ``pooled``
LR = 1e-3  # Adam learning rate
ROTATIONS = 4  # 0, 90, 180, 270 degrees


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


def _batch(tiles: torch.Tensor, sources: torch.Tensor, crop: int, batch_size: int,
           generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Random crops of uint8 tiles, each rotated by a random multiple of 90°; label = source·4 + rotation."""
    index = torch.randint(0, tiles.shape[0], (batch_size,), generator=generator)
    corners = torch.randint(0, tiles.shape[-1] - crop + 1, (batch_size, 2), generator=generator)
    turns = torch.randint(0, ROTATIONS, (batch_size,), generator=generator)
    crops = [torch.rot90(tiles[i, :, top : top + crop, left : left + crop], int(k), dims=(1, 2))
             for i, (top, left), k in zip(index.tolist(), corners.tolist(), turns, strict=True)]
    return torch.stack(crops).float().div_(255.0), sources[index] * ROTATIONS + turns


def train_sr_features(tiles: torch.Tensor, sources: torch.Tensor, *, crop: int, steps: int, batch_size: int,
                      seed: int, device: torch.device, progress: bool) -> SRFeatureNet:
    """Trains the network (cross-entropy over photo × rotation, Adam) on random crops of HR training tiles.

    Args:
        tiles: uint8 ``(N, C, T, T)`` HR training tiles, C = 1 or 3.
        sources: int64 ``(N,)`` photo index of each tile.
        crop: Crop side (the task's HR training crop), at most T.
        steps: Optimisation steps.
        batch_size: Crops per step.
        seed: Seeds initialisation, crops and rotations (deterministic on CPU).
        device: Where to train.
        progress: Whether to show a progress bar.

    Returns:
        The trained network in eval mode on ``device``.
    """
    if tiles.dtype != torch.uint8 or tiles.dim() != 4 or not 0 < crop <= tiles.shape[-1]:
        raise HarnessError(f"SR feature network: expected uint8 (N, C, T, T) tiles of at least {crop} px, got "
                           f"{tiles.dtype} {tuple(tiles.shape)}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = SRFeatureNet(int(sources.max()) * ROTATIONS + ROTATIONS).to(device)
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=LR)
    model.train()
    for _ in tqdm(range(steps), desc="training SR feature network", disable=not progress, leave=False):
        x, y = _batch(tiles, sources, crop, batch_size, generator)
        loss = F.cross_entropy(model(x.to(device)), y.to(device))
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return model.eval()


def load_sr_features_file(path: str | Path) -> SRFeatureNet:
    """Loads a file written by ``load_or_train_sr_features`` (eval mode, CPU)."""
    state = torch_load(path)
    if not isinstance(state, dict) or state.get("arch") != ARCH:
        raise HarnessError(f"SR feature network {str(path)!r}: expected a {ARCH} file written by the harness")
    model = SRFeatureNet(int(state["num_classes"]))
    model.load_state_dict(state["state_dict"])
    return model.eval()


def load_or_train_sr_features(tiles: torch.Tensor, sources: torch.Tensor, *, crop: int, steps: int,
                              batch_size: int, seed: int, device: torch.device, data_key: str,
                              progress: bool) -> tuple[SRFeatureNet, Path, str]:
    """The cached network for this data and recipe, trained (and cached) on a miss.

    Args:
        tiles: As ``train_sr_features``.
        sources: As ``train_sr_features``.
        crop: As ``train_sr_features``.
        steps: As ``train_sr_features``.
        batch_size: As ``train_sr_features``.
        seed: As ``train_sr_features``.
        device: As ``train_sr_features``.
        data_key: Identifies the training data (task name + data hash); part of the cache key.
        progress: As ``train_sr_features``.

    Returns:
        ``(network on device in eval mode with frozen parameters, cache file, weights_sha256 of its state)``.
    """
    key = stable_hash(ARCH, WIDTH, LR, crop, steps, batch_size, seed, data_key)
    path = cache_root() / "judges" / f"sr-features-{key}.pt"
    if not path.exists():
        model = train_sr_features(tiles, sources, crop=crop, steps=steps, batch_size=batch_size, seed=seed,
                                  device=device, progress=progress)
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        torch_save({"arch": ARCH, "num_classes": model.num_classes, "state_dict": state}, path)
    model = load_sr_features_file(path)
    return model.to(device).requires_grad_(False), path, weights_sha256(model.state_dict())
