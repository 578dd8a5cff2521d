"""Smoke-width train steps at 1 and 2 torch threads, idle and beside one competing CPU-bound process.

pytest-benchmark form of ``thread_ratios.py`` (which prints the four cases as ratios measured in one process; the
harness's thread default rests on those ratios). Skipped in the normal run; run with
``python -m pytest tests/benchmarks/test_threads.py --benchmark-only --benchmark-enable``.
"""

import pytest
import torch
from thread_ratios import competitor, smoke_steps


@pytest.fixture(scope="module")
def steps():
    return smoke_steps()


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "beside-1-busy-process"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("model", ["cyclegan", "gan", "pix2pix"])
def test_smoke_train_step(benchmark, steps, model, threads, busy):
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with competitor(busy):
            benchmark.pedantic(steps[model], rounds=10, warmup_rounds=2)
    finally:
        torch.set_num_threads(previous)
