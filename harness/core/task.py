"""The task interface shared by embedded benchmark tasks and real datasets.

A task names its domains, whether they are paired, the labels it carries, its splits and image size. Images are
stored as uint8 ``(N, C, H, W)`` to keep memory low and handed out as float32 in ``[0, 1]`` (the boundary contract).
For a paired task, index ``i`` of every domain in a split is the same scene. For unpaired training a task also
exposes disjoint halves of its training split (``unpaired_train``) so no pair is ever seen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from harness.core.cache import tensors_sha256
from harness.core.errors import HarnessError


@dataclass(frozen=True)
class DomainData:
    """One domain of one split.

    Attributes:
        images: uint8 ``(N, C, H, W)``, C = 1 or 3.
        labels: Label name → tensor with first dimension N; e.g. ``"class"`` int64 ``(N,)``, ``"segmentation"``
            int64 ``(N, H, W)`` of trainIds with 255 = ignore, ``"attributes"`` float ``(N, A)`` in {0, 1}.
    """

    images: torch.Tensor
    labels: Mapping[str, torch.Tensor] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.dtype != torch.uint8 or self.images.dim() != 4:
            shape = tuple(self.images.shape)
            raise ValueError(f"DomainData.images must be uint8 (N, C, H, W), got {self.images.dtype} {shape}")
        for name, value in self.labels.items():
            if value.shape[0] != self.images.shape[0]:
                raise ValueError(f"label {name!r} has {value.shape[0]} rows for {self.images.shape[0]} images")

    def __len__(self) -> int:
        return self.images.shape[0]

    def get(self, index: torch.Tensor | slice | None = None) -> torch.Tensor:
        """Float32 ``(n, C, H, W)`` images in [0, 1] for ``index`` (all when None)."""
        chosen = self.images if index is None else self.images[index]
        return chosen.float().div_(255.0)

    def subset(self, index: torch.Tensor | slice) -> DomainData:
        """The same domain restricted to ``index`` (images and every label)."""
        return DomainData(self.images[index], {k: v[index] for k, v in self.labels.items()})


@dataclass(frozen=True)
class Task:
    """A dataset bundle.

    Attributes:
        name: Registry name (``"digits"``, ``"scenes"``, a real dataset name).
        domains: Domain names; for translation tasks ``domains[0]`` is A (source) and ``domains[1]`` is B (target).
        paired: Whether index i of each domain in a split shows the same content.
        label_kinds: Label names carried (``"class"``, ``"segmentation"``, ``"attributes"``, ``"expression"``, ...).
        image_size: Side length in pixels of the (square) images, or of the largest domain.
        splits: Split name (``"train"``, ``"val"``, ``"test"``) → domain name → data.
        meta: Task-specific constants a protocol needs (class names, label palette, generator seed, ...).
        unpaired_train: For paired tasks usable unpaired: domain name → disjoint training half.
    """

    name: str
    domains: tuple[str, ...]
    paired: bool
    label_kinds: tuple[str, ...]
    image_size: int
    splits: Mapping[str, Mapping[str, DomainData]]
    meta: Mapping[str, object] = field(default_factory=dict)
    unpaired_train: Mapping[str, DomainData] | None = None

    def data(self, split: str, domain: str) -> DomainData:
        """The data of one domain in one split; a missing one is a ``HarnessError`` listing what exists."""
        if split not in self.splits:
            raise HarnessError(f"task {self.name!r} has no split {split!r}; splits: {', '.join(self.splits)}")
        if domain not in self.splits[split]:
            raise HarnessError(f"task {self.name!r} has no domain {domain!r}; domains: {', '.join(self.splits[split])}")
        return self.splits[split][domain]

    def train_domain(self, domain: str, unpaired: bool) -> DomainData:
        """Training data of ``domain``: the disjoint half when ``unpaired`` and the task provides halves."""
        if unpaired and self.unpaired_train is not None:
            return self.unpaired_train[domain]
        return self.data("train", domain)


def task_sha256(task: Task) -> str:
    """sha256 of every split's and domain's images and labels, in name order: the identity of a task's data.

    Tests pin it for each generated task at the smoke size, so a generator that makes other data on another machine
    (or after a library upgrade) is caught; judges key on the sha256 of the exact tensors they train on.
    """
    parts: list[torch.Tensor] = []
    for split in sorted(task.splits):
        for domain in sorted(task.splits[split]):
            data = task.splits[split][domain]
            parts += [data.images, *(data.labels[name] for name in sorted(data.labels))]
    return tensors_sha256(*parts)


def unpaired_halves(train: Mapping[str, DomainData], domains: tuple[str, str]) -> dict[str, DomainData]:
    """Disjoint training halves of a paired split: domain A takes the first half, domain B the second.

    Args:
        train: The paired training split (domain → data, index i is the same scene in every domain).
        domains: ``(A, B)`` domain names.

    Returns:
        Domain → half; no scene index appears in both halves, so no pair is ever seen.
    """
    count = len(train[domains[0]])
    half = count // 2
    first, second = train[domains[0]].subset(slice(0, half)), train[domains[1]].subset(slice(half, count))
    return {domains[0]: first, domains[1]: second}
