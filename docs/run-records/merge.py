"""Merges the finished jobs of side runs into a run record's run, then rebuilds its ``metrics.csv``.

A side run is the record's command with another ``--models`` / ``--seeds`` subset and its own ``--out``: its jobs are
the record's jobs (a job's numbers depend on its model, task, seed and config, not on which other jobs share the run),
so two side runs let a session choose which jobs fill its two cores. Usage, from the repository root with the run
record copied to ``runs/std-faces``::

    python docs/run-records/merge.py runs/std-faces runs/faces-b [runs/faces-c ...]

Copies each finished job's ``*.json`` / ``*.csv`` (``rows.json`` last: the done marker), its manifest record and its
sample strips; jobs the record already has are left alone. Run it when no process works on the runs.
"""
import shutil
import sys
from pathlib import Path

from harness.config import flatten_dict
from harness.core import atomic
from harness.rundir import RUNTIME_KEYS, SEEDS, RunDir, config_differences, result_jobs

rec = RunDir(Path(sys.argv[1]))
manifest = atomic.read_json(rec.manifest_path)
FREE = (*RUNTIME_KEYS, "models", SEEDS)  # what a side run may set otherwise: its job subset, and runtime settings
mine = flatten_dict(atomic.read_json(rec.config_path))
for other in map(Path, sys.argv[2:]):
    theirs = flatten_dict(atomic.read_json(other / "config.json"))
    differ = config_differences(mine, theirs, FREE)
    if differ:
        sys.exit(f"{other}: its config differs from the record's beyond models and seeds ({', '.join(differ)})")
    om = atomic.read_json(other / "manifest.json")
    for job in sorted((other / "jobs").iterdir()):
        if not (job / "rows.json").exists() or rec.is_done(job.name):
            continue
        dest = rec.job_dir(job.name)
        dest.mkdir(parents=True, exist_ok=True)
        for f in list(job.glob("*.json")) + list(job.glob("*.csv")):
            if f.name != "rows.json":
                shutil.copy2(f, dest / f.name)
        shutil.copy2(job / "rows.json", dest / "rows.json")  # the done marker last
        manifest["jobs"][job.name] = om["jobs"][job.name]
        model, seed = job.name.split("__")[0], job.name.split("__s")[-1]
        for strip in (other / "samples").rglob(f"{model}__s{seed}*.png"):
            target = rec.path / strip.relative_to(other)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(strip, target)
        print("merged", job.name, "from", other)
atomic.write_json(rec.manifest_path, manifest)
rec.rebuild_metrics(result_jobs(manifest))
