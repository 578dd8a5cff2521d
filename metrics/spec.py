"""The metric registry entry type.

A metric is a plain function over tensors with explicit keyword parameters returning ``dict[str, float]`` with
stable keys. The registry entry records the direction of every output key and the paper the protocol comes from,
and optionally how to run the metric on image folders a user brings (``python -m harness.run evaluate``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch


@dataclass(frozen=True)
class FolderInputs:
    """What ``evaluate --metric NAME --pred DIR [--target DIR]`` hands a folder-capable metric.

    Attributes:
        pred: Float32 ``(N, C, H, W)`` in [0, 1], the images to score.
        target: Float32 ``(M, C, H, W)`` in [0, 1], reference images, or None.
        device: Where to compute.
        seed: Seed for any stochastic step (KID subsets, sub-sampling).
        feature_extractor: Feature extractor name for distribution metrics (``"inception"``, ``"digits"``).
        weights: User-supplied weights file (e.g. Inception for FID), or None.
        pred_dir: The ``--pred`` folder (metrics that read their files themselves, ``MetricSpec.reads_files``).
        target_dir: The ``--target`` folder, or None.
        scale: ``--scale`` (super-resolution factor; the border cropped before scoring), or None.
        y_channel: ``--y-channel``: score the BT.601 Y channel instead of R, G, B.
    """

    pred: torch.Tensor | None
    target: torch.Tensor | None
    device: torch.device
    seed: int
    feature_extractor: str
    weights: Path | None
    pred_dir: Path | None = None
    target_dir: Path | None = None
    scale: int | None = None
    y_channel: bool = False


@dataclass(frozen=True)
class MetricSpec:
    """A registry entry.

    Attributes:
        name: Registry name (``"fid"``, ``"parzen"``, ``"fcn_score"``).
        paper: The paper (and section) whose protocol this is.
        outputs: Output key → ``higher_is_better`` (None for informational values such as a chosen sigma).
        on_folders: Runs the metric on user image folders, or None when the metric needs more than images.
        needs_target: Whether ``on_folders`` requires ``--target``.
        reads_files: Whether ``on_folders`` reads ``pred_dir`` / ``target_dir`` itself (images of different sizes,
            paired by name) instead of receiving the folders as stacked tensors.
    """

    name: str
    paper: str
    outputs: Mapping[str, bool | None]
    on_folders: Callable[[FolderInputs], dict[str, float]] | None = None
    needs_target: bool = True
    reads_files: bool = False
