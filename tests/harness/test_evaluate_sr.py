"""``evaluate --metric psnr_ssim`` on SR/HR folders: pairing by name, sizes per pair, the SR convention, bad input."""

import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from harness.run import main
from metrics.psnr_ssim import psnr_ssim

SIZES = {"baby": (64, 48), "bird": (40, 44), "butterfly": (32, 36)}  # Set5-like: every image its own size


def _write(folder, name, array):
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(folder / name)


@pytest.fixture
def folders(tmp_path):
    """HR images (one with 2 extra rows, cropped away by --scale 4) and SR images saved as .png with other suffixes."""
    rng = np.random.default_rng(0)
    hr_dir, sr_dir = tmp_path / "HR", tmp_path / "SR"
    pairs = {}
    for name, (h, w) in SIZES.items():
        hr = rng.integers(0, 256, (h + (2 if name == "bird" else 0), w, 3), dtype=np.uint8)
        sr = np.clip(hr[:h].astype(int) + rng.integers(-12, 13, (h, w, 3)), 0, 255).astype(np.uint8)
        _write(hr_dir, f"{name}.png", hr)
        _write(sr_dir, f"{name}.bmp", sr)
        pairs[name] = (sr, hr[:h])
    return sr_dir, hr_dir, pairs


def _run(capsys, sr_dir, hr_dir, *extra):
    code = main(["evaluate", "--metric", "psnr_ssim", "--pred", str(sr_dir), "--target", str(hr_dir), "--json",
                 "--no-progress", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def _tensor(array):
    return torch.from_numpy(array).permute(2, 0, 1)[None].float() / 255


@pytest.mark.parametrize("y_channel", [False, True])
def test_folders_of_different_sizes_paired_by_name(folders, capsys, y_channel):
    sr_dir, hr_dir, pairs = folders
    code, out, err = _run(capsys, sr_dir, hr_dir, "--scale", "4", *(["--y-channel"] if y_channel else []))
    assert code == 0, err
    result = json.loads(out)
    per_image = [psnr_ssim(_tensor(sr), _tensor(hr), crop_border=4, y_channel=y_channel) for sr, hr in pairs.values()]
    assert result["psnr"] == pytest.approx(np.mean([p["psnr"] for p in per_image]), abs=1e-9)
    assert result["ssim"] == pytest.approx(np.mean([p["ssim"] for p in per_image]), abs=1e-9)
    assert result["psnr_identical"] == 0


def test_identical_folders_give_inf(folders, capsys):
    _, hr_dir, _ = folders
    code, out, err = _run(capsys, hr_dir, hr_dir, "--scale", "2")
    assert code == 0, err
    result = json.loads(out)
    assert result["psnr_identical"] == 3 and result["ssim"] == pytest.approx(1.0)
    # inf: JSON's Infinity, or null plus {"nonfinite": {"psnr": "inf"}} where the CLI writes strict JSON
    assert result["psnr"] == math.inf or result.get("nonfinite", {}).get("psnr") == "inf"


def _bad(tmp_path, sr_shape, hr_shape):
    rng = np.random.default_rng(1)
    _write(tmp_path / "s", "a.png", rng.integers(0, 256, sr_shape, dtype=np.uint8))
    _write(tmp_path / "h", "a.png", rng.integers(0, 256, hr_shape, dtype=np.uint8))
    return tmp_path / "s", tmp_path / "h"


@pytest.mark.parametrize(("sr_shape", "hr_shape", "scale", "message"), [
    ((32, 32, 3), (48, 48, 3), "4", "must match"),  # HR and SR of different sizes
    ((32, 30, 3), (32, 32, 3), "4", "must match"),  # SR not a multiple of the scale: a mismatched --scale
    ((6, 42, 3), (6, 42, 3), "3", "smaller than twice the crop border"),
])
def test_bad_pairs_exit_2_with_one_line(tmp_path, capsys, sr_shape, hr_shape, scale, message):
    sr_dir, hr_dir = _bad(tmp_path, sr_shape, hr_shape)
    code, _, err = _run(capsys, sr_dir, hr_dir, "--scale", scale)
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_missing_partner_missing_scale_and_non_integer_scale(folders, tmp_path, capsys):
    sr_dir, hr_dir, _ = folders
    (sr_dir / "baby.bmp").rename(sr_dir / "baby2.bmp")
    code, _, err = _run(capsys, sr_dir, hr_dir, "--scale", "4")
    assert code == 2 and "paired by file name" in err and "baby2" in err
    code, _, err = _run(capsys, hr_dir, hr_dir)
    assert code == 2 and "--scale" in err
    code, _, err = _run(capsys, hr_dir, hr_dir, "--scale", "2.5")  # an argparse error: main returns 2 too
    assert code == 2 and "--scale" in err


def test_16_bit_files_are_scored_at_the_precision_they_are_read_at(tmp_path, capsys):
    """Grey 16-bit HR and SR (the same content 8 bits would round together): PSNR from the full 16-bit values."""
    rng = np.random.default_rng(3)
    hr = rng.integers(0, 65536, (32, 32), dtype=np.uint16)
    sr = np.clip(hr.astype(int) + rng.integers(-200, 201, hr.shape), 0, 65535).astype(np.uint16)
    _write(tmp_path / "HR", "a.png", hr)
    _write(tmp_path / "SR", "a.png", sr)
    code, out, err = _run(capsys, tmp_path / "SR", tmp_path / "HR", "--scale", "4")
    assert code == 0, err
    full = psnr_ssim(torch.from_numpy(sr.astype(np.float32) / 65535)[None, None],
                     torch.from_numpy(hr.astype(np.float32) / 65535)[None, None], crop_border=4, y_channel=False,
                     quantize=False)
    rounded = psnr_ssim(torch.from_numpy(sr.astype(np.float32) / 65535)[None, None],
                        torch.from_numpy(hr.astype(np.float32) / 65535)[None, None], crop_border=4, y_channel=False)
    assert json.loads(out)["psnr"] == pytest.approx(full["psnr"], abs=1e-6)
    assert abs(full["psnr"] - rounded["psnr"]) > 0.1  # what rounding to 8 bits would have reported instead


def test_a_grey_target_beside_colour_predictions_is_logged(folders, tmp_path, capsys, caplog):
    sr_dir, hr_dir, pairs = folders
    grey = tmp_path / "HRgrey"
    for name, (_, hr) in pairs.items():
        _write(grey, f"{name}.png", hr.mean(axis=2).round().astype(np.uint8))
    with caplog.at_level("WARNING"):
        code, _, err = _run(capsys, sr_dir, grey, "--scale", "4")
    assert code == 0, err
    assert any("--target: all 3 images are grey; each is repeated to 3 channels to match the colour images of --pred"
               in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
