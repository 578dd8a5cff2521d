"""Reading a ``.caffemodel`` without Caffe: the protobuf wire format, by hand, for the layers' weight blobs.

A caffemodel is a serialised ``caffe.NetParameter`` (``src/caffe/proto/caffe.proto`` of BVLC/caffe). Only the fields
that carry weights are read; everything else is skipped by its wire type, as any protobuf reader skips unknown
fields:

- ``NetParameter``: ``layer = 100`` (``LayerParameter``), or the deprecated ``layers = 2`` (``V1LayerParameter``).
- ``LayerParameter``: ``name = 1``, ``type = 2`` (string), ``blobs = 7``. ``V1LayerParameter``: ``name = 4``,
  ``type = 5`` (an enum, kept as its number), ``blobs = 6``.
- ``BlobProto``: ``shape = 7`` (``BlobShape``: ``dim = 1``, int64, packed), ``data = 5`` (float32, packed),
  ``double_data = 8`` (float64, packed), and the legacy 4-D ``num = 1``, ``channels = 2``, ``height = 3``,
  ``width = 4`` used when ``shape`` is absent.

The wire format: each field is a varint key ``(field number << 3) | wire type``; wire type 0 is a varint, 1 eight
little-endian bytes, 2 a varint length then that many bytes (strings, sub-messages, packed arrays), 5 four bytes.
Packed repeated fields are one length-delimited run; unpacked ones (allowed by the protobuf rules) repeat the field.
Nothing here executes or unpickles anything: bytes become numbers or the read stops with a ``HarnessError`` naming
the file, the byte offset and what was found.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.core.errors import HarnessError

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5  # protobuf wire types (3 and 4, groups, are not used by caffe.proto)
NET_LAYER, NET_V1_LAYERS = 100, 2
LAYER_NAME, LAYER_TYPE, LAYER_BLOBS = 1, 2, 7
V1_NAME, V1_TYPE, V1_BLOBS = 4, 5, 6
BLOB_NUM, BLOB_CHANNELS, BLOB_HEIGHT, BLOB_WIDTH = 1, 2, 3, 4
BLOB_DATA, BLOB_SHAPE, BLOB_DOUBLE_DATA = 5, 7, 8
SHAPE_DIM = 1


@dataclass(frozen=True)
class CaffeLayer:
    """One layer of a caffemodel.

    Attributes:
        name: The layer's name (``"conv1_1"``).
        type: Its type: a string (``"Convolution"``) or, in the V1 format, the enum number as a string.
        blobs: Its weight blobs in file order, float32 arrays of their declared shapes (weights, then bias).
    """

    name: str
    type: str
    blobs: tuple[np.ndarray, ...]


class _Wire:
    """A cursor over the file's bytes that turns every malformed or truncated read into one clear error."""

    def __init__(self, data: memoryview, path: Path) -> None:
        self.data, self.path = data, path

    def fail(self, offset: int, what: str) -> HarnessError:
        return HarnessError(f"{str(self.path)!r} is not a readable caffemodel (a caffe NetParameter): at byte {offset} "
                            f"of {len(self.data)}, {what}; the file is truncated or of another format")

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        value, shift, start = 0, 0, pos
        while True:
            if pos >= end:
                raise self.fail(start, "a varint runs past the end of its message")
            byte = self.data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                return value, pos
            shift += 7
            if shift >= 70:
                raise self.fail(start, "a varint is longer than 10 bytes")

    def fields(self, start: int, end: int):
        """Yields ``(field number, wire type, value, offset)`` of each field of one message.

        ``value`` is an int for varints and a ``(begin, stop)`` byte range for the other wire types.
        """
        pos = start
        while pos < end:
            offset = pos
            key, pos = self.varint(pos, end)
            field, wire = key >> 3, key & 7
            if field == 0:
                raise self.fail(offset, "a field numbered 0")
            if wire == VARINT:
                value, pos = self.varint(pos, end)
                yield field, wire, value, offset
                continue
            if wire == LENGTH:
                size, pos = self.varint(pos, end)
            elif wire in (FIXED64, FIXED32):
                size = 8 if wire == FIXED64 else 4
            else:
                raise self.fail(offset, f"field {field} has wire type {wire} (expected 0, 1, 2 or 5)")
            if pos + size > end:
                raise self.fail(offset, f"field {field} of {size} bytes runs past the end of its message (ends at "
                                        f"byte {end})")
            yield field, wire, (pos, pos + size), offset
            pos += size

    def text(self, span: tuple[int, int], offset: int) -> str:
        try:
            return bytes(self.data[span[0]:span[1]]).decode("utf-8")
        except UnicodeDecodeError:
            raise self.fail(offset, "a layer name or type that is not UTF-8 text") from None

    def floats(self, span: tuple[int, int], dtype: str, offset: int) -> np.ndarray:
        width = np.dtype(dtype).itemsize
        if (span[1] - span[0]) % width:
            raise self.fail(offset, f"a packed array of {span[1] - span[0]} bytes is not a whole number of {dtype}")
        return np.frombuffer(self.data, dtype=dtype, count=(span[1] - span[0]) // width, offset=span[0]).astype(
            np.float32)


