"""Smoke-width train steps at 1 and 2 torch threads, idle and beside one competing CPU-bound process.

The figures behind the harness's thread default (``harness.core.device.choose_threads``). Run from the repository
root::

    python tests/benchmarks/thread_ratios.py [--rounds 5] [--steps 10]

It prints, per model, the median seconds per step of the four cases and their ratios to "1 thread, idle", all
measured in this one process with the cases interleaved round by round (so drift in the machine's load touches
every case alike), plus the load average before and after. "Competing" means one extra ``while True: pass``
process started by this script, on top of whatever else the machine runs; "idle" means without it.
``tests/benchmarks/test_threads.py`` runs the same cases under pytest-benchmark.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import torch

sys.path.insert(0, os.getcwd())  # run from the repository root

from bench_common import paired_task  # noqa: E402

from harness.core.task import DomainData, Task  # noqa: E402
from harness.run_config import resolve_config  # noqa: E402
from reference_models.cyclegan import build_cyclegan, cyclegan_batch  # noqa: E402
from reference_models.gan import build_gan, gan_batch  # noqa: E402
from reference_models.pix2pix import build_pix2pix, pix2pix_batch  # noqa: E402

CASES = ((1, False), (2, False), (1, True), (2, True))  # (threads, competitor)
CPU = torch.device("cpu")


def smoke_steps() -> dict[str, Callable[[], object]]:
    """One smoke-profile train step per model, as a zero-argument callable (synthetic data, smoke widths)."""
    smoke = resolve_config("smoke", {})
    g = torch.Generator().manual_seed(0)
    task = paired_task(smoke.scenes.image_size)
    p2p = build_pix2pix(smoke.pix2pix, task, CPU)
    cyc = build_cyclegan(smoke.cyclegan, task, CPU)
    digits = torch.randint(0, 256, (500, 1, 28, 28), generator=g, dtype=torch.uint8)
    gan_task = Task("bench", ("handwritten",), False, (), 28, {"train": {"handwritten": DomainData(digits)}})
    gan = build_gan(smoke.gan, gan_task, CPU)
    return {"pix2pix": lambda: p2p.train_step(pix2pix_batch(task, smoke.pix2pix, g)),
            "cyclegan": lambda: cyc.train_step(cyclegan_batch(task, smoke.cyclegan, g)),
            "gan": lambda: gan.train_step(gan_batch(gan_task, smoke.gan, g))}


@contextlib.contextmanager
def competitor(on: bool) -> Iterator[None]:
    """One CPU-bound busy-loop process for the duration (nothing when ``on`` is False)."""
    if not on:
        yield
        return
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    time.sleep(0.3)  # let it reach the run queue
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


def time_steps(step: Callable[[], object], threads: int, steps: int) -> float:
    """Median seconds per step over ``steps`` steps at ``threads`` intra-op threads (after 2 warm-up steps)."""
    torch.set_num_threads(threads)
    for _ in range(2):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(rounds: int, steps: int, verbose: bool = True) -> dict[str, dict[tuple[int, bool], float]]:
    """Model → case → median seconds per step over the rounds (each round's figures printed as it ends)."""
    fns = smoke_steps()
    raw: dict[str, dict[tuple[int, bool], list[float]]] = {m: {c: [] for c in CASES} for m in fns}
    for index in range(rounds):
        for threads, busy in CASES:
            with competitor(busy):
                for name, fn in fns.items():
                    raw[name][(threads, busy)].append(time_steps(fn, threads, steps))
        if verbose:
            figures = ", ".join(f"{m} " + "/".join(f"{v[c][-1] * 1e3:.0f}" for c in CASES) for m, v in raw.items())
            print(f"round {index + 1}: ms per step (1t idle/2t idle/1t busy/2t busy): {figures}; "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
    return {m: {c: statistics.median(v) for c, v in cases.items()} for m, cases in raw.items()}


def main() -> None:
    """Prints the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    load_before = os.getloadavg()
    started = time.perf_counter()
    result = measure(args.rounds, args.steps)
    print(f"cpus available: {len(os.sched_getaffinity(0))}; load average before {load_before[0]:.2f}, after "
          f"{os.getloadavg()[0]:.2f}; {args.rounds} rounds x {args.steps} steps; {time.perf_counter() - started:.0f} s")
    labels = [f"{t} thread{'s' if t > 1 else ''}, {'busy' if b else 'idle'}" for t, b in CASES]
    print(f"{'model':<10}" + "".join(f"{label:>20}" for label in labels))
    for name, cases in result.items():
        base = cases[(1, False)]
        print(f"{name:<10}" + "".join(f"{cases[c] * 1e3:11.1f} ms {cases[c] / base:4.2f}x" for c in CASES))


if __name__ == "__main__":
    main()
