"""Real images' FID/KID/PR features, computed once per image set and extractor and reused by every job.

Every model's job of a task and seed scores its outputs against the same real images with the same judge, so the
real side's features are the same tensors in each; ``fidelity_metrics`` takes them from the harness cache
(``cache_root()/fidelity``) when an earlier job (any worker process, any run) computed them. The key is the
content of everything the features depend on: the real images' uint8 bytes, the extractor and its weights' sha256,
the layers, the batch size, the device type and the torch / torch-fidelity versions. Entries are written
atomically under the cache lock (concurrent jobs compute a missing entry once), hold only tensors (read with
``weights_only=True``) and their sha256, checked on every load: a damaged entry is recomputed with a warning. The
metrics then come from torch-fidelity's own feature → metric functions, so the numbers equal
``torch_fidelity.calculate_metrics`` on the same inputs (``tests/metrics/test_fidelity_real.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch_fidelity

from harness.core.cache import load_or_generate, tensors_sha256

FEATURES_VERSION = 1  # bumped if what an entry holds changes


@dataclass(frozen=True)
class RealFeaturesKey:
    """Everything the real side's features depend on (the cache key).

    Attributes:
        images_sha256: sha256 of the real images as the extractor reads them (uint8 ``(N, 3, H, W)``).
        extractor: torch-fidelity's registry name of the feature extractor.
        weights_sha256: The extractor's weights file's sha256.
        layers: The feature layers computed, sorted.
        batch_size: Images per forward pass (float results can depend on it in the last bits).
        device_type: ``"cpu"`` or ``"cuda"`` (kernels differ in the last bits).
        torch_version: ``torch.__version__``.
        fidelity_version: ``torch_fidelity.__version__``.
    """

    images_sha256: str
    extractor: str
    weights_sha256: str
    layers: tuple[str, ...]
    batch_size: int
    device_type: str
    torch_version: str = torch.__version__
    fidelity_version: str = torch_fidelity.__version__


def real_features_key(images: torch.Tensor, extractor: str, weights_sha256: str, layers: list[str], batch_size: int,
                      device_type: str) -> RealFeaturesKey:
    """The key of uint8 ``images`` ``(N, 3, H, W)`` through ``extractor`` at ``layers``."""
    return RealFeaturesKey(tensors_sha256(images), extractor, weights_sha256, tuple(sorted(layers)), batch_size,
                           device_type)


def cached_real_features(key: RealFeaturesKey, extract: Callable[[], dict[str, torch.Tensor]]
                         ) -> dict[str, torch.Tensor]:
    """``extract()``'s ``{layer: features (N, D)}``, from the cache when an entry of ``key`` exists."""
    features, _ = load_or_generate("real", key, FEATURES_VERSION,
                                   lambda: {k: v.detach().cpu().contiguous() for k, v in extract().items()},
                                   folder="fidelity")
    return features
