"""The real SVHN → MNIST task: fixtures written in the exact formats (.mat v5, idx with and without gzip)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from harness.core.errors import HarnessError
from harness.data.svhn_mnist import SVHNMNISTConfig, build_svhn_mnist, read_idx, read_svhn_mat
from harness.run import main


def write_svhn(path: Path, labels: list[int], seed: int) -> np.ndarray:
    """An SVHN-format file: X uint8 (32, 32, 3, N), y uint8 (N, 1) in 1..10; returns X."""
    x = np.random.default_rng(seed).integers(0, 256, (32, 32, 3, len(labels)), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), {"X": x, "y": np.array(labels, dtype=np.uint8).reshape(-1, 1)})
    return x


def idx_bytes(array: np.ndarray) -> bytes:
    """The idx encoding of a uint8 array: magic 0x0000 08 <ndim>, big-endian sizes, then the bytes."""
    return struct.pack(">I", 0x0800 | array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_mnist(folder: Path, split: str, n: int, seed: int, gz: bool) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, (n,), dtype=np.uint8)
    prefix = "train" if split == "train" else "t10k"
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
        data = idx_bytes(array)
        (folder / (name + ".gz" if gz else name)).write_bytes(gzip.compress(data) if gz else data)
    return images, labels


@pytest.fixture
def root(tmp_path: Path) -> Path:
    write_svhn(tmp_path / "svhn" / "train_32x32.mat", [1, 10, 3, 10], seed=0)
    write_svhn(tmp_path / "svhn" / "extra_32x32.mat", [2, 2, 10], seed=1)
    write_svhn(tmp_path / "svhn" / "test_32x32.mat", [10, 5], seed=2)
    write_mnist(tmp_path / "mnist", "train", 6, seed=3, gz=True)
    write_mnist(tmp_path / "mnist", "test", 3, seed=4, gz=False)
    return tmp_path


def test_reads_both_formats_with_label_10_as_0(root: Path):
    task = build_svhn_mnist(SVHNMNISTConfig(root=str(root), svhn_train="train+extra"))
    assert task.domains == ("printed", "handwritten") and not task.paired and task.image_size == 32
    train = task.data("train", "printed")
    assert train.images.shape == (7, 3, 32, 32) and train.images.dtype == torch.uint8
    assert train.labels["class"].tolist() == [1, 0, 3, 0, 2, 2, 0]
    x = scipy.io.loadmat(str(root / "svhn" / "train_32x32.mat"))["X"]
    assert torch.equal(train.images[1], torch.from_numpy(x[:, :, :, 1]).permute(2, 0, 1))  # (H, W, C, N) → (C, H, W)
    assert task.data("test", "printed").labels["class"].tolist() == [0, 5]
    images, labels = write_mnist(root / "mnist", "test", 3, seed=4, gz=False)
    test = task.data("test", "handwritten")
    assert test.images.shape == (3, 1, 28, 28) and torch.equal(test.images[:, 0], torch.from_numpy(images))
    assert test.labels["class"].tolist() == labels.tolist()
    assert task.data("train", "handwritten").images.shape == (6, 1, 28, 28)  # from the .gz files
    assert len(build_svhn_mnist(SVHNMNISTConfig(root=str(root), svhn_train="extra", max_train=2))
               .data("train", "printed")) == 2


def test_files_directly_in_root(tmp_path: Path):
    write_svhn(tmp_path / "train_32x32.mat", [4], seed=0)
    write_svhn(tmp_path / "test_32x32.mat", [10], seed=1)
    write_mnist(tmp_path, "train", 2, seed=2, gz=False)
    write_mnist(tmp_path, "test", 2, seed=3, gz=True)
    task = build_svhn_mnist(SVHNMNISTConfig(root=str(tmp_path), svhn_train="train"))
    assert task.data("train", "printed").labels["class"].tolist() == [4]


def test_bad_mat_files(tmp_path: Path):
    scipy.io.savemat(str(tmp_path / "a.mat"), {"images": np.zeros((32, 32, 3, 1), np.uint8)})
    with pytest.raises(HarnessError, match=r"a\.mat.*no X and y"):
        read_svhn_mat(tmp_path / "a.mat")
    scipy.io.savemat(str(tmp_path / "b.mat"), {"X": np.zeros((28, 28, 3, 2), np.uint8), "y": np.ones((2, 1))})
    with pytest.raises(HarnessError, match="expected X"):
        read_svhn_mat(tmp_path / "b.mat")
    scipy.io.savemat(str(tmp_path / "c.mat"), {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.array([[0], [11]])})
    with pytest.raises(HarnessError, match="1..10"):
        read_svhn_mat(tmp_path / "c.mat")
    (tmp_path / "d.mat").write_bytes(b"not a mat file at all" * 10)
    with pytest.raises(HarnessError, match=r"d\.mat"):
        read_svhn_mat(tmp_path / "d.mat")


def test_bad_idx_files(tmp_path: Path):
    good = idx_bytes(np.zeros((2, 28, 28), np.uint8))
    (tmp_path / "magic").write_bytes(struct.pack(">I", 0x0801) + good[4:])
    with pytest.raises(HarnessError, match="magic number 0x00000801, expected 0x00000803"):
        read_idx(tmp_path / "magic", 0x0803)
    (tmp_path / "short").write_bytes(good[:-5])
    with pytest.raises(HarnessError, match="truncated"):
        read_idx(tmp_path / "short", 0x0803)
    (tmp_path / "long").write_bytes(good + b"\x00")
    with pytest.raises(HarnessError, match="longer"):
        read_idx(tmp_path / "long", 0x0803)
    (tmp_path / "bad.gz").write_bytes(b"\x1f\x8b broken")
    with pytest.raises(HarnessError, match="cannot read"):
        read_idx(tmp_path / "bad.gz", 0x0803)
    assert read_idx(_write(tmp_path / "ok", good), 0x0803).shape == (2, 28, 28)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


EXPECTED = {"mat_without_xy": "no X and y", "idx_magic": "magic number 0x00000802", "idx_truncated": "truncated",
            "missing_file": "extra_32x32.mat not found", "no_root": "--set svhn_mnist.root=PATH"}


@pytest.mark.parametrize("damage", sorted(EXPECTED))
def test_cli_bad_input_exits_2_and_writes_nothing(root: Path, tmp_path: Path, damage: str, capsys, cache):
    if damage == "mat_without_xy":
        scipy.io.savemat(str(root / "svhn" / "test_32x32.mat"), {"Z": np.zeros(3)})
    elif damage == "idx_magic":
        path = root / "mnist" / "t10k-images-idx3-ubyte"
        path.write_bytes(b"\x00\x00\x08\x02" + path.read_bytes()[4:])
    elif damage == "idx_truncated":
        path = root / "mnist" / "train-images-idx3-ubyte.gz"
        path.write_bytes(gzip.compress(gzip.decompress(path.read_bytes())[:-100]))
    elif damage == "missing_file":
        (root / "svhn" / "extra_32x32.mat").unlink()
    out = tmp_path / "run"
    sets = [] if damage == "no_root" else ["--set", f"svhn_mnist.root={root}"]
    code = main(["suite", "--models", "dtn", "--tasks", "svhn_mnist", "--out", str(out), "--no-progress", *sets])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and not out.exists()
    assert len(lines) == 1 and EXPECTED[damage] in lines[0]


def test_a_gzip_that_inflates_beyond_its_header_is_refused_before_it_is_inflated(tmp_path, monkeypatch):
    """A 300 MB body behind a header that says 6x28x28 (a decompression bomb): never inflated past the header."""
    import zlib

    from harness.data.svhn_mnist import IDX_IMAGES_MAGIC, read_idx

    header = IDX_IMAGES_MAGIC.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (6, 28, 28))
    deflate = zlib.compressobj(1, zlib.DEFLATED, 31)  # 31: a gzip stream
    chunks, size, crc = [deflate.compress(header)], len(header), zlib.crc32(header)
    zeros = bytes(64 * 2**20)
    for _ in range(5):
        chunks.append(deflate.compress(zeros))
        size, crc = size + len(zeros), zlib.crc32(zeros, crc)
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"".join(chunks) + deflate.flush())
    inflated = []
    real_read = gzip.GzipFile.read

    def counted(self, size=-1):
        data = real_read(self, size)
        inflated.append(len(data))
        return data

    monkeypatch.setattr(gzip.GzipFile, "read", counted)
    monkeypatch.setattr(gzip, "decompress", lambda data: pytest.fail("the whole file was inflated"))
    with pytest.raises(HarnessError, match="not the size its header says: the file inflates to 335544336 bytes"):
        read_idx(path, IDX_IMAGES_MAGIC)
    assert sum(inflated) <= 16
