"""Loader for the Cityscapes dataset in its published on-disk layout.

``root/leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png`` photos and
``root/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_labelIds.png`` label maps (cityscapesScripts naming).
LabelIds are mapped to the 19 trainIds with the cityscapesScripts table (255 = ignore). As in Pix2Pix and CycleGAN,
the Cityscapes **val** split (500 frames) is the test split; photos are resized bilinearly and labels by nearest
neighbour to ``image_size`` x ``image_size`` (the papers trained at 256 x 256). The test split also keeps its label
maps at full resolution (uint8, ``FULL_RES_SEGMENTATION``; 1 GiB for the 500 val frames at 2048 x 1024): FCN-scores
are computed against those, as ``scripts/eval_cityscapes/evaluate.py`` does, never against downsampled labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from harness.core.errors import HarnessError
from harness.core.images import read_image
from harness.core.task import DomainData, Task, unpaired_halves
from harness.data.cityscapes_labels import TRAIN_IDS, label_ids_to_train_ids, train_ids_to_color
from harness.data.real_folders import resize_array
from harness.data.scenes import scenes_meta, scenes_split

PHOTO_SUFFIX = "_leftImg8bit.png"
LABEL_SUFFIX = "_gtFine_labelIds.png"
TASK_SPLIT = {"train": "train", "val": "test"}  # Cityscapes folder → task split (val is the papers' test set)


def _frame_pairs(root: Path, split: str, max_images: int | None) -> list[tuple[Path, Path]]:
    """Sorted (photo, labelIds) paths of one split; a photo without its label file is an error."""
    photo_dir, label_dir = root / "leftImg8bit" / split, root / "gtFine" / split
    for folder in (photo_dir, label_dir):
        if not folder.is_dir():
            raise HarnessError(
                f"cityscapes: missing folder {str(folder)!r} (expected leftImg8bit/<split> and gtFine/<split>)"
            )
    photos = sorted(photo_dir.glob(f"*/*{PHOTO_SUFFIX}"))
    if not photos:
        raise HarnessError(f"cityscapes: {str(photo_dir)!r} holds no <city>/*{PHOTO_SUFFIX} files")
    if max_images is not None:
        photos = photos[:max_images]
    pairs = []
    for photo in photos:
        label = label_dir / photo.parent.name / (photo.name[: -len(PHOTO_SUFFIX)] + LABEL_SUFFIX)
        if not label.is_file():
            raise HarnessError(f"cityscapes: photo {str(photo)!r} has no label file {str(label)!r}")
        pairs.append((photo, label))
    return pairs


def _read_frame(photo_path: Path, label_path: Path, image_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One frame as uint8 ``(S, S, 3)`` photo, uint8 ``(S, S)`` trainIds and uint8 ``(H, W)`` full-size trainIds."""
    photo = read_image(photo_path, mode="RGB")
    label_ids = read_image(label_path)
    if label_ids.ndim != 2:
        raise HarnessError(f"cityscapes: {str(label_path)!r} is not a single-channel labelIds image")
    if label_ids.shape != photo.shape[:2]:
        raise HarnessError(
            f"cityscapes: {str(label_path)!r} is {label_ids.shape[1]}x{label_ids.shape[0]} but its photo "
            f"{photo_path.name!r} is {photo.shape[1]}x{photo.shape[0]} (expected equal sizes)"
        )
    train_ids = label_ids_to_train_ids(label_ids, str(label_path))
    photo = resize_array(photo, image_size, Image.Resampling.BILINEAR)
    return photo, resize_array(train_ids, image_size, Image.Resampling.NEAREST), train_ids


def _stack_full_res(frames: list[tuple[np.ndarray, ...]], pairs: list[tuple[Path, Path]]) -> torch.Tensor:
    """The full-size trainIds of a split as one uint8 ``(N, H, W)`` tensor; frames of another size are an error."""
    shape = frames[0][2].shape
    for frame, (_, label) in zip(frames, pairs, strict=True):
        if frame[2].shape != shape:
            raise HarnessError(f"cityscapes: {str(label)!r} is {frame[2].shape[1]}x{frame[2].shape[0]}, the first "
                               f"label map of the split is {shape[1]}x{shape[0]} (expected one size per split)")
    return torch.from_numpy(np.stack([f[2] for f in frames]))


def _load_split(root: Path, split: str, image_size: int, max_images: int | None) -> dict[str, DomainData]:
    pairs = _frame_pairs(root, split, max_images)
    frames = [_read_frame(p, q, image_size) for p, q in pairs]
    photos = np.stack([f[0] for f in frames])
    seg = np.stack([f[1] for f in frames])
    full_res = _stack_full_res(frames, pairs) if TASK_SPLIT[split] == "test" else None
    labels = torch.from_numpy(train_ids_to_color(seg)).permute(0, 3, 1, 2).contiguous()
    return scenes_split(labels, torch.from_numpy(photos).permute(0, 3, 1, 2).contiguous(), torch.from_numpy(seg),
                        full_res)


def load_cityscapes(root: str | Path, *, image_size: int, splits: tuple[str, ...] = ("train", "val"),
                    max_images: int | None = None) -> Task:
    """Loads Cityscapes as a paired labels ↔ photo task with the same domains and meta as ``scenes``.

    Args:
        root: Dataset folder holding ``leftImg8bit/`` and ``gtFine/``.
        image_size: Side length S of the resized frames.
        splits: Cityscapes splits to read: ``"train"`` (task split train) and/or ``"val"`` (task split test).
        max_images: Read at most this many frames per split (sorted by path), or all when None.

    Returns:
        Task ``"cityscapes"``: domains ``("labels", "photo")``, int64 ``"segmentation"`` trainIds (test also
        uint8 full-size ``FULL_RES_SEGMENTATION``), disjoint unpaired halves of train when train is loaded.

    Raises:
        HarnessError: Missing folder, a photo without its label file, photo/label size mismatch, unknown label
            ids, a corrupt image; each names the file.
    """
    root = Path(root)
    if image_size < 8:
        raise HarnessError(f"cityscapes: image_size={image_size} is too small (expected at least 8)")
    unknown = [s for s in splits if s not in TASK_SPLIT]
    if unknown or not splits:
        raise HarnessError(f"cityscapes: splits {unknown or list(splits)} not supported (expected train and/or val)")
    if max_images is not None and max_images < 1:
        raise HarnessError(f"cityscapes: max_images={max_images} must be at least 1")

    loaded = {TASK_SPLIT[s]: _load_split(root, s, image_size, max_images) for s in splits}
    meta = scenes_meta(TRAIN_IDS, "the 19 Cityscapes trainIds (official)") | {
        "source": str(root), "test_split": "Cityscapes val (as in Pix2Pix/CycleGAN)"}
    halves = unpaired_halves(loaded["train"], ("labels", "photo")) if "train" in loaded else None
    return Task(name="cityscapes", domains=("labels", "photo"), paired=True, label_kinds=("segmentation",),
                image_size=image_size, splits=loaded, meta=meta, unpaired_train=halves)
