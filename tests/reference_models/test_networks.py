"""Shared blocks: paper-width parameter counts (hand-computed oracles), receptive fields, losses, pool, schedule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.core.errors import HarnessError
from reference_models.base import count_parameters
from reference_models.networks import (
    GANLoss,
    ImagePool,
    NLayerDiscriminator,
    PixelDiscriminator,
    ResnetGenerator,
    UnetGenerator,
    batch_statistics,
    init_weights,
    linear_decay_lambda,
    min_image_size,
    norm_factory,
    patch_discriminator,
)

pytestmark = pytest.mark.usefixtures("one_thread_module")


def conv(c_in: int, c_out: int, k: int, bias: bool) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


def unet_oracle(c_in: int, c_out: int, ngf: int, num_downs: int, bn: bool, skip: bool = True) -> int:
    """Hand count of the official U-Net: convs without bias under batch norm, BN has 2 params per channel."""
    b, norm = not bn, (lambda c: 2 * c if bn else 0)
    s = 2 if skip else 1
    total = conv(c_in, ngf, 4, b) + conv(ngf * s, c_out, 4, True)  # outermost (up-conv keeps its bias)
    for outer, inner in ((ngf, ngf * 2), (ngf * 2, ngf * 4), (ngf * 4, ngf * 8)):
        total += conv(outer, inner, 4, b) + norm(inner) + conv(inner * s, outer, 4, b) + norm(outer)
    middle = ngf * 8
    total += (num_downs - 5) * (conv(middle, middle, 4, b) + norm(middle) + conv(middle * s, middle, 4, b)
                                + norm(middle))
    return total + conv(middle, middle, 4, b) + conv(middle, middle, 4, b) + norm(middle)  # innermost


def patchgan_oracle(c_in: int, ndf: int, bn: bool) -> int:
    b, norm = not bn, (lambda c: 2 * c if bn else 0)
    return (conv(c_in, ndf, 4, True) + conv(ndf, 2 * ndf, 4, b) + norm(2 * ndf) + conv(2 * ndf, 4 * ndf, 4, b)
            + norm(4 * ndf) + conv(4 * ndf, 8 * ndf, 4, b) + norm(8 * ndf) + conv(8 * ndf, 1, 4, True))


def resnet_oracle(ngf: int, n_blocks: int) -> int:
    """Instance norm without affine: every conv has a bias, norms have no parameters."""
    return (conv(3, ngf, 7, True) + conv(ngf, 2 * ngf, 3, True) + conv(2 * ngf, 4 * ngf, 3, True)
            + n_blocks * 2 * conv(4 * ngf, 4 * ngf, 3, True)
            + conv(4 * ngf, 2 * ngf, 3, True) + conv(2 * ngf, ngf, 3, True) + conv(ngf, 3, 7, True))


def test_paper_parameter_counts_match_official():
    with torch.device("meta"):
        unet = UnetGenerator(3, 3, num_downs=8, ngf=64, norm="batch", dropout=True)
        encdec = UnetGenerator(3, 3, num_downs=8, ngf=64, norm="batch", dropout=True, skip=False)
        d_pix2pix = NLayerDiscriminator(6, ndf=64, n_layers=3, norm="batch")
        res9 = ResnetGenerator(3, 3, ngf=64, norm="instance", n_blocks=9)
        res6 = ResnetGenerator(3, 3, ngf=64, norm="instance", n_blocks=6)
        d_cyclegan = NLayerDiscriminator(3, ndf=64, n_layers=3, norm="instance")
    # Official printouts: G 54.414 M, D 2.769 M (pix2pix); G 11.378 M, D 2.765 M (CycleGAN, 9 blocks).
    assert count_parameters(unet) == unet_oracle(3, 3, 64, 8, bn=True) == 54_413_955
    assert count_parameters(encdec) == unet_oracle(3, 3, 64, 8, bn=True, skip=False) == 39_075_459
    assert count_parameters(d_pix2pix) == patchgan_oracle(6, 64, bn=True) == 2_768_705
    assert count_parameters(res9) == resnet_oracle(64, 9) == 11_378_179
    assert count_parameters(res6) == resnet_oracle(64, 6) == 7_837_699
    assert count_parameters(d_cyclegan) == patchgan_oracle(3, 64, bn=False) == 2_764_737


def test_norm_factory_bias_rule_and_bad_name():
    assert isinstance(norm_factory("batch")[0](4), nn.BatchNorm2d) and norm_factory("batch")[1] is False
    inst, bias = norm_factory("instance")
    assert bias is True and not inst(4).affine and not inst(4).track_running_stats
    assert norm_factory("none")[1] is True
    with pytest.raises(HarnessError, match="norm='group'"):
        norm_factory("group")


def receptive_field(net: nn.Module, size: int) -> int:
    """Side of the input region that influences the centre output pixel, measured by autograd."""
    x = torch.randn(1, 2, size, size, requires_grad=True)
    y = net(x)
    y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
    rows = x.grad.abs().sum(dim=(0, 1, 3)).nonzero()
    return int(rows.max() - rows.min() + 1)


@pytest.mark.parametrize(("field", "size"), [(16, 64), (70, 160), (286, 576)])
def test_patchgan_receptive_fields(field, size):
    torch.manual_seed(0)
    net = init_weights(patch_discriminator(2, ndf=2, receptive_field=field, norm="none"), gain=1.0)
    assert receptive_field(net, size) == field


def test_discriminator_output_sizes_at_256():
    x = torch.zeros(1, 3, 256, 256)
    sizes = {f: patch_discriminator(3, ndf=4, receptive_field=f, norm="instance")(x).shape[-1] for f in (1, 16, 70)}
    assert sizes == {1: 256, 16: 126, 70: 30}  # 30x30 patches is the official 70x70 PatchGAN output
    assert isinstance(patch_discriminator(3, ndf=4, receptive_field=1, norm="batch"), PixelDiscriminator)
    assert [min_image_size(f) for f in (1, 16, 70, 286)] == [1, 6, 24, 96]
    with pytest.raises(HarnessError, match="d_receptive_field=35"):
        patch_discriminator(3, ndf=4, receptive_field=35, norm="batch")


def test_unet_shapes_dropout_and_skips():
    unet = UnetGenerator(3, 1, num_downs=6, ngf=4, norm="batch", dropout=True)
    assert sum(isinstance(m, nn.Dropout) for m in unet.modules()) == 1  # num_downs - 5 levels
    out = unet.eval()(torch.rand(2, 3, 64, 64) * 2 - 1)
    assert out.shape == (2, 1, 64, 64) and out.abs().max() <= 1
    assert count_parameters(UnetGenerator(3, 3, num_downs=5, ngf=4, norm="instance", dropout=False)) == (
        unet_oracle(3, 3, 4, 5, bn=False))
    with pytest.raises(HarnessError, match="num_downs=4"):
        UnetGenerator(3, 3, num_downs=4, ngf=4, norm="batch", dropout=False)


def test_resnet_generator_shape_and_reflection():
    net = ResnetGenerator(1, 3, ngf=4, norm="instance", n_blocks=2)
    assert net(torch.zeros(2, 1, 20, 20)).shape == (2, 3, 20, 20)
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in net.modules()) == 2 + 2 * 2


def test_init_weights_statistics():
    torch.manual_seed(0)
    net = init_weights(nn.Sequential(nn.Conv2d(64, 64, 4), nn.BatchNorm2d(512)))
    assert abs(net[0].weight.std().item() - 0.02) < 1e-3 and net[0].bias.abs().sum() == 0
    assert abs(net[1].weight.mean().item() - 1.0) < 5e-3 and net[1].bias.abs().sum() == 0


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
