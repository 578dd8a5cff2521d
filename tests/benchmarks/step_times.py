"""Seconds per train step of registered models at a profile's sizes: what a run of that profile will cost.

Run from the repository root::

    python tests/benchmarks/step_times.py --profile standard --task faces --device cuda stargan diat_a cyclegan
    python tests/benchmarks/step_times.py --profile standard --task faces cyclegan --set cyclegan.pair_training=stacked

For each model it builds the model as the suite does (the profile's sizes and ``task_overrides`` for the task),
takes ``--warmup`` steps, then times ``--steps`` steps (CUDA synchronised before and after) and prints the mean
seconds per step and that times the model's ``steps``: the training part of one job, without evaluation. A model
that trains a network through the judge machinery first (DIAT's identity network, SRGAN's content network) trains
or loads it while being built, before the timing starts. A model whose first steps train only a small auxiliary
network (DIAT's ``denoise_steps``, the denoiser alone) takes those steps before the warm-up, so the figure is its
main stage's; DIAT's last ``enhance_steps`` (E with D, T frozen) are not timed. One torch thread on CPU, as a suite
job has on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.getcwd())  # run from the repository root

from harness.core.device import resolve_device  # noqa: E402
from harness.models import MODELS, build_model  # noqa: E402
from harness.run_config import model_config, resolve_config  # noqa: E402
from harness.tasks import build_task  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_seconds(name: str, profile: str, task_name: str, device: torch.device, warmup: int, steps: int,
                 overrides: dict[str, str] | None = None) -> tuple[float, int]:
    """``(mean seconds per train step, the model's configured steps)`` of model ``name`` on ``task_name``.

    ``warmup`` counts from the end of a leading auxiliary stage (``denoise_steps`` of the model's config, if any).
    """
    config = resolve_config(profile, overrides or {})
    task = build_task(task_name, config)
    spec = MODELS.get(name)
    model_cfg = model_config(config, name, task_name)
    model = build_model(spec, model_cfg, task, device, config.eval, False)
    generator = torch.Generator().manual_seed(0)
    for _ in range(getattr(model_cfg, "denoise_steps", 0) + warmup):  # DIAT's denoiser-only stage is not its cost
        model.train_step(spec.batch(task, model_cfg, generator))
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_step(spec.batch(task, model_cfg, generator))
    _sync(device)
    return (time.perf_counter() - start) / steps, int(model_cfg.steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="registered model names")
    parser.add_argument("--profile", default="standard")
    parser.add_argument("--task", default="faces")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a config override as the suite's --set (e.g. cyclegan.pair_training=stacked)")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)
    device = resolve_device(args.device)
    torch.set_num_threads(1)
    for name in args.models:
        seconds, total = step_seconds(name, args.profile, args.task, device, args.warmup, args.steps,
                                      overrides)
        print(f"{name} ({args.profile}, {args.task}) on {device}: {seconds * 1000:.0f} ms/step x {total} steps = "
              f"{seconds * total / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
