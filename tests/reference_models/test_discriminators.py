"""Discriminators: paper-width parameter counts, measured receptive fields, output sizes, ablation meaning."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from harness.core.errors import HarnessError
from reference_models.base import count_parameters
from reference_models.discriminators import (
    NLayerDiscriminator,
    PixelDiscriminator,
    fields_differ,
    min_image_size,
    patch_discriminator,
)
from reference_models.layers import init_weights

pytestmark = pytest.mark.usefixtures("one_thread_module")


def conv(c_in: int, c_out: int, k: int, bias: bool) -> int:
    return c_in * c_out * k * k + (c_out if bias else 0)


def patchgan_oracle(c_in: int, ndf: int, bn: bool) -> int:
    b, norm = not bn, (lambda c: 2 * c if bn else 0)
    return (conv(c_in, ndf, 4, True) + conv(ndf, 2 * ndf, 4, b) + norm(2 * ndf) + conv(2 * ndf, 4 * ndf, 4, b)
            + norm(4 * ndf) + conv(4 * ndf, 8 * ndf, 4, b) + norm(8 * ndf) + conv(8 * ndf, 1, 4, True))


def test_paper_parameter_counts_match_official():
    with torch.device("meta"):
        d_pix2pix = NLayerDiscriminator(6, ndf=64, n_layers=3, norm="batch")
        d_cyclegan = NLayerDiscriminator(3, ndf=64, n_layers=3, norm="instance")
    # Official printouts: D 2.769 M (pix2pix), 2.765 M (CycleGAN).
    assert count_parameters(d_pix2pix) == patchgan_oracle(6, 64, bn=True) == 2_768_705
    assert count_parameters(d_cyclegan) == patchgan_oracle(3, 64, bn=False) == 2_764_737


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


def test_fields_differ_only_when_the_smaller_field_is_smaller_than_the_image():
    assert not fields_differ(70, 286, 64) and not fields_differ(70, 286, 70) and fields_differ(70, 286, 71)
    assert fields_differ(16, 70, 32) and not fields_differ(16, 70, 16) and fields_differ(1, 70, 2)
    assert not fields_differ(70, 70, 256)
    # Measured: at 64 px the centre cell of the 70x70 PatchGAN sees 63 of the 64 rows (the window is offset by
    # the padding), at 256 px only its 70.
    torch.manual_seed(0)
    net = init_weights(patch_discriminator(2, ndf=2, receptive_field=70, norm="none"), gain=1.0)
    assert receptive_field(net, 64) == 63 and receptive_field(net, 256) == 70
