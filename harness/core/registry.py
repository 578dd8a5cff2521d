"""A small explicit registry: a dict filled by explicit calls, with duplicate checks and helpful misses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from harness.core.errors import HarnessError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name → entry mapping for one kind of thing (models, tasks, metrics, protocols).

    Args:
        kind: What the entries are, used in error messages (e.g. ``"model"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        """Registers ``entry`` under ``name``; a second entry under the same name is a programming error."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def remove(self, name: str) -> T:
        """Unregisters ``name`` and returns its entry (plugins are unloaded this way; a miss is a ``KeyError``)."""
        return self._entries.pop(name)

    def get(self, name: str) -> T:
        """Returns the entry, or raises ``HarnessError`` listing the valid names."""
        if name not in self._entries:
            valid = ", ".join(sorted(self._entries)) or "(none)"
            raise HarnessError(f"unknown {self.kind} {name!r}; valid {self.kind}s: {valid}")
        return self._entries[name]

    def names(self) -> list[str]:
        """Registered names in registration order."""
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def items(self) -> list[tuple[str, T]]:
        """(name, entry) pairs in registration order."""
        return list(self._entries.items())
