import numpy as np
import pytest
import torch
from PIL import Image

from harness.core.errors import HarnessError
from harness.data.cityscapes_labels import label_ids_to_train_ids, train_ids_to_color
from harness.data.real_cityscapes import load_cityscapes
from harness.data.scenes import FULL_RES_SEGMENTATION
from harness.protocols import fcn_scenes
from harness.protocols.base import EvalConfig, EvalContext
from metrics.fcn_score import colors_to_train_ids


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


def test_test_split_keeps_full_resolution_labels(dataset):
    task = load_cityscapes(dataset, image_size=8)
    full = task.data("test", "photo").labels[FULL_RES_SEGMENTATION]
    assert full.dtype == torch.uint8 and full.shape == (2, 8, 16)  # the label maps' own 16x8, not image_size
    assert torch.equal(full, task.data("test", "labels").labels[FULL_RES_SEGMENTATION])
    label = sorted((dataset / "gtFine" / "val" / "frankfurt").iterdir())[0]
    assert np.array_equal(full[0].numpy(), label_ids_to_train_ids(np.asarray(Image.open(label)), "x"))
    assert FULL_RES_SEGMENTATION not in task.data("train", "photo").labels  # the judge trains at image_size
    assert task.meta["scored_classes"] == list(range(19))
    assert task.meta["class_set"] == "the 19 Cityscapes trainIds (official)"


def test_full_resolution_labels_of_two_sizes_are_an_error(dataset):
    _frame(dataset, "val", "lindau", 5, np.full((4, 8), 7, dtype=np.uint8), size=(8, 4))
    with pytest.raises(HarnessError, match=r"lindau_000005_000019_gtFine_labelIds.png.*8x4.*16x8"):
        load_cityscapes(dataset, image_size=8)


def _ctx(tmp_path, task):
    config = EvalConfig(batch_size=2, judge_steps=10, judge_batch_size=4, n_sample_images=2)
    return EvalContext(model_name="pix2pix", task=task, seed=0, device=torch.device("cpu"), config=config,
                       sample_dir=tmp_path / "samples", setting="paired", variant="", progress=False)


def _by_metric(rows):
    return {r.metric: r for r in rows}


def _np_official_scores(hist: np.ndarray) -> tuple[float, float, float]:
    """get_scores of scripts/eval_cityscapes/util.py, restated."""
    diag = np.diag(hist).astype(np.float64)
    iou = diag / (hist.sum(1) + hist.sum(0) - diag + 1e-12)
    return diag.sum() / (hist.sum() + 1e-12), np.nanmean(diag / (hist.sum(1) + 1e-12)), np.nanmean(iou)


class LabelsAtImageSize:
    """photo→labels returns the task's own (downsampled) test label colours, in order: perfect at the image size."""

    def __init__(self, labels: torch.Tensor) -> None:
        self.labels, self.next = labels, 0

    def directions(self):
        return ("AtoB", "BtoA")

    def translate(self, images, direction):
        if direction == "AtoB":
            return images
        out = self.labels[self.next : self.next + len(images)]
        self.next += len(images)
        return out


def _cityscapes(root):
    ids = np.full((8, 16), 7, dtype=np.uint8)  # road
    ids[:3], ids[3:, 12:] = 23, 26  # sky, a car
    ids[1:7, 5] = 17  # a one-pixel pole: nearest downsampling to 8 columns loses or widens it
    ids[7, :2] = 0  # unlabeled (ignored)
    for i in range(4):
        _frame(root, "train", "aachen", i, ids)
    for i in range(3):
        _frame(root, "val", "frankfurt", 10 + i, np.roll(ids, i, axis=1))
    return load_cityscapes(root, image_size=8)


def test_fcn_scenes_scores_at_the_ground_truth_full_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))
    task = _cityscapes(tmp_path / "cityscapes")
    photos = task.data("test", "photo")
    full = photos.labels[FULL_RES_SEGMENTATION]
    assert full.shape == (3, 8, 16) and photos.labels["segmentation"].shape == (3, 8, 8)
    labels = task.data("test", "labels").get()
    rows = _by_metric(fcn_scenes.evaluate_fcn_scenes(LabelsAtImageSize(labels), _ctx(tmp_path, task)))
    # Oracle: the 8x8 output's ids, each column doubled to the 8x16 ground truth (nearest), counted at full size.
    pred = np.repeat(colors_to_train_ids(labels, torch.tensor(task.meta["palette"])).numpy(), 2, axis=2)
    truth = full.numpy().astype(np.int64)
    keep = truth < 19
    hist = np.bincount(19 * truth[keep] + pred[keep], minlength=19 * 19).reshape(19, 19)
    assert hist.sum() == 3 * (8 * 16 - 2)  # every full-size pixel but the two unlabeled ones
    acc, class_acc, class_iou = _np_official_scores(hist)
    assert acc < 1.0  # the pole is lost at 8x8: scoring against downsampled labels would give 1.0
    assert rows["fcn_photo2labels_pixel_acc"].value == pytest.approx(acc, rel=1e-12)
    assert rows["fcn_photo2labels_class_acc"].value == pytest.approx(class_acc, rel=1e-12)
    assert rows["fcn_photo2labels_class_iou"].value == pytest.approx(class_iou, rel=1e-12)
    for direction in ("labels2photo", "photo2labels"):
        assert sum(m.startswith(f"fcn_{direction}_iou[") for m in rows) == 19  # the official 19 classes
    row = rows["fcn_labels2photo_class_iou"]
    assert "over 19 of 19 classes; class_set=the 19 Cityscapes trainIds (official)" in row.protocol
    assert "scored_at=8x16 ground-truth pixels (outputs segmented at 8x8, class scores resized up)" in row.protocol
    # Frames scored one at a time (chunks bound the full-size class scores) give the same rows.
    monkeypatch.setattr(fcn_scenes, "SCORED_PIXELS_PER_CHUNK", 8 * 16)
    again = fcn_scenes.evaluate_fcn_scenes(LabelsAtImageSize(labels), _ctx(tmp_path, task))
    assert {m: r.value for m, r in _by_metric(again).items() if m.startswith("fcn_")} == {
        m: r.value for m, r in rows.items() if m.startswith("fcn_")}
