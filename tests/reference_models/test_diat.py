"""DIAT / DIAT-A: the paper's structure, each training stage finite and updating its own networks."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
from torch import nn

from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task
from reference_models.diat import DIATConfig, IdentityFeatures, build_diat, diat_batch, validate_config
from reference_models.diat_networks import attribute_mask, feature_loss

TINY = DIATConfig(ngf=8, ndf=8, n_blocks=2, enhance_blocks=1, denoise_channels=4, batch_size=3, steps=6,
                  denoise_steps=2, enhance_steps=2)


class _Features(nn.Module):
    """A fixed random two-layer feature net standing in for VGG-Face."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        first = torch.relu(self.a(x))
        return [first, torch.relu(self.b(first))]


def _task(size: int = 16) -> Task:
    gen = torch.Generator().manual_seed(0)
    a = DomainData(torch.randint(0, 256, (8, 3, size, size), dtype=torch.uint8, generator=gen))
    b = DomainData(torch.randint(0, 256, (8, 3, size, size), dtype=torch.uint8, generator=gen))
    return Task("pair", ("A", "B"), False, (), size, {"train": {"A": a, "B": b}})


def test_transform_network_has_the_papers_layers() -> None:
    # v1 [S]: 3 conv layers, 5 residual blocks of 2 convs, 2 deconvolutions, 1 conv.
    model = build_diat(DIATConfig(ngf=8, ndf=8), _task(), torch.device("cpu"), IdentityFeatures(_Features(), "x"))
    t = model.nets["T"]
    assert sum(isinstance(m, nn.Conv2d) for m in t.modules()) == 3 + 5 * 2 + 1
    assert sum(isinstance(m, nn.ConvTranspose2d) for m in t.modules()) == 2
    denoiser = [m for m in model.nets["DN"].modules() if isinstance(m, nn.Conv2d)]
    assert [m.kernel_size for m in denoiser] == [(3, 3), (3, 3)]  # the two-layer 3x3 denoising network


def _weights(net: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def _changed(before: list[torch.Tensor], net: nn.Module) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before, net.parameters(), strict=True))


@pytest.mark.parametrize("features", ["identity_net", "discriminator"])
def test_each_stage_is_finite_and_trains_its_networks(one_thread, features: str) -> None:
    torch.manual_seed(0)
    task, cfg = _task(), replace(TINY, identity_features=features)
    identity = IdentityFeatures(_Features(), "random features") if features == "identity_net" else None
    model = build_diat(cfg, task, torch.device("cpu"), identity)
    gen = torch.Generator().manual_seed(0)
    expected = {"denoise": {"DN/loss"}, "transform": {"T/att", "T/id", "T/reg", "D/loss"},
                "enhance": {"E/att", "E/pix", "D/loss"}}
    trained = {"denoise": ("DN",), "transform": ("T", "D"), "enhance": ("E", "D")}
    for _ in range(cfg.steps):
        phase = model.phase()
        before = {k: _weights(v) for k, v in model.nets.items()}
        losses = model.train_step(diat_batch(task, cfg, gen))
        assert set(losses) == expected[phase] and all(torch.isfinite(torch.as_tensor(v)) for v in losses.values())
        for name, net in model.nets.items():
            assert _changed(before[name], net) == (name in trained[phase]), (phase, name)
    out = model.translate(task.data("train", "A").get(slice(0, 2)))
    assert out.shape == (2, 3, 16, 16) and 0 <= out.min() and out.max() <= 1
    assert model.directions() == ("AtoB",)
    with pytest.raises(HarnessError):
        model.translate(out, direction="BtoA")


def test_identity_network_is_required_for_diat_and_frozen() -> None:
    with pytest.raises(HarnessError, match="identity network"):
        build_diat(TINY, _task(), torch.device("cpu"), None)
    net = _Features()
    model = build_diat(TINY, _task(), torch.device("cpu"), IdentityFeatures(net, "frozen"))
    assert not any(p.requires_grad for p in net.parameters())
    assert model.provenance()["model_identity_loss"] == "frozen"


def test_feature_loss_and_mask_on_hand_cases() -> None:
    a = [torch.ones(1, 2, 2, 2), torch.zeros(1, 1, 1, 1)]
    b = [torch.zeros(1, 2, 2, 2), torch.full((1, 1, 1, 1), 2.0)]
    assert feature_loss(a, b).item() == pytest.approx(1.0 + 4.0)  # per layer mean of squared differences
    x = torch.zeros(1, 3, 9, 9)
    y = x.clone()
    y[..., 4, 4] = 1.0  # one changed pixel -> a 5x5 neighbourhood of 1/25 .. after box smoothing
    mask = attribute_mask(y, x)
    assert mask[0, 0, 4, 4].item() == pytest.approx(1 / 25) and mask[0, 0, 0, 0].item() == 0


def test_config_checks() -> None:
    with pytest.raises(HarnessError, match="divisible by 4"):
        validate_config(TINY, 18)
    with pytest.raises(HarnessError, match="transform network"):
        validate_config(replace(TINY, denoise_steps=3, enhance_steps=3), 16)
