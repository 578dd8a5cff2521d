"""The cache for generated datasets and trained judges, keyed by a hash of everything they depend on.

Location: ``$HARNESS_CACHE_DIR`` if set, else ``~/.cache/gan-harness``. Entries are written atomically, so a
killed process never leaves a half-written entry that a later run would trust, and built under ``cache_lock``, so
jobs running at once (``--workers``) build a missing entry once and all use that one. A generated task's entry
records the sha256 of its tensors and is checked on every load: an entry whose bytes do not match (a damaged
disk, an edited file, an entry from an older harness) is regenerated with a warning, never used.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict
from pathlib import Path

import torch

from harness.core.atomic import torch_load, torch_save

log = logging.getLogger(__name__)

try:
    import fcntl
except ImportError:  # not POSIX: no lock; concurrent jobs may then each build an entry (same data, atomic writes)
    fcntl = None


def cache_location() -> Path:
    """Where the cache directory is (``HARNESS_CACHE_DIR``, else ``~/.cache/gan-harness``), not creating it."""
    return Path(os.environ.get("HARNESS_CACHE_DIR", Path.home() / ".cache" / "gan-harness"))


def cache_root() -> Path:
    """The cache directory (created on first use)."""
    root = cache_location()
    root.mkdir(parents=True, exist_ok=True)
    return root


@contextlib.contextmanager
def cache_lock(path: Path) -> Iterator[None]:
    """Holds an exclusive lock on ``<path>.lock`` (created beside it) until the block ends.

    Build a missing cache entry inside it and check for the entry again once inside (an entry that exists needs no
    lock: entries are written atomically): of jobs that miss the same entry at once, the first builds it and the
    others wait, then load that one. Without it each would build its own, and a judge trained twice on a GPU is two
    different judges scoring rows of one run. The lock is the kernel's (``flock``), so a killed holder releases it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if fcntl is None:
        yield
        return
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def stable_hash(*parts: object, length: int = 16) -> str:
    """Hex digest of the JSON form of ``parts`` (dataclasses should be passed as ``asdict`` dicts)."""
    payload = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(payload).hexdigest()[:length]


def file_sha256(path: str | Path) -> str:
    """Full sha256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_sha256(state: Mapping[str, torch.Tensor]) -> str:
    """sha256 of a state dict's contents: names, dtypes, shapes and bytes, in name order.

    This is the "weights hash" recorded in provenance. Unlike the file's sha256 it does not change between two saves
    of the same weights (``torch.save`` writes a random serialization id and the temp file's name into the archive).
    """
    digest = hashlib.sha256()
    for name in sorted(state):
        tensor = state[name].detach().cpu().contiguous()
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}|".encode())
        digest.update(tensor.numpy().tobytes() if tensor.dtype != torch.bfloat16 else tensor.float().numpy().tobytes())
    return digest.hexdigest()


def tensors_sha256(*tensors: torch.Tensor) -> str:
    """Full sha256 hex digest of tensors' dtypes, shapes and bytes, in order (a content identity)."""
    digest = hashlib.sha256()
    for tensor in tensors:
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{t.dtype}{tuple(t.shape)}|".encode())
        digest.update(t.numpy().tobytes())
    return digest.hexdigest()


def task_key(config: object, version: object, *extra: object) -> str:
    """The one cache key of a generated task: its config dataclass, its generator version and any other input.

    Args:
        config: The task's config dataclass (hashed as ``asdict``).
        version: The generator version (bumped whenever the same config would generate other data).
        *extra: Further inputs the generator reads besides the config (e.g. the digits task's font files).
    """
    return stable_hash(asdict(config), version, *extra)


def nested_sha256(data: object) -> str:
    """sha256 of every tensor in a nesting of dicts (keys in sorted order), with the keys' paths."""
    digest = hashlib.sha256()

    def visit(node: object, path: str) -> None:
        if isinstance(node, dict):
            for name in sorted(node):
                visit(node[name], f"{path}/{name}")
        elif isinstance(node, torch.Tensor):
            digest.update(f"{path}|".encode())
            digest.update(tensors_sha256(node).encode())
        else:
            raise TypeError(f"cache entry holds a {type(node).__name__} at {path or '/'}; expected tensors in dicts")

    visit(data, "")
    return digest.hexdigest()


def _load_checked(path: Path) -> dict | None:
    """The data of a task entry whose recorded sha256 matches its tensors; None (with a warning) otherwise."""
    try:
        entry = torch_load(path)
    except Exception as exc:  # unreadable: treat like a mismatch, regenerate
        log.warning("cache entry %s cannot be read (%s); regenerating it", path, exc)
        return None
    if not (isinstance(entry, dict) and set(entry) == {"sha256", "data"}):
        log.warning("cache entry %s has no recorded hash (an older harness wrote it); regenerating it", path)
        return None
    actual = nested_sha256(entry["data"])
    if actual != entry["sha256"]:
        log.warning("cache entry %s: its tensors hash to %s…, not the %s… recorded when it was written (damaged or "
                    "edited); regenerating it", path, actual[:12], str(entry["sha256"])[:12])
        return None
    return entry["data"]


def load_or_generate(prefix: str, config: object, version: object, generate: Callable[[], dict],
                     extra: tuple[object, ...] = (), folder: str = "tasks") -> tuple[dict, str]:
    """Returns ``(generate()'s tensors, task_key)``, cached at ``cache_root()/<folder>/<prefix>-<key>.pt``.

    Args:
        prefix: Task name used in the file name.
        config: A dataclass config.
        version: Generator version.
        generate: Builds ``{split: {key: uint8 tensor}}`` (or any nesting of tensors) when the cache misses.
        extra: Further generator inputs for the key (see ``task_key``).
        folder: The cache's sub-folder (``"tasks"``; ``"fidelity"`` for real images' features).

    The key goes into the task's ``meta["cache_key"]``.
    """
    key = task_key(config, version, *extra)
    path = cache_root() / folder / f"{prefix}-{key}.pt"
    if path.exists():  # entries are written atomically: one that exists is whole (and its hash is checked)
        data = _load_checked(path)
        if data is not None:
            return data, key
    with cache_lock(path):
        if path.exists():  # another job built it while this one waited
            data = _load_checked(path)
            if data is not None:
                return data, key
        data = generate()
        torch_save({"sha256": nested_sha256(data), "data": data}, path)
    return data, key
