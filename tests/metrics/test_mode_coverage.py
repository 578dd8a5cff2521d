import math

import numpy as np
import pytest
import torch
from scipy.stats import entropy

from harness.core.errors import HarnessError
from metrics.mode_coverage import mode_coverage, mode_coverage_compute, mode_coverage_update


def test_hand_computed_values():
    # Counts (3, 1, 0, 0): p = (3/4, 1/4, 0, 0); KL to uniform = 3/4 log 3 + 1/4 log 1 = 0.75 log 3.
    out = mode_coverage(torch.tensor([0, 1, 0, 0]), 4)
    assert out == {"modes_covered": 2.0, "kl_to_uniform": pytest.approx(0.75 * math.log(3), rel=1e-15)}
    assert mode_coverage(torch.arange(10), 10) == {"modes_covered": 10.0, "kl_to_uniform": 0.0}
    assert mode_coverage(torch.full((7,), 3), 10)["kl_to_uniform"] == pytest.approx(math.log(10), rel=1e-15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_scipy_entropy(seed):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 7, (50,), generator=g)  # 10 classes, 3 never predicted
    counts = np.bincount(labels.numpy(), minlength=10)
    out = mode_coverage(labels, 10)
    assert out["modes_covered"] == float((counts > 0).sum())
    assert out["kl_to_uniform"] == pytest.approx(entropy(counts / counts.sum(), np.full(10, 0.1)), rel=1e-12)


def test_streaming_equals_one_shot_and_batch_size_independence():
    g = torch.Generator().manual_seed(3)
    labels = torch.randint(0, 10, (101,), generator=g)
    for batch in (1, 8, 101):
        counts = None
        for chunk in labels.split(batch):
            counts = mode_coverage_update(counts, chunk, 10)
        assert counts.dtype == torch.int64
        assert mode_coverage_compute(counts) == mode_coverage(labels, 10)


def test_bad_input():
    with pytest.raises(HarnessError, match=r"\[0, 9\]"):
        mode_coverage(torch.tensor([0, 10]), 10)
    with pytest.raises(HarnessError, match="integer"):
        mode_coverage(torch.tensor([0.0, 1.0]), 10)
    with pytest.raises(HarnessError, match="no samples"):
        mode_coverage_compute(torch.zeros(10, dtype=torch.int64))
    with pytest.raises(HarnessError, match="shape"):
        mode_coverage_update(torch.zeros(5, dtype=torch.int64), torch.tensor([1]), 10)
