"""``--executor slurm``: every job a Slurm job, submitted through submitit into ``<run>/slurm/``.

submitit pickles each job's call into ``<run>/slurm/`` and keeps its stdout and stderr there (by Slurm job id); the
run directory must be on a filesystem the nodes share, and the nodes must import the same harness (a shared
checkout, or the package installed; ``--slurm-setup`` lines run first, e.g. ``source .venv/bin/activate``). A node
rebuilds the job's task from the run's config (``harness.tasks.build_task``: the cache under ``HARNESS_CACHE_DIR``,
or the dataset path), so no data is pickled. A job that is preempted or runs out of time is requeued (``--retries``
times) and resumes from its checkpoint. ``--slurm-cluster local`` submits the same way to submitit's local executor
(local processes), to try a run without a cluster.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections.abc import Iterator
from typing import Any

from harness.config import config_to_dict
from harness.core.errors import HarnessError
from harness.remote_jobs import Placement, failed, require, run_detached
from harness.run_config import RunConfig
from harness.rundir import JOB_LOG, RunDir
from harness.workers import Outcome, Work

log = logging.getLogger(__name__)

POLL_S = {"slurm": 15.0, "local": 0.5}  # how often the coordinator asks whether a job has finished


class SlurmJob:
    """The submitted callable: one job; on preemption or timeout submitit requeues the same call (``checkpoint``)."""

    def __call__(self, work: Work, config: dict, device: str, threads: int) -> Outcome:
        """Runs the job on the node (``run_detached``; ``config``: ``config_to_dict``'s)."""
        return run_detached(work, config, device, threads, "slurm")

    def checkpoint(self, work: Work, config: dict, device: str, threads: int) -> Any:
        """The same call again: the job resumes from its own ``checkpoint.pt``."""
        from submitit.helpers import DelayedSubmission

        return DelayedSubmission(self, work, config, device, threads)


def _executor(submitit: Any, run: RunDir, placement: Placement) -> Any:
    """A submitit executor for ``placement`` writing into ``<run>/slurm/``."""
    if placement.remote.slurm_cluster == "slurm" and shutil.which("sbatch") is None:
        raise HarnessError("--executor slurm: sbatch is not on this machine's PATH; run the suite on a Slurm login "
                           "node, or pass --slurm-cluster local to run the same submission as local processes")
    executor = submitit.AutoExecutor(folder=run.path.resolve() / "slurm", cluster=placement.remote.slurm_cluster,
                                     slurm_max_num_timeout=placement.remote.retries)
    params: dict[str, Any] = {"name": "harness", "timeout_min": placement.remote.slurm_time_min, "nodes": 1,
                              "tasks_per_node": 1, "cpus_per_task": placement.threads,
                              "gpus_per_node": int(placement.gpus_per_job)}
    if placement.remote.slurm_partition:
        params["slurm_partition"] = placement.remote.slurm_partition
    if placement.remote.slurm_setup:
        params["slurm_setup"] = list(placement.remote.slurm_setup)
    executor.update_parameters(**params)
    return executor


def slurm_outcomes(works: list[Work], config: RunConfig, run: RunDir, placement: Placement) -> Iterator[Outcome]:
    """Submits every work as a Slurm job and yields each outcome as it finishes (a failure: a failed outcome)."""
    submitit = require("submitit", "slurm")
    executor = _executor(submitit, run, placement)
    submitted: list[tuple[Any, Work]] = []
    try:
        for work in works:
            job = executor.submit(SlurmJob(), dataclasses.replace(work, task=None), config_to_dict(config),
                                  placement.device, placement.threads)
            submitted.append((job, work))
            log.info("%s: Slurm job %s", work.job_id, job.job_id)
        by_job = {id(job): work for job, work in submitted}
        jobs = [job for job, _ in submitted]
        for job in submitit.helpers.as_completed(jobs, poll_frequency=POLL_S[placement.remote.slurm_cluster]):
            work = by_job.pop(id(job))
            try:
                yield job.result()
            except Exception as exc:  # noqa: BLE001 - submitit's report of any failure on the node
                yield failed(work, "slurm", _summary(exc), f"{work.job_dir / JOB_LOG} and {job.paths.stderr}")
    finally:
        for job, _ in submitted:
            if not job.done():
                job.cancel(check=False)


def _summary(exc: BaseException) -> str:
    """The last exception line of submitit's report (its stderr tail), else its first line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line.split(":")[0] or "Exception" in line.split(":")[0]]
    text = errors[-1] if errors else (lines[0] if lines else type(exc).__name__)
    return f"{type(exc).__name__}: {text}"[:300]
