"""Loaders for the two folder layouts of the pix2pix / CycleGAN repositories, and the unpaired-halves split.

- Aligned (pix2pix ``datasets/<name>/{train,val,test}/*.jpg``): each file is the A image and the B image side by
  side, A on the left (``combine_A_and_B.py``). Facades, maps and cityscapes ship this way.
- Unpaired (CycleGAN ``datasets/<name>/{trainA,trainB,testA,testB}``): two independent image sets per split.

Images are resized to ``image_size`` x ``image_size`` with bilinear filtering (PIL, antialiased when shrinking),
kept as uint8 in the task and handed out as float32 in [0, 1].
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from harness.core.errors import HarnessError
from harness.core.images import list_image_files, read_image
from harness.core.task import DomainData, Task, unpaired_halves


def resize_array(array: np.ndarray, size: int, resample: Image.Resampling) -> np.ndarray:
    """Resizes a uint8 ``(H, W)`` or ``(H, W, 3)`` array to ``(size, size[, 3])`` with PIL."""
    if array.shape[0] == size and array.shape[1] == size:
        return array
    return np.asarray(Image.fromarray(array).resize((size, size), resample=resample))


def _to_chw(arrays: list[np.ndarray]) -> torch.Tensor:
    """Stacks ``(H, W, 3)`` uint8 arrays into a uint8 ``(N, 3, H, W)`` tensor."""
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def _check_size(image_size: int) -> None:
    if not isinstance(image_size, int) or image_size < 8:
        raise HarnessError(f"image_size={image_size!r}: expected an integer of at least 8 pixels")


def _read_aligned(folder: Path, image_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Reads one aligned split folder; returns uint8 ``(N, 3, S, S)`` A and B stacks."""
    left, right = [], []
    for path in list_image_files(folder, option=f"aligned dataset split {folder.name!r}"):
        image = read_image(path, mode="RGB")
        width = image.shape[1]
        if width % 2:
            raise HarnessError(
                f"{str(path)!r}: width {width} is odd; an aligned pix2pix image is A and B of equal width side by "
                "side (A|B), so its width must be even"
            )
        left.append(resize_array(image[:, : width // 2], image_size, Image.Resampling.BILINEAR))
        right.append(resize_array(image[:, width // 2 :], image_size, Image.Resampling.BILINEAR))
    return _to_chw(left), _to_chw(right)


def load_aligned_folder(root: str | Path, *, name: str, image_size: int, domains: tuple[str, str] = ("A", "B")) -> Task:
    """Loads a pix2pix aligned dataset (``root/train`` required, ``root/val`` and ``root/test`` optional).

    Args:
        root: Dataset folder.
        name: Task name (``"facades"``, ``"maps"``).
        image_size: Side length S the halves are resized to.
        domains: Names of the left (A) and right (B) halves.

    Returns:
        Paired task with splits train and test (``test`` falls back to ``val`` and vice versa when one is
        missing, as the maps and cityscapes releases have only val), and disjoint unpaired halves of train.

    Raises:
        HarnessError: Missing root/train, an empty split folder, a corrupt image, an image of odd width.
    """
    _check_size(image_size)
    root = Path(root)
    if not (root / "train").is_dir():
        raise HarnessError(f"aligned dataset {str(root)!r}: expected a folder {str(root / 'train')!r} of A|B images")
    splits: dict[str, dict[str, DomainData]] = {}
    for split in ("train", "val", "test"):
        if (root / split).is_dir():
            a, b = _read_aligned(root / split, image_size)
            splits[split] = {domains[0]: DomainData(a), domains[1]: DomainData(b)}
    if "test" not in splits and "val" in splits:
        splits["test"] = splits["val"]
    if "val" not in splits and "test" in splits:
        splits["val"] = splits["test"]
    if "test" not in splits:
        raise HarnessError(f"aligned dataset {str(root)!r}: expected a test/ or val/ folder next to train/")
    return Task(
        name=name,
        domains=tuple(domains),
        paired=True,
        label_kinds=(),
        image_size=image_size,
        splits=splits,
        meta={"source": str(root), "format": "pix2pix aligned A|B"},
        unpaired_train=unpaired_halves(splits["train"], tuple(domains)),
    )


def _read_folder(folder: Path, image_size: int) -> torch.Tensor:
    files = list_image_files(folder, option=f"unpaired dataset folder {folder.name!r}")
    return _to_chw([resize_array(read_image(p, mode="RGB"), image_size, Image.Resampling.BILINEAR) for p in files])


def load_unpaired_folders(root: str | Path, *, name: str, image_size: int) -> Task:
    """Loads a CycleGAN dataset: ``root/trainA``, ``trainB``, ``testA``, ``testB`` (``valA``/``valB`` optional).

    Args:
        root: Dataset folder.
        name: Task name (``"horse2zebra"``).
        image_size: Side length S images are resized to.

    Returns:
        Unpaired task with domains ``("A", "B")`` and splits train, val, test (val = test when absent).

    Raises:
        HarnessError: A missing or empty folder (named), a corrupt image.
    """
    _check_size(image_size)
    root = Path(root)
    if not root.is_dir():
        raise HarnessError(f"unpaired dataset {str(root)!r} does not exist or is not a directory")
    splits: dict[str, dict[str, DomainData]] = {}
    for split in ("train", "test", "val"):
        if split == "val" and not (root / "valA").is_dir():
            splits["val"] = splits["test"]
            continue
        splits[split] = {d: DomainData(_read_folder(root / f"{split}{d}", image_size)) for d in ("A", "B")}
    return Task(
        name=name,
        domains=("A", "B"),
        paired=False,
        label_kinds=(),
        image_size=image_size,
        splits=splits,
        meta={"source": str(root), "format": "CycleGAN trainA/trainB"},
    )
