import numpy as np
import pytest
import torch
from PIL import Image

from harness.core.errors import HarnessError
from harness.data.real_folders import load_aligned_folder, load_unpaired_folders


def _save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _aligned(root, split, count, width=32, height=16):
    for i in range(count):
        a = np.full((height, width // 2, 3), (10 * i, 0, 0), dtype=np.uint8)
        b = np.full((height, width // 2, 3), (0, 200, 10 * i), dtype=np.uint8)
        _save(root / split / f"{i}.png", np.concatenate([a, b], axis=1))


def test_aligned_folder(tmp_path):
    _aligned(tmp_path, "train", 4)
    _aligned(tmp_path, "val", 2)
    task = load_aligned_folder(tmp_path, name="facades", image_size=8, domains=("photo", "facade"))
    assert task.name == "facades" and task.paired and task.domains == ("photo", "facade")
    assert set(task.splits) == {"train", "val", "test"} and task.splits["test"] is task.splits["val"]
    a, b = task.data("train", "photo").images, task.data("train", "facade").images
    assert a.shape == (4, 3, 8, 8) and b.shape == (4, 3, 8, 8)
    assert a[:, 0, 0, 0].tolist() == [0, 10, 20, 30] and (a[:, 1] == 0).all()  # A is the left half
    assert (b[:, 1] == 200).all() and b[:, 2, 0, 0].tolist() == [0, 10, 20, 30]
    assert torch.equal(task.unpaired_train["photo"].images, a[:2])
    assert torch.equal(task.unpaired_train["facade"].images, b[2:])


def test_aligned_odd_width(tmp_path):
    _aligned(tmp_path, "train", 2)
    _save(tmp_path / "test" / "odd_one.png", np.zeros((8, 15, 3), dtype=np.uint8))
    with pytest.raises(HarnessError, match="odd_one.png"):
        load_aligned_folder(tmp_path, name="maps", image_size=8)


def test_aligned_missing_train(tmp_path):
    with pytest.raises(HarnessError, match="train"):
        load_aligned_folder(tmp_path, name="maps", image_size=8)


def _unpaired(root, counts):
    for folder, count in counts.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            _save(root / folder / f"{folder}_{i}.png", np.full((12, 10, 3), 20 * i, dtype=np.uint8))


def test_unpaired_folders(tmp_path):
    _unpaired(tmp_path, {"trainA": 3, "trainB": 5, "testA": 2, "testB": 1})
    task = load_unpaired_folders(tmp_path, name="horse2zebra", image_size=8)
    assert not task.paired and task.unpaired_train is None and task.domains == ("A", "B")
    assert len(task.data("train", "A")) == 3 and len(task.data("train", "B")) == 5
    assert task.splits["val"] is task.splits["test"]
    images = task.data("train", "B").get()
    assert images.shape == (5, 3, 8, 8) and torch.allclose(images[:, 0, 4, 4], torch.arange(5) * 20 / 255.0)


def test_unpaired_empty_trainB(tmp_path):
    _unpaired(tmp_path, {"trainA": 2, "trainB": 0, "testA": 1, "testB": 1})
    with pytest.raises(HarnessError, match="trainB"):
        load_unpaired_folders(tmp_path, name="x", image_size=8)


def test_unpaired_corrupt_file(tmp_path):
    _unpaired(tmp_path, {"trainA": 2, "trainB": 2, "testA": 1, "testB": 1})
    (tmp_path / "testB" / "broken.png").write_bytes(b"garbage")
    with pytest.raises(HarnessError, match="broken.png"):
        load_unpaired_folders(tmp_path, name="x", image_size=8)
