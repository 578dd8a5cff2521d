"""Options shared by the run-making subcommands (``suite``, ``train``), resolved into a RunConfig.

Importing this module imports no torch: ``--help`` stays fast; the config classes load when a command runs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness.config import PROFILES, parse_set_arguments
from harness.core.errors import HarnessError

if TYPE_CHECKING:
    from harness.run_config import RunConfig

# flags that set the config key of the same name
FLAG_KEYS = ("models", "tasks", "seeds", "device", "references", "precision")


def add_plugin_option(parser: argparse.ArgumentParser) -> None:
    """Adds ``--plugin`` (repeatable)."""
    parser.add_argument("--plugin", action="append", default=[], metavar="FILE.py|MODULE:ATTRIBUTE",
                        help="load a plugin model: a Python file (or module) whose HARNESS_MODELS holds ModelSpecs "
                             "(see examples/pix2pix_lsgan.py); repeatable. Installed entry points of the group "
                             "gan_harness.models load without it")


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    """Adds ``--threads``."""
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="torch intra-op CPU threads (default: chosen from the CPUs available to this process; "
                             "the choice is recorded in the run's manifest)")


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Adds the run options (--profile, --models, --tasks, --seeds, --device, --out, --resume, --set, ...).

    Also ``--references``, ``--plugin``, ``--threads``, ``--workers`` and ``--no-progress``.
    """
    parser.add_argument("--profile", default=None, choices=PROFILES,
                        help="scale: smoke (CPU minutes, the default), standard (meaningful numbers on the embedded "
                             "benchmark), paper (the papers' architectures and schedules; GPU)")
    parser.add_argument("--models", default=None, help="comma-separated model names (default: every model but the "
                        "ablation variants; see `list models`)")
    parser.add_argument("--tasks", default=None, help="comma-separated task names (default: every task the selected "
                        "models run on; see `list tasks`)")
    parser.add_argument("--seeds", default=None, help="comma-separated seeds, one job per seed (default: 0)")
    parser.add_argument("--device", default=None, help="auto (cuda if available, else cpu), cpu, cuda or cuda:N "
                        "(default: auto)")
    parser.add_argument("--precision", default=None, choices=("fp32", "bf16"),
                        help="training arithmetic: fp32 (default) or bf16 (autocast; networks channels-last on CUDA); "
                             "evaluation stays fp32 and bf16 rows say train_precision=bf16")
    parser.add_argument("--compile", action="store_true", default=None,
                        help="compile every network with torch.compile before training (a GPU lever: on a CPU it "
                             "measured slower); rows say train_compile=torch.compile")
    parser.add_argument("--out", type=Path, default=None,
                        help="run directory (default: runs/<profile>-<timestamp>)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out with its saved settings: finished jobs are skipped, "
                             "unfinished ones resume from their last checkpoint (an option that contradicts the "
                             "saved settings is an error, except --no-progress, --set checkpoint_every=N and --seeds "
                             "that add seeds to the run's)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config value by its dotted key, e.g. --set gan.steps=200 "
                             "(repeatable; unknown keys, wrong types and values out of range are rejected; see "
                             "`list config`)")
    parser.add_argument("--references", default=None, metavar="committed|DIR",
                        help="show reference sets beside this run's rows, without training their models: "
                             "'committed' (the sets shipped with the harness) or a folder of <profile>/<task>.json "
                             "sets written by `references make`; a task without a set is an error")
    add_plugin_option(parser)
    add_threads_option(parser)
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="jobs run at once, each in its own process (default: the available CPUs over the threads "
                             "per job on a CPU, one per GPU of --devices on GPUs, so 1 with --device cuda; more "
                             "than that share a GPU; recorded in the manifest)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    add_executor_options(parser)


