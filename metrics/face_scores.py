"""The face-translation scores: expression-classifier error, attribute transfer accuracy, identity preservation.

Provenance:
- Expression-classifier error (StarGAN Table 3): the fraction of synthesised faces a facial-expression classifier
  assigns to an expression other than the target, in percent, as the table prints it.
- Attribute transfer accuracy (the quantitative counterpart of StarGAN Tables 1-2, which are AMT studies): the
  fraction of outputs whose every changed attribute group the attribute classifier reads as the target value.
- Identity preservation: a face-verification judge's decision "same person" between input and output
  (verification rate) and the cosine distance ``1 - cos`` of their L2-normalised embeddings. The decision threshold
  is the equal-error-rate threshold on real same-person and different-person pairs (``eer_threshold``), the usual
  operating point of verification benchmarks.

Every function takes tensors and returns ``dict[str, float]`` with the keys registered in ``metrics.registry``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from harness.core.errors import HarnessError


def expression_error(predicted: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Percentage of ``predicted`` (int64 (N,)) that differ from ``target`` (int64 (N,)); N must be positive."""
    if predicted.shape != target.shape or predicted.numel() == 0:
        raise HarnessError(f"expression_error: need equal non-empty shapes, got {tuple(predicted.shape)} and "
                           f"{tuple(target.shape)}")
    return {"expression_error": float((predicted != target).double().mean() * 100)}


def transfer_hits(predicted: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Bool (N,): every group in ``target`` is predicted at its target value.

    Args:
        predicted: Group name -> judged value int64 (N,) (must cover every key of ``target``).
        target: Group name -> target value int64 (N,) for the groups the translation changed.
    """
    if not target:
        raise HarnessError("transfer_accuracy: no target groups")
    return torch.stack([predicted[group] == wanted for group, wanted in target.items()]).all(0)


def transfer_accuracy(predicted: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Fraction of images whose every changed group is predicted at its target value (``transfer_hits``)."""
    return {"transfer_accuracy": float(transfer_hits(predicted, target).double().mean())}


def cosine_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine similarity of (N, F) embeddings, float64 (N,)."""
    a, b = a.double(), b.double()
    return (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1)).clamp_min(1e-12)


def identity_scores(inputs: torch.Tensor, outputs: torch.Tensor, threshold: float) -> dict[str, float]:
    """Verification rate (cos >= ``threshold``) and mean cosine distance between paired embeddings (N, F)."""
    if inputs.shape != outputs.shape or inputs.shape[0] == 0:
        raise HarnessError(f"identity_scores: need equal non-empty (N, F) embeddings, got {tuple(inputs.shape)}, "
                           f"{tuple(outputs.shape)}")
    cos = cosine_similarity(inputs, outputs)
    return {"identity_verification": float((cos >= threshold).double().mean()),
            "identity_distance": float((1 - cos).mean())}


def eer_threshold(same: torch.Tensor, different: torch.Tensor) -> float:
    """The similarity threshold where the false-reject rate of ``same`` meets the false-accept rate of ``different``.

    Among the candidate thresholds (every observed similarity), the one minimising ``|FRR - FAR|`` (ties: the
    smallest threshold), with ``FRR = P(same < t)`` and ``FAR = P(different >= t)``.
    """
    if same.numel() == 0 or different.numel() == 0:
        raise HarnessError("eer_threshold: need same-person and different-person similarities")
    same, different = same.double().sort().values, different.double().sort().values
    candidates = torch.cat([same, different]).unique()
    frr = torch.searchsorted(same, candidates, right=False).double() / same.numel()
    far = 1 - torch.searchsorted(different, candidates, right=False).double() / different.numel()
    return float(candidates[(frr - far).abs().argmin()])


def verification_pairs(people: torch.Tensor, count: int, generator: torch.Generator
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """Up to ``count`` same-person and ``count`` different-person index pairs (each (M, 2)), drawn at random."""
    n = people.shape[0]
    first = torch.randint(0, n, (count * 8,), generator=generator)
    second = torch.randint(0, n, (count * 8,), generator=generator)
    distinct = first != second
    same = distinct & (people[first] == people[second])
    diff = distinct & (people[first] != people[second])
    pairs = torch.stack([first, second], 1)
    return pairs[same][:count], pairs[diff][:count]


def verification_reference(embeddings: torch.Tensor, people: torch.Tensor, threshold: float, count: int,
                           generator: torch.Generator) -> dict[str, float]:
    """Real-face verification at ``threshold``: true-accept rate and distance of same-person pairs, false accepts."""
    same, diff = verification_pairs(people, count, generator)
    if len(same) == 0 or len(diff) == 0:
        raise HarnessError("verification_reference: the faces hold no same-person (or no different-person) pairs")
    cos_same = cosine_similarity(embeddings[same[:, 0]], embeddings[same[:, 1]])
    cos_diff = cosine_similarity(embeddings[diff[:, 0]], embeddings[diff[:, 1]])
    return {"identity_verification": float((cos_same >= threshold).double().mean()),
            "identity_distance": float((1 - cos_same).mean()),
            "identity_false_accept": float((cos_diff >= threshold).double().mean())}


Z95 = 1.959963984540054  # two-sided 95% normal quantile


def clustered_rate(outcomes: torch.Tensor, clusters: torch.Tensor) -> dict[str, float]:
    """A rate and its 95% CI when outcomes are correlated within clusters (the outputs of one input face).

    The rate is the mean of ``outcomes``; its variance is the cluster-robust (sandwich) one of that mean with the
    small-sample factor G/(G - 1) over G clusters, as a regression of the outcomes on a constant with clustered
    standard errors (statsmodels ``cov_type="cluster"``): Var = G/(G-1) · Σ_g (Σ_{i∈g} (y_i − p))² / N². The interval
    is p ± z·√Var (normal), clipped to [0, 1]. One face scored under 7 targets counts as one cluster, not 7 draws.

    Args:
        outcomes: Bool or 0/1 ``(N,)``, N > 0.
        clusters: Int64 ``(N,)`` cluster id of each outcome (the input face's index).

    Returns:
        ``{"rate", "ci_low", "ci_high", "clusters"}``; with one cluster the interval is NaN.
    """
    if outcomes.shape != clusters.shape or outcomes.dim() != 1 or outcomes.numel() == 0:
        raise HarnessError(f"clustered_rate: need equal non-empty (N,) outcomes and clusters, got "
                           f"{tuple(outcomes.shape)} and {tuple(clusters.shape)}")
    y = outcomes.double()
    rate = y.mean()
    _, group = torch.unique(clusters, return_inverse=True)
    g = int(group.max()) + 1
    if g < 2:
        return {"rate": float(rate), "ci_low": float("nan"), "ci_high": float("nan"), "clusters": 1.0}
    sums = torch.zeros(g, dtype=torch.float64).index_add_(0, group, y - rate)
    half = Z95 * float((g / (g - 1) * sums.square().sum()).sqrt() / y.numel())
    return {"rate": float(rate), "ci_low": max(0.0, float(rate) - half), "ci_high": min(1.0, float(rate) + half),
            "clusters": float(g)}
