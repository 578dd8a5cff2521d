"""HR photos (and optional LR counterparts) → a super-resolution ``Task``; shared by ``sr`` and ``sr_folders``.

Layout of an SR task (domains ``("LR", "HR")``, paired):

- ``train``: HR *tiles* of side ``tile`` cut from the training photos at positions aligned to the scale, and the LR
  tiles at the same places (side ``tile / scale``). Training batches are random crops inside these tiles (the
  model's batch sampler), as BasicSR's sub-image extraction does for DIV2K; label ``"source"`` (int64) is the
  photo each tile comes from.
- ``test``: whole images (the benchmarks' protocol) or the crops of a grid, zero-padded to the largest one so they
  stack; label
  ``"size"`` (int64 ``(N, 2)``: height, width) holds each image's true size, so a protocol crops the padding off.

HR photos are first cropped to multiples of the scale ("modcrop", as the SR benchmarks do) so that LR and HR align
exactly. LR images not given are made with MATLAB's bicubic ``imresize`` (``harness.data.imresize``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task
from harness.data.imresize import imresize

DOMAINS = ("LR", "HR")


@dataclass(frozen=True)
class Photo:
    """One HR photo and, optionally, its given LR counterpart.

    Attributes:
        name: Image name (file stem or scikit-image function name).
        hr: uint8 ``(C, H, W)``.
        lr: uint8 ``(C, H/scale, W/scale)`` from the dataset, or None to make it with MATLAB ``imresize``.
    """

    name: str
    hr: torch.Tensor
    lr: torch.Tensor | None = None


def modcrop(image: torch.Tensor, scale: int) -> torch.Tensor:
    """Crops ``(C, H, W)`` to the largest multiple of ``scale`` in each side (top-left kept, as MATLAB's modcrop)."""
    height, width = image.shape[-2] - image.shape[-2] % scale, image.shape[-1] - image.shape[-1] % scale
    return image[..., :height, :width]


def grid_crops(photo: Photo, side: int, scale: int) -> list[Photo]:
    """Every non-overlapping ``side`` px crop of ``photo`` (modcropped first), row by row; ``name@top,left``.

    A photo smaller than ``side`` in a dimension gives one crop of its whole extent there.
    """
    image = modcrop(photo.hr, scale)
    height, width = image.shape[-2:]
    rows = range(0, max(height - side, 0) + 1, side) if height >= side else [0]
    cols = range(0, max(width - side, 0) + 1, side) if width >= side else [0]
    return [Photo(f"{photo.name}@{top},{left}", image[..., top : top + side, left : left + side])
            for top in rows for left in cols]


def pair(photo: Photo, scale: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``(LR, HR)`` uint8 of one photo: HR modcropped, LR given (checked) or made by MATLAB bicubic ``imresize``.

    Raises:
        HarnessError: A given LR image whose size times ``scale`` is not the HR size (a mismatched or non-integer
            scale), naming the image.
    """
    hr = modcrop(photo.hr, scale)
    if photo.lr is None:
        return imresize(hr[None], 1 / scale)[0], hr
    lr_h, lr_w = photo.lr.shape[-2:]
    if (lr_h * scale, lr_w * scale) != tuple(hr.shape[-2:]):
        ratio = f"{photo.hr.shape[-1] / lr_w:.3g} x {photo.hr.shape[-2] / lr_h:.3g}"
        raise HarnessError(f"SR image {photo.name!r}: LR {lr_w}x{lr_h} and HR {photo.hr.shape[-1]}x"
                           f"{photo.hr.shape[-2]} (width x height) are {ratio} apart, not the scale x{scale} "
                           f"(HR cropped to multiples of {scale}: {hr.shape[-1]}x{hr.shape[-2]})")
    return photo.lr, hr


def _positions(length: int, tile: int, scale: int) -> list[int]:
    """Tile starts covering ``length``: a stride of ``tile`` plus one last tile flush with the end, scale-aligned."""
    starts = list(range(0, length - tile + 1, tile))
    last = (length - tile) // scale * scale
    return starts + ([last] if starts and starts[-1] != last else [])


def tile_pairs(photos: Sequence[Photo], *, tile: int, scale: int) -> tuple[DomainData, DomainData]:
    """Aligned LR/HR training tiles of every photo (module docstring); label ``"source"`` = photo index.

    Raises:
        HarnessError: ``tile`` not a multiple of ``scale``, or no photo as large as one tile.
    """
    if tile % scale:
        raise HarnessError(f"SR training tile {tile} px is not a multiple of the scale {scale}")
    lr_tiles, hr_tiles, sources = [], [], []
    for index, photo in enumerate(photos):
        lr, hr = pair(photo, scale)
        for top in _positions(hr.shape[-2], tile, scale):
            for left in _positions(hr.shape[-1], tile, scale):
                hr_tiles.append(hr[:, top : top + tile, left : left + tile])
                lr_tiles.append(lr[:, top // scale : (top + tile) // scale, left // scale : (left + tile) // scale])
                sources.append(index)
    if not hr_tiles:
        raise HarnessError(f"SR training: no photo is at least {tile}x{tile} px (the training tile); lower the tile "
                           f"or add larger photos")
    source = {"source": torch.tensor(sources, dtype=torch.int64)}
    lr_data, hr_data = torch.stack(lr_tiles).contiguous(), torch.stack(hr_tiles).contiguous()
    return DomainData(lr_data, source), DomainData(hr_data, source)


def padded_stack(images: Sequence[torch.Tensor]) -> DomainData:
    """Whole images of different sizes, zero-padded bottom-right to the largest; label ``"size"`` (height, width)."""
    channels = images[0].shape[0]
    height, width = max(i.shape[-2] for i in images), max(i.shape[-1] for i in images)
    out = torch.zeros(len(images), channels, height, width, dtype=torch.uint8)
    for index, image in enumerate(images):
        out[index, :, : image.shape[-2], : image.shape[-1]] = image
    sizes = torch.tensor([list(i.shape[-2:]) for i in images], dtype=torch.int64)
    return DomainData(out, {"size": sizes})


def unpad(data: DomainData, index: int) -> torch.Tensor:
    """Image ``index`` of a ``padded_stack`` as float32 ``(1, C, h, w)`` in [0, 1], padding removed."""
    height, width = (int(v) for v in data.labels["size"][index])
    return data.get(slice(index, index + 1))[..., :height, :width]


def build_sr_task(name: str, train: Sequence[Photo], test: Sequence[Photo], *, scale: int, tile: int,
                  image_size: int, meta: dict[str, object]) -> Task:
    """The SR task (module docstring) from training and test photos.

    Args:
        name: Task name.
        train: Training photos (tiled).
        test: Test photos (kept whole).
        scale: Upscaling factor.
        tile: HR training tile side (a multiple of ``scale``, at least ``image_size``).
        image_size: HR training crop side the models see (``Task.image_size``).
        meta: Extra constants (cache key, which photos); ``scale``, names and ``tile`` are added.
    """
    if image_size % scale or image_size > tile:
        raise HarnessError(f"task {name}: the HR training crop ({image_size} px) must be a multiple of the scale "
                           f"({scale}) and at most the training tile ({tile} px)")
    channels = {p.hr.shape[0] for p in [*train, *test]}
    if len(channels) != 1:
        raise HarnessError(f"task {name}: photos mix grey and colour ({sorted(channels)} channels); use one kind")
    train_lr, train_hr = tile_pairs(train, tile=tile, scale=scale)
    test_pairs = [pair(photo, scale) for photo in test]
    splits = {"train": {"LR": train_lr, "HR": train_hr},
              "test": {"LR": padded_stack([lr for lr, _ in test_pairs]),
                       "HR": padded_stack([hr for _, hr in test_pairs])}}
    meta = {**meta, "scale": scale, "tile": tile, "train_names": [p.name for p in train],
            "test_names": [p.name for p in test]}
    return Task(name=name, domains=DOMAINS, paired=True, label_kinds=("size",), image_size=image_size,
                splits=splits, meta=meta)
