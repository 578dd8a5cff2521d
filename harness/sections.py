"""Config sections of models defined outside the harness (plugins): defaults, profile values, followed keys.

A built-in model's config section is a field of ``RunConfig`` and its profile values live in
``harness/profiles/*.json``. A plugin can edit neither, so its ``ModelSpec.section`` (a ``SectionSpec``) carries
them: the section's default (a frozen dataclass instance: its fields are the keys ``--set <section>.<key>`` and
``list config`` know, its ``Literal`` and ``Annotated[..., Range]`` annotations are checked like any built-in
section's), its values per profile, and the built-in section whose values it *follows*.

Following is how a plugin gets the references' budget on every profile without copying numbers that a profile may
change: each followed key (by default the training budget, ``BUDGET_KEYS``, that both sections have) takes the
followed section's resolved value — profile and ``--set`` included — unless the plugin's profile values or
``--set <section>.<key>`` name it. The suite then refuses a job whose budget differs from the followed section's on
that task (``harness.run_config.check_followed_budget``): the fair-comparison rules of docs/ARCHITECTURE.md hold for
plugins too.

``run_config_class`` extends ``RunConfig`` with one field per plugin section: a frozen dataclass subclass, so
every generic tool (``apply_overrides``, ``check_config``, ``flatten``, ``config_to_dict``) works on it unchanged.
Such a class is made at run time, so its instances do not pickle; worker processes receive the config as a dict
and rebuild it after loading the same plugins (``harness.workers``).
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.config import apply_overrides

BUDGET_KEYS = ("steps", "batch_size", "lr", "beta1", "beta2", "decay_steps", "jitter")  # one per task (fairness)


@dataclass(frozen=True)
class SectionSpec:
    """A plugin model's own config section.

    Attributes:
        default: The section's default config: a frozen dataclass instance (the paper's values, like a built-in
            section's defaults). It needs an int ``steps`` field: the training loop runs that many steps.
        follows: A built-in model section (``"pix2pix"``) whose values ``follow_keys`` take; ``""`` for none.
        follow_keys: Keys taken from ``follows``; empty means the ``BUDGET_KEYS`` both sections have. Each must be
            a field of both, of the same type (``Annotated`` ranges aside).
        profiles: Profile name → ``{key: value}`` (keys without the section prefix), applied after the profile file;
            a key named here is not followed.
    """

    default: Any
    follows: str = ""
    follow_keys: tuple[str, ...] = ()
    profiles: Mapping[str, Mapping[str, object]] = field(default_factory=dict)


def base_type(annotation: Any) -> Any:
    """The annotation without ``Annotated`` metadata (``Annotated[int, Range(1, 9)]`` → ``int``)."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def followed_keys(spec: SectionSpec, followed: object) -> tuple[str, ...]:
    """The keys ``spec`` takes from the ``followed`` section's config (``follow_keys`` or the shared budget)."""
    if spec.follow_keys:
        return tuple(spec.follow_keys)
    theirs = {f.name for f in dataclasses.fields(followed)}  # type: ignore[arg-type]
    mine = {f.name for f in dataclasses.fields(spec.default)}
    return tuple(k for k in BUDGET_KEYS if k in theirs and k in mine)


def follow_problem(spec: SectionSpec, followed: object) -> str | None:
    """What is wrong with following ``followed`` (a config instance); None when every followed key fits."""
    mine, theirs = typing.get_type_hints(type(spec.default), include_extras=True), typing.get_type_hints(
        type(followed), include_extras=True)
    for key in followed_keys(spec, followed):
        if key not in mine or key not in theirs:
            return f"follow key {key!r} is not a field of both sections"
        if base_type(mine[key]) != base_type(theirs[key]):
            return f"follow key {key!r} has type {base_type(mine[key])!r} here, {base_type(theirs[key])!r} there"
    return None


_CLASSES: dict[tuple[tuple[str, object], ...], type] = {}


def run_config_class(base: type, sections: Mapping[str, SectionSpec]) -> type:
    """``base`` (``RunConfig``) with one more field per plugin section; ``base`` itself when there are none.

    The same sections give the same class, so configs made at different times compare equal.
    """
    if not sections:
        return base
    key = tuple((name, sections[name].default) for name in sorted(sections))
    if key not in _CLASSES:
        fields = [(name, type(default), field(default_factory=lambda d=default: d)) for name, default in key]
        cls = dataclasses.make_dataclass("RunConfig", fields, bases=(base,), frozen=True)
        cls.__module__, cls.__doc__ = base.__module__, f"{base.__doc__} Plugin sections: {', '.join(dict(key))}."
        _CLASSES[key] = cls
    return _CLASSES[key]


def apply_profile(config: Any, sections: Mapping[str, SectionSpec], profile: str) -> tuple[Any, set[str]]:
    """Applies each plugin section's values for ``profile``; returns the config and the dotted keys it set."""
    named: set[str] = set()
    for name, spec in sections.items():
        values = {f"{name}.{k}": v for k, v in spec.profiles.get(profile, {}).items()}
        config = apply_overrides(config, values, source=f"plugin section {name}, profile {profile}")
        named |= set(values)
    return config, named


def apply_follow(config: Any, sections: Mapping[str, SectionSpec], named: set[str]) -> Any:
    """Copies every followed key from its built-in section, except the dotted keys in ``named`` (set explicitly)."""
    for name, spec in sections.items():
        if not spec.follows:
            continue
        followed = getattr(config, spec.follows)
        for key in followed_keys(spec, followed):
            if f"{name}.{key}" not in named:
                config = apply_overrides(config, {f"{name}.{key}": getattr(followed, key)},
                                         source=f"{name} follows {spec.follows}.{key}")
    return config
