"""Reading rules for user image folders: bit depth, alpha, palette, grey among colour, bad files, pairing, laziness.

16-bit colour files come from ``png_bytes``, a from-the-specification PNG encoder (W3C PNG §7–§9: big-endian
samples, one filter byte per row, a zlib stream), so they do not depend on the library that reads them.
"""

from __future__ import annotations

import logging
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from harness.core.errors import HarnessError
from harness.core.image_files import MAX_IMAGE_PIXELS, read_header
from harness.core.image_folder import match_by_name, open_image_folder
from harness.core.images import read_image

RNG = np.random.default_rng(0)
COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels → PNG colour type: grey, grey+alpha, RGB, RGBA


def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_bytes(array: np.ndarray, filters: tuple[int, ...] = (0, 1, 2, 3, 4), size: tuple[int, int] | None = None
              ) -> bytes:
    """A PNG of ``array`` (``(H, W)`` or ``(H, W, C)``, uint8 or uint16), rows filtered with ``filters`` in turn.

    ``size`` = (width, height) overrides the header's size (for files that lie about their size).
    """
    height, width = array.shape[:2]
    channels = 1 if array.ndim == 2 else array.shape[2]
    depth = 16 if array.dtype == np.uint16 else 8
    raw = np.ascontiguousarray(array.astype(">u2" if depth == 16 else np.uint8)).view(np.uint8).reshape(height, -1)
    bpp = channels * depth // 8
    rows, prev = [], np.zeros(raw.shape[1], np.int32)
    for y in range(height):
        row, kind = raw[y].astype(np.int32), filters[y % len(filters)]
        left = np.concatenate([np.zeros(bpp, np.int32), row[:-bpp]])
        up_left = np.concatenate([np.zeros(bpp, np.int32), prev[:-bpp]])
        predictor = [0, left, prev, (left + prev) // 2, _paeth(left, prev, up_left)][kind]
        rows.append(bytes([kind]) + ((row - predictor) % 256).astype(np.uint8).tobytes())
        prev = row
    w, h = size or (width, height)
    header = struct.pack(">IIBBBBB", w, h, depth, COLOUR_TYPES[channels], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"".join(rows)))
            + _chunk(b"IEND", b""))


