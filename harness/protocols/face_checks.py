"""What the faces protocol needs of a task, checked before a run writes anything.

The protocol translates test faces into every target (RaFD: the neutral test faces into each other expression,
StarGAN Table 3; CelebA: the faces that lack the target value), scores FID/KID per target domain against the real
training faces of that domain, and places the identity threshold on same-person and different-person pairs of real
faces. A task too small for any of these (a RaFD folder without neutral faces, one neutral test face, one person)
is refused here, naming what is missing, rather than scored with rows silently left out or failing mid-run.
"""

from __future__ import annotations

import torch

from harness.core.errors import HarnessError
from harness.core.task import Task
from harness.protocols.base import EvalConfig
from harness.protocols.face_targets import domain_rows, targets_for

DATASETS = ("celeba", "rafd")
MIN_FID = 2  # images per side torch-fidelity needs for FID/KID


def _inputs(dataset: str, target: str) -> str:
    return "its neutral test faces" if dataset == "rafd" else f"its test faces that are not {target}"


REAL_TEST_SPLIT = {"celeba": "faces_real.celeba_test_size", "rafd": "faces_real.rafd_test_fraction"}  # real tasks


def _larger_split(task: Task, dataset: str) -> str:
    return f" ({REAL_TEST_SPLIT[dataset]})" if task.name != "faces" else ""  # "faces": the embedded task


def _check_targets(task: Task, dataset: str, config: EvalConfig) -> None:
    targets = [t for t in targets_for(task, dataset, config.n_samples) if t.domain is not None]
    for target in targets:
        found = len(target.rows)
        if found < MIN_FID:
            raise HarnessError(
                f"task {task.name!r}: {found} {dataset} test face(s) to translate into {target.name!r} "
                f"({_inputs(dataset, target.name)}); the faces protocol needs at least {MIN_FID} per target (FID/KID "
                f"of each target domain): give more images or a larger test split{_larger_split(task, dataset)}")
        real = len(domain_rows(task, "train", dataset, target.domain))
        if real < MIN_FID:
            raise HarnessError(
                f"task {task.name!r}: {real} {dataset} training face(s) of {target.domain!r}; the faces protocol "
                f"needs at least {MIN_FID} real faces of each target domain (the FID/KID reference): give more images")


def _check_people(task: Task, dataset: str, split: str) -> None:
    people = task.data(split, dataset).labels["identity"]
    counts = torch.unique(people, return_counts=True)[1]
    if len(counts) < 2 or int(counts.max()) < 2:
        raise HarnessError(
            f"task {task.name!r}: the {dataset} {split} split holds {len(people)} face(s) of {len(counts)} person(s) "
            f"(at most {int(counts.max()) if len(counts) else 0} of one); identity verification needs faces of at "
            "least 2 people, 2 or more of one of them: give more images")


def _check_neutral(task: Task) -> None:
    neutral = list(task.meta["expression_names"]).index(str(task.meta["neutral"]))
    if not any(bool((task.data(split, "rafd").labels["expression"] == neutral).any()) for split in ("train", "test")):
        raise HarnessError(f"task {task.name!r}: no {task.meta['neutral']!r} faces in its rafd images; the faces "
                           "protocol translates neutral faces into each other expression (StarGAN Table 3): add the "
                           "neutral images")


def check_faces(task: Task, config: EvalConfig) -> None:
    """Refuses a task the faces protocol cannot score (see the module docstring).

    Raises:
        HarnessError: Naming the task, the dataset, what is missing and how many there are.
    """
    for dataset in (d for d in DATASETS if d in task.domains):
        if dataset == "rafd":
            _check_neutral(task)
        _check_targets(task, dataset, config)
        for split in ("train", "test"):
            _check_people(task, dataset, split)
