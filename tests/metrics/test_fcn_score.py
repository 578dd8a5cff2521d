import ast
import inspect
import math

import numpy as np
import pytest
import torch

import metrics.fcn_score as fcn_module
from harness.core.errors import HarnessError
from metrics.classifier_accuracy import confusion_matrix_update
from metrics.fcn_score import (
    colors_to_train_ids,
    describe_class_mean,
    fcn_confusion_update,
    fcn_score,
    fcn_scores_from_confusion,
    new_confusion,
    official_frame_update,
    per_class_scores,
)


def _np_fast_hist(a, b, n):
    """The official util.py fast_hist (a = ground truth, b = prediction), restated in numpy."""
    k = np.where((a >= 0) & (a < n))[0]
    bc = np.bincount(n * a[k].astype(int) + b[k], minlength=n**2)
    return bc.reshape(n, n)


def _np_get_scores(hist):
    """The official util.py get_scores, restated in numpy: 1e-12 in every denominator, nanmean over all K."""
    hist = np.asarray(hist, dtype=np.float64)
    acc = np.diag(hist).sum() / (hist.sum() + 1e-12)
    cl_acc = np.diag(hist) / (hist.sum(1) + 1e-12)
    iu = np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist) + 1e-12)
    return acc, np.nanmean(cl_acc), np.nanmean(iu), cl_acc, iu


def _assert_official(hist):
    acc, cl_acc, iou, per_acc, per_iou = _np_get_scores(hist.numpy())
    scores = fcn_scores_from_confusion(hist)
    assert scores["pixel_acc"] == pytest.approx(acc, rel=1e-12, abs=1e-15)
    assert scores["class_acc"] == pytest.approx(cl_acc, rel=1e-12, abs=1e-15)
    assert scores["class_iou"] == pytest.approx(iou, rel=1e-12, abs=1e-15)
    got_acc, got_iou = per_class_scores(hist)
    assert np.allclose(got_acc.numpy(), per_acc, rtol=1e-12, atol=0) and np.allclose(got_iou.numpy(), per_iou,
                                                                                      rtol=1e-12, atol=0)
    return scores


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
    _assert_official(hist)


def test_out_of_range_targets_are_dropped():
    target = torch.tensor([[[255, -1, 3, 7], [0, 1, 2, 255]]])
    pred = torch.tensor([[[0, 1, 2, 0], [0, 1, 2, 1]]])
    hist = fcn_confusion_update(new_confusion(3), pred, target, 3)
    assert torch.equal(hist, torch.eye(3, dtype=torch.int64))
    assert fcn_score(pred, target, 3)["pixel_acc"] == pytest.approx(1.0, abs=1e-12)


def test_bad_input_is_an_error():
    with pytest.raises(HarnessError, match=r"predictions must be in \[0, 2\], got \[3, 3\]"):
        fcn_confusion_update(new_confusion(3), torch.tensor([[[3]]]), torch.tensor([[[0]]]), 3)
    with pytest.raises(HarnessError, match="shape"):
        fcn_confusion_update(new_confusion(3), torch.zeros(1, 2, 2, dtype=torch.long), torch.zeros(1, 2, 3).long(), 3)
    with pytest.raises(HarnessError, match="floats"):
        fcn_confusion_update(None, torch.zeros(1, 2, 2), torch.zeros(1, 2, 2, dtype=torch.long), 3)
    with pytest.raises(HarnessError, match=r"expected \(3, 3\)"):
        fcn_confusion_update(new_confusion(4), PRED, TARGET, 3)
    for bad in ([], [0, 0], [3]):
        with pytest.raises(HarnessError, match="scored classes"):
            fcn_scores_from_confusion(EXPECTED_HIST, bad)
    with pytest.raises(HarnessError, match="present_only"):
        fcn_scores_from_confusion(EXPECTED_HIST, class_mean="nanmean")


