"""Shared fixtures for runner tests: a private cache and tiny suite settings (each suite run takes seconds)."""

from __future__ import annotations

import pytest

TINY_SETS = (
    "digits.n_train=300", "digits.n_val=100", "digits.n_test=200", "eval.n_samples=200", "eval.judge_steps=30",
    "eval.kid_subset_size=50", "eval.kid_subsets=10", "eval.parzen_n_validation=100", "eval.batch_size=100",
    "gan.steps=20", "gan.g_hidden=32", "gan.d_units=16", "checkpoint_every=8", "log_every=4",
)


def _tiny_args(*extra: str) -> list[str]:
    out: list[str] = []
    for item in (*TINY_SETS, *extra):
        out += ["--set", item]
    return out


@pytest.fixture(scope="session")
def tiny_args():
    """A function ``(*extra_items) -> ["--set", item, ...]`` for a tiny CPU run plus ``extra_items``."""
    return _tiny_args


@pytest.fixture
def cache(tmp_path_factory, monkeypatch):
    """Points HARNESS_CACHE_DIR at a fresh temporary directory."""
    path = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(path))
    return path


# Tiny scenes and one budget for every translation method (the fairness rules hold: equal steps and batch 1).
PLUGIN_SETS = (
    "scenes.n_train=24", "scenes.n_val=8", "scenes.n_test=12", "pix2pix.steps=4", "cyclegan.steps=4",
    "pix2pix.ngf=8", "pix2pix.ndf=8", "cyclegan.ngf=8", "cyclegan.ndf=8", "cyclegan.n_blocks=1",
    "eval.n_sample_images=4",
)


@pytest.fixture(scope="session")
def scene_args(tiny_args):
    """A function ``(*extra_items) -> ["--set", item, ...]``: a tiny run on scenes with one translation budget."""
    return lambda *extra: tiny_args(*PLUGIN_SETS, *extra)
