"""``--executor ray``: every job a Ray task on an existing cluster (``--ray-address``) or a local Ray instance.

Ray places the tasks (``num_cpus`` = ``--threads``, ``num_gpus`` = ``--gpus-per-job``; a fraction puts several
jobs on one GPU), retries a task whose worker or node died (``--retries``; the retry resumes from the job's
checkpoint) and keeps each worker's output in its session logs; the job's own log is ``jobs/<job>/job.log``. A task
goes to the object store once per task and is shared by every job on it. Workers import the harness as the
coordinator does (Ray adds the coordinator's working directory to their path; on a cluster, install the harness on
every node or run from a shared checkout).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator
from typing import Any

from harness.config import config_to_dict
from harness.core.errors import HarnessError
from harness.core.task import Task
from harness.remote_jobs import Placement, failed, require, run_detached
from harness.run_config import RunConfig
from harness.rundir import JOB_LOG, RunDir
from harness.workers import Outcome, Work

log = logging.getLogger(__name__)


def _ray_job(work: Work, task: Task, config: dict, device: str, threads: int) -> Outcome:
    """The Ray task: one job, its task resolved from the object store (``config``: ``config_to_dict``'s)."""
    return run_detached(dataclasses.replace(work, task=task), config, device, threads, "ray")


def _init(ray: Any, placement: Placement) -> bool:
    """Connects to ``placement.remote.ray_address`` (or starts a local instance); True when this call started Ray."""
    if ray.is_initialized():
        return False
    env = {k: os.environ[k] for k in ("HARNESS_CACHE_DIR",) if k in os.environ}
    try:
        ray.init(address=placement.remote.ray_address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.WARNING, runtime_env={"env_vars": env} if env else None)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = placement.remote.ray_address or "a local instance"
        raise HarnessError(f"--executor ray: cannot start or reach Ray at {where} ({exc}); check --ray-address "
                           "(e.g. auto on a cluster node, or ray://HOST:10001)") from None
    return True


def ray_outcomes(works: list[Work], config: RunConfig, run: RunDir, placement: Placement) -> Iterator[Outcome]:
    """Submits every work as a Ray task and yields each outcome as it finishes (a crash: a failed outcome)."""
    ray = require("ray", "ray")
    started = _init(ray, placement)
    remote = ray.remote(_ray_job)
    config_data = config_to_dict(config)  # plain data: a config with plugin sections does not pickle
    tasks: dict[str, Any] = {}
    pending: dict[Any, Work] = {}
    try:
        for work in works:
            if work.task_name not in tasks:
                tasks[work.task_name] = ray.put(work.task)
            options = {"num_cpus": placement.threads, "num_gpus": placement.gpus_per_job,
                       "max_retries": placement.remote.retries, "name": work.job_id}
            ref = remote.options(**options).remote(dataclasses.replace(work, task=None), tasks[work.task_name],
                                                   config_data, placement.device, placement.threads)
            pending[ref] = work
        log.info("%d jobs submitted to Ray (%s CPU(s), %s GPU(s) each)", len(works), placement.threads,
                 placement.gpus_per_job)
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            work = pending.pop(ready[0])
            try:
                yield ray.get(ready[0])
            except ray.exceptions.RayError as exc:
                yield failed(work, "ray", _first_line(exc), work.job_dir / JOB_LOG)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()


def _first_line(exc: BaseException) -> str:
    """The kind and cause of a Ray error, without Ray's multi-line traceback (the job's log holds it)."""
    cause = getattr(exc, "cause", None)
    text = f"{type(cause).__name__}: {cause}" if isinstance(cause, BaseException) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split("\n")[0].split())[:300]
