"""A synthetic paired task and study material built through the runner's own collection code."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch.nn import functional as F

from harness.core.task import DomainData, Task
from harness.study.collect import StudyMaterial, add_condition, blank
from harness.study.config import StudyConfig
from metrics.human_study.protocols import AMTProtocol, BestOfProtocol, MOSProtocol


def textures(n: int, seed: int, size: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=size, mode="bilinear", align_corners=False)
    return (base + 0.15 * torch.rand(n, 3, size, size, generator=g)).clamp(0, 1)


def _u8(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round().to(torch.uint8)


def synthetic_task(n_train: int = 80, n_test: int = 24) -> Task:
    """Domain B are textures, domain A their colour inverses (paired)."""
    train, test = textures(n_train, 0), textures(n_test, 1)
    splits = {"train": {"A": DomainData(_u8(1 - train)), "B": DomainData(_u8(train))},
              "test": {"A": DomainData(_u8(1 - test)), "B": DomainData(_u8(test))}}
    return Task(name="synth", domains=("A", "B"), paired=True, label_kinds=(), image_size=16, splits=splits)


METHODS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "copy": lambda real: real.clone(),  # a perfect generator: the real images themselves
    "noisy": lambda real: (real + 0.04 * torch.randn(real.shape, generator=torch.Generator().manual_seed(5))).clamp(
        0, 1),
    "blank": blank,  # every image its mean colour
}

SMALL = StudyConfig(max_images=24, n_reference=60, amt=AMTProtocol(n_participants=40),
                    best_of=BestOfProtocol(n_participants=40), mos=MOSProtocol(n_raters=10, n_calibration=4))


def make_material(methods: tuple[str, ...] = ("copy", "noisy", "blank"), study: StudyConfig = SMALL,
                  keep_images: bool = False) -> tuple[StudyMaterial, StudyConfig]:
    task = synthetic_task()
    real = task.data("test", "B").get()
    material = StudyMaterial()
    add_condition(material, task, "A2B", "A", "B", 0, {m: METHODS[m](real) for m in methods}, study,
                  keep_images=keep_images, signals={})
    material.settings.update(dict.fromkeys(methods, "paired"))
    return material, study


@pytest.fixture(scope="session")
def material_factory():
    return make_material


@pytest.fixture(scope="session")
def synthetic_parts():
    """``(synthetic_task, textures, SMALL)`` for tests that build their own condition."""
    return synthetic_task, textures, SMALL
