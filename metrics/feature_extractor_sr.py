"""A torch-fidelity feature extractor around the harness's SR feature network (FID/KID of super-resolved images).

On embedded SR tasks there are no Inception weights, so FID/KID use the harness's own SR feature network
(``metrics.judges.sr_features``, the instance trained for scoring, not the one SRGAN's content loss uses): the
spatial mean of its deepest stage. Values are comparable between runs with the same network (its sha256 goes into
provenance), not with Inception FID.
"""

from __future__ import annotations

import torch
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from harness.core.errors import HarnessError
from metrics.judges.sr_features import FEATURE_DIM, load_sr_features_file

SR_EXTRACTOR = "harness-sr-features"  # torch-fidelity registry name


class FeatureExtractorSR(FeatureExtractorBase):
    """torch-fidelity extractor: uint8 ``(N, 3, H, W)`` → pooled SR features ``(N, FEATURE_DIM)`` float32.

    Args:
        name: Registry name.
        features_list: Requested layers (only ``str(FEATURE_DIM)``).
        feature_extractor_weights_path: A file written by ``load_or_train_sr_features``.
    """

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None,
                 **_ignored: object) -> None:  # torch-fidelity passes every calculate_metrics option
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise HarnessError("fidelity: the 'sr' feature extractor needs the SR feature network file as weights")
        self.judge = load_sr_features_file(feature_extractor_weights_path)
        self.judge.requires_grad_(False)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        """The one feature layer."""
        return (str(FEATURE_DIM),)

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        """Every distribution metric uses the pooled deepest stage."""
        return str(FEATURE_DIM)

    @staticmethod
    def can_be_compiled() -> bool:
        """Not worth compiling."""
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        """Unused (not compiled)."""
        return torch.zeros(1, 3, 32, 32, dtype=torch.uint8)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Uint8 ``(N, 3, H, W)`` → ``(features (N, FEATURE_DIM),)``."""
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected uint8 (N, 3, H, W) images, got {x.dtype} {tuple(x.shape)}")
        return (self.judge.pooled(x.float() / 255.0),)


if SR_EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor(SR_EXTRACTOR, FeatureExtractorSR)
