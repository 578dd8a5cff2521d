"""Typed, frozen configs and the one override mechanism used by profiles, ``--set`` and the CLI.

Overrides are flat dotted keys (``gan.steps=200``, ``eval.n_samples=500``). Unknown keys and values of the wrong
type are rejected with a ``HarnessError`` naming the key, where it came from and what was expected. Profiles are
small JSON files of the same dotted keys, applied before ``--set``.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from harness.core.errors import HarnessError

C = TypeVar("C")


def _parse_scalar(kind: type, raw: object, key: str, source: str) -> object:
    """Converts ``raw`` (a string from the CLI or a JSON value) to ``kind``, or raises naming ``key``."""
    def fail() -> HarnessError:
        return HarnessError(f"{source}: {key}={raw!r} is not a valid {kind.__name__}")

    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.lower() in ("true", "false", "1", "0", "yes", "no"):
            return raw.lower() in ("true", "1", "yes")
        raise fail()
    if kind is int:
        if isinstance(raw, bool):
            raise fail()
        if isinstance(raw, int):
            return raw
        if isinstance(raw, str):
            try:
                return int(raw)
            except ValueError:
                raise fail() from None
        raise fail()
    if kind is float:
        if isinstance(raw, bool):
            raise fail()
        if isinstance(raw, (int, float)):
            return float(raw)
        if isinstance(raw, str):
            try:
                return float(raw)
            except ValueError:
                raise fail() from None
        raise fail()
    if kind is str:
        if isinstance(raw, str):
            return raw
        raise fail()
    raise HarnessError(f"{source}: {key} has unsupported type {kind!r}")


def _parse_value(annotation: Any, raw: object, key: str, source: str) -> object:
    """Parses ``raw`` for a field annotated ``annotation`` (scalars, ``X | None``, ``tuple[X, ...]``, Literal)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (raw is None or (isinstance(raw, str) and raw.lower() in ("none", "null", ""))):
            return None
        inner = [a for a in args if a is not type(None)]
        return _parse_value(inner[0], raw, key, source)
    if origin is typing.Literal:
        if raw not in args:
            raise HarnessError(f"{source}: {key}={raw!r} is not one of {', '.join(map(repr, args))}")
        return raw
    if origin is tuple:
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)):
            raise HarnessError(f"{source}: {key}={raw!r} is not a comma-separated list")
        items = [i.strip() if isinstance(i, str) else i for i in items if not (isinstance(i, str) and not i.strip())]
        return tuple(_parse_value(args[0], item, key, source) for item in items)
    return _parse_scalar(annotation, raw, key, source)


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def apply_overrides(config: C, overrides: Mapping[str, object], source: str) -> C:
    """Returns a copy of ``config`` with dotted-key ``overrides`` applied.

    Args:
        config: A frozen dataclass instance (possibly nested).
        overrides: ``{"gan.steps": "200", ...}``; values are strings (CLI) or JSON values (profiles).
        source: Where the overrides came from (``"--set"``, a profile path), for error messages.

    Raises:
        HarnessError: Unknown key (listing the valid keys of that section) or a value of the wrong type.
    """
    for key, raw in overrides.items():
        config = _set(config, key.split("."), raw, key, source)
    return config


def _set(config: Any, path: list[str], raw: object, key: str, source: str) -> Any:
    hints = _field_types(type(config))
    name = path[0]
    if name not in hints:
        valid = ", ".join(sorted(hints))
        raise HarnessError(f"{source}: unknown key {key!r}; valid keys here: {valid}")
    current = getattr(config, name)
    if dataclasses.is_dataclass(current):
        if len(path) == 1:
            raise HarnessError(f"{source}: {key!r} is a section; set one of its keys, e.g. {key}.<name>=...")
        return dataclasses.replace(config, **{name: _set(current, path[1:], raw, key, source)})
    if len(path) > 1:
        raise HarnessError(f"{source}: unknown key {key!r}; {'.'.join(path[:1])} is not a section")
    return dataclasses.replace(config, **{name: _parse_value(hints[name], raw, key, source)})


def parse_set_arguments(items: list[str]) -> dict[str, str]:
    """Parses ``--set key=value`` items into a dict, rejecting items without ``=``."""
    result: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise HarnessError(f"--set: expected key=value, got {item!r}")
        result[key.strip()] = value.strip()
    return result


def config_to_dict(config: object) -> dict[str, Any]:
    """A JSON-serialisable nested dict of a dataclass config (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))  # type: ignore[arg-type]


def flatten(config: object, prefix: str = "") -> dict[str, Any]:
    """Dotted key → value for every leaf of a nested dataclass (for hashing and for the CLI help)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):  # type: ignore[arg-type]
        value = getattr(config, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            out.update(flatten(value, key + "."))
        else:
            out[key] = value
    return out


def flatten_dict(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted key → leaf value of a nested dict (e.g. a saved ``config.json``); lists become tuples."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out.update(flatten_dict(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = tuple(value) if isinstance(value, list) else value
    return out


def load_profile_file(path: Path) -> dict[str, object]:
    """Reads a profile override file: a JSON object of dotted keys (``"_doc"`` keys are comments)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise HarnessError(f"profile {str(path)!r}: cannot read JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise HarnessError(f"profile {str(path)!r}: expected a JSON object of dotted keys")
    return {k: v for k, v in data.items() if not k.startswith("_")}
