"""Showing reference sets in a run (``--references committed|DIR``): load, screen, attach.

1. ``load_for_run`` (before anything is written): every task of the run must have a set for the run's profile, or
   the command is refused (exit 2).
2. ``screen`` (before anything is written, with the built tasks): a set whose data hash differs from the task's is
   shown not at all; a committed model whose resolved config differs from the one this run would train it with
   (``--set pix2pix.steps=...``) is left out, each with the reason.
3. ``attach`` (after the jobs): the run's own reference rows (ground truth, real data) of each protocol the set uses
   must carry the set's evaluation protocol strings (judge weights, sample counts, conventions), or the set is not
   shown. The rows shown go to ``jobs/reference_set__<task>/rows.json``, a pseudo-job that ``metrics.csv`` includes,
   so reports, significance tests (on the committed per-seed values) and the paired-vs-unpaired table treat them
   like any row; the baseline leaves them out (they are not this run's results).

Every decision goes into the manifest (``reference_sets``), the log, and the report.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from harness.config import config_to_dict, flatten_dict
from harness.core.errors import HarnessError
from harness.models import MODELS
from harness.protocols.registry import PROTOCOLS
from harness.reference_sets import available, describe, evaluation_strings, load_set, set_rows, sets_dir
from harness.run_config import RunConfig, model_config
from harness.rundir import RunDir
from reports.tables import parse_protocol

log = logging.getLogger(__name__)
JOB_PREFIX = "reference_set__"  # pseudo-job id of a task's committed rows: reference_set__<task>
SHOWN_DIFFERENCES = 3  # differing keys named in a message


def load_for_run(config: RunConfig, tasks: Iterable[str]) -> dict[str, dict]:
    """Task → set (``reference_sets.load_set``) for every task of the run; {} without ``--references``.

    Raises:
        HarnessError: A task without a set for the run's profile (naming the sets there), or a malformed file.
    """
    if not config.references:
        return {}
    folder = sets_dir(config.references)
    found = {}
    for task in dict.fromkeys(tasks):
        path = folder / config.profile / f"{task}.json"
        if not path.is_file():
            raise HarnessError(f"--references {config.references}: no reference set for {config.profile}/{task} in "
                               f"{folder} (sets there: {', '.join(available(folder)) or 'none'}); drop --references "
                               "or leave that task out of --tasks")
        data = load_set(path)
        if (data["profile"], data["task"]) != (config.profile, task):
            raise HarnessError(f"{path}: holds the set {data['profile']}/{data['task']}, not {config.profile}/{task}")
        found[task] = {**data, "file": str(path)}
    return found


def reference_jobs(sets: Mapping[str, dict], seeds: Iterable[int]) -> list[tuple[str, str, int, str]]:
    """``(reference model, task, seed, protocol)`` of the reference jobs a run needs to check its sets' evaluation."""
    return [(PROTOCOLS.get(protocol).reference_name, task, seed, protocol) for task, data in sets.items()
            for protocol in data["evaluation"] for seed in seeds]


def screen(config: RunConfig, sets: Mapping[str, dict], hashes: Mapping[str, str]) -> dict[str, dict]:
    """The manifest's ``reference_sets`` decisions before training: data hash and each model's config.

    Args:
        config: The run's config.
        sets: ``load_for_run`` output.
        hashes: Task → ``task_sha256`` of the run's built task.

    Returns:
        Task → ``{"set", "file", "made_from", "shown": [models], "hidden": {model: why}, "why": why not shown}``
        (``why`` empty while the set may still be shown).
    """
    decisions = {}
    for task, data in sets.items():
        decision = {"set": data["reference_set"], "file": data["file"], "made_from": describe(data), "shown": [],
                    "hidden": {}, "why": ""}
        sha = hashes[task]
        if sha != data["data_sha256"]:
            decision["why"] = (f"this run's {task} data (sha256 {sha[:12]}) differs from the set's "
                               f"({data['data_sha256'][:12]}): another generator, size or machine")
        for model in data["models"]:
            why = _config_difference(config, model, task, data["models"][model]["config"])
            if why:
                decision["hidden"][model] = why
            else:
                decision["shown"].append(model)
        if not decision["why"] and not decision["shown"]:
            decision["why"] = "no committed model has this run's config"
        decisions[task] = decision
    return decisions


