import math

import numpy as np
import pytest
import torch

from harness.core.errors import HarnessError
from metrics.fcn_score import (
    colors_to_train_ids,
    fcn_confusion_update,
    fcn_score,
    fcn_scores_from_confusion,
    new_confusion,
    per_class_scores,
)


def _np_fast_hist(a, b, n):
    """The official util.py fast_hist (a = ground truth, b = prediction), re-typed from the script."""
    k = np.where((a >= 0) & (a < n))[0]
    bc = np.bincount(n * a[k].astype(int) + b[k], minlength=n**2)
    return bc.reshape(n, n)


def _np_scores(hist):
    """The official get_scores (numpy nanmean semantics)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        acc = np.diag(hist).sum() / hist.sum()
        cl_acc = np.nanmean(np.diag(hist) / hist.sum(1))
        iu = np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist))
        return acc, cl_acc, np.nanmean(iu)


# One frame of 2x4 pixels, 3 classes. Ground truth / prediction per pixel:
#   gt   = 0 0 1 1 | 2 2 255 1
#   pred = 0 1 1 1 | 2 0 2   2
TARGET = torch.tensor([[[0, 0, 1, 1], [2, 2, 255, 1]]])
PRED = torch.tensor([[[0, 1, 1, 1], [2, 0, 2, 2]]])
# Hand count (the 255 pixel dropped): gt0 -> pred {0:1, 1:1}; gt1 -> {1:2, 2:1}; gt2 -> {2:1, 0:1}.
EXPECTED_HIST = torch.tensor([[1, 1, 0], [0, 2, 1], [1, 0, 1]])


def test_hand_computed_confusion_and_scores():
    hist = fcn_confusion_update(new_confusion(3), PRED, TARGET, 3)
    assert torch.equal(hist, EXPECTED_HIST)
    scores = fcn_scores_from_confusion(hist)
    # pixel acc = 4 / 7; class acc = mean(1/2, 2/3, 1/2); IoU: rows (2,3,2), cols (2,3,2), diag (1,2,1)
    # -> 1/(2+2-1), 2/(3+3-2), 1/(2+2-1) = 1/3, 1/2, 1/3.
    assert scores["pixel_acc"] == pytest.approx(4 / 7, abs=1e-12)
    assert scores["class_acc"] == pytest.approx((1 / 2 + 2 / 3 + 1 / 2) / 3, abs=1e-12)
    assert scores["class_iou"] == pytest.approx((1 / 3 + 1 / 2 + 1 / 3) / 3, abs=1e-12)
    assert fcn_score(PRED, TARGET, 3) == scores


def test_out_of_range_targets_are_dropped():
    target = torch.tensor([[[255, -1, 3, 7], [0, 1, 2, 255]]])
    pred = torch.tensor([[[0, 1, 2, 0], [0, 1, 2, 1]]])
    hist = fcn_confusion_update(new_confusion(3), pred, target, 3)
    assert torch.equal(hist, torch.eye(3, dtype=torch.int64))
    assert fcn_score(pred, target, 3)["pixel_acc"] == 1.0


def test_prediction_out_of_range_is_an_error():
    with pytest.raises(HarnessError, match="predicted ids"):
        fcn_confusion_update(new_confusion(3), torch.tensor([[[3]]]), torch.tensor([[[0]]]), 3)
    with pytest.raises(HarnessError, match="shape"):
        fcn_confusion_update(new_confusion(3), torch.zeros(1, 2, 2, dtype=torch.long), torch.zeros(1, 2, 3).long(), 3)


def test_parity_with_numpy_fast_hist_on_random_data():
    rng = np.random.default_rng(0)
    k = 19
    target = rng.integers(0, k, size=(5, 12, 10))
    target[rng.random(target.shape) < 0.1] = 255
    pred = rng.integers(0, k, size=target.shape)
    expected = _np_fast_hist(target.reshape(-1), pred.reshape(-1), k)
    hist = fcn_confusion_update(new_confusion(k), torch.from_numpy(pred), torch.from_numpy(target), k)
    assert np.array_equal(hist.numpy(), expected)
    acc, cl_acc, iou = _np_scores(expected)
    scores = fcn_scores_from_confusion(hist)
    assert scores["pixel_acc"] == pytest.approx(acc, rel=1e-12)
    assert scores["class_acc"] == pytest.approx(cl_acc, rel=1e-12)
    assert scores["class_iou"] == pytest.approx(iou, rel=1e-12)


def test_batch_size_independence():
    gen = torch.Generator().manual_seed(1)
    target = torch.randint(0, 6, (9, 8, 8), generator=gen)
    pred = torch.randint(0, 5, (9, 8, 8), generator=gen)
    hists = []
    for batch in (1, 2, 4, 9):
        hist = new_confusion(5)
        for start in range(0, 9, batch):
            hist = fcn_confusion_update(hist, pred[start : start + batch], target[start : start + batch], 5)
        hists.append(hist)
    assert all(torch.equal(h, hists[0]) for h in hists)
    float_hist = fcn_confusion_update(torch.zeros(5, 5, dtype=torch.float64), pred, target, 5)
    assert torch.equal(float_hist, hists[0].double())


def test_absent_classes_are_nan_and_skipped():
    # Class 2 never appears in ground truth or prediction; class 3 is predicted but absent from the ground truth.
    hist = torch.tensor([[2, 0, 0, 1], [0, 3, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
    acc, iou = per_class_scores(hist)
    assert acc[0] == pytest.approx(2 / 3) and acc[1] == 1.0
    assert math.isnan(acc[2]) and math.isnan(acc[3])
    assert iou[0] == pytest.approx(2 / 3) and iou[1] == 1.0 and math.isnan(iou[2]) and iou[3] == 0.0
    scores = fcn_scores_from_confusion(hist)
    assert scores["class_acc"] == pytest.approx((2 / 3 + 1) / 2)
    assert scores["class_iou"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    _, cl_acc, mean_iou = _np_scores(hist.numpy())
    assert scores["class_acc"] == pytest.approx(cl_acc) and scores["class_iou"] == pytest.approx(mean_iou)


def test_nearest_colour_mapping():
    palette = torch.tensor([[128, 64, 128], [70, 70, 70], [0, 0, 142], [0, 0, 0]], dtype=torch.uint8)
    pixels = torch.tensor([
        [128, 64, 128],  # exact class 0
        [120, 70, 120],  # near class 0
        [75, 68, 72],  # near class 1
        [10, 5, 150],  # near class 2
        [3, 3, 3],  # near class 3
        [0, 0, 71],  # exactly between classes 2 and 3 -> lower id
    ], dtype=torch.float32) / 255.0
    images = pixels.T.reshape(1, 3, 2, 3)
    ids = colors_to_train_ids(images, palette)
    assert ids.dtype == torch.int64 and ids.shape == (1, 2, 3)
    assert ids.reshape(-1).tolist() == [0, 0, 1, 2, 3, 2]
    # Independent oracle: brute-force numpy argmin over squared distances, with a tiny chunk.
    rand = torch.rand(2, 3, 5, 7, generator=torch.Generator().manual_seed(3))
    dist = ((rand.permute(0, 2, 3, 1).numpy()[..., None, :] * 255.0 - palette.numpy()) ** 2).sum(-1)
    assert np.array_equal(colors_to_train_ids(rand, palette, chunk=5).numpy(), dist.argmin(-1))
