"""Reference sets: a finished run's rows of the reference models, committed so that a lab trains only its own model.

``python -m harness.run references make --run RUN`` writes one file per task of the run, ``<dir>/<profile>/<task>.json``
(``<dir>`` is ``harness/reference_sets``, shipped as package data, or ``--out``). A file holds:

- ``reference_set``: its label ``<profile>/<task>@<commit>`` (the run's git commit, 12 hex), which every row carries
  in its protocol string (``reference_set=<label>``) and which the report names;
- ``made_from``: the run's manifest facts: commit, harness version, Python and packages, machine, device, threads,
  workers, start and end, and each job's wall and CPU time;
- ``data_sha256``: ``task_sha256`` of the task's data as the run built it;
- ``evaluation``: per protocol, its reference rows' model (``ground_truth``) and, per metric, their protocol string
  without seed-dependent keys: what a later run's own reference rows must repeat;
- ``models``: per built-in model (plugins are a lab's own, never in a set): its protocol, setting, seeds and
  resolved config on the task (``run_config.model_config``, flattened);
- ``rows``: every row of those models' jobs, per seed, the model renamed ``<model> (committed)`` (``marked``) so
  that every table tells them from rows trained in the run.

``harness.reference_use`` decides, per run, whether a set may be shown (the same data, model configs and
evaluation protocol) and writes its rows into the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from harness.config import config_to_dict, flatten_dict
from harness.core import atomic
from harness.core.errors import HarnessError
from harness.core.results import COLUMNS, REFERENCE_SET_KEY, Row
from harness.models import MODELS
from harness.plugins import load_saved_config, plugin_of
from harness.protocols.registry import PROTOCOLS
from harness.run_config import model_config
from harness.rundir import RunDir
from reports.baseline import seed_independent_protocol

FORMAT = 1  # bump when the file layout changes
COMMITTED = "committed"  # --references committed: the sets shipped in harness/reference_sets
MARK = " (committed)"  # appended to a committed row's model name
MADE_FROM_KEYS = ("git_commit", "harness_version", "python", "packages", "hardware", "started", "finished",
                  "threads", "workers")


def committed_dir() -> Path:
    """``harness/reference_sets``: the committed sets (package data)."""
    return Path(str(resources.files("harness") / "reference_sets"))


def sets_dir(option: str) -> Path:
    """The folder ``--references`` names: the committed sets for ``committed``, else the folder given."""
    if option == COMMITTED:
        return committed_dir()
    path = Path(option).expanduser()
    if not path.is_dir():
        raise HarnessError(f"--references {option!r}: not a folder; expected 'committed' or a folder of "
                           "<profile>/<task>.json reference sets written by `references make`")
    return path


def marked(model: str) -> str:
    """The model name a committed row shows: ``pix2pix`` → ``pix2pix (committed)``."""
    return f"{model}{MARK}"


def available(folder: Path) -> list[str]:
    """``<profile>/<task>`` of every set file in ``folder``."""
    return sorted(f"{p.parent.name}/{p.stem}" for p in folder.glob("*/*.json"))


def load_set(path: Path) -> dict:
    """Reads and checks one set file; a missing key or malformed row is a ``HarnessError`` naming the file."""
    data = atomic.read_json(path)
    if data.get("format") != FORMAT:
        raise HarnessError(f"{path}: not a format-{FORMAT} reference set; regenerate it with `references make`")
    for key, kind in (("reference_set", str), ("profile", str), ("task", str), ("data_sha256", str),
                      ("made_from", dict), ("evaluation", dict), ("models", dict), ("rows", list)):
        if not isinstance(data.get(key), kind):
            raise HarnessError(f"{path}: {key!r} is missing or not a {kind.__name__}; regenerate it with "
                               "`references make`")
    for index, row in enumerate(data["rows"]):
        if not isinstance(row, dict) or set(row) != set(COLUMNS):
            raise HarnessError(f"{path}: row {index} does not have the columns {', '.join(COLUMNS)}")
        if row["model"][: -len(MARK)] not in data["models"] or not row["model"].endswith(MARK):
            raise HarnessError(f"{path}: row {index} is of model {row['model']!r}, not a marked model of the set")
    return data


def set_rows(data: dict, models: Sequence[str]) -> list[Row]:
    """The set's rows of ``models`` (unmarked names), as ``Row`` objects."""
    keep = {marked(m) for m in models}
    return [Row(**row) for row in data["rows"] if row["model"] in keep]


