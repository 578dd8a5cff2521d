"""Atomic file writes: write to a temporary file in the same directory, then ``os.replace``.

A reader never sees a half-written file, and a run killed mid-write leaves the previous version (or nothing).
Files are flushed to disk before the rename, so a crash of the machine does not leave an empty file either. A write
that fails because the disk is full or the place is not writable raises an ``OSError`` naming the final file (the
CLI reports it in one line); a file that cannot be read back raises a ``HarnessError`` naming it.
"""

from __future__ import annotations

import contextlib
import json
import os
import pickle
import shutil
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from harness.core.errors import DiskFull, HarnessError

REBUILD_HINT = "delete it and the harness rebuilds it"  # true of the cache's files; others pass their own hint


def _file_mode() -> int:
    """The mode a plainly created file gets (0o666 less the umask); ``mkstemp`` alone would leave 0o600."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _file_mode()


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yields a temporary path next to ``path``; on success it replaces ``path``, on error it is removed.

    Raises:
        OSError: The write failed (disk full, read-only place, no permission), with ``filename`` set to ``path``.
    """
    final = Path(path)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(final)) from None
    try:
        yield Path(tmp)
        os.chmod(tmp, _FILE_MODE)  # readable like any other output file (report.html, metrics.csv)
        _fsync(tmp)
        os.replace(tmp, final)
    except OSError as exc:
        if exc.filename is None or str(exc.filename) == tmp:  # name the file the user knows, not the temporary one
            raise OSError(exc.errno, exc.strerror, str(final)) from None
        raise
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
    """Atomically writes a ``torch.save`` file.

    Raises:
        DiskFull: torch's writer failed (``enforce fail at inline_container.cc``, an iostream error), which on a
            local disk means the disk is full; the message names ``path`` and the free space.
    """
    with atomic_path(path) as tmp:
        try:
            torch.save(obj, tmp)
        except RuntimeError:  # torch's stream writer failed ("enforce fail at inline_container.cc", iostream error)
            free = shutil.disk_usage(tmp.parent).free / 2**20
            raise DiskFull(f"cannot write {path}: the write failed with {free:.0f} MiB free on that disk (a full "
                           "disk is the usual cause)") from None


def torch_load(path: str | Path, *, hint: str = REBUILD_HINT) -> Any:
    """Loads a file written by ``torch_save`` with ``weights_only=True`` (tensors, numbers, strings, containers).

    Args:
        path: The file.
        hint: What the user can do about an unreadable file (shown after the reason).

    Raises:
        HarnessError: The file is truncated, corrupt, or holds objects other than weights (it is never unpickled
            with ``weights_only=False``); the message names the file.
    """
    try:
        with warnings.catch_warnings():  # torch warns about unusual pickle protocols before refusing them
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise HarnessError(f"{path}: file not found; {hint}") from None
    except pickle.UnpicklingError:
        reason = "is corrupt or holds objects other than weights (such objects are never unpickled)"
    except (RuntimeError, EOFError, ValueError, KeyError, IndexError, TypeError, AttributeError, struct.error,
            zipfile.BadZipFile, OSError) as exc:  # what torch's readers raise on a damaged file (IndexError: b"x")
        reason = f"is truncated or corrupt ({type(exc).__name__})"
    raise HarnessError(f"{path}: {reason}; {hint}")


def read_json(path: str | Path) -> dict:
    """A JSON object file (one the harness wrote), or a ``HarnessError`` naming it and what was expected."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{path}: unreadable ({type(exc).__name__}); expected the JSON file a run writes") from None
    if not isinstance(data, dict):
        raise HarnessError(f"{path}: expected a JSON object (the file a run writes), got {type(data).__name__}")
    return data
