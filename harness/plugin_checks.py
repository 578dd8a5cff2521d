"""The checks a plugin's ``ModelSpec`` passes before it is registered (``harness.plugins``).

Each problem is one ``HarnessError`` naming the plugin, the model and what was expected: a name that is not
lower-case letters, digits and single underscores or that clashes with a registered model; a setting the tasks do
not have; a ``model_class`` that lacks a method of the model contract (``reference_models/base.py``); a config
section that is not a frozen dataclass with an int ``steps``, clashes with a built-in section, or whose default,
profile values or variant overrides fall outside its own declared choices and ranges; a followed section or key
that does not fit; an unknown task or protocol; a builder or batch sampler that is not callable.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Mapping

from harness.config import PROFILES, apply_overrides, check_config, flatten
from harness.core.errors import HarnessError
from harness.models import MODELS, ModelSpec, Setting
from harness.protocols.registry import PROTOCOLS
from harness.run_config import SECTION_BOUNDS, RunConfig
from harness.sections import SectionSpec, base_type, follow_problem
from harness.tasks import TASKS

ATTRIBUTE = "HARNESS_MODELS"  # what a plugin module exposes: a ModelSpec or a tuple of ModelSpecs
CONTRACT = ("train_step", "directions", "provenance", "networks", "state_dict", "load_state_dict")
OUTPUT_METHOD = {"paired": "translate", "unpaired": "translate", "unconditional": "sample"}
NAME = re.compile(r"[a-z][a-z0-9_]*")  # model and section names: job ids split on "__", so none holds it


def check_spec(spec: object, where: str, pending: Mapping[str, ModelSpec]) -> ModelSpec:
    """Checks one plugin ``ModelSpec`` against the registries and the model contract; returns it.

    Args:
        spec: What the plugin exposed.
        where: ``"plugin <source>"``, for messages.
        pending: Specs of the same plugin already checked (names and sections they claim).

    Raises:
        HarnessError: The first problem, naming the plugin, the model and what was expected.
    """
    if not isinstance(spec, ModelSpec):
        raise HarnessError(f"{where}: {ATTRIBUTE} holds a {type(spec).__name__}; expected harness.models.ModelSpec")
    name = spec.name
    if not isinstance(name, str) or not NAME.fullmatch(name) or "__" in name:
        raise HarnessError(f"{where}: model name {name!r} is not lower-case letters, digits and single underscores")
    if name in MODELS or name in pending:
        clash = ("another model of this plugin" if name in pending else "a registered plugin model" if
                 MODELS.get(name).section is not None else "the built-in model of that name")
        raise HarnessError(f"{where}: model name {name!r} clashes with {clash}; give the plugin's model another name")
    if spec.setting not in typing.get_args(Setting):
        raise HarnessError(f"{where}: model {name} declares setting {spec.setting!r}, which no task has; expected "
                           f"one of {', '.join(typing.get_args(Setting))}")
    _check_class(spec, where)
    _check_section(spec, where, pending)
    if not spec.protocols:
        raise HarnessError(f"{where}: model {name} names no task in protocols (task → evaluation protocol)")
    for task, protocol in spec.protocols.items():
        if task not in TASKS:
            raise HarnessError(f"{where}: model {name} names task {task!r}, which is not registered; tasks: "
                               f"{', '.join(TASKS.names())}")
        if protocol not in PROTOCOLS:
            raise HarnessError(f"{where}: model {name} evaluates {task} with protocol {protocol!r}, which is not "
                               f"registered; protocols: {', '.join(PROTOCOLS.names())}")
    for field_name in ("build", "batch", "check", "frozen"):
        value = getattr(spec, field_name)
        if not callable(value) and not (value is None and field_name in ("check", "frozen")):
            raise HarnessError(f"{where}: model {name}'s {field_name} is not callable")
    unknown = [m for m in spec.compared_with if m not in MODELS and m not in pending]
    if unknown:
        raise HarnessError(f"{where}: model {name} is compared with unknown model(s) {', '.join(unknown)}")
    return spec


def _check_class(spec: ModelSpec, where: str) -> None:
    cls = spec.model_class
    if not isinstance(cls, type):
        raise HarnessError(f"{where}: model {spec.name} has no model_class (the class its builder returns, checked "
                           "against the model contract of reference_models/base.py)")
    needed = (*CONTRACT, OUTPUT_METHOD[spec.setting])
    missing = [method for method in needed if not callable(getattr(cls, method, None))]
    if missing:
        raise HarnessError(f"{where}: {cls.__name__} (model {spec.name}) lacks {', '.join(missing)} of the model "
                           f"contract (reference_models/base.py: {', '.join(needed)})")


def _check_section(spec: ModelSpec, where: str, pending: Mapping[str, ModelSpec]) -> None:
    section, name = spec.section, spec.config_section
    if not isinstance(section, SectionSpec):
        raise HarnessError(f"{where}: model {spec.name} has no section (a harness.sections.SectionSpec holding its "
                           "default config): a plugin brings its own config section")
    default = section.default
    if not dataclasses.is_dataclass(default) or isinstance(default, type) \
            or not type(default).__dataclass_params__.frozen:  # type: ignore[attr-defined]
        raise HarnessError(f"{where}: section {name}'s default is a {type(default).__name__}; expected an instance of "
                           "a frozen dataclass")
    try:
        hints = typing.get_type_hints(type(default), include_extras=True)
    except Exception as exc:  # noqa: BLE001 - an annotation of the user's that does not resolve
        raise HarnessError(f"{where}: the annotations of {type(default).__name__} do not resolve ({exc})") from None
    if base_type(hints.get("steps")) is not int:
        raise HarnessError(f"{where}: {type(default).__name__} needs an int field steps (the training loop's length)")
    if not isinstance(name, str) or not NAME.fullmatch(name) or "__" in name:
        raise HarnessError(f"{where}: config section name {name!r} is not lower-case letters, digits and underscores")
    if name in {f.name for f in dataclasses.fields(RunConfig)}:
        raise HarnessError(f"{where}: config section {name!r} clashes with the built-in section of that name; give "
                           "the plugin's section another name")
    shared = [s.section for s in (*pending.values(), *(s for _, s in MODELS.items())) if s.config_section == name]
    if any(other != section for other in shared):
        raise HarnessError(f"{where}: config section {name!r} is already declared with another default")
    check_config(default, sources=_named(default, name, f"{where}, default of section {name}"), bounds=SECTION_BOUNDS,
                 prefix=f"{name}.")
    if section.follows:
        builtin = sorted({s.config_section for _, s in MODELS.items() if s.section is None})
        if section.follows not in builtin:
            raise HarnessError(f"{where}: section {name} follows {section.follows!r}, which is not a built-in model "
                               f"section; expected one of {', '.join(builtin)}")
        problem = follow_problem(section, getattr(RunConfig(), section.follows))
        if problem:
            raise HarnessError(f"{where}: section {name} follows {section.follows}, but its {problem}")
    for profile, values in section.profiles.items():
        if profile not in PROFILES:
            raise HarnessError(f"{where}: section {name} has values for profile {profile!r}; profiles: "
                               f"{', '.join(PROFILES)}")
        source = f"{where}, section {name}, profile {profile}"
        changed = apply_overrides(default, dict(values), source=source)
        check_config(changed, sources=_named(changed, name, source), bounds=SECTION_BOUNDS, prefix=f"{name}.")
    apply_overrides(default, dict(spec.config_overrides or {}), source=f"{where}, variant {spec.name}")


def _named(config: object, section: str, source: str) -> dict[str, str]:
    return {f"{section}.{key}": source for key in flatten(config)}


def _named(config: object, section: str, source: str) -> dict[str, str]:
    return {f"{section}.{key}": source for key in flatten(config)}
