"""Per-image signals: the realism score restated from its definition, batch independence, sanity orderings."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from metrics.human_study.signals import RealManifold, perceptual_features, standardise_realism


def _textures(n: int, seed: int, size: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=size, mode="bilinear", align_corners=False)
    return (base + 0.15 * torch.rand(n, 3, size, size, generator=g)).clamp(0, 1)


def test_features_do_not_depend_on_the_batch():
    images = _textures(10, 0)
    whole = perceptual_features(images)
    parts = np.concatenate([perceptual_features(images[i:i + 3]) for i in range(0, 10, 3)])
    assert np.allclose(whole, parts, atol=1e-6) and whole.dtype == np.float64
    assert perceptual_features(torch.rand(2, 1, 12, 12)).shape[1] == perceptual_features(images).shape[1] // 3


def test_realism_score_restated_from_the_definition():
    reference, probe = _textures(40, 1), _textures(5, 2)
    manifold = RealManifold(reference)
    ref, new = manifold.embed(reference), manifold.embed(probe)
    d_ref = np.array([[np.sum((a - b) ** 2) for b in ref] for a in ref])
    radii = np.sort(d_ref, axis=1)[:, 3]  # k = 3 neighbours besides itself
    radii[radii > np.median(radii)] = 0.0  # prune radii above the median
    expected = [np.log(max(radii[j] / (np.sum((x - ref[j]) ** 2) + 1e-5) for j in range(len(ref)))) for x in new]
    assert manifold.log_realism(probe) == pytest.approx(np.array(expected), rel=1e-6)


def test_real_images_look_real_and_degraded_ones_do_not():
    manifold = RealManifold(_textures(60, 3))
    real = _textures(20, 4)
    z_real = standardise_realism(manifold.log_realism(real), manifold.log_realism(real))
    blank = real.mean(dim=(2, 3), keepdim=True).expand_as(real)
    z_blank = standardise_realism(manifold.log_realism(blank), manifold.log_realism(real))
    assert abs(z_real.mean()) < 1e-9 and z_blank.max() < z_real.min()
    assert manifold.reference_distance(real, real) == pytest.approx(np.zeros(20))
    assert (manifold.reference_distance(blank, real) > 0).all()