def write_png(path: Path, array: np.ndarray, filters: tuple[int, ...] = (0, 1, 2, 3, 4)) -> Path:
    """Writes ``png_bytes(array)`` to ``path`` and returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(array, filters))
    return path



def _deep(shape):
    """Random 16-bit samples covering the whole range, with both extremes present."""
    array = RNG.integers(0, 65536, shape, dtype=np.uint16)
    array.flat[0], array.flat[1] = 0, 65535
    return array


def _rgb(path, array):
    Image.fromarray(array).save(path)
    return path


def test_16bit_grey_png_from_pil_is_read_at_full_precision(tmp_path):
    grey = _deep((6, 7))
    Image.fromarray(grey).save(tmp_path / "deep.png")  # PIL mode I;16
    assert Image.open(tmp_path / "deep.png").mode == "I;16"
    assert (np.asarray(Image.open(tmp_path / "deep.png").convert("RGB")) == 255).mean() > 0.9  # the old bug
    folder = open_image_folder(tmp_path, "--pred")
    assert folder.channels == 1 and folder.read(0).dtype == np.uint16
    assert np.array_equal(folder.read(0)[..., 0], grey)
    loaded = folder.load()
    assert torch.equal(loaded[0, 0], torch.from_numpy(grey.astype(np.float32) / np.float32(65535)))


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("filters", [(0,), (1,), (2,), (3,), (4,), (0, 1, 2, 3, 4)])
def test_16bit_png_every_layout_and_filter(tmp_path, channels, filters):
    array = _deep((5, 9, channels))
    write_png(tmp_path / "x.png", array[..., 0] if channels == 1 else array, filters)
    header = read_header(tmp_path / "x.png")
    assert header.bits == 16 and header.alpha == (channels in (2, 4))
    colour = 1 if channels <= 2 else 3
    assert np.array_equal(open_image_folder(tmp_path).read(0), array[..., :colour])  # alpha dropped


def test_16bit_tiff_raw_and_compressed(tmp_path):
    tifffile = pytest.importorskip("tifffile")
    rgb = _deep((4, 6, 3))
    tifffile.imwrite(tmp_path / "a.tif", rgb, photometric="rgb")
    tifffile.imwrite(tmp_path / "b.tif", rgb, photometric="rgb", compression="zlib")
    tifffile.imwrite(tmp_path / "c.tif", rgb[..., 0])
    folder = open_image_folder(tmp_path)
    assert np.array_equal(folder.read(0), rgb) and np.array_equal(folder.read(1), rgb)
    assert np.array_equal(folder.read(2), np.repeat(rgb[..., :1], 3, axis=2))  # grey among colour → repeated
    tifffile.imwrite(tmp_path / "f.tif", rgb[..., 0].astype(np.float32))
    with pytest.raises(HarnessError, match=r"f\.tif.*floating-point pixels.*no defined value range"):
        open_image_folder(tmp_path, "--pred")


def test_read_image_rounds_16bit_to_8bit(tmp_path):
    grey = np.array([[0, 128, 129, 385, 65535, 32896]], dtype=np.uint16)  # 32896 = 128·257
    Image.fromarray(grey).save(tmp_path / "g.png")
    assert read_image(tmp_path / "g.png").tolist() == [[0, 0, 1, 1, 255, 128]]


def test_alpha_is_dropped_not_composited_and_logged(tmp_path, caplog):
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = (200, 10, 30)
    rgba[0, 0, 3] = 255  # one opaque pixel, the rest fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    with caplog.at_level(logging.INFO):
        folder = open_image_folder(tmp_path, "--pred")
    assert "--pred: 1 image(s) carry alpha" in caplog.text and "alpha is dropped" in caplog.text
    assert np.array_equal(folder.read(0), rgba[..., :3])  # colour as stored under transparent pixels too
    la = np.stack([np.full((2, 3), 90, np.uint8), np.zeros((2, 3), np.uint8)], axis=2)
    Image.fromarray(la, "LA").save(tmp_path / "b.png")
    assert np.array_equal(open_image_folder(tmp_path).read(1), np.full((2, 3, 3), 90))


def test_palette_images_through_their_palette(tmp_path, caplog):
    palette = Image.new("P", (3, 2))
    palette.putpalette([0, 0, 0, 250, 20, 5, 9, 8, 7] + [0] * 759)
    palette.putdata([0, 1, 2, 1, 1, 0])
    palette.save(tmp_path / "p.png")
    palette.save(tmp_path / "t.png", transparency=1)
    with caplog.at_level(logging.INFO):
        folder = open_image_folder(tmp_path, "--target")
    expected = np.array([[[0, 0, 0], [250, 20, 5], [9, 8, 7]], [[250, 20, 5], [250, 20, 5], [0, 0, 0]]])
    assert np.array_equal(folder.read(0), expected) and np.array_equal(folder.read(1), expected)
    assert "2 palette image(s) converted to RGB" in caplog.text and "t.png); alpha is dropped" in caplog.text


def test_grey_among_colour_is_repeated_and_logged(tmp_path, caplog):
    grey = RNG.integers(0, 256, (4, 4), dtype=np.uint8)
    Image.fromarray(grey).save(tmp_path / "a.png")
    _rgb(tmp_path / "b.png", RNG.integers(0, 256, (4, 4, 3), dtype=np.uint8))
    with caplog.at_level(logging.INFO):
        folder = open_image_folder(tmp_path, "--pred")
    assert folder.channels == 3 and np.array_equal(folder.read(0), np.repeat(grey[..., None], 3, axis=2))
    assert "--pred: 1 of 2 images are grey (a.png); repeated to 3 channels" in caplog.text


def test_missing_empty_file_and_skipped_entries(tmp_path, caplog):
    with pytest.raises(HarnessError, match=r"--pred: image folder .*nope.* does not exist"):
        open_image_folder(tmp_path / "nope", "--pred")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    with pytest.raises(HarnessError, match=r"--pred: image folder .* holds no images"):
        open_image_folder(tmp_path, "--pred")
    _rgb(tmp_path / "a.png", np.zeros((2, 2, 3), np.uint8))
    with caplog.at_level(logging.INFO):
        assert len(open_image_folder(tmp_path, "--pred")) == 1
    assert "--pred: skipped 2 entries that are not image files: notes.txt, sub" in caplog.text
    (tmp_path / "fake.png").write_text("this is text")
    with pytest.raises(HarnessError, match=r"--pred: '.*fake\.png' is not an image file"):
        open_image_folder(tmp_path, "--pred")


def test_symlink_loops_and_dangling_links_are_named(tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    _rgb(folder / "a.png", np.zeros((2, 2, 3), np.uint8))
    os.symlink(folder / "loop2.png", folder / "loop1.png")
    os.symlink(folder / "loop1.png", folder / "loop2.png")
    with pytest.raises(HarnessError, match=r"--pred: '.*loop1\.png' is a symlink loop or a dangling symlink"):
        open_image_folder(folder, "--pred")
    os.symlink(tmp_path / "dir_loop", tmp_path / "dir_loop")
    with pytest.raises(HarnessError, match=r"--target: image folder .*dir_loop.* \(a symlink that cannot be resolved"):
        open_image_folder(tmp_path / "dir_loop", "--target")


def test_truncated_png_is_named_when_decoded(tmp_path):
    data = png_bytes(RNG.integers(0, 256, (64, 64, 3), dtype=np.uint8), filters=(0,))
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    folder = open_image_folder(tmp_path, "--pred")  # the header is intact
    with pytest.raises(HarnessError, match=r"--pred: cannot read image '.*cut\.png'.*truncated or corrupt"):
        folder.read(0)


def test_size_limit_is_applied_before_decoding(tmp_path):
    # The header claims 100000 x 100000 while the data holds 2x2: refused from the header, nothing decoded.
    (tmp_path / "huge.png").write_bytes(png_bytes(np.zeros((2, 2), np.uint8), size=(100_000, 100_000)))
    with pytest.raises(HarnessError, match=r"--pred: image '.*huge\.png' is too large to decode safely"):
        open_image_folder(tmp_path, "--pred")
    (tmp_path / "huge.png").write_bytes(png_bytes(np.zeros((2, 2), np.uint8), size=(9000, 8000)))
    with pytest.raises(HarnessError, match=r"huge\.png' is 9000x8000 = 72,000,000 pixels, above the limit of "
                                           f"{MAX_IMAGE_PIXELS:,}"):
        open_image_folder(tmp_path, "--pred")
    (tmp_path / "huge.png").unlink()
    _rgb(tmp_path / "small.png", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(HarnessError, match="is 4x4 = 16 pixels, above the limit of 15"):
        open_image_folder(tmp_path, "--pred", max_pixels=15)


def _named(folder, names, size=(3, 3), mode="RGB", seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        shape = (*size, 3) if mode == "RGB" else size
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / name)
    return folder


def test_match_by_name_not_by_position(tmp_path):
    pred = open_image_folder(_named(tmp_path / "p", ["b.png", "c.png", "a.png"]), "--pred")
    target = open_image_folder(_named(tmp_path / "t", ["a.bmp", "b.png", "c.png"], mode="L", seed=1), "--target")
    pred, target = match_by_name(pred, target)
    assert pred.names == target.names == ("a", "b", "c") and target.channels == pred.channels == 3
    assert np.array_equal(target.read(0)[..., 0], np.asarray(Image.open(tmp_path / "t" / "a.bmp")))
    shuffled = open_image_folder(_named(tmp_path / "s", ["z9.png", "a.png", "b.png"]), "--target")
    with pytest.raises(HarnessError, match=r"paired by file name \(without suffix\), but 1 --pred name\(s\) have "
                                           r"no --target file: c and 1 --target name\(s\) have no --pred file: z9"):
        match_by_name(pred, shuffled)
    dupes = open_image_folder(_named(tmp_path / "d", ["a.png", "a.bmp", "b.png", "c.png"]), "--target")
    with pytest.raises(HarnessError, match=r"--target: several files share a name without suffix \(a\)"):
        match_by_name(pred, dupes)
    small = open_image_folder(_named(tmp_path / "m", ["a.png", "b.png", "c.png"], size=(2, 3)), "--target")
    with pytest.raises(HarnessError, match="--pred images are 3x3 but --target images are 3x2"):
        match_by_name(pred, small)


def test_many_unmatched_names_are_abbreviated(tmp_path):
    pred = open_image_folder(_named(tmp_path / "p", [f"p{i:02d}.png" for i in range(12)]), "--pred")
    target = open_image_folder(_named(tmp_path / "t", [f"t{i:02d}.png" for i in range(12)]), "--target")
    with pytest.raises(HarnessError, match=r"12 --pred name\(s\) have no --target file: p00, p01, p02, p03, p04, … "
                                           r"\(12 in all\)"):
        match_by_name(pred, target)


def test_batches_decode_lazily_one_batch_at_a_time(tmp_path):
    _named(tmp_path, [f"{i:02d}.png" for i in range(10)], size=(5, 4))
    decoded = []
    folder = open_image_folder(tmp_path, on_read=decoded.append)
    assert decoded == []  # opening reads headers only
    batches = folder.batches(4)
    first = next(batches)
    assert first.shape == (4, 3, 5, 4) and first.dtype == torch.float32 and len(decoded) == 4
    rest = list(batches)
    assert [b.shape[0] for b in rest] == [4, 2] and len(decoded) == 10
    assert torch.equal(torch.cat([first, *rest]), folder.load())
    with pytest.raises(HarnessError, match="batch size must be a positive integer"):
        next(folder.batches(0))
