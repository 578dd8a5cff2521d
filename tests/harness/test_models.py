"""The model registry: every entry builds, variants apply their overrides, names are unique."""

from __future__ import annotations

import torch

from harness.config import apply_overrides
from harness.core.task import DomainData, Task
from harness.models import MODELS, ModelSpec
from reference_models.cyclegan import CycleGAN, CycleGANConfig
from reference_models.pix2pix import Pix2Pix, Pix2PixConfig

CPU = torch.device("cpu")
PIX2PIX_TINY = Pix2PixConfig(ngf=8, ndf=8, num_downs=5, steps=10, decay_steps=5)
CYCLEGAN_TINY = CycleGANConfig(ngf=8, ndf=8, n_blocks=2, pool_size=2, steps=10, decay_steps=5)


def _task(size: int = 32, n: int = 2) -> Task:
    images = torch.randint(0, 256, (n, 3, size, size), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    split = {"labels": DomainData(images), "photo": DomainData(255 - images)}
    halves = {"labels": DomainData(images[: n // 2]), "photo": DomainData(255 - images[n // 2:])}
    return Task(name="fake", domains=("labels", "photo"), paired=True, label_kinds=(), image_size=size,
                splits={"train": split, "test": split}, unpaired_train=halves)


def _specs(section: str) -> list[ModelSpec]:
    return [spec for _, spec in MODELS.items() if spec.config_section == section]


def test_pix2pix_specs_are_unique_and_their_overrides_apply():
    specs = _specs("pix2pix")
    names = [spec.name for spec in specs]
    assert len(names) == len(set(names)) == 10 and names[0] == "pix2pix"
    assert specs[0].protocols["scenes"] == "fcn_scenes" and specs[0].variant == "L1+cGAN" and specs[0].default
    for spec in specs:
        assert spec.setting == "paired"
        assert spec.default == (spec.name == "pix2pix")
        config = apply_overrides(PIX2PIX_TINY, spec.config_overrides or {}, source=spec.name)
        size = 96 if config.d_receptive_field == 286 else 32
        assert isinstance(spec.build(config, _task(size=size), CPU), Pix2Pix)


def test_cyclegan_specs_are_unique_and_their_overrides_apply():
    specs = _specs("cyclegan")
    assert [spec.name for spec in specs] == ["cyclegan", "cyclegan_gan_only", "cyclegan_cycle_only",
                                             "cyclegan_gan_forward", "cyclegan_gan_backward"]
    for spec in specs:
        assert spec.setting == "unpaired" and "scenes" in spec.protocols
        config = apply_overrides(CYCLEGAN_TINY, spec.config_overrides or {}, source=spec.name)
        assert isinstance(spec.build(config, _task(), CPU), CycleGAN)


def test_sr_specs_supply_their_content_network(cache):
    from harness.data.sr import SRConfig, build_sr
    from reference_models.srgan import SRGAN, SRGANConfig

    task = build_sr(SRConfig(image_size=16, tile=32, test_size=32))
    tiny = SRGANConfig(n_blocks=1, width=8, d_width=4, d_dense=8, batch_size=2, pretrain_steps=1, steps=2,
                       judge_steps=2)
    specs = {name: spec for name, spec in MODELS.items() if spec.config_section in ("srresnet", "srgan")}
    assert list(specs) == ["srresnet", "srgan", "srgan_mse", "srgan_vgg22", "srresnet_vgg22"]
    assert [s.default for s in specs.values()] == [True, True, True, True, False]
    descriptions = {}
    for name, spec in specs.items():
        assert spec.protocols == {"sr": "sr", "sr_gray": "sr", "sr_folders": "sr"} and spec.setting == "paired"
        config = apply_overrides(tiny, spec.config_overrides or {}, source=name)
        model = spec.build(config, task, CPU)
        assert isinstance(model, SRGAN)
        descriptions[name] = model.provenance()["model_content"]
    assert descriptions["srgan_mse"] == "none"
    assert "harness SR feature network" in descriptions["srgan"] and "stand-in for VGG19" in descriptions["srgan"]
    assert descriptions["srgan"] == descriptions["srgan_vgg22"]  # one cached network for both VGG losses
