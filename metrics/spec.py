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

from harness.core.image_folder import ImageFolder


@dataclass(frozen=True)
class FolderInputs:
    """What ``evaluate --metric NAME --pred DIR [--target DIR]`` hands a folder-capable metric.

    The folders are validated (headers read, one size per folder) but not decoded: a metric streams them
    (``ImageFolder.read`` / ``batches``) or, if it truly needs them all at once, checks their size and ``load``s.

    Attributes:
        pred: The images to score.
        target: Reference images, or None. For a ``paired`` metric it is already matched to ``pred`` by file name
            (image i of both has the same stem), of the same size, and both read with the same channel count.
        device: Where to compute.
        seed: Seed for any stochastic step (KID subsets, sub-sampling).
        feature_extractor: Feature extractor name for distribution metrics (``"inception"``, ``"digits"``).
        weights: User-supplied weights file (e.g. Inception for FID), or None.
        scale: ``--scale``, the super-resolution factor (border cropped before scoring), or None.
        y_channel: ``--y-channel``: score the BT.601 Y channel instead of R, G, B.
    """

    pred: ImageFolder
    target: ImageFolder | None
    device: torch.device
    seed: int
    feature_extractor: str
    weights: Path | None
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
        paired: Whether ``--pred`` and ``--target`` images are compared one to one, matched by file name (stem).
        sizes_vary: Whether images may differ in size from file to file (a paired metric then needs each pair to
            match, not the folders); the metric reads them one by one.
        options: The ``FolderInputs`` options ``on_folders`` reads besides the folders and the device
            (``feature_extractor``, ``weights``, ``seed``, ``scale``, ``y_channel``); ``evaluate`` refuses a flag
            for any other, so no flag is ever silently ignored.
        eight_bit: Whether ``on_folders`` rounds 16-bit files to 8 bits (torch-fidelity's extractors take uint8);
            ``evaluate`` logs it when a folder holds 16-bit files, which every other metric reads at full precision.
    """

    name: str
    paper: str
    outputs: Mapping[str, bool | None]
    on_folders: Callable[[FolderInputs], dict[str, float]] | None = None
    needs_target: bool = True
    paired: bool = False
    sizes_vary: bool = False
    options: frozenset[str] = frozenset()
    eight_bit: bool = False
