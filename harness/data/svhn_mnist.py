"""The real SVHN → MNIST task of DTN (Taigman et al. 2017 §5.1): SVHN ``.mat`` files and MNIST idx files.

``--tasks svhn_mnist --set svhn_mnist.root=PATH``. Nothing is downloaded. Files are looked up in ``root/svhn/`` and
``root/mnist/``, else directly in ``root``:

- SVHN cropped digits (``train_32x32.mat``, ``test_32x32.mat``, ``extra_32x32.mat``; MATLAB v5, read with
  ``scipy.io.loadmat``): ``X`` uint8 ``(32, 32, 3, N)``, ``y`` ``(N, 1)`` in 1..10 where **10 means digit 0**.
- MNIST (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
  ``t10k-labels-idx1-ubyte``, each optionally ``.gz``): big-endian idx files, magic 0x00000803 (uint8, 3 dims) for
  images and 0x00000801 (uint8, 1 dim) for labels, then the dimension sizes, then exactly their product in bytes.

The task has the embedded ``digits`` task's shape: domain ``printed`` (SVHN, RGB 32 px) is the source and
``handwritten`` (MNIST, grey 28 px) the target, splits ``train`` and ``test``, labels ``{"class"}``. A file missing,
of the wrong format, truncated or with labels out of range is a ``HarnessError`` naming it (exit 2, nothing written).
"""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import scipy.io
import torch

from harness.core.bounds import Count, DirPath
from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task

IDX_IMAGES_MAGIC = 0x00000803  # uint8 data (0x08), 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # uint8 data (0x08), 1 dimension
MNIST_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
               "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
SVHNSplit = Literal["train", "extra", "train+extra"]


@dataclass(frozen=True)
class SVHNMNISTConfig:
    """Where SVHN and MNIST lie and how much of them to use."""

    root: DirPath = ""  # folder with svhn/*.mat and mnist/*-ubyte[.gz] (or all directly in it); never downloaded
    svhn_train: SVHNSplit = "extra"  # SVHN source training split; the paper used "extra" for f and for s ([R])
    max_train: Count = 0  # keep at most this many training images per domain, the first ones (0 = all)


def _memory_bytes() -> int | None:
    """This machine's physical memory in bytes, where the OS says."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _gzip_size(path: Path) -> int:
    """The inflated size a gzip file's trailer records (ISIZE: the size modulo 2**32, of its one member)."""
    with open(path, "rb") as handle:
        handle.seek(-4, os.SEEK_END)
        return int.from_bytes(handle.read(4), "little")


