"""Command-line entry point: ``python -m harness.run COMMAND``, one of the subcommands built below.

Commands: list, suite, train, evaluate, report, baseline, check, references, judges, study.

Exit codes: 0 success; 1 a regression found by ``check``; 2 unusable input or environment (unknown name, bad
option, value out of range, missing or corrupt file, full disk, unwritable --out, a run in use, a training job that
diverged) with one line naming the thing and what was expected; 3 an internal error (a bug in the harness: one
line on screen, the traceback in the run's harness.log or, outside a run, in a file the line names); 130
interrupted (Ctrl-C), 143 terminated (SIGTERM): finished jobs and the last checkpoints are kept.
"""

from __future__ import annotations

import argparse
import errno
import logging
import signal
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from harness import commands
from harness.cli_common import add_plugin_option, add_run_options, add_threads_option
from harness.config import PROFILES
from harness.core.errors import ENVIRONMENT_ERRNOS, DiskFull, HarnessError
from harness.core.logs import LOG_FORMAT, SCREEN_DATE_FORMAT
from harness.pinned_judges import add_judges_parser
from harness.study.cli import add_study_parser

log = logging.getLogger("harness")
EXIT_OK, EXIT_REGRESSION, EXIT_INPUT, EXIT_INTERNAL, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 3, 130, 143


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block)."""

    def error(self, message: str) -> NoReturn:
        """Prints ``error: <message> (see --help)`` and exits 2."""
        self.exit(EXIT_INPUT, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that ``finally`` blocks run (temporary files are removed)."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand and its documented options."""
    parser = Parser(prog="python -m harness.run", description=__doc__,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
                        help="logging level (default INFO)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    p = sub.add_parser("list", help="list models, tasks, metrics, profiles or config keys")
    p.add_argument("what", nargs="?", default="all",
                   choices=("all", "models", "tasks", "metrics", "profiles", "config"),
                   help="what to list (default: all but config)")
    add_plugin_option(p)
    p.add_argument("--profile", default="smoke", choices=PROFILES,
                   help="list config: the values at this profile (default smoke, what suite runs without --profile)")

    p = sub.add_parser("suite", help="train, evaluate and report every selected (model, task, seed)")
    add_run_options(p)
    p.add_argument("--no-report", action="store_true", help="skip the report step")
    p.add_argument("--save-outputs", action="store_true", help="write what every evaluated job scores under "
                   "<run>/outputs/<task>/: each model's test outputs as 8-bit PNGs (<model>__s<seed>/) and the test "
                   "inputs and ground truth (_reference/), so `evaluate` gives the same numbers on them and your "
                   "own method can translate the same inputs")

    p = sub.add_parser("train", help="train every selected (model, task, seed) without evaluating")
    add_run_options(p)

    p = sub.add_parser("evaluate", help="evaluate a run's trained jobs, or score a folder of images with one metric")
    p.add_argument("--run", type=Path, help="run directory whose jobs without results to evaluate (with its saved "
                   "config; a job not yet trained is trained first)")
    p.add_argument("--metric", help="metric name for folder evaluation (see `list metrics`; aliases fid, kid, fcn, "
                   "ssim): fcn_score, classifier_accuracy, expression_error, transfer_accuracy, identity, fidelity, "
                   "parzen, psnr, psnr_ssim")
    p.add_argument("--pred", type=Path, help="folder of images to score (generated / translated / super-resolved); "
                   "one size per folder, at most 8192x8192 pixels per image, 16-bit read at full precision, alpha "
                   "dropped (not composited); class metrics: a sub-folder per target, or --targets")
    p.add_argument("--target", type=Path, help="folder of reference images, where the metric needs them; paired "
                   "metrics (psnr, psnr_ssim, identity) match --pred and --target files by name without suffix")
    p.add_argument("--labels", type=Path, help="fcn_score: ground-truth label maps (Cityscapes *_gtFine_labelIds.png "
                   "or trainId maps), matched to --pred by name (tails such as _leftImg8bit/_gtFine_labelIds ignored)")
    p.add_argument("--label-format", default="auto", choices=("auto", "labelIds", "trainIds"),
                   help="fcn_score: how --labels are coded (auto: from the _labelIds/_trainIds file-name tails)")
    p.add_argument("--direction", default="labels2photo", choices=("labels2photo", "photo2labels"),
                   help="fcn_score: --pred holds generated photos (labels2photo, segmented by the judge) or "
                        "generated label-colour images (photo2labels, mapped by the nearest palette colour)")
    p.add_argument("--targets", type=Path, help="class metrics: CSV with columns file,target (instead of a "
                   "sub-folder of --pred per target)")
    p.add_argument("--judge", help="the judge: fcn_score: harness (the run's segmenter, the default) or fcn8s (the "
                   "papers' FCN-8s; --weights fcn-8s-cityscapes.caffemodel); classifier_accuracy: digits; "
                   "expression_error: face_expression; transfer_accuracy: face_attributes; identity: face_identity")
    p.add_argument("--dataset", choices=("celeba", "rafd"), help="identity: the faces dataset of the images")
    p.add_argument("--context", type=Path, metavar="RUN", help="score with the task and judges of this run without "
                   "adding rows (--into adds them)")
    p.add_argument("--into", type=Path, metavar="RUN", help="add the rows to this run (atomically, under its lock), "
                   "named --as, with the folders' provenance; then `report` shows the method beside the others")
    p.add_argument("--as", dest="as_name", metavar="NAME", help="--into: your method's name in the run's tables")
    p.add_argument("--setting", choices=("paired", "unpaired", "unconditional"),
                   help="--into: how the method was trained (the report ranks methods within a setting)")
    p.add_argument("--task", help="--into/--context: the run's task the images belong to (when it has several)")
    p.add_argument("--feature-extractor", default=None, choices=("inception", "digits"),
                   help="fidelity: features for FID/KID/precision-recall, inception (default; needs --weights) or "
                        "digits (the harness's committed digit classifier of the standard profile)")
    p.add_argument("--weights", type=Path, help="local weights file a metric needs (torch-fidelity's "
                   "weights-inception-2015-12-05-6726825d.pth, checked by sha256; fcn-8s-cityscapes.caffemodel for "
                   "--judge fcn8s, read without Caffe); never downloaded")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument("--seed", type=int, default=None, help="fidelity: seed of the KID subsets (default 0); with --into, "
                   "the rows' seed (default 0; one folder per seed fills the seeds the report's tests need)")
    p.add_argument("--scale", type=int, help="psnr_ssim: the integer super-resolution factor; that many pixels are "
                   "cropped from every border and HR images are cropped to multiples of it")
    p.add_argument("--y-channel", action="store_true", help="psnr_ssim: score the BT.601 Y channel (MATLAB "
                   "rgb2ycbcr), as the SR papers do, instead of R, G, B")
    p.add_argument("--json", action="store_true", help="print the result as strict JSON: a non-finite value (PSNR "
                   "of identical images is inf) is null, and a \"nonfinite\" object maps its key to \"inf\", "
                   "\"-inf\" or \"nan\"")
    add_threads_option(p)
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")

    p = sub.add_parser("report", help="(re)build summary.csv, plots/ and report.html of a run")
    p.add_argument("--run", type=Path, required=True, help="run directory")

    p = sub.add_parser("baseline", help="record a regression baseline from a run (ideally several seeds), or from "
                       "several runs pooled (each made on another CPU kind)")
    p.add_argument("--run", type=Path, required=True, action="append",
                   help="run directory; repeat to pool runs made on different CPU kinds, each (run, seed) one draw")
    p.add_argument("--out", type=Path, required=True, help="baseline JSON file to write")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--tolerance", type=float, default=None,
                     help="absolute tolerance for every metric (default: derived from the spread across seeds)")
    how.add_argument("--add-to", type=Path, default=None, metavar="BASELINE",
                     help="a committed baseline to widen with the runs' draws (runs made on another CPU kind); "
                     "--out may name the same file")

    p = sub.add_parser("check", help="compare a run with a baseline: exit 0 ok, 1 regression, 2 unusable input")
    p.add_argument("--run", type=Path, required=True, help="run directory")
    p.add_argument("--baseline", type=Path, required=True, help="baseline JSON written by `baseline`")

    p = sub.add_parser("references", help="make or list reference sets: a run's reference-model rows that later runs "
                       "show with --references instead of training them")
    action = p.add_subparsers(dest="action", required=True, metavar="ACTION", parser_class=Parser)
    q = action.add_parser("make", help="write <profile>/<task>.json for every task of a finished run")
    q.add_argument("--run", type=Path, required=True, help="finished run directory (its built-in models' rows, "
                   "manifest, data hashes and evaluation protocol strings go into the sets)")
    q.add_argument("--out", type=Path, default=None, help="folder for the sets (default: the committed sets, "
                   "harness/reference_sets)")
    q.add_argument("--tasks", default=None, help="comma-separated tasks (default: every task of the run)")
    q = action.add_parser("list", help="list the reference sets of a folder")
    q.add_argument("--references", default="committed", metavar="committed|DIR",
                   help="committed (default) or a folder of sets")

    add_judges_parser(sub)
    add_study_parser(sub)
    return parser


