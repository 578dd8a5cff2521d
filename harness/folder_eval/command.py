"""``evaluate --metric NAME --pred DIR …``: score a folder, print the values, and with ``--into RUN`` add the rows.

Order of work, so that bad input leaves the run untouched: the options and ``--into``/``--as``/``--setting`` are
checked, the folders scored (every folder problem is an error here), and only then are the rows added under the run's
lock (``harness.folder_eval.into``).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from harness.core.device import resolve_device
from harness.core.errors import HarnessError
from harness.core.image_files import IMAGE_SUFFIXES, scan_image_dir
from harness.evaluate_folders import evaluate_folders
from harness.folder_eval.context import FolderRequest, Scored, bare_context, choose_task, run_tasks
from harness.folder_eval.inputs import folder_digest
from harness.folder_eval.into import add_rows, check_into
from harness.folder_eval.registry import FOLDER_PROTOCOLS, score
from metrics.registry import METRICS, canonical_metric

log = logging.getLogger(__name__)
PROTOCOL_TASKS = {"fcn_score": ("fcn_scenes",), "classifier_accuracy": ("digit_transfer",),
                  "expression_error": ("faces",), "transfer_accuracy": ("faces",), "identity": ("faces",),
                  "psnr_ssim": ("sr",)}  # the run protocols whose tasks a folder metric's rows belong to


def _images(folder: Path | None) -> list[Path]:
    if folder is None or not folder.is_dir():
        return []
    return [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]


def _source(request: FolderRequest) -> dict[str, object]:
    """Provenance of the folders: where they lay, how many files, a digest of their content."""
    outputs = _images(request.pred)
    source: dict[str, object] = {"outputs_folder": str(request.pred.resolve()), "outputs_files": len(outputs),
                                 "outputs_sha256": folder_digest(outputs)}
    reference = request.labels or request.target
    if reference is not None:
        files = _images(reference)
        source |= {"reference_folder": str(reference.resolve()), "reference_files": len(files),
                   "reference_sha256": folder_digest(files)}
    if request.targets is not None:
        source |= {"targets_file": str(request.targets.resolve()), "targets_sha256": folder_digest([request.targets])}
    return source


def _request(args: argparse.Namespace, metric: str) -> FolderRequest:
    run = args.into or args.context
    if args.into is not None and args.context is not None:
        raise HarnessError("evaluate: give --into RUN (add the rows) or --context RUN (score only), not both")
    return FolderRequest(metric=metric, pred=args.pred, target=args.target, labels=args.labels,
                         label_format=args.label_format, direction=args.direction, targets=args.targets,
                         judge=args.judge, weights=args.weights, dataset=args.dataset,
                         device=resolve_device(args.device), seed=0 if args.seed is None else args.seed, run=run,
                         task=args.task,
                         name=args.as_name or "folder", setting=args.setting or "", progress=not args.no_progress)


def image_metric(request: FolderRequest, *, feature_extractor: str | None, scale: int | None, y_channel: bool,
                 seed: int | None) -> tuple[dict[str, float], list[Scored]]:
    """A ``metrics.registry`` folder metric: its printed values and the ``Scored`` rows ``--into`` writes.

    With ``--into``, the keys become the suite's row names where the suite has them (``psnr_ssim`` with
    ``--y-channel``: ``y_psnr``, ``y_ssim``; without: ``rgb_psnr``, ``rgb_ssim``).
    """
    values = evaluate_folders(metric=request.metric, pred=request.pred, target=request.target,
                              device=str(request.device), seed=seed, feature_extractor=feature_extractor,
                              weights=request.weights, progress=request.progress, scale=scale, y_channel=y_channel)
    renamed = dict(values)
    if request.metric == "psnr_ssim":
        prefix = "y" if y_channel else "rgb"
        renamed = {(f"{prefix}_{k}" if k in ("psnr", "ssim") else k): v for k, v in values.items()}
    protocol: dict[str, object] = {"protocol": request.metric, "implementation": METRICS.get(request.metric).paper}
    if request.metric == "psnr_ssim":
        protocol |= {"crop_border": scale or 0, "y": "BT.601 Y" if y_channel else "RGB"}
    if request.metric == "fidelity":
        protocol |= {"feature_extractor": feature_extractor or "inception"}
    return values, [Scored(renamed, len(scan_image_dir(request.pred, "--pred")[0]), protocol)]


def evaluate_folder_command(args: argparse.Namespace) -> tuple[dict[str, float], Path | None]:
    """Runs ``evaluate`` on folders; returns the printed values and ``metrics.csv`` when rows were added."""
    metric = canonical_metric(args.metric)
    if args.into is not None:
        check_into(args.into, args.as_name, args.setting)
    elif args.as_name or args.setting:
        raise HarnessError("--as/--setting name the rows --into RUN adds; give --into RUN too")
    request = _request(args, metric)
    if metric in FOLDER_PROTOCOLS:
        unused = [flag for flag, value in (("--feature-extractor", args.feature_extractor), ("--y-channel",
                  args.y_channel), ("--scale", args.scale)) if value not in (None, False)]
        if unused:
            raise HarnessError(f"--metric {metric}: does not take {', '.join(unused)}; drop "
                               f"{'them' if len(unused) > 1 else 'it'}")
        scored = score(request)
        printed = {k: v for s in scored for k, v in s.values.items()}
    else:
        # with --into, --seed names the rows' seed: the metric reads it only if it takes one (KID subsets)
        takes_seed = "seed" in METRICS.get(metric).options
        printed, scored = image_metric(request, feature_extractor=args.feature_extractor, scale=args.scale,
                                       y_channel=args.y_channel,
                                       seed=args.seed if args.into is None or takes_seed else None)
    if args.into is None:
        return printed, None
    return printed, _add(request, scored)


def _add(request: FolderRequest, scored: list[Scored]) -> Path:
    assert request.run is not None
    protocols = PROTOCOL_TASKS.get(request.metric) or tuple(sorted(set(run_tasks(request.run).values())))
    task = choose_task(request.run, request.task, protocols, request.metric)
    ctx = bare_context(request, task)
    source = _source(request)
    rows = [row for group in scored for row in group.rows(ctx, source)]
    path = add_rows(request.run, request.name, request.setting, task, request.seed, rows, source)
    log.info("added %d rows of %s (seed %d) on %s to %s", len(rows), request.name, request.seed, task, path)
    return path