def read_idx(path: Path, magic: int) -> np.ndarray:
    """Reads one idx file (optionally gzip-compressed) whose magic number must be ``magic``.

    Only the header is read (inflated) first; the body is read only once the size its header gives is checked
    against the gzip trailer's record of the inflated size and against this machine's memory, so a file that would
    inflate to gigabytes is refused before it is inflated.

    Returns:
        Uint8 array of the header's shape.

    Raises:
        HarnessError: Unreadable, wrong magic number, truncated or over-long body, a gzip size that disagrees with
            the header, or a body larger than half the memory, naming the file.
    """
    gz = path.suffix == ".gz"
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as handle:
            head = handle.read(4)
            if len(head) < 4 or int.from_bytes(head, "big") != magic:
                found = f"0x{int.from_bytes(head, 'big'):08x}" if len(head) == 4 else f"{len(head)} bytes"
                raise HarnessError(f"{str(path)!r}: not an MNIST idx file of this kind: magic number {found}, "
                                   f"expected 0x{magic:08x}")
            ndim = magic & 0xFF
            header = 4 + 4 * ndim
            dims = handle.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise HarnessError(f"{str(path)!r}: truncated idx header ({4 + len(dims)} bytes, expected {header})")
            shape = tuple(int.from_bytes(dims[4 * i: 4 * i + 4], "big") for i in range(ndim))
            expected = header + int(np.prod(shape, dtype=np.int64))
            inflated = _gzip_size(path) if gz else expected % 2**32
            if inflated != expected % 2**32:
                state = "truncated" if inflated < expected % 2**32 else "not the size its header says"
                raise HarnessError(f"{str(path)!r}: idx body {state}: the file inflates to {inflated} bytes (its gzip "
                                   f"trailer, mod 2**32), the header {shape} needs {expected}")
            memory = _memory_bytes()
            if memory is not None and expected > memory // 2:
                raise HarnessError(f"{str(path)!r}: its idx header {shape} needs {expected / 2**30:.1f} GiB, more than "
                                   f"half of this machine's {memory / 2**30:.1f} GiB; not an MNIST file")
            body = handle.read(expected - header + 1)  # one byte more than the header says: detects an over-long body
    except (OSError, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise HarnessError(f"{str(path)!r}: cannot read the idx file ({exc})") from exc
    if len(body) != expected - header:
        short = len(body) < expected - header
        size = f"{header + len(body)} bytes" if short else f"more than {expected} bytes"
        raise HarnessError(f"{str(path)!r}: idx body {'truncated' if short else 'longer than its header says'}: "
                           f"{size}, the header {shape} needs {expected}")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def read_svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Reads an SVHN cropped-digits ``.mat``: uint8 ``(N, 3, 32, 32)`` images and int64 ``(N,)`` labels (10 → 0).

    Raises:
        HarnessError: Unreadable, no ``X``/``y``, wrong shapes or labels outside 1..10, naming the file.
    """
    try:
        mat = scipy.io.loadmat(str(path))
    except NotImplementedError as exc:  # MATLAB v7.3 (HDF5)
        raise HarnessError(f"{str(path)!r}: a MATLAB v7.3 (HDF5) file; SVHN's files are v5 ({exc})") from exc
    except Exception as exc:  # scipy raises ValueError/TypeError/OSError on files that are not .mat
        raise HarnessError(f"{str(path)!r}: cannot read as a MATLAB .mat file ({exc})") from exc
    missing = [key for key in ("X", "y") if key not in mat]
    if missing:
        raise HarnessError(f"{str(path)!r}: no {' and '.join(missing)} in the .mat file (found "
                           f"{sorted(k for k in mat if not k.startswith('__'))}); expected SVHN's X (32, 32, 3, N) "
                           "and y (N, 1)")
    images, labels = np.asarray(mat["X"]), np.asarray(mat["y"]).reshape(-1)
    if images.ndim != 4 or images.shape[:3] != (32, 32, 3) or images.shape[3] != labels.shape[0]:
        raise HarnessError(f"{str(path)!r}: X has shape {images.shape} and y {labels.shape[0]} labels; expected X "
                           "(32, 32, 3, N) and N labels")
    if images.dtype != np.uint8 or labels.size and (labels.min() < 1 or labels.max() > 10 or
                                                    not np.all(labels == np.round(labels))):
        raise HarnessError(f"{str(path)!r}: expected uint8 X and integer y in 1..10 (10 = digit 0), got X "
                           f"{images.dtype} and y in [{labels.min()}, {labels.max()}]")
    labels = labels.astype(np.int64) % 10  # SVHN writes digit 0 as label 10
    return np.ascontiguousarray(images.transpose(3, 2, 0, 1)), labels


def _find(root: Path, subfolder: str, name: str, gz: bool) -> Path:
    for folder in (root / subfolder, root):
        for candidate in (name, f"{name}.gz") if gz else (name,):
            if (folder / candidate).is_file():
                return folder / candidate
    suffix = "[.gz]" if gz else ""
    raise HarnessError(f"svhn_mnist: {name}{suffix} not found in {str(root / subfolder)!r} or {str(root)!r} "
                       f"(set --set svhn_mnist.root=PATH to a folder with svhn/ and mnist/)")


def _mnist(root: Path, split: str) -> DomainData:
    images_name, labels_name = MNIST_FILES[split]
    images = read_idx(_find(root, "mnist", images_name, gz=True), IDX_IMAGES_MAGIC)
    labels_path = _find(root, "mnist", labels_name, gz=True)
    labels = read_idx(labels_path, IDX_LABELS_MAGIC)
    if labels.shape[0] != images.shape[0] or (labels.size and labels.max() > 9):
        raise HarnessError(f"{str(labels_path)!r}: {labels.shape[0]} labels (max {labels.max(initial=0)}) for "
                           f"{images.shape[0]} images; expected one label in 0..9 per image")
    return DomainData(torch.from_numpy(images.copy()).unsqueeze(1),
                      {"class": torch.from_numpy(labels.astype(np.int64))})


def _svhn(root: Path, parts: tuple[str, ...]) -> DomainData:
    loaded = [read_svhn_mat(_find(root, "svhn", f"{part}_32x32.mat", gz=False)) for part in parts]
    images = np.concatenate([x for x, _ in loaded]) if len(loaded) > 1 else loaded[0][0]
    labels = np.concatenate([y for _, y in loaded]) if len(loaded) > 1 else loaded[0][1]
    return DomainData(torch.from_numpy(images), {"class": torch.from_numpy(labels)})


def _limit(data: DomainData, max_train: int) -> DomainData:
    return data.subset(slice(0, max_train)) if max_train and len(data) > max_train else data


def build_svhn_mnist(config: SVHNMNISTConfig) -> Task:
    """Loads SVHN (source, ``printed``) and MNIST (target, ``handwritten``) from ``config.root``."""
    if not config.root:
        raise HarnessError("task svhn_mnist: set --set svhn_mnist.root=PATH to a folder with SVHN's "
                           "train/test[/extra]_32x32.mat and MNIST's idx files (svhn/, mnist/); nothing is downloaded")
    if config.svhn_train not in ("train", "extra", "train+extra"):
        raise HarnessError(f"svhn_mnist.svhn_train={config.svhn_train!r} is not one of train, extra, train+extra")
    if config.max_train < 0:
        raise HarnessError(f"svhn_mnist.max_train={config.max_train} must be >= 0 (0 = all)")
    root = Path(config.root)
    if not root.is_dir():
        raise HarnessError(f"svhn_mnist.root={config.root!r} is not a folder")
    train_parts = tuple(config.svhn_train.split("+"))
    splits = {
        "train": {"printed": _limit(_svhn(root, train_parts), config.max_train),
                  "handwritten": _limit(_mnist(root, "train"), config.max_train)},
        "test": {"printed": _svhn(root, ("test",)), "handwritten": _mnist(root, "test")},
    }
    meta = {"classes": list(range(10)), "num_classes": 10, "channels": {"printed": 3, "handwritten": 1},
            "sizes": {d: int(splits["train"][d].images.shape[-1]) for d in ("printed", "handwritten")},
            "sources": {"printed": f"SVHN {config.svhn_train}", "handwritten": "MNIST"}}
    return Task(name="svhn_mnist", domains=("printed", "handwritten"), paired=False, label_kinds=("class",),
                image_size=32, splits=splits, meta=meta)
