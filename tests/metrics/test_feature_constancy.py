"""f-constancy error against the formula restated in numpy."""

import numpy as np
import pytest
import torch

from harness.core.errors import HarnessError
from metrics.feature_constancy import f_constancy
from metrics.registry import higher_is_better


def test_against_numpy_and_pinned_value():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 16)), rng.normal(size=(50, 16))
    expected = np.mean([np.sum((a[i] - b[i]) ** 2) / 16 for i in range(50)])
    value = f_constancy(torch.tensor(a, dtype=torch.float32), torch.tensor(b, dtype=torch.float32))["f_constancy"]
    assert value == pytest.approx(expected, rel=1e-6)
    pinned = f_constancy(torch.tensor([[0.0, 0.0], [1.0, 2.0]]), torch.tensor([[3.0, 4.0], [1.0, 0.0]]))
    assert pinned == {"f_constancy": 7.25}  # ((9 + 16) / 2 + 4 / 2) / 2
    assert f_constancy(torch.ones(3, 4), torch.ones(3, 4))["f_constancy"] == 0.0
    assert higher_is_better("test_f_constancy") is False


def test_order_of_images_does_not_matter_but_pairing_does():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(20, 8, generator=g), torch.randn(20, 8, generator=g)
    perm = torch.randperm(20, generator=g)
    assert f_constancy(a[perm], b[perm])["f_constancy"] == pytest.approx(f_constancy(a, b)["f_constancy"], rel=1e-12)
    assert f_constancy(a, b[perm])["f_constancy"] != pytest.approx(f_constancy(a, b)["f_constancy"], rel=1e-3)


@pytest.mark.parametrize("a, b", [(torch.zeros(3, 4), torch.zeros(3, 5)), (torch.zeros(0, 4), torch.zeros(0, 4)),
                                  (torch.zeros(3), torch.zeros(3))])
def test_bad_shapes(a, b):
    with pytest.raises(HarnessError, match="f-constancy"):
        f_constancy(a, b)
