"""Configs and builders of the real datasets, so the suite runs on them (``--tasks cityscapes``).

The path comes from ``--set cityscapes.root=PATH``. Nothing is downloaded: an empty ``root`` is an error saying
where to put the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from harness.core.bounds import Count, DirPath, Range
from harness.core.errors import HarnessError
from harness.core.task import Task
from harness.data.real_cityscapes import load_cityscapes
from harness.data.real_folders import load_aligned_folder

RealSide = Annotated[int, Range(16, 2048)]  # images are resized to this side length


@dataclass(frozen=True)
class CityscapesConfig:
    """Where Cityscapes lies and how it is read."""

    root: DirPath = ""  # folder holding leftImg8bit/ and gtFine/ (from the Cityscapes site; never downloaded here)
    image_size: RealSide = 256  # frames are resized to image_size² (pix2pix: 256; CycleGAN: 128)
    max_images: Count = 0  # read at most this many frames per split (0 = all: 2975 train, 500 val)


@dataclass(frozen=True)
class AlignedFolderConfig:
    """A pix2pix-style dataset: ``root/{train,val,test}/*.jpg`` with A and B side by side."""

    root: DirPath = ""  # e.g. the pix2pix facades/ or maps/ folder (never downloaded here)
    image_size: RealSide = 256  # each half is resized to image_size²


def _require_root(section: str, root: str, expected: str) -> None:
    if not root:
        raise HarnessError(f"task {section}: set --set {section}.root=PATH to a local copy of the dataset "
                           f"({expected}); nothing is downloaded")


def build_cityscapes(config: CityscapesConfig) -> Task:
    """Cityscapes labels ↔ photo from ``config.root`` (val is the test split, like the papers)."""
    _require_root("cityscapes", config.root, "a folder with leftImg8bit/ and gtFine/")
    return load_cityscapes(config.root, image_size=config.image_size, max_images=config.max_images or None)


def build_aligned(config: AlignedFolderConfig) -> Task:
    """A pix2pix A|B folder dataset from ``config.root``."""
    _require_root("aligned", config.root, "a folder with train/ and test/ of A|B side-by-side images")
    return load_aligned_folder(config.root, name="aligned", image_size=config.image_size)
