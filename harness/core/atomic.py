"""Atomic file writes: write to a temporary file in the same directory, then ``os.replace``.

A reader never sees a half-written file, and a run killed mid-write leaves the previous version (or nothing).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch


def _file_mode() -> int:
    """The mode a plainly created file gets (0o666 less the umask); ``mkstemp`` alone would leave 0o600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path next to ``path``; on success it replaces ``path``, on error it is removed."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _FILE_MODE)  # readable like any other output file (report.html, metrics.csv)
        os.replace(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: str | Path, text: str) -> None:
    """Atomically writes UTF-8 text."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path: str | Path, data: Any) -> None:
    """Atomically writes JSON (indented, keys in insertion order; NaN allowed)."""
    write_text(path, json.dumps(data, indent=2, default=str) + "\n")


def torch_save(obj: Any, path: str | Path) -> None:
    """Atomically writes a ``torch.save`` file."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def torch_load(path: str | Path) -> Any:
    """Loads a file written by ``torch_save`` with ``weights_only=True`` (tensors, numbers, strings, containers)."""
    return torch.load(path, map_location="cpu", weights_only=True)
