"""The segmentation judge of the FCN-score protocol (pix2pix §4.1, CycleGAN §5.1.1).

Provenance: the papers score generated photos with a Caffe FCN-8s trained on Cityscapes
(``fcn-8s-cityscapes.caffemodel``, fetched by ``scripts/eval_cityscapes/download_fcn8s.sh``). Those weights cannot be
loaded here (Caffe format, no network at run time), so on embedded tasks the harness trains its own compact fully
convolutional segmenter on the task's *real* training photos and caches it by a hash of everything it depends on.
Scores made with it are therefore NOT comparable with the papers' numbers; only the protocol (confusion matrix
accumulated over frames, pixel/class accuracy, class IoU) is the same. Users may supply weights of this same
architecture with ``load_segmenter_weights`` (checked against a sha256).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from harness.core.atomic import torch_load, torch_save
from harness.core.cache import cache_root, file_sha256, stable_hash, weights_sha256
from harness.core.errors import HarnessError
from harness.core.images import check_images

ARCH = "harness-segmenter-v2"  # bump when the architecture or training loop changes (invalidates the cache)
WIDTH = 16  # channels of the first stage; stages use WIDTH, 2*WIDTH, 4*WIDTH (~0.12M parameters; CPU-cheap)
DEFAULT_LR = 1e-3  # Adam learning rate for judge training


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


def _check_training_data(images: torch.Tensor, masks: torch.Tensor) -> None:
    check_images(images, "segmenter training images", channels=3)
    if masks.dtype != torch.int64 or masks.shape != (images.shape[0], *images.shape[2:]):
        raise HarnessError(f"segmenter training masks: expected int64 {(images.shape[0], *images.shape[2:])}, "
                           f"got {masks.dtype} {tuple(masks.shape)}")


def train_segmenter(
    images: torch.Tensor,
    masks: torch.Tensor,
    *,
    num_classes: int,
    ignore_index: int,
    steps: int,
    batch_size: int,
    lr: float = DEFAULT_LR,
    seed: int,
    device: torch.device,
    progress: bool,
) -> Segmenter:
    """Trains the judge with cross-entropy (``ignore_index`` pixels skipped), Adam and random horizontal flips.

    Args:
        images: Float ``(N, 3, H, W)`` in [0, 1], real photos.
        masks: int64 ``(N, H, W)`` class ids in ``[0, K)`` or ``ignore_index``.
        num_classes: K.
        ignore_index: Label excluded from the loss (255 for Cityscapes trainIds).
        steps: Optimisation steps.
        batch_size: Images per step, drawn with replacement.
        lr: Adam learning rate.
        seed: Seeds the initialisation, batch draws and flips (deterministic on CPU).
        device: Where to train.
        progress: Whether to show a progress bar.

    Returns:
        The trained segmenter in eval mode, on ``device``.
    """
    _check_training_data(images, masks)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Segmenter(num_classes).to(device)
    gen = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in tqdm(range(steps), desc="training segmenter judge", disable=not progress, leave=False):
        index = torch.randint(0, images.shape[0], (batch_size,), generator=gen)
        x, y = images[index], masks[index]
        flip = torch.rand(batch_size, generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        y = torch.where(flip[:, None, None], y.flip(2), y)
        loss = F.cross_entropy(model(x.to(device)), y.to(device), ignore_index=ignore_index)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
    return model.eval()


def _from_state(state: dict, num_classes: int, path: Path) -> Segmenter:
    """Builds a segmenter from a saved ``{"arch", "num_classes", "state_dict"}`` file or a bare state dict."""
    weights = state.get("state_dict", state) if isinstance(state, dict) else None
    saved_classes = state.get("num_classes", num_classes) if isinstance(state, dict) else num_classes
    if weights is None or saved_classes != num_classes:
        raise HarnessError(f"segmenter weights {str(path)!r}: expected a {ARCH} state dict for {num_classes} classes")
    model = Segmenter(num_classes)
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise HarnessError(f"segmenter weights {str(path)!r} do not fit the {ARCH} architecture: {exc}") from exc
    return model.eval()


def load_or_train_segmenter(
    images: torch.Tensor,
    masks: torch.Tensor,
    *,
    num_classes: int,
    ignore_index: int,
    steps: int,
    batch_size: int,
    lr: float = DEFAULT_LR,
    seed: int,
    device: torch.device,
    data_key: str,
    progress: bool,
) -> tuple[Segmenter, Path, str]:
    """The cached judge for this data and training setup, training (and caching) it on a miss.

    Args:
        images: Float ``(N, 3, H, W)`` in [0, 1], real photos (not read on a cache hit).
        masks: int64 ``(N, H, W)`` class ids in ``[0, K)`` or ``ignore_index``.
        num_classes: K.
        ignore_index: Label excluded from the loss.
        steps: Optimisation steps.
        batch_size: Images per step.
        lr: Adam learning rate.
        seed: Training seed.
        device: Where to train and where the returned model lives.
        progress: Whether to show a progress bar.
        data_key: A string that identifies the training data (task name + data hash); part of the cache key.

    Returns:
        ``(model on device in eval mode, cache file path, sha256 of the weights (``weights_sha256``))``.
    """
    key = stable_hash(ARCH, WIDTH, num_classes, ignore_index, steps, batch_size, lr, seed, data_key)
    path = cache_root() / "judges" / f"segmenter-{key}.pt"
    if not path.exists():
        model = train_segmenter(images, masks, num_classes=num_classes, ignore_index=ignore_index, steps=steps,
                                batch_size=batch_size, lr=lr, seed=seed, device=device, progress=progress)
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        torch_save({"arch": ARCH, "num_classes": num_classes, "state_dict": state}, path)
    model = _from_state(torch_load(path), num_classes, path)
    return model.to(device), path, weights_sha256(model.state_dict())


def load_segmenter_file(path: str | Path) -> Segmenter:
    """Loads a segmenter file written by ``load_or_train_segmenter`` (class count read from the file)."""
    state = torch_load(path)
    if not isinstance(state, dict) or "num_classes" not in state:
        raise HarnessError(f"segmenter weights {str(path)!r}: expected a file written by load_or_train_segmenter")
    return _from_state(state, int(state["num_classes"]), Path(path))


def load_segmenter_weights(path: str | Path, expected_sha256: str, num_classes: int) -> Segmenter:
    """Loads user-supplied weights of the harness segmenter architecture, checked against a sha256.

    Args:
        path: A ``torch.save`` file of ``{"arch", "num_classes", "state_dict"}`` or a bare state dict.
        expected_sha256: Full hex sha256 the file must have (from the weights manifest).
        num_classes: K.

    Returns:
        The segmenter on CPU in eval mode.

    Raises:
        HarnessError: Missing file (saying where to put it), sha256 mismatch, or weights of another architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"segmenter weights file {str(path)!r} not found: put the {ARCH} weights (sha256 "
                           f"{expected_sha256}) at that path; nothing is downloaded at run time")
    actual = file_sha256(path)
    if actual.lower() != expected_sha256.lower():
        raise HarnessError(f"segmenter weights file {str(path)!r} has sha256 {actual}, expected {expected_sha256}; "
                           "replace it with the file listed in the weights manifest")
    return _from_state(torch_load(path), num_classes, path)


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
