"""Image files on disk: the reading rules, applied by ``read_header`` (no pixels) and then ``decode_image``.

The same rules hold for every file the harness reads (user folders, real datasets):

- **Size**: an image above ``MAX_IMAGE_PIXELS`` is refused from its header, before any pixel is decoded; PIL's
  decompression-bomb guard is turned from a warning into the same refusal.
- **Bit depth**: 8-bit channels are divided by 255; 16-bit PNG and TIFF (grey, grey+alpha, RGB, RGBA) are read at
  full precision and divided by 65535 (PIL alone keeps only the high byte of 16-bit colour, or saturates 16-bit
  grey in ``convert("RGB")``). 32-bit integer (``"I"``) and float (``"F"``) images are refused: their range is
  not defined.
- **Alpha** (RGBA, LA, PA, palette or grey/RGB with a transparency key): **dropped**. The colour channels are used
  as stored, not composited over a background — what PIL's ``convert("RGB")`` does, and so what torch-fidelity
  and clean-fid score. Folder readers log how many files carried alpha.
- **Palette** (``"P"``), CMYK, YCbCr, LAB, HSV: converted to RGB by PIL; bilevel (``"1"``) becomes grey.
- Grey and colour in one folder: grey is repeated to 3 channels (``image_folder.open_image_folder``).
"""

from __future__ import annotations

import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from harness.core.errors import HarnessError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp")
# 64 megapixels (8192 × 8192): 192 MB as uint8 RGB, 768 MB as float32; larger images are refused before decoding
MAX_IMAGE_PIXELS = 8192 * 8192
_GREY16_MODES = ("I;16", "I;16B", "I;16L", "I;16N")
_COLOUR_RAWMODES16 = ("RGB;16B", "RGB;16L", "RGB;16N", "RGBA;16B", "RGBA;16L", "RGBA;16N")
_EIGHT_BIT = {  # PIL mode → (mode to convert to, channels without alpha, has alpha)
    "1": ("L", 1, False), "L": ("L", 1, False), "LA": ("LA", 1, True), "La": ("LA", 1, True),
    "P": ("RGB", 3, False), "PA": ("RGBA", 3, True), "RGB": ("RGB", 3, False), "RGBX": ("RGB", 3, False),
    "RGBA": ("RGBA", 3, True), "RGBa": ("RGBA", 3, True), "CMYK": ("RGB", 3, False),
    "YCbCr": ("RGB", 3, False), "LAB": ("RGB", 3, False), "HSV": ("RGB", 3, False),
}
_READ_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError,
                EOFError, RuntimeError)  # what PIL's decoders raise on corrupt or truncated files


@dataclass(frozen=True)
class ImageHeader:
    """What a file's header says, read without decoding its pixels.

    Attributes:
        path: The file.
        width: Width in pixels.
        height: Height in pixels.
        mode: PIL mode as stored (``"L"``, ``"RGB"``, ``"P"``, ``"I;16"``, …).
        rawmode: PIL's raw layout of the first tile (``"RGB;16B"`` for 16-bit colour PNG), ``""`` if none.
        bits: 8 or 16 bits per channel.
        channels: 1 (grey) or 3 (colour), alpha not counted.
        alpha: Whether the file carries alpha or a transparency key (dropped when decoded).
    """

    path: Path
    width: int
    height: int
    mode: str
    rawmode: str
    bits: int
    channels: int
    alpha: bool


