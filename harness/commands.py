"""The subcommands behind ``harness.run``; each returns an exit code.

Heavy modules (torch, the registries, metric libraries) are imported inside the command that needs them, so
``--help`` and ``list profiles`` start in well under a second.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cli_common import config_from_args, executor_options, out_dir
from harness.config import PROFILES
from harness.core.errors import HarnessError

if TYPE_CHECKING:
    from harness.run_config import RunConfig

log = logging.getLogger("harness")


def _list_plugins(what: str, sources: list[str]) -> None:
    """Loads the installed entry points and ``--plugin`` sources for the lists that show models or config keys."""
    if what in ("all", "models", "config"):
        from harness.plugins import load_plugins

        load_plugins(sources, entry_points=True)


def _list(what: str, profile: str = "smoke") -> int:
    if what in ("all", "models"):
        from harness.models import MODELS
        from harness.plugins import plugin_of

        print("models:")
        for name, spec in MODELS.items():
            variant = f" [{spec.variant}]" if spec.variant else ""
            plugin = f" (plugin {plugin_of(name).source})" if plugin_of(name) else ""  # type: ignore[union-attr]
            print(f"  {name:<24} {spec.setting:<13} tasks: {', '.join(spec.protocols)}{variant} — {spec.paper}{plugin}")
    if what in ("all", "tasks"):
        from harness.tasks import TASKS

        print("tasks:")
        for name, spec in TASKS.items():
            print(f"  {name:<24} {spec.description}")
    if what in ("all", "metrics"):
        from metrics.registry import METRICS

        print("metrics:")
        from harness.folder_eval.registry import folder_metrics
        from metrics.registry import ALIASES

        on_folders = folder_metrics()
        for name, spec in METRICS.items():
            aliases = [a for a, n in ALIASES.items() if n == name]
            folders = ("folders" if name in on_folders else "in-suite only") + (
                f"; alias {', '.join(aliases)}" if aliases else "")
            print(f"  {name:<24} {', '.join(spec.outputs)} ({folders}) — {spec.paper}")
    if what in ("all", "profiles"):
        print(f"profiles: {', '.join(PROFILES)}")
    if what == "config":
        from harness.config import flatten
        from harness.run_config import plugin_sections, resolve_config
        from harness.sections import followed_keys

        config = resolve_config(profile, {})
        follows = {f"{name}.{key}": f"{spec.follows}.{key}" for name, spec in plugin_sections().items()
                   if spec.follows for key in followed_keys(spec, getattr(config, spec.follows))}
        print(f"config at --profile {profile} (the defaults with harness/profiles/{profile}.json applied; "
              f"`list config --profile NAME` for another profile, `--set KEY=VALUE` changes one):")
        for key, value in flatten(config).items():
            note = f"  # follows {follows[key]} unless set" if key in follows else ""
            print(f"  {key} = {value!r}{note}")
    return 0


def retry_hint(args: argparse.Namespace) -> str:
    """What to run after a full disk or an interruption: true for the command and for what it left behind.

    A ``suite``/``train`` run that kept its folder (a job had written something) continues with ``--resume`` on
    that folder (``_suite`` records a generated ``--out`` in ``args``); ``evaluate --run`` resumes by itself; every
    other command writes its outputs whole or not at all, so running it again is all there is to do.
    """
    out = getattr(args, "out", None)
    if args.command in ("suite", "train") and out is not None and (Path(out) / "config.json").is_file():
        return f"continue the run with --out {out} --resume"
    if args.command == "evaluate" and getattr(args, "run", None) is not None:
        return "run the same command again (it continues from the finished jobs)"
    return "run the same command again"


def kept_note(args: argparse.Namespace) -> str:
    """What an interrupted command kept, for the interruption message (empty where nothing is worth saying)."""
    if args.command in ("suite", "train") or (args.command == "evaluate" and getattr(args, "run", None)):
        return "finished jobs and the last checkpoints are kept; "
    return ""


def _failed(failed: dict[str, str], total: int) -> HarnessError:
    return HarnessError(f"{len(failed)} of {total} jobs failed (the others' results are kept): "
                        + " | ".join(failed.values()))


def _suite(args: argparse.Namespace, train_only: bool) -> int:
    from harness.suite import run_suite

    config = config_from_args(args)
    args.out = out_dir(args, config)  # a generated runs/<profile>-<time>, named in any advice to --resume it
    result = run_suite(config, args.out, resume=args.resume, train_only=train_only,
                       threads=args.threads, requested_workers=args.workers, executor=executor_options(args),
                       save_outputs=getattr(args, "save_outputs", False))
    if not train_only and config.study.simulate:
        _simulated_study(result.run.path, config)
    print(f"metrics: {result.run.metrics_path}")
    if not train_only:
        _print_reference_sets(result.run.manifest_path)
    if not train_only and not args.no_report:
        _report(result.run.path)
    if result.failed:  # last, after the study and the (incomplete) report of what did finish
        raise _failed(result.failed, len(json.loads(result.run.manifest_path.read_text())["planned_jobs"]))
    return 0


def _print_reference_sets(manifest_path: Path) -> None:
    from reports.summary import reference_set_notes

    for line in reference_set_notes(json.loads(manifest_path.read_text())):
        print(line)


def _simulated_study(run_dir: Path, config: RunConfig) -> None:
    """The simulated human-study tables of the suite's methods (``--set study.simulate=false`` skips them).

    A run without a trained model job (every one diverged) has nothing to show: the step is skipped with a note, and
    the suite goes on to its report and its error naming the failed jobs.
    """
    from harness.run_lock import locked_run
    from harness.study.run_study import model_jobs, simulate_run

    with locked_run(run_dir):
        manifest = json.loads((run_dir / "manifest.json").read_text())
        if not model_jobs(manifest):
            print("study (simulated): skipped, no trained model job in this run")
            return
        result = simulate_run(run_dir, config, manifest)
    print(f"study (simulated): {result.study_dir} ({result.wall_time_s:.1f} s)")


def _report(run_dir: Path) -> int:
    from harness.run_lock import locked_run
    from reports.build import build_report

    with locked_run(run_dir):
        paths = build_report(run_dir)
    print(f"report: {paths.report_html}\nsummary: {paths.summary_csv} and {paths.summary_md.name}\n"
          f"comparisons: {paths.comparisons_csv}\npaired vs unpaired: {paths.paired_csv}\nplots: {paths.plots_dir}")
    if paths.missing_jobs:
        print(f"report INCOMPLETE: {len(paths.missing_jobs)} planned job(s) without results: "
              f"{', '.join(paths.missing_jobs)}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    if args.run is not None:
        given = [flag for flag, value in (("--metric", args.metric), ("--pred", args.pred), ("--target", args.target),
                                          *_folder_flags(args)) if value]
        if given:
            raise HarnessError(f"evaluate --run scores a run's jobs; {', '.join(given)} is for folder evaluation "
                               "(--metric NAME --pred DIR): give either --run DIR or those options, not both")
        return _evaluate_run(args.run, args.threads)
    if not args.metric or not args.pred:
        raise HarnessError("evaluate: expected --run DIR, or --metric NAME --pred DIR [--target DIR]")
    import torch

    from harness.core.device import choose_threads, resolve_device
    from harness.folder_eval.command import evaluate_folder_command

    torch.set_num_threads(choose_threads(args.threads, resolve_device(args.device)).threads)
    result, metrics_path = evaluate_folder_command(args)
    print(format_result(result, args.json))
    if metrics_path is not None:
        print(f"rows added to {metrics_path}; rebuild the report: python -m harness.run report --run {args.into}",
              file=sys.stderr if args.json else sys.stdout)  # --json keeps stdout strict JSON
    return 0


def _folder_flags(args: argparse.Namespace) -> list[tuple[str, object]]:
    """``(flag, value)`` of the folder options of ``evaluate``; a value is None / False when the flag was not given."""
    return [("--feature-extractor", args.feature_extractor), ("--weights", args.weights),
            ("--seed", args.seed is not None), ("--scale", args.scale is not None), ("--y-channel", args.y_channel),
            ("--labels", args.labels), ("--targets", args.targets), ("--judge", args.judge),
            ("--dataset", args.dataset), ("--context", args.context), ("--into", args.into),
            ("--as", args.as_name), ("--setting", args.setting), ("--task", args.task)]


def _evaluate_run(run_dir: Path, threads: int | None) -> int:
    from harness.plugins import load_saved_config
    from harness.suite import run_suite

    path = run_dir / "config.json"
    if not path.is_file():
        raise HarnessError(f"--run {str(run_dir)!r}: no config.json there (expected a run directory)")
    result = run_suite(load_saved_config(path), run_dir, resume=True, threads=threads, option="--run")
    print(f"metrics: {result.run.metrics_path}")
    _print_reference_sets(result.run.manifest_path)
    if result.failed:
        raise _failed(result.failed, len(json.loads(result.run.manifest_path.read_text())["planned_jobs"]))
    return 0


def _baseline(args: argparse.Namespace) -> int:
    from harness.core.atomic import write_json
    from harness.run_lock import locked_run
    from reports.baseline import write_baseline
    from reports.baseline_extend import extend_baseline

    with contextlib.ExitStack() as held:
        for run in dict.fromkeys(Path(path).resolve() for path in args.run):  # one named twice: write_baseline says so
            held.enter_context(locked_run(run))
        if args.add_to is not None:
            baseline = extend_baseline(args.add_to, args.run)
            write_json(args.out, baseline)
        else:
            baseline = write_baseline(args.run, args.out, tolerance=args.tolerance)
    print(f"baseline: {args.out} ({len(baseline['entries'])} metrics from {len(baseline['draws'])} draws, seeds "
          f"{baseline['seeds']})")
    return 0


def _check(args: argparse.Namespace) -> int:
    from reports.check import check_run, format_check_table

    result = check_run(args.run, args.baseline)
    print(format_check_table(result))
    return result.exit_code


def _references(args: argparse.Namespace) -> int:
    from harness.reference_sets import committed_dir, describe, load_set, make_sets, sets_dir

    if args.action == "make":
        tasks = tuple(t.strip() for t in (args.tasks or "").split(",") if t.strip())
        for path in make_sets(args.run, args.out or committed_dir(), tasks):
            print(f"reference set: {path} ({describe(load_set(path))})")
        return 0
    folder = sets_dir(args.references)
    paths = sorted(folder.glob("*/*.json"))
    print(f"reference sets in {folder}:" if paths else f"no reference sets in {folder}")
    for path in paths:
        print(f"  {path.parent.name}/{path.stem}: {describe(load_set(path))}")
    return 0


def format_result(result: dict[str, float], as_json: bool) -> str:
    """A metric result as strict JSON or as aligned ``key  value`` lines.

    JSON has no inf/NaN: a non-finite value is written as ``null`` and named, as a string, in a ``"nonfinite"``
    object (``{"psnr": null, "nonfinite": {"psnr": "inf"}}``); the field is present only when needed.
    """
    if as_json:
        nonfinite = {k: str(v) for k, v in result.items() if isinstance(v, float) and not math.isfinite(v)}
        values = {k: (None if k in nonfinite else v) for k, v in result.items()}
        return json.dumps({**values, **({"nonfinite": nonfinite} if nonfinite else {})}, allow_nan=False)
    width = max(map(len, result), default=0)
    return "\n".join(f"{k:<{width}}  {v:.6g}" for k, v in result.items())


def dispatch(args: argparse.Namespace) -> int:
    """Runs the chosen subcommand."""
    if args.command == "list":
        _list_plugins(args.what, args.plugin)
        return _list(args.what, args.profile)
    if args.command in ("suite", "train"):
        return _suite(args, train_only=args.command == "train")
    if args.command == "evaluate":
        return _evaluate(args)
    if args.command == "report":
        return _report(args.run)
    if args.command == "baseline":
        return _baseline(args)
    if args.command == "check":
        return _check(args)
    if args.command == "references":
        return _references(args)
    if args.command == "judges":
        from harness.pinned_judges import judges_command

        return judges_command(args)
    if args.command == "study":
        from harness.study.cli import run_study

        return run_study(args)
    raise HarnessError(f"unknown command {args.command!r}")
