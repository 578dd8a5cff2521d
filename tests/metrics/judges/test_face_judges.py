"""The face judges: the joint attribute code, marginal decoding, the network and the data sources."""

from __future__ import annotations

import pytest
import torch

from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task
from metrics.judges.base import check_judge_data
from metrics.judges.faces import (
    FACE_JUDGES,
    FaceNet,
    attribute_groups,
    decode_codes,
    decode_marginals,
    encode_attributes,
)
from metrics.judges.registry import JUDGES

NAMES = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")


def test_joint_attribute_code_round_trips() -> None:
    attrs = torch.tensor([[1.0, 0, 0, 1, 1], [0, 1, 0, 0, 1], [0, 0, 1, 1, 0], [0, 0, 0, 1, 0], [1, 1, 0, 0, 0]])
    codes = encode_attributes(attrs, NAMES)
    assert codes.tolist() == [0 * 4 + 1 * 2 + 1, 1 * 4 + 0 + 1, 2 * 4 + 2 + 0, -1, -1]  # no / two hair colours: -1
    hair, male, young = decode_codes(codes[:3], NAMES)
    assert hair.tolist() == [0, 1, 2] and male.tolist() == [1, 0, 1] and young.tolist() == [1, 1, 0]
    assert attribute_groups(("Male", "Gray_Hair", "Young", "Black_Hair")) == [(1, 3), (0,), (2,)]
    with pytest.raises(HarnessError, match="joint classes"):
        encode_attributes(torch.zeros(1, 9), tuple(f"A{i}" for i in range(9)))


def test_marginals_sum_the_joint_softmax() -> None:
    probs = torch.full((1, 12), 1e-9)  # class = hair * 4 + male * 2 + young
    probs[0, 1 * 4 + 2 + 1] = 0.35  # the single most likely class: blond, male, young
    probs[0, [0, 1, 2]] = torch.tensor([0.25, 0.2, 0.2])  # black hair overall more likely (0.65)
    hair, male, young = decode_marginals(probs.log(), NAMES)
    assert (hair.item(), male.item(), young.item()) == (0, 1, 1)  # male 0.55, young 0.55


def test_facenet_shapes_and_batch_independence() -> None:
    torch.manual_seed(0)
    net = FaceNet(7).eval()
    x = torch.rand(5, 3, 32, 32)
    assert net(x).shape == (5, 7) and net.features(x).shape == (5, net.feature_dim)
    assert [m.shape[2] for m in net.feature_maps(x)] == [32, 16, 8, 4]
    assert torch.allclose(net(x[:2]), net(x)[:2], atol=1e-5)  # GroupNorm: no batch statistics


def _task() -> Task:
    attrs = torch.zeros(12, 5)
    attrs[torch.arange(12), torch.arange(12) % 3] = 1
    attrs[:, 3] = torch.arange(12) % 2
    celeba = DomainData(torch.zeros(12, 3, 16, 16, dtype=torch.uint8), {"attributes": attrs,
                                                                        "identity": torch.arange(12) % 3})
    rafd = DomainData(torch.zeros(8, 3, 16, 16, dtype=torch.uint8), {"expression": torch.arange(8),
                                                                      "identity": 3 + torch.arange(8) // 4})
    meta = {"attribute_names": NAMES, "expression_names": tuple(f"e{i}" for i in range(8)), "n_identities": 5}
    split = {"celeba": celeba, "rafd": rafd}
    return Task("faces", ("celeba", "rafd"), False, (), 16, {"train": split, "test": split}, meta)


def test_every_face_judge_is_registered_and_its_data_fits() -> None:
    task = _task()
    for spec in FACE_JUDGES:
        assert JUDGES.get(spec.name) is spec and spec.recipe_keys == ("face_judge_steps", "face_judge_batch_size")
        data = spec.data(task)
        check_judge_data(spec, data)
    domains = next(s for s in FACE_JUDGES if s.name == "face_domains").data(task)
    assert domains.params["num_classes"] == 12 + 8 and int(domains.targets.max()) == 12 + 7
