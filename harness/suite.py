"""Suite planning and execution: every selected (model, task, seed) job, plus reference jobs for real data.

Names are validated and the plan is made before anything is written, so bad input leaves nothing behind. Jobs run
in plan order; a finished job (its ``rows.json`` exists) is skipped on ``--resume`` and a half-trained one continues
from its checkpoint.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from harness.config import apply_overrides, config_to_dict
from harness.core.device import resolve_device, seed_everything
from harness.core.errors import HarnessError
from harness.core.task import Task
from harness.models import MODELS
from harness.protocols.base import EvalContext
from harness.protocols.registry import PROTOCOLS
from harness.run_config import RunConfig
from harness.rundir import RunDir
from harness.tasks import TASKS, build_task
from harness.train import load_trained, train_job

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    """One unit of work.

    Attributes:
        model: Model registry name, or the protocol's reference name for a reference job.
        task: Task name.
        seed: Seed.
        protocol: Protocol registry name.
        reference: Whether this job scores real data (no model is trained).
    """

    model: str
    task: str
    seed: int
    protocol: str
    reference: bool = False

    @property
    def job_id(self) -> str:
        """``<model>__<task>__s<seed>``: the job's directory name and manifest key."""
        return f"{self.model}__{self.task}__s{self.seed}"


def plan(config: RunConfig) -> list[Job]:
    """The jobs of a run, validating every model, task and protocol name first."""
    for name in config.models:
        MODELS.get(name)
    for name in config.tasks:
        TASKS.get(name)
    models = list(config.models) or [name for name, spec in MODELS.items() if spec.default]
    if not config.seeds:
        raise HarnessError("--seeds: expected at least one seed, e.g. --seeds 0,1,2")
    for key in ("checkpoint_every", "log_every"):  # step intervals; 0 would divide by zero mid-training
        if getattr(config, key) < 1:
            raise HarnessError(f"--set {key}={getattr(config, key)}: expected a positive number of steps")
    jobs: list[Job] = []
    references: list[Job] = []
    for model in models:
        spec = MODELS.get(model)
        tasks = [t for t in spec.protocols if t in config.tasks or (not config.tasks and TASKS.get(t).default)]
        for task in tasks:
            protocol = PROTOCOLS.get(spec.protocols[task])
            for seed in config.seeds:
                jobs.append(Job(model, task, seed, protocol.name))
                ref = Job(protocol.reference_name, task, seed, protocol.name, reference=True)
                if protocol.reference is not None and ref not in references:
                    references.append(ref)
    if not jobs:
        raise HarnessError(f"no jobs: none of the models {', '.join(models)} runs on tasks {', '.join(config.tasks)}")
    return references + jobs


def model_config(config: RunConfig, model: str) -> object:
    """The resolved config section of ``model``, with the variant's overrides applied."""
    spec = MODELS.get(model)
    section = getattr(config, spec.config_section)
    return apply_overrides(section, dict(spec.config_overrides or {}), source=f"model variant {model}")


def _run_job(job: Job, config: RunConfig, run: RunDir, task: Task, device: torch.device, train_only: bool) -> None:
    seed_everything(job.seed, device)
    protocol = PROTOCOLS.get(job.protocol)
    spec = None if job.reference else MODELS.get(job.model)
    ctx = EvalContext(model_name=job.model, task=task, seed=job.seed, device=device, config=config.eval,
                      sample_dir=run.sample_dir(job.task), setting="reference" if spec is None else spec.setting,
                      variant="" if spec is None else spec.variant, progress=config.progress)
    if spec is None:
        if not train_only:
            run.write_rows(job.job_id, protocol.reference(ctx))  # type: ignore[misc]
        return
    cfg = model_config(config, job.model)
    model = spec.build(cfg, task, device)
    job_dir = run.job_dir(job.job_id)
    train_job(spec, cfg, task, model, job_dir, seed=job.seed, checkpoint_every=config.checkpoint_every,
              log_every=config.log_every, progress=config.progress)
    if train_only:
        return
    load_trained(model, job_dir)
    seed_everything(job.seed, device)
    ctx = dataclasses.replace(ctx, model_provenance=model.provenance())
    run.write_rows(job.job_id, protocol.evaluate(model, ctx))


def run_suite(config: RunConfig, out: Path, *, resume: bool, train_only: bool = False) -> RunDir:
    """Plans, then trains and evaluates every job, updating ``metrics.csv`` and the manifest after each.

    Args:
        config: Resolved configuration.
        out: Run directory.
        resume: Continue an existing run (finished jobs are skipped, unfinished ones resume).
        train_only: Train without evaluating (the ``train`` subcommand).

    Returns:
        The run directory.
    """
    jobs = plan(config)
    device = resolve_device(config.device)
    tasks: dict[str, Task] = {}
    for job in jobs:  # before anything is written: a task or config that cannot run leaves no run behind
        if job.task not in tasks:
            tasks[job.task] = build_task(job.task, config)
        spec = None if job.reference else MODELS.get(job.model)
        if spec is not None and spec.check is not None:
            spec.check(model_config(config, job.model), tasks[job.task].image_size)
    run = RunDir(out)
    manifest = run.start(config_to_dict(config), resume=resume)
    for index, job in enumerate(jobs, 1):
        if run.is_done(job.job_id):
            log.info("[%d/%d] %s already done, skipping", index, len(jobs), job.job_id)
            continue
        log.info("[%d/%d] %s (%s)", index, len(jobs), job.job_id, job.protocol)
        started = time.perf_counter()
        _run_job(job, config, run, tasks[job.task], device, train_only)
        record = {**dataclasses.asdict(job), "status": "trained" if train_only else "done",
                  "wall_time_s": round(time.perf_counter() - started, 3), "device": str(device)}
        manifest["jobs"][job.job_id] = record  # type: ignore[index]
        run.write_manifest(manifest)
        run.rebuild_metrics([j.job_id for j in jobs])
    manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    run.write_manifest(manifest)
    run.rebuild_metrics([j.job_id for j in jobs])
    return run
