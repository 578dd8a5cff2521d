"""StarGAN's baselines on the faces tasks: one two-domain model per attribute-value pair, multi-step translation.

StarGAN §5.2: "DIAT and CycleGAN are trained once for every attribute-value pair" and multi-attribute results
come from "multi-step translation". ``PairwiseModel`` holds one unchanged reference model (CycleGAN, DIAT) per
``DomainPair`` of ``harness.data.face_labels.baseline_pairs``, trains them all one step per step, and answers the
faces-model call ``translate(images, dataset=, source=, target=)`` by chaining the pair models group by group
(hair, then the binary attributes, then the expression), going through an intermediate value where no pair
connects two values directly (e.g. happy -> neutral -> sad with CycleGAN's neutral <-> X pairs).

``per_pair`` turns a model's builder and batch sampler into ones that do this on faces tasks and stay unchanged on
every other task, so CycleGAN keeps one registry entry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch
from torch import nn

from harness.core.errors import HarnessError
from harness.core.task import Task
from harness.data.face_labels import DomainPair, baseline_pairs, pair_task, route, task_groups
from reference_models.base import ReferenceModel
from reference_models.stacked import own_storage

_PAIR_TASKS: dict[tuple[int, bool], tuple[Task, list[tuple[DomainPair, Task]]]] = {}


def is_faces_task(task: Task) -> bool:
    """Whether ``task`` is a faces task (CelebA-like attributes and/or RaFD-like expressions)."""
    return "attribute_names" in task.meta or "expression_names" in task.meta


def pair_tasks(task: Task, two_way: bool) -> list[tuple[DomainPair, Task]]:
    """``(pair, two-domain training sub-task)`` for every baseline pair of ``task``, built once per task object."""
    key = (id(task), two_way)
    hit = _PAIR_TASKS.get(key)
    if hit is None or hit[0] is not task:
        if len(_PAIR_TASKS) >= 4:
            _PAIR_TASKS.clear()
        train_only = Task(name=task.name, domains=task.domains, paired=False, label_kinds=task.label_kinds,
                          image_size=task.image_size, splits={"train": task.splits["train"]}, meta=task.meta)
        hit = (task, [(pair, pair_task(train_only, pair)) for pair in baseline_pairs(task, two_way)])
        _PAIR_TASKS[key] = hit
    return hit[1]


class StackedStep(Protocol):
    """Every pair model's step at once (``reference_models.cyclegan_stacked``); the models keep their state."""

    def train_step(self, batches: Sequence[dict[str, torch.Tensor]]) -> list[dict[str, torch.Tensor]]:
        """Batch m to pair model m; returns each model's losses as its own ``train_step`` would."""
        ...

    def write_back(self) -> None:
        """Brings every pair model's optimiser and scheduler state up to date (before ``state_dict``)."""
        ...


StackOf = Callable[[list[Any]], StackedStep]


