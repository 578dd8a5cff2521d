"""sr_folders on tiny fixtures written in the real layouts (Set5 plain, BasicSR HR/LR_bicubic, SelfExSR, DIV2K)."""

import numpy as np
import pytest
import torch
from PIL import Image

from harness.core.errors import HarnessError
from harness.data.imresize import imresize
from harness.data.sr_folders import SRFoldersConfig, build_sr_folders
from harness.data.sr_pairs import unpad

SIZES = {"baby": (70, 66), "bird": (52, 61)}  # (height, width): not multiples of 4, so modcrop matters



def _png(path, height, width, seed, grey=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (height, width) if grey else (height, width, 3)
    array = np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(array).save(path)
    return array


def _config(root, **extra):
    return SRFoldersConfig(root=str(root), image_size=16, tile=32, **extra)


def _uint8(image):
    return (image * 255).round().to(torch.uint8)


def test_plain_hr_folder_gets_matlab_bicubic_lr_and_embedded_training_photos(tmp_path):
    arrays = {name: _png(tmp_path / "Set5" / f"{name}.png", *size, seed=i) for i, (name, size) in
              enumerate(SIZES.items())}
    task = build_sr_folders(_config(tmp_path / "Set5", benchmark="set5"))
    assert task.meta["test_names"] == ["baby", "bird"] and task.meta["benchmark"] == "set5"
    assert "MATLAB" in task.meta["lr_source"] and "embedded" in task.meta["train_source"]
    hr = _uint8(unpad(task.data("test", "HR"), 0))
    assert hr.shape == (1, 3, 68, 64)  # 70x66 cropped to multiples of 4
    assert torch.equal(hr[0], torch.from_numpy(arrays["baby"]).permute(2, 0, 1)[:, :68, :64])
    assert torch.equal(_uint8(unpad(task.data("test", "LR"), 0)), imresize(hr, 1 / 4))


def test_basicsr_layout_with_given_lr_matched_by_name(tmp_path):
    root = tmp_path / "Set14"
    for i, (name, (h, w)) in enumerate(SIZES.items()):
        _png(root / "HR" / f"{name}.png", h, w, seed=i)
        lr = _png(root / "LR_bicubic" / "X4" / f"{name}x4.png", h // 4, w // 4, seed=10 + i)
        if name == "bird":
            bird_lr = lr
    task = build_sr_folders(_config(root))
    assert task.meta["lr_source"] == "given LR images"
    assert torch.equal(_uint8(unpad(task.data("test", "LR"), 1))[0], torch.from_numpy(bird_lr).permute(2, 0, 1))


def test_selfexsr_and_div2k_layouts_and_training_from_folders(tmp_path):
    srf = tmp_path / "BSD100" / "image_SRF_4"
    _png(srf / "img_001_SRF_4_HR.png", 64, 48, seed=0)
    _png(srf / "img_001_SRF_4_LR.png", 16, 12, seed=1)
    div2k = tmp_path / "DIV2K"
    for i in range(2):
        _png(div2k / "DIV2K_train_HR" / f"{i + 1:04d}.png", 64, 64, seed=20 + i)
        _png(div2k / "DIV2K_train_LR_bicubic" / "X4" / f"{i + 1:04d}x4.png", 16, 16, seed=30 + i)
    task = build_sr_folders(_config(tmp_path / "BSD100", train_root=str(div2k)))
    assert task.meta["test_names"] == ["img_001_SRF_4"] and task.meta["lr_source"] == "given LR images"
    train = task.data("train", "HR")
    assert train.images.shape == (8, 3, 32, 32)  # 2 images x 4 tiles of 32 px
    assert task.data("train", "LR").images.shape == (8, 3, 8, 8)
    valid = tmp_path / "DIV2K_v"
    _png(valid / "DIV2K_valid_HR" / "0801.png", 40, 40, seed=5)
    assert build_sr_folders(_config(valid)).meta["test_names"] == ["0801"]


def test_grey_and_colour_images_are_read_as_rgb(tmp_path):
    _png(tmp_path / "mixed" / "a.png", 32, 32, seed=0, grey=True)
    _png(tmp_path / "mixed" / "b.png", 32, 32, seed=1)
    task = build_sr_folders(_config(tmp_path / "mixed"))
    grey = unpad(task.data("test", "HR"), 0)
    assert grey.shape[1] == 3 and torch.equal(grey[:, 0], grey[:, 2])


@pytest.mark.parametrize(("lr_size", "message"), [((17, 16), "not the scale x4"), (None, "have no LR image")])
def test_mismatched_or_missing_lr_is_one_clear_error(tmp_path, lr_size, message):
    root = tmp_path / "set"
    _png(root / "HR" / "a.png", 64, 64, seed=0)
    _png(root / "LR_bicubic" / "X4" / ("ax4.png" if lr_size else "other.png"), *(lr_size or (16, 16)), seed=1)
    with pytest.raises(HarnessError, match=message):
        build_sr_folders(_config(root))


def test_missing_root_and_bad_scale():
    with pytest.raises(HarnessError, match="sr_folders.root=PATH"):
        build_sr_folders(SRFoldersConfig())
    with pytest.raises(HarnessError, match="does not exist"):
        build_sr_folders(SRFoldersConfig(root="/nonexistent/set5"))
    with pytest.raises(HarnessError, match="scale"):
        build_sr_folders(SRFoldersConfig(root="/x", scale=5))


def test_two_files_with_one_name_are_refused_not_dropped(tmp_path):
    """Images are matched by name: a.png beside a.jpg (or 0801.png beside 0801x4.png) would lose one silently."""
    _png(tmp_path / "Set5" / "baby.png", 64, 64, seed=0)
    _png(tmp_path / "Set5" / "bird.png", 64, 64, seed=1)
    Image.fromarray(np.zeros((64, 64, 3), np.uint8)).save(tmp_path / "Set5" / "baby.jpg")
    with pytest.raises(HarnessError, match=r"sr_folders.root: files in .* share a name \(baby.jpg and baby.png\)"):
        build_sr_folders(_config(tmp_path / "Set5"))


def test_every_conversion_of_the_images_is_logged(tmp_path, caplog):
    """Grey beside colour (repeated to RGB), RGBA (alpha dropped) and 16-bit (rounded to 8 bits) each get a line."""
    root = tmp_path / "Set14"
    _png(root / "colour.png", 64, 64, seed=0)
    _png(root / "grey.png", 64, 64, seed=1, grey=True)
    Image.fromarray(np.full((64, 64, 4), 200, np.uint8)).save(root / "rgba.png")
    Image.fromarray(np.full((64, 64), 40000, np.uint16)).save(root / "deep.png")
    with caplog.at_level("INFO"):
        build_sr_folders(_config(root))
    messages = " | ".join(r.getMessage() for r in caplog.records)
    assert "grey image(s) repeated to RGB, as the other images are colour: deep, grey" in messages, messages
    assert "alpha is dropped" in messages and "rgba.png" in messages
    assert "16-bit image(s) rounded to 8 bits (the task holds 8-bit images): deep.png" in messages
