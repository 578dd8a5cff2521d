"""Image tensors at module boundaries, and image folders on disk.

The contract: images crossing a module boundary are float32 ``(N, C, H, W)`` in ``[0, 1]`` with C = 1 or 3.
Only I/O (this module) and the torch-fidelity wrapper convert to uint8.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from harness.core.errors import HarnessError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")


def check_images(images: torch.Tensor, name: str, channels: int | None = None) -> torch.Tensor:
    """Checks the boundary contract and returns ``images`` unchanged.

    Args:
        images: Tensor expected to be float32 ``(N, C, H, W)`` in ``[0, 1]``.
        name: What the tensor is, for the error message.
        channels: Required channel count, or None for 1 or 3.

    Raises:
        HarnessError: Naming ``name`` and what was expected.
    """
    if not isinstance(images, torch.Tensor):
        raise HarnessError(f"{name}: expected a torch.Tensor of images, got {type(images).__name__}")
    if images.dtype != torch.float32:
        raise HarnessError(f"{name}: expected float32 images in [0, 1], got dtype {images.dtype}")
    if images.dim() != 4:
        raise HarnessError(f"{name}: expected shape (N, C, H, W), got {tuple(images.shape)}")
    allowed = (channels,) if channels is not None else (1, 3)
    if images.shape[1] not in allowed:
        raise HarnessError(f"{name}: expected {' or '.join(map(str, allowed))} channels, got {images.shape[1]}")
    if images.numel() and (not torch.isfinite(images).all() or images.min() < 0 or images.max() > 1):
        lo, hi = float(images.min()), float(images.max())
        raise HarnessError(f"{name}: expected values in [0, 1], got range [{lo:.4g}, {hi:.4g}]")
    return images


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Converts float ``(N, C, H, W)`` in [0, 1] to uint8 in [0, 255] (round half to even, like PIL)."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def list_image_files(folder: str | Path, option: str = "folder") -> list[Path]:
    """Sorted image files in ``folder``; a missing or empty folder is a ``HarnessError`` naming ``option``."""
    path = Path(folder)
    if not path.is_dir():
        raise HarnessError(f"{option}: image folder {str(path)!r} does not exist or is not a directory")
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise HarnessError(f"{option}: image folder {str(path)!r} holds no images "
                           f"(expected {', '.join(IMAGE_SUFFIXES)})")
    return files


def read_image(path: Path, mode: str | None = None) -> np.ndarray:
    """Reads one image as a uint8 array ``(H, W)`` or ``(H, W, 3)``; a corrupt file is a ``HarnessError``.

    Args:
        path: Image file.
        mode: PIL mode to convert to (``"RGB"``, ``"L"``), or None to keep grayscale/RGB as stored.
    """
    try:
        with Image.open(path) as img:
            img.load()
            if mode is not None:
                img = img.convert(mode)
            elif img.mode not in ("L", "RGB"):
                img = img.convert("RGB")
            return np.asarray(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise HarnessError(f"cannot read image {str(path)!r}: {exc} (expected a valid PNG/JPEG/BMP/TIFF file)") from exc


def load_image_folder(folder: str | Path, option: str = "folder", channels: int | None = None) -> torch.Tensor:
    """Loads every image in a folder as float32 ``(N, C, H, W)`` in [0, 1].

    Args:
        folder: Directory of same-sized images.
        option: The option or argument that named the folder, for error messages.
        channels: Force 1 (grayscale) or 3 (RGB); None infers RGB unless every image is grayscale.

    Raises:
        HarnessError: Missing/empty folder, a corrupt file, or images of different sizes.
    """
    files = list_image_files(folder, option)
    mode = {1: "L", 3: "RGB", None: None}[channels]
    arrays = [read_image(p, mode) for p in files]
    if channels is None and any(a.ndim == 3 for a in arrays):
        arrays = [np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a for a in arrays]
    shape = arrays[0].shape
    for p, a in zip(files, arrays, strict=True):
        if a.shape != shape:
            raise HarnessError(f"{option}: image {str(p)!r} has shape {a.shape}, expected {shape} like {files[0].name}")
    stack = np.stack(arrays)
    if stack.ndim == 3:
        stack = stack[..., None]
    return torch.from_numpy(stack).permute(0, 3, 1, 2).float().div(255.0).contiguous()


def save_image(image: torch.Tensor, path: str | Path) -> None:
    """Writes one float ``(C, H, W)`` image in [0, 1] as PNG (not atomic: callers write into a temp dir)."""
    array = to_uint8(image).permute(1, 2, 0).cpu().numpy()
    Image.fromarray(array[..., 0] if array.shape[2] == 1 else array).save(path, format="PNG")


def make_grid(rows: list[torch.Tensor], pad: int = 2) -> torch.Tensor:
    """Lays out rows of images into one RGB image.

    Args:
        rows: Each a float ``(N, C, H, W)`` in [0, 1]; grayscale rows are repeated to RGB, all rows resized to the
            first row's height and width by nearest neighbour.
        pad: White pixels between and around the images.

    Returns:
        Float ``(3, H_total, W_total)`` in [0, 1] with white padding.
    """
    height, width = rows[0].shape[2], rows[0].shape[3]
    cols = max(r.shape[0] for r in rows)
    grid = torch.ones(3, len(rows) * (height + pad) + pad, cols * (width + pad) + pad)
    for i, row in enumerate(rows):
        row = row.detach().float().cpu()
        if row.shape[1] == 1:
            row = row.repeat(1, 3, 1, 1)
        if row.shape[2:] != (height, width):
            row = torch.nn.functional.interpolate(row, size=(height, width), mode="nearest")
        for j in range(row.shape[0]):
            top, left = pad + i * (height + pad), pad + j * (width + pad)
            grid[:, top : top + height, left : left + width] = row[j].clamp(0, 1)
    return grid
