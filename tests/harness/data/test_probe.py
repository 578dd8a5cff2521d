import pytest
import torch

from harness.core.errors import HarnessError
from harness.data.probe import BACKGROUND, ProbeConfig, build_probe_geometry, build_probe_texture, foreground_mask

SMALL = ProbeConfig(image_size=32, n_train=20, n_val=4, n_test=6, seed=2)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("build", [build_probe_texture, build_probe_geometry])
def test_contract_and_masks(cache, build):
    task = build(SMALL)
    assert task.paired and task.domains == ("A", "B") and task.label_kinds == ("mask",)
    for domain in ("A", "B"):
        data = task.data("test", domain)
        mask = data.labels["mask"]
        assert mask.dtype == torch.int64 and mask.shape == (6, 32, 32) and set(mask.unique().tolist()) == {0, 1}
        # the known-background extraction recovers the ground-truth mask of real images exactly
        assert torch.equal(foreground_mask(data.get()), mask.bool())
    assert torch.equal(task.unpaired_train["A"].images, task.data("train", "A").images[:10])
    assert torch.equal(task.unpaired_train["B"].images, task.data("train", "B").images[10:])


def test_texture_keeps_shape_changes_colour(cache):
    task = build_probe_texture(SMALL)
    a, b = task.data("train", "A"), task.data("train", "B")
    assert torch.equal(a.labels["mask"], b.labels["mask"])
    fg = a.labels["mask"].bool()
    red, blue = a.get().permute(0, 2, 3, 1)[fg], b.get().permute(0, 2, 3, 1)[fg]
    assert (red[:, 0] > 0.7).all() and (red[:, 2] < 0.3).all()
    assert (blue[:, 2] > blue[:, 0] + 0.2).all()
    assert blue[:, 2].std() > 0.1  # stripes: two blues


def test_geometry_changes_shape_keeps_colour(cache):
    task = build_probe_geometry(SMALL)
    a, b = task.data("train", "A"), task.data("train", "B")
    ma, mb = a.labels["mask"].bool(), b.labels["mask"].bool()
    assert (ma & ~mb).sum() == 0  # each disc is inscribed in its square
    ratio = ma.sum().item() / mb.sum().item()
    assert 0.7 < ratio < 0.85  # pi / 4 = 0.785 up to rasterisation
    ca = (a.get() * ma.unsqueeze(1)).sum((0, 2, 3)) / ma.sum()
    cb = (b.get() * mb.unsqueeze(1)).sum((0, 2, 3)) / mb.sum()
    assert torch.allclose(ca, cb, atol=0.05)


def test_foreground_mask_hand_values():
    images = torch.tensor(BACKGROUND).view(1, 3, 1, 1).repeat(1, 1, 2, 2)
    images[0, :, 0, 1] = torch.tensor([1.0, 0.0, 0.0])
    images[0, :, 1, 1] = torch.tensor(BACKGROUND) - 0.1  # distance 0.173 < 0.2
    assert foreground_mask(images).tolist() == [[[False, True], [False, False]]]
    assert foreground_mask(images, threshold=0.1).tolist() == [[[False, True], [False, True]]]
    with pytest.raises(HarnessError):
        foreground_mask(images * 2)


def test_deterministic_and_cached(cache):
    first, second = build_probe_geometry(SMALL), build_probe_geometry(SMALL)
    assert torch.equal(first.data("train", "B").images, second.data("train", "B").images)
    assert len(list((cache / "tasks").glob("probe_geometry-*.pt"))) == 1
    other = build_probe_geometry(ProbeConfig(image_size=32, n_train=20, n_val=4, n_test=6, seed=3))
    assert not torch.equal(first.data("train", "B").images, other.data("train", "B").images)
