import pytest
import torch

from harness.core.errors import HarnessError
from metrics.fcn_score import fcn_score
from metrics.judges.base import Recipe, train_judge
from metrics.judges.segmenter import SEGMENTER, Segmenter, segment, segmenter_data

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
    return (images.clamp(0, 1) * 255).round().to(torch.uint8), masks


def _train(images, masks, seed=0, steps=40):
    data = segmenter_data(images, masks, num_classes=3, ignore_index=255)
    return train_judge(SEGMENTER, data, Recipe(steps, 8, SEGMENTER.lr, seed), device=CPU, progress=False)


def test_architecture_shapes_and_size():
    model = Segmenter(5)
    assert sum(p.numel() for p in model.parameters()) == 118_981  # WIDTH 16, 5 classes
    assert model(torch.rand(2, 3, 13, 10)).shape == (2, 5, 13, 10)
    assert model.features(torch.rand(2, 3, 13, 10)).shape == (2, 6 * 16)
    assert SEGMENTER.features(model, torch.rand(2, 3, 8, 8))["96"].shape == (2, 96)


def test_learns_coloured_rectangles():
    images, masks = rectangles(32, seed=0)
    model = _train(images, masks)
    test_images, test_masks = rectangles(16, seed=1)
    pred = segment(model, test_images.float() / 255, batch_size=5, device=CPU)
    assert pred.dtype == torch.int64 and pred.shape == test_masks.shape
    assert fcn_score(pred, test_masks, 3)["pixel_acc"] > 0.95
    assert torch.equal(pred, segment(model, test_images.float() / 255, batch_size=16, device=CPU))


def test_training_is_deterministic_for_a_seed():
    images, masks = rectangles(4, seed=2, size=8)
    a, b, c = _train(images, masks, steps=2), _train(images, masks, steps=2), _train(images, masks, seed=1, steps=2)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_bad_training_data_rejected():
    with pytest.raises(HarnessError, match="masks"):
        segmenter_data(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.zeros(2, 8, 7, dtype=torch.int64),
                       num_classes=3, ignore_index=255)
    with pytest.raises(HarnessError, match="uint8"):
        segmenter_data(torch.rand(2, 3, 8, 8), torch.zeros(2, 8, 8, dtype=torch.int64), num_classes=3,
                       ignore_index=255)
    bad = segmenter_data(torch.zeros(2, 3, 8, 8, dtype=torch.uint8), torch.full((2, 8, 8), 7, dtype=torch.int64),
                         num_classes=3, ignore_index=255)
    with pytest.raises(HarnessError, match=r"\[0, 2\] or 255"):
        train_judge(SEGMENTER, bad, SEGMENTER.recipe(1, 2), device=CPU, progress=False)
