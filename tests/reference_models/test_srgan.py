"""SRResNet and SRGAN: paper-width parameter counts, tiny-width steps, phases, resume, VGG19 loading."""

import dataclasses
import math

import pytest
import torch
from torch import nn

from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task
from harness.run_config import resolve_config
from reference_models.base import count_parameters
from reference_models.sr_networks import SRDiscriminator, SRResNet, VGG19Features, load_vgg19
from reference_models.srgan import ContentNetwork, SRGANConfig, build_srgan, sr_batch, tiles_of_random_photos

CPU = torch.device("cpu")
TINY = SRGANConfig(n_blocks=2, width=8, d_width=4, d_dense=16, batch_size=4, pretrain_steps=2, steps=4,
                   decay_after=1, content="vgg54")

pytestmark = pytest.mark.usefixtures("one_thread_module")


def test_paper_parameter_counts():
    """SRResNet: B = 16, 64 maps, biases in every conv, BN affine, one PReLU slope per channel (Lasagne's
    default) → 1,550,659 (1,549,462 with one slope per PReLU layer, the figure PyTorch ports with nn.PReLU() give).
    D at 96 px: 8 convs 64→512 with BN, dense 512·6·6 → 1024 → 1: 23,565,505 (≈ 23.6M). VGG19 conv part
    (to φ5,4): 20,024,384."""
    paper = resolve_config("paper", {})
    for section in (paper.srresnet, paper.srgan):
        g = SRResNet(3, section.width, section.n_blocks, paper.sr.scale)
        assert count_parameters(g) == 1_550_659
    prelu = [m for m in g.modules() if isinstance(m, nn.PReLU)]
    assert len(prelu) == 19 and count_parameters(g) - sum(m.weight.numel() for m in prelu) + 19 == 1_549_462
    d = SRDiscriminator(3, paper.sr.image_size, paper.srgan.d_width, paper.srgan.d_dense)
    assert paper.sr.image_size == 96 and count_parameters(d) == 23_565_505
    assert count_parameters(VGG19Features()) == 20_024_384


def _task(channels: int = 3, crop: int = 16, scale: int = 4) -> Task:
    g = torch.Generator().manual_seed(0)
    hr = torch.randint(0, 256, (6, channels, 2 * crop, 2 * crop), generator=g, dtype=torch.uint8)
    lr = hr[..., ::scale, ::scale].contiguous()
    source = {"source": torch.tensor([0, 0, 0, 1, 2, 2])}
    test = {"LR": DomainData(lr[:2], {"size": torch.tensor([[8, 8]] * 2)}),
            "HR": DomainData(hr[:2], {"size": torch.tensor([[32, 32]] * 2)})}
    return Task("sr_fake", ("LR", "HR"), True, ("size",), crop,
                {"train": {"LR": DomainData(lr, source), "HR": DomainData(hr, source)}, "test": test},
                {"scale": scale, "test_names": ["a", "b"]})


class _Features(nn.Module):
    """A stand-in content network: two conv stages, like the harness's SR feature network."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 4, 3, stride=2, padding=1)

    def forward(self, images: torch.Tensor, layer: str) -> torch.Tensor:
        x = self.a(images.expand(-1, 3, -1, -1))
        return x if layer == "22" else self.b(torch.relu(x))


def _content() -> ContentNetwork:
    net = _Features()
    return ContentNetwork(net, net, "test features")


def _weights(model) -> dict[str, torch.Tensor]:
    return {f"{n}.{k}": v.clone() for n, net in model.networks().items() for k, v in net.state_dict().items()}


@pytest.mark.parametrize("channels", [3, 1])
def test_tiny_srgan_steps_through_both_phases_finite_and_changing(channels):
    torch.manual_seed(0)
    task = _task(channels)
    model = build_srgan(TINY, task, CPU, _content())
    g = torch.Generator().manual_seed(0)
    before = _weights(model)
    losses = [model.train_step(sr_batch(task, TINY, g)) for _ in range(TINY.steps)]
    assert set(losses[0]) == {"G_content"} and set(losses[-1]) == {"G_content", "G_adv", "D_real", "D_fake"}
    assert all(torch.isfinite(torch.tensor(list(step.values()))).all() for step in losses)
    after = _weights(model)
    assert all(not torch.equal(before[k], after[k]) for k in before if k.endswith("weight"))
    out = model.translate(task.data("test", "LR").get())
    assert out.shape == (2, channels, 32, 32) and 0 <= out.min() and out.max() <= 1
    assert model.optimizers["G"].param_groups[0]["lr"] == pytest.approx(TINY.lr * 0.1)  # after decay_after


VARIANTS = {  # harness/models.py's SR entries on TINY: (SRGANConfig overrides, loss keys of the last step)
    "srresnet": ({"adversarial": False, "content": "mse", "pretrain_steps": 0}, {"G_content"}),
    "srresnet_vgg22": ({"adversarial": False, "content": "vgg22", "tv_weight": 2e-8, "pretrain_steps": 0},
                       {"G_content", "G_tv"}),
    "srgan": ({}, {"G_content", "G_adv", "D_real", "D_fake"}),
    "srgan_mse": ({"content": "mse"}, {"G_content", "G_adv", "D_real", "D_fake"}),
    "srgan_vgg22": ({"content": "vgg22"}, {"G_content", "G_adv", "D_real", "D_fake"}),
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_tiny_step_of_each_sr_model_is_finite_and_trains_every_network(name):
    overrides, keys = VARIANTS[name]
    config = dataclasses.replace(TINY, **overrides)
    torch.manual_seed(0)
    task = _task()
    model = build_srgan(config, task, CPU, None if config.content == "mse" else _content())
    g = torch.Generator().manual_seed(0)
    before = _weights(model)
    losses = [model.train_step(sr_batch(task, config, g)) for _ in range(config.steps)]
    assert set(losses[-1]) == keys and all(math.isfinite(v) for step in losses for v in step.values())
    after = _weights(model)
    assert {k.split(".")[0] for k in before} == ({"G", "D"} if config.adversarial else {"G"})
    assert all(not torch.equal(before[k], after[k]) for k in before if k.endswith("weight"))
    out = model.translate(task.data("test", "LR").get())
    assert torch.isfinite(out).all() and 0 <= out.min() and out.max() <= 1


def test_srgan_starts_its_adversarial_phase_from_the_srresnet_generator():
    """§3.2: SRGAN is initialised from SRResNet-MSE; pretraining for SRResNet's steps gives exactly its G."""
    task = _task()
    srresnet = dataclasses.replace(TINY, adversarial=False, content="mse", pretrain_steps=0, steps=3)
    srgan = dataclasses.replace(TINY, content="mse", pretrain_steps=3, steps=5)
    generators = []
    for config in (srresnet, srgan):
        torch.manual_seed(0)
        model = build_srgan(config, task, CPU, None)
        g = torch.Generator().manual_seed(0)
        for _ in range(3):
            model.train_step(sr_batch(task, config, g))
        generators.append(model.networks()["G"].state_dict())
    for key, value in generators[0].items():
        assert torch.equal(value, generators[1][key]), key


