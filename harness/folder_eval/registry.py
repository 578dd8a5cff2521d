"""Every metric ``evaluate`` runs on folders, by name.

The judge-scored protocols are registered here; the image metrics of ``metrics.registry`` (``parzen``, ``fidelity``,
``psnr``, ``psnr_ssim``) run through ``harness.evaluate_folders``.

``score(request)`` returns the values as ``Scored`` groups (values, image count, provenance) for printing or for
``--into`` (``harness.folder_eval.into``). With ``--into``, the image metrics' keys become the suite's row names where
the suite has them (``psnr_ssim`` with ``--y-channel``: ``y_psnr``, ``y_ssim``; without: ``rgb_psnr``, ``rgb_ssim``).
"""

from __future__ import annotations

from collections.abc import Callable

from harness.core.errors import HarnessError
from harness.core.image_files import scan_image_dir
from harness.core.registry import Registry
from harness.folder_eval.context import FolderRequest, Scored
from harness.folder_eval.fcn import fcn_on_folders
from harness.folder_eval.judged import (
    classifier_accuracy_on_folders,
    expression_error_on_folders,
    identity_on_folders,
    transfer_accuracy_on_folders,
)
from metrics.registry import METRICS

FolderProtocol = Callable[[FolderRequest], list[Scored]]
FOLDER_PROTOCOLS: Registry[FolderProtocol] = Registry("folder metric")
for _name, _run in (("fcn_score", fcn_on_folders), ("classifier_accuracy", classifier_accuracy_on_folders),
                    ("expression_error", expression_error_on_folders),
                    ("transfer_accuracy", transfer_accuracy_on_folders), ("identity", identity_on_folders)):
    FOLDER_PROTOCOLS.add(_name, _run)


def folder_metrics() -> list[str]:
    """Every metric name ``evaluate --metric`` accepts on folders (aliases aside)."""
    return [*FOLDER_PROTOCOLS.names(), *(n for n, s in METRICS.items() if s.on_folders is not None)]


def image_metric(request: FolderRequest, *, feature_extractor: str, scale: int | None, y_channel: bool,
                 ) -> tuple[dict[str, float], list[Scored]]:
    """A ``metrics.registry`` folder metric: its printed values and the ``Scored`` rows ``--into`` writes."""
    from harness.evaluate_folders import evaluate_folders

    values = evaluate_folders(metric=request.metric, pred=request.pred, target=request.target,
                              device=str(request.device), seed=request.seed, feature_extractor=feature_extractor,
                              weights=request.weights, progress=request.progress, scale=scale, y_channel=y_channel)
    renamed = dict(values)
    if request.metric == "psnr_ssim":
        prefix = "y" if y_channel else "rgb"
        renamed = {(f"{prefix}_{k}" if k in ("psnr", "ssim") else k): v for k, v in values.items()}
    protocol: dict[str, object] = {"protocol": request.metric, "implementation": METRICS.get(request.metric).paper}
    if request.metric == "psnr_ssim":
        protocol |= {"crop_border": scale or 0, "y": "BT.601 Y" if y_channel else "RGB"}
    if request.metric == "fidelity":
        protocol |= {"feature_extractor": feature_extractor}
    return values, [Scored(renamed, len(scan_image_dir(request.pred, "--pred")[0]), protocol)]


def score(request: FolderRequest) -> list[Scored]:
    """Runs a judge-scored folder protocol (``FOLDER_PROTOCOLS``)."""
    if request.metric not in FOLDER_PROTOCOLS:
        raise HarnessError(f"--metric {request.metric}: not a folder protocol; folder metrics: "
                           f"{', '.join(folder_metrics())}")
    return FOLDER_PROTOCOLS.get(request.metric)(request)
