"""Image boundary checks, image folders and the grid used for sample strips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from harness.core.errors import HarnessError
from harness.core.image_folder import load_image_folder
from harness.core.images import (
    check_images,
    list_image_files,
    make_grid,
    read_image,
    save_image,
    to_uint8,
)


def test_check_images_accepts_the_contract():
    images = torch.rand(2, 3, 4, 4)
    assert check_images(images, "x") is images
    assert check_images(torch.zeros(0, 1, 4, 4), "empty") is not None
    check_images(torch.ones(1, 1, 2, 2), "gray", channels=1)


@pytest.mark.parametrize(("value", "message"), [
    (np.zeros((1, 3, 2, 2), dtype=np.float32), "expected a torch.Tensor"),
    (torch.zeros(1, 3, 2, 2, dtype=torch.float64), "dtype torch.float64"),
    (torch.zeros(1, 3, 2, 2, dtype=torch.uint8), "dtype torch.uint8"),
    (torch.zeros(3, 2, 2), r"\(N, C, H, W\), got \(3, 2, 2\)"),
    (torch.zeros(1, 2, 2, 2), "1 or 3 channels, got 2"),
    (torch.full((1, 3, 2, 2), 1.5), r"range \[1\.5, 1\.5\]"),
    (torch.full((1, 3, 2, 2), -0.1), r"values in \[0, 1\]"),
    (torch.full((1, 3, 2, 2), float("nan")), r"values in \[0, 1\]"),
])
def test_check_images_errors_name_the_tensor(value, message):
    with pytest.raises(HarnessError, match=message) as info:
        check_images(value, "fake_B")
    assert str(info.value).startswith("fake_B:")


def test_check_images_required_channels():
    with pytest.raises(HarnessError, match="expected 1 channels, got 3"):
        check_images(torch.zeros(1, 3, 2, 2), "x", channels=1)


def test_to_uint8_rounds_and_clamps():
    x = torch.tensor([0.0, 0.5 / 255, 1.5 / 255, 1.0, 1.2, -0.3]).view(1, 1, 1, 6)
    assert to_uint8(x).flatten().tolist() == [0, 0, 2, 255, 255, 0]


def _save(path, array, mode):
    Image.fromarray(array, mode=mode).save(path)


def test_load_folder_gray_rgb_and_mixing(tmp_path):
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (5, 6), dtype=np.uint8)
    rgb = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    only_gray = tmp_path / "gray"
    only_gray.mkdir()
    _save(only_gray / "a.png", gray, "L")
    _save(only_gray / "b.png", gray[::-1].copy(), "L")
    (only_gray / "readme.txt").write_text("ignored")
    loaded = load_image_folder(only_gray)
    assert loaded.shape == (2, 1, 5, 6) and loaded.dtype == torch.float32
    assert torch.equal(loaded[0, 0], torch.from_numpy(gray).float() / 255)

    mixed = tmp_path / "mixed"
    mixed.mkdir()
    _save(mixed / "1.png", gray, "L")
    _save(mixed / "2.png", rgb, "RGB")
    loaded = load_image_folder(mixed)
    assert loaded.shape == (2, 3, 5, 6)
    for c in range(3):  # the grayscale image is repeated to RGB
        assert torch.equal(loaded[0, c], torch.from_numpy(gray).float() / 255)
    assert torch.equal(loaded[1], torch.from_numpy(rgb).permute(2, 0, 1).float() / 255)

    forced = read_image(mixed / "2.png", mode="L")
    assert np.array_equal(forced, np.array(Image.fromarray(rgb).convert("L")))  # PIL's luma, bit for bit
    assert read_image(only_gray / "a.png", mode="RGB").shape == (5, 6, 3)


def test_rgba_and_palette_become_rgb(tmp_path):
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0], rgba[..., 3] = 200, 255
    _save(tmp_path / "a.png", rgba, "RGBA")
    assert read_image(tmp_path / "a.png").shape == (4, 4, 3)
    assert load_image_folder(tmp_path)[0, 0].max().item() == pytest.approx(200 / 255)


def test_folder_errors(tmp_path):
    with pytest.raises(HarnessError, match=r"--pred: image folder .*nothing.* does not exist"):
        list_image_files(tmp_path / "nothing", option="--pred")
    afile = tmp_path / "file.png"
    afile.write_bytes(b"x")
    with pytest.raises(HarnessError, match="not a directory"):
        list_image_files(afile)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.txt").write_text("")
    with pytest.raises(HarnessError, match=r"--target: .*holds no images"):
        load_image_folder(empty, option="--target")
    corrupt = tmp_path / "corrupt"
    corrupt.mkdir()
    (corrupt / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(200)))
    with pytest.raises(HarnessError, match=r"broken\.png.* is not an image file"):
        load_image_folder(corrupt)
    sizes = tmp_path / "sizes"
    sizes.mkdir()
    _save(sizes / "a.png", np.zeros((4, 4), np.uint8), "L")
    _save(sizes / "b.png", np.zeros((4, 5), np.uint8), "L")
    expected = r"--pred: images in .*sizes.* differ in size \(width x height\) — 4x4: a\.png; 5x4: b\.png"
    with pytest.raises(HarnessError, match=expected):
        load_image_folder(sizes, option="--pred")


def test_save_image_round_trip(tmp_path):
    image = torch.rand(3, 5, 7, generator=torch.Generator().manual_seed(0))
    save_image(image, tmp_path / "x.png")
    back = load_image_folder(tmp_path)[0]
    assert torch.equal(back, to_uint8(image[None])[0].float() / 255)
    save_image(image[:1], tmp_path / "y.png")
    assert read_image(tmp_path / "y.png").shape == (5, 7)


def test_make_grid_layout():
    a = torch.zeros(2, 1, 4, 4)
    b = torch.full((3, 3, 8, 8), 0.5)
    grid = make_grid([a, b], pad=1)
    assert grid.shape == (3, 2 * 5 + 1, 3 * 5 + 1)
    assert torch.equal(grid[:, 1:5, 1:5], torch.zeros(3, 4, 4))  # gray row repeated to RGB
    assert torch.equal(grid[:, 6:10, 6:10], torch.full((3, 4, 4), 0.5))  # resized to the first row's size
    assert torch.equal(grid[:, 1:5, 11:15], torch.ones(3, 4, 4))  # a missing cell stays white padding
    assert grid[:, 0].eq(1).all()