def array_to_uint8(array: np.ndarray) -> np.ndarray:
    """A decoded uint8 or uint16 array as uint8: 16-bit values become round(v · 255 / 65535) (no ties exist)."""
    if array.dtype == np.uint8:
        return array
    return ((array.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def array_to_float(array: np.ndarray) -> torch.Tensor:
    """A decoded ``(H, W, C)`` uint8/uint16 array as float32 ``(C, H, W)`` in [0, 1] (÷255 or ÷65535)."""
    scale = np.float32(65535.0 if array.dtype == np.uint16 else 255.0)
    return torch.from_numpy(array.astype(np.float32) / scale).permute(2, 0, 1)


def scan_image_dir(folder: str | Path, option: str = "folder") -> tuple[list[Path], list[str]]:
    """The image files of ``folder`` sorted by name, and the names of the entries that were skipped.

    An entry is an image file when its suffix is one of ``IMAGE_SUFFIXES``; anything else (text files,
    sub-folders) is skipped and named in the second list. A symlink loop or dangling link with an image suffix is
    an error, not a silent skip.

    Raises:
        HarnessError: Naming ``option``: a missing folder, a path that is not a folder, a symlink loop, an
            unreadable folder, or one with no image files.
    """
    path = Path(folder)
    try:
        is_dir = path.resolve(strict=True).is_dir()
    except (OSError, RuntimeError) as exc:
        kind = "a symlink that cannot be resolved (a loop or a dangling link)" if path.is_symlink() else "missing"
        raise HarnessError(f"{option}: image folder {str(path)!r} does not exist or is not a directory ({kind}: "
                           f"{exc.__class__.__name__})") from exc
    if not is_dir:
        raise HarnessError(f"{option}: image folder {str(path)!r} does not exist or is not a directory")
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError as exc:
        raise HarnessError(f"{option}: cannot list image folder {str(path)!r}: {exc.strerror or exc}") from exc
    files, skipped = [], []
    for entry in entries:
        entry_path = Path(entry.path)
        if entry_path.suffix.lower() not in IMAGE_SUFFIXES:
            skipped.append(entry.name)
            continue
        try:
            is_file = entry_path.resolve(strict=True).is_file()
        except (OSError, RuntimeError) as exc:
            raise HarnessError(f"{option}: {str(entry_path)!r} is a symlink loop or a dangling symlink "
                               f"({exc.__class__.__name__}); expected an image file") from exc
        if is_file:
            files.append(entry_path)
        else:
            skipped.append(entry.name + "/")
    if not files:
        raise HarnessError(f"{option}: image folder {str(path)!r} holds no images "
                           f"(expected {', '.join(IMAGE_SUFFIXES)})")
    return files, skipped


def _rawmode(img: Image.Image) -> str:
    tile = getattr(img, "tile", None) or []
    if not tile:
        return ""
    args = tile[0].args
    return str(args[0] if isinstance(args, tuple) and args else args or "")


def _classify(path: Path, mode: str, rawmode: str, transparency: bool, option: str) -> tuple[int, int, bool]:
    """(bits, channels, alpha) of a file, or a ``HarnessError`` for layouts the harness refuses."""
    if mode in _GREY16_MODES:
        return 16, 1, transparency
    if mode in ("I", "F"):
        kind = "32-bit integer" if mode == "I" else "floating-point"
        raise HarnessError(f"{option}: {str(path)!r} has {kind} pixels (PIL mode {mode!r}) with no defined value "
                           "range; save it as an 8- or 16-bit PNG")
    if rawmode.endswith((";16B", ";16L", ";16N")):  # 16 bits per channel ("BGR;16" is 5-6-5 packed 8-bit)
        if rawmode == "LA;16B":
            return 16, 1, True
        if rawmode not in _COLOUR_RAWMODES16:
            raise HarnessError(f"{option}: {str(path)!r} is 16-bit with layout {rawmode!r}, which the harness cannot "
                               "read at full precision; save it as a 16-bit PNG (grey, grey+alpha, RGB or RGBA)")
        return 16, 3, rawmode.startswith("RGBA")
    if mode not in _EIGHT_BIT:
        raise HarnessError(f"{option}: {str(path)!r} has PIL mode {mode!r}, which the harness does not read "
                           f"(expected one of {', '.join(sorted(_EIGHT_BIT))}, or 16-bit grey/colour)")
    _, channels, alpha = _EIGHT_BIT[mode]
    return 8, channels, alpha or transparency


def read_header(path: Path, option: str = "image", max_pixels: int = MAX_IMAGE_PIXELS) -> ImageHeader:
    """Reads a file's header (size, mode, bit depth) without decoding pixels, and applies the size limit.

    Raises:
        HarnessError: Naming the file: not an image, unreadable, above ``max_pixels`` (or PIL's bomb guard), or a
            pixel layout the harness refuses.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                mode, (width, height) = img.mode, img.size
                rawmode, transparency = _rawmode(img), "transparency" in img.info
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise HarnessError(f"{option}: image {str(path)!r} is too large to decode safely, above the limit of "
                           f"{max_pixels:,} pixels per image (refused before decoding by PIL's decompression-bomb "
                           f"guard: {exc}); crop or downscale it") from exc
    except UnidentifiedImageError as exc:
        raise HarnessError(f"{option}: {str(path)!r} is not an image file PIL can read "
                           "(expected a valid PNG/JPEG/BMP/TIFF/WebP file)") from exc
    except _READ_ERRORS as exc:
        raise HarnessError(f"{option}: cannot read image {str(path)!r}: {exc}") from exc
    if width * height > max_pixels:
        raise HarnessError(f"{option}: image {str(path)!r} is {width}x{height} = {width * height:,} pixels, above "
                           f"the limit of {max_pixels:,} pixels per image (refused before decoding); crop or "
                           "downscale it")
    bits, channels, alpha = _classify(path, mode, rawmode, transparency, option)
    return ImageHeader(path=path, width=width, height=height, mode=mode, rawmode=rawmode, bits=bits,
                       channels=channels, alpha=alpha)


def _with_rawmode(tile: tuple, rawmode: str) -> tuple:
    """A PIL tile (codec, extents, offset, args) whose args (the rawmode, or a tuple starting with it) say ``rawmode``.

    Pillow ≥ 11 tiles are ``ImageFile._Tile`` named tuples (its TIFF loader reads them by attribute), older ones
    plain tuples.
    """
    args = (rawmode, *tile[3][1:]) if isinstance(tile[3], tuple) else rawmode
    return tile._replace(args=args) if hasattr(tile, "_replace") else (*tile[:3], args)


def _decode_as(path: Path, rawmode: str | None) -> np.ndarray:
    """Decodes ``path`` with PIL, optionally forcing the raw layout its decoder unpacks (same bits per pixel)."""
    with Image.open(path) as img:
        if rawmode is not None:
            img.tile = [_with_rawmode(tile, rawmode) for tile in img.tile]
        img.load()
        return np.asarray(img)


def _decode16(header: ImageHeader) -> np.ndarray:
    """Full-precision uint16 ``(H, W, K)`` of a 16-bit file, alpha still included.

    PIL's unpackers keep only the high byte of each 16-bit sample. Decoding twice — once as stored and once with
    the opposite byte order declared, which makes the unpacker pick the low byte — and joining the two gives the
    exact samples (the PNG/TIFF un-filtering is unchanged: the bits per pixel stay the same). Grey+alpha 16-bit
    (``LA;16B``) has no swapped unpacker; its 4 bytes per pixel are read verbatim as RGBA and joined in pairs.
    """
    if header.mode in _GREY16_MODES:
        return _decode_as(header.path, None).astype(np.uint16)[..., None]
    if header.rawmode == "LA;16B":
        raw = _decode_as(header.path, "RGBA").astype(np.uint16)
        return (raw[..., 0::2] << 8) | raw[..., 1::2]
    order = header.rawmode[-1]
    big = order == "B" or (order == "N" and sys.byteorder == "big")
    swapped = header.rawmode[:-1] + ("L" if big else "B")
    high = _decode_as(header.path, None).astype(np.uint16)
    low = _decode_as(header.path, swapped).astype(np.uint16)
    return (high << 8) | low


def _decode8(header: ImageHeader) -> np.ndarray:
    with Image.open(header.path) as img:
        img.load()
        target = _EIGHT_BIT[header.mode][0]
        if header.mode == "P" and header.alpha:
            target = "RGBA"
        converted = img.convert(target) if img.mode != target else img
        array = np.asarray(converted)
    return array[..., None] if array.ndim == 2 else array


def decode_image(header: ImageHeader, option: str = "image") -> np.ndarray:
    """Decodes a file following the module's reading rules.

    Args:
        header: From ``read_header`` (size limit and layout already checked).
        option: The option that named the folder, for error messages.

    Returns:
        ``(H, W, C)`` uint8 (8-bit files) or uint16 (16-bit files), C = ``header.channels`` (1 or 3); alpha dropped.

    Raises:
        HarnessError: Naming the file: truncated, corrupt, or changed since its header was read.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            array = _decode16(header) if header.bits == 16 else _decode8(header)
    except MemoryError:
        raise
    except (*_READ_ERRORS, Image.DecompressionBombWarning) as exc:
        raise HarnessError(f"{option}: cannot read image {str(header.path)!r}: {exc} (truncated or corrupt file?)"
                           ) from exc
    array = array[..., : header.channels]  # drop alpha: colour as stored, not composited
    if array.shape[:2] != (header.height, header.width):
        raise HarnessError(f"{option}: image {str(header.path)!r} decoded as {array.shape[1]}x{array.shape[0]}, "
                           f"but its header said {header.width}x{header.height} (file changed while reading?)")
    return np.ascontiguousarray(array)
