import torch

from harness.core.cache import tensors_sha256


def test_tensors_sha256_changes_with_data():
    x = torch.zeros(2, 3, dtype=torch.uint8)
    assert tensors_sha256(x) == tensors_sha256(x.clone())
    assert tensors_sha256(x) != tensors_sha256(x + 1) != tensors_sha256(x.reshape(3, 2))
