"""Pix2Pix at tiny width: every loss and D variant trains, translate contract, resume, determinism, batches."""

from __future__ import annotations

import dataclasses
import random
import typing

import pytest
import torch

from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task
from reference_models.base import count_parameters
from reference_models.cyclegan import CycleGANConfig
from reference_models.pix2pix import (
    LOSSES,
    Pix2Pix,
    Pix2PixConfig,
    build_pix2pix,
    pix2pix_batch,
    validate_config,
)

CPU = torch.device("cpu")
TINY = Pix2PixConfig(ngf=8, ndf=8, num_downs=5, steps=10, decay_steps=5)


pytestmark = pytest.mark.usefixtures("one_thread_module")


def make_task(size: int = 32, n: int = 4, channels: tuple[int, int] = (3, 3), paired: bool = True) -> Task:
    g = torch.Generator().manual_seed(0)
    a = torch.randint(0, 256, (n, channels[0], size, size), generator=g, dtype=torch.uint8)
    b = (255 - a) if channels[0] == channels[1] else torch.randint(0, 256, (n, channels[1], size, size), generator=g,
                                                                    dtype=torch.uint8)
    split = {"labels": DomainData(a), "photo": DomainData(b)}
    return Task(name="fake", domains=("labels", "photo"), paired=paired, label_kinds=(), image_size=size,
                splits={"train": split, "test": split})


def build(config: Pix2PixConfig, task: Task, seed: int = 0) -> Pix2Pix:
    torch.manual_seed(seed)
    return build_pix2pix(config, task, CPU)


def snapshot(model: Pix2Pix) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": v.detach().clone() for n, net in model.networks().items() for k, v in net.state_dict().items()}


def test_paper_networks_parameter_counts():
    with torch.device("meta"):
        model = Pix2Pix(Pix2PixConfig(), 3, 3, torch.device("meta"))
    counts = {name: count_parameters(net) for name, net in model.networks().items()}
    assert counts == {"G_AtoB": 54_413_955, "D_AtoB": 2_768_705, "G_BtoA": 54_413_955, "D_BtoA": 2_768_705}


@pytest.mark.parametrize(("loss", "field", "size"), [(loss, 70, 32) for loss in LOSSES]
                         + [("l1+cgan", 1, 32), ("l1+cgan", 16, 32), ("l1+cgan", 286, 96)])
def test_one_step_changes_weights_and_stays_finite(loss, field, size):
    task = make_task(size=size, n=2)
    config = dataclasses.replace(TINY, loss=loss, d_receptive_field=field, directions=("AtoB",))
    model = build(config, task)
    before = snapshot(model)
    losses = model.train_step(pix2pix_batch(task, config, torch.Generator().manual_seed(1)))
    expected = ({"G_L1"} if "l1" in loss else set()) | ({"G_GAN", "D_real", "D_fake"} if loss != "l1" else set())
    assert set(losses) == {f"AtoB/{k}" for k in expected}
    assert all(torch.isfinite(torch.as_tensor(v)) for v in losses.values())
    after = snapshot(model)
    for net in model.networks():
        assert any(not torch.equal(before[k], after[k]) for k in before if k.startswith(net + ".")), net
    assert set(model.networks()) == ({"G_AtoB", "D_AtoB"} if loss != "l1" else {"G_AtoB"})


def test_encoder_decoder_and_both_directions_with_mixed_channels():
    task = make_task(channels=(1, 3))
    model = build(dataclasses.replace(TINY, generator="encoder_decoder"), task)
    losses = model.train_step(pix2pix_batch(task, TINY, torch.Generator().manual_seed(0)))
    assert {k.split("/")[0] for k in losses} == {"AtoB", "BtoA"}
    assert model.nets["D_AtoB"].model[0].in_channels == 4  # cGAN: D sees (input, output) concatenated
    photos = model.translate(torch.rand(3, 3, 32, 32), direction="BtoA")
    assert photos.shape == (3, 1, 32, 32)


