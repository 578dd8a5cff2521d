"""Parameter counts of the four faces methods as the ``paper`` profile builds them (StarGAN Table 3's column).

Built on the ``meta`` device (no memory, no task generation): a 128 px stand-in task with the faces labels.
StarGAN Table 3 [R]: StarGAN 53.2M x 1 (a single-dataset model), DIAT 52.6M x 7, CycleGAN 52.6M x 14 (RaFD).
StarGAN matches the official code exactly; the paper's DIAT and CycleGAN counts are StarGAN's own
re-implementations, whose layers are not published, so ours differ (DIAT: v1's transform network with
CycleGAN-style layers; CycleGAN: the official 128 px generator with 6 residual blocks) and the rows say which
networks they count.
"""

from __future__ import annotations

import torch
from test_pairwise import faces_task

from harness.core.task import DomainData, Task
from harness.run_config import model_config, resolve_config
from reference_models.cyclegan import build_cyclegan
from reference_models.diat import IdentityFeatures, build_diat
from reference_models.stargan_sng import build_stargan_models

META = torch.device("meta")


def _count(model: object) -> int:
    return sum(_count_net(net) for net in model.networks().values())


def _pair_task(size: int) -> Task:
    images = DomainData(torch.zeros(2, 3, size, size, dtype=torch.uint8))
    return Task("pair", ("A", "B"), False, (), size, {"train": {"A": images, "B": images}})


def test_paper_profile_parameter_counts() -> None:
    config = resolve_config("paper", {})
    assert config.faces.image_size == 128
    stargan = build_stargan_models(model_config(config, "stargan", "faces"), faces_task(128), META)
    # StarGAN-SNG (Table 3's model): one model per dataset; RaFD's has c = 8 (G stem 3 more channels than CelebA's
    # c = 5 and D 3 more domains), CelebA's is the official 5-attribute model.
    assert {k: _count_net(v) for k, v in stargan.networks_for("celeba").items()} == {"G": 8_430_528, "D": 44_762_048}
    assert sum(_count_net(v) for v in stargan.networks_for("celeba").values()) == 53_192_576
    assert sum(_count_net(v) for v in stargan.networks_for("rafd").values()) == 53_226_560  # Table 3: 53.2M x 1
    assert stargan.models["rafd"].config.steps == 54_400  # 100 + 100 RaFD epochs at 272 iterations
    assert stargan.models["celeba"].config.steps == 200_000  # the official num_iters
    joint = build_stargan_models(model_config(config, "stargan_jnt", "faces"), faces_task(128), META)
    # StarGAN-JNT: G 8,430,528 + 10 extra input channels of the 7x7 stem; D 44,762,048 + 8 more domains.
    assert {k: _count_net(v) for k, v in joint.networks().items()} == {"G": 8_461_888, "D": 44_827_584}
    assert _count(joint) == 53_289_472
    for name in ("diat", "diat_a"):  # the identity network is frozen and not counted; DIAT-A has none
        identity = IdentityFeatures(torch.nn.Conv2d(3, 4, 3), "stand-in") if name == "diat" else None
        diat = build_diat(model_config(config, name, "faces"), _pair_task(128), META, identity)
        assert {k: _count_net(v) for k, v in diat.networks().items()} == {
            "T": 6_657_539, "D": 6_959_553, "DN": 1_763, "E": 4_306_627}
        assert 7 * _count(diat) == 125_478_374  # RaFD: 7 one-way pairs (Table 3: 52.6M x 7)
    cyclegan = build_cyclegan(model_config(config, "cyclegan", "faces"), _pair_task(128), META)
    assert {k: _count_net(v) for k, v in cyclegan.networks().items()} == {
        "G_A": 7_837_699, "G_B": 7_837_699, "D_A": 2_764_737, "D_B": 2_764_737}  # official 128 px: 6 blocks
    assert 7 * _count(cyclegan) == 148_434_104  # RaFD: 7 two-way pairs = 14 generators (Table 3: 52.6M x 14)


def _count_net(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())
