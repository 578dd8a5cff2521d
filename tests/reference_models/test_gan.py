"""The vanilla GAN: paper parameter counts, tiny-width CPU behaviour, the D constraint and the noise."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from harness.core import atomic
from harness.core.task import DomainData, Task
from reference_models.base import count_parameters
from reference_models.gan import GANConfig, Maxout, VanillaGAN, build_gan, gan_batch, sample_noise

CPU = torch.device("cpu")
TINY = GANConfig(g_hidden=16, d_units=8, d_pieces=3, batch_size=8, steps=3)
SHAPE = (1, 28, 28)


def _gan(config=TINY, seed=0):
    torch.manual_seed(seed)
    return VanillaGAN(config, SHAPE, torch.full(SHAPE, 0.2), CPU)


def _task(n=12):
    images = torch.randint(0, 256, (n, *SHAPE), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    split = {"handwritten": DomainData(images, {"class": torch.arange(n) % 10})}
    return Task("digits", ("handwritten",), False, ("class",), 28, {"train": split, "val": split, "test": split})


def test_paper_parameter_counts():
    gan = VanillaGAN(GANConfig(), SHAPE, torch.full(SHAPE, 0.5), CPU)
    # G: 100 -> 1200 -> 1200 -> 784, every layer with biases
    g_expected = (100 * 1200 + 1200) + (1200 * 1200 + 1200) + (1200 * 784 + 784)
    # D: maxout 784 -> 240 units x 5 pieces, maxout 240 -> 240 x 5, linear 240 -> 1, with biases
    d_expected = (784 * 240 * 5 + 240 * 5) + (240 * 240 * 5 + 240 * 5) + (240 + 1)
    assert g_expected == 2_503_984 and d_expected == 1_231_441
    nets = gan.networks()
    assert count_parameters(nets["G"]) == g_expected
    assert count_parameters(nets["D"]) == d_expected


def test_maxout_is_max_over_pieces():
    layer = Maxout(4, units=2, pieces=3)
    x = torch.randn(5, 4)
    pieces = layer.linear(x).view(5, 2, 3)
    assert torch.equal(layer(x), pieces.max(dim=2).values)


def test_init_ranges_and_output_bias_from_marginals():
    cfg = GANConfig(g_hidden=16, d_units=8)
    gan = VanillaGAN(cfg, SHAPE, torch.full(SHAPE, 0.2), CPU)
    g_layers = [m for m in gan.generator.modules() if isinstance(m, torch.nn.Linear)]
    assert all(float(m.weight.detach().abs().max()) <= cfg.g_irange for m in g_layers)
    d_layers = [m for m in gan.discriminator.modules() if isinstance(m, torch.nn.Linear)]
    assert all(float(m.weight.detach().abs().max()) <= cfg.d_irange for m in d_layers)
    assert torch.allclose(g_layers[-1].bias, torch.full((784,), math.log(0.2 / 0.8)))
    assert torch.count_nonzero(g_layers[0].bias) == 0


def test_sample_shapes_range_and_reproducibility():
    gan = _gan()
    a = gan.sample(7, torch.Generator().manual_seed(3), batch_size=3)
    b = gan.sample(7, torch.Generator().manual_seed(3), batch_size=3)
    c = gan.sample(7, torch.Generator().manual_seed(3))
    assert a.shape == (7, *SHAPE) and a.dtype == torch.float32
    assert float(a.min()) >= 0 and float(a.max()) <= 1
    assert torch.equal(a, b)
    assert torch.allclose(a, c, atol=1e-6)  # the batch size only changes float rounding
    logits = gan.discriminator(a)
    assert logits.shape == (7,)


@pytest.mark.parametrize("config", [TINY, dataclasses.replace(TINY, d_steps=2, g_loss="minimax"),
                                    dataclasses.replace(TINY, optimizer="adam", lr=2e-4)])
def test_train_step_changes_both_networks_and_losses_finite(config):
    gan = _gan(config)
    g0 = [p.detach().clone() for p in gan.generator.parameters()]
    d0 = [p.detach().clone() for p in gan.discriminator.parameters()]
    batch = {"real": torch.rand(config.batch_size * config.d_steps, *SHAPE, generator=torch.Generator().manual_seed(1))}
    losses = gan.train_step(batch)
    assert set(losses) == {"D", "G", "D(x)", "D(G(z))"}
    assert all(math.isfinite(v) for v in losses.values())
    assert 0 < losses["D(x)"] < 1 and 0 < losses["D(G(z))"] < 1
    assert any(not torch.equal(a, b) for a, b in zip(g0, gan.generator.parameters(), strict=True))
    assert any(not torch.equal(a, b) for a, b in zip(d0, gan.discriminator.parameters(), strict=True))
    assert gan.step == 1
    assert all(torch.isfinite(p).all() for p in [*gan.generator.parameters(), *gan.discriminator.parameters()])


def test_losses_match_hand_computation_at_init():
    """At step 0 the D loss is BCE(real, 1) + BCE(fake, 0); with a near-zero D both are about log 2."""
    gan = _gan(dataclasses.replace(TINY, d_input_keep=1.0, d_hidden_keep=1.0))
    losses = gan.train_step({"real": torch.rand(8, *SHAPE)})
    assert losses["D"] == pytest.approx(2 * math.log(2), abs=0.02)
    assert losses["G"] == pytest.approx(math.log(2), abs=0.02)


def test_max_col_norm_holds_after_a_step():
    cfg = dataclasses.replace(TINY, max_col_norm=0.3, lr=0.5)
    gan = _gan(cfg)
    with torch.no_grad():  # start far outside the constraint so it has to act
        for layer in gan.discriminator.modules():
            if isinstance(layer, torch.nn.Linear):
                layer.weight.normal_(0, 1.0)
    gan.train_step({"real": torch.rand(8, *SHAPE)})
    for layer in gan.discriminator.modules():
        if isinstance(layer, torch.nn.Linear):
            norms = layer.weight.detach().norm(dim=1)  # pylearn2 columns = rows of a torch Linear weight (one per unit)
            assert float(norms.max()) <= 0.3 + 1e-5
            assert float(norms.max()) == pytest.approx(0.3, abs=1e-5)


def test_lr_and_momentum_schedule():
    cfg = dataclasses.replace(TINY, lr=0.1, lr_decay=2.0, min_lr=0.02, momentum_saturate_steps=2)
    gan = _gan(cfg)
    seen = []
    for _ in range(4):
        gan.train_step({"real": torch.rand(8, *SHAPE)})
        group = gan.opt_d.param_groups[0]
        seen.append((group["lr"], group["momentum"]))
    assert seen == [pytest.approx((0.1, 0.5)), pytest.approx((0.05, 0.6)), pytest.approx((0.025, 0.7)),
                    pytest.approx((0.02, 0.7))]


def test_noise_is_unit_variance_uniform():
    z = sample_noise(200_000, 5, torch.Generator().manual_seed(0)).double()
    assert z.shape == (200_000, 5)
    assert float(z.min()) >= -math.sqrt(3) and float(z.max()) <= math.sqrt(3)
    assert float(z.min()) < -1.72 and float(z.max()) > 1.72
    assert abs(float(z.mean())) < 0.01
    assert float(z.var()) == pytest.approx(1.0, abs=0.01)


def test_state_dict_round_trip_with_weights_only(tmp_path):
    gan = _gan()
    gan.train_step({"real": torch.rand(8, *SHAPE)})
    atomic.torch_save(gan.state_dict(), tmp_path / "gan.pt")
    other = _gan(seed=5)
    other.load_state_dict(torch.load(tmp_path / "gan.pt", weights_only=True))
    assert other.step == 1
    for a, b in zip(gan.generator.state_dict().values(), other.generator.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert other.opt_d.state_dict()["state"].keys() == gan.opt_d.state_dict()["state"].keys()
    g = torch.Generator()
    assert torch.equal(gan.sample(4, g.manual_seed(0)), other.sample(4, g.manual_seed(0)))


def test_build_and_batch_from_task():
    task = _task()
    gan = build_gan(TINY, task, CPU)
    expected_bias = task.data("train", "handwritten").get().mean(0).flatten().clamp(1e-3, 1 - 1e-3)
    assert torch.allclose(torch.sigmoid(gan.generator.net[-1].bias), expected_bias, atol=1e-5)
    batch = gan_batch(task, dataclasses.replace(TINY, d_steps=2), torch.Generator().manual_seed(0))
    assert batch["real"].shape == (16, *SHAPE) and batch["real"].dtype == torch.float32
    assert float(batch["real"].max()) <= 1
    assert isinstance(build_gan(TINY, task, CPU), VanillaGAN)


def test_unknown_optimizer():
    with pytest.raises(ValueError, match="gan.optimizer"):
        _gan(dataclasses.replace(TINY, optimizer="rmsprop"))
