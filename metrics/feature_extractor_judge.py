"""torch-fidelity feature extractors around the harness's judges (FID/KID/precision-recall without Inception).

One class serves every judge: ``register_judge_extractor(spec)`` registers a subclass bound to that ``JudgeSpec``
under ``"harness-<name>"`` (``"harness-digits"``, ``"harness-segmenter"``). torch-fidelity hands it uint8
``(N, 3, H, W)`` images and the judge's weights file (``feature_extractor_weights_path``); it returns the layers
``spec.features`` offers, the first being the default for every metric. Numbers are comparable only between runs
with the same judge weights (their sha256 goes into every row's provenance), never with Inception FID.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch_fidelity.feature_extractor_base import FeatureExtractorBase
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from harness.core.errors import HarnessError
from metrics.judges.base import JudgeSpec, load_judge_file
from metrics.judges.registry import JUDGES


class FeatureExtractorJudge(FeatureExtractorBase):
    """torch-fidelity extractor: uint8 ``(N, 3, H, W)`` → the bound judge's features, each float32 ``(N, F)``.

    torch-fidelity constructs it as ``cls(name, features_list, **all_calculate_metrics_options)``, so the signature
    accepts and ignores the options it does not use.

    Args:
        name: Registry name.
        features_list: Requested layers among ``spec.feature_layers``.
        feature_extractor_weights_path: The judge's weights file (written by ``save_judge``).
    """

    spec: ClassVar[JudgeSpec]

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None,
                 **_ignored: object) -> None:
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise HarnessError(f"fidelity: the {self.spec.name!r} feature extractor needs the judge's weights file")
        self.judge = load_judge_file(self.spec, feature_extractor_weights_path)
        self.judge.requires_grad_(False)

    @classmethod
    def get_provided_features_list(cls) -> tuple[str, ...]:
        """The judge's feature layers."""
        return cls.spec.feature_layers

    @classmethod
    def get_default_feature_layer_for_metric(cls, metric: str) -> str:
        """Every distribution metric uses the judge's first feature layer."""
        return cls.spec.feature_layers[0]

    @staticmethod
    def can_be_compiled() -> bool:
        """Not worth compiling at these sizes."""
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        """Unused (not compiled); a valid input for completeness."""
        return torch.zeros(1, 3, 32, 32, dtype=torch.uint8)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Uint8 ``(N, 3, H, W)`` → the requested layers, each float32 ``(N, F)``."""
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"expected uint8 (N, 3, H, W) images, got {x.dtype} {tuple(x.shape)}")
        features = self.spec.features(self.judge, x.float() / 255.0)
        return tuple(features[name] for name in self.features_list)


def extractor_name(spec: JudgeSpec) -> str:
    """The torch-fidelity registry name of a judge's extractor."""
    return f"harness-{spec.name}"


def register_judge_extractor(spec: JudgeSpec) -> str:
    """Registers (once) the extractor bound to ``spec`` and returns its torch-fidelity name."""
    name = extractor_name(spec)
    if name not in FEATURE_EXTRACTORS_REGISTRY:  # module reloads must not register twice
        cls = type(f"FeatureExtractorJudge_{spec.name}", (FeatureExtractorJudge,), {"spec": spec})
        register_feature_extractor(name, cls)
    return name


for _name, _spec in JUDGES.items():
    register_judge_extractor(_spec)
