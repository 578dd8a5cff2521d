"""Suite planning and execution: every selected (model, task, seed) job, plus reference jobs for real data.

Names are validated, every task built and every model constructed (on the ``meta`` device: no memory, no compute)
before anything is written, so bad input leaves nothing behind. Jobs run in plan order on the run's executor
(``harness/executors.py``: local processes, Ray or Slurm); each writes its own folder, and the coordinator records
it in the manifest and rebuilds ``metrics.csv`` as it finishes. A finished job (its ``rows.json`` exists) is skipped
on ``--resume``, whichever executor ran it, and a half-trained one continues from its checkpoint. A job whose
training diverges (``NonFiniteLoss``), or that Ray or Slurm reports crashed, is recorded as failed with its log and
the others go on; any other error stops the run, and a run stopped before any job wrote anything is removed again.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from harness.config import config_to_dict
from harness.core.errors import ENVIRONMENT_ERRNOS, HarnessError
from harness.core.task import Task, task_sha256
from harness.executors import ExecutorOptions, Placement, outcomes, resolve_placement
from harness.models import MODELS, ModelSpec, comparisons
from harness.plugins import check_followed_budget, records
from harness.protocols.registry import PROTOCOLS
from harness.reference_use import attach, load_for_run, reference_jobs, screen
from harness.run_config import RunConfig, model_config
from harness.rundir import RunDir, result_jobs
from harness.tasks import TASKS, build_task
from harness.workers import Work

log = logging.getLogger(__name__)
OUTPUTS, REFERENCE_OUTPUTS = "outputs", "_reference"  # --save-outputs: <run>/outputs/<task>/<model>__s<seed>/


@dataclass(frozen=True)
class SuiteResult:
    """What ``run_suite`` did.

    Attributes:
        run: The run directory.
        failed: Job id → why it failed (training diverged); empty when every job finished.
    """

    run: RunDir
    failed: dict[str, str]


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
    compared = comparisons(config.models)  # e.g. --models dtn also runs its ablations and CycleGAN on its tasks
    models += [name for name in compared if name not in models]
    if not config.seeds:
        raise HarnessError("--seeds: expected at least one seed, e.g. --seeds 0,1,2")
    jobs: list[Job] = []
    references: list[Job] = []
    for model in models:
        spec = MODELS.get(model)
        for task in _tasks_of(spec, config, compared.get(model, frozenset())):
            protocol = PROTOCOLS.get(spec.protocols[task])
            for seed in config.seeds:
                jobs.append(Job(model, task, seed, protocol.name))
                ref = Job(protocol.reference_name, task, seed, protocol.name, reference=True)
                if protocol.reference is not None and ref not in references:
                    references.append(ref)
    if not jobs:
        raise HarnessError(f"no jobs: none of the models {', '.join(models)} runs on tasks {', '.join(config.tasks)}")
    return references + jobs


def _tasks_of(spec: ModelSpec, config: RunConfig, asked: frozenset[str]) -> list[str]:
    """The tasks ``spec`` runs on in this run.

    Those named in ``--tasks``, else the default tasks less the model's opt-in ones unless a named model ``asked``
    for them (CycleGAN on digits beside ``--models dtn``); a model that runs only as a comparison, not named itself,
    runs only where it was asked for.
    """
    chosen = [t for t in spec.protocols if t in config.tasks or (not config.tasks and TASKS.get(t).default)]
    if config.models and spec.name not in config.models:
        return [t for t in chosen if t in asked]
    return [t for t in chosen if config.tasks or t not in spec.opt_in_tasks or t in asked]


def _dry_build(spec: ModelSpec, config: object, task: Task) -> None:
    """Constructs the model on the ``meta`` device, so a config its builder refuses fails before anything is written.

    A ``HarnessError`` or ``ValueError`` (how builders refuse a setting) is the config's fault; any other error is a
    limitation of the ``meta`` device, and the model is simply built for real later. A model that takes a frozen
    judge network (DTN's f) gets a parameter-free stand-in here: the builder's config and task checks run, the judge
    itself is resolved (loaded or trained, then cached) only when its job runs.
    """
    try:
        if spec.frozen is None:
            model = spec.build(config, task, torch.device("meta"))
        else:
            model = spec.build(config, task, torch.device("meta"), torch.nn.Flatten())
    except HarnessError:
        raise
    except ValueError as exc:
        raise HarnessError(f"{spec.config_section}: model {spec.name} cannot be built with these settings: "
                           f"{exc}") from None
    except Exception as exc:  # noqa: BLE001 - a meta-device limitation, not a config error
        log.debug("dry build of %s on meta skipped: %s", spec.name, exc)
        return
    if spec.model_class is not None and not isinstance(model, spec.model_class):
        raise HarnessError(f"model {spec.name}: its builder returned a {type(model).__name__}, not the "
                           f"{spec.model_class.__name__} its ModelSpec names as model_class")


BYTES_PER_PIXEL = 16  # an embedded task's uint8 images and maps per pixel, with generation temporaries


def _check_memory(section: str, config: object) -> None:
    """Refuses a generated task whose images would not fit in half this machine's memory (before generating)."""
    sizes = [getattr(config, key, None) for key in ("image_size", "n_train", "n_val", "n_test")]
    if any(not isinstance(v, int) for v in sizes) or not hasattr(os, "sysconf"):
        return
    side, count = sizes[0], sum(sizes[1:])
    need, have = count * side * side * BYTES_PER_PIXEL, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if need > have // 2:
        raise HarnessError(f"{section}: {count} images at {side} px need about {need / 2**30:.1f} GiB, more than half "
                           f"of this machine's {have / 2**30:.1f} GiB; lower {section}.n_train/n_val/n_test or "
                           f"{section}.image_size")


def prepare(config: RunConfig, jobs: list[Job]) -> dict[str, Task]:
    """Builds every task and checks every model config and protocol against it (before anything is written).

    Returns:
        Task name → task.

    Raises:
        HarnessError: A task cannot be built, a protocol cannot score it (``ProtocolSpec.check``), a model config
            cannot run on its task, or a weights file is wrong.
    """
    tasks: dict[str, Task] = {}
    checked: set[tuple[str, str]] = set()  # (model, task) pairs whose config was checked
    scorable: set[tuple[str, str]] = set()  # (protocol, task) pairs the protocol's check accepted
    for job in jobs:
        if job.task not in tasks:
            _check_memory(TASKS.get(job.task).config_section, getattr(config, TASKS.get(job.task).config_section))
            tasks[job.task] = build_task(job.task, config)
        protocol = PROTOCOLS.get(job.protocol)
        if protocol.check is not None and (protocol.name, job.task) not in scorable:
            protocol.check(tasks[job.task], config.eval)  # a task the protocol cannot score: refused now
            scorable.add((protocol.name, job.task))
        if job.reference or (job.model, job.task) in checked:
            continue
        spec, cfg = MODELS.get(job.model), model_config(config, job.model, job.task)
        if spec.setting == "paired" and not tasks[job.task].paired:
            raise HarnessError(f"model {job.model} trains on pairs (setting paired), but task {job.task} has none; "
                               f"run it on a paired task ({', '.join(spec.protocols)})")
        check_followed_budget(config, job.model, job.task)
        if spec.check is not None:
            try:
                spec.check(cfg, tasks[job.task].image_size)
            except ValueError as exc:  # a plugin's check may refuse the way builders do
                raise HarnessError(f"{spec.config_section}: {spec.name} cannot run on {job.task}: {exc}") from None
        _dry_build(spec, cfg, tasks[job.task])
        checked.add((job.model, job.task))
    if config.eval.inception_weights:
        from metrics.fidelity import verify_inception_weights

        verify_inception_weights(config.eval.inception_weights)
    return tasks


def run_suite(config: RunConfig, out: Path, *, resume: bool, train_only: bool = False,
              threads: int | None = None, requested_workers: int | None = None,
              executor: ExecutorOptions | None = None, save_outputs: bool = False, option: str = "--out"
              ) -> SuiteResult:
    """Plans, then trains and evaluates every job, updating ``metrics.csv`` and the manifest after each.

    Args:
        config: Resolved configuration.
        out: Run directory.
        resume: Continue an existing run (finished jobs are skipped, unfinished ones resume).
        train_only: Train without evaluating (the ``train`` subcommand).
        threads: torch intra-op threads (``--threads``); None chooses from the CPUs available.
        requested_workers: Jobs at once (``--workers``); None chooses from the CPUs and threads.
        executor: Where jobs run (``--executor`` and its flags); None: local processes.
        save_outputs: Write what each evaluated job scores under ``outputs/<task>/`` (``--save-outputs``): every
            model's test outputs as 8-bit PNGs and, from the reference jobs, the test inputs and ground truth, so
            that ``evaluate`` on those folders gives the job's numbers and another method's outputs can be scored
            against the same references.
        option: The option that named ``out`` (``--run`` for ``evaluate --run``), for messages.

    Returns:
        The run directory and the jobs that failed.

    Raises:
        HarnessError: Bad input (nothing written) or a file the run cannot read or write.
        RunCrashed: An unexpected error; its traceback is in the run's ``harness.log``.
    """
    jobs = plan(config)
    sets = load_for_run(config, [job.task for job in jobs])  # a task without a reference set: refused here
    jobs = [Job(*ref, reference=True) for ref in reference_jobs(sets, config.seeds)
            if Job(*ref, reference=True) not in jobs] + jobs  # their rows check each set's evaluation protocol
    placement, choice = resolve_placement(executor or ExecutorOptions(), config, threads, requested_workers)
    tasks = prepare(config, jobs)
    hashes = {name: task_sha256(task) for name, task in tasks.items()}
    decisions = screen(config, sets, hashes)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(choice.threads)
    try:
        run = RunDir(out)
        manifest = run.start(config_to_dict(config), resume=resume, option=option)
        manifest["threads"], manifest["planned_jobs"] = choice.to_dict(), [j.job_id for j in jobs]
        manifest["workers"], manifest["placement"] = placement.workers, placement.to_dict()
        manifest["plugins"] = records(config.plugins)
        manifest["tasks"] = {name: {"sha256": sha} for name, sha in hashes.items()}
        manifest["reference_sets"] = decisions
        if save_outputs:
            manifest["save_outputs"] = str(run.path / OUTPUTS)
        log.info("torch threads: %d (%s); executor %s; jobs at once: %s", choice.threads, choice.reason,
                 placement.executor, placement.workers if placement.executor == "local" else "as the engine places")
        try:
            failed = _run_jobs(jobs, config, run, manifest, tasks, placement, train_only, save_outputs)
            if sets and not train_only:
                attach(run, sets, decisions, manifest)
                run.write_manifest(manifest)
                run.rebuild_metrics(result_jobs(manifest))  # with the reference sets shown
        except (HarnessError, KeyboardInterrupt):
            run.close(discard=True)
            raise
        except OSError as exc:
            if exc.errno not in ENVIRONMENT_ERRNOS:
                raise run.crashed(exc) from exc
            run.close(discard=True)  # a full disk or a path: the user's environment, one line (harness.run)
            raise
        except Exception as exc:
            raise run.crashed(exc) from exc
        run.close()
        return SuiteResult(run, failed)
    finally:
        torch.set_num_threads(previous_threads)


def outputs_dir(run_dir: Path, task: str, model: str, seed: int, reference: bool) -> Path:
    """Where ``--save-outputs`` puts one job's images: ``outputs/<task>/<model>__s<seed>`` or ``_reference``."""
    return run_dir / OUTPUTS / task / (REFERENCE_OUTPUTS if reference else f"{model}__s{seed}")


def _works(jobs: list[Job], run: RunDir, tasks: dict[str, Task], train_only: bool, save: bool) -> list[Work]:
    """The unfinished jobs as work items (finished ones are skipped, as on ``--resume``); absolute paths."""
    works, planned = [], {job.job_id for job in jobs}
    for index, job in enumerate(jobs, 1):
        if run.is_done(job.job_id):
            log.info("[%d/%d] %s already done, skipping", index, len(jobs), job.job_id)
            continue
        start = None if job.reference else MODELS.get(job.model).warm_start
        donor = None if start is None else Job(start.donor, job.task, job.seed, job.protocol).job_id
        works.append(Work(job.job_id, job.model, job.seed, job.protocol, job.reference, job.task, tasks[job.task],
                          run.job_dir(job.job_id).resolve(), run.sample_dir(job.task).resolve(), train_only,
                          outputs_dir(run.path, job.task, job.model, job.seed, job.reference).resolve() if save
                          else None, run.job_dir(donor).resolve() if donor in planned else None))
    return works


def _run_jobs(jobs: list[Job], config: RunConfig, run: RunDir, manifest: dict, tasks: dict[str, Task],
              placement: Placement, train_only: bool, save: bool) -> dict[str, str]:
    """Runs every unfinished job, recording each in the manifest; returns the failed ones (job id → why).

    Records of jobs finished elsewhere (a Slurm job that outlived its coordinator) come from their
    ``outcome.json`` first.
    """
    failed: dict[str, str] = {}
    by_id = {job.job_id: job for job in jobs}
    for job in jobs:
        recorded = run.read_outcome(job.job_id)
        if run.is_done(job.job_id) and recorded is not None:
            manifest["jobs"][job.job_id] = {**dataclasses.asdict(job), **recorded}
    works = _works(jobs, run, tasks, train_only, save)
    for done, outcome in enumerate(outcomes(works, config, run, placement), 1):
        job = by_id[outcome.job_id]
        if outcome.error is not None:
            log.error("%s", outcome.error)
            failed[job.job_id] = outcome.error
        log.info("[%d/%d] %s %s in %.1f s", done, len(works), job.job_id, outcome.status, outcome.wall_time_s)
        manifest["jobs"][job.job_id] = {**dataclasses.asdict(job), **outcome.record()}
        run.write_manifest(manifest)
        run.rebuild_metrics(result_jobs(manifest))  # the study's rows, written by an earlier command, are kept
    manifest["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    run.write_manifest(manifest)
    run.rebuild_metrics(result_jobs(manifest))
    return failed