def test_translate_shape_range_batch_independence_and_no_side_effects():
    task = make_task()
    model = build(TINY, task)
    model.train_step(pix2pix_batch(task, TINY, torch.Generator().manual_seed(0)))
    state = snapshot(model)
    x = torch.rand(3, 3, 32, 32)
    torch.manual_seed(5)
    out = model.translate(x, direction="AtoB")
    assert out.shape == (3, 3, 32, 32) and out.dtype == torch.float32 and 0 <= out.min() and out.max() <= 1
    torch.manual_seed(5)
    first = model.translate(x[:1], direction="AtoB")
    assert torch.equal(out[:1], first)  # one image at a time: same result whatever the batch
    assert all(torch.equal(state[k], v) for k, v in snapshot(model).items())  # running stats untouched
    with pytest.raises(HarnessError, match="expected"):
        model.translate(x[:, :1], direction="AtoB")
    only_ab = build(dataclasses.replace(TINY, directions=("AtoB",)), task)
    with pytest.raises(HarnessError, match="'BtoA' was not trained"):
        only_ab.translate(x, direction="BtoA")


def run_steps(model: Pix2Pix, task: Task, config: Pix2PixConfig, seeds: range) -> list[dict[str, float]]:
    out = []
    for seed in seeds:
        torch.manual_seed(1000 + seed)  # dropout draws from the global RNG
        out.append(model.train_step(pix2pix_batch(task, config, torch.Generator().manual_seed(seed))))
    return out


def test_state_dict_round_trip_resumes_identically(tmp_path):
    task = make_task()
    model = build(TINY, task, seed=0)
    run_steps(model, task, TINY, range(3))
    torch.save(model.state_dict(), tmp_path / "ckpt.pt")
    expected = run_steps(model, task, TINY, range(3, 6))
    resumed = build(TINY, task, seed=123)
    resumed.load_state_dict(torch.load(tmp_path / "ckpt.pt", weights_only=True))
    assert resumed.schedulers["G_AtoB"].last_epoch == 3
    assert run_steps(resumed, task, TINY, range(3, 6)) == expected
    assert all(torch.equal(a, b) for a, b in zip(snapshot(model).values(), snapshot(resumed).values(), strict=True))
    with pytest.raises(HarnessError, match="checkpoint holds networks"):
        build(dataclasses.replace(TINY, loss="l1"), task).load_state_dict(model.state_dict())


def test_lr_schedule_decays_linearly():
    task = make_task()
    model = build(TINY, task)
    lrs = []
    for step in range(10):
        lrs.append(model.optimizers["G_AtoB"].param_groups[0]["lr"])  # the rate this step runs at
        run_steps(model, task, TINY, range(step, step + 1))
    # steps=10, decay_steps=5: constant for 5 steps, then 1 - k / 6 (official rule, in steps)
    assert lrs == pytest.approx([2e-4 * f for f in (1, 1, 1, 1, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6)])


def test_determinism_for_a_seed():
    task = make_task()
    runs = [run_steps(build(TINY, task, seed=7), task, TINY, range(2)) for _ in range(2)]
    assert runs[0] == runs[1]
    other = run_steps(build(TINY, task, seed=8), task, TINY, range(2))
    assert other != runs[0]


def test_batch_uses_the_same_indices_in_both_domains():
    task = make_task(n=6)
    config = dataclasses.replace(TINY, batch_size=5)
    batch = pix2pix_batch(task, config, torch.Generator().manual_seed(3))
    # B = 255 - A in the data, so the same crop and flip in both keeps B = 1 - A after the bicubic resize.
    assert batch["A"].shape == (5, 3, 32, 32) and torch.allclose(batch["B"], 1 - batch["A"], atol=1e-5)
    again = pix2pix_batch(task, config, torch.Generator().manual_seed(3))
    assert torch.equal(batch["A"], again["A"])
    with pytest.raises(HarnessError, match="needs a paired task"):
        pix2pix_batch(make_task(paired=False), config, torch.Generator())


@pytest.mark.parametrize(("override", "message"), [
    ({"num_downs": 6}, "num_downs=6"), ({"d_receptive_field": 286}, "both see the whole image.*from 96 px"),
    ({"batch_size": 4}, "batch_size=4 with norm=batch"),
    ({"loss": "l2"}, "loss='l2'"), ({"directions": ("AtoB", "AtoB")}, "directions"),
    ({"generator": "resnet"}, "generator='resnet'"), ({"decay_steps": 20}, "decay_steps=20"),
])
def test_bad_configuration_is_a_harness_error(override, message):
    with pytest.raises(HarnessError, match=message):
        build(dataclasses.replace(TINY, **override), make_task())


