"""FCN-8s from deploy.prototxt, filled from a caffemodel written in the wire format, and evaluate.py's preprocessing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from caffe_writer import fcn8s_blobs, fcn8s_net, write_fcn8s

from harness.core.cache import file_sha256
from harness.core.errors import HarnessError
from metrics.judges.fcn8s import FCN8s, blob_shapes, load_fcn8s, preprocess, segment

# deploy.prototxt of junyanz/pytorch-CycleGAN-and-pix2pix scripts/eval_cityscapes/caffemodel, read by hand.
PROTOTXT = {"conv1_1": ((64, 3, 3, 3), (64,)), "conv3_3": ((256, 256, 3, 3), (256,)),
            "conv5_3": ((512, 512, 3, 3), (512,)), "fc6_cs": ((4096, 512, 7, 7), (4096,)),
            "fc7_cs": ((4096, 4096, 1, 1), (4096,)), "score_fr": ((20, 4096, 1, 1), (20,)),
            "upscore2": ((20, 20, 4, 4),), "score_pool4": ((20, 512, 1, 1), (20,)),
            "upscore_pool4": ((20, 20, 4, 4),), "score_pool3": ((20, 256, 1, 1), (20,)),
            "upscore8": ((20, 20, 16, 16),)}


def test_paper_shapes_are_deploy_prototxt():
    shapes = blob_shapes()
    assert len(shapes) == 13 + 2 + 1 + 3 + 2  # 13 VGG convolutions, fc6/fc7, score_fr, 3 deconvolutions, 2 scores
    for name, expected in PROTOTXT.items():
        assert shapes[name] == expected, name
    model = FCN8s()
    assert sum(p.numel() for p in model.parameters()) == sum(int(np.prod(s)) for b in shapes.values() for s in b)


def test_caffemodel_reads_into_identical_tensors(tmp_path):
    path = tmp_path / "fcn-8s-cityscapes.caffemodel"
    written = write_fcn8s(path, width=2, fc=8, seed=1)
    judge = load_fcn8s(path)
    assert (judge.width, judge.fc) == (2, 8) and judge.sha256 == file_sha256(path)
    state = judge.model.state_dict()
    for name, blobs in written.items():
        assert torch.equal(state[f"layers.{name}.weight"], torch.from_numpy(blobs[0]))
        if len(blobs) > 1:
            assert torch.equal(state[f"layers.{name}.bias"], torch.from_numpy(blobs[1]))
    provenance = judge.provenance()
    assert provenance["judge_sha256"] == file_sha256(path) and len(provenance["judge_sha256"]) == 64
    assert provenance["comparable_to_paper"].startswith("no") and "reduced width 2/8" in provenance["judge"]


@pytest.mark.parametrize("size", [(1, 1), (8, 8), (17, 23), (40, 64)])
def test_output_is_20_maps_at_the_input_size(tmp_path, size):
    path = tmp_path / "m.caffemodel"
    write_fcn8s(path)
    judge = load_fcn8s(path)
    out = judge.model(torch.randn(2, 3, *size))
    assert out.shape == (2, 20, *size) and torch.isfinite(out).all()
    image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    ids = segment(judge, image, size)
    assert ids.shape == size and ids.dtype == torch.int64 and 0 <= ids.min() and ids.max() < 20


def test_crops_follow_caffe_offsets():
    # Identity 3x3 convolutions and only the pool3 path open: the score map lines up with the input only if pad 100
    # and the crops (9 for score_pool3, 31 for score) are Caffe's.
    model = FCN8s(width=1, fc=1)
    with torch.no_grad():
        for module in model.layers.values():
            module.weight.zero_()
            if module.bias is not None:
                module.bias.zero_()
        model.layers["score_pool3"].weight[0, 0] = 1.0  # only the pool3 path carries signal
        for name, module in model.layers.items():
            if name.startswith("conv"):
                module.weight[0, 0, 1, 1] = 1.0  # identity 3x3 on channel 0
        model.layers["upscore8"].weight[0, 0, 4:12, 4:12] = 1.0  # each pool3 cell paints its 8x8 block
    # pool3 cell c sees input rows 8c - 99 .. 8c - 92 (conv1_1's pad 100 shifts by 99); cell 16 is rows 29..36.
    x = torch.zeros(1, 3, 64, 64)
    x[0, 0, 29:37, 45:53] = 1.0  # exactly cells (16, 18)
    out = model(x)[0, 0]
    assert out.shape == (64, 64) and torch.equal(out, x[0, 0])  # painted back exactly where it was
    x = torch.zeros(1, 3, 64, 64)
    x[0, 0, 28, 44] = 1.0  # one pixel of cell (15, 17): its whole cell lights up, nothing else
    expected = torch.zeros(64, 64)
    expected[21:29, 37:45] = 1.0
    assert torch.equal(model(x)[0, 0], expected)


def test_first_mismatch_is_named(tmp_path):
    blobs = fcn8s_blobs(2, 8)
    missing = {k: v for k, v in blobs.items() if k != "score_pool3"}
    (tmp_path / "a.caffemodel").write_bytes(fcn8s_net(missing))
    with pytest.raises(HarnessError, match="layer 'score_pool3' is missing"):
        load_fcn8s(tmp_path / "a.caffemodel")
    wrong = dict(blobs, conv2_2=[np.zeros((4, 4, 5, 5), np.float32), np.zeros(4, np.float32)])
    (tmp_path / "b.caffemodel").write_bytes(fcn8s_net(wrong))
    with pytest.raises(HarnessError, match=r"layer 'conv2_2' has blobs of shapes \[\(4, 4, 5, 5\), \(4,\)\], "
                                           r"deploy.prototxt needs \[\(4, 4, 3, 3\), \(4,\)\]"):
        load_fcn8s(tmp_path / "b.caffemodel")
    extra = dict(blobs, fc8=[np.zeros((3, 8, 1, 1), np.float32)])
    (tmp_path / "c.caffemodel").write_bytes(fcn8s_net(extra))
    with pytest.raises(HarnessError, match="layer 'fc8' has weights but is not in deploy.prototxt"):
        load_fcn8s(tmp_path / "c.caffemodel")
    vgg = {k: v for k, v in blobs.items() if not k.startswith(("fc", "score", "upscore"))}  # a classifier trunk
    (tmp_path / "d.caffemodel").write_bytes(fcn8s_net(vgg))
    with pytest.raises(HarnessError, match="no layer 'fc6_cs' with weights"):
        load_fcn8s(tmp_path / "d.caffemodel")


def test_preprocess_is_bgr_minus_mean_at_the_label_size():
    image = np.zeros((2, 2, 3), np.uint8)
    image[..., 0], image[..., 1], image[..., 2] = 10, 20, 30  # R, G, B
    out = preprocess(image, (2, 2))
    assert out.shape == (3, 2, 2) and out.dtype == torch.float32
    assert torch.allclose(out[:, 0, 0], torch.tensor([30 - 72.78044, 20 - 83.21195, 10 - 73.45286]))
    big = preprocess(image, (4, 6))  # a flat image stays flat under bilinear resizing
    assert big.shape == (3, 4, 6) and torch.equal(big, big[:, :1, :1].expand(3, 4, 6))
    with pytest.raises(HarnessError, match="uint8"):
        preprocess(image.astype(np.float32), (2, 2))


def test_only_the_released_size_is_comparable_to_the_papers(tmp_path):
    from metrics.judges.fcn8s import Fcn8sJudge

    paper = Fcn8sJudge(FCN8s(1, 1), tmp_path / "x", "ab" * 32, 64, 4096).provenance()
    assert paper["judge"] == "fcn8s-cityscapes" and paper["comparable_to_paper"] == "yes"
    assert paper["judge_sha256"] == "ab" * 32  # the whole file's sha256, not a prefix
