"""A torch-fidelity feature extractor around the harness's segmentation judge (FID/KID of generated photos).

On embedded tasks there are no Inception weights, so FID/KID of generated photos use the same judge that scores
them for the FCN-score: spatial means of its two deepest encoder stages (``Segmenter.features``). Values are
comparable between runs that used the same judge checkpoint (its sha256 goes into provenance), not with
Inception FID.
"""

from __future__ import annotations

import torch
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from harness.core.errors import HarnessError
from metrics.judges.segmenter import WIDTH, load_segmenter_file

SEGMENTER_EXTRACTOR = "harness-segmenter"  # torch-fidelity registry name
SEGMENTER_FEATURE_DIM = 6 * WIDTH  # width of Segmenter.features


class FeatureExtractorSegmenter(FeatureExtractorBase):
    """torch-fidelity extractor: uint8 ``(N, 3, H, W)`` → segmenter features ``(N, 6 * WIDTH)`` float32.

    Args:
        name: Registry name.
        features_list: Requested layers (only ``str(SEGMENTER_FEATURE_DIM)``).
        feature_extractor_weights_path: A segmenter file written by ``load_or_train_segmenter``.
    """

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None,
                 **_ignored: object) -> None:  # torch-fidelity passes every calculate_metrics option
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise HarnessError("fidelity: the 'segmenter' feature extractor needs the segmenter judge file as weights")
        self.judge = load_segmenter_file(feature_extractor_weights_path)
        self.judge.requires_grad_(False)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        """The one feature layer."""
        return (str(SEGMENTER_FEATURE_DIM),)

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        """Every distribution metric uses the pooled encoder features."""
        return str(SEGMENTER_FEATURE_DIM)

    @staticmethod
    def can_be_compiled() -> bool:
        """Not worth compiling."""
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        """Unused (not compiled)."""
        return torch.zeros(1, 3, 32, 32, dtype=torch.uint8)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Uint8 ``(N, 3, H, W)`` → ``(features (N, F),)``."""
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected uint8 (N, 3, H, W) images, got {x.dtype} {tuple(x.shape)}")
        return (self.judge.features(x.float() / 255.0),)


if SEGMENTER_EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor(SEGMENTER_EXTRACTOR, FeatureExtractorSegmenter)