def make_sets(run_dir: Path, out: Path, tasks: Sequence[str] = ()) -> list[Path]:
    """Writes ``out/<profile>/<task>.json`` for every task of a finished run (or ``tasks``) with a built-in model.

    Raises:
        HarnessError: The run is unfinished (planned jobs without rows), a task was not run or has no recorded
            data hash, or its protocol's reference rows are missing.
    """
    run = RunDir(run_dir)
    config = load_saved_config(run.config_path)
    manifest = atomic.read_json(run.manifest_path)
    unfinished = [j for j in manifest.get("planned_jobs", []) if not run.is_done(j)]
    if unfinished:
        raise HarnessError(f"--run {run_dir}: {len(unfinished)} planned job(s) have no results ({', '.join(unfinished)}"
                           "); finish the run (--resume) before making reference sets from it")
    records = manifest.get("jobs", {})
    trained = {job: r for job, r in records.items() if not r.get("reference") and r.get("status") == "done"
               and r.get("model") in MODELS and plugin_of(str(r["model"])) is None}
    run_tasks = list(dict.fromkeys(str(r["task"]) for r in trained.values()))
    for task in tasks:
        if task not in run_tasks:
            raise HarnessError(f"--tasks {task}: the run has no trained reference model on it; its tasks: "
                               f"{', '.join(run_tasks) or 'none'}")
    written = []
    for task in tasks or run_tasks:
        data = _task_set(run, config, manifest, task, {j: r for j, r in trained.items() if r["task"] == task})
        path = out / config.profile / f"{task}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_json(path, data)
        written.append(path)
    return written


def _task_set(run: RunDir, config: object, manifest: dict, task: str, jobs: dict[str, dict]) -> dict:
    """The set of one task: see the module docstring for the keys."""
    sha = manifest.get("tasks", {}).get(task, {}).get("sha256")
    if not sha:
        raise HarnessError(f"--run {run.path}: no data hash recorded for task {task} (a run made before hashes were "
                           f"recorded); run `python -m harness.run evaluate --run {run.path}` once to record it")
    label = f"{config.profile}/{task}@{str(manifest.get('git_commit', 'unknown'))[:12]}"
    models: dict[str, dict] = {}
    rows: list[dict] = []
    order = {job: i for i, job in enumerate(manifest.get("planned_jobs") or [])}  # plan order, not finishing order
    for job, record in sorted(jobs.items(), key=lambda item: (order.get(item[0], len(order)), item[0])):
        model = str(record["model"])
        entry = models.setdefault(model, {
            "protocol": record["protocol"], "setting": MODELS.get(model).setting, "seeds": [],
            "config": flatten_dict(config_to_dict(model_config(config, model, task)))})
        entry["seeds"].append(int(record["seed"]))
        for row in run.read_rows(job):
            rows.append({**row, "model": marked(model), "protocol": f"{row['protocol']}; {REFERENCE_SET_KEY}={label}"})
    evaluation = {p: _evaluation(run, manifest, task, p) for p in sorted({m["protocol"] for m in models.values()})}
    kept = ("wall_time_s", "cpu_time_s", "device", "cpu")
    times = {job: {k: record.get(k) for k in kept} for job, record in jobs.items()}
    made_from = {"run": run.path.name, **{k: manifest.get(k) for k in MADE_FROM_KEYS}, "jobs": times,
                 "wall_time_s": round(sum(float(t["wall_time_s"] or 0) for t in times.values()), 3)}
    return {"format": FORMAT, "reference_set": label, "profile": config.profile, "task": task, "made_from": made_from,
            "data_sha256": sha, "evaluation": evaluation, "models": models, "rows": rows}


def _evaluation(run: RunDir, manifest: dict, task: str, protocol: str) -> dict:
    """``{"reference": name, "metrics": {metric: protocol string without seed keys}}`` from the reference rows."""
    name = PROTOCOLS.get(protocol).reference_name
    jobs = [j for j, r in manifest.get("jobs", {}).items() if r.get("reference") and r.get("task") == task
            and r.get("model") == name and r.get("protocol") == protocol and run.is_done(j)]
    if not jobs:
        raise HarnessError(f"--run {run.path}: no {name} rows of protocol {protocol} on {task}; a set needs them to "
                           "check a later run's evaluation")
    return {"reference": name, "metrics": evaluation_strings([r for j in jobs for r in run.read_rows(j)])}


def evaluation_strings(rows: Sequence[dict]) -> dict[str, str]:
    """Metric → the protocol string of reference ``rows`` without seed-dependent keys (one string per metric)."""
    found: dict[str, str] = {}
    for row in rows:
        found.setdefault(str(row["metric"]), seed_independent_protocol(str(row["protocol"])))
    return found


def describe(data: dict) -> str:
    """One line on a set: label, models and seeds, where it was made."""
    made = data["made_from"]
    hardware = made.get("hardware") or {}
    devices = sorted({str(j.get("device")) for j in made.get("jobs", {}).values()})
    machine = ", ".join(str(x) for x in (hardware.get("platform"), *(hardware.get("gpus") or [])) if x)
    models = "; ".join(f"{m} seeds {','.join(map(str, sorted(e['seeds'])))}" for m, e in data["models"].items())
    return (f"{data['reference_set']}: {models}; made on {machine or 'unknown machine'} ({', '.join(devices)}), "
            f"{made.get('wall_time_s')} s of job wall time")

