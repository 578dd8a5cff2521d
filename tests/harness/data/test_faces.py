"""The embedded faces task: determinism, labels, the RaFD-like split, and attributes that are visibly rendered."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.core.errors import HarnessError
from harness.data.face_labels import baseline_pairs, dataset_labels, pair_task, task_groups
from harness.data.face_render import EXPRESSIONS, render_face, sample_identity
from harness.data.faces import FacesConfig, build_faces, generate_celeba, rafd_split, validate_config

TINY = FacesConfig(image_size=32, celeba_identities=6, celeba_train=40, celeba_test=12, rafd_identities=3,
                   rafd_variants=4)


@pytest.fixture(scope="module")
def task(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield build_faces(TINY)


def test_shapes_labels_and_identities(task) -> None:
    celeba, rafd = task.data("train", "celeba"), task.data("train", "rafd")
    assert celeba.images.shape == (40, 3, 32, 32) and celeba.images.dtype == torch.uint8
    attrs = celeba.labels["attributes"]
    assert attrs.shape == (40, 5) and bool((attrs[:, :3].sum(1) == 1).all())  # exactly one hair colour
    assert int(celeba.labels["identity"].max()) < 6 and int(rafd.labels["identity"].min()) >= 6  # RaFD after CelebA
    both = torch.cat([rafd.labels["identity"], task.data("test", "rafd").labels["identity"]])
    assert len(both) == 3 * 8 * 4
    test_people = set(task.data("test", "rafd").labels["identity"].tolist())
    assert test_people <= set(rafd.labels["identity"].tolist())  # identities shared across the split


def test_rafd_split_is_ten_percent_per_expression() -> None:
    expression = np.repeat(np.arange(8), 30)
    test = rafd_split(expression, 0.1, seed=0)
    assert all(test[expression == e].sum() == 3 for e in range(8))
    assert np.array_equal(test, rafd_split(expression, 0.1, seed=0))


def test_generation_is_deterministic() -> None:
    a, b = generate_celeba(TINY, 5, 0), generate_celeba(TINY, 5, 0)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["images"], generate_celeba(TINY, 5, 1)["images"])


def _render(params, **kw) -> np.ndarray:
    base = {"hair": 0, "male": True, "young": True, "expression": EXPRESSIONS.index("neutral")} | kw
    return render_face(params, size=64, supersample=2, rng=np.random.default_rng(3), **base).astype(float) / 255


def test_attributes_and_expressions_are_visible() -> None:
    top = (slice(None), slice(8, 16), slice(24, 40))  # the hair over the forehead (head position varies a little)
    gaps = [_render(p, hair=1)[top].mean() - _render(p, hair=0)[top].mean()
            for p in (sample_identity(np.random.default_rng(seed)) for seed in (5, 6, 7, 8))]
    assert min(gaps) > 0.25 and np.mean(gaps) > 0.3, gaps
    params = sample_identity(np.random.default_rng(6))  # its hair covers the whole forehead region
    black = _render(params, hair=0)
    old = _render(params, young=False)
    assert np.abs(old - black).mean() > 0.01 and old[top].mean() - black[top].mean() > 0.2  # grey hair
    female = _render(params, male=False)
    sides = (slice(None), slice(24, 48), slice(12, 16))  # long hair beside the cheek
    assert np.abs(female[sides] - black[sides]).mean() > 0.1
    faces = [_render(params, expression=i)[:, 16:56, 16:48] for i in range(len(EXPRESSIONS))]  # the face
    for a in range(len(EXPRESSIONS)):
        for b in range(a):
            assert np.abs(faces[a] - faces[b]).mean() > 0.005, (EXPRESSIONS[a], EXPRESSIONS[b])


def test_pairs_and_groups(task) -> None:
    groups = task_groups(task)
    assert [g.name for g in groups] == ["hair", "Male", "Young", "expression"]
    labels = dataset_labels(task, "train", "celeba")
    assert torch.equal(groups[0].values(groups[0].set(labels, 2)), torch.full((40,), 2))
    for pair in baseline_pairs(task, two_way=True)[:3]:
        sub = pair_task(task, pair)
        src = groups[0].values(dataset_labels(task, "train", "celeba"))
        assert len(sub.data("train", "A")) == int((src == pair.source).sum())


def test_bad_config_is_a_clear_error() -> None:
    with pytest.raises(HarnessError, match="faces.image_size"):
        validate_config(FacesConfig(image_size=30))
    with pytest.raises(HarnessError, match="rafd_test_fraction"):
        validate_config(FacesConfig(rafd_test_fraction=1.5))
