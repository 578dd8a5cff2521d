"""Folders of images a user brings, validated up front and read lazily, one image at a time.

``open_image_folder`` reads every header (no pixels) and refuses, before anything is decoded: a missing or empty
folder, symlink loops, files that are not images, images above ``MAX_IMAGE_PIXELS``, and images of different
sizes (naming the files and sizes). It logs one line for each rule that changed something (alpha dropped, grey
repeated to RGB, 16-bit read at full precision, entries skipped). Pixels are decoded only when a metric asks for
them: ``read`` (one image), ``batches`` (float32 batches built image by image, so a folder never sits in memory)
or ``load`` (the whole folder, for metrics that need it; callers check its size first).

``match_by_name`` pairs two folders by file name without suffix (stem), for metrics with a per-image target.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from harness.core.errors import HarnessError
from harness.core.image_files import (
    MAX_IMAGE_PIXELS,
    ImageHeader,
    array_to_float,
    array_to_uint8,
    decode_image,
    read_header,
    scan_image_dir,
)

log = logging.getLogger(__name__)
SHOWN = 5  # file names quoted in a message before "…"


def _few(names: list[str]) -> str:
    more = f", … ({len(names)} in all)" if len(names) > SHOWN else ""
    return ", ".join(names[:SHOWN]) + more


@dataclass(frozen=True)
class ImageFolder:
    """A validated folder of same-sized images (unless opened with ``one_size=False``), decoded on demand.

    Attributes:
        option: The option that named the folder (``"--pred"``), for messages.
        root: The folder.
        headers: One per image file, sorted by file name.
        channels: 1 when every image is grey, else 3 (grey images are repeated to RGB).
        on_read: Called with 1 after each image is decoded (a progress bar's ``update``), or None.
    """

    option: str
    root: Path
    headers: tuple[ImageHeader, ...]
    channels: int
    on_read: Callable[[int], object] | None = field(default=None, compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.headers)

    @property
    def names(self) -> tuple[str, ...]:
        """File names without suffix, in order."""
        return tuple(h.path.stem for h in self.headers)

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` shared by every image (the first image's when opened with ``one_size=False``)."""
        return self.headers[0].height, self.headers[0].width

    @property
    def values_per_image(self) -> int:
        """``C · H · W``."""
        return self.channels * self.size[0] * self.size[1]

    def read(self, index: int) -> np.ndarray:
        """Image ``index`` as ``(H, W, channels)`` uint8 or uint16 (16-bit files), alpha dropped."""
        array = decode_image(self.headers[index], self.option)
        if array.shape[2] < self.channels:
            array = np.repeat(array, self.channels, axis=2)
        if self.on_read is not None:
            self.on_read(1)
        return array

    def read_uint8(self, index: int) -> torch.Tensor:
        """Image ``index`` as uint8 ``(channels, H, W)``; 16-bit values rounded to 8 bits."""
        return torch.from_numpy(array_to_uint8(self.read(index))).permute(2, 0, 1)

    def batches(self, batch_size: int) -> Iterator[torch.Tensor]:
        """Float32 ``(B, channels, H, W)`` batches in [0, 1], in file order; one batch in memory at a time."""
        if batch_size < 1:
            raise HarnessError(f"{self.option}: batch size must be a positive integer, got {batch_size}")
        for start in range(0, len(self), batch_size):
            indices = range(start, min(start + batch_size, len(self)))
            batch = torch.empty(len(indices), self.channels, *self.size)
            for row, index in enumerate(indices):
                batch[row] = array_to_float(self.read(index))
            yield batch

    def load(self) -> torch.Tensor:
        """Every image as float32 ``(N, channels, H, W)`` in [0, 1] (check ``values_per_image`` first)."""
        out = torch.empty(len(self), self.channels, *self.size)
        for index in range(len(self)):
            out[index] = array_to_float(self.read(index))
        return out


def _check_one_size(headers: list[ImageHeader], option: str, root: Path) -> None:
    sizes = Counter((h.width, h.height) for h in headers)
    if len(sizes) == 1:
        return
    parts = []
    for (width, height), count in sizes.most_common():
        names = [h.path.name for h in headers if (h.width, h.height) == (width, height)]
        parts.append(f"{width}x{height}: {_few(names)}" + (f" ({count} files)" if count > SHOWN else ""))
    raise HarnessError(f"{option}: images in {str(root)!r} differ in size (width x height) — "
                       f"{'; '.join(parts)}; expected one size for the whole folder")


def log_rules(option: str, headers: list[ImageHeader], skipped: list[str], channels: int, *,
              eight_bit: bool = False) -> None:
    """One log line per reading rule that changed something in this folder.

    Args:
        option: The option that named the folder.
        headers: Its images' headers.
        skipped: Entries that are not image files.
        channels: The channels every image is read with (grey repeated to 3 when 3).
        eight_bit: Whether the reader keeps 8 bits (a task's uint8 images): 16-bit files are then said to be
            rounded, not read at full precision.
    """
    def names(keep: Callable[[ImageHeader], bool]) -> list[str]:
        return [h.path.name for h in headers if keep(h)]

    if skipped:
        log.info("%s: skipped %d entries that are not image files: %s", option, len(skipped), _few(skipped))
    if alpha := names(lambda h: h.alpha):
        log.warning("%s: %d image(s) carry alpha or a transparency key (%s); alpha is dropped: colour channels are "
                    "scored as stored, not composited over a background (as PIL's convert('RGB') and "
                    "torch-fidelity do)", option, len(alpha), _few(alpha))
    if channels == 3 and (grey := names(lambda h: h.channels == 1)):
        log.info("%s: %d of %d images are grey (%s); repeated to 3 channels like the colour images", option,
                 len(grey), len(headers), _few(grey))
    if palette := names(lambda h: h.mode in ("P", "PA")):
        log.info("%s: %d palette image(s) converted to RGB through their palette (%s)", option, len(palette),
                 _few(palette))
    if (deep := names(lambda h: h.bits == 16)) and eight_bit:
        log.warning("%s: %d 16-bit image(s) rounded to 8 bits (the task holds 8-bit images): %s", option, len(deep),
                    _few(deep))
    elif deep:
        log.info("%s: %d 16-bit image(s) read at full precision (0..65535 -> [0, 1]): %s", option, len(deep),
                 _few(deep))


def open_image_folder(folder: str | Path, option: str = "folder", *, on_read: Callable[[int], object] | None = None,
                      max_pixels: int = MAX_IMAGE_PIXELS, one_size: bool = True) -> ImageFolder:
    """Validates a folder from its files' headers (nothing decoded) and returns its lazy reader.

    Args:
        folder: Directory of images (``IMAGE_SUFFIXES``; other entries are skipped and logged).
        option: The option or argument that named the folder, for error messages.
        on_read: Progress callback, called with 1 after each decoded image.
        max_pixels: Largest ``width · height`` accepted per image.
        one_size: Refuse images of different sizes (False for metrics that read images one by one, such as
            ``psnr_ssim`` on Set14-like folders).

    Raises:
        HarnessError: Missing/empty folder, symlink loop, a file that is not a readable image, an image above
            ``max_pixels``, a refused pixel layout, or images of different sizes; the message names the files.
    """
    files, skipped = scan_image_dir(folder, option)
    headers = [read_header(path, option, max_pixels) for path in files]
    if one_size:
        _check_one_size(headers, option, Path(folder))
    channels = 3 if any(h.channels == 3 for h in headers) else 1
    log_rules(option, headers, skipped, channels)
    return ImageFolder(option=option, root=Path(folder), headers=tuple(headers), channels=channels, on_read=on_read)


def load_image_folder(folder: str | Path, option: str = "folder") -> torch.Tensor:
    """Every image of a folder as float32 ``(N, C, H, W)`` in [0, 1] (small folders; see ``open_image_folder``)."""
    return open_image_folder(folder, option).load()


def with_channels(folder: ImageFolder, channels: int, because: str = "") -> ImageFolder:
    """The same folder read with ``channels`` (grey repeated to 3, logged); reducing colour to grey is refused.

    Args:
        folder: The folder.
        channels: 1 or 3.
        because: Why, for the log line (``"to match --pred's colour images"``).
    """
    if channels < folder.channels:
        raise HarnessError(f"{folder.option}: holds colour images; cannot read them as {channels} channel(s)")
    if channels > folder.channels:
        log.warning("%s: all %d images are grey; each is repeated to %d channels%s", folder.option, len(folder),
                    channels, f" {because}" if because else "")
    return replace(folder, channels=channels)


def match_by_name(pred: ImageFolder, target: ImageFolder, *, same_size: bool = True
                  ) -> tuple[ImageFolder, ImageFolder]:
    """``(pred, target)`` with ``target`` reordered so that image i has the same file name (stem) as ``pred``'s.

    Both folders must hold the same set of names, once each, and one image size; both are read with the larger
    channel count of the two (grey repeated to RGB).

    Raises:
        HarnessError: Duplicate stems (``a.png`` and ``a.jpg``), names present on one side only (a few listed),
            or different image sizes (unless ``same_size`` is False: then the metric checks each pair).
    """
    for folder in (pred, target):
        dupes = sorted(name for name, count in Counter(folder.names).items() if count > 1)
        if dupes:
            raise HarnessError(f"{folder.option}: several files share a name without suffix ({_few(dupes)}); "
                               "images are paired by name, so each name must occur once")
    index = {name: i for i, name in enumerate(target.names)}
    only_pred = [n for n in pred.names if n not in index]
    only_target = sorted(set(target.names) - set(pred.names))
    if only_pred or only_target:
        raise HarnessError(
            f"{pred.option} and {target.option} are paired by file name (without suffix), but "
            f"{len(only_pred)} {pred.option} name(s) have no {target.option} file"
            f"{': ' + _few(only_pred) if only_pred else ''} and {len(only_target)} {target.option} name(s) have "
            f"no {pred.option} file{': ' + _few(only_target) if only_target else ''}")
    if same_size and pred.size != target.size:
        (ph, pw), (th, tw) = pred.size, target.size
        raise HarnessError(f"{pred.option} images are {pw}x{ph} but {target.option} images are {tw}x{th}; "
                           "paired images must have the same size")
    channels = max(pred.channels, target.channels)
    ordered = tuple(target.headers[index[name]] for name in pred.names)
    pred = with_channels(pred, channels, f"to match the colour images of {target.option}")
    target = with_channels(target, channels, f"to match the colour images of {pred.option}")
    return pred, replace(target, headers=ordered)