def test_parity_with_the_official_script_on_random_data():
    rng = np.random.default_rng(0)
    k = 19
    target = rng.integers(0, k, size=(5, 12, 10))
    target[rng.random(target.shape) < 0.1] = 255
    pred = rng.integers(0, k, size=target.shape)
    expected = _np_fast_hist(target.reshape(-1), pred.reshape(-1), k)
    hist = fcn_confusion_update(new_confusion(k), torch.from_numpy(pred), torch.from_numpy(target), k)
    assert np.array_equal(hist.numpy(), expected)
    _assert_official(hist)


# 4 classes. Class 0 and 1 present in both; class 2 absent from ground truth AND prediction; class 3 predicted once
# but absent from the ground truth.
ABSENT_FROM_GT = torch.tensor([[2, 0, 0, 1], [0, 3, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])
# 3 classes. Class 2 is in the ground truth (2 pixels) but never predicted.
ABSENT_FROM_PRED = torch.tensor([[2, 0, 0], [0, 3, 0], [1, 1, 0]])


def test_classes_absent_from_ground_truth_or_both_score_zero_and_count():
    scores = _assert_official(ABSENT_FROM_GT)
    acc, iou = per_class_scores(ABSENT_FROM_GT)
    assert acc.tolist() == pytest.approx([2 / 3, 1.0, 0.0, 0.0], abs=1e-12)
    assert iou.tolist() == pytest.approx([2 / 3, 1.0, 0.0, 0.0], abs=1e-12)  # class 0: 2 / (3 + 2 - 2)
    assert scores["class_acc"] == pytest.approx((2 / 3 + 1) / 4, abs=1e-12)  # all 4 classes in the mean
    assert scores["class_iou"] == pytest.approx((2 / 3 + 1) / 4, abs=1e-12)
    assert scores["pixel_acc"] == pytest.approx(5 / 6, abs=1e-12)


def test_class_absent_from_prediction_scores_zero():
    scores = _assert_official(ABSENT_FROM_PRED)
    acc, iou = per_class_scores(ABSENT_FROM_PRED)
    assert acc[2] == 0.0 and iou[2] == 0.0
    assert scores["class_iou"] == pytest.approx((2 / 3 + 3 / 4 + 0) / 3, abs=1e-12)  # class 1: 3 / (3 + 4 - 3)
    assert fcn_scores_from_confusion(ABSENT_FROM_PRED, class_mean="present_only") == pytest.approx(scores)


def test_present_only_is_the_named_nan_skipping_option():
    acc, iou = per_class_scores(ABSENT_FROM_GT, "present_only")
    assert math.isnan(acc[2]) and math.isnan(acc[3]) and math.isnan(iou[2]) and iou[3] == 0.0
    scores = fcn_scores_from_confusion(ABSENT_FROM_GT, class_mean="present_only")
    assert scores["class_acc"] == pytest.approx((2 / 3 + 1) / 2) and scores["class_iou"] == pytest.approx(
        (2 / 3 + 1 + 0) / 3)
    # The docstring example: the official mean counts the absent class, present_only does not.
    h = torch.tensor([[3, 1, 0], [0, 4, 0], [0, 0, 0]])
    assert fcn_scores_from_confusion(h)["class_iou"] == pytest.approx((3 / 4 + 4 / 5) / 3)
    assert fcn_scores_from_confusion(h, class_mean="present_only")["class_iou"] == pytest.approx((3 / 4 + 4 / 5) / 2)


def _perfect_hist(stray: bool) -> torch.Tensor:
    """11 classes; ground truth holds classes 0..9 (1000 pixels each), class 10 never; prediction = ground truth,
    except (``stray``) one pixel of class 0 predicted as the absent class 10."""
    target = torch.arange(10).repeat_interleave(1000).reshape(10, 1000, 1)
    pred = target.clone()
    if stray:
        pred[0, 0, 0] = 10
    return fcn_confusion_update(None, pred, target, 11)


def test_one_stray_pixel_of_an_absent_class():
    clean, stray = _perfect_hist(False), _perfect_hist(True)
    # Official rule over all K = 11 classes: the absent class scores 0 both times, so the mean barely moves
    # (one pixel of class 0 lost: 999/1000 instead of 1).
    assert fcn_scores_from_confusion(clean)["class_iou"] == pytest.approx(10 / 11, abs=1e-12)
    assert fcn_scores_from_confusion(stray)["class_iou"] == pytest.approx((9 + 999 / 1000) / 11, abs=1e-12)
    # Over the declared class set 0..9 (what a task scores) the perfect model scores 1 and the stray pixel costs
    # 1/1000 of one class.
    drawn = list(range(10))
    assert fcn_scores_from_confusion(clean, drawn)["class_iou"] == pytest.approx(1.0, abs=1e-12)
    assert fcn_scores_from_confusion(stray, drawn)["class_iou"] == pytest.approx((9 + 999 / 1000) / 10, abs=1e-12)
    # The NaN-skipping rule lets the stray pixel add class 10 to the mean: 1.000 -> 0.909.
    assert fcn_scores_from_confusion(clean, class_mean="present_only")["class_iou"] == pytest.approx(1.0)
    assert fcn_scores_from_confusion(stray, class_mean="present_only")["class_iou"] == pytest.approx(
        (9 + 999 / 1000) / 11, abs=1e-12)


def test_class_subset_keeps_the_full_matrix():
    # Scoring classes {0, 1} of ABSENT_FROM_GT: class 0's pixel predicted as unscored class 3 is still an error.
    scores = fcn_scores_from_confusion(ABSENT_FROM_GT, [0, 1])
    assert scores["class_iou"] == pytest.approx((2 / 3 + 1) / 2, abs=1e-12)
    assert scores["pixel_acc"] == pytest.approx(5 / 6, abs=1e-12)
    assert describe_class_mean("official", 10, 19).endswith("over 10 of 19 classes")
    assert "official get_scores" in describe_class_mean("official", 10, 19)
    assert "NOT the official" in describe_class_mean("present_only", 19, 19)


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
    assert all(fcn_scores_from_confusion(h, [0, 2, 4]) == fcn_scores_from_confusion(hists[0], [0, 2, 4]) for h in hists)
    float_hist = fcn_confusion_update(torch.zeros(5, 5, dtype=torch.float64), pred, target, 5)
    assert float_hist.dtype == torch.float64 and torch.equal(float_hist, hists[0].double())


def test_one_confusion_update():
    # FCN-score counts through the classifier-accuracy update; it has no bincount of its own.
    assert fcn_module.confusion_matrix_update is confusion_matrix_update
    calls = {n.func.attr for n in ast.walk(ast.parse(inspect.getsource(fcn_module)))
             if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
    assert "bincount" not in calls


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


def _np_fast_hist(a, b, n):
    """util.py's fast_hist semantics in numpy: bincount of n·a + b over a in [0, n); a longer vector drops the frame."""
    k = np.where((a >= 0) & (a < n))[0]
    counts = np.bincount(n * a[k].astype(int) + b[k], minlength=n**2)
    return None if len(counts) != n**2 else counts.reshape(n, n)


@pytest.mark.parametrize("seed", range(6))
def test_official_frame_update_matches_fast_hist_with_the_20th_map(seed):
    gen = np.random.default_rng(seed)
    truth = gen.choice([0, 3, 17, 18, 255], size=(6, 7)).astype(np.uint8)
    pred = gen.integers(0, 20 if seed % 2 else 19, size=(6, 7)).astype(np.uint8)  # odd seeds: the 20th map occurs
    if seed == 1:
        truth[truth == 18] = 17  # the 20th map then never meets class 18: counted at (truth + 1, 0)
    start = torch.arange(19 * 19).reshape(19, 19)
    hist, dropped = official_frame_update(start, torch.from_numpy(pred), torch.from_numpy(truth), 19)
    expected = _np_fast_hist(truth.flatten(), pred.flatten(), 19)
    if expected is None:
        assert dropped and torch.equal(hist, start)
    else:
        assert not dropped and torch.equal(hist, start + torch.from_numpy(expected))
    if seed == 1:
        assert expected is not None and (pred == 19).any()  # the quirk was exercised, not skipped
