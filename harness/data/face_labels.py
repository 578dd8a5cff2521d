"""Attribute groups, target labels and the attribute-value pairs of the faces tasks.

StarGAN conditions on whole label vectors; its baselines (DIAT, CycleGAN) are trained "once for every
attribute-value pair" and reach multi-attribute targets "by multi-step translation" (StarGAN §5.2). This module
says which values a label vector holds per group, which pairs exist, and builds the two-domain sub-task of a pair.

Groups follow the official ``create_labels`` (``solver.py``): the hair colours among the selected attributes form one
group whose value is which colour is set (setting one clears the others); every other attribute is binary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task

HAIR_ATTRIBUTES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")  # official create_labels' hair group


@dataclass(frozen=True)
class Group:
    """One attribute group of a label vector.

    Attributes:
        name: ``"hair"``, an attribute name (``"Male"``), or ``"expression"``.
        dataset: ``"celeba"`` or ``"rafd"``.
        columns: Columns of the dataset's label vector (CelebA attributes, RaFD one-hot expressions).
        kind: ``"onehot"`` (value = which column is set) or ``"binary"`` (value = the column's 0/1).
        value_names: Name of each value (hair colour / expression names; ``("no", "yes")`` for binary).
    """

    name: str
    dataset: str
    columns: tuple[int, ...]
    kind: Literal["onehot", "binary"]
    value_names: tuple[str, ...]

    def values(self, labels: torch.Tensor) -> torch.Tensor:
        """int64 ``(N,)`` value per row of ``labels`` (N, C); -1 where a one-hot group has not exactly one set."""
        cols = labels[:, list(self.columns)]
        if self.kind == "binary":
            return (cols[:, 0] > 0.5).long()
        hot = cols > 0.5
        return torch.where(hot.sum(1) == 1, hot.float().argmax(1), torch.full_like(hot[:, 0], -1, dtype=torch.long))

    def set(self, labels: torch.Tensor, value: torch.Tensor | int) -> torch.Tensor:
        """A copy of ``labels`` with this group set to ``value`` (scalar or int64 ``(N,)``)."""
        out = labels.clone()
        value = torch.as_tensor(value, dtype=torch.long).expand(labels.shape[0])
        if self.kind == "binary":
            out[:, self.columns[0]] = value.float()
        else:
            out[:, list(self.columns)] = torch.nn.functional.one_hot(value, len(self.columns)).float()
        return out


def celeba_groups(attribute_names: tuple[str, ...]) -> list[Group]:
    """Hair colour (if any hair attribute is selected) first, then one binary group per other attribute."""
    hair = tuple(i for i, n in enumerate(attribute_names) if n in HAIR_ATTRIBUTES)
    groups = [Group("hair", "celeba", hair, "onehot", tuple(attribute_names[i] for i in hair))] if hair else []
    groups += [Group(n, "celeba", (i,), "binary", ("no", "yes")) for i, n in enumerate(attribute_names)
               if n not in HAIR_ATTRIBUTES]
    return groups


def expression_group(expression_names: tuple[str, ...]) -> Group:
    """RaFD's expressions as one one-hot group over the (N, 8) one-hot label vector."""
    return Group("expression", "rafd", tuple(range(len(expression_names))), "onehot", tuple(expression_names))


def one_hot_expressions(expression: torch.Tensor, count: int) -> torch.Tensor:
    """int64 ``(N,)`` expressions → float ``(N, count)`` one-hot labels (StarGAN's ``label2onehot``)."""
    return torch.nn.functional.one_hot(expression.long(), count).float()


def dataset_labels(task: Task, split: str, dataset: str) -> torch.Tensor:
    """The label vectors a faces model is conditioned on: CelebA attributes (N, A) or one-hot expressions (N, 8)."""
    data = task.data(split, dataset)
    if dataset == "celeba":
        return data.labels["attributes"].float()
    return one_hot_expressions(data.labels["expression"], len(task.meta["expression_names"]))


def task_groups(task: Task) -> list[Group]:
    """Every group of the task's datasets (CelebA's first)."""
    groups = []
    if "celeba" in task.domains:
        groups += celeba_groups(tuple(task.meta["attribute_names"]))
    if "rafd" in task.domains:
        groups.append(expression_group(tuple(task.meta["expression_names"])))
    return groups


@dataclass(frozen=True)
class DomainPair:
    """One attribute-value pair a baseline is trained on.

    Attributes:
        group: The group whose value changes.
        source: Source value, or None for "every other value" (DIAT's one-way "to blond" model).
        target: Target value.
        two_way: Whether the model also translates target → source (CycleGAN) or only source → target (DIAT).
    """

    group: Group
    source: int | None
    target: int
    two_way: bool

    @property
    def name(self) -> str:
        """E.g. ``hair:Black_Hair-Blond_Hair``, ``Male:no-yes``, ``expression:neutral-happy``, ``hair:*-Blond_Hair``."""
        src = "*" if self.source is None else self.group.value_names[self.source]
        return f"{self.group.name}:{src}-{self.group.value_names[self.target]}"

    def translates(self, source: int, target: int) -> str | None:
        """``"AtoB"`` / ``"BtoA"`` when this pair's model maps ``source`` to ``target``, else None."""
        if target == self.target and source != target and self.source in (None, source):
            return "AtoB"
        if self.two_way and self.source == target and source == self.target:
            return "BtoA"
        return None


def baseline_pairs(task: Task, two_way: bool) -> list[DomainPair]:
    """The pairs of StarGAN's baselines on ``task``.

    Two-way (CycleGAN): every unordered pair of hair colours, each binary attribute's two values, and neutral with
    each other expression. One-way (DIAT): one model into each hair colour from the others, each binary value from
    the other, and neutral into each other expression — seven RaFD models, as StarGAN's Table 3 counts "× 7".
    """
    pairs: list[DomainPair] = []
    for group in task_groups(task):
        count = len(group.value_names)
        if group.name == "expression":
            neutral = group.value_names.index(str(task.meta["neutral"]))
            pairs += [DomainPair(group, neutral, v, two_way) for v in range(count) if v != neutral]
        elif group.kind == "binary":
            pairs += [DomainPair(group, 0, 1, True)] if two_way else [DomainPair(group, 1 - v, v, False)
                                                                      for v in (0, 1)]
        elif two_way:
            pairs += [DomainPair(group, a, b, True) for a in range(count) for b in range(a + 1, count)]
        else:
            pairs += [DomainPair(group, None, v, False) for v in range(count)]
    return pairs


def _select(task: Task, split: str, group: Group, accept) -> DomainData:
    data = task.data(split, group.dataset)
    values = group.values(dataset_labels(task, split, group.dataset))
    return data.subset(torch.nonzero(accept(values)).flatten())


def pair_task(task: Task, pair: DomainPair) -> Task:
    """The two-domain sub-task of ``pair``: A = images with the source value(s), B = images with the target value."""
    def is_source(values: torch.Tensor) -> torch.Tensor:
        if pair.source is None:
            return (values >= 0) & (values != pair.target)
        return values == pair.source

    splits = {}
    for split in task.splits:
        a = _select(task, split, pair.group, is_source)
        b = _select(task, split, pair.group, lambda v: v == pair.target)
        splits[split] = {"A": a, "B": b}
        if split == "train" and (len(a) == 0 or len(b) == 0):
            raise HarnessError(f"task {task.name!r}: no training images for pair {pair.name} "
                               f"({len(a)} source, {len(b)} target); the baselines need both")
    return Task(name=f"{task.name}[{pair.name}]", domains=("A", "B"), paired=False, label_kinds=("identity",),
                image_size=task.image_size, splits=splits, meta={"pair": pair.name})


def route(pairs: list[DomainPair], group: Group, source: int, target: int) -> list[tuple[DomainPair, str]]:
    """The steps ``(pair, direction)`` that take ``source`` to ``target`` in ``group``: direct, else via one value.

    Raises:
        HarnessError: When no chain of at most two trained pairs connects the values.
    """
    own = [p for p in pairs if p.group == group]
    for pair in own:
        if (direction := pair.translates(source, target)) is not None:
            return [(pair, direction)]
    for middle in range(len(group.value_names)):
        first = [(p, d) for p in own if (d := p.translates(source, middle)) is not None]
        second = [(p, d) for p in own if (d := p.translates(middle, target)) is not None]
        if first and second and middle not in (source, target):
            return [first[0], second[0]]
    names = group.value_names
    raise HarnessError(f"no trained pair translates {group.name} {names[source]} -> {names[target]}")
