"""The official training-data pipeline of pix2pix and CycleGAN, vectorised on batches with an explicit generator.

``junyanz/pytorch-CycleGAN-and-pix2pix`` ``data/base_dataset.py`` (``get_params`` / ``get_transform`` with
``--preprocess resize_and_crop``, ``no_flip`` off): resize the image to ``load_size``² (bicubic), crop a random
``crop_size``² window, flip it left-right with probability 1/2. ``data/aligned_dataset.py`` draws one crop and one
flip per pair and applies them to A and B alike; ``data/unaligned_dataset.py`` transforms A and B independently.
The Lua code does the same (``phillipi/pix2pix`` ``data/donkey_folder.lua``; ``junyanz/CycleGAN`` ``options.lua``
lines 10-11 and 21: ``loadSize=143``, ``fineSize=128``, ``flip=1``).

At other image sizes the resize keeps the papers' ratio 286/256 (= 143/128), rounded half up: 32 -> 36, 64 -> 72,
128 -> 143, 256 -> 286. Offsets and flips come from the caller's ``torch.Generator`` (no Python ``random``), one
draw per image, so a batch is reproducible from the generator state alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

LOAD_NUMERATOR, LOAD_DENOMINATOR = 286, 256  # official load_size / crop_size


def load_size(crop_size: int) -> int:
    """Side the image is resized to before a ``crop_size`` crop: ``crop_size * 286 / 256`` rounded half up."""
    return (crop_size * LOAD_NUMERATOR + LOAD_DENOMINATOR // 2) // LOAD_DENOMINATOR


def resize(images: torch.Tensor, size: int) -> torch.Tensor:
    """Bicubic resize of float ``(N, C, H, W)`` in [0, 1] to ``(N, C, size, size)``, clamped back to [0, 1].

    The official pipeline resizes with PIL bicubic; torch's bicubic kernel (a = -0.75) differs from PIL's
    (a = -0.5) by a fraction of a grey level. A no-op when the size already matches.
    """
    if images.shape[-2:] == (size, size):
        return images
    return F.interpolate(images, size=(size, size), mode="bicubic", align_corners=False).clamp_(0.0, 1.0)


def resize_and_crop(images: Sequence[torch.Tensor], crop_size: int, generator: torch.Generator,
                    flip: bool = True) -> list[torch.Tensor]:
    """The official random jitter, with the same crop and flip for index i of every tensor in ``images``.

    Args:
        images: Float ``(N, C_k, H, W)`` tensors in [0, 1] with the same N (A and B of aligned pairs); channel
            counts may differ.
        crop_size: Output side (the model's image size); each tensor is first resized to ``load_size(crop_size)``.
        generator: Source of the offsets (two ``randint`` draws of N) and the flips (one ``rand`` draw of N).
        flip: Whether to flip left-right with probability 1/2 (official ``no_flip`` off).

    Returns:
        Float ``(N, C_k, crop_size, crop_size)`` tensors in [0, 1], in the order of ``images``.
    """
    n = images[0].shape[0]
    big = load_size(crop_size)
    top = torch.randint(0, big - crop_size + 1, (n,), generator=generator)
    left = torch.randint(0, big - crop_size + 1, (n,), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5 if flip else torch.zeros(n, dtype=torch.bool)
    offsets = torch.arange(crop_size)
    rows = (top[:, None] + offsets)[:, None, :, None]  # (N, 1, crop, 1)
    cols = torch.where(flips[:, None], left[:, None] + crop_size - 1 - offsets, left[:, None] + offsets)
    cols = cols[:, None, None, :]  # (N, 1, 1, crop): a flip reads the crop's columns right to left
    out = []
    for tensor in images:
        resized = resize(tensor, big)
        batch = torch.arange(n)[:, None, None, None]
        channels = torch.arange(tensor.shape[1])[None, :, None, None]
        out.append(resized[batch, channels, rows, cols])
    return out
