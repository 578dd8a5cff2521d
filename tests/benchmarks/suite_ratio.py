"""Wall time of a suite run idle and beside one competing CPU-bound process, and their ratio.

The check behind the target "beside one other CPU-bound process, the default suite takes at most 2.5x its idle
time". Run from the repository root (the suite options after ``--`` are passed on; ``--out`` is set here)::

    python tests/benchmarks/suite_ratio.py [--threads N] [--repeats 1] [-- --models gan --tasks digits ...]

Each repeat runs the suite once idle and once beside one extra ``while True: pass`` process, each into a fresh
temporary run directory, and prints both wall times, the ratio and the load average around each run. Run the same
suite once beforehand (or pass ``--warm``) so that generated data and judges come from the cache in both runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from thread_ratios import competitor


def run_suite(extra: list[str], threads: int | None, out: Path) -> float:
    """Seconds of wall time of one ``suite`` run (raises if it fails)."""
    argv = [sys.executable, "-m", "harness.run", "--log-level", "WARNING", "suite", "--no-progress", "--no-report",
            "--out", str(out), *(["--threads", str(threads)] if threads else []), *extra]
    start = time.perf_counter()
    subprocess.run(argv, check=True)
    return time.perf_counter() - start


def main() -> None:
    """Prints one line per run and the ratio per repeat."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="--threads for the suite (default: its own)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--warm", action="store_true", help="run the suite once first to fill the cache")
    parser.add_argument("suite_args", nargs=argparse.REMAINDER, help="-- then suite options")
    args = parser.parse_args()
    extra = [a for a in args.suite_args if a != "--"]
    with tempfile.TemporaryDirectory() as tmp:
        if args.warm:
            run_suite(extra, args.threads, Path(tmp) / "warm")
        for repeat in range(args.repeats):
            times = {}
            for busy in (False, True):
                before = os.getloadavg()[0]
                with competitor(busy):
                    times[busy] = run_suite(extra, args.threads, Path(tmp) / f"r{repeat}-{busy}")
                print(f"threads={args.threads or 'default'} {'beside 1 busy process' if busy else 'idle':<22} "
                      f"{times[busy]:8.1f} s  (load average {before:.2f} before, {os.getloadavg()[0]:.2f} after)",
                      flush=True)
            print(f"ratio busy/idle: {times[True] / times[False]:.2f}", flush=True)


if __name__ == "__main__":
    main()