def _shape(wire: _Wire, span: tuple[int, int]) -> list[int]:
    dims = []
    for field, kind, value, offset in wire.fields(*span):
        if field != SHAPE_DIM:
            continue
        if kind == VARINT:
            dims.append(value)
        elif kind == LENGTH:
            pos, end = value
            while pos < end:
                dim, pos = wire.varint(pos, end)
                dims.append(dim)
        else:
            raise wire.fail(offset, f"a blob dimension of wire type {kind}")
    return dims


def _blob(wire: _Wire, span: tuple[int, int], layer: str) -> np.ndarray:
    shape: list[int] | None = None
    legacy = {BLOB_NUM: 0, BLOB_CHANNELS: 0, BLOB_HEIGHT: 0, BLOB_WIDTH: 0}
    parts: list[np.ndarray] = []
    for field, kind, value, offset in wire.fields(*span):
        if field == BLOB_SHAPE and kind == LENGTH:
            shape = _shape(wire, value)
        elif field in legacy and kind == VARINT:
            legacy[field] = value
        elif field == BLOB_DATA and kind == LENGTH:
            parts.append(wire.floats(value, "<f4", offset))
        elif field == BLOB_DATA and kind == FIXED32:
            parts.append(wire.floats(value, "<f4", offset))
        elif field == BLOB_DOUBLE_DATA and kind in (LENGTH, FIXED64):
            parts.append(wire.floats(value, "<f8", offset))
    if shape is None:
        shape = [legacy[f] for f in (BLOB_NUM, BLOB_CHANNELS, BLOB_HEIGHT, BLOB_WIDTH)]
    values = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    count = int(np.prod(shape, dtype=np.int64)) if shape else 0
    if values.size != count:
        raise HarnessError(f"{str(wire.path)!r}: layer {layer!r} has a blob of shape {tuple(shape)} ({count} values) "
                           f"holding {values.size} values; the file is truncated or corrupt")
    return values.reshape(shape)


def _layer(wire: _Wire, span: tuple[int, int], v1: bool) -> CaffeLayer:
    name_field, type_field, blobs_field = (V1_NAME, V1_TYPE, V1_BLOBS) if v1 else (LAYER_NAME, LAYER_TYPE, LAYER_BLOBS)
    name, kind, blob_spans = "", "", []
    for field, wire_type, value, offset in wire.fields(*span):
        if field == name_field and wire_type == LENGTH:
            name = wire.text(value, offset)
        elif field == type_field and wire_type == LENGTH and not v1:
            kind = wire.text(value, offset)
        elif field == type_field and wire_type == VARINT and v1:
            kind = str(value)
        elif field == blobs_field and wire_type == LENGTH:
            blob_spans.append(value)
    return CaffeLayer(name, kind, tuple(_blob(wire, s, name) for s in blob_spans))


def read_caffemodel(path: str | Path) -> list[CaffeLayer]:
    """Every layer of a caffemodel, in file order, with its weight blobs as float32 arrays.

    Args:
        path: A ``.caffemodel`` file (a binary ``NetParameter``; the text ``.prototxt`` is not read).

    Returns:
        The layers (``layer = 100`` entries, or the V1 ``layers = 2`` entries when the file has no new-style ones).

    Raises:
        HarnessError: A missing or empty file, a malformed or truncated message (the byte offset is named), a blob
            whose value count does not match its shape, or a file with no layers.
    """
    path = Path(path)
    if not path.is_file():
        raise HarnessError(f"{str(path)!r} does not exist; expected a .caffemodel file there (nothing is downloaded)")
    if path.stat().st_size == 0:
        raise HarnessError(f"{str(path)!r} is empty; expected a .caffemodel file")
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        data = memoryview(mapped)
        try:
            wire = _Wire(data, path)
            spans: dict[int, list[tuple[int, int]]] = {NET_LAYER: [], NET_V1_LAYERS: []}
            for field, kind, value, _ in wire.fields(0, len(data)):
                if field in spans and kind == LENGTH:
                    spans[field].append(value)
            v1 = not spans[NET_LAYER]
            layers = [_layer(wire, span, v1) for span in spans[NET_V1_LAYERS if v1 else NET_LAYER]]
        finally:
            data.release()
    if not layers:
        raise HarnessError(f"{str(path)!r} holds no layers: not a caffemodel (a caffe NetParameter)")
    return layers
