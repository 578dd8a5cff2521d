"""Every metric ``evaluate`` runs on folders, by name.

The judge-scored protocols are registered here; the image metrics of ``metrics.registry`` (``parzen``, ``fidelity``,
``psnr``, ``psnr_ssim``) run through ``harness.evaluate_folders`` (``harness.folder_eval.command.image_metric``).
``score(request)`` returns the values as ``Scored`` groups (values, image count, provenance) for printing or for
``--into`` (``harness.folder_eval.into``).
"""

from __future__ import annotations

from collections.abc import Callable

from harness.core.errors import HarnessError
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


def score(request: FolderRequest) -> list[Scored]:
    """Runs a judge-scored folder protocol (``FOLDER_PROTOCOLS``)."""
    if request.metric not in FOLDER_PROTOCOLS:
        raise HarnessError(f"--metric {request.metric}: not a folder protocol; folder metrics: "
                           f"{', '.join(folder_metrics())}")
    return FOLDER_PROTOCOLS.get(request.metric)(request)
