"""The digit-classifier judge: a small CNN that scores generated digits (vanilla GAN, DTN's SVHN→MNIST protocol).

Used three ways: its predicted labels give mode coverage and classifier accuracy, and its penultimate 128-d features
are the embedding for FID/KID/precision-recall on digits (torch-fidelity extractor ``"harness-digits"``). It trains
on the real training digits of the task's handwritten domain through the shared judge machinery
(``metrics.judges.base``); the committed judges of the smoke and standard profiles are listed in
``metrics.judges.pins``.

Architecture (version 1): conv3x3(32)-ReLU, maxpool2, conv3x3(64)-ReLU, maxpool2, conv3x3(128)-ReLU,
adaptive average pool to 4x4, fc(2048→128)-ReLU (the feature layer), fc(128→10); inputs 28 or 32 px, 1 channel,
scaled to [-1, 1] inside. Pooling early keeps a CPU training run to seconds. Training: Adam 1e-3, random shifts of
up to 2 px, seed 0.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from harness.core.errors import HarnessError
from harness.core.images import check_images
from harness.core.task import Task
from metrics.judges.base import JudgeData, JudgeSpec

INPUT_SIZES = (28, 32)  # MNIST-style and SVHN-style digit sizes
NUM_CLASSES = 10  # digits 0-9
FEATURE_DIM = 128  # width of the penultimate (feature) layer
DOMAIN = "handwritten"  # the scored domain of the digits task (MNIST-like)
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601 weights, as PIL's convert("L")


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
        """Penultimate features: float ``(N, 1, S, S)`` in [0, 1], S = ``input_size`` → ``(N, 128)``, >= 0."""
        return self.body(x * 2.0 - 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits: float ``(N, 1, S, S)`` in [0, 1] → float ``(N, 10)``."""
        return self.head(self.features(x))


def to_judge_input(images: torch.Tensor, size: int) -> torch.Tensor:
    """Float ``(N, 1 or 3, H, W)`` in [0, 1] → float ``(N, 1, size, size)`` (luma, bilinear antialiased resize)."""
    if images.shape[1] == 3:
        weights = torch.tensor(LUMA, dtype=images.dtype, device=images.device).view(1, 3, 1, 1)
        images = (images * weights).sum(1, keepdim=True)
    if images.shape[2:] != (size, size):
        images = F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return images.clamp(0, 1)


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


def digit_data(images: torch.Tensor, labels: torch.Tensor) -> JudgeData:
    """Training data from uint8 ``(N, 1, S, S)`` digits (S in 28, 32) and int64 ``(N,)`` labels."""
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 1:
        raise HarnessError(f"digit judge training images: expected uint8 (N, 1 channels, S, S), got {images.dtype} "
                           f"{tuple(images.shape)}")
    if images.shape[2] != images.shape[3] or images.shape[2] not in INPUT_SIZES:
        raise HarnessError(f"digit judge training images: expected square {INPUT_SIZES} px, got {tuple(images.shape)}")
    return JudgeData(images, labels, {"input_size": int(images.shape[2]), "num_classes": NUM_CLASSES})


def digits_task_data(task: Task) -> JudgeData:
    """The data source: the real training digits of the task's handwritten domain and their class labels."""
    train = task.data("train", DOMAIN)
    return digit_data(train.images, train.labels["class"])


def _build(params: Mapping[str, int]) -> DigitClassifier:
    if int(params.get("num_classes", NUM_CLASSES)) != NUM_CLASSES:
        raise HarnessError(f"digit classifier: {params['num_classes']} classes requested, it has {NUM_CLASSES}")
    return DigitClassifier(int(params["input_size"]))


def _features(model: nn.Module, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """Float RGB ``(N, 3, H, W)`` in [0, 1] → penultimate features (N, 128) and logits (N, 10)."""
    feats = model.features(to_judge_input(images, model.input_size))
    return {str(FEATURE_DIM): feats, "logits": model.head(feats)}


DIGITS = JudgeSpec(name="digits", arch="digit-classifier-v1", description="harness digit classifier", build=_build,
                   data=digits_task_data, target="class", augment="shift", lr=1e-3, seed=0, features=_features,
                   feature_layers=(str(FEATURE_DIM), "logits"))
