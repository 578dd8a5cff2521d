import time

import numpy as np
import pytest
import torch

from harness.core.errors import HarnessError
from harness.data import cityscapes_labels as cl
from harness.data.scenes import DRAWN_CLASSES, ScenesConfig, build_scenes, generate_layout, generate_scenes

SMALL = ScenesConfig(image_size=32, n_train=20, n_val=4, n_test=6, seed=3)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_label_table_matches_cityscapes_scripts():
    assert len(cl.LABELS) == 35
    assert cl.TRAIN_ID_NAMES[:3] == ("road", "sidewalk", "building")
    assert cl.TRAIN_ID_NAMES[10] == "sky" and cl.TRAIN_ID_NAMES[13] == "car" and cl.TRAIN_ID_NAMES[18] == "bicycle"
    assert cl.TRAIN_ID_PALETTE.shape == (19, 3) and cl.TRAIN_ID_PALETTE.dtype == np.uint8
    assert cl.TRAIN_ID_PALETTE[0].tolist() == [128, 64, 128] and cl.TRAIN_ID_PALETTE[10].tolist() == [70, 130, 180]
    # labelIds of the 19 classes, in trainId order (cityscapesScripts labels.py)
    ids = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33]
    assert cl.LABEL_ID_TO_TRAIN_ID[ids].tolist() == list(range(19))
    assert cl.LABEL_ID_TO_TRAIN_ID[[0, 1, 2, 3, 4, 5, 6, 9, 10, 14, 15, 16, 18, 29, 30]].tolist() == [255] * 15


def test_label_ids_to_train_ids_and_errors():
    out = cl.label_ids_to_train_ids(np.array([[7, 26], [0, 33]], dtype=np.uint8), "a.png")
    assert out.dtype == np.uint8 and out.tolist() == [[0, 13], [255, 18]]
    with pytest.raises(HarnessError, match="frame_gtFine_labelIds.png.*40"):
        cl.label_ids_to_train_ids(np.array([[7, 40]]), "frame_gtFine_labelIds.png")


def test_train_ids_to_color():
    colours = cl.train_ids_to_color(np.array([[0, 255], [13, 10]]))
    assert colours.tolist() == [[[128, 64, 128], [0, 0, 0]], [[0, 0, 142], [70, 130, 180]]]


def test_generate_is_deterministic_and_well_formed():
    a, b = generate_scenes(32, 5, seed=1, stream=0), generate_scenes(32, 5, seed=1, stream=0)
    for key in a:
        assert np.array_equal(a[key], b[key])
    c = generate_scenes(32, 5, seed=2, stream=0)
    assert not np.array_equal(a["photo"], c["photo"])
    assert a["labels"].shape == (5, 3, 32, 32) and a["photo"].shape == (5, 3, 32, 32)
    assert a["segmentation"].shape == (5, 32, 32)


def test_task_contract(cache):
    task = build_scenes(SMALL)
    assert task.name == "scenes" and task.domains == ("labels", "photo") and task.paired
    assert task.meta["num_classes"] == 19 and task.meta["ignore_index"] == 255
    assert task.meta["directions"] == {"AtoB": "labels2photo", "BtoA": "photo2labels"}
    assert {s: len(task.data(s, "photo")) for s in ("train", "val", "test")} == {"train": 20, "val": 4, "test": 6}
    labels, photo = task.data("train", "labels"), task.data("train", "photo")
    seg = labels.labels["segmentation"]
    assert seg.dtype == torch.int64 and seg.shape == (20, 32, 32)
    assert torch.equal(seg, photo.labels["segmentation"])
    values = set(seg.unique().tolist())
    assert values <= set(range(19)) | {255}
    assert {0, 1, 10} <= values  # road, sidewalk, sky always present somewhere
    images = photo.get()
    assert images.dtype == torch.float32 and images.min() >= 0 and images.max() <= 1
    # the labels image is exactly the palette colour of each pixel's trainId (black for ignore)
    expected = torch.from_numpy(cl.train_ids_to_color(seg.numpy())).permute(0, 3, 1, 2)
    assert torch.equal(labels.images, expected)


def test_classes_cover_the_street(cache):
    seg = build_scenes(ScenesConfig(image_size=48, n_train=60, n_val=1, n_test=1)).data("train", "labels")
    present = set(seg.labels["segmentation"].unique().tolist())
    for name in ("road", "sidewalk", "building", "vegetation", "sky", "car", "person", "pole", "traffic sign"):
        assert cl.TRAIN_ID[name] in present, name
    assert 255 in present


def test_unpaired_halves_are_disjoint(cache):
    task = build_scenes(SMALL)
    a, b = task.unpaired_train["labels"], task.unpaired_train["photo"]
    assert len(a) == 10 and len(b) == 10
    train = task.data("train", "labels")
    assert torch.equal(a.images, train.images[:10])
    assert torch.equal(b.images, task.data("train", "photo").images[10:])
    assert torch.equal(task.train_domain("photo", unpaired=False).images, task.data("train", "photo").images)


def test_cache_hit_and_key(cache):
    first = build_scenes(SMALL)
    files = list((cache / "tasks").glob("scenes-*.pt"))
    assert len(files) == 1
    second = build_scenes(SMALL)
    assert torch.equal(first.data("test", "photo").images, second.data("test", "photo").images)
    build_scenes(ScenesConfig(image_size=32, n_train=20, n_val=4, n_test=6, seed=4))
    assert len(list((cache / "tasks").glob("scenes-*.pt"))) == 2


def test_splits_do_not_shift_when_sizes_change(cache):
    bigger = build_scenes(ScenesConfig(image_size=32, n_train=30, n_val=4, n_test=6, seed=3))
    assert torch.equal(bigger.data("test", "photo").images, build_scenes(SMALL).data("test", "photo").images)


def test_speed(cache):
    start = time.perf_counter()
    generate_scenes(64, 100, seed=0, stream=0)
    assert time.perf_counter() - start < 5.0  # the default 1300 scenes then take well under 20 s


def test_rejects_tiny_images(cache):
    with pytest.raises(HarnessError, match="image_size"):
        build_scenes(ScenesConfig(image_size=8))


def test_scored_classes_are_exactly_the_classes_the_generator_draws(cache):
    rng = np.random.default_rng(0)
    drawn = set().union(*(np.unique(generate_layout(rng, 40).seg).tolist() for _ in range(150)))
    assert drawn == set(DRAWN_CLASSES) | {255}
    assert len(DRAWN_CLASSES) == 10 and list(DRAWN_CLASSES) == sorted(DRAWN_CLASSES)
    meta = build_scenes(SMALL).meta
    assert meta["scored_classes"] == list(DRAWN_CLASSES)
    assert meta["class_set"] == "the trainIds the scenes generator draws"
