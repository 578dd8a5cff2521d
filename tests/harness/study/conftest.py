"""A synthetic paired task and study material built through the runner's own collection code."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch.nn import functional as F

from harness.core.task import DomainData, Task
from harness.study.collect import StudyMaterial, add_condition, blank
from harness.study.config import StudyConfig
from metrics.human_study.protocols import AMTProtocol, BestOfProtocol, MOSProtocol


def textures(n: int, seed: int, size: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=size, mode="bilinear", align_corners=False)
    return (base + 0.15 * torch.rand(n, 3, size, size, generator=g)).clamp(0, 1)


def _u8(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round().to(torch.uint8)


def synthetic_task(n_train: int = 80, n_test: int = 24) -> Task:
    """Domain B are textures, domain A their colour inverses (paired)."""
    train, test = textures(n_train, 0), textures(n_test, 1)
    splits = {"train": {"A": DomainData(_u8(1 - train)), "B": DomainData(_u8(train))},
              "test": {"A": DomainData(_u8(1 - test)), "B": DomainData(_u8(test))}}
    return Task(name="synth", domains=("A", "B"), paired=True, label_kinds=(), image_size=16, splits=splits)


METHODS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "copy": lambda real: real.clone(),  # a perfect generator: the real images themselves
    "noisy": lambda real: (real + 0.04 * torch.randn(real.shape, generator=torch.Generator().manual_seed(5))).clamp(
        0, 1),
    "blank": blank,  # every image its mean colour
}

SMALL = StudyConfig(max_images=24, n_reference=60, amt=AMTProtocol(n_participants=40),
                    best_of=BestOfProtocol(n_participants=40), mos=MOSProtocol(n_raters=10, n_calibration=4))


def make_material(methods: tuple[str, ...] = ("copy", "noisy", "blank"), study: StudyConfig = SMALL,
                  keep_images: bool = False) -> tuple[StudyMaterial, StudyConfig]:
    task = synthetic_task()
    real = task.data("test", "B").get()
    material = StudyMaterial()
    add_condition(material, task, "A2B", "A", "B", 0, {m: METHODS[m](real) for m in methods}, study,
                  keep_images=keep_images, signals={})
    material.settings.update(dict.fromkeys(methods, "paired"))
    return material, study


@pytest.fixture(scope="session")
def material_factory():
    return make_material


@pytest.fixture(scope="session")
def synthetic_parts():
    """``(synthetic_task, textures, SMALL)`` for tests that build their own condition."""
    return synthetic_task, textures, SMALL


# A tiny trained pix2pix run (dropout kept on at test time: the draw the study must seed), made once per session.
PIX2PIX_SETS = ("probe.n_train=16", "probe.n_val=4", "probe.n_test=8", "pix2pix.steps=3", "pix2pix.ngf=4",
                "pix2pix.ndf=4", "eval.n_sample_images=2", "eval.batch_size=8", "eval.judge_steps=5",
                "study.max_images=8", "study.n_reference=16", "study.amt.n_participants=40",
                "study.best_of.n_participants=40", "study.mos.n_raters=20", "study.mos.n_calibration=2",
                "study.stats.n_resamples=200", "checkpoint_every=1")


def suite_argv(out, *extra: str, study: bool = False) -> list[str]:
    """``suite`` on the tiny pix2pix run (``--no-report``; the simulated study only when ``study``)."""
    sets = [a for item in (*PIX2PIX_SETS, f"study.simulate={str(study).lower()}") for a in ("--set", item)]
    return ["--log-level", "ERROR", "suite", "--no-progress", "--no-report", "--models", "pix2pix", "--tasks",
            "probe_texture", "--out", str(out), *sets, *extra]


@pytest.fixture(scope="session")
def pix2pix_argv():
    """``suite_argv``: the tiny pix2pix suite's arguments."""
    return suite_argv


@pytest.fixture(scope="session")
def pix2pix_run(tmp_path_factory):
    """``(run folder, cache folder)`` of a finished tiny pix2pix run without a study; copy it before changing it."""
    import os

    from harness.run import main

    root = tmp_path_factory.mktemp("pix2pix-run")
    old = os.environ.get("HARNESS_CACHE_DIR")
    os.environ["HARNESS_CACHE_DIR"] = str(root / "cache")
    try:
        assert main(suite_argv(root / "run")) == 0
    finally:
        if old is None:
            os.environ.pop("HARNESS_CACHE_DIR")
        else:
            os.environ["HARNESS_CACHE_DIR"] = old
    return root / "run", root / "cache"


@pytest.fixture
def run_copy(pix2pix_run, tmp_path, monkeypatch):
    """A function ``(name) -> path`` copying the trained run (and pointing the cache at a copy of its cache)."""
    import shutil

    run, cache = pix2pix_run
    if not (tmp_path / "cache").exists():
        shutil.copytree(cache, tmp_path / "cache")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path / "cache"))

    def copy(name: str):
        shutil.copytree(run, tmp_path / name)
        return tmp_path / name
    return copy
