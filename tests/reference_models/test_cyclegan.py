"""CycleGAN at tiny width: ablations train, identity rule, translate contract, resume with pools, batches."""

from __future__ import annotations

import dataclasses
import random
import typing

import pytest
import torch

from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task
from reference_models.base import count_parameters
from reference_models.cyclegan import CycleGAN, CycleGANConfig, build_cyclegan, cyclegan_batch

CPU = torch.device("cpu")
TINY = CycleGANConfig(ngf=8, ndf=8, n_blocks=2, pool_size=2, steps=10, decay_steps=5)
ALL_TERMS = {"G_A", "G_B", "cycle_A", "cycle_B", "idt_A", "idt_B", "D_A", "D_B"}


pytestmark = pytest.mark.usefixtures("one_thread_module")


def make_task(size: int = 32, n: int = 6, channels: tuple[int, int] = (3, 3), meta: dict | None = None) -> Task:
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 128, (n, channels[0], size, size), generator=g, dtype=torch.uint8)  # A in [0, 127]
    b = torch.randint(128, 256, (n, channels[1], size, size), generator=g, dtype=torch.uint8)  # B in [128, 255]
    split = {"labels": DomainData(a), "photo": DomainData(b)}
    halves = {"labels": DomainData(a[: n // 2]), "photo": DomainData(b[n // 2:])}
    return Task(name="fake", domains=("labels", "photo"), paired=True, label_kinds=(), image_size=size,
                splits={"train": split, "test": split}, meta=meta or {}, unpaired_train=halves)


def build(config: CycleGANConfig, task: Task, seed: int = 0) -> CycleGAN:
    torch.manual_seed(seed)
    return build_cyclegan(config, task, CPU)


def snapshot(model: CycleGAN) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": v.detach().clone() for n, net in model.networks().items() for k, v in net.state_dict().items()}


def run_steps(model: CycleGAN, task: Task, config: CycleGANConfig, seeds: range) -> list[dict[str, float]]:
    return [model.train_step(cyclegan_batch(task, config, torch.Generator().manual_seed(s))) for s in seeds]


def test_paper_networks_parameter_counts():
    with torch.device("meta"):
        nine = CycleGAN(CycleGANConfig(), 3, 3, torch.device("meta"))
        six = CycleGAN(CycleGANConfig(n_blocks=6), 3, 3, torch.device("meta"))
    assert {k: count_parameters(v) for k, v in nine.networks().items()} == {
        "G_A": 11_378_179, "G_B": 11_378_179, "D_A": 2_764_737, "D_B": 2_764_737}
    assert count_parameters(six.networks()["G_A"]) == 7_837_699


@pytest.mark.parametrize(("overrides", "terms"), [
    ({}, ALL_TERMS),
    ({"use_forward_cycle": False, "use_backward_cycle": False}, ALL_TERMS - {"cycle_A", "cycle_B"}),
    ({"use_gan": False}, {"cycle_A", "cycle_B", "idt_A", "idt_B"}),
    ({"use_backward_cycle": False}, ALL_TERMS - {"cycle_B"}),
    ({"use_forward_cycle": False}, ALL_TERMS - {"cycle_A"}),
])
def test_every_ablation_trains_one_step(overrides, terms):
    task = make_task()
    config = dataclasses.replace(TINY, **overrides)
    model = build(config, task)
    before = snapshot(model)
    losses = run_steps(model, task, config, range(1))[0]
    assert set(losses) == terms and all(torch.isfinite(torch.as_tensor(v)) for v in losses.values())
    after = snapshot(model)
    for net in model.networks():
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(net + ".")), net
    assert ("D_A" in model.networks()) == config.use_gan


def test_identity_rule():
    assert build(TINY, make_task()).effective_lambda_identity == 0.5
    labels = build(TINY, make_task(meta={"label_domain": "labels"}))
    assert labels.effective_lambda_identity == 0.0
    assert not {"idt_A", "idt_B"} & set(run_steps(labels, make_task(), TINY, range(1))[0])
    assert build(TINY, make_task(channels=(1, 3))).effective_lambda_identity == 0.0


def test_losses_match_hand_computation_after_zero_steps():
    """The first step's G terms equal an independent recomputation from the networks (before any update)."""
    task = make_task()
    model = build(TINY, task)
    batch = cyclegan_batch(task, TINY, torch.Generator().manual_seed(0))
    a, b = batch["A"] * 2 - 1, batch["B"] * 2 - 1
    g_a, g_b, d_a = model.nets["G_A"], model.nets["G_B"], model.nets["D_A"]
    with torch.no_grad():
        cycle_a = (g_b(g_a(a)) - a).abs().mean().item() * 10
        cycle_b = (g_a(g_b(b)) - b).abs().mean().item() * 10
        idt_b = (g_b(a) - a).abs().mean().item() * 10 * 0.5
        gan_a = ((d_a(g_a(a)) - 1) ** 2).mean().item()
    losses = model.train_step(batch)
    assert losses["cycle_A"] == pytest.approx(cycle_a, rel=1e-5)
    assert losses["cycle_B"] == pytest.approx(cycle_b, rel=1e-5)
    assert losses["idt_B"] == pytest.approx(idt_b, rel=1e-5)
    assert losses["G_A"] == pytest.approx(gan_a, rel=1e-5)


def test_translate_shapes_ranges_and_batch_independence():
    model = build(TINY, make_task(channels=(1, 3)))
    x = torch.rand(3, 1, 32, 32)
    out = model.translate(x, direction="AtoB")
    assert out.shape == (3, 3, 32, 32) and out.dtype == torch.float32 and 0 <= out.min() and out.max() <= 1
    assert torch.allclose(out[1:2], model.translate(x[1:2]), atol=1e-6)
    back = model.translate(out, direction="BtoA")
    assert back.shape == (3, 1, 32, 32) and 0 <= back.min() and back.max() <= 1
    with pytest.raises(HarnessError, match="direction 'AtoA'"):
        model.translate(x, direction="AtoA")
    with pytest.raises(HarnessError):
        model.translate(out, direction="AtoB")  # 3-channel images for a 1-channel source


def test_state_dict_round_trip_with_pools_resumes_identically(tmp_path):
    task = make_task()
    model = build(TINY, task, seed=0)
    run_steps(model, task, TINY, range(4))  # pool of 2 is full: the random swap path has been taken
    assert len(model.pools["fake_A"].images) == 2
    torch.save(model.state_dict(), tmp_path / "ckpt.pt")
    expected = run_steps(model, task, TINY, range(4, 7))
    resumed = build(TINY, task, seed=99)
    resumed.load_state_dict(torch.load(tmp_path / "ckpt.pt", weights_only=True))
    assert run_steps(resumed, task, TINY, range(4, 7)) == expected
    assert all(torch.equal(a, b) for a, b in zip(snapshot(model).values(), snapshot(resumed).values(), strict=True))
    assert resumed.optimizers["G"].param_groups[0]["lr"] == pytest.approx(2e-4 * 3 / 6)  # step t=7: 1 - 3/6
    with pytest.raises(HarnessError, match="checkpoint holds networks"):
        build(dataclasses.replace(TINY, use_gan=False), task).load_state_dict(model.state_dict())


def test_determinism_for_a_seed():
    task = make_task()
    runs = [run_steps(build(TINY, task, seed=3), task, TINY, range(3)) for _ in range(2)]
    assert runs[0] == runs[1]
    assert run_steps(build(TINY, task, seed=4), task, TINY, range(3)) != runs[0]


def drawn_indices(batch: torch.Tensor, pool: torch.Tensor) -> list[int]:
    return [next(i for i, ref in enumerate(pool) if torch.equal(img, ref)) for img in batch]


def test_batch_draws_a_and_b_independently_from_the_whole_train_split_by_default():
    task = make_task(n=8)
    config = dataclasses.replace(TINY, batch_size=32, jitter=False)
    assert CycleGANConfig().train_split == "whole"
    batch = cyclegan_batch(task, config, torch.Generator().manual_seed(0))
    index_a = drawn_indices(batch["A"], task.data("train", "labels").get())
    index_b = drawn_indices(batch["B"], task.data("train", "photo").get())
    assert set(index_a) == set(index_b) == set(range(8))  # both domains reach every training image
    assert index_a != index_b  # drawn independently (unaligned_dataset.py: index_B = randint)


def test_disjoint_halves_is_a_named_option():
    task = make_task(n=8)
    config = dataclasses.replace(TINY, batch_size=16, jitter=False, train_split="disjoint_halves")
    batch = cyclegan_batch(task, config, torch.Generator().manual_seed(0))
    index_a = drawn_indices(batch["A"], task.unpaired_train["labels"].get())
    index_b = drawn_indices(batch["B"], task.unpaired_train["photo"].get())
    assert index_a != index_b
    assert "disjoint halves" in build(config, task).provenance()["model_train"]


def test_jitter_by_default_and_every_draw_from_the_generator(monkeypatch):
    task = make_task(n=8)
    for name in ("random", "randint", "uniform", "shuffle"):
        monkeypatch.setattr(random, name, lambda *a, **k: pytest.fail("host-side random used"))
    batch = cyclegan_batch(task, dataclasses.replace(TINY, batch_size=4), torch.Generator().manual_seed(0))
    pool = task.data("train", "labels").get()
    assert batch["A"].shape == (4, 3, 32, 32)
    assert not any(torch.equal(img, ref) for img in batch["A"] for ref in pool)  # resized, cropped (and flipped)
    again = cyclegan_batch(task, dataclasses.replace(TINY, batch_size=4), torch.Generator().manual_seed(0))
    assert torch.equal(batch["A"], again["A"]) and torch.equal(batch["B"], again["B"])


def test_networks_can_work_at_their_own_size_like_the_paper_cityscapes_run():
    task = make_task(size=64)
    config = dataclasses.replace(TINY, image_size=32, n_blocks=1)
    batch = cyclegan_batch(task, config, torch.Generator().manual_seed(0))
    assert batch["A"].shape == (1, 3, 32, 32) and batch["B"].shape == (1, 3, 32, 32)
    model = build(config, task)
    run_steps(model, task, config, range(1))
    out = model.translate(torch.rand(2, 3, 64, 64), direction="AtoB")
    assert out.shape == (2, 3, 64, 64) and 0 <= out.min() and out.max() <= 1
    assert model.provenance()["model_size"].startswith("32 px networks with 1 residual blocks")
    assert "model_size" not in build(TINY, make_task()).provenance()
    with pytest.raises(HarnessError, match="at least 24 px"):
        build(dataclasses.replace(TINY, image_size=20), task)


def test_choice_fields_are_literals_and_the_schedule_is_stated():
    hints = typing.get_type_hints(CycleGANConfig)
    for name, choices in (("norm", ("batch", "instance", "none")), ("gan_mode", ("vanilla", "lsgan")),
                          ("train_split", ("whole", "disjoint_halves"))):
        assert typing.get_origin(hints[name]) is typing.Literal and typing.get_args(hints[name]) == choices
    train = build(TINY, make_task()).provenance()["model_train"]
    assert train.startswith("batch 1, 10 steps, lr constant then linear to 0 over the last 50%, A and B drawn")


@pytest.mark.parametrize(("override", "message"), [
    ({"norm": "group"}, "norm='group'"), ({"gan_mode": "wgan"}, "gan_mode='wgan'"),
    ({"train_split": "halves"}, "train_split='halves'"), ({"image_size": 30}, "divisible by 4, got 30"),
    ({"use_gan": False, "use_forward_cycle": False, "use_backward_cycle": False}, "nothing to train"),
])
def test_bad_configuration_is_a_harness_error(override, message):
    with pytest.raises(HarnessError, match=message):
        build(dataclasses.replace(TINY, **override), make_task())
    with pytest.raises(HarnessError, match="at least 24 px"):
        build(TINY, make_task(size=20))
