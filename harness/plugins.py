"""Plugin models: a user's model, registered without editing the harness, trained and scored like the references.

A plugin is a Python file or module exposing ``HARNESS_MODELS``: a ``ModelSpec`` or a tuple of them (a model and
its variants). Besides what a built-in entry has (builder, batch sampler, protocol per task, setting), a plugin's
spec brings its own config section (``ModelSpec.section``, a ``harness.sections.SectionSpec``) and names the class
its builder returns (``ModelSpec.model_class``). Plugins come from two places:

- ``--plugin path/to/my_model.py`` (``path.py:ATTRIBUTE``, ``package.module`` or ``package.module:ATTRIBUTE``) on
  ``suite``, ``train`` and ``list``;
- the entry points of the group ``gan_harness.models`` of the installed distributions (the way pytest finds its
  plugins), each ``package.module:ATTRIBUTE``; every fresh ``suite``, ``train`` and ``list`` loads them.

Everything is checked before a spec is registered, and each failure is one ``HarnessError`` (exit 2) naming the
plugin: a file that does not import (with the line), no ``HARNESS_MODELS``, a model or section name that clashes
with a built-in one, a class that lacks a method of the model contract (``reference_models/base.py``), a setting
the tasks do not have, an unknown task or protocol, a default config outside its own declared choices and ranges,
a followed section or key that does not fit. The suite checks the rest against the built tasks before anything is
written (a paired model on an unpaired task, a followed budget changed by ``--set``).

A run records its plugins' sources in ``config.json`` (``plugins``) and each file's sha256 in the manifest, so
``--resume``, ``evaluate --run``, ``study`` and the worker processes load the same ones (``load_saved_config``,
``config_for_worker``). The registry is process-global; ``unload_plugins`` takes every plugin out again (tests).
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import re
import sys
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import ModuleType

from harness.core.errors import HarnessError
from harness.models import MODELS, ModelSpec
from harness.plugin_checks import ATTRIBUTE, check_spec
from harness.run_config import RunConfig, config_from_dict, config_from_saved, model_config, model_section
from harness.sections import BUDGET_KEYS, followed_keys

ENTRY_POINT_GROUP = "gan_harness.models"
FILE_MODULE_PREFIX = "gan_harness_plugin_"  # sys.modules name of a plugin loaded from a file


@dataclass(frozen=True)
class Plugin:
    """One loaded plugin.

    Attributes:
        source: Normalised source: an absolute ``/path/file.py[:ATTRIBUTE]`` or ``package.module[:ATTRIBUTE]``.
        models: The model names it registered.
        module: Its ``sys.modules`` name.
        file: The module's file ("" when it has none).
        sha256: sha256 of that file ("" when none), recorded in the manifest.
    """

    source: str
    models: tuple[str, ...]
    module: str
    file: str
    sha256: str


_LOADED: dict[str, Plugin] = {}


def normalise(source: str) -> str:
    """``source`` as recorded: a file path made absolute, ``:ATTRIBUTE`` kept; a module name checked."""
    text = source.strip()
    if ".py" in text or "/" in text:
        path, colon, attribute = text.partition(".py:")
        path = path if colon else text
        if not path.endswith(".py"):
            path += ".py"
        resolved = str(Path(path).expanduser().resolve())
        return f"{resolved}:{attribute}" if colon else resolved
    module, _, attribute = text.partition(":")
    if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", module) or (attribute and not attribute.isidentifier()):
        raise HarnessError(f"--plugin {source!r}: expected path/to/file.py, path/to/file.py:ATTRIBUTE, package.module "
                           "or package.module:ATTRIBUTE")
    return text


def discover() -> list[str]:
    """The sources of the installed entry points of ``ENTRY_POINT_GROUP`` (``package.module:ATTRIBUTE``)."""
    return [normalise(ep.value) for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)]


def load_plugins(sources: Sequence[str], *, entry_points: bool = False) -> tuple[str, ...]:
    """Loads (once each) the installed entry points when ``entry_points``, then ``sources``, registering their models.

    Returns:
        Every plugin loaded in this process, in load order: what a config made now holds sections for, and so
        what it records in ``plugins``.
    """
    wanted = [*(discover() if entry_points else ()), *(normalise(s) for s in sources)]
    for source in dict.fromkeys(wanted):
        if source not in _LOADED:
            _LOADED[source] = _load(source)
    return tuple(_LOADED)


def loaded() -> dict[str, Plugin]:
    """Source → ``Plugin`` of every plugin loaded in this process."""
    return dict(_LOADED)


def plugin_of(model: str) -> Plugin | None:
    """The plugin that registered ``model``; None for a built-in model."""
    return next((p for p in _LOADED.values() if model in p.models), None)


def records(sources: Sequence[str]) -> dict[str, dict[str, object]]:
    """Manifest entries of the plugins ``sources``: models, file and sha256."""
    return {s: {"models": list(_LOADED[s].models), "file": _LOADED[s].file, "sha256": _LOADED[s].sha256}
            for s in sources if s in _LOADED}


def unload_plugins() -> None:
    """Unregisters every plugin's models and forgets its module (plugins loaded from files)."""
    for plugin in reversed(list(_LOADED.values())):
        for name in plugin.models:
            MODELS.remove(name)
        if plugin.module.startswith(FILE_MODULE_PREFIX):
            sys.modules.pop(plugin.module, None)
    _LOADED.clear()


