"""DTN's f as the harness resolves it: the source-digit judge at the run's width and judge recipe.

One place builds the source judge's training data and recipe from a run's ``EvalConfig``, so the DTN builder (which
takes f as an explicit argument, supplied by ``harness/models.py``), the transfer protocol (f-constancy rows and
f's own accuracy) and ``judges retrain`` all get the same judge: the committed one for the smoke and standard
digits tasks, else one trained and cached on this machine.
"""

from __future__ import annotations

import torch
from torch import nn

from harness.core.task import Task
from harness.protocols.base import EvalConfig
from metrics.judges.base import Judge, JudgeData, JudgeSpec, with_origin
from metrics.judges.resolve import resolve_judge
from metrics.judges.source_digits import SOURCE_DIGITS, Representation, source_digits_data


def judge_data(spec: JudgeSpec, task: Task, eval_config: EvalConfig) -> JudgeData:
    """A judge's training data as a run builds it, with its origin (the source judge's width: the run's)."""
    if spec.name == SOURCE_DIGITS.name:
        return with_origin(source_digits_data(task, eval_config.source_judge_width), task)
    return with_origin(spec.data(task), task)


def source_judge(task: Task, eval_config: EvalConfig, device: torch.device, progress: bool) -> Judge:
    """The source-digit judge (DTN's f with its class head) of ``task`` for this run."""
    recipe = SOURCE_DIGITS.recipe(eval_config.judge_steps, eval_config.judge_batch_size)
    return resolve_judge(SOURCE_DIGITS, judge_data(SOURCE_DIGITS, task, eval_config), recipe, device=device,
                         progress=progress)


def dtn_representation(task: Task, eval_config: EvalConfig, device: torch.device, progress: bool) -> nn.Module:
    """F for the DTN builder: the source judge's representation, frozen (float [0, 1] images → ``(N, 2w)``)."""
    return Representation(source_judge(task, eval_config, device, progress).model)