def _crash_log(args: argparse.Namespace) -> Path:
    """Where an internal error outside a run writes its traceback: ``--run``'s harness.log, else a temp file."""
    run = getattr(args, "run", None)
    if isinstance(run, Path) and (run / "config.json").is_file():
        return run / "harness.log"
    return Path(tempfile.gettempdir()) / f"gan-harness-error-{time.strftime('%Y%m%d-%H%M%S')}.log"


def _internal_error(exc: BaseException, args: argparse.Namespace) -> int:
    from harness.rundir import RunCrashed  # already imported when a run crashed

    if isinstance(exc, RunCrashed):
        cause, path = exc.cause, exc.log_path
    else:
        cause, path = exc, _crash_log(args)
        try:
            with open(path, "a", encoding="utf-8") as handle:
                handle.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        except OSError:
            path = None
    where = f"the traceback is in {path}" if path else "the traceback could not be written"
    print(f"internal error (a bug in the harness, not your input): {type(cause).__name__}: {cause}; {where}",
          file=sys.stderr)
    return EXIT_INTERNAL


def _environment_error(exc: OSError, args: argparse.Namespace) -> str:
    name = f" {exc.filename}" if exc.filename else ""
    hint = (f"free some space, then {commands.retry_hint(args)}" if exc.errno in (errno.ENOSPC, errno.EDQUOT)
            else "choose a writable location")
    return f"error: cannot write{name}: {exc.strerror}; {hint}"


