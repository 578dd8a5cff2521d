"""``evaluate --metric NAME --pred DIR [--target DIR]`` on user folders: strict JSON, pairing, bad folders → exit 2."""

from __future__ import annotations

import json
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from harness.run import main


def _strict_json(text):
    def refuse(constant):
        raise ValueError(f"not JSON: {constant}")

    return json.loads(text, parse_constant=refuse)  # what allow_nan=False emits: no Infinity/NaN tokens


def _write(folder, names, size=(6, 5), seed=0, mode="RGB"):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
        Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8)).save(folder / name)
    return folder


def _fails(argv, capsys, *expected):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for text in expected:
        assert text in err, err
    return err


def _psnr(pred, target, *extra):
    return ["evaluate", "--metric", "psnr", "--pred", str(pred), "--target", str(target), "--no-progress", *extra]


def test_identical_folders_give_strict_json_with_a_nonfinite_flag(tmp_path, capsys):
    pred = _write(tmp_path / "pred", ["a.png", "b.png", "c.png"])
    assert main(_psnr(pred, pred, "--json")) == 0
    out = capsys.readouterr().out
    assert "Infinity" not in out
    assert _strict_json(out) == {"psnr": None, "psnr_identical": 3.0, "l1": 0.0, "nonfinite": {"psnr": "inf"}}
    assert main(_psnr(pred, pred)) == 0
    assert capsys.readouterr().out.splitlines()[0].split() == ["psnr", "inf"]


def test_psnr_pairs_files_by_name_not_position(tmp_path, capsys):
    target = _write(tmp_path / "target", ["a.png", "b.png"], seed=1)
    pred = tmp_path / "pred"
    pred.mkdir()
    for name, image in (("0_b.png", "b.png"), ("1_a.png", "a.png")):  # sorted positions would pair them crosswise
        os.link(target / image, pred / name)
    _fails(_psnr(pred, target), capsys, "paired by file name", "0_b, 1_a", "a, b")
    for name in ("0_b.png", "1_a.png"):
        (pred / name).rename(pred / name[2:])
    assert main(_psnr(pred, target, "--json")) == 0
    assert _strict_json(capsys.readouterr().out)["psnr_identical"] == 2


def _chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_claiming(width, height):
    """A 1x1 grey PNG whose header claims another size (nothing past the header is ever decoded)."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(b"\x00\x00"))
            + _chunk(b"IEND", b""))


def _bad_folder(kind, root):
    """(pred folder, target folder, texts the one-line error must contain) for one kind of bad input."""
    good = _write(root / "good", ["a.png", "b.png"])
    bad = _write(root / "bad", ["a.png", "b.png"])
    if kind == "missing":
        return root / "nowhere", good, ["--pred", "nowhere", "does not exist"]
    if kind == "empty":
        for path in bad.iterdir():
            path.unlink()
        return bad, good, ["--pred", "holds no images"]
    if kind == "text_named_png":
        (bad / "b.png").write_text("hello")
        return bad, good, [str(bad / "b.png"), "not an image file"]
    if kind == "truncated":
        data = (bad / "b.png").read_bytes()
        (bad / "b.png").write_bytes(data[: len(data) // 2])
        return bad, good, [str(bad / "b.png"), "truncated or corrupt"]
    if kind == "symlink_loop":
        (bad / "b.png").unlink()
        os.symlink(bad / "b.png", bad / "b.png")
        return bad, good, [str(bad / "b.png"), "symlink loop"]
    if kind == "mixed_sizes":
        _write(bad, ["b.png"], size=(7, 5))
        return bad, good, ["--pred", "differ in size", "6x5: a.png", "7x5: b.png"]
    if kind == "pair_sizes":
        bad = _write(root / "small", ["a.png", "b.png"], size=(4, 4))
        return bad, good, ["--pred images are 4x4 but --target images are 6x5"]
    if kind == "names":
        (bad / "b.png").rename(bad / "c.png")
        return bad, good, ["1 --pred name(s) have no --target file: c", "1 --target name(s) have no --pred file: b"]
    if kind == "duplicate_stems":
        _write(bad, ["b.bmp"])
        return good, bad, ["--target: several files share a name without suffix (b)"]
    if kind == "too_large":
        (bad / "b.png").write_bytes(_png_claiming(9000, 9000))
        return bad, good, [str(bad / "b.png"), "81,000,000 pixels, above the limit"]
    if kind == "bomb":
        (bad / "b.png").write_bytes(_png_claiming(60000, 60000))
        return bad, good, [str(bad / "b.png"), "too large to decode safely"]
    raise AssertionError(kind)


KINDS = ("missing", "empty", "text_named_png", "truncated", "symlink_loop", "mixed_sizes", "pair_sizes", "names",
         "duplicate_stems", "too_large", "bomb")


@pytest.mark.parametrize("kind", KINDS)
def test_bad_folders_exit_2_with_one_line_naming_the_thing(kind, tmp_path, capsys):
    pred, target, expected = _bad_folder(kind, tmp_path)
    _fails(_psnr(pred, target, "--json"), capsys, *expected)
    assert capsys.readouterr().out == ""
