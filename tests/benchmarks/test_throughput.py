"""Throughput benchmarks (pytest-benchmark): training steps of each model at smoke width, and metric passes.

Skipped in the normal test run; run with ``tox -e bench`` or
``python -m pytest tests/benchmarks --benchmark-only --benchmark-enable``.
"""

import pytest
import torch
from bench_common import paired_task

from harness.config import apply_overrides
from harness.core.task import DomainData, Task
from harness.run_config import resolve_config
from metrics.fcn_score import fcn_confusion_update, new_confusion
from metrics.parzen import parzen_log_likelihood
from reference_models.cyclegan import build_cyclegan, cyclegan_batch
from reference_models.gan import build_gan, gan_batch
from reference_models.pix2pix import build_pix2pix, pix2pix_batch

CPU = torch.device("cpu")
SMOKE = resolve_config("smoke", {})


@pytest.mark.parametrize("name", ["pix2pix", "cyclegan"])
def test_translation_train_step(benchmark, name):
    task = paired_task()
    build, batch = {"pix2pix": (build_pix2pix, pix2pix_batch), "cyclegan": (build_cyclegan, cyclegan_batch)}[name]
    config = getattr(SMOKE, name)
    model = build(config, task, CPU)
    g = torch.Generator().manual_seed(0)
    benchmark(lambda: model.train_step(batch(task, config, g)))


def test_gan_train_step(benchmark):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (200, 1, 28, 28), generator=g, dtype=torch.uint8)
    task = Task("bench", ("handwritten",), False, (), 28, {"train": {"handwritten": DomainData(images)}})
    config = apply_overrides(SMOKE.gan, {}, source="bench")
    model = build_gan(config, task, CPU)
    benchmark(lambda: model.train_step(gan_batch(task, config, g)))


def test_fcn_confusion_update(benchmark):
    g = torch.Generator().manual_seed(0)
    pred = torch.randint(0, 19, (16, 256, 256), generator=g)
    target = torch.randint(0, 20, (16, 256, 256), generator=g)
    benchmark(lambda: fcn_confusion_update(new_confusion(19), pred, target, 19))


def test_parzen(benchmark):
    g = torch.Generator().manual_seed(0)
    samples, val, test = (torch.rand(n, 784, generator=g) for n in (1000, 200, 500))
    benchmark(lambda: parzen_log_likelihood(samples, val, test))
