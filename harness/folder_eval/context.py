"""The request ``evaluate`` makes on folders, and the run context that supplies its task and judges.

A protocol's judges belong to a task: the segmenter of the run's scenes, the digit judge of its digits, the faces
judges and their expression names. ``--into RUN`` (or ``--context RUN`` to score without adding rows) names the run;
its saved config rebuilds the task (from the cache) and resolves the same judges its jobs used, so a folder is scored
exactly as the run's models were. The papers' FCN-8s (``--judge fcn8s --weights FILE``) needs no run.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from harness.core.errors import HarnessError
from harness.core.results import Row
from harness.protocols.base import EvalConfig, EvalContext
from harness.protocols.rows import make_rows

EXTERNAL_TRAIN = "external: outputs brought as a folder (not trained by the harness)"


@dataclass(frozen=True)
class FolderRequest:
    """Everything ``evaluate --metric NAME`` was given (see ``harness.run``'s help for each option).

    Attributes:
        metric: The registered metric name (aliases resolved).
        pred: Folder of images to score.
        target: Reference folder (identity: the inputs; psnr: the ground truth), or None.
        labels: FCN-score ground-truth label maps, or None.
        label_format: ``auto``, ``labelIds`` or ``trainIds``.
        direction: FCN-score direction, ``labels2photo`` or ``photo2labels``.
        targets: CSV ``file,target`` for class metrics, or None (then a folder per target).
        judge: ``--judge``, or None for the metric's default.
        weights: ``--weights`` (the FCN-8s caffemodel, Inception weights), or None.
        dataset: Faces dataset (``celeba`` / ``rafd``) for identity, or None.
        device: Resolved device.
        seed: ``--seed`` (stochastic steps; the rows' seed with ``--into``).
        run: The context run (``--into`` or ``--context``), or None.
        task: ``--task``, or None to take the run's only task the metric applies to.
        name: ``--as`` (the method's name in rows), or ``"folder"``.
        setting: ``--setting`` (rows' setting), or ``""``.
        progress: Whether to show progress bars.
    """

    metric: str
    pred: Path
    target: Path | None = None
    labels: Path | None = None
    label_format: str = "auto"
    direction: str = "labels2photo"
    targets: Path | None = None
    judge: str | None = None
    weights: Path | None = None
    dataset: str | None = None
    device: torch.device = torch.device("cpu")
    seed: int = 0
    run: Path | None = None
    task: str | None = None
    name: str = "folder"
    setting: str = ""
    progress: bool = False


@dataclass(frozen=True)
class Scored:
    """Values of one kind with how they were made; ``--into`` turns them into rows.

    Attributes:
        values: Row metric key → value.
        n: Images behind the values.
        protocol: Provenance keys for the rows' protocol string.
        ci: Metric key → (low, high), where the metric gives an interval.
    """

    values: dict[str, float]
    n: int
    protocol: dict[str, object]
    ci: dict[str, tuple[float, float]] | None = None

    def rows(self, ctx: EvalContext, extra: dict[str, object]) -> list[Row]:
        """One row per value for ``ctx``'s method and task, with ``extra`` provenance (the folders)."""
        return make_rows(ctx, self.values, n=self.n, protocol={**self.protocol, **extra}, ci=self.ci)


def run_tasks(run: Path) -> dict[str, str]:
    """Task → protocol of every job a run planned (``manifest.json``)."""
    manifest = _manifest(run)
    return {str(r["task"]): str(r["protocol"]) for r in manifest.get("jobs", {}).values()
            if isinstance(r, dict) and "task" in r and not r.get("external") and r.get("model") != "study"}


def _manifest(run: Path) -> dict:
    if not (run / "config.json").is_file() or not (run / "manifest.json").is_file():
        raise HarnessError(f"--into/--context {str(run)!r}: not a run directory (expected config.json and "
                           "manifest.json, written by `suite`)")
    try:
        return json.loads((run / "manifest.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarnessError(f"{run / 'manifest.json'}: unreadable ({type(exc).__name__})") from None


def choose_task(run: Path, task: str | None, protocols: tuple[str, ...], metric: str) -> str:
    """The run's task the metric scores: ``--task`` if given (checked), else the only one of ``protocols``."""
    tasks = run_tasks(run)
    fitting = [t for t, p in tasks.items() if p in protocols]
    if task is not None:
        if task not in fitting:
            raise HarnessError(f"--task {task}: not a task of run {str(run)!r} that --metric {metric} scores "
                               f"(those: {', '.join(fitting) or 'none'}; the run's tasks: {', '.join(tasks)})")
        return task
    if len(fitting) != 1:
        what = "has no task" if not fitting else f"has several tasks ({', '.join(fitting)})"
        raise HarnessError(f"--metric {metric}: run {str(run)!r} {what} scored by {' or '.join(protocols)}"
                           + ("; name one with --task" if fitting else f" (its tasks: {', '.join(tasks) or 'none'})"))
    return fitting[0]


def run_context(request: FolderRequest, protocols: tuple[str, ...]) -> EvalContext:
    """The evaluation context of the folder's method on the run's task: the run's eval config, task and seed."""
    from harness.run_config import config_from_saved
    from harness.tasks import build_task

    assert request.run is not None
    task_name = choose_task(request.run, request.task, protocols, request.metric)
    config = config_from_saved(request.run / "config.json")
    task = build_task(task_name, config)
    return EvalContext(model_name=request.name, task=task, seed=request.seed, device=request.device,
                       config=config.eval, sample_dir=Path(tempfile.gettempdir()), setting=request.setting,
                       variant="external", progress=request.progress, model_provenance={"model_train": EXTERNAL_TRAIN})


def bare_context(request: FolderRequest, task_name: str) -> EvalContext:
    """A context without a run (FCN-8s on Cityscapes folders): default eval settings, no task data."""
    from harness.core.task import Task

    task = Task(name=task_name, domains=(), paired=False, label_kinds=(), image_size=0, splits={}, meta={})
    return EvalContext(model_name=request.name, task=task, seed=request.seed, device=request.device,
                       config=EvalConfig(), sample_dir=Path(tempfile.gettempdir()), setting=request.setting,
                       variant="external", progress=request.progress, model_provenance={"model_train": EXTERNAL_TRAIN})
