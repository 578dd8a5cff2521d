"""Generators and the shared layers: paper-width parameter counts (hand-computed oracles), shapes, dropout, init."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.core.errors import HarnessError
from reference_models.base import count_parameters
from reference_models.generators import ResnetGenerator, UnetGenerator, dropout_levels
from reference_models.layers import init_weights, norm_factory

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


def resnet_oracle(ngf: int, n_blocks: int) -> int:
    """Instance norm without affine: every conv has a bias, norms have no parameters."""
    return (conv(3, ngf, 7, True) + conv(ngf, 2 * ngf, 3, True) + conv(2 * ngf, 4 * ngf, 3, True)
            + n_blocks * 2 * conv(4 * ngf, 4 * ngf, 3, True)
            + conv(4 * ngf, 2 * ngf, 3, True) + conv(2 * ngf, ngf, 3, True) + conv(ngf, 3, 7, True))


def test_paper_parameter_counts_match_official():
    with torch.device("meta"):
        unet = UnetGenerator(3, 3, num_downs=8, ngf=64, norm="batch", dropout=True)
        encdec = UnetGenerator(3, 3, num_downs=8, ngf=64, norm="batch", dropout=True, skip=False)
        res9 = ResnetGenerator(3, 3, ngf=64, norm="instance", n_blocks=9)
        res6 = ResnetGenerator(3, 3, ngf=64, norm="instance", n_blocks=6)
    # Official printouts: G 54.414 M (pix2pix); G 11.378 M (CycleGAN, 9 blocks).
    assert count_parameters(unet) == unet_oracle(3, 3, 64, 8, bn=True) == 54_413_955
    assert count_parameters(encdec) == unet_oracle(3, 3, 64, 8, bn=True, skip=False) == 39_075_459
    assert count_parameters(res9) == resnet_oracle(64, 9) == 11_378_179
    assert count_parameters(res6) == resnet_oracle(64, 6) == 7_837_699


def test_module_docstring_states_the_tested_counts():
    import reference_models.discriminators as discriminators
    import reference_models.generators as generators

    for count in ("54,413,955", "11,378,179", "7,837,699"):
        assert count in generators.__doc__
    for count in ("2,768,705", "2,764,737"):
        assert count in discriminators.__doc__
    assert "54,414,080" not in generators.__doc__ and "2,769,601" not in discriminators.__doc__


def test_norm_factory_bias_rule_and_bad_name():
    assert isinstance(norm_factory("batch")[0](4), nn.BatchNorm2d) and norm_factory("batch")[1] is False
    inst, bias = norm_factory("instance")
    assert bias is True and not inst(4).affine and not inst(4).track_running_stats
    assert norm_factory("none")[1] is True
    with pytest.raises(HarnessError, match="norm='group'"):
        norm_factory("group")


def dropout_positions(unet: UnetGenerator) -> list[int]:
    """Output channels of the up-convs followed by dropout, from the outermost level inwards."""
    out, block = [], unet.model
    while block is not None:
        layers = list(block.model)
        if isinstance(layers[-1], nn.Dropout):
            out.append(next(m for m in reversed(layers) if isinstance(m, nn.ConvTranspose2d)).out_channels)
        block = next((m for m in layers if type(m).__name__ == "UnetBlock"), None)
    return out


@pytest.mark.parametrize("num_downs", [5, 6, 7, 8, 9])
def test_the_paper_three_dropout_layers_at_every_depth(num_downs):
    unet = UnetGenerator(3, 3, num_downs=num_downs, ngf=1, norm="batch", dropout=True)
    positions = dropout_positions(unet)
    assert len(positions) == max(3, num_downs - 5) == dropout_levels(num_downs)
    assert sum(isinstance(m, nn.Dropout) for m in unet.modules()) == len(positions)
    if num_downs >= 8:  # official placement: every 8*ngf middle level, none after the innermost up-conv
        assert positions == [8] * (num_downs - 5)
    else:  # the three levels right outside the innermost (listed from the outermost inwards)
        assert positions == ([1, 2, 4] + [8] * (num_downs - 5))[-3:]
    none = UnetGenerator(3, 3, num_downs=num_downs, ngf=1, norm="batch", dropout=False)
    assert not any(isinstance(m, nn.Dropout) for m in none.modules())


def test_unet_shapes_and_skips():
    unet = UnetGenerator(3, 1, num_downs=6, ngf=4, norm="batch", dropout=True)
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
