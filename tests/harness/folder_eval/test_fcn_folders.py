"""``evaluate --metric fcn_score`` on folders with the papers' FCN-8s (a reduced-width caffemodel the test writes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from caffe_writer import write_fcn8s
from PIL import Image

from harness.data.cityscapes_labels import LABELS, TRAIN_ID_PALETTE
from harness.run import main
from metrics.judges.fcn8s import load_fcn8s

FRAMES = ("frankfurt_000000_000294", "frankfurt_000000_000576", "lindau_000001_000019")
LABEL_IDS = np.array([lab.id for lab in LABELS if lab.id >= 0])
TRAIN_OF = {lab.id: lab.train_id for lab in LABELS if lab.id >= 0}


def _folders(root, size=(12, 10), label_size=(24, 20), tail="_gtFine_labelIds", ids=LABEL_IDS):
    """Generated photos ``<frame>_leftImg8bit.png`` (size) and label maps ``<frame><tail>.png`` (label_size)."""
    pred, labels = root / "pred", root / "labels"
    pred.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for frame in FRAMES:
        Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(
            pred / f"{frame}_leftImg8bit.png")
        Image.fromarray(rng.choice(ids, (label_size[1], label_size[0])).astype(np.uint8)).save(
            labels / f"{frame}{tail}.png")
    return pred, labels


def _oracle(weights, pred, labels):
    """evaluate.py by hand: PIL bilinear to the label size, BGR minus mean, argmax, numpy fast_hist, get_scores."""
    judge = load_fcn8s(weights)
    n, hist = 19, np.zeros((19, 19))
    for frame in FRAMES:
        label_ids = np.asarray(Image.open(labels / f"{frame}_gtFine_labelIds.png")).astype(np.int64)
        label = np.vectorize(lambda i: TRAIN_OF[i] if TRAIN_OF[i] >= 0 else 255)(label_ids)
        im = Image.open(pred / f"{frame}_leftImg8bit.png").resize(label.shape[::-1], Image.Resampling.BILINEAR)
        x = np.asarray(im, dtype=np.float32)[:, :, ::-1] - np.array((72.78044, 83.21195, 73.45286), np.float32)
        with torch.no_grad():
            out = judge.model(torch.from_numpy(x.transpose(2, 0, 1).copy())[None])[0].argmax(0).numpy()
        a, b = label.flatten(), out.flatten()
        k = (a >= 0) & (a < n)
        counts = np.bincount(n * a[k] + b[k], minlength=n * n)
        if len(counts) == n * n:
            hist += counts.reshape(n, n)
    acc = np.diag(hist).sum() / (hist.sum() + 1e-12)
    cl_acc = np.diag(hist) / (hist.sum(1) + 1e-12)
    iu = np.diag(hist) / (hist.sum(1) + hist.sum(0) - np.diag(hist) + 1e-12)
    return acc, np.nanmean(cl_acc), np.nanmean(iu)


def _fcn(pred, labels, weights, *extra):
    return ["evaluate", "--metric", "fcn", "--pred", str(pred), "--labels", str(labels), "--judge", "fcn8s",
            "--weights", str(weights), "--json", "--no-progress", *extra]


def test_fcn8s_on_cityscapes_folders_is_evaluate_py(tmp_path, capsys):
    weights = tmp_path / "fcn-8s-cityscapes.caffemodel"
    write_fcn8s(weights, width=2, fc=8, seed=5)
    pred, labels = _folders(tmp_path)
    assert main(_fcn(pred, labels, weights)) == 0, capsys.readouterr().err
    got = json.loads(capsys.readouterr().out)
    acc, class_acc, class_iou = _oracle(weights, pred, labels)
    assert got["fcn_labels2photo_pixel_acc"] == pytest.approx(acc, abs=1e-12)
    assert got["fcn_labels2photo_class_acc"] == pytest.approx(class_acc, abs=1e-12)
    assert got["fcn_labels2photo_class_iou"] == pytest.approx(class_iou, abs=1e-12)
    assert sum(k.startswith("fcn_labels2photo_iou[") for k in got) == 19


def test_trainid_maps_give_the_same_scores(tmp_path, capsys):
    weights = tmp_path / "w.caffemodel"
    write_fcn8s(weights)
    pred, labels = _folders(tmp_path / "a")
    assert main(_fcn(pred, labels, weights)) == 0
    by_label_ids = json.loads(capsys.readouterr().out)
    train = tmp_path / "train"
    train.mkdir()
    for path in labels.iterdir():
        ids = np.asarray(Image.open(path)).astype(np.int64)
        mapped = np.vectorize(lambda i: TRAIN_OF[i] if TRAIN_OF[i] >= 0 else 255)(ids).astype(np.uint8)
        Image.fromarray(mapped).save(train / path.name.replace("_labelIds", "_trainIds"))
    assert main(_fcn(pred, train, weights)) == 0
    assert json.loads(capsys.readouterr().out) == by_label_ids


def test_photo2labels_maps_colours_to_the_cityscapes_palette(tmp_path, capsys):
    pred, labels = tmp_path / "pred", tmp_path / "labels"
    pred.mkdir()
    labels.mkdir()
    rng = np.random.default_rng(1)
    for frame in FRAMES:
        train_ids = rng.integers(0, 19, (8, 8))
        Image.fromarray(TRAIN_ID_PALETTE[train_ids]).save(pred / f"{frame}_leftImg8bit.png")
        Image.fromarray(train_ids.astype(np.uint8)).save(labels / f"{frame}_gtFine_trainIds.png")
    argv = ["evaluate", "--metric", "fcn_score", "--direction", "photo2labels", "--pred", str(pred), "--labels",
            str(labels), "--json", "--no-progress"]
    assert main(argv) == 0, capsys.readouterr().err
    got = json.loads(capsys.readouterr().out)
    assert got["fcn_photo2labels_pixel_acc"] == pytest.approx(1.0)


def _fails(argv, capsys, *expected):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for text in expected:
        assert text in err, err


def test_bad_inputs_are_one_clear_error(tmp_path, capsys):
    weights = tmp_path / "w.caffemodel"
    write_fcn8s(weights)
    pred, labels = _folders(tmp_path / "ok")
    (labels / f"{FRAMES[0]}_gtFine_labelIds.png").rename(labels / "munich_000000_000001_gtFine_labelIds.png")
    _fails(_fcn(pred, labels, weights), capsys, "matched by file name", "frankfurt_000000_000294",
           "munich_000000_000001")
    pred, labels = _folders(tmp_path / "ids", ids=np.array([7, 40]))
    _fails(_fcn(pred, labels, weights), capsys, "unknown Cityscapes label ids 40")
    pred, labels = _folders(tmp_path / "train", tail="_gtFine_trainIds", ids=np.array([0, 25]))
    _fails(_fcn(pred, labels, weights), capsys, "trainIds 25 are outside the table")
    colour = tmp_path / "colour"
    colour.mkdir()
    for frame in FRAMES:
        Image.fromarray(np.zeros((20, 24, 3), np.uint8)).save(colour / f"{frame}_gtFine_color.png")
    _fails(_fcn(pred, colour, weights), capsys, "expected single-channel label-id maps")
    grey = tmp_path / "grey"
    grey.mkdir()
    for frame in FRAMES:
        Image.fromarray(np.zeros((10, 12), np.uint8)).save(grey / f"{frame}_leftImg8bit.png")
    _fails(_fcn(grey, labels, weights), capsys, "holds grey images")
    plain = tmp_path / "plain"
    plain.mkdir()
    for frame in FRAMES:
        Image.fromarray(np.zeros((20, 24), np.uint8)).save(plain / f"{frame}.png")
    _fails(_fcn(pred, plain, weights), capsys, "pass --label-format")
    truncated = tmp_path / "t.caffemodel"
    truncated.write_bytes(weights.read_bytes()[:-100])
    pred, labels = _folders(tmp_path / "fine")
    _fails(_fcn(pred, labels, truncated), capsys, "truncated")
    foreign = tmp_path / "f.caffemodel"
    torch.save({"w": torch.ones(2)}, foreign)
    _fails(_fcn(pred, labels, foreign), capsys, "f.caffemodel")
    no_weights = [a for a in _fcn(pred, labels, weights) if a not in ("--weights", str(weights))]
    _fails(no_weights, capsys, "--judge fcn8s: needs --weights")
    harness_judge = [a for a in no_weights if a not in ("--judge", "fcn8s")]
    _fails(harness_judge, capsys, "--into RUN", "--judge fcn8s")
    _fails([*_fcn(pred, labels, weights), "--as", "mine"], capsys, "give --into RUN too")
    _fails(["evaluate", "--metric", "nope", "--pred", str(pred)], capsys, "unknown metric 'nope'")
