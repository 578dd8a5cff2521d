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
from reference_models.stargan_sng import StarGANPerDataset, build_stargan_models

TINY = StarGANConfig(g_conv_dim=8, d_conv_dim=8, g_repeat_num=1, d_repeat_num=3, batch_size=4, steps=10,
                     decay_steps=5, n_critic=1, datasets="both")  # the joint model (StarGAN-JNT)


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


def _recounted_official(config: StarGANConfig, step: int) -> float:
    """The former O(steps) schedule: replays solver.py's loop, one decrement per qualifying iteration."""
    decay = config.steps // 2 if config.decay_steps == -1 else config.decay_steps
    start = config.steps - decay
    if decay == 0 or step < start:
        return 1.0
    updates = sum(1 for i in range(start + 1, step + 1) if i % config.lr_update_step == 0)
    return 1.0 - updates / decay


@pytest.mark.parametrize(("steps", "decay", "update"), [(2_000, -1, 100), (2_001, 777, 50), (999, 999, 7),
                                                        (5_000, 0, 1000), (1_234, 1_000, 1)])
def test_official_schedule_closed_form_equals_the_recount(steps: int, decay: int, update: int) -> None:
    cfg = StarGANConfig(steps=steps, decay_steps=decay, lr_update_step=update, lr_schedule="official")
    assert [lr_factor(cfg, s) for s in range(steps + 1)] == [_recounted_official(cfg, s) for s in range(steps + 1)]


def test_lr_update_step_must_be_positive() -> None:
    with pytest.raises(HarnessError, match="lr_update_step"):
        validate_config(replace(TINY, lr_update_step=0), 32)


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


def test_each_dataset_gets_its_own_single_dataset_model(one_thread) -> None:
    """StarGAN-SNG: on a task with both datasets, RaFD's rows come from a RaFD-only G and D (Table 3's model)."""
    torch.manual_seed(0)
    task, config = _task(), replace(TINY, datasets="each", rafd_steps=2)
    model = build_stargan_models(config, task, torch.device("cpu"))
    assert isinstance(model, StarGANPerDataset) and model.directions() == ("celeba", "rafd")
    rafd = model.networks_for("rafd")
    assert rafd["G"].main[0].in_channels == 3 + 8 and rafd["D"].conv2.out_channels == 8  # no mask, no CelebA
    assert model.networks_for("celeba")["G"].main[0].in_channels == 3 + 5
    assert set(model.networks()) == {"celeba/G", "celeba/D", "rafd/G", "rafd/D"}
    assert model.models["rafd"].config.steps == 2 and model.models["celeba"].config.steps == TINY.steps
    provenance = model.provenance()["model_train"]
    assert "one model per dataset" in provenance and "rafd model: 2 steps" in provenance
    gen = torch.Generator().manual_seed(0)
    for step in range(3):  # the RaFD model stops after its budget, CelebA's goes on
        losses = model.train_step(stargan_batch(task, config, gen))
        assert any(k.startswith("celeba/") for k in losses)
        assert any(k.startswith("rafd/") for k in losses) == (step < 2)
    assert (model.models["celeba"].step, model.models["rafd"].step) == (3, 2)
    images = task.data("test", "rafd").get(slice(0, 2))
    labels = torch.nn.functional.one_hot(torch.tensor([1, 2]), 8).float()
    out = model.translate(images, dataset="rafd", source=labels, target=labels.flip(0))
    assert torch.equal(out, model.models["rafd"].translate(images, dataset="rafd", source=labels,
                                                           target=labels.flip(0)))
    again = build_stargan_models(config, task, torch.device("cpu"))
    again.load_state_dict(model.state_dict())
    assert again.models["rafd"].step == 2
    with pytest.raises(HarnessError, match="expected"):
        again.load_state_dict({"rafd": model.state_dict()["rafd"]})


def test_each_on_a_single_dataset_task_is_that_datasets_model() -> None:
    model = build_stargan_models(replace(TINY, datasets="each"), _task(datasets=("rafd",)), torch.device("cpu"))
    assert isinstance(model, StarGAN) and model.directions() == ("rafd",) and not model.joint
    with pytest.raises(HarnessError, match="build_stargan_models"):
        build_stargan(replace(TINY, datasets="each"), _task(), torch.device("cpu"))
    with pytest.raises(HarnessError, match="rafd_steps"):
        validate_config(replace(TINY, rafd_steps=TINY.steps + 1), 16)
