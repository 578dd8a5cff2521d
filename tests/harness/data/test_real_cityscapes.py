import numpy as np
import pytest
import torch
from PIL import Image

from harness.core.errors import HarnessError
from harness.data.cityscapes_labels import train_ids_to_color
from harness.data.real_cityscapes import load_cityscapes


def _frame(root, split, city, index, label_ids, size=(16, 8)):
    stem = f"{city}_{index:06d}_000019"
    photo_dir, label_dir = root / "leftImg8bit" / split / city, root / "gtFine" / split / city
    photo_dir.mkdir(parents=True, exist_ok=True)
    label_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(index)
    photo = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(photo).save(photo_dir / f"{stem}_leftImg8bit.png")
    labels = np.asarray(label_ids, dtype=np.uint8)
    Image.fromarray(labels).save(label_dir / f"{stem}_gtFine_labelIds.png")
    return photo_dir / f"{stem}_leftImg8bit.png", label_dir / f"{stem}_gtFine_labelIds.png"


def _labels(fill=7):
    ids = np.full((8, 16), fill, dtype=np.uint8)
    ids[:4, :8], ids[:4, 8:], ids[4:, :4] = 23, 26, 0  # sky, car, unlabeled
    return ids


@pytest.fixture
def dataset(tmp_path):
    for i in range(4):
        _frame(tmp_path, "train", "aachen", i, _labels())
    for i in range(2):
        _frame(tmp_path, "val", "frankfurt", 10 + i, _labels(8))
    return tmp_path


def test_reads_fixture(dataset):
    task = load_cityscapes(dataset, image_size=8)
    assert task.name == "cityscapes" and task.domains == ("labels", "photo") and task.paired
    assert set(task.splits) == {"train", "test"} and task.meta["num_classes"] == 19
    assert len(task.data("train", "photo")) == 4 and len(task.data("test", "photo")) == 2
    seg = task.data("train", "labels").labels["segmentation"]
    assert seg.dtype == torch.int64 and seg.shape == (4, 8, 8)
    # nearest resize 16x8 -> 8x8 keeps the quadrants: sky | car over unlabeled | road
    assert seg[0, 0].tolist() == [10] * 4 + [13] * 4 and seg[0, -1].tolist() == [255] * 2 + [0] * 6
    assert set(task.data("test", "labels").labels["segmentation"].unique().tolist()) == {1, 10, 13, 255}
    colours = torch.from_numpy(train_ids_to_color(seg.numpy())).permute(0, 3, 1, 2)
    assert torch.equal(task.data("train", "labels").images, colours)
    assert task.data("train", "photo").get().shape == (4, 3, 8, 8)
    assert len(task.unpaired_train["labels"]) == 2 and len(task.unpaired_train["photo"]) == 2


def test_photo_resized_bilinear(dataset):
    photo = np.asarray(Image.open(sorted((dataset / "leftImg8bit" / "train" / "aachen").iterdir())[0]))
    expected = np.asarray(Image.fromarray(photo).resize((8, 8), Image.Resampling.BILINEAR))
    task = load_cityscapes(dataset, image_size=8, splits=("train",), max_images=1)
    assert np.array_equal(task.data("train", "photo").images[0].permute(1, 2, 0).numpy(), expected)


def test_missing_folder(tmp_path):
    with pytest.raises(HarnessError, match="leftImg8bit"):
        load_cityscapes(tmp_path, image_size=8)


def test_photo_without_label(dataset):
    photo, label = _frame(dataset, "train", "bremen", 99, _labels())
    label.unlink()
    with pytest.raises(HarnessError, match="bremen_000099_000019_leftImg8bit.png"):
        load_cityscapes(dataset, image_size=8)


def test_size_mismatch(dataset):
    _, label = _frame(dataset, "val", "lindau", 5, _labels())
    Image.fromarray(np.full((4, 4), 7, dtype=np.uint8)).save(label)
    with pytest.raises(HarnessError, match="lindau_000005_000019_gtFine_labelIds.png"):
        load_cityscapes(dataset, image_size=8)


def test_unknown_label_ids(dataset):
    ids = _labels()
    ids[0, 0] = 77
    _frame(dataset, "val", "munster", 3, ids)
    with pytest.raises(HarnessError, match=r"munster_000003_000019_gtFine_labelIds.png.*77"):
        load_cityscapes(dataset, image_size=8)


def test_corrupt_photo(dataset):
    photo, _ = _frame(dataset, "val", "ulm", 1, _labels())
    photo.write_bytes(b"not a png")
    with pytest.raises(HarnessError, match="ulm_000001_000019_leftImg8bit.png"):
        load_cityscapes(dataset, image_size=8)


def test_bad_split_name(dataset):
    with pytest.raises(HarnessError, match="splits"):
        load_cityscapes(dataset, image_size=8, splits=("test",))
