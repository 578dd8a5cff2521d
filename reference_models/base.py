"""The reference-model contract and its registry entry type.

Every model file defines a frozen config dataclass, a class satisfying ``ReferenceModel`` and a ``ModelSpec``.
The harness never reads attributes back by reflection: losses are returned by ``train_step`` and networks by
``networks()``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import nn

from harness.core.task import Task


class ReferenceModel(Protocol):
    """What the harness needs from a model."""

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        """One optimisation step (all of the model's networks) on a batch; returns the losses by name."""
        ...

    def translate(self, images: torch.Tensor, **conditions: Any) -> torch.Tensor:
        """Eval-mode, no-grad mapping of float ``(N, C, H, W)`` in [0, 1] to images in [0, 1].

        Translation models take ``direction="AtoB"`` or ``"BtoA"``; conditional models take their target labels.
        """
        ...

    def networks(self) -> dict[str, nn.Module]:
        """Named networks (paper names in comments of the model file), for parameter counting and devices."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: networks, optimisers, schedulers, history pools (tensors and numbers)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores ``state_dict()`` output (loaded with ``weights_only=True``)."""
        ...


TRANSLATION_PROTOCOLS: Mapping[str, str] = {  # task → protocol for models that translate A ↔ B (pix2pix, CycleGAN)
    "scenes": "fcn_scenes", "maps": "translation", "probe_texture": "probe", "probe_geometry": "probe",
    "cityscapes": "fcn_scenes", "aligned": "translation",
}

BatchFn = Callable[[Task, Any, torch.Generator], dict[str, torch.Tensor]]
BuildFn = Callable[[Any, Task, torch.device], ReferenceModel]


@dataclass(frozen=True)
class ModelSpec:
    """A registry entry for one model (or one named variant of a model).

    Attributes:
        name: Registry name, e.g. ``"pix2pix"`` or a variant ``"pix2pix_l1"``.
        paper: Short citation of the paper the model comes from.
        config_section: Name of the ``RunConfig`` field holding this model's config (variants share one).
        build: ``(config, task, device) -> model``.
        batch: ``(task, config, generator) -> batch dict`` of float tensors in [0, 1] (on CPU).
        protocols: Task name → evaluation protocol name; the keys are the tasks the model runs on.
        setting: ``"paired"``, ``"unpaired"`` or ``"unconditional"``; reports group methods by it.
        variant: Human-readable variant label for reports (``"L1+cGAN"``), ``""`` for the default.
        config_overrides: Dotted overrides applied to the config section for this variant.
        default: Whether a run without ``--models`` includes it (ablation variants are opt-in).
        check: ``(config, image_size) -> None`` raising ``HarnessError`` when the config cannot run on the task;
            called for every job before the run directory is written.
    """

    name: str
    paper: str
    config_section: str
    build: BuildFn
    batch: BatchFn
    protocols: Mapping[str, str]
    setting: str
    variant: str = ""
    config_overrides: Mapping[str, object] | None = None
    default: bool = True
    check: Callable[[Any, int], None] | None = None


def variant_of(spec: ModelSpec, *, name: str, variant: str, overrides: Mapping[str, object],
               protocols: Mapping[str, str]) -> ModelSpec:
    """A named ablation of ``spec``: same builder and batches, config overrides, opt-in (not in default runs)."""
    return dataclasses.replace(spec, name=name, variant=variant, config_overrides=dict(overrides),
                               protocols=dict(protocols), default=False)


def count_parameters(module: nn.Module) -> int:
    """Number of parameters (trainable or not) of ``module``."""
    return sum(p.numel() for p in module.parameters())


def sample_indices(n: int, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    """``batch_size`` indices drawn uniformly with replacement from ``range(n)`` using ``generator``."""
    return torch.randint(0, n, (batch_size,), generator=generator)
