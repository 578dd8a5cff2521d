"""The digit-classifier judge: a small CNN that scores generated digits (vanilla GAN, DTN's SVHN→MNIST protocol).

Used three ways: its predicted labels give mode coverage and classifier accuracy, and its penultimate 128-d features
are the embedding for FID/KID/precision-recall on digits (``metrics.fidelity``, extractor ``"digits"``). On the
embedded task the harness trains it once and caches it under a hash of everything it depends on; the weights'
content sha256 (``harness.core.cache.weights_sha256``) is the "weights hash" recorded in each row's provenance.

Architecture (version 1): conv3x3(32)-ReLU, maxpool2, conv3x3(64)-ReLU, maxpool2, conv3x3(128)-ReLU,
adaptive average pool to 4x4, fc(2048→128)-ReLU (the feature layer), fc(128→10); inputs 28 or 32 px, 1 channel,
scaled to [-1, 1] inside. Pooling early keeps a CPU training run to seconds.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from harness.core.atomic import torch_load, torch_save
from harness.core.cache import cache_root, stable_hash, weights_sha256
from harness.core.errors import HarnessError
from harness.core.images import check_images

ARCH_VERSION = 1  # bump when the architecture or the training recipe changes: it is part of the cache key
INPUT_SIZES = (28, 32)  # MNIST-style and SVHN-style digit sizes
NUM_CLASSES = 10  # digits 0-9
FEATURE_DIM = 128  # width of the penultimate (feature) layer
DEFAULT_LR = 1e-3  # Adam learning rate used by load_or_train_digit_judge
MAX_SHIFT = 2  # augmentation: random translation by up to this many pixels


class DigitClassifier(nn.Module):
    """Small CNN digit classifier for 1-channel images.

    Args:
        input_size: Image height and width the judge was trained on (28 or 32); callers resize to it.
    """

    def __init__(self, input_size: int = 28) -> None:
        super().__init__()
        if input_size not in INPUT_SIZES:
            raise HarnessError(f"digit classifier: input size must be one of {INPUT_SIZES}, got {input_size}")
        self.input_size = input_size
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool2d(4),
            nn.Flatten(),
            nn.Linear(128 * 4 * 4, FEATURE_DIM),
            nn.ReLU(inplace=True),
        )
        self.head = nn.Linear(FEATURE_DIM, NUM_CLASSES)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features.

        Args:
            x: Float ``(N, 1, S, S)`` in [0, 1] with S = ``input_size``.

        Returns:
            Float ``(N, 128)``, non-negative (post-ReLU).
        """
        return self.body(x * 2.0 - 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits: float ``(N, 1, S, S)`` in [0, 1] → float ``(N, 10)``."""
        return self.head(self.features(x))


def _shift(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random translation by up to MAX_SHIFT pixels (zero fill), one offset per batch for speed."""
    dy, dx = (int(v) for v in torch.randint(-MAX_SHIFT, MAX_SHIFT + 1, (2,), generator=generator))
    padded = F.pad(images, (MAX_SHIFT, MAX_SHIFT, MAX_SHIFT, MAX_SHIFT))
    size_h, size_w = images.shape[2], images.shape[3]
    return padded[:, :, MAX_SHIFT + dy : MAX_SHIFT + dy + size_h, MAX_SHIFT + dx : MAX_SHIFT + dx + size_w]


def _check_training_data(images: torch.Tensor, labels: torch.Tensor) -> None:
    check_images(images, "digit judge training images", channels=1)
    if images.shape[2] != images.shape[3] or images.shape[2] not in INPUT_SIZES:
        raise HarnessError(f"digit judge training images: expected square {INPUT_SIZES} px, got {tuple(images.shape)}")
    if labels.shape != (images.shape[0],) or labels.dtype != torch.int64:
        got = f"{labels.dtype} {tuple(labels.shape)}"
        raise HarnessError(f"digit judge labels: expected int64 ({images.shape[0]},), got {got}")
    if labels.numel() and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        raise HarnessError(f"digit judge labels: expected values in [0, {NUM_CLASSES - 1}]")


def train_digit_classifier(
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: torch.device,
    progress: bool,
) -> DigitClassifier:
    """Trains a digit classifier with Adam and random-shift augmentation; deterministic for a seed on CPU.

    Args:
        images: Float ``(N, 1, S, S)`` in [0, 1], S in (28, 32).
        labels: Int64 ``(N,)`` in [0, 9].
        steps: Optimisation steps.
        batch_size: Examples per step (sampled with replacement from a seeded generator).
        lr: Adam learning rate.
        seed: Seeds weight init, batch sampling and augmentation (the global RNG is left untouched).
        device: Where to train.
        progress: Whether to show a progress bar.

    Returns:
        The trained model in eval mode, on ``device``.
    """
    _check_training_data(images, labels)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DigitClassifier(images.shape[2]).to(device)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in tqdm(range(steps), disable=not progress, desc="digit judge", leave=False):
        index = torch.randint(0, images.shape[0], (batch_size,), generator=generator)
        batch = _shift(images[index], generator).to(device)
        loss = F.cross_entropy(model(batch), labels[index].to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model.eval()


def save_digit_classifier(model: DigitClassifier, path: str | Path) -> None:
    """Atomically writes a judge checkpoint: ``{"arch_version", "input_size", "state_dict"}``."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    torch_save({"arch_version": ARCH_VERSION, "input_size": model.input_size, "state_dict": state}, path)


def load_digit_classifier(path: str | Path, device: torch.device) -> DigitClassifier:
    """Loads a checkpoint written by ``save_digit_classifier`` (``weights_only=True``).

    Raises:
        HarnessError: Missing, unreadable or incompatible file, naming it.
    """
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"digit judge weights {str(path)!r} do not exist (expected a checkpoint of the digit judge)")
    try:
        payload = torch_load(path)
        if payload["arch_version"] != ARCH_VERSION:
            raise HarnessError(
                f"digit judge weights {str(path)!r}: architecture version {payload['arch_version']}, "
                f"expected {ARCH_VERSION}; delete the file to retrain"
            )
        model = DigitClassifier(int(payload["input_size"]))
        model.load_state_dict(payload["state_dict"])
    except HarnessError:
        raise
    except Exception as exc:  # any unpickling/shape error means the file is not a judge checkpoint
        raise HarnessError(f"digit judge weights {str(path)!r} cannot be loaded: {exc}; delete it to retrain") from exc
    return model.to(device).eval()


def digit_judge_path(*, data_key: str, input_size: int, steps: int, batch_size: int, seed: int) -> Path:
    """Cache location of a trained judge: ``cache_root()/judges/digit-<hash>.pt``."""
    key = stable_hash(data_key, ARCH_VERSION, input_size, steps, batch_size, seed, DEFAULT_LR)
    return cache_root() / "judges" / f"digit-{key}.pt"


def load_or_train_digit_judge(
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    *,
    steps: int,
    batch_size: int,
    seed: int,
    device: torch.device,
    data_key: str,
    progress: bool,
) -> tuple[DigitClassifier, Path, str]:
    """Returns the cached judge for these settings, training and caching it first if needed.

    Args:
        train_images: Float ``(N, 1, S, S)`` in [0, 1], S in (28, 32).
        train_labels: Int64 ``(N,)`` in [0, 9].
        steps: Optimisation steps.
        batch_size: Examples per step.
        seed: Training seed.
        device: Where to train and where the returned model lives.
        data_key: Identifies the training data (e.g. the task's cache key); part of the cache key, since the
            images themselves are not hashed.
        progress: Whether to show a progress bar while training.

    Returns:
        ``(model in eval mode, checkpoint path, sha256 of the weights (``harness.core.cache.weights_sha256``))``.
    """
    _check_training_data(train_images, train_labels)
    path = digit_judge_path(
        data_key=data_key, input_size=train_images.shape[2], steps=steps, batch_size=batch_size, seed=seed
    )
    if not path.is_file():
        model = train_digit_classifier(
            train_images,
            train_labels,
            steps=steps,
            batch_size=batch_size,
            lr=DEFAULT_LR,
            seed=seed,
            device=device,
            progress=progress,
        )
        save_digit_classifier(model, path)
    model = load_digit_classifier(path, device)
    return model, path, weights_sha256(model.state_dict())


@torch.no_grad()
def predict_digits(model: DigitClassifier, images: torch.Tensor, *, batch_size: int) -> torch.Tensor:
    """Predicted labels for images of any size: RGB is converted to luma, then resized to the judge's input size.

    Args:
        model: The judge.
        images: Float ``(N, 1 or 3, H, W)`` in [0, 1].
        batch_size: Images per forward pass (results do not depend on it).

    Returns:
        Int64 ``(N,)`` in [0, 9], on CPU.
    """
    check_images(images, "images to classify")
    device = next(model.parameters()).device
    out = [model(to_judge_input(c.to(device), model.input_size)).argmax(1).cpu() for c in images.split(batch_size)]
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.int64)


LUMA = (0.299, 0.587, 0.114)  # ITU-R 601 weights, as PIL's convert("L")


def to_judge_input(images: torch.Tensor, size: int) -> torch.Tensor:
    """Float ``(N, 1 or 3, H, W)`` in [0, 1] → float ``(N, 1, size, size)`` (luma, bilinear antialiased resize)."""
    if images.shape[1] == 3:
        weights = torch.tensor(LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
        images = (images * weights).sum(1, keepdim=True)
    if images.shape[2:] != (size, size):
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return images.clamp(0, 1)
