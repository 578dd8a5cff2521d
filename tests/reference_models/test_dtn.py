"""DTN: the ternary discriminator's targets, the losses, a tiny-width step (f frozen, g changes), checkpoints."""

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from harness.core.atomic import torch_load, torch_save
from harness.core.cache import weights_sha256
from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task
from reference_models.base import count_parameters
from reference_models.dtn import (
    DTN,
    SOURCE_FAKE,
    TARGET_FAKE,
    TARGET_REAL,
    Decoder,
    DTNConfig,
    TernaryDiscriminator,
    build_dtn,
    discriminator_loss,
    dtn_batch,
    generator_gan_loss,
    total_variation,
    validate_config,
)

pytestmark = pytest.mark.usefixtures("one_thread_module")
CPU = torch.device("cpu")
TINY = DTNConfig(ngf=4, ndf=4, batch_size=4, steps=2)


class TinyF(nn.Module):
    """A small fixed representation with the contract of DTN's f: [0, 1] images (1 or 3 channels) → (N, 8)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        return self.conv(x * 2 - 1).amax((2, 3))


def _model(config: DTNConfig = TINY) -> DTN:
    torch.manual_seed(0)
    return DTN(config, TinyF(), 3, CPU)


def _batch(n: int = 4, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"source": torch.rand(n, 3, 32, 32, generator=g), "target": torch.rand(n, 1, 32, 32, generator=g)}


def _one_hot_logits(cls: int, n: int = 5) -> torch.Tensor:
    return F.one_hot(torch.full((n,), cls), 3).float() * 50.0


def test_ternary_targets_for_each_input_kind():
    # D is right when it calls G(source) D1, G(target) D2 and real target D3: L_D ~ 0; any swap costs ~50 per kind.
    right = discriminator_loss(_one_hot_logits(SOURCE_FAKE), _one_hot_logits(TARGET_FAKE), _one_hot_logits(TARGET_REAL))
    assert right.item() < 1e-6
    assert (SOURCE_FAKE, TARGET_FAKE, TARGET_REAL) == (0, 1, 2)
    for wrong in ((TARGET_REAL, TARGET_FAKE, TARGET_REAL), (SOURCE_FAKE, TARGET_REAL, TARGET_REAL),
                  (SOURCE_FAKE, TARGET_FAKE, SOURCE_FAKE), (TARGET_FAKE, SOURCE_FAKE, TARGET_REAL)):
        assert discriminator_loss(*(_one_hot_logits(c) for c in wrong)).item() > 49
    # G wins when D takes both kinds of generated images for real targets (D3), and only then.
    assert generator_gan_loss(_one_hot_logits(TARGET_REAL), _one_hot_logits(TARGET_REAL)).item() < 1e-6
    assert generator_gan_loss(_one_hot_logits(SOURCE_FAKE), _one_hot_logits(TARGET_REAL)).item() > 49
    assert generator_gan_loss(_one_hot_logits(TARGET_REAL), _one_hot_logits(TARGET_FAKE)).item() > 49
    # Uniform logits: each term is log 3.
    uniform = torch.zeros(7, 3)
    assert math.isclose(discriminator_loss(uniform, uniform, uniform).item(), 3 * math.log(3), rel_tol=1e-6)


def test_discriminator_step_pushes_each_kind_to_its_class():
    # With g held still (lr 0), train_step's D steps alone must teach D: G(source) → D1, G(target) → D2, t → D3.
    model = _model(DTNConfig(ngf=4, ndf=4, batch_size=8, lr=2e-3))
    for group in model.optimizers["g"].param_groups:
        group["lr"] = 0.0
    g = torch.Generator().manual_seed(0)
    batch = {"source": 0.7 + 0.3 * torch.rand(8, 3, 32, 32, generator=g),
             "target": 0.3 * torch.rand(8, 1, 32, 32, generator=g)}
    losses = [model.train_step(batch)["D"] for _ in range(20)]
    with torch.no_grad():
        kinds = (model.G(batch["source"]), model.G(batch["target"]), batch["target"] * 2 - 1)
        predicted = [model.nets["D"](x).argmax(1) for x in kinds]
    assert losses[-1] < losses[0] / 2
    assert [p.tolist() for p in predicted] == [[SOURCE_FAKE] * 8, [TARGET_FAKE] * 8, [TARGET_REAL] * 8]


def test_tiny_step_is_finite_changes_g_and_d_and_leaves_f_frozen():
    model = _model()
    f_hash = weights_sha256(model.f.state_dict())
    before = {name: [p.detach().clone() for p in net.parameters()] for name, net in model.nets.items()}
    for seed in range(2):
        losses = model.train_step(_batch(seed=seed))
        assert set(losses) == {"D", "GANG", "CONST", "TID", "G"} and all(math.isfinite(v) for v in losses.values())
    for name, net in model.nets.items():
        assert any(not torch.equal(a, b) for a, b in zip(before[name], net.parameters(), strict=True)), name
    assert weights_sha256(model.f.state_dict()) == f_hash == model.f_sha256
    assert all(p.grad is None and not p.requires_grad for p in model.f.parameters())
    assert not model.f.training


def test_loss_weights_and_ablations():
    batch = _batch()
    plain = _model(DTNConfig(ngf=4, ndf=4, batch_size=4, alpha=1.0, beta=1.0)).train_step(batch)
    heavy = _model(DTNConfig(ngf=4, ndf=4, batch_size=4, alpha=15.0, beta=15.0, gamma=2.0)).train_step(batch)
    assert math.isclose(heavy["CONST"], 15 * plain["CONST"], rel_tol=1e-4)
    assert math.isclose(heavy["TID"], 15 * plain["TID"], rel_tol=1e-4)
    assert heavy["TV"] > 0
    assert "CONST" not in _model(DTNConfig(ngf=4, ndf=4, batch_size=4, alpha=0.0)).train_step(batch)
    assert "TID" not in _model(DTNConfig(ngf=4, ndf=4, batch_size=4, beta=0.0)).train_step(batch)


def test_loss_terms_restated():
    # L_TID and L_CONST as the paper writes them (MSE), and L_TV with B = 1, computed by hand.
    model = _model()
    batch = _batch()
    t = batch["target"] * 2 - 1
    g_t = model.G(batch["target"])
    assert g_t.shape == (4, 1, 32, 32) and g_t.abs().max() <= 1
    z = torch.tensor([[[[0.0, 3.0], [4.0, 0.0]]]])
    assert math.isclose(total_variation(z, eps=0.0).item(), 5.0)  # one pixel: sqrt(3² + 4²)
    assert F.mse_loss(t, t).item() == 0


def test_translate_range_batch_independence_and_direction():
    model = _model()
    model.train_step(_batch())
    x = torch.rand(6, 3, 40, 40)
    out = model.translate(x)
    assert out.shape == (6, 1, 32, 32) and 0 <= out.min() and out.max() <= 1
    assert torch.allclose(torch.cat([model.translate(x[:2]), model.translate(x[2:])]), out, atol=1e-6)
    assert model.directions() == ("AtoB",) and model.nets["g"].training
    with pytest.raises(HarnessError, match="direction"):
        model.translate(x, direction="BtoA")
    with pytest.raises(HarnessError):
        model.translate(torch.rand(2, 1, 32, 32))


def test_checkpoint_roundtrip_and_other_f_rejected(tmp_path):
    model = _model()
    model.train_step(_batch())
    torch_save(model.state_dict(), tmp_path / "m.pt")
    state = torch_load(tmp_path / "m.pt")
    fresh = _model()
    fresh.load_state_dict(state)
    x = torch.rand(3, 3, 32, 32)
    assert torch.equal(fresh.translate(x), model.translate(x))
    torch.manual_seed(1)
    other = DTN(TINY, TinyF(), 3, CPU)
    with pytest.raises(HarnessError, match="trained with f"):
        other.load_state_dict(state)


def test_paper_width_parameter_counts():
    # Restated by hand from the architecture (ngf 64, ndf 128; no bias before batch norm, DCGAN):
    # g: 128·512·16 + 2·512 + 512·256·16 + 2·256 + 256·128·16 + 2·128 + 128·1·16 + 1
    assert count_parameters(Decoder(128, 64)) == 1_048_576 + 1_024 + 2_097_152 + 512 + 524_288 + 256 + 2_049
    # D: (1·128·16 + 128) + 128·256·16 + 2·256 + 256·512·16 + 2·512 + (512·3·16 + 3)
    assert count_parameters(TernaryDiscriminator(128)) == 2_176 + 524_288 + 512 + 2_097_152 + 1_024 + 24_579


def test_builder_batches_and_config_checks():
    g = torch.Generator().manual_seed(0)
    labels = {"class": torch.zeros(6, dtype=torch.int64)}
    split = {"printed": DomainData(torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8, generator=g), labels),
             "handwritten": DomainData(torch.randint(0, 256, (6, 1, 28, 28), dtype=torch.uint8, generator=g), labels)}
    task = Task(name="t", domains=("printed", "handwritten"), paired=False, label_kinds=("class",), image_size=32,
                splits={"train": split, "test": split})
    batch = dtn_batch(task, TINY, torch.Generator().manual_seed(0))
    assert batch["source"].shape == (4, 3, 32, 32) and batch["target"].shape == (4, 1, 32, 32)
    assert 0 <= batch["target"].min() and batch["target"].max() <= 1
    model = build_dtn(TINY, task, CPU, TinyF())
    assert set(model.networks()) == {"g", "D", "f"}
    assert math.isfinite(model.train_step(batch)["G"])
    swapped = Task(name="t", domains=("handwritten", "printed"), paired=False, label_kinds=(), image_size=32,
                   splits={"train": split})
    with pytest.raises(HarnessError, match="grey"):
        build_dtn(TINY, swapped, CPU, TinyF())
    for bad in (DTNConfig(alpha=-1), DTNConfig(steps=0), DTNConfig(beta1=1.0), DTNConfig(gamma=float("nan"))):
        with pytest.raises(HarnessError, match="dtn"):
            validate_config(bad, 32)


def test_provenance_states_training_size_and_the_frozen_f():
    model = _model(DTNConfig(ngf=4, ndf=4, batch_size=4, steps=7, alpha=0.0))
    prov = model.provenance()
    assert set(prov) == {"model_train", "model_test", "model_size", "model_f"}
    assert prov["model_train"].startswith("batch 4 per domain, 7 steps of one D then one g update (the unofficial "
                                          "code's iteration: 3 D and 10 g updates), Adam lr 0.0003 betas (0.5, "
                                          "0.999) constant")
    assert "alpha 0, beta 15, gamma 0" in prov["model_train"]
    assert prov["model_size"] == "ngf 4, ndf 4" and "eval mode" in prov["model_test"]
    assert prov["model_f"] == f"frozen, weights sha256 {weights_sha256(model.f.state_dict())[:12]}"
    assert all(";" not in v and "=" not in v for v in prov.values())  # the row's protocol is "key=value; ..."


def test_without_d_and_tid_trains_g_on_l_const_alone():
    model = _model(DTNConfig(ngf=4, ndf=4, batch_size=4, steps=2, use_gan=False, beta=0.0))
    assert set(model.networks()) == {"g", "f"} and set(model.optimizers) == {"g"}
    before = [p.detach().clone() for p in model.nets["g"].parameters()]
    losses = model.train_step(_batch())
    assert set(losses) == {"CONST", "G"} and losses["G"] == pytest.approx(losses["CONST"])
    assert any(not torch.equal(a, b) for a, b in zip(before, model.nets["g"].parameters(), strict=True))
    assert "one g update, no D" in model.provenance()["model_train"]
    with pytest.raises(HarnessError, match="no loss"):
        validate_config(DTNConfig(use_gan=False, alpha=0.0, beta=0.0), 32)


def test_g_without_f_trains_a_fresh_copy_of_f_and_keeps_f_fixed(tmp_path):
    config = DTNConfig(ngf=4, ndf=4, batch_size=4, steps=2, g_contains_f=False)
    model = _model(config)
    f_before = {k: v.clone() for k, v in model.f.state_dict().items()}
    e = model.nets["e"]
    assert e is not model.f and e.conv.weight.requires_grad and not model.f.conv.weight.requires_grad
    assert not torch.equal(e.conv.weight, model.f.conv.weight)  # re-initialised, not f's weights
    e_before = e.conv.weight.detach().clone()
    model.train_step(_batch())
    assert not torch.equal(e.conv.weight, e_before)  # e trains with g
    assert all(torch.equal(v, model.f.state_dict()[k]) for k, v in f_before.items())  # f does not
    x = torch.rand(3, 3, 32, 32)
    assert torch.equal(model.translate(x), (model.nets["g"].eval()(e.eval()(x)) + 1).div(2).clamp(0, 1))
    torch_save(model.state_dict(), tmp_path / "m.pt")
    fresh = _model(config)
    fresh.load_state_dict(torch_load(tmp_path / "m.pt"))
    assert torch.equal(fresh.translate(x), model.translate(x))
    assert "G is g of e" in model.provenance()["model_train"]
