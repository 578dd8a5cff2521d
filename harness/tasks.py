"""The task registry: embedded benchmark tasks, each built from its ``RunConfig`` section."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.data.digits import build_digits
from harness.data.task import Task
from harness.registry import Registry


@dataclass(frozen=True)
class TaskSpec:
    """A registry entry.

    Attributes:
        name: Task name.
        config_section: ``RunConfig`` field holding the task's config.
        build: ``config -> Task`` (deterministic, cached).
        description: One line for ``list tasks``.
    """

    name: str
    config_section: str
    build: Callable[[Any], Task]
    description: str


TASKS: Registry[TaskSpec] = Registry("task")
TASKS.add("digits", TaskSpec("digits", "digits", build_digits,
                             "printed house-number digits (RGB 32px) and handwritten digits (gray), labelled"))


def build_task(name: str, run_config: object) -> Task:
    """Builds task ``name`` from its section of ``run_config``."""
    spec = TASKS.get(name)
    return spec.build(getattr(run_config, spec.config_section))
