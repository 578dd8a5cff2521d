"""The run directory: resolved config, manifest, per-job results, and the run-level ``metrics.csv``.

Layout::

    runs/<name>/config.json                 resolved RunConfig
    runs/<name>/manifest.json               versions, git commit, hardware, seeds, per-job status and wall time
    runs/<name>/metrics.csv                 every result row (harness.core.results.COLUMNS), rebuilt after each job
    runs/<name>/jobs/<job>/                 checkpoint.pt | model.pt, losses.csv, rows.json (done marker)
    runs/<name>/samples/<task>/<direction>/ sample strips for the report
    runs/<name>/summary.csv, report.html, plots/   written by reports/

Every file is written atomically; a job is finished exactly when its ``rows.json`` exists.
"""

from __future__ import annotations

import json
import math
import os
import platform
import subprocess
import time
from importlib import metadata
from pathlib import Path

import pandas as pd
import torch

from harness import __version__
from harness.config import flatten_dict
from harness.core import atomic
from harness.core.errors import HarnessError
from harness.core.results import COLUMNS, Row

PACKAGES = ("torch", "torchvision", "torch-fidelity", "numpy", "scipy", "pandas", "scikit-image", "matplotlib",
            "pillow", "jinja2", "statsmodels")


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).resolve().parent, capture_output=True,
                             text=True, timeout=5, check=False)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def environment() -> dict[str, object]:
    """Package versions, git commit, Python and hardware, for the manifest."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    hardware = {"platform": platform.platform(), "machine": platform.machine(), "processor": platform.processor(),
                "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                "cuda": torch.cuda.is_available(),
                "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]}
    return {"harness_version": __version__, "git_commit": _git_commit(), "python": platform.python_version(),
            "packages": versions, "hardware": hardware}


class RunDir:
    """A run directory on disk.

    Args:
        path: ``runs/<name>``.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def config_path(self) -> Path:
        """``config.json`` of the run."""
        return self.path / "config.json"

    @property
    def manifest_path(self) -> Path:
        """``manifest.json`` of the run."""
        return self.path / "manifest.json"

    @property
    def metrics_path(self) -> Path:
        """``metrics.csv`` of the run."""
        return self.path / "metrics.csv"

    def job_dir(self, job_id: str) -> Path:
        """The directory of one job (created)."""
        path = self.path / "jobs" / job_id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def sample_dir(self, task: str) -> Path:
        """Sample strips of one task (created)."""
        path = self.path / "samples" / task
        path.mkdir(parents=True, exist_ok=True)
        return path

    def is_done(self, job_id: str) -> bool:
        """Whether the job's rows are written."""
        return (self.path / "jobs" / job_id / "rows.json").exists()

    def write_rows(self, job_id: str, rows: list[Row]) -> None:
        """Writes the job's rows (the job's done marker)."""
        data = [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.to_dict().items()}
                for r in rows]
        atomic.write_json(self.job_dir(job_id) / "rows.json", data)

    def read_rows(self, job_id: str) -> list[dict[str, object]]:
        """The rows a finished job wrote."""
        return json.loads((self.path / "jobs" / job_id / "rows.json").read_text())

    def rebuild_metrics(self, job_ids: list[str]) -> pd.DataFrame:
        """Rewrites ``metrics.csv`` from the finished jobs among ``job_ids``, in that order."""
        rows = [r for j in job_ids if self.is_done(j) for r in self.read_rows(j)]
        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        with atomic.atomic_path(self.metrics_path) as tmp:
            frame.to_csv(tmp, index=False)
        return frame

    def start(self, config: dict[str, object], resume: bool) -> dict[str, object]:
        """Creates (or, with ``resume``, reopens) the run and returns its manifest.

        Raises:
            HarnessError: The directory holds a run and ``resume`` is off, or ``resume`` is on and the saved
                config differs from ``config`` (the differing keys are named).
        """
        if self.config_path.exists():
            if not resume:
                raise HarnessError(f"--out {str(self.path)!r} already holds a run; pass --resume to continue it "
                                   "or choose another --out")
            saved, new = flatten_dict(json.loads(self.config_path.read_text())), flatten_dict(config)
            diff = sorted(k for k in set(saved) | set(new) if k != "progress" and saved.get(k) != new.get(k))
            if diff:
                raise HarnessError(f"--resume: the run in {str(self.path)!r} was made with different settings "
                                   f"({', '.join(diff)}); pass the same --profile/--set options as the original run")
            manifest = json.loads(self.manifest_path.read_text()) if self.manifest_path.exists() else {}
        else:
            if self.path.exists() and any(self.path.iterdir()):
                raise HarnessError(f"--out {str(self.path)!r} exists and is not a run directory; choose another --out")
            self.path.mkdir(parents=True, exist_ok=True)
            atomic.write_json(self.config_path, config)
            manifest = {}
        manifest.update(environment())
        manifest.setdefault("started", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        manifest.setdefault("jobs", {})
        manifest["profile"], manifest["seeds"] = config.get("profile"), config.get("seeds")
        self.write_manifest(manifest)
        return manifest

    def write_manifest(self, manifest: dict[str, object]) -> None:
        """Atomically writes the manifest."""
        atomic.write_json(self.manifest_path, manifest)
