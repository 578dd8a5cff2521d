"""The vanilla GAN as released: parameter counts, tiny-width CPU behaviour, objectives, update rule, init, noise."""

from __future__ import annotations

import dataclasses
import math
import typing

import pytest
import torch
from torch.nn import functional as F

from harness.core import atomic
from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task
from reference_models.base import count_parameters
from reference_models.gan import (
    GANConfig,
    Maxout,
    VanillaGAN,
    build_gan,
    gan_batch,
    sample_noise,
    validate_config,
)

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


@pytest.mark.parametrize("config", [TINY, dataclasses.replace(TINY, update="alternating", d_steps=2, g_loss="minimax"),
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
    """The D objective is 0.5 (BCE(real, 1) + BCE(fake, 0)) (AdversaryCost2); near-zero D: both terms about log 2."""
    config = dataclasses.replace(TINY, d_input_keep=1.0, d_hidden_keep=1.0)
    gan = _gan(config)
    real = torch.rand(8, *SHAPE)
    torch.manual_seed(4)
    z = sample_noise(8, config.noise_dim)
    with torch.no_grad():
        p_real = torch.sigmoid(gan.discriminator(real)).double()
        p_fake = torch.sigmoid(gan.discriminator(gan.generator(z))).double()
    expected_d = 0.5 * (-p_real.log().mean() - (1 - p_fake).log().mean())
    torch.manual_seed(4)
    losses = gan.train_step({"real": real})
    assert losses["D"] == pytest.approx(float(expected_d), rel=1e-5)
    assert losses["D"] == pytest.approx(math.log(2), abs=0.01)
    assert losses["G"] == pytest.approx(float(-p_fake.log().mean()), rel=1e-5)


def test_simultaneous_update_takes_both_gradients_before_either_network_moves():
    """Released code: G's step uses the gradient through the *old* D, from the same samples D's step used."""
    config = dataclasses.replace(TINY, d_input_keep=1.0, d_hidden_keep=1.0, lr=0.05)
    assert GANConfig().update == "simultaneous"
    real = torch.rand(8, *SHAPE, generator=torch.Generator().manual_seed(2))
    gan, oracle = _gan(config), _gan(config)
    torch.manual_seed(4)
    z = sample_noise(8, config.noise_dim)
    fake = oracle.generator(z)
    logit_real, logit_fake = oracle.discriminator(real), oracle.discriminator(fake)
    d_obj = 0.5 * (F.softplus(-logit_real).mean() + F.softplus(logit_fake).mean())
    g_obj = F.softplus(-logit_fake).mean()
    d_grads = torch.autograd.grad(d_obj, list(oracle.discriminator.parameters()), retain_graph=True)
    g_grads = torch.autograd.grad(g_obj, list(oracle.generator.parameters()))
    torch.manual_seed(4)
    gan.train_step({"real": real})
    # First SGD-with-momentum step: p <- p - lr * grad (the momentum buffer starts at the gradient).
    for net, old, grads in ((gan.generator, oracle.generator, g_grads), (gan.discriminator, oracle.discriminator,
                                                                           d_grads)):
        for new, before, grad in zip(net.parameters(), old.parameters(), grads, strict=True):
            assert torch.allclose(new, before - 0.05 * grad, atol=1e-6)
    alternating = _gan(dataclasses.replace(config, update="alternating"))
    torch.manual_seed(4)
    alternating.train_step({"real": real})
    deltas = [(a - o, b - o) for a, b, o in zip(alternating.generator.parameters(), gan.generator.parameters(),
                                                 oracle.generator.parameters(), strict=True)]
    assert any(not torch.allclose(alt, sim, rtol=1e-2, atol=0) for alt, sim in deltas)  # fresh z, updated D


def test_the_update_rule_is_named_and_checked():
    assert "simultaneous" in _gan().provenance()["gan_update"]
    alternating = _gan(dataclasses.replace(TINY, update="alternating", d_steps=2)).provenance()["gan_update"]
    assert alternating.startswith("alternating, k=2") and "Algorithm 1" in alternating
    with pytest.raises(HarnessError, match="gan.d_steps=2 needs gan.update=alternating"):
        validate_config(dataclasses.replace(TINY, d_steps=2), 28)
    for key, bad in (("update", "both"), ("g_loss", "nonsaturating"), ("optimizer", "adamw")):
        with pytest.raises(HarnessError, match=f"gan.{key}={bad!r}"):
            validate_config(dataclasses.replace(TINY, **{key: bad}), 28)
    hints = typing.get_type_hints(GANConfig)
    for key in ("update", "g_loss", "optimizer"):
        assert typing.get_origin(hints[key]) is typing.Literal


def test_no_column_norm_constraint_on_mnist():
    assert GANConfig().max_col_norm == 0.0  # mnist.yaml has none; 1.9365 is a TFD setting
    gan = _gan(dataclasses.replace(TINY, lr=0.5))
    with torch.no_grad():
        for layer in gan.discriminator.modules():
            if isinstance(layer, torch.nn.Linear):
                layer.weight.normal_(0, 1.0)
    before = [m.weight.detach().norm(dim=1).max() for m in gan.discriminator.modules()
              if isinstance(m, torch.nn.Linear)]
    gan.train_step({"real": torch.rand(8, *SHAPE)})
    after = [m.weight.detach().norm(dim=1).max() for m in gan.discriminator.modules()
             if isinstance(m, torch.nn.Linear)]
    assert all(b > 1.9365 for b in before) and all(a > 1.9365 for a in after)


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
    expected_bias = task.data("train", "handwritten").get().mean(0).flatten().clamp(1e-7, 1 - 1e-7)
    assert torch.allclose(torch.sigmoid(gan.generator.net[-1].bias), expected_bias, atol=1e-5)
    batch = gan_batch(task, dataclasses.replace(TINY, d_steps=2), torch.Generator().manual_seed(0))
    assert batch["real"].shape == (16, *SHAPE) and batch["real"].dtype == torch.float32
    assert float(batch["real"].max()) <= 1
    assert isinstance(build_gan(TINY, task, CPU), VanillaGAN)


def test_unknown_optimizer():
    with pytest.raises(HarnessError, match="gan.optimizer='rmsprop'"):
        _gan(dataclasses.replace(TINY, optimizer="rmsprop"))


def test_output_bias_from_marginals_clipped_like_pylearn2():
    """pylearn2 init_sigmoid_bias_from_array: logit(clip(mean, 1e-7, 1 - 1e-7)); an always-black pixel -> -16.1."""
    mean = torch.full(SHAPE, 0.3)
    mean[0, 0, :3] = torch.tensor([0.0, 1.0, 5e-4])
    bias = VanillaGAN(TINY, SHAPE, mean, CPU).generator.net[-1].bias.detach().double()
    expected = [math.log(1e-7 / (1 - 1e-7)), math.log((1 - 1e-7) / 1e-7), math.log(5e-4 / (1 - 5e-4))]
    assert bias[:3].tolist() == pytest.approx(expected, rel=1e-5)
    assert bias[3].item() == pytest.approx(math.log(0.3 / 0.7), rel=1e-5)
