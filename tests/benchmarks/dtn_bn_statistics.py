"""Do g's batch-norm statistics, mixed over source and target inputs in training, change DTN's test accuracy?

DTN trains g on f(source) and f(target) batches (two forward passes per step in train mode), so the running
statistics that g's batch norm uses at test time (``DTN.translate``: eval mode) are a moving average over both
domains, while the test inputs are source images only. This measures the handwritten judge's accuracy on G(source
test) — the protocol's ``test_mnist_accuracy`` — with g's batch norm on:

- ``running (mixed)``: the trained running statistics, as every row of the harness is scored;
- ``source only``: statistics re-estimated on f(every source training image), cumulative average;
- ``target only``: re-estimated on f(every target training image), for scale;
- ``test batch``: each test batch's own statistics (train mode, batches of ``eval.batch_size``).

Run from the repository root (trains the DTN jobs itself at the profile's sizes, one torch thread)::

    python tests/benchmarks/dtn_bn_statistics.py --profile smoke --seeds 0,1,2

or scores the ``dtn`` jobs of an existing run (its saved config)::

    python tests/benchmarks/dtn_bn_statistics.py --run runs/std-dtn
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, os.getcwd())  # run from the repository root

from harness.core.device import resolve_device, seed_everything  # noqa: E402
from harness.models import MODELS, build_model  # noqa: E402
from harness.protocols.base import EvalContext  # noqa: E402
from harness.protocols.digit_transfer import target_judge  # noqa: E402
from harness.run_config import config_from_saved, model_config, resolve_config  # noqa: E402
from harness.tasks import build_task  # noqa: E402
from harness.train import load_trained, train_job  # noqa: E402
from metrics.judges.digit_classifier import predict_digits  # noqa: E402
from reference_models.dtn import DTN, to_model_size  # noqa: E402

MODES = ("running (mixed)", "source only", "target only", "test batch")


@torch.no_grad()
def reestimated(model: DTN, images: torch.Tensor, batch_size: int) -> nn.Module:
    """A copy of g whose batch-norm statistics are the cumulative average over f(``images``) in batches."""
    g = copy.deepcopy(model.nets["g"])
    norms = [m for m in g.modules() if isinstance(m, nn.BatchNorm2d)]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative moving average: every batch counts alike
    g.train()
    for chunk in images.split(batch_size):
        g(model.f(to_model_size(chunk).to(model.device)))
    return g.eval()


@torch.no_grad()
def accuracies(model: DTN, task, judge, batch_size: int) -> dict[str, float]:
    """The judge's accuracy on G(source test) with each of ``MODES``."""
    source, target = task.domains[:2]
    test = task.data("test", source)
    images, labels = test.get(), test.labels["class"]
    gs = {"running (mixed)": model.nets["g"].eval(),
          "source only": reestimated(model, task.data("train", source).get(), batch_size),
          "target only": reestimated(model, task.data("train", target).get(), batch_size),
          "test batch": copy.deepcopy(model.nets["g"]).train()}
    out = {}
    for mode, g in gs.items():
        translated = torch.cat([((g(model.f(to_model_size(c).to(model.device))) + 1) / 2).clamp(0, 1).cpu()
                                for c in images.split(batch_size)])
        predicted = predict_digits(judge.model, translated, batch_size=batch_size)
        out[mode] = float((predicted == labels).double().mean())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="smoke")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--task", default="digits")
    parser.add_argument("--run", default="", help="score this run's dtn jobs instead of training new ones")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = resolve_device(args.device)
    run = Path(args.run) if args.run else None
    config = config_from_saved(run / "config.json") if run else resolve_config(args.profile, {})
    seeds = config.seeds if run else tuple(int(s) for s in args.seeds.split(","))
    task, spec = build_task(args.task, config), MODELS.get("dtn")
    cfg = model_config(config, "dtn", args.task)
    ctx = EvalContext(model_name="dtn", task=task, seed=0, device=device, config=config.eval,
                      sample_dir=Path(tempfile.gettempdir()), setting="unpaired", variant="", progress=False)
    judge = target_judge(ctx)
    print(f"DTN on {args.task}, profile {config.profile}, {cfg.steps} steps; accuracy on G(source test):")
    print("seed | " + " | ".join(MODES))
    with tempfile.TemporaryDirectory() as scratch:
        for seed in seeds:
            seed_everything(seed, device)
            model = build_model(spec, cfg, task, device, config.eval, False)
            job = run / "jobs" / f"dtn__{args.task}__s{seed}" if run else Path(scratch) / f"s{seed}"
            if not run:
                train_job(spec, cfg, task, model, job, seed=seed, checkpoint_every=10**9, log_every=10**9,
                          progress=False)
            load_trained(model, job)
            values = accuracies(model, task, judge, config.eval.batch_size)
            print(f"{seed} | " + " | ".join(f"{values[m]:.4f}" for m in MODES))


if __name__ == "__main__":
    main()
