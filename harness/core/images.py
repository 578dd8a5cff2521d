"""Image tensors at module boundaries, the one-file reader, and sample grids.

The contract: images crossing a module boundary are float32 ``(N, C, H, W)`` in ``[0, 1]`` with C = 1 or 3.
Only I/O (``image_files``, ``image_folder``, ``read_image`` here) and the torch-fidelity wrapper convert to and
from integers. How files are read (bit depth, alpha, palette, size limit) is written once, in ``image_files``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from harness.core.errors import HarnessError
from harness.core.image_files import array_to_uint8, decode_image, read_header, scan_image_dir


def check_images(images: torch.Tensor, name: str, channels: int | None = None) -> torch.Tensor:
    """Checks the boundary contract and returns ``images`` unchanged.

    The value check reads the tensor back to the host; a train step (which must not synchronise with a GPU) checks
    only the layout (``check_image_layout``) and leaves the values to the training loop, which checks every batch
    on the host before copying it to the device.

    Args:
        images: Tensor expected to be float32 ``(N, C, H, W)`` in ``[0, 1]``.
        name: What the tensor is, for the error message.
        channels: Required channel count, or None for 1 or 3.

    Raises:
        HarnessError: Naming ``name`` and what was expected.
    """
    check_image_layout(images, name, channels)
    if images.numel():
        lo, hi = (float(v) for v in torch.aminmax(images))  # one pass; NaN propagates and fails both comparisons
        if not (lo >= 0 and hi <= 1):
            raise HarnessError(f"{name}: expected values in [0, 1], got range [{lo:.4g}, {hi:.4g}]")
    return images


def check_image_layout(images: torch.Tensor, name: str, channels: int | None = None) -> torch.Tensor:
    """``check_images`` without the value range: type, dtype, shape and channels, read from metadata only.

    Reads nothing back from the device, so it costs a train step no host synchronisation.

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
    return images


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """Converts float ``(N, C, H, W)`` in [0, 1] to uint8 in [0, 255] (round half to even, like PIL)."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8)


def list_image_files(folder: str | Path, option: str = "folder") -> list[Path]:
    """Sorted image files in ``folder`` (see ``image_files.scan_image_dir``); errors name ``option``."""
    return scan_image_dir(folder, option)[0]


def _luma(array: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma with PIL's fixed-point weights, ``(H, W, 3)`` → ``(H, W, 1)``, same dtype."""
    weights = np.array([19595, 38470, 7471], dtype=np.uint64)
    return ((array.astype(np.uint64) @ weights + 0x8000) >> 16).astype(array.dtype)[..., None]


def read_image(path: Path, mode: str | None = None) -> np.ndarray:
    """Reads one image as uint8 ``(H, W)`` or ``(H, W, 3)`` under ``image_files``' rules (errors: ``HarnessError``).

    Args:
        path: Image file.
        mode: ``"RGB"`` (grey repeated), ``"L"`` (colour to PIL's luma) or None to keep grey/colour as stored.
            16-bit files are rounded to 8 bits (``array_to_uint8``).
    """
    array = decode_image(read_header(Path(path)))
    if mode == "RGB" and array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    elif mode == "L" and array.shape[2] == 3:
        array = _luma(array)
    array = array_to_uint8(array)
    return array[..., 0] if array.shape[2] == 1 else array


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
