"""StarGAN's baselines: the attribute-value pairs, multi-step routing, and a tiny per-pair training step."""

from __future__ import annotations

import pytest
import torch

from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task
from harness.data.face_labels import baseline_pairs, dataset_labels, route, task_groups
from harness.face_models import build_cyclegan_any, build_diat_pairs, cyclegan_any_batch, diat_pairs_batch
from harness.pairwise import PairwiseModel, build_pairwise, pairwise_batch
from reference_models import cyclegan, diat

EXPRESSIONS = ("angry", "contemptuous", "disgusted", "fearful", "happy", "neutral", "sad", "surprised")


def faces_task(size: int = 16) -> Task:
    """A tiny random faces task: 24 CelebA-like images covering every attribute value, 16 RaFD-like (2 per face)."""
    gen = torch.Generator().manual_seed(0)
    attrs = torch.zeros(24, 5)
    attrs[torch.arange(24), torch.arange(24) % 3] = 1
    attrs[:, 3], attrs[:, 4] = (torch.arange(24) // 3) % 2, (torch.arange(24) // 6) % 2
    celeba = DomainData(torch.randint(0, 256, (24, 3, size, size), dtype=torch.uint8, generator=gen),
                        {"attributes": attrs, "identity": torch.arange(24) % 6})
    rafd = DomainData(torch.randint(0, 256, (16, 3, size, size), dtype=torch.uint8, generator=gen),
                      {"expression": torch.arange(16) % 8, "identity": 6 + torch.arange(16) // 8})
    meta = {"attribute_names": ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"),
            "expression_names": EXPRESSIONS, "n_identities": 8, "neutral": "neutral"}
    split = {"celeba": celeba, "rafd": rafd}
    return Task("faces", ("celeba", "rafd"), False, ("attributes", "expression", "identity"), size,
                {"train": split, "test": split}, meta)


def test_pairs_follow_the_papers_counts() -> None:
    task = faces_task()
    two_way, one_way = baseline_pairs(task, True), baseline_pairs(task, False)
    assert sum(p.group.name == "expression" for p in one_way) == 7  # StarGAN Table 3: DIAT x 7
    assert sum(p.group.name == "expression" for p in two_way) == 7  # 7 CycleGANs = 14 generators ("x 14")
    assert len(two_way) == 3 + 1 + 1 + 7 and len(one_way) == 3 + 2 + 2 + 7


def test_routes_go_through_neutral_and_fail_where_no_pair_connects() -> None:
    task = faces_task()
    expr = next(g for g in task_groups(task) if g.name == "expression")
    happy, sad, neutral = (EXPRESSIONS.index(e) for e in ("happy", "sad", "neutral"))
    steps = route(baseline_pairs(task, True), expr, happy, sad)
    assert [(p.name, d) for p, d in steps] == [("expression:neutral-happy", "BtoA"), ("expression:neutral-sad", "AtoB")]
    assert len(route(baseline_pairs(task, False), expr, neutral, sad)) == 1
    with pytest.raises(HarnessError, match="no trained pair"):
        route(baseline_pairs(task, False), expr, happy, sad)  # DIAT only has neutral -> X


class _Shift:
    """A fake pair model adding a constant per direction, to check which models a translation chains."""

    def __init__(self, delta: float) -> None:
        self.delta = delta

    def translate(self, images: torch.Tensor, direction: str) -> torch.Tensor:
        return images + (self.delta if direction == "AtoB" else -self.delta)


def test_multi_step_translation_chains_the_right_models() -> None:
    task = faces_task()
    pairs = baseline_pairs(task, True)
    model = PairwiseModel(task, pairs, {p.name: _Shift(2.0**i) for i, p in enumerate(pairs)})
    labels = dataset_labels(task, "test", "celeba")[:3]  # hair black, blond, brown
    target = labels.clone()
    target[:, :3] = torch.eye(3)[[1, 1, 1]]  # everyone to blond
    target[:, 3] = 1 - target[:, 3]  # and flip Male
    out = model.translate(torch.zeros(3, 1, 1, 1), dataset="celeba", source=labels, target=target)
    delta = {p.name: 2.0 ** i for i, p in enumerate(pairs)}
    male = delta["Male:no-yes"] * torch.where(labels[:, 3] == 0, 1.0, -1.0)
    expected = torch.tensor([delta["hair:Black_Hair-Blond_Hair"], 0.0, -delta["hair:Blond_Hair-Brown_Hair"]]) + male
    assert torch.allclose(out.flatten(), expected)
    assert model.directions() == ("celeba", "rafd")


def test_can_translate_says_which_inputs_the_pairs_reach() -> None:
    """CycleGAN's neutral <-> X pairs reach happy -> sad through neutral; DIAT's one-way neutral -> X cannot."""
    task = faces_task()
    rafd = dataset_labels(task, "test", "rafd")
    names = task.meta["expression_names"]
    happy, sad = (torch.eye(8)[[names.index(n)]] for n in ("happy", "sad"))
    neutral = torch.eye(8)[[names.index("neutral")]]
    for two_way, reaches in ((True, True), (False, False)):
        pairs = baseline_pairs(task, two_way)
        model = PairwiseModel(task, pairs, {p.name: _Shift(1.0) for p in pairs})
        assert model.can_translate(dataset="rafd", source=happy, target=sad) is reaches
        assert model.can_translate(dataset="rafd", source=neutral, target=sad) is True
        assert model.can_translate(dataset="rafd", source=rafd[:1], target=rafd[:1]) is True  # nothing to change
    assert PairwiseModel(task, baseline_pairs(task, True)[:1], {}).can_translate(
        dataset="rafd", source=neutral, target=sad) is False  # only a hair pair: no RaFD model at all


def test_tiny_pairwise_cyclegan_and_diat_train_every_pair(one_thread) -> None:
    torch.manual_seed(0)
    task, gen = faces_task(24), torch.Generator().manual_seed(0)
    cfg = cyclegan.CycleGANConfig(ngf=4, ndf=4, n_blocks=1, batch_size=1, steps=2, decay_steps=1, pool_size=0)
    model = build_cyclegan_any(cfg, task, torch.device("cpu"))
    first = {k: next(v.parameters()).detach().clone() for k, v in model.networks().items()}
    losses = model.train_step(cyclegan_any_batch(task, cfg, gen))
    assert len({k.split("/")[0] for k in losses}) == 12
    assert all(torch.isfinite(torch.as_tensor(v)) for v in losses.values())
    assert all(not torch.equal(first[k], next(v.parameters())) for k, v in model.networks().items())
    dcfg = diat.DIATConfig(identity_features="discriminator", ngf=4, ndf=8, n_blocks=1, enhance_blocks=1,
                           denoise_channels=4, batch_size=2, steps=3, denoise_steps=1, enhance_steps=1)
    pairs = build_pairwise(dcfg, task, False, lambda c, sub: diat.build_diat(c, sub, torch.device("cpu"), None))
    for _ in range(dcfg.steps):
        losses = pairs.train_step(diat_pairs_batch(task, dcfg, gen))
    assert len({k.split("/")[0] for k in losses}) == 14
    restored = build_pairwise(dcfg, task, False, lambda c, sub: diat.build_diat(c, sub, torch.device("cpu"), None))
    restored.load_state_dict(pairs.state_dict())
    x = task.data("test", "rafd").get(slice(5, 6))  # the neutral face
    src, tgt = dataset_labels(task, "test", "rafd")[5:6], torch.eye(8)[[4]]
    assert torch.equal(restored.translate(x, dataset="rafd", source=src, target=tgt),
                       pairs.translate(x, dataset="rafd", source=src, target=tgt))
    assert set(pairwise_batch(task, dcfg, gen, False, diat.diat_batch)) >= {"expression:neutral-happy|A"}


def test_dry_build_on_meta_trains_no_identity_network(monkeypatch) -> None:
    from metrics.judges import resolve

    monkeypatch.setattr(resolve, "train_judge", lambda *a, **k: pytest.fail("the dry build trained a judge"))
    model = build_diat_pairs(diat.DIATConfig(ngf=4, ndf=4, n_blocks=1, enhance_blocks=1), faces_task(),
                             torch.device("meta"))
    assert "dry build" in model.provenance()["model_identity_loss"]
