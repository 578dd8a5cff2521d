"""Training machinery: GAN loss, image pool, LR schedule, test-time batch statistics."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.core.errors import HarnessError
from reference_models.training import GANLoss, ImagePool, batch_statistics, linear_decay_lambda

pytestmark = pytest.mark.usefixtures("one_thread_module")


def test_gan_loss_against_hand_formulas():
    x = torch.tensor([[-2.0, 0.5], [1.0, 3.0]])
    sig = torch.sigmoid(x)
    assert torch.isclose(GANLoss("vanilla")(x, True), -sig.log().mean())
    assert torch.isclose(GANLoss("vanilla")(x, False), -(1 - sig).log().mean())
    assert torch.isclose(GANLoss("lsgan")(x, True), ((x - 1) ** 2).mean())
    assert GANLoss("lsgan")(x, False).item() == pytest.approx((4 + 0.25 + 1 + 9) / 4)
    with pytest.raises(HarnessError, match="gan_mode='wgan'"):
        GANLoss("wgan")


def test_image_pool_behaviour_and_resume(tmp_path):
    assert torch.equal(ImagePool(0, seed=1).query(torch.ones(2, 1, 2, 2)), torch.ones(2, 1, 2, 2))
    pool = ImagePool(3, seed=7)
    first = torch.arange(3.0).view(3, 1, 1, 1)
    assert torch.equal(pool.query(first), first)  # filling phase returns the inputs
    torch.save(pool.state_dict(), tmp_path / "pool.pt")
    later = [pool.query(torch.full((4, 1, 1, 1), 10.0 + k)) for k in range(5)]
    seen = torch.cat(later).flatten().tolist()
    assert any(v < 10 for v in seen) and any(v >= 10 for v in seen)  # history and current images mixed
    resumed = ImagePool(3, seed=99)
    resumed.load_state_dict(torch.load(tmp_path / "pool.pt", weights_only=True), torch.device("cpu"))
    again = [resumed.query(torch.full((4, 1, 1, 1), 10.0 + k)) for k in range(5)]
    assert all(torch.equal(a, b) for a, b in zip(later, again, strict=True))


def test_linear_decay_lambda_pinned():
    factor = linear_decay_lambda(10, 4)
    assert [factor(t) for t in range(10)] == pytest.approx([1.0] * 6 + [0.8, 0.6, 0.4, 0.2])
    assert [linear_decay_lambda(3, 0)(t) for t in range(3)] == [1.0, 1.0, 1.0]
    with pytest.raises(HarnessError, match="decay_steps=11"):
        linear_decay_lambda(10, 11)


def test_batch_statistics_uses_batch_stats_and_restores_state():
    bn = nn.BatchNorm2d(2)
    bn.running_mean.fill_(5.0)
    bn.eval()
    x = torch.randn(1, 2, 3, 3) * 4 + 2
    with torch.no_grad(), batch_statistics(bn) as net:
        y = net(x)
    mean, var = x.mean(dim=(0, 2, 3), keepdim=True), x.var(dim=(0, 2, 3), unbiased=False, keepdim=True)
    assert torch.allclose(y, (x - mean) / torch.sqrt(var + bn.eps), atol=1e-5)
    assert not bn.training and torch.all(bn.running_mean == 5.0) and bn.num_batches_tracked.item() == 0
