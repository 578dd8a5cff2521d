"""What the benchmarks share: a synthetic paired task, and a round of the loop's train steps with its timing.

Imported by the benchmark modules of this folder (pytest puts the folder on ``sys.path``) and by the scripts here
run from the repository root (Python puts the script's folder there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from harness.core.task import DomainData, Task
from harness.step import LossWindow, Precision, run_step

STEPS_PER_ROUND = {"cpu": 1, "cuda": 10}  # steps per timed round; on CUDA one synchronisation per round
LOG_EVERY = 10  # the loop's default: losses read back every 10 steps


def paired_task(size: int = 32, n: int = 16) -> Task:
    """A paired A/B task of ``n`` random uint8 ``(3, size, size)`` images (train and test the same; shapes only)."""
    g = torch.Generator().manual_seed(0)
    a = DomainData(torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8))
    b = DomainData(torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8))
    split = {"A": a, "B": b}
    return Task("bench", ("A", "B"), True, (), size, {"train": split, "test": split}, {}, {"A": a, "B": b})


def harness_round(model: Any, batches: Sequence[dict[str, torch.Tensor]], device: torch.device,
                  precision: Precision, source: str) -> Callable[[], None]:
    """A round of ``STEPS_PER_ROUND`` training-loop steps over ``batches``, as a zero-argument callable.

    Each step is ``harness.step.run_step`` (host check, non-blocking copy, losses summed on the device), the losses
    read every ``LOG_EVERY`` steps; on CUDA the round ends with one synchronisation.
    """
    window, count, k = LossWindow(device), {"step": 0}, STEPS_PER_ROUND[device.type]

    def one_round() -> None:
        for _ in range(k):
            count["step"] += 1
            run_step(model, batches[count["step"] % len(batches)], device=device, precision=precision, window=window,
                     step=count["step"], source=source)
            if count["step"] % LOG_EVERY == 0:
                window.means()
                window.reset()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return one_round


def median_ms_per_step(benchmark: Any, one_round: Callable[[], None], device: torch.device, rounds: int,
                       threads_before: int) -> float:
    """Times ``rounds`` rounds (2 warm-up rounds first) with pytest-benchmark; the median in ms per step.

    Restores torch's thread count to ``threads_before`` afterwards, and records the figure in the benchmark's
    ``extra_info["ms_per_step"]``.
    """
    try:
        benchmark.pedantic(one_round, rounds=rounds, iterations=1, warmup_rounds=2)
    finally:
        torch.set_num_threads(threads_before)
    ms = benchmark.stats.stats.median / STEPS_PER_ROUND[device.type] * 1000
    benchmark.extra_info["ms_per_step"] = ms
    return ms