class PairwiseModel:
    """One reference model per attribute-value pair; satisfies ``ReferenceModel`` with the faces ``translate``."""

    def __init__(self, task: Task, pairs: list[DomainPair], models: dict[str, ReferenceModel],
                 stack_of: StackOf | None = None) -> None:
        """Holds the pair models.

        Args:
            task: The full faces task.
            pairs: Its attribute-value pairs.
            models: Pair name -> model (one config, so one provenance).
            stack_of: To train the pair models as one stacked model, the function stacking them (called at the first
                step, so from whatever state a checkpoint restored); None trains them one by one.
        """
        self.pairs, self.models = pairs, models
        self.groups = [g for g in task_groups(task) if any(p.group == g for p in pairs)]
        self.stack_of = stack_of
        self._stack: StackedStep | None = None

    def _parts(self, batch: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """Each pair's part of ``batch``, prefix dropped, in pair order."""
        parts = []
        for pair in self.pairs:
            prefix = f"{pair.name}|"
            parts.append({k[len(prefix):]: v for k, v in batch.items() if k.startswith(prefix)})
        return parts

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One step of every pair's model on its part of ``batch`` (keys ``"<pair name>|<model key>"``)."""
        parts = self._parts(batch)
        if self.stack_of is None:
            outs = [self.models[pair.name].train_step(part) for pair, part in zip(self.pairs, parts, strict=True)]
        else:
            if self._stack is None:
                self._stack = self.stack_of([self.models[pair.name] for pair in self.pairs])
            outs = self._stack.train_step(parts)
        return {f"{pair.name}/{k}": v for pair, out in zip(self.pairs, outs, strict=True) for k, v in out.items()}

    @torch.no_grad()
    def translate(self, images: torch.Tensor, *, dataset: str, source: torch.Tensor, target: torch.Tensor
                  ) -> torch.Tensor:
        """Changes every group where ``target`` differs from ``source`` by chaining pair models.

        Args:
            images: Float (N, 3, H, W) in [0, 1].
            dataset: ``"celeba"`` or ``"rafd"``.
            source: The images' own label vectors (N, C).
            target: Target label vectors (N, C).

        Returns:
            Float (N, 3, H, W) in [0, 1].
        """
        if dataset not in self.directions():
            raise HarnessError(f"no pair model was trained on {dataset!r}; datasets: {', '.join(self.directions())}")
        out, labels = images.clone(), source.clone()
        for group in (g for g in self.groups if g.dataset == dataset):
            have, want = group.values(labels), group.values(target)
            if bool(((have < 0) | (want < 0)).any()):
                raise HarnessError(f"{group.name}: every source and target must hold exactly one value")
            for value_pair in torch.unique(torch.stack([have, want], 1), dim=0).tolist():
                if value_pair[0] == value_pair[1]:
                    continue
                rows = torch.nonzero((have == value_pair[0]) & (want == value_pair[1])).flatten()
                for pair, direction in route(self.pairs, group, value_pair[0], value_pair[1]):
                    out[rows] = self.models[pair.name].translate(out[rows], direction=direction)
            labels = group.set(labels, want)
        return out

    def directions(self) -> tuple[str, ...]:
        """The datasets some pair model covers."""
        return tuple(dict.fromkeys(g.dataset for g in self.groups))

    def provenance(self) -> dict[str, str]:
        """How many pair models, how multi-attribute targets are reached, and the pair models' own provenance."""
        own = self.models[self.pairs[0].name].provenance()
        layers = ("official two-domain model per pair, not StarGAN's unpublished re-implementation behind its "
                  "baseline counts")
        return {"model_pairs": str(len(self.pairs)), "model_multi_step": "chained pair models (StarGAN 5.2)",
                "model_architecture": own.get("model_architecture", layers)} | {
                    k: v for k, v in own.items() if k != "model_architecture"} | (
                    {} if self.stack_of is None else {"model_pair_training": "pair models stacked in one vmapped "
                                                      "step (same recipe as one by one, other rounding)"})

    def can_translate(self, *, dataset: str, source: torch.Tensor, target: torch.Tensor) -> bool:
        """Whether chained pair models reach every ``target`` from its ``source`` (label vectors (N, C))."""
        if dataset not in self.directions():
            return False
        for group in (g for g in self.groups if g.dataset == dataset):
            have, want = group.values(source), group.values(target)
            for a, b in torch.unique(torch.stack([have, want], 1), dim=0).tolist():
                if a != b:
                    try:
                        route(self.pairs, group, a, b)
                    except HarnessError:
                        return False
        return True

    def networks(self) -> dict[str, nn.Module]:
        """``"<pair>/<network>"`` for every pair model's networks."""
        return {f"{p.name}/{k}": v for p in self.pairs for k, v in self.models[p.name].networks().items()}

    def networks_for(self, dataset: str) -> dict[str, nn.Module]:
        """The networks of the pair models of ``dataset``'s groups."""
        return {f"{p.name}/{k}": v for p in self.pairs if p.group.dataset == dataset
                for k, v in self.models[p.name].networks().items()}

    def state_dict(self) -> dict[str, Any]:
        """Pair name -> that model's state (the same format whether the pairs train stacked or one by one)."""
        if self._stack is None:
            return {p.name: self.models[p.name].state_dict() for p in self.pairs}
        self._stack.write_back()
        return {p.name: own_storage(self.models[p.name].state_dict()) for p in self.pairs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restores ``state_dict()`` output."""
        if set(state) != {p.name for p in self.pairs}:
            expected = [p.name for p in self.pairs]
            raise HarnessError(f"pairwise checkpoint holds pairs {sorted(state)}, expected {expected}")
        for pair in self.pairs:
            self.models[pair.name].load_state_dict(state[pair.name])
        self._stack = None  # restacked from the loaded state at the next step


BuildOne = Callable[[Any, Task], ReferenceModel]
BatchOne = Callable[[Task, Any, torch.Generator], dict[str, torch.Tensor]]


def build_pairwise(config: Any, task: Task, two_way: bool, build_one: BuildOne,
                   stack_of: StackOf | None = None) -> PairwiseModel:
    """A ``PairwiseModel`` whose pair models are ``build_one(config, pair sub-task)``, built in pair order.

    ``stack_of`` (None: one by one) makes them train as one stacked model.
    """
    subtasks = pair_tasks(task, two_way)
    models = {pair.name: build_one(config, sub) for pair, sub in subtasks}
    return PairwiseModel(task, [pair for pair, _ in subtasks], models, stack_of)


def pairwise_batch(task: Task, config: Any, generator: torch.Generator, two_way: bool,
                   batch_one: BatchOne) -> dict[str, torch.Tensor]:
    """Every pair's batch from ``batch_one`` on its sub-task, keys prefixed ``"<pair name>|"``."""
    batch = {}
    for pair, sub in pair_tasks(task, two_way):
        batch |= {f"{pair.name}|{k}": v for k, v in batch_one(sub, config, generator).items()}
    return batch
