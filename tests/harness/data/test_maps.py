import numpy as np
import pytest
import torch

from harness.data.maps import CLASS_NAMES, MAP_PALETTE, MapsConfig, build_maps, generate_maps

SMALL = MapsConfig(image_size=32, n_train=16, n_val=4, n_test=4, seed=1)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    return tmp_path


def test_deterministic():
    a, b = generate_maps(32, 4, seed=5, stream=1), generate_maps(32, 4, seed=5, stream=1)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["aerial"], generate_maps(32, 4, seed=6, stream=1)["aerial"])


def test_task_contract(cache):
    task = build_maps(SMALL)
    assert task.name == "maps" and task.domains == ("map", "aerial") and task.paired
    assert task.meta["class_names"] == list(CLASS_NAMES) and task.meta["num_classes"] == 6
    tile, aerial = task.data("train", "map"), task.data("train", "aerial")
    seg = tile.labels["segmentation"]
    assert seg.dtype == torch.int64 and seg.shape == (16, 32, 32) and int(seg.max()) < 6
    assert torch.equal(seg, aerial.labels["segmentation"])
    # the map tile is exactly the flat palette colour of each pixel's class
    expected = torch.from_numpy(MAP_PALETTE[seg.numpy()]).permute(0, 3, 1, 2)
    assert torch.equal(tile.images, expected)
    x = aerial.get()
    assert x.dtype == torch.float32 and x.shape == (16, 3, 32, 32) and 0 <= x.min() and x.max() <= 1
    assert not torch.equal(aerial.images, tile.images)


def test_all_classes_appear_and_aerial_is_textured(cache):
    task = build_maps(MapsConfig(image_size=64, n_train=40, n_val=1, n_test=1))
    seg = task.data("train", "map").labels["segmentation"]
    assert set(seg.unique().tolist()) == set(range(6))
    aerial = task.data("train", "aerial").get()
    water = (seg == CLASS_NAMES.index("water")).unsqueeze(1).expand_as(aerial)
    assert aerial[water].std() > 0.02  # ripples and noise, not a flat fill
    road = (seg == CLASS_NAMES.index("road")).unsqueeze(1).expand_as(aerial)
    assert aerial[road].mean() < 0.6  # asphalt, darker than the white map streets
    assert np.isclose(task.data("train", "map").get()[road].mean().item(), 1.0)


def test_unpaired_halves_and_cache(cache):
    task = build_maps(SMALL)
    assert torch.equal(task.unpaired_train["map"].images, task.data("train", "map").images[:8])
    assert torch.equal(task.unpaired_train["aerial"].images, task.data("train", "aerial").images[8:])
    again = build_maps(SMALL)
    assert len(list((cache / "tasks").glob("maps-*.pt"))) == 1
    assert torch.equal(again.data("test", "aerial").images, task.data("test", "aerial").images)
    assert again.meta["cache_key"] == task.meta["cache_key"]
