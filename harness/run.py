"""Command-line entry point: ``python -m harness.run {list,suite,train,evaluate,report,baseline,check,judges,study}``.

Exit codes: 0 success, 1 a regression found by ``check``, 2 unusable input (unknown name, bad option, missing or
corrupt file); the message names the thing and what was expected.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from harness import commands
from harness.cli_common import add_run_options
from harness.core.errors import HarnessError
from harness.pinned_judges import add_judges_parser
from harness.study.cli import add_study_parser

log = logging.getLogger("harness")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand and its documented options."""
    parser = argparse.ArgumentParser(prog="python -m harness.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="logging level (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("list", help="list models, tasks, metrics, profiles or config keys")
    p.add_argument("what", nargs="?", default="all",
                   choices=("all", "models", "tasks", "metrics", "profiles", "config"),
                   help="what to list (default: all but config)")

    p = sub.add_parser("suite", help="train, evaluate and report every selected (model, task, seed)")
    add_run_options(p)
    p.add_argument("--no-report", action="store_true", help="skip the report step")

    p = sub.add_parser("train", help="train every selected (model, task, seed) without evaluating")
    add_run_options(p)

    p = sub.add_parser("evaluate", help="evaluate a run's trained jobs, or score a folder of images with one metric")
    p.add_argument("--run", type=Path, help="run directory whose jobs without results to evaluate (with its saved "
                   "config; a job not yet trained is trained first)")
    p.add_argument("--metric", help="metric name for folder evaluation (see `list metrics`)")
    p.add_argument("--pred", type=Path, help="folder of images to score (generated / translated / super-resolved); "
                   "one size per folder, at most 8192x8192 pixels per image, 16-bit read at full precision, alpha "
                   "dropped (not composited)")
    p.add_argument("--target", type=Path, help="folder of reference images, where the metric needs them; paired "
                   "metrics (psnr) match --pred and --target files by name without suffix")
    p.add_argument("--feature-extractor", default="inception", choices=("inception", "digits"),
                   help="features for FID/KID/precision-recall: inception (needs --weights) or digits (the "
                        "harness's committed digit classifier of the standard profile)")
    p.add_argument("--weights", type=Path, help="local weights file a metric needs (e.g. torch-fidelity's "
                   "weights-inception-2015-12-05-6726825d.pth); checked by sha256, never downloaded")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int, default=0, help="seed for stochastic steps (KID subsets)")
    p.add_argument("--scale", type=int, help="psnr_ssim: the integer super-resolution factor; that many pixels are "
                   "cropped from every border and HR images are cropped to multiples of it")
    p.add_argument("--y-channel", action="store_true", help="psnr_ssim: score the BT.601 Y channel (MATLAB "
                   "rgb2ycbcr), as the SR papers do, instead of R, G, B")
    p.add_argument("--json", action="store_true", help="print the result as strict JSON: a non-finite value (PSNR "
                   "of identical images is inf) is null, and a \"nonfinite\" object maps its key to \"inf\", "
                   "\"-inf\" or \"nan\"")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")

    p = sub.add_parser("report", help="(re)build summary.csv, plots/ and report.html of a run")
    p.add_argument("--run", type=Path, required=True, help="run directory")

    p = sub.add_parser("baseline", help="record a regression baseline from a run (ideally several seeds)")
    p.add_argument("--run", type=Path, required=True, help="run directory")
    p.add_argument("--out", type=Path, required=True, help="baseline JSON file to write")
    p.add_argument("--tolerance", type=float, default=None,
                   help="absolute tolerance for every metric (default: derived from the spread across seeds)")

    p = sub.add_parser("check", help="compare a run with a baseline: exit 0 ok, 1 regression, 2 unusable input")
    p.add_argument("--run", type=Path, required=True, help="run directory")
    p.add_argument("--baseline", type=Path, required=True, help="baseline JSON written by `baseline`")

    add_judges_parser(sub)
    add_study_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI and returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")
    try:
        return commands.dispatch(args)
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: finished jobs and the last checkpoints are kept; continue with the same command and "
              "--resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
