"""The protocol contract: a trained model + a task → result rows; plus reference rows for real data.

A protocol is chosen per (model, task) by the model's ``ModelSpec.protocols``. It calls metric functions and
judges, writes sample strips for the report, and returns ``Row`` objects; it never writes ``metrics.csv`` itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import torch

from harness.core.bounds import BatchSize, FilePath, PositiveCount, Range, Steps
from harness.core.results import Row
from harness.core.task import Task

Neighbours = Annotated[int, Range(1, 1000)]  # k of a k-nearest-neighbour manifold
StripLength = Annotated[int, Range(1, 64)]  # images in one sample strip
Width = Annotated[int, Range(1, 1024)]  # base filter count of a judge network


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation settings shared by every protocol (profiles override them)."""

    n_samples: PositiveCount = 10000  # generated samples for distribution metrics (FID/KID/PR, Parzen); paper: 10,000
    batch_size: BatchSize = 100  # batch for feature passes and generation; results do not depend on it
    kid_subset_size: PositiveCount = 1000  # KID subset size (torch-fidelity default); clipped to the sample count
    kid_subsets: PositiveCount = 100  # KID subsets (torch-fidelity default)
    prc_neighborhood: Neighbours = 3  # k of the k-NN manifold for precision/recall (torch-fidelity default)
    parzen_n_validation: PositiveCount = 1000  # validation examples to choose sigma (official parzen_ll.py limit_size)
    judge_steps: Steps = 2000  # optimisation steps for judges the harness trains itself (digit classifier, segmenter)
    judge_batch_size: BatchSize = 64  # batch size for judge training
    source_judge_width: Width = 64  # w of DTN's f, the source-digit judge (w, 2w, 4w, 2w filters; paper 64)
    face_judge_steps: Steps = 3000  # steps of each faces judge (expression, attributes, identity, domains)
    face_judge_batch_size: BatchSize = 64  # their batch size
    n_sample_images: StripLength = 8  # images per sample strip written for the report
    inception_weights: FilePath = ""  # local path to torch-fidelity's Inception weights; empty = skip Inception FID


@dataclass(frozen=True)
class EvalContext:
    """Everything a protocol may read.

    Attributes:
        model_name: Registry name of the model or variant being scored.
        task: The task (test/val splits used).
        seed: Job seed; every stochastic step derives from it.
        device: Where to compute.
        config: Evaluation settings.
        sample_dir: Folder for sample strips of this task (``run/samples/<task>``).
        setting: ``"paired"``, ``"unpaired"``, ``"unconditional"`` or ``"reference"`` (each row's ``setting``).
        variant: Variant label (``"L1+cGAN"``) or ``""``.
        progress: Whether to show progress bars.
        model_provenance: The trained model's ``provenance()`` (how it was trained and translates; empty for
            reference rows); ``make_rows`` appends it to every row's protocol string.
        outputs_dir: ``outputs/<task>/<model>__s<seed>/`` when the suite saves what it scores (``--save-outputs``;
            reference jobs save the test inputs and ground truth under ``outputs/<task>/_reference/``), else None.
    """

    model_name: str
    task: Task
    seed: int
    device: torch.device
    config: EvalConfig
    sample_dir: Path
    setting: str
    variant: str
    progress: bool = True
    model_provenance: Mapping[str, str] = field(default_factory=dict)
    outputs_dir: Path | None = None


EvaluateFn = Callable[[Any, EvalContext], list[Row]]
ReferenceFn = Callable[[EvalContext], list[Row]]
CheckFn = Callable[[Task, EvalConfig], None]


HEADLINE_KEY = "headline"  # protocol-string key: "<board metric>/<position>" (position 1 ranks the board)


@dataclass(frozen=True)
class ProtocolSpec:
    """A registry entry for one evaluation protocol.

    Attributes:
        name: Registry name (``"generation"``, ``"fcn_scenes"``).
        evaluate: ``(trained model, ctx) -> rows`` for a model's outputs.
        reference: ``ctx -> rows`` for real data (ground-truth rows, judge accuracy), run once per task and seed,
            with ``ctx.model_name`` set to ``reference_name``; None when the protocol has none.
        reference_name: Model name of the reference rows (``"real_data"``, ``"ground_truth"``).
        headline: The paper's headline metrics of this protocol, in order: the first ranks the task's leaderboard,
            the others are shown beside it (``mark_headline`` writes them into the rows; reports read them there).
            Empty: the report falls back to the first metric with a direction.
        check: ``(task, eval config) -> None``: raises a ``HarnessError`` for a task the protocol cannot score (too
            few images for a metric, a label it needs missing); the suite calls it before anything is written.
    """

    name: str
    evaluate: EvaluateFn
    reference: ReferenceFn | None = None
    reference_name: str = "real_data"
    headline: tuple[str, ...] = ()
    check: CheckFn | None = None

    def mark_headline(self, rows: list[Row]) -> list[Row]:
        """``rows`` with ``headline=<first headline metric>/<position>`` appended to the headline metrics' protocol.

        ``reports`` import only ``harness.core``, so the flag travels in the row (``metrics.csv``), not the registry.
        """
        position = {metric: i + 1 for i, metric in enumerate(self.headline)}
        return [dataclasses.replace(row, protocol=f"{row.protocol}; {HEADLINE_KEY}={self.headline[0]}/"
                                                  f"{position[row.metric]}".lstrip("; "))
                if row.metric in position else row for row in rows]
