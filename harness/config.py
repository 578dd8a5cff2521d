"""Typed, frozen configs and the one override mechanism used by profiles, ``--set`` and the CLI.

Overrides are flat dotted keys (``gan.steps=200``, ``eval.n_samples=500``). Unknown keys and values of the wrong
type are rejected with a ``HarnessError`` naming the key, where it came from and what was expected. Profiles are
small JSON files of the same dotted keys, applied before ``--set``.

``check_config`` then checks every leaf of the resolved config against what its field declares: a ``Literal[...]``
choice, a ``harness.core.bounds.Range`` or ``PathTo`` in an ``Annotated`` type, and finiteness for every float.
Sections whose classes cannot carry the annotations yet get their ranges from a ``bounds`` table keyed by dotted
key. Nothing is written before this check passes.
"""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from harness.core.bounds import PathTo, Range
from harness.core.errors import HarnessError

C = TypeVar("C")
PROFILES = ("smoke", "standard", "paper")  # harness/profiles/<name>.json; kept here so --help needs no torch


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
        if isinstance(raw, float) and raw.is_integer():
            return int(raw)
        if isinstance(raw, str):
            try:
                return int(raw)
            except ValueError:
                pass
            try:  # "1e6" is a whole number too
                number = float(raw)
            except ValueError:
                raise fail() from None
            if number.is_integer():
                return int(number)
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
    """Parses ``raw`` for a field annotated ``annotation`` (scalars, ``X | None``, ``tuple[X, ...]``, Literal).

    Ranges are not checked here but by ``check_config`` on the resolved config, so defaults and profiles are
    checked too.
    """
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        try:
            return _parse_value(args[0], raw, key, source)
        except HarnessError as exc:
            ranges = [m.describe() for m in args[1:] if isinstance(m, Range)]
            raise HarnessError(f"{exc}; expected {ranges[0]}" if ranges else str(exc)) from None
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (raw is None or (isinstance(raw, str) and raw.lower() in ("none", "null", ""))):
            return None
        inner = [a for a in args if a is not type(None)]
        return _parse_value(inner[0], raw, key, source)
    if origin is typing.Literal:
        for choice in args:  # the CLI gives strings: "70" selects Literal[1, 16, 70, 286]'s 70
            if raw == choice or (isinstance(raw, str) and not isinstance(choice, str) and raw == str(choice)):
                return choice
        raise HarnessError(f"{source}: {key}={raw!r} is not one of {', '.join(map(repr, args))}")
    if origin is tuple:
        items = raw.split(",") if isinstance(raw, str) else raw
        if not isinstance(items, (list, tuple)):
            raise HarnessError(f"{source}: {key}={raw!r} is not a comma-separated list")
        items = [i.strip() if isinstance(i, str) else i for i in items if not (isinstance(i, str) and not i.strip())]
        return tuple(_parse_value(args[0], item, key, source) for item in items)
    return _parse_scalar(annotation, raw, key, source)


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=True)


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


def _problem(annotation: Any, value: object, extra: Range | None) -> str | None:
    """What is wrong with ``value`` for a field annotated ``annotation`` (``None`` when nothing is)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        declared = any(isinstance(m, Range) for m in args[1:])  # a declared range wins over the bounds table
        for marker in (*args[1:], None if declared else extra):
            if isinstance(marker, Range) and isinstance(value, (int, float)) and not marker.accepts(value):
                return f"is out of range; expected {marker.describe()}"
            if isinstance(marker, PathTo) and isinstance(value, str) and (why := marker.problem(value)):
                return f"{why} (expected a {marker.kind} path, or empty)"
        return _problem(args[0], value, None)
    if origin in (typing.Union, types.UnionType):
        return None if value is None else _problem([a for a in args if a is not type(None)][0], value, extra)
    if origin is typing.Literal:
        return None if value in args else f"is not one of {', '.join(map(repr, args))}"
    if origin is tuple:
        for item in value:  # type: ignore[union-attr]
            if (why := _problem(args[0], item, extra)) is not None:
                return f"holds {item!r}, which {why}"
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return "is not a finite number"
    if extra is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
        return None if extra.accepts(value) else f"is out of range; expected {extra.describe()}"
    return None


def check_config(config: object, *, sources: Mapping[str, str] | None = None,
                 bounds: Mapping[str, Range] | None = None, prefix: str = "") -> None:
    """Checks every leaf of a resolved config against its declared choices, ranges and paths.

    Args:
        config: A (nested) frozen dataclass instance.
        sources: Dotted key → where its value came from (``"--set"``, ``"profile smoke.json"``) for messages;
            keys not listed are named ``"config"``.
        bounds: Dotted key → ``Range`` for fields whose annotation carries none.
        prefix: Dotted prefix of ``config`` inside the root config (``"pix2pix."`` for a section).

    Raises:
        HarnessError: The first offending leaf, as ``<source>: <key>=<value> <what is wrong>; expected ...``.
    """
    hints = _field_types(type(config))
    for f in dataclasses.fields(config):  # type: ignore[arg-type]
        value, key = getattr(config, f.name), f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            check_config(value, sources=sources, bounds=bounds, prefix=key + ".")
            continue
        why = _problem(hints[f.name], value, (bounds or {}).get(key))
        if why is not None:
            shown = ",".join(map(str, value)) if isinstance(value, tuple) else value
            raise HarnessError(f"{(sources or {}).get(key, 'config')}: {key}={shown!r} {why}")


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