def add_executor_options(parser: argparse.ArgumentParser) -> None:
    """Adds where jobs run: ``--devices`` (local), ``--executor`` and the Ray and Slurm options."""
    group = parser.add_argument_group("where jobs run (docs/ARCHITECTURE.md, README 'Many GPUs and machines')")
    group.add_argument("--devices", default=None, metavar="D1,D2,...",
                       help="local workers' devices, worker i on device i modulo the list (cuda:0,cuda:1: a GPU "
                            "each; a repeated device is shared); --workers defaults to one per entry")
    group.add_argument("--executor", default="local", choices=("local", "ray", "slurm"),
                       help="local processes (default), Ray tasks or Slurm jobs (submitit); each job writes its own "
                            "folder and --resume skips finished jobs whichever executor ran them")
    group.add_argument("--gpus-per-job", type=float, default=None, metavar="G",
                       help="ray/slurm: GPUs per job (default 1 with --device cuda, else 0; Ray takes fractions)")
    group.add_argument("--retries", type=int, default=0, metavar="N",
                       help="ray: retries of a job whose worker died; slurm: requeues after preemption or timeout "
                            "(a retry resumes from the job's checkpoint; default 0)")
    group.add_argument("--ray-address", default=None, metavar="ADDR",
                       help="ray: the cluster (auto, or ray://HOST:10001); default: start a local Ray instance")
    group.add_argument("--slurm-partition", default=None, metavar="P", help="slurm: partition")
    group.add_argument("--slurm-time-min", type=int, default=24 * 60, metavar="MIN",
                       help="slurm: time limit per job in minutes (default 1440)")
    group.add_argument("--slurm-cluster", default="slurm", choices=("slurm", "local"),
                       help="slurm: submit with sbatch (default) or to submitit's local executor (try it here)")
    group.add_argument("--slurm-setup", action="append", default=[], metavar="LINE",
                       help="slurm: a shell line each job runs first (repeatable), e.g. 'source .venv/bin/activate'")


def executor_options(args: argparse.Namespace) -> object:
    """The ``ExecutorOptions`` of the parsed flags (imported here: ``--help`` loads no torch)."""
    from harness.executors import ExecutorOptions
    from harness.remote_jobs import RemoteOptions

    remote = RemoteOptions(args.retries, args.ray_address, args.slurm_partition, args.slurm_time_min,
                           args.slurm_cluster, tuple(args.slurm_setup))
    return ExecutorOptions(args.executor, args.devices, args.gpus_per_job, remote)


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Resolves defaults → profile → flags → ``--set`` (``--set`` wins), validating each step.

    With ``--resume`` and a run in ``--out``, the run's saved ``config.json`` replaces defaults and profile (unless
    ``--profile`` is given); the flags and ``--set`` go on top, and ``RunDir.start`` refuses any that differ.
    Plugins: a fresh run loads the installed entry points and every ``--plugin``; a resumed one the plugins its
    config records (a ``--plugin`` must be among them).
    """
    from harness.plugins import load_plugins, load_saved_config, normalise
    from harness.run_config import resolve_config

    overrides: dict[str, object] = {flag: getattr(args, flag) for flag in FLAG_KEYS if getattr(args, flag) is not None}
    if args.no_progress:
        overrides["progress"] = "false"
    if args.compile:
        overrides["compile"] = "true"
    given = parse_set_arguments(args.overrides)
    if "plugins" in given:
        raise HarnessError("--set plugins: load plugin models with --plugin FILE.py (or MODULE:ATTRIBUTE)")
    overrides.update(given)
    saved = args.out / "config.json" if args.out is not None else None
    flags = {flag: f"--{flag}" for flag in FLAG_KEYS} | {"progress": "--no-progress", "plugins": "--plugin",
                                                         "compile": "--compile"}
    if args.resume and args.profile is None and saved is not None and saved.is_file():
        config = load_saved_config(saved, overrides, flags)
        for source in args.plugin:
            if normalise(source) not in config.plugins:
                raise HarnessError(f"--plugin {source}: the run in {str(args.out)!r} was made without it (its plugins: "
                                   f"{', '.join(config.plugins) or 'none'}); drop --plugin or choose another --out")
        return config
    overrides["plugins"] = load_plugins(args.plugin, entry_points=True)
    return resolve_config(args.profile or "smoke", overrides, flags)


def out_dir(args: argparse.Namespace, config: RunConfig) -> Path:
    """``--out`` or a fresh ``runs/<profile>-<timestamp>``."""
    return args.out or Path("runs") / f"{config.profile}-{time.strftime('%Y%m%d-%H%M%S')}"
