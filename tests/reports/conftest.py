"""A realistic fake run directory, written the way the runner writes one, for the report and gate tests."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.core.results import COLUMNS, Row, protocol_string

SCRIPT_MODEL = "<script>alert(1)</script>"
SEEDS = (0, 1, 2)
# (task, model, setting) -> {metric: (base value, higher_is_better, published value, published source)}
SPEC: dict[tuple[str, str, str], dict[str, tuple[float, bool | None, float, str]]] = {
    ("scenes", "pix2pix", "paired"): {
        "fcn_labels2photo_pixel_acc": (0.66, True, 0.66, "pix2pix v3 Table 1, Cityscapes [V]"),
        "fcn_labels2photo_iou[road]": (0.80, True, math.nan, ""),
        "fcn_labels2photo_iou[car]": (0.30, True, math.nan, ""),
        "fid": (60.0, False, math.nan, ""),
        "photo_kid": (0.0104, False, math.nan, ""),  # within noise of cyclegan's: a tie
    },
    ("scenes", "cyclegan", "unpaired"): {
        "fcn_labels2photo_pixel_acc": (0.52, True, 0.52, "CycleGAN Table 2, Cityscapes [R]"),
        "fcn_labels2photo_iou[road]": (0.60, True, math.nan, ""),
        "fcn_labels2photo_iou[car]": (0.20, True, math.nan, ""),
        "fid": (80.0, False, math.nan, ""),
        "photo_kid": (0.0106, False, math.nan, ""),
    },
    ("scenes", SCRIPT_MODEL, "unpaired"): {
        "fcn_labels2photo_pixel_acc": (0.40, True, math.nan, ""),
        "fid": (120.0, False, math.nan, ""),
        "photo_kid": (0.0300, False, math.nan, ""),
    },
    ("scenes", "ground_truth", "reference"): {"fcn_labels2photo_pixel_acc": (0.80, True, 0.80, "pix2pix v3 [V]")},
    ("probe_texture", "pix2pix", "paired"): {"probe_error": (0.10, False, math.nan, "")},
    ("probe_texture", "cyclegan", "unpaired"): {"probe_error": (0.15, False, math.nan, "")},
    ("probe_geometry", "pix2pix", "paired"): {"probe_error": (0.12, False, math.nan, "")},
    ("probe_geometry", "cyclegan", "unpaired"): {"probe_error": (0.45, False, math.nan, "")},
}
SEED_OFFSETS = (-0.01, 0.0, 0.02)  # value = base * (1 + offset[seed]): a known spread for hand computation


def seed_value(base: float, seed: int) -> float:
    return base * (1.0 + SEED_OFFSETS[seed])


def _rows(seeds: tuple[int, ...], shift: dict[tuple[str, str, str], float], extra: str) -> list[Row]:
    rows = []
    for (task, model, setting), metrics in SPEC.items():
        for seed in seeds:
            for metric, (base, higher, pub, source) in metrics.items():
                proto = protocol_string(variant="default", impl="harness-0.1", seed=seed)
                rows.append(Row(model=model, task=task, metric=metric,
                                value=seed_value(base, seed) + shift.get((task, model, metric), 0.0),
                                n=100, seed=seed, setting=setting, higher_is_better=higher, protocol=proto + extra,
                                published_value=pub, published_source=source))
    for seed in seeds:  # one single-seed-style row with its own interval, and a simulated human study
        rows.append(Row(model="vanilla_gan", task="digits", metric="parzen_ll", value=225.0 + seed, ci_low=223.0 + seed,
                        ci_high=227.0 + seed, n=10000, seed=seed, setting="unconditional", higher_is_better=True,
                        protocol=protocol_string(variant="mlp", seed=seed) + extra,
                        published_value=225.0, published_source="GAN Table 1, MNIST [V]"))
        for metric, value in (("parzen_se", 2.0 + 0.1 * seed), ("kid", 3000.0 + 10 * seed)):  # one method only
            rows.append(Row(model="vanilla_gan", task="digits", metric=metric, value=value, n=10000, seed=seed,
                            setting="unconditional", higher_is_better=None if metric == "parzen_se" else False,
                            protocol=protocol_string(variant="mlp", seed=seed) + extra))
        for model, rate in (("pix2pix", 0.18), ("cyclegan", 0.26)):
            rows.append(Row(model=model, task="maps", metric="amt_fooled_rate", value=rate, n=40, seed=seed,
                            setting="paired" if model == "pix2pix" else "unpaired", higher_is_better=True,
                            protocol=protocol_string(simulated="true", observer="logistic(d=1.2)", seed=seed) + extra))
    rng = np.random.default_rng(0)
    for seed in seeds[:1]:  # per-image values of two methods on the same 20 images: many rows for one seed
        per_image = rng.normal(24.0, 1.5, size=20)
        for model, values in (("srgan", per_image), ("srresnet", per_image + 0.5 + rng.normal(0, 0.2, size=20))):
            for value in values:
                rows.append(Row(model=model, task="sr", metric="psnr_per_image", value=float(value), n=1, seed=seed,
                                setting="paired", higher_is_better=True, protocol=protocol_string(seed=seed) + extra))
    return rows


def _write_png(path: Path, width: int, height: int, colour: tuple[int, int, int]) -> None:
    array = np.zeros((height, width, 3), dtype=np.uint8)
    array[:] = colour
    array[:, ::8] = 255 - np.array(colour, dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def write_fake_run(run_dir: Path, *, seeds: tuple[int, ...] = SEEDS, profile: str = "smoke",
                   shift: dict[tuple[str, str, str], float] | None = None, protocol_extra: str = "",
                   drop: tuple[str, str, str] | None = None) -> Path:
    """Writes config.json, manifest.json, metrics.csv, losses and sample strips; returns ``run_dir``.

    ``shift`` adds to one (task, model, metric)'s values; ``protocol_extra`` is appended to every protocol string;
    ``drop`` removes one (task, model, metric)'s rows.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    rows = [r for r in _rows(seeds, shift or {}, protocol_extra) if (r.task, r.model, r.metric) != drop]
    with open(run_dir / "metrics.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            record = row.to_dict()
            record["higher_is_better"] = "" if row.higher_is_better is None else str(row.higher_is_better)
            writer.writerow(record)
    (run_dir / "config.json").write_text(json.dumps({"profile": profile, "seeds": list(seeds),
                                                      "gan": {"steps": 50, "lr": 0.0002}}))
    jobs = {}
    for model in ("pix2pix", "cyclegan"):
        for seed in seeds:
            job = f"{model}__scenes__s{seed}"
            jobs[job] = {"model": model, "task": "scenes", "seed": seed, "status": "done", "wall_time_s": 12.5 + seed}
            lines = ["step,loss_G,loss_D"] + [f"{s},{2.0 / (s + 1) + seed * 0.01},{0.7 - 0.001 * s}" for s in range(20)]
            (run_dir / "jobs" / job).mkdir(parents=True, exist_ok=True)
            (run_dir / "jobs" / job / "losses.csv").write_text("\n".join(lines) + "\n")
    manifest = {"harness_version": "0.1.0", "git_commit": "abc1234", "python": "3.11.2",
                "packages": {"torch": "2.14.1", "numpy": "2.0"}, "hardware": {"cpu": "2 cores", "gpu": None},
                "profile": profile, "seeds": list(seeds), "started": "2026-01-01T00:00:00",
                "finished": "2026-01-01T00:05:00", "jobs": jobs}
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    strips = run_dir / "samples" / "scenes" / "labels2photo"
    _write_png(strips / "_input.png", 96, 32, (10, 120, 10))
    _write_png(strips / "_target.png", 96, 32, (120, 120, 200))
    _write_png(strips / "pix2pix__s0.png", 96, 32, (200, 60, 60))
    _write_png(strips / "cyclegan__s0.png", 96, 32, (60, 60, 200))
    _write_png(run_dir / "samples" / "digits" / "samples" / "vanilla_gan__s0.png", 64, 16, (30, 30, 30))
    return run_dir


@pytest.fixture
def make_fake_run(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``make_fake_run(name, **options)`` writes a fake run under ``tmp_path / name``."""
    def make(name: str = "run", **options: object) -> Path:
        return write_fake_run(tmp_path / name, **options)
    return make


@pytest.fixture
def fake_run(make_fake_run: Callable[..., Path]) -> Path:
    """A fake three-seed smoke run."""
    return make_fake_run("run")


@pytest.fixture(scope="module")
def module_fake_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fake three-seed smoke run shared by a module's read-only tests."""
    return write_fake_run(tmp_path_factory.mktemp("fake") / "run")


@pytest.fixture(scope="module")
def built_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fake run with its report already built, shared by a module's read-only tests."""
    from reports.build import build_report

    run_dir = write_fake_run(tmp_path_factory.mktemp("built") / "run")
    build_report(run_dir)
    return run_dir
