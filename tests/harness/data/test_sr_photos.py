"""The embedded SR tasks: split by photo, LR = MATLAB bicubic of the modcropped HR, tiles aligned, whole test images."""

import hashlib

import pytest
import torch

from harness.core.errors import HarnessError
from harness.data.imresize import imresize
from harness.data.sr import LOADERS, PHOTO_SETS, PHOTO_SHA256, SRConfig, build_sr, build_sr_gray, photo
from harness.data.sr_pairs import Photo, grid_crops, modcrop, pair, unpad

SMALL = SRConfig(image_size=32, tile=64, test_size=0)

pytestmark = pytest.mark.usefixtures("one_thread_module")


@pytest.fixture(scope="module")
def task():
    return build_sr(SMALL)


def test_every_listed_photo_is_bundled_and_the_sets_are_split_by_photo():
    for name in LOADERS:
        image = photo(name)
        assert image.dtype == torch.uint8 and image.shape[0] in (1, 3) and min(image.shape[1:]) >= 128, name
    for names in PHOTO_SETS.values():
        assert not set(names["train"]) & set(names["test"])
    assert {photo(n).shape[0] for s in ("train", "test") for n in PHOTO_SETS["gray"][s]} == {1}
    assert {photo(n).shape[0] for s in ("train", "test") for n in PHOTO_SETS["rgb"][s]} == {3}


def test_every_photo_decodes_to_its_pinned_pixels(caplog):
    with caplog.at_level("WARNING"):
        digests = {name: hashlib.sha256(photo(name).numpy().tobytes()).hexdigest() for name in LOADERS}
    assert digests == PHOTO_SHA256 and not caplog.records


def test_a_photo_that_decodes_otherwise_is_reported_by_name(monkeypatch, caplog):
    monkeypatch.setitem(PHOTO_SHA256, "coffee", "0" * 64)
    with caplog.at_level("WARNING"):
        photo("coffee")
    (record,) = caplog.records
    assert "'coffee'" in record.getMessage() and "000000000000" in record.getMessage()


def test_test_split_holds_whole_images_with_matlab_bicubic_lr(task):
    hr_data, lr_data = task.data("test", "HR"), task.data("test", "LR")
    assert task.meta["test_names"] == ["astronaut", "chelsea", "coffee", "grace_hopper"] and task.paired
    for index, name in enumerate(task.meta["test_names"]):
        hr = (unpad(hr_data, index) * 255).round().to(torch.uint8)
        assert torch.equal(hr[0], modcrop(photo(name), 4))  # whole photo, cropped to multiples of 4
        lr = (unpad(lr_data, index) * 255).round().to(torch.uint8)
        assert torch.equal(lr, imresize(hr, 1 / 4))


def test_training_tiles_are_aligned_pairs_from_training_photos_only(task):
    lr, hr = task.data("train", "LR"), task.data("train", "HR")
    assert hr.images.shape[1:] == (3, 64, 64) and lr.images.shape[1:] == (3, 16, 16)
    assert torch.equal(lr.labels["source"], hr.labels["source"])
    assert set(hr.labels["source"].tolist()) == set(range(len(PHOTO_SETS["rgb"]["train"])))
    rocket_lr, rocket_hr = pair(Photo("rocket", photo("rocket")), 4)
    first = int((hr.labels["source"] == 0).nonzero()[0])
    assert torch.equal(hr.images[first], rocket_hr[:, :64, :64])
    assert torch.equal(lr.images[first], rocket_lr[:, :16, :16])


def test_grey_set_and_grid_crops():
    grey = build_sr_gray(SRConfig(image_size=32, tile=64, test_size=256))
    assert grey.data("train", "HR").images.shape[1] == 1
    # camera and moon 512² give 2x2 crops; coins 303x384 (modcropped 300x384) gives 1x1
    assert grey.meta["test_names"] == ["camera@0,0", "camera@0,256", "camera@256,0", "camera@256,256",
                                       "coins@0,0", "moon@0,0", "moon@0,256", "moon@256,0", "moon@256,256"]
    assert grey.data("test", "HR").labels["size"].tolist() == [[256, 256]] * 9
    assert grey.meta["test_crop"] == 256 and grey.image_size == 32


def test_grid_crops_are_disjoint_and_aligned():
    crops = grid_crops(Photo("p", torch.arange(3 * 10 * 13, dtype=torch.uint8).reshape(3, 10, 13)), 4, 2)
    assert [c.name for c in crops] == ["p@0,0", "p@0,4", "p@0,8", "p@4,0", "p@4,4", "p@4,8"]
    assert all(tuple(c.hr.shape) == (3, 4, 4) for c in crops)
    assert torch.equal(crops[4].hr, torch.arange(3 * 10 * 13, dtype=torch.uint8).reshape(3, 10, 13)[:, 4:8, 4:8])


@pytest.mark.parametrize(("key", "value"), [("image_size", 30), ("tile", 16), ("test_size", 6), ("scale", 1)])
def test_bad_config_is_one_clear_error(key, value):
    with pytest.raises(HarnessError, match="sr"):
        build_sr(SRConfig(**{**SMALL.__dict__, key: value}))
