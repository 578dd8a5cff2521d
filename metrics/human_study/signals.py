"""Per-image perceptual signals that drive the simulated observer: measurable quantities, nothing learned.

For each image the observer model sees two numbers, both computed here:

- **Realism** ``z_real``: the log realism score of Kynkäänniemi et al. 2019 ("Improved precision and recall",
  Eq. 3; official ``precision_recall.py``, ``ManifoldEstimator``): with squared distances,
  ``R(x) = max_j r_j^2 / (||phi(x) - phi(y_j)||^2 + eps)`` over real reference images ``y_j`` whose k-NN radius
  ``r_j`` (k = 3) is not above the median (larger radii are set to 0, ``clamp_to_percentile=50``). ``R >= 1`` means
  "inside the estimated manifold of real images". ``log R`` is standardised against the real images shown in the
  study (``z = (log R - mean_real) / std_real``), so 0 is a typical real image and -1 is one real-image standard
  deviation less real.
- **Reference fidelity** ``z_ref``: minus the feature distance to the image's true counterpart (paired tasks:
  the ground-truth translation, SR: the HR image), in units of the median real k-NN radius; 0 for the
  counterpart itself, and 0 for every image where no counterpart exists.

The feature space ``phi`` is hand-made and deterministic, so it needs no weights and applies to any image size or
channel count: per channel, at three scales of a 2x2 average pyramid, the mean, standard deviation, mean absolute
Laplacian-band response (fine detail / blur) and mean gradient magnitude; an 8-bin intensity histogram per channel;
and a 4x4 thumbnail (layout). Each dimension is standardised by the reference images' statistics. This is a
stand-in for a learned perceptual space (Inception, LPIPS), chosen because those weights cannot be shipped here;
the study rows say so.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional as F

from harness.core.images import check_images

K_NEIGHBOURS = 3  # k of the k-NN radius (Kynkäänniemi et al. default)
CLAMP_PERCENTILE = 50.0  # reference radii above this percentile are pruned (official realism computation)
EPS = 1e-5  # official eps in the realism ratio
HIST_BINS = 8  # intensity histogram bins per channel
THUMB = 4  # thumbnail side
LEVELS = 3  # pyramid levels
FEATURE_VERSION = "human_study.signals v1: pyramid moments+laplacian+gradient, 8-bin hist, 4x4 thumb"


def _level_stats(x: torch.Tensor) -> list[torch.Tensor]:
    blur = F.avg_pool2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), 3, stride=1)
    gy, gx = x[:, :, 1:, :] - x[:, :, :-1, :], x[:, :, :, 1:] - x[:, :, :, :-1]
    grad = gx[:, :, :-1, :].square() + gy[:, :, :, :-1].square() if min(x.shape[2:]) > 1 else torch.zeros_like(x)
    return [x.mean((2, 3)), x.std((2, 3), correction=0), (x - blur).abs().mean((2, 3)), grad.sqrt().mean((2, 3))]


def perceptual_features(images: torch.Tensor) -> np.ndarray:
    """The hand-made feature vector of each image.

    Args:
        images: Float ``(N, C, H, W)`` in [0, 1], any C and size (H, W >= 4).

    Returns:
        Float64 ``(N, C * (4 * LEVELS + HIST_BINS + THUMB**2))`` features, unstandardised.
    """
    x = check_images(images, "study images").float()
    parts: list[torch.Tensor] = []
    level = x
    for _ in range(LEVELS):
        parts += _level_stats(level)
        if min(level.shape[2:]) >= 4:
            level = F.avg_pool2d(level, 2)
    bins = (x.clamp(0, 1) * HIST_BINS).long().clamp(max=HIST_BINS - 1).flatten(2)  # (N, C, H*W)
    hist = torch.zeros(*bins.shape[:2], HIST_BINS).scatter_add_(2, bins, torch.ones(bins.shape))
    parts.append((hist / bins.shape[2]).flatten(1))
    parts.append(F.adaptive_avg_pool2d(x, THUMB).flatten(1))
    return torch.cat(parts, dim=1).double().numpy()


def _sq_dists(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum((a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :], 0.0)


class RealManifold:
    """The real reference images in feature space: standardisation, k-NN radii, realism and reference distances.

    Args:
        reference: Float ``(M, C, H, W)`` in [0, 1], real images of the target domain (M > k), e.g. its train split.
    """

    def __init__(self, reference: torch.Tensor) -> None:
        feats = perceptual_features(reference)
        if len(feats) <= K_NEIGHBOURS:
            raise ValueError(f"reference: need more than {K_NEIGHBOURS} real images, got {len(feats)}")
        self.mean = feats.mean(0)
        self.scale = np.maximum(feats.std(0), 1e-3)  # constant dimensions (unused bins) do not blow up
        self.features = self._standardise(feats)
        d = _sq_dists(self.features, self.features)
        radii = np.sort(d, axis=1)[:, K_NEIGHBOURS]  # column 0 is the point itself
        self.median_radius = float(np.sqrt(np.median(radii)))
        radii[radii > np.percentile(radii, CLAMP_PERCENTILE)] = 0.0
        self.radii = radii

    def _standardise(self, feats: np.ndarray) -> np.ndarray:
        return (feats - self.mean) / self.scale

    def embed(self, images: torch.Tensor) -> np.ndarray:
        """Standardised features ``(N, D)`` of ``images`` (N, C, H, W) in [0, 1]."""
        return self._standardise(perceptual_features(images))

    def log_realism(self, images: torch.Tensor) -> np.ndarray:
        """``log R(x)`` of each image ``(N,)`` (Kynkäänniemi et al. 2019 realism score, squared distances)."""
        return self.log_realism_of(self.embed(images))

    def log_realism_of(self, embedded: np.ndarray) -> np.ndarray:
        """``log R`` of already embedded images ``(N, D)`` (see ``embed``)."""
        ratio = self.radii[None, :] / (_sq_dists(embedded, self.features) + EPS)
        return np.log(ratio.max(axis=1) + 1e-12)

    def reference_distance(self, images: torch.Tensor, counterparts: torch.Tensor) -> np.ndarray:
        """Feature distance of each image to its counterpart, in median real k-NN radii ``(N,)``."""
        return self.distance_of(self.embed(images), self.embed(counterparts))

    def distance_of(self, embedded: np.ndarray, counterparts: np.ndarray) -> np.ndarray:
        """``reference_distance`` of already embedded images and counterparts ``(N, D)``."""
        diff = embedded - counterparts
        return np.sqrt((diff * diff).sum(1)) / max(self.median_radius, 1e-12)


def standardise_realism(log_r: np.ndarray, real_log_r: np.ndarray) -> np.ndarray:
    """``z_real``: ``log R`` in standard deviations of the shown real images' ``log R`` (0 = their mean)."""
    return (log_r - real_log_r.mean()) / max(float(real_log_r.std()), 1e-6)