def _on_sigterm(signum: int, frame: object) -> NoReturn:
    raise Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the CLI and returns the exit code."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2, one line already printed)
        return exc.code if isinstance(exc.code, int) else EXIT_INPUT
    logging.basicConfig(level=args.log_level, format=LOG_FORMAT, datefmt=SCREEN_DATE_FORMAT)
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if _main_thread() else None
    try:
        return commands.dispatch(args)
    except HarnessError as exc:
        advice = f"; free some space, then {commands.retry_hint(args)}" if isinstance(exc, DiskFull) else ""
        print(f"error: {exc}{advice}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt as exc:
        print(f"{'terminated' if isinstance(exc, Terminated) else 'interrupted'}: {commands.kept_note(args)}"
              f"{commands.retry_hint(args)}", file=sys.stderr)
        return EXIT_TERMINATED if isinstance(exc, Terminated) else EXIT_INTERRUPTED
    except OSError as exc:
        if exc.errno not in ENVIRONMENT_ERRNOS:
            return _internal_error(exc, args)
        print(_environment_error(exc, args), file=sys.stderr)
        return EXIT_INPUT
    except Exception as exc:  # noqa: BLE001 - every other error is a bug: one line here, the traceback in a file
        return _internal_error(exc, args)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


if __name__ == "__main__":
    sys.exit(main())