def test_adversarial_lr_sets_the_adversarial_phase_only():
    """Pretraining runs at ``lr`` (as SRResNet, so SRGAN starts from its generator); G and D then at adversarial_lr."""
    task = _task()
    config = dataclasses.replace(TINY, lr=1e-3, adversarial_lr=1e-4, decay_after=1, steps=5)
    torch.manual_seed(0)
    model = build_srgan(config, task, CPU, _content())
    g = torch.Generator().manual_seed(0)
    rates = []
    for _ in range(config.steps):
        model.train_step(sr_batch(task, config, g))
        rates.append([model.optimizers[n].param_groups[0]["lr"] for n in ("G", "D")])
    assert rates == [[1e-3, 1e-3]] * 2 + [[1e-4, 1e-4]] + [[pytest.approx(1e-5), pytest.approx(1e-5)]] * 2
    assert "lr 0.001 (adversarial phase 0.0001) then x0.1 after 1" in model.provenance()["model_train"]
    with pytest.raises(HarnessError, match="adversarial_lr"):
        build_srgan(dataclasses.replace(TINY, adversarial_lr=-1.0), task, CPU, _content())


def test_state_round_trip_resumes_phase_and_weights(tmp_path):
    task = _task()
    torch.manual_seed(0)
    model = build_srgan(TINY, task, CPU, _content())
    g = torch.Generator().manual_seed(0)
    for _ in range(3):
        model.train_step(sr_batch(task, TINY, g))
    torch.save(model.state_dict(), tmp_path / "state.pt")
    other = build_srgan(TINY, task, CPU, _content())
    other.load_state_dict(torch.load(tmp_path / "state.pt", weights_only=True))
    assert other.step == 3 and all(torch.equal(a, b) for a, b in zip(_weights(model).values(),
                                                                     _weights(other).values(), strict=True))
    srresnet = build_srgan(dataclasses.replace(TINY, adversarial=False), task, CPU, _content())
    with pytest.raises(HarnessError, match="networks"):
        srresnet.load_state_dict(model.state_dict())


def test_batches_align_lr_and_hr_and_draw_photos_uniformly():
    task = _task()
    batch = sr_batch(task, dataclasses.replace(TINY, batch_size=64), torch.Generator().manual_seed(3))
    assert batch["LR"].shape == (64, 3, 4, 4) and batch["HR"].shape == (64, 3, 16, 16)
    assert torch.equal(batch["HR"][..., ::4, ::4], batch["LR"])  # the fake LR is every 4th HR pixel
    index = tiles_of_random_photos(task.data("train", "HR").labels["source"], 6000, torch.Generator().manual_seed(1))
    photos = task.data("train", "HR").labels["source"][index]
    shares = torch.bincount(photos, minlength=3).double() / 6000
    assert torch.allclose(shares, torch.full((3,), 1 / 3, dtype=torch.float64), atol=0.03)  # photo 0 has 3 tiles


def test_config_and_task_errors(tmp_path):
    with pytest.raises(HarnessError, match="needs a feature network"):
        build_srgan(TINY, _task(), CPU, None)
    with pytest.raises(HarnessError, match="pretrain_steps"):
        build_srgan(dataclasses.replace(TINY, pretrain_steps=9), _task(), CPU, _content())
    with pytest.raises(HarnessError, match="vgg19_weights"):
        build_srgan(dataclasses.replace(TINY, vgg19_weights=str(tmp_path / "none.pth")), _task(), CPU, _content())
    with pytest.raises(HarnessError, match="power of 2"):
        SRResNet(3, 8, 1, 3)


def test_vgg19_loads_torchvision_layout_with_weights_only_and_reports_sha256(tmp_path):
    import hashlib

    reference = VGG19Features()
    state = {f"features.{k}": v for k, v in reference.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # the classifier of a full vgg19 file is ignored
    path = tmp_path / "vgg19.pth"
    torch.save(state, path)
    network, sha = load_vgg19(path)
    assert sha == hashlib.sha256(path.read_bytes()).hexdigest()
    images = torch.rand(1, 3, 32, 32)
    assert torch.equal(network(images, "54"), reference(images, "54"))
    assert network(images, "22").shape == (1, 128, 16, 16) and network(images, "54").shape == (1, 512, 2, 2)
    torch.save({"features.0.weight": torch.zeros(1)}, path)
    with pytest.raises(HarnessError, match="do not fit"):
        load_vgg19(path)
