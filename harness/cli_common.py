"""Options shared by the run-making subcommands (``suite``, ``train``), built from the RunConfig fields."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from harness.config import parse_set_arguments
from harness.run_config import PROFILES, RunConfig, resolve_config


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Adds --profile, --models, --tasks, --seeds, --device, --out, --resume, --set, --no-progress."""
    parser.add_argument("--profile", default="smoke", choices=PROFILES,
                        help="scale: smoke (CPU minutes, the default), standard (meaningful numbers on the embedded "
                             "benchmark), paper (the papers' architectures and schedules; GPU)")
    parser.add_argument("--models", default=None, help="comma-separated model names (default: every model but the "
                        "ablation variants; see `list models`)")
    parser.add_argument("--tasks", default=None, help="comma-separated task names (default: every task the selected "
                        "models run on; see `list tasks`)")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds, one job per seed (default: 0)")
    parser.add_argument("--device", default=None, help="auto (cuda if available, else cpu), cpu, cuda or cuda:N "
                        "(default: auto)")
    parser.add_argument("--out", type=Path, default=None,
                        help="run directory (default: runs/<profile>-<timestamp>)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out: finished jobs are skipped, unfinished ones resume from "
                             "their last checkpoint (the options must match the original run)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config value by its dotted key, e.g. --set gan.steps=200 "
                             "(repeatable; unknown keys and wrong types are rejected; see `list config`)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Resolves defaults → profile → flags → ``--set`` (``--set`` wins), validating each step."""
    overrides: dict[str, object] = {}
    for flag in ("models", "tasks", "seeds", "device"):
        value = getattr(args, flag)
        if value is not None:
            overrides[flag] = value
    if args.no_progress:
        overrides["progress"] = "false"
    overrides.update(parse_set_arguments(args.overrides))
    return resolve_config(args.profile, overrides)


def out_dir(args: argparse.Namespace, config: RunConfig) -> Path:
    """``--out`` or a fresh ``runs/<profile>-<timestamp>``."""
    return args.out or Path("runs") / f"{config.profile}-{time.strftime('%Y%m%d-%H%M%S')}"
