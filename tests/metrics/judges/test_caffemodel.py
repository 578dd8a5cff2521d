"""The hand-written caffemodel reader: files written in the protobuf wire format read back to identical arrays."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from caffe_writer import blob, fcn8s_net, key, layer, length_field, varint, write_fcn8s
from PIL import Image

from harness.core.errors import HarnessError
from metrics.judges.caffemodel import read_caffemodel


def _by_name(layers):
    return {lay.name: lay for lay in layers}


@pytest.mark.parametrize("v1", [False, True])
def test_fcn8s_file_reads_back_identical(tmp_path, v1):
    path = tmp_path / "fcn.caffemodel"
    written = write_fcn8s(path, width=2, fc=8, seed=3, v1=v1)
    layers = read_caffemodel(path)
    weighted = [lay for lay in layers if lay.blobs]
    assert [lay.name for lay in weighted] == list(written)  # file order kept
    for lay in weighted:
        assert len(lay.blobs) == len(written[lay.name])
        for got, want in zip(lay.blobs, written[lay.name], strict=True):
            assert got.dtype == np.float32 and got.shape == want.shape
            assert np.array_equal(got, want)
    named = _by_name(layers)
    assert named["conv1_1"].type == ("4" if v1 else "Convolution") and named["data"].blobs == ()


def test_legacy_dims_unpacked_floats_and_doubles(tmp_path):
    weights = np.arange(6, dtype=np.float32).reshape(1, 1, 2, 3) / 7
    doubles = np.array([0.25, -1.5], dtype="<f8")
    double_blob = length_field(7, length_field(1, varint(2))) + length_field(8, doubles.tobytes())
    body = length_field(1, b"a") + length_field(2, b"Convolution") + length_field(7, blob(weights, legacy=True,
                                                                                            packed=False))
    body += length_field(7, double_blob) + key(10, 0) + varint(1)  # phase: skipped like any unknown field
    path = tmp_path / "m.caffemodel"
    path.write_bytes(length_field(1, b"net") + length_field(100, body))
    (lay,) = read_caffemodel(path)
    assert lay.name == "a" and np.array_equal(lay.blobs[0], weights)
    assert np.array_equal(lay.blobs[1], doubles.astype(np.float32))


@pytest.mark.parametrize("cut", [1, 7, 100, -5, -1])
def test_truncated_file_is_a_clear_error(tmp_path, cut):
    data = fcn8s_net({"conv1_1": [np.ones((2, 3, 3, 3), np.float32), np.ones(2, np.float32)]})
    path = tmp_path / "t.caffemodel"
    path.write_bytes(data[:cut] if cut > 0 else data[:cut])
    with pytest.raises(HarnessError, match=r"t\.caffemodel.*(truncated|no layers)"):
        read_caffemodel(path)


def _png() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(out, format="PNG")
    return out.getvalue()


def _torch_file() -> bytes:
    out = io.BytesIO()
    torch.save({"w": torch.ones(3)}, out)
    return out.getvalue()


@pytest.mark.parametrize("content", [_png(), _torch_file(), b"layer { name: 'conv1_1' }\n", bytes(range(256)) * 4])
def test_foreign_files_are_clear_errors(tmp_path, content):
    path = tmp_path / "foreign.caffemodel"
    path.write_bytes(content)
    with pytest.raises(HarnessError, match="foreign.caffemodel"):
        read_caffemodel(path)


def test_missing_empty_and_miscounted_blobs(tmp_path):
    with pytest.raises(HarnessError, match="does not exist"):
        read_caffemodel(tmp_path / "none.caffemodel")
    (tmp_path / "empty.caffemodel").write_bytes(b"")
    with pytest.raises(HarnessError, match="is empty"):
        read_caffemodel(tmp_path / "empty.caffemodel")
    shape = length_field(7, length_field(1, varint(2) + varint(3)))
    bad = shape + length_field(5, np.ones(5, "<f4").tobytes())  # 6 values declared, 5 stored
    path = tmp_path / "count.caffemodel"
    path.write_bytes(length_field(100, length_field(1, b"conv1_1") + length_field(7, bad)))
    with pytest.raises(HarnessError, match=r"layer 'conv1_1' has a blob of shape \(2, 3\) \(6 values\) holding 5"):
        read_caffemodel(path)


def test_layer_helper_matches_protobuf_encoding():
    # Protobuf's documented example: field 1 varint 150 encodes as 08 96 01.
    assert key(1, 0) + varint(150) == bytes([0x08, 0x96, 0x01])
    assert layer("x", "ReLU", [])[:2] == bytes([0xA2, 0x06])  # field 100, wire type 2: varint 802
