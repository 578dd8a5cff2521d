"""StarGAN: official parameter counts, the mask vector, the gradient penalty, a tiny training step."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task
from reference_models.base import count_parameters
from reference_models.stargan import (
    StarGAN,
    StarGANConfig,
    build_stargan,
    lr_factor,
    stargan_batch,
    validate_config,
)
from reference_models.stargan_networks import Discriminator, Generator, gradient_penalty

TINY = StarGANConfig(g_conv_dim=8, d_conv_dim=8, g_repeat_num=1, d_repeat_num=3, batch_size=4, steps=10,
                     decay_steps=5, n_critic=1)


def test_parameter_counts_match_the_official_code_at_128_px() -> None:
    # yunjey/stargan model.py with c_dim=5 (CelebA, five attributes), image_size=128, conv_dim=64, repeat_num=6.
    assert count_parameters(Generator(64, 5, 6)) == 8_430_528
    assert count_parameters(Discriminator(128, 64, 5, 6)) == 44_762_048
    # Joint training (solver.build_model, dataset="Both"): G sees 5 + 8 + 2 mask channels, D classifies 13 domains.
    assert count_parameters(Generator(64, 15, 6)) == 8_430_528 + 10 * 64 * 7 * 7
    assert count_parameters(Discriminator(128, 64, 13, 6)) == 44_762_048 + 8 * 2048 * 2 * 2


def _task(size: int = 16, datasets: tuple[str, ...] = ("celeba", "rafd")) -> Task:
    gen = torch.Generator().manual_seed(0)
    parts = {}
    if "celeba" in datasets:
        attrs = torch.zeros(12, 5)
        attrs[torch.arange(12), torch.arange(12) % 3] = 1
        attrs[:, 3:] = (torch.rand(12, 2, generator=gen) > 0.5).float()
        parts["celeba"] = DomainData(torch.randint(0, 256, (12, 3, size, size), dtype=torch.uint8, generator=gen),
                                     {"attributes": attrs, "identity": torch.arange(12)})
    if "rafd" in datasets:
        parts["rafd"] = DomainData(torch.randint(0, 256, (16, 3, size, size), dtype=torch.uint8, generator=gen),
                                   {"expression": torch.arange(16) % 8, "identity": torch.arange(16) // 8})
    meta = {"attribute_names": ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"),
            "expression_names": ("angry", "contemptuous", "disgusted", "fearful", "happy", "neutral", "sad",
                                 "surprised"), "n_identities": 12, "neutral": "neutral"}
    return Task("tiny_faces", tuple(parts), False, ("attributes",), size, {"train": parts, "test": parts}, meta)


def test_mask_vector_per_dataset() -> None:
    model = build_stargan(TINY, _task(), torch.device("cpu"))
    celeba = torch.tensor([[1.0, 0, 0, 1, 0]])
    rafd = torch.nn.functional.one_hot(torch.tensor([4]), 8).float()
    assert model.condition("celeba", celeba).tolist() == [[1, 0, 0, 1, 0] + [0] * 8 + [1, 0]]
    assert model.condition("rafd", rafd).tolist() == [[0] * 5 + [0, 0, 0, 0, 1, 0, 0, 0] + [0, 1]]
    single = build_stargan(replace(TINY, datasets="celeba"), _task(), torch.device("cpu"))
    assert single.condition("celeba", celeba).tolist() == celeba.tolist()  # one dataset: no mask vector
    assert model.nets["G"].main[0].in_channels == 3 + 15 and single.nets["G"].main[0].in_channels == 3 + 5


def test_gradient_penalty_on_hand_cases() -> None:
    x = torch.tensor([[1.0, 2.0], [0.5, -1.0]], requires_grad=True)
    linear = (x * torch.tensor([3.0, 4.0])).sum(1)  # gradient (3, 4) everywhere: norm 5, penalty (5 - 1)^2 = 16
    assert gradient_penalty(linear, x).item() == pytest.approx(16.0)
    square = (x**2).sum(1) / 2  # gradient x: norms sqrt(5) and sqrt(1.25)
    expected = ((5**0.5 - 1) ** 2 + (1.25**0.5 - 1) ** 2) / 2
    assert gradient_penalty(square, x).item() == pytest.approx(expected)


def test_lr_schedules() -> None:
    cfg = StarGANConfig(steps=200_000)  # decay over the second half: the official num_iters_decay 100k
    assert lr_factor(cfg, 100_000) == 1.0 and lr_factor(cfg, 150_000) == pytest.approx(0.5)
    assert lr_factor(cfg, 199_999) == pytest.approx(1e-5)
    official = replace(cfg, lr_schedule="official")
    assert lr_factor(official, 199_999) == pytest.approx(1 - 99 / 100_000)  # the code's 0.1 % in 100 decrements
    assert lr_factor(official, 101_000) == pytest.approx(1 - 1 / 100_000)


def test_tiny_training_step_is_finite_and_updates_both_networks(one_thread) -> None:
    torch.manual_seed(0)
    task = _task()
    model = build_stargan(TINY, task, torch.device("cpu"))
    before = {k: [p.detach().clone() for p in v.parameters()] for k, v in model.nets.items()}
    losses = model.train_step(stargan_batch(task, TINY, torch.Generator().manual_seed(0)))
    assert {"celeba/D/loss_gp", "rafd/G/loss_rec", "celeba/G/loss_cls"} <= set(losses)
    assert all(torch.isfinite(torch.as_tensor(v)) for v in losses.values())
    for name, net in model.nets.items():
        assert any(not torch.equal(a, b) for a, b in zip(before[name], net.parameters(), strict=True)), name
    images = task.data("test", "rafd").get(slice(0, 4))
    labels = torch.nn.functional.one_hot(torch.tensor([1, 2, 3, 4]), 8).float()
    out = model.translate(images, dataset="rafd", source=labels, target=labels.flip(0))
    assert out.shape == images.shape and 0 <= out.min() and out.max() <= 1
    one = model.translate(images[:1], dataset="rafd", source=labels[:1], target=labels.flip(0)[:1])
    assert torch.allclose(one, out[:1], atol=1e-6)  # instance statistics: independent of the batch


def test_state_round_trip_and_checks() -> None:
    task = _task()
    a, b = (build_stargan(TINY, task, torch.device("cpu")) for _ in range(2))
    a.train_step(stargan_batch(task, TINY, torch.Generator().manual_seed(0)))
    b.load_state_dict(a.state_dict())
    assert b.step == 1 and all(torch.equal(x, y) for x, y in zip(a.nets["G"].parameters(), b.nets["G"].parameters(),
                                                                   strict=True))
    with pytest.raises(HarnessError, match="d_repeat_num"):
        validate_config(StarGANConfig(), 32)
    with pytest.raises(HarnessError, match="stargan.datasets"):
        build_stargan(replace(TINY, datasets="rafd"), _task(datasets=("celeba",)), torch.device("cpu"))
    assert isinstance(a, StarGAN) and a.directions() == ("celeba", "rafd")
