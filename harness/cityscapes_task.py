"""The ``cityscapes`` task as a run configures it: the real-format loader plus the papers' FCN-score judge.

``--set cityscapes.fcn_weights=PATH`` names ``fcn-8s-cityscapes.caffemodel`` (the file
``scripts/eval_cityscapes/download_fcn8s.sh`` of junyanz/pytorch-CycleGAN-and-pix2pix fetches; nothing is downloaded
here). The file is read and checked against FCN-8s's architecture while the task is built, before anything is
written; the task's meta then names it, and the ``fcn_scenes`` protocol scores labels→photo with it
(``harness.protocols.fcn_scenes``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from harness.core.bounds import FilePath
from harness.core.task import Task
from harness.data.real_configs import CityscapesConfig, build_cityscapes
from harness.protocols.fcn_counting import FCN8S_META
from metrics.judges.fcn8s import load_fcn8s


@dataclass(frozen=True)
class CityscapesRunConfig(CityscapesConfig):
    """Where Cityscapes lies, how it is read, and which FCN-score judge scores it."""

    fcn_weights: FilePath = ""  # fcn-8s-cityscapes.caffemodel (the papers' judge); empty = the harness segmenter


def build_cityscapes_task(config: CityscapesConfig) -> Task:
    """The loader's task; with ``fcn_weights``, the caffemodel is checked now and named in ``meta``."""
    task = build_cityscapes(config)
    weights = getattr(config, "fcn_weights", "")
    if not weights:
        return task
    load_fcn8s(weights)  # a truncated or foreign file fails here, before the run folder is written
    return dataclasses.replace(task, meta={**task.meta, FCN8S_META: str(weights)})