def _config_difference(config: RunConfig, model: str, task: str, committed: dict) -> str:
    if model not in MODELS or task not in MODELS.get(model).protocols:
        return f"{model} does not run on {task} in this harness"
    ours = flatten_dict(config_to_dict(model_config(config, model, task)))
    theirs = flatten_dict(committed)
    keys = sorted(k for k in set(ours) | set(theirs) if ours.get(k) != theirs.get(k))
    if not keys:
        return ""
    section = MODELS.get(model).config_section
    shown = "; ".join(f"{section}.{k}: set {theirs.get(k)!r}, this run {ours.get(k)!r}" for k in
                      keys[:SHOWN_DIFFERENCES])
    return f"trained with other settings than this run's ({shown}{'; …' if len(keys) > SHOWN_DIFFERENCES else ''})"


def attach(run: RunDir, sets: Mapping[str, dict], decisions: dict[str, dict], manifest: dict) -> list[str]:
    """Checks each set's evaluation against the run's reference rows and writes the rows shown.

    Returns:
        The pseudo-job ids written (``reference_set__<task>``), for ``metrics.csv``.
    """
    shown = []
    for task, data in sets.items():
        decision, job = decisions[task], f"{JOB_PREFIX}{task}"
        if not decision["why"]:
            decision["why"] = _evaluation_difference(run, manifest, task, data)
        rows = [] if decision["why"] else set_rows(data, decision["shown"])
        if rows:
            run.write_rows(job, rows)
            manifest["jobs"][job] = {"model": "reference_set", "task": task, "seed": -1, "protocol": "reference_set",
                                     "reference": True, "status": "done", "set": data["reference_set"],
                                     "wall_time_s": 0.0, "cpu_time_s": 0.0}
            shown.append(job)
            log.info("reference set %s shown on %s: %s", data["reference_set"], task, ", ".join(decision["shown"]))
        else:
            (run.path / "jobs" / job / "rows.json").unlink(missing_ok=True)
            manifest["jobs"].pop(job, None)
            decision["shown"] = []
            log.warning("reference set %s NOT shown on %s: %s", data["reference_set"], task, decision["why"])
        for model, why in decision["hidden"].items():
            log.warning("reference set %s: %s not shown: %s", data["reference_set"], model, why)
    manifest["reference_sets"] = decisions
    return shown


def _evaluation_difference(run: RunDir, manifest: dict, task: str, data: dict) -> str:
    """Why the run's evaluation differs from the set's (first protocol and metric that differ); "" when equal."""
    for protocol, evaluation in data["evaluation"].items():
        name = evaluation["reference"]
        jobs = [j for j, r in manifest["jobs"].items() if r.get("reference") and r.get("task") == task
                and r.get("model") == name and r.get("protocol") == protocol and run.is_done(j)]
        ours = evaluation_strings([row for j in jobs for row in run.read_rows(j)])
        for metric, theirs in evaluation["metrics"].items():
            if metric not in ours:
                return f"this run has no {name} {metric} row of protocol {protocol} to check the set's evaluation by"
            if ours[metric] != theirs:
                differing = _keys_differing(theirs, ours[metric])
                return f"the evaluation protocol differs ({protocol}, {metric}: {differing})"
    return ""


def _keys_differing(theirs: str, ours: str) -> str:
    a, b = parse_protocol(theirs), parse_protocol(ours)
    keys = [k for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
    return "; ".join(f"{k}: set {a.get(k, '(none)')!r}, this run {b.get(k, '(none)')!r}" for k in
                     keys[:SHOWN_DIFFERENCES])


def reference_job_ids(manifest: dict) -> list[str]:
    """The reference-set pseudo-jobs a manifest records (for rebuilding ``metrics.csv``)."""
    return [j for j in manifest.get("jobs", {}) if j.startswith(JOB_PREFIX)]

