"""Which test faces the faces protocol translates, and to which target labels.

CelebA(-like), after the official ``create_labels`` (``solver.py``): each hair colour set on the faces that have
another one (setting one clears the others), and each binary attribute (``Male``, ``Young``) flipped, split by the
value it flips to. With hair, ``Male`` and ``Young`` selected, also the paper's multi-attribute combinations
H+G, H+A, G+A and H+G+A (StarGAN Table 2) on every face: the hair moves to the next colour (black -> blond ->
brown -> black, so it always changes) and the binary attributes flip.

RaFD(-like): the neutral test faces to each of the seven other expressions. StarGAN's paper does not say which
inputs its Table 3 translates; its baseline counts ("DIAT 52.6M x 7") mean one DIAT model per expression out of
neutral, and that model can only translate neutral faces, so every method is scored on the neutral inputs. The
input domain is a choice, so a second set is scored where a model can translate it (``rafd_all_targets``): every
test face, whatever its expression, to each other expression — StarGAN directly, CycleGAN's neutral <-> X pairs
chained through neutral; DIAT's one-way neutral -> X models cannot, and get no such rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from harness.core.task import Task
from harness.data.face_labels import Group, dataset_labels, task_groups

COMBINATIONS = {"H+G": ("hair", "Male"), "H+A": ("hair", "Young"), "G+A": ("Male", "Young"),
                "H+G+A": ("hair", "Male", "Young")}  # StarGAN Table 2 columns -> groups


@dataclass(frozen=True)
class Target:
    """One translation target over a set of test inputs.

    Attributes:
        name: Target (and sample-strip) name: a hair colour, ``Male`` / ``not_Male``, ``H+G``, an expression.
        metric: Row prefix the target is pooled under: a group name, ``HG``..., or ``expression``.
        dataset: ``"celeba"`` or ``"rafd"``.
        groups: The groups the translation changes.
        rows: int64 (n,) indices into the dataset's test split.
        source: float (n, C) the inputs' own labels.
        target: float (n, C) target labels.
        domain: The single target domain (for FID/KID), or None for multi-attribute targets.
    """

    name: str
    metric: str
    dataset: str
    groups: tuple[Group, ...]
    rows: torch.Tensor
    source: torch.Tensor
    target: torch.Tensor
    domain: str | None


def _value_name(group: Group, value: int) -> str:
    if group.kind == "binary":
        return group.name if value == 1 else f"not_{group.name}"
    return group.value_names[value]


def _target(name: str, metric: str, groups: tuple[Group, ...], labels: torch.Tensor, rows: torch.Tensor,
            values: list[torch.Tensor], single: bool, limit: int) -> Target:
    rows = rows[:limit]
    new = labels[rows]
    for group, value in zip(groups, values, strict=True):
        new = group.set(new, value[rows] if value.dim() else value)
    return Target(name, metric, groups[0].dataset, groups, rows, labels[rows], new, name if single else None)


def celeba_targets(task: Task, limit: int) -> list[Target]:
    """Single-attribute targets, then the multi-attribute combinations (see the module docstring)."""
    labels = dataset_labels(task, "test", "celeba")
    groups = [g for g in task_groups(task) if g.dataset == "celeba"]
    current = {g.name: g.values(labels) for g in groups}
    valid = torch.stack([v >= 0 for v in current.values()]).all(0)
    out = []
    for group in groups:
        for value in (range(len(group.value_names)) if group.kind == "onehot" else (1, 0)):
            rows = torch.nonzero(valid & (current[group.name] != value)).flatten()
            name = _value_name(group, value)
            out.append(_target(name, group.name, (group,), labels, rows, [torch.tensor(value)], True, limit))
    by_name = {g.name: g for g in groups}
    if set(by_name) >= {"hair", "Male", "Young"}:
        everyone = torch.nonzero(valid).flatten()
        for name, names in COMBINATIONS.items():
            chosen = tuple(by_name[n] for n in names)
            values = [(current[g.name] + 1) % len(g.value_names) if g.kind == "onehot" else 1 - current[g.name]
                      for g in chosen]
            out.append(_target(name, name.replace("+", ""), chosen, labels, everyone, values, False, limit))
    return out


def rafd_targets(task: Task, limit: int) -> list[Target]:
    """Neutral test faces to each other expression."""
    labels = dataset_labels(task, "test", "rafd")
    group = next(g for g in task_groups(task) if g.dataset == "rafd")
    neutral = group.value_names.index(str(task.meta["neutral"]))
    rows = torch.nonzero(group.values(labels) == neutral).flatten()
    return [_target(group.value_names[v], "expression", (group,), labels, rows, [torch.tensor(v)], True, limit)
            for v in range(len(group.value_names)) if v != neutral]


def rafd_all_targets(task: Task, limit: int) -> list[Target]:
    """Every test face whose expression differs from the target, to each expression (at most ``limit`` each)."""
    labels = dataset_labels(task, "test", "rafd")
    group = next(g for g in task_groups(task) if g.dataset == "rafd")
    have = group.values(labels)
    return [_target(name, "all_faces_expression", (group,), labels, torch.nonzero(have != v).flatten(),
                    [torch.tensor(v)], False, limit) for v, name in enumerate(group.value_names)]


def targets_for(task: Task, dataset: str, limit: int) -> list[Target]:
    """Every target of ``dataset`` (at most ``limit`` inputs each)."""
    return celeba_targets(task, limit) if dataset == "celeba" else rafd_targets(task, limit)


def domain_rows(task: Task, split: str, dataset: str, domain: str) -> torch.Tensor:
    """Indices of the ``split`` images of ``dataset`` that belong to ``domain`` (a value name as in ``Target``)."""
    labels = dataset_labels(task, split, dataset)
    for group in (g for g in task_groups(task) if g.dataset == dataset):
        values = group.values(labels)
        for value in range(len(group.value_names)) if group.kind == "onehot" else (0, 1):
            if _value_name(group, value) == domain:
                return torch.nonzero(values == value).flatten()
    raise KeyError(domain)