def test_batch_is_jittered_like_the_official_pipeline_unless_switched_off(monkeypatch):
    task = make_task(n=6)
    plain = dataclasses.replace(TINY, batch_size=8, jitter=False)
    raw = pix2pix_batch(task, plain, torch.Generator().manual_seed(3))
    index = torch.randint(0, 6, (8,), generator=torch.Generator().manual_seed(3))
    assert torch.equal(raw["A"], task.data("train", "labels").get(index))  # off: the stored images as they are
    for name in ("random", "randint", "uniform", "shuffle"):  # all randomness from the explicit generator
        monkeypatch.setattr(random, name, lambda *a, **k: pytest.fail("host-side random used"))
    jittered = pix2pix_batch(task, dataclasses.replace(plain, jitter=True), torch.Generator().manual_seed(3))
    assert jittered["A"].shape == raw["A"].shape and not torch.allclose(jittered["A"], raw["A"], atol=0.05)
    assert Pix2PixConfig().jitter is True


def test_schedule_defaults_are_the_pytorch_linear_policy_like_cyclegan():
    paper = Pix2PixConfig()
    assert (paper.steps, paper.decay_steps, paper.batch_size) == (595_000, -1, 1)  # -1: decay over the second half
    assert (CycleGANConfig().steps, CycleGANConfig().decay_steps) == (paper.steps, paper.decay_steps)
    config = dataclasses.replace(TINY, decay_steps=-1)  # steps=10: 5 constant, then 1 - k / 6
    model = build(config, make_task())
    assert [model.schedulers["G_AtoB"].lr_lambdas[0](t) for t in range(10)] == pytest.approx(
        [1, 1, 1, 1, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6])
    assert "10 steps, lr constant then linear to 0 over the last 50%" in model.provenance()["model_train"]
    with pytest.raises(HarnessError, match="pix2pix.decay_steps=-2 must be -1"):
        validate_config(dataclasses.replace(TINY, decay_steps=-2), 32)


def test_batch_norm_trains_at_batch_one_and_the_choice_is_stated():
    validate_config(dataclasses.replace(TINY, batch_size=4, norm="instance"), 32)  # no batch statistics: fine
    with pytest.raises(HarnessError, match="use batch_size=1"):
        validate_config(dataclasses.replace(TINY, batch_size=2), 32)
    model = build(TINY, make_task())
    provenance = model.provenance()
    assert provenance["model_train"].startswith("batch 1 (each image's own batch-norm statistics)")
    train = provenance["model_train"]
    assert "linear to 0 over the last 50%" in train and "resize_and_crop" in train
    assert provenance["model_test"].startswith("one image at a time in train mode (dropout on")
    assert not any(c in v for v in provenance.values() for c in ";=")


def test_choice_fields_are_literals():
    hints = typing.get_type_hints(Pix2PixConfig)
    for name, choices in (("norm", ("batch", "instance", "none")), ("generator", ("unet", "encoder_decoder")),
                          ("loss", LOSSES)):
        assert typing.get_origin(hints[name]) is typing.Literal and typing.get_args(hints[name]) == tuple(choices)
    assert typing.get_args(typing.get_args(hints["directions"])[0]) == ("AtoB", "BtoA")
    with pytest.raises(HarnessError, match="norm='group'"):
        validate_config(dataclasses.replace(TINY, norm="group"), 32)


@pytest.mark.parametrize(("size", "num_downs", "smallest"), [(64, 5, 96), (32, 5, 96), (64, 6, 128)])
def test_a_receptive_field_ablation_that_means_nothing_is_refused(size, num_downs, smallest):
    config = dataclasses.replace(TINY, d_receptive_field=286, num_downs=num_downs)
    with pytest.raises(HarnessError, match=f"both see the whole image.*differ from {smallest} px"):
        validate_config(config, size)
    validate_config(dataclasses.replace(TINY, d_receptive_field=16), 32)  # 16 < 32: a real PatchGAN
    validate_config(dataclasses.replace(TINY, d_receptive_field=286), 96)
    validate_config(dataclasses.replace(TINY, d_receptive_field=1), 32)
