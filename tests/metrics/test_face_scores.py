"""Face scores against independent restatements (numpy brute force) and pinned values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.core.errors import HarnessError
from metrics.face_scores import (
    clustered_rate,
    cosine_similarity,
    eer_threshold,
    expression_error,
    identity_scores,
    transfer_accuracy,
    verification_pairs,
    verification_reference,
)
from metrics.registry import higher_is_better


def test_expression_error_is_percent_of_mismatches() -> None:
    predicted = torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    target = torch.tensor([0, 1, 2, 3, 4, 5, 6, 0])
    assert expression_error(predicted, target) == {"expression_error": pytest.approx(12.5)}
    with pytest.raises(HarnessError):
        expression_error(torch.tensor([]), torch.tensor([]))


def test_transfer_accuracy_needs_every_changed_group() -> None:
    predicted = {"hair": torch.tensor([0, 1, 2, 2]), "Male": torch.tensor([1, 1, 0, 0])}
    target = {"hair": torch.tensor([0, 1, 1, 2]), "Male": torch.tensor([1, 0, 0, 0])}
    assert transfer_accuracy(predicted, target)["transfer_accuracy"] == pytest.approx(0.5)  # rows 0 and 3
    assert transfer_accuracy(predicted, {"hair": target["hair"]})["transfer_accuracy"] == pytest.approx(0.75)


def test_identity_scores_match_numpy_cosine() -> None:
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(50, 16, generator=gen), torch.randn(50, 16, generator=gen)
    b[:25] = a[:25] * 3 + 0.01 * b[:25]  # half nearly the same direction
    an, bn = a.numpy().astype(np.float64), b.numpy().astype(np.float64)
    cos = (an * bn).sum(1) / np.linalg.norm(an, axis=1) / np.linalg.norm(bn, axis=1)
    out = identity_scores(a, b, threshold=0.5)
    assert out["identity_distance"] == pytest.approx(float((1 - cos).mean()), rel=1e-9)
    assert out["identity_verification"] == pytest.approx(float((cos >= 0.5).mean()))
    assert torch.allclose(cosine_similarity(a, b), torch.from_numpy(cos))


def _brute_force_eer(same: np.ndarray, diff: np.ndarray) -> float:
    best, best_gap = None, np.inf
    for t in np.unique(np.concatenate([same, diff])):
        gap = abs((same < t).mean() - (diff >= t).mean())
        if gap < best_gap:
            best, best_gap = t, gap
    return float(best)


def test_eer_threshold_matches_brute_force_and_a_pinned_value() -> None:
    rng = np.random.default_rng(0)
    same, diff = rng.normal(0.7, 0.15, 300), rng.normal(0.2, 0.2, 400)
    assert eer_threshold(torch.from_numpy(same), torch.from_numpy(diff)) == pytest.approx(_brute_force_eer(same, diff))
    pinned = eer_threshold(torch.tensor([0.9, 0.8, 0.7, 0.4]), torch.tensor([0.1, 0.2, 0.5, 0.75]))
    assert pinned == pytest.approx(0.7)  # FRR(0.7) = 1/4 = FAR(0.7) = 1/4


def test_verification_reference_separates_people() -> None:
    people = torch.arange(20).repeat_interleave(5)
    centres = torch.randn(20, 8, generator=torch.Generator().manual_seed(1))
    embeddings = centres[people] + 0.05 * torch.randn(100, 8, generator=torch.Generator().manual_seed(2))
    same, diff = verification_pairs(people, 200, torch.Generator().manual_seed(3))
    assert len(same) and len(diff)
    assert bool((people[same[:, 0]] == people[same[:, 1]]).all())
    assert bool((people[diff[:, 0]] != people[diff[:, 1]]).all())
    gen = torch.Generator().manual_seed(3)
    out = verification_reference(embeddings, people, threshold=0.9, count=200, generator=gen)
    assert out["identity_verification"] > 0.95 and out["identity_false_accept"] < 0.1


def test_face_score_keys_are_registered_with_directions() -> None:
    assert higher_is_better("expression_error[happy]") is False
    assert higher_is_better("HGA_transfer_accuracy") is True
    assert higher_is_better("celeba_identity_verification") is True
    assert higher_is_better("rafd_identity_distance") is False
    assert higher_is_better("rafd_parameters") is None
    assert higher_is_better("celeba_fid[Blond_Hair]") is False


def test_clustered_rate_matches_statsmodels_cluster_robust_interval() -> None:
    sm = pytest.importorskip("statsmodels.api")
    gen = np.random.default_rng(0)
    clusters = np.repeat(np.arange(30), 7)  # 30 input faces x 7 targets
    face_effect = gen.random(30) < 0.3  # some faces fail under every target: strong within-face correlation
    y = (face_effect[clusters] | (gen.random(210) < 0.1)).astype(float)
    fit = sm.OLS(y, np.ones((210, 1))).fit(cov_type="cluster", cov_kwds={"groups": clusters})
    low, high = fit.conf_int(alpha=0.05)[0]
    out = clustered_rate(torch.from_numpy(y).bool(), torch.from_numpy(clusters))
    assert out["rate"] == pytest.approx(y.mean(), abs=1e-12) and out["clusters"] == 30
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((max(low, 0), min(high, 1)), rel=1e-9)
    independent = clustered_rate(torch.from_numpy(y).bool(), torch.arange(210))
    assert out["ci_high"] - out["ci_low"] > 1.5 * (independent["ci_high"] - independent["ci_low"])


def test_clustered_rate_pinned_and_edge_cases() -> None:
    # Two faces: 2 of 2 wrong, 0 of 2 wrong. p = 0.5; per-face sums of (y - p): +1, -1; Var = 2 * 2 / 16 = 0.25.
    out = clustered_rate(torch.tensor([1, 1, 0, 0]), torch.tensor([5, 5, 9, 9]))
    assert out["rate"] == 0.5 and out["ci_low"] == 0.0 and out["ci_high"] == 1.0
    out = clustered_rate(torch.tensor([1, 0, 0, 0, 0, 0, 0, 0]), torch.arange(8))
    half = 1.959963984540054 * (8 / 7 * (0.875**2 + 7 * 0.125**2)) ** 0.5 / 8
    assert out["ci_high"] == pytest.approx(0.125 + half) and out["ci_low"] == 0.0
    assert np.isnan(clustered_rate(torch.tensor([1, 0]), torch.tensor([3, 3]))["ci_low"])
    with pytest.raises(HarnessError, match="clustered_rate"):
        clustered_rate(torch.tensor([1, 0]), torch.tensor([1]))
