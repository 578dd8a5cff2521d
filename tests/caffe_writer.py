"""Writes caffemodels in the protobuf wire format for tests: the encoder mirrors caffe.proto's field numbers.

Independent of ``metrics.judges.caffemodel`` (the reader under test): keys, varints and packed arrays are encoded
here from the protobuf encoding rules.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from metrics.judges.fcn8s import blob_shapes


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def key(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def length_field(field: int, payload: bytes) -> bytes:
    return key(field, 2) + varint(len(payload)) + payload


def blob(array: np.ndarray, *, legacy: bool = False, packed: bool = True) -> bytes:
    """A BlobProto: shape (field 7, packed int64 dims) or legacy num/channels/height/width, then float data (5)."""
    array = np.asarray(array, dtype=np.float32)
    if legacy:
        dims = (1,) * (4 - array.ndim) + array.shape
        head = b"".join(key(f, 0) + varint(d) for f, d in zip((1, 2, 3, 4), dims, strict=True))
    else:
        head = length_field(7, length_field(1, b"".join(varint(d) for d in array.shape)))
    flat = array.astype("<f4").ravel()
    data = length_field(5, flat.tobytes()) if packed else b"".join(key(5, 5) + struct.pack("<f", v) for v in flat)
    return head + data


def layer(name: str, kind: str, blobs: list[np.ndarray], *, v1: bool = False, extra: bytes = b"") -> bytes:
    """A LayerParameter (NetParameter field 100) or, with ``v1``, a V1LayerParameter (field 2)."""
    if v1:
        body = length_field(4, name.encode()) + key(5, 0) + varint(4) + b"".join(length_field(6, blob(b))
                                                                                   for b in blobs)
        return length_field(2, body)
    body = (length_field(1, name.encode()) + length_field(2, kind.encode()) + length_field(3, b"bottom") + extra
            + b"".join(length_field(7, blob(b)) for b in blobs))
    return length_field(100, body)


def fcn8s_blobs(width: int, fc: int, seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Random float32 weights of every FCN-8s layer at the given width, named as in deploy.prototxt."""
    rng = np.random.default_rng(seed)
    return {name: [(rng.standard_normal(s) * 0.1).astype(np.float32) for s in shapes]
            for name, shapes in blob_shapes(width, fc).items()}


def fcn8s_net(blobs: dict[str, list[np.ndarray]], *, v1: bool = False) -> bytes:
    """A NetParameter: a name, the data and ReLU/pooling layers without blobs, and every weighted layer."""
    parts = [length_field(1, b"FCN8s-cityscapes"), layer("data", "Input", [], v1=v1)]
    for name, arrays in blobs.items():
        parts.append(layer(name, "Deconvolution" if name.startswith("upscore") else "Convolution", arrays, v1=v1,
                           extra=length_field(6, key(1, 5) + struct.pack("<f", 1.0))))
        parts.append(layer(f"relu_{name}", "ReLU", [], v1=v1))
    parts.append(layer("score", "Crop", [], v1=v1))
    return b"".join(parts)


def write_fcn8s(path: Path, width: int = 2, fc: int = 8, seed: int = 0, *, v1: bool = False
                ) -> dict[str, list[np.ndarray]]:
    """Writes a reduced-width FCN-8s caffemodel and returns its weights."""
    blobs = fcn8s_blobs(width, fc, seed)
    Path(path).write_bytes(fcn8s_net(blobs, v1=v1))
    return blobs
