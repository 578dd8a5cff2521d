"""torch-fidelity's Inception-v3 (TF-FID compatible), loaded without unpickling code from the user's file.

torch-fidelity 0.4's ``FeatureExtractorInceptionV3`` reads a local weights file with ``torch.load(...,
weights_only=False)``, which runs any code a pickle carries; the harness's only guard before this module was the
8-hex-digit sha256 prefix in the file name (32 bits, forgeable). This subclass reads the file itself with
``weights_only=True`` (tensors and containers only), checks that it is a flat state dict of tensors, re-serialises
those tensors into memory and hands that buffer to torch-fidelity's constructor: what torch-fidelity unpickles is
then only what the harness wrote. The network, the resize and every feature are torch-fidelity's own.
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

from harness.core.errors import HarnessError
from harness.core.user_weights import load_user_state_dict

SAFE_INCEPTION_EXTRACTOR = "harness-inception-v3-compat"  # torch-fidelity registry name


def load_inception_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Reads an Inception weights file with ``weights_only=True``; anything but a state dict is an error.

    Raises:
        HarnessError: Unreadable file, a pickle with code in it, or not a ``{name: tensor}`` dict; names the file.
    """
    return load_user_state_dict(path, "fidelity: Inception weights file",
                                "torch-fidelity's Inception state dict file")


class FeatureExtractorInceptionSafe(FeatureExtractorInceptionV3):
    """torch-fidelity's ``inception-v3-compat`` whose weights are read with ``weights_only=True``.

    Args:
        name: Registry name.
        features_list: Requested layers (``"64"``, ``"192"``, ``"768"``, ``"2048"``, ``"logits_unbiased"``,
            ``"logits"``).
        feature_extractor_weights_path: The local weights file (never downloaded: None is an error).
        feature_extractor_internal_dtype: ``"float32"`` (default) or ``"float64"``, as torch-fidelity.
        **kwargs: torch-fidelity passes every ``calculate_metrics`` option; its base class reads ``verbose``.
    """

    def __init__(self, name: str, features_list: list[str], feature_extractor_weights_path: str | None = None,
                 feature_extractor_internal_dtype: str | None = None, **kwargs: object) -> None:
        if feature_extractor_weights_path is None:
            raise HarnessError("fidelity: the Inception extractor needs a local weights file; nothing is downloaded")
        buffer = io.BytesIO()
        torch.save(load_inception_state_dict(feature_extractor_weights_path), buffer)
        buffer.seek(0)
        super().__init__(name, features_list, feature_extractor_weights_path=buffer,
                         feature_extractor_internal_dtype=feature_extractor_internal_dtype, **kwargs)


if SAFE_INCEPTION_EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:  # module reloads must not register twice
    register_feature_extractor(SAFE_INCEPTION_EXTRACTOR, FeatureExtractorInceptionSafe)
