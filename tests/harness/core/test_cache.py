import torch

from harness.core.cache import tensor_digest


def test_tensor_digest_changes_with_data():
    x = torch.zeros(2, 3, dtype=torch.uint8)
    assert tensor_digest(x) == tensor_digest(x.clone())
    assert tensor_digest(x) != tensor_digest(x + 1) != tensor_digest(x.reshape(3, 2))