def _load(source: str) -> Plugin:
    where, colon, attribute = source.rpartition(":") if ":" in source else (source, "", "")
    attribute = attribute or ATTRIBUTE
    module = _import_file(Path(where), source) if where.endswith(".py") else _import_module(where, source)
    if not hasattr(module, attribute):
        _forget(module)
        raise HarnessError(f"plugin {source}: defines no {attribute} (expected a ModelSpec or a tuple of ModelSpecs, "
                           "see examples/pix2pix_lsgan.py)")
    found = getattr(module, attribute)
    specs = tuple(found) if isinstance(found, (tuple, list)) else (found,)
    pending: dict[str, ModelSpec] = {}
    try:
        for spec in specs:
            pending[getattr(spec, "name", "")] = check_spec(spec, f"plugin {source}", pending)
        if not pending:
            raise HarnessError(f"plugin {source}: {attribute} is empty; expected at least one ModelSpec")
    except HarnessError:
        _forget(module)
        raise
    for name, spec in pending.items():
        MODELS.add(name, spec)
    file = str(getattr(module, "__file__", "") or "")
    sha = hashlib.sha256(Path(file).read_bytes()).hexdigest() if file and Path(file).is_file() else ""
    return Plugin(source, tuple(pending), module.__name__, file, sha)


def _forget(module: ModuleType) -> None:
    if module.__name__.startswith(FILE_MODULE_PREFIX):
        sys.modules.pop(module.__name__, None)


def _import_file(path: Path, source: str) -> ModuleType:
    if not path.is_file():
        raise HarnessError(f"--plugin {source}: no such file (expected a Python file defining {ATTRIBUTE})")
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:8]
    name = f"{FILE_MODULE_PREFIX}{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise HarnessError(f"--plugin {source}: not importable as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and typing resolve the module's annotations through sys.modules
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ left beside the user's file
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's code: any error is that file's, named with its line
        sys.modules.pop(name, None)
        raise HarnessError(f"--plugin {source}: cannot import it ({_where(exc, path)}); fix the file or drop "
                           "--plugin") from None
    finally:
        sys.dont_write_bytecode = writes
    return module


def _import_module(name: str, source: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except Exception as exc:  # noqa: BLE001 - the user's code, as above
        raise HarnessError(f"plugin {source}: cannot import {name} ({type(exc).__name__}: {exc}); is its package "
                           "installed, or its folder on PYTHONPATH?") from None


def _where(exc: BaseException, path: Path) -> str:
    """``line N: Type: message`` with the deepest line of ``path`` in the traceback (or the syntax error's)."""
    line = getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else None
    for frame in traceback.extract_tb(exc.__traceback__):
        if Path(frame.filename) == path:
            line = frame.lineno
    return f"{'line ' + str(line) + ': ' if line else ''}{type(exc).__name__}: {exc}"


def check_followed_budget(config: RunConfig, model: str, task: str) -> None:
    """Refuses a plugin job whose training budget on ``task`` differs from the built-in section it follows.

    Followed keys take the followed section's values when the config is resolved; this catches a ``--set`` or
    ``task_overrides`` entry that made a budget key differ (docs/ARCHITECTURE.md, Fair comparisons).
    """
    spec = MODELS.get(model)
    if spec.section is None or not spec.section.follows:
        return
    mine, theirs = model_config(config, model, task), model_section(config, spec.section.follows, task)
    for key in followed_keys(spec.section, theirs):
        if key in BUDGET_KEYS and getattr(mine, key) != getattr(theirs, key):
            raise HarnessError(f"{model} on {task}: {spec.config_section}.{key}={getattr(mine, key)!r} but "
                               f"{spec.section.follows}.{key}={getattr(theirs, key)!r} there; {model} follows "
                               f"{spec.section.follows}'s training budget (docs/ARCHITECTURE.md, Fair comparisons): "
                               f"set {spec.section.follows}.{key} instead, which {spec.config_section} then follows")


def load_saved_config(path: Path, overrides: Mapping[str, object] | None = None,
                      flags: Mapping[str, str] | None = None) -> RunConfig:
    """A run's ``config.json`` (``run_config.config_from_saved``) after loading the plugins it records."""
    try:
        saved = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        saved = {}  # config_from_saved names the problem
    sources = saved.get("plugins", []) if isinstance(saved, dict) else []
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise HarnessError(f"{path}: 'plugins' is not a list of plugin sources")
    try:
        load_plugins(sources)
    except HarnessError as exc:
        raise HarnessError(f"{path}: the run's plugins cannot be loaded: {exc}") from None
    return config_from_saved(path, overrides, flags)


def config_for_worker(data: Mapping[str, object]) -> RunConfig:
    """A config sent to a worker process as ``config_to_dict`` output, after loading the plugins it records."""
    load_plugins(list(data.get("plugins", ())))  # type: ignore[arg-type]
    return config_from_dict(data, source="the run's config")
