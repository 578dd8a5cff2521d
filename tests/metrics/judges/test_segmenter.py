import pytest
import torch

from harness.core.atomic import torch_load, torch_save
from harness.core.cache import file_sha256, weights_sha256
from harness.core.errors import HarnessError
from metrics.fcn_score import fcn_score
from metrics.judges.segmenter import (
    Segmenter,
    load_or_train_segmenter,
    load_segmenter_weights,
    segment,
    train_segmenter,
)

COLOURS = torch.tensor([[0.2, 0.2, 0.2], [0.9, 0.1, 0.1], [0.1, 0.3, 0.9]])
CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_thread_module")


def rectangles(n: int, seed: int, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Background class 0 with one class-1 and one class-2 rectangle; photo = class colour + noise; 255 border."""
    gen = torch.Generator().manual_seed(seed)
    masks = torch.zeros(n, size, size, dtype=torch.int64)
    for i in range(n):
        for cls in (1, 2):
            top, left = torch.randint(0, size - 5, (2,), generator=gen).tolist()
            h, w = torch.randint(3, 6, (2,), generator=gen).tolist()
            masks[i, top : top + h, left : left + w] = cls
    images = COLOURS[masks].permute(0, 3, 1, 2) + 0.05 * torch.randn(n, 3, size, size, generator=gen)
    masks[:, 0, :] = 255  # an ignored row: must not disturb training
    return images.clamp(0, 1).float(), masks


def _train(images, masks, seed=0, steps=40):
    return train_segmenter(images, masks, num_classes=3, ignore_index=255, steps=steps, batch_size=8, seed=seed,
                           device=CPU, progress=False)


def test_architecture_shapes_and_size():
    model = Segmenter(5)
    assert sum(p.numel() for p in model.parameters()) == 118_981  # WIDTH 16, 5 classes
    assert model(torch.rand(2, 3, 13, 10)).shape == (2, 5, 13, 10)
    assert model.features(torch.rand(2, 3, 13, 10)).shape == (2, 6 * 16)


def test_learns_coloured_rectangles():
    images, masks = rectangles(32, seed=0)
    model = _train(images, masks)
    test_images, test_masks = rectangles(16, seed=1)
    pred = segment(model, test_images, batch_size=5, device=CPU)
    assert pred.dtype == torch.int64 and pred.shape == test_masks.shape
    assert fcn_score(pred, test_masks, 3)["pixel_acc"] > 0.95
    assert torch.equal(pred, segment(model, test_images, batch_size=16, device=CPU))


def test_training_is_deterministic_for_a_seed():
    images, masks = rectangles(4, seed=2, size=8)
    a, b, c = _train(images, masks, steps=2), _train(images, masks, steps=2), _train(images, masks, seed=1, steps=2)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_cache_hit_reuses_file(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    images, masks = rectangles(8, seed=3)
    args = dict(num_classes=3, ignore_index=255, steps=2, batch_size=4, seed=0, device=CPU, progress=False)
    model, path, sha = load_or_train_segmenter(images, masks, data_key="k1", **args)
    assert path.parent == tmp_path / "judges" and path.name.startswith("segmenter-") and path.suffix == ".pt"
    assert sha == weights_sha256(torch_load(path)["state_dict"]) and len(sha) == 64
    mtime = path.stat().st_mtime_ns
    again, path2, sha2 = load_or_train_segmenter(images[:1] * 0, masks[:1], data_key="k1", **args)
    assert (path2, sha2, path2.stat().st_mtime_ns) == (path, sha, mtime)  # a hit: the data tensors are not read
    probe = torch.rand(2, 3, 16, 16)
    assert torch.equal(model(probe), again(probe))
    _, path3, _ = load_or_train_segmenter(images, masks, data_key="k2", **args)
    assert path3 != path


def test_user_weights_checked(tmp_path):
    model = Segmenter(3)
    path = tmp_path / "seg.pt"
    torch_save({"arch": "harness-segmenter-v1", "num_classes": 3, "state_dict": model.state_dict()}, path)
    loaded = load_segmenter_weights(path, file_sha256(path), num_classes=3)
    probe = torch.rand(1, 3, 8, 8)
    assert torch.equal(loaded(probe), model.eval()(probe))
    with pytest.raises(HarnessError, match="sha256"):
        load_segmenter_weights(path, "0" * 64, num_classes=3)
    with pytest.raises(HarnessError, match="not found"):
        load_segmenter_weights(tmp_path / "missing.pt", "0" * 64, num_classes=3)
    with pytest.raises(HarnessError, match="4 classes"):
        load_segmenter_weights(path, file_sha256(path), num_classes=4)


def test_bad_training_masks_rejected():
    with pytest.raises(HarnessError, match="masks"):
        _train(torch.rand(2, 3, 8, 8), torch.zeros(2, 8, 7, dtype=torch.int64), steps=1)
