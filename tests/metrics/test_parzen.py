import math
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.special import logsumexp

from harness.core.errors import HarnessError
from harness.core.image_folder import open_image_folder
from metrics import parzen
from metrics.parzen import (
    PAPER_SIGMAS,
    parzen_log_density,
    parzen_log_likelihood,
    parzen_on_folders,
    select_sigma,
)
from metrics.spec import FolderInputs


def oracle_log_density(x: np.ndarray, mu: np.ndarray, sigma: float) -> np.ndarray:
    """Direct formula of parzen_ll.py with scipy's logsumexp, no distance expansion."""
    d = x.shape[1]
    a = -0.5 * (((x[:, None, :] - mu[None, :, :]) / sigma) ** 2).sum(-1)
    return logsumexp(a, axis=1) - math.log(mu.shape[0]) - d * math.log(sigma * math.sqrt(2 * math.pi))


def data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    samples = torch.rand(40, 1, 3, 3, generator=g)
    validation = torch.rand(15, 1, 3, 3, generator=g)
    test = torch.rand(25, 1, 3, 3, generator=g)
    return samples, validation, test


def test_pinned_hand_value():
    # One-dimensional, two centres at 0 and 1, sigma 1: log((phi(0) + phi(1)) / 2).
    hand = math.log(0.5 * (1 + math.exp(-0.5)) / math.sqrt(2 * math.pi))
    value = parzen_log_density(torch.zeros(1, 1), torch.tensor([[0.0], [1.0]]), 1.0, 10)
    assert value.dtype == torch.float64
    assert value.item() == pytest.approx(hand, rel=1e-14)
    assert value.item() == pytest.approx(-1.13800873, abs=1e-8)


@pytest.mark.parametrize("sigma", [0.1, 0.2783, 1.0])
def test_matches_scipy_logsumexp(sigma):
    samples, _, test = data()
    ours = parzen_log_density(test, samples, sigma, 7).numpy()
    oracle = oracle_log_density(test.double().reshape(25, -1).numpy(), samples.double().reshape(40, -1).numpy(), sigma)
    np.testing.assert_allclose(ours, oracle, rtol=1e-12)


def test_images_and_flat_vectors_agree():
    samples, _, test = data(1)
    a = parzen_log_density(test, samples, 0.3, 100)
    b = parzen_log_density(test.reshape(25, -1), samples.reshape(40, -1), 0.3, 100)
    assert torch.equal(a, b)


def test_batch_size_independence():
    samples, validation, test = data(2)
    results = [parzen_log_likelihood(samples, validation, test, batch_size=b) for b in (1, 4, 100)]
    for r in results[1:]:
        assert r["parzen_sigma"] == results[0]["parzen_sigma"]
        assert r["parzen_ll"] == pytest.approx(results[0]["parzen_ll"], rel=1e-12)
        assert r["parzen_se"] == pytest.approx(results[0]["parzen_se"], rel=1e-10)


def test_sigma_choice_is_the_validation_argmax():
    samples, validation, test = data(3)
    best, scores = select_sigma(samples, validation, PAPER_SIGMAS, 100)
    v = validation.double().reshape(15, -1).numpy()
    m = samples.double().reshape(40, -1).numpy()
    oracle = {s: oracle_log_density(v, m, s).mean() for s in PAPER_SIGMAS}
    assert best == max(oracle, key=oracle.get)
    for s in PAPER_SIGMAS:
        assert scores[s] == pytest.approx(oracle[s], rel=1e-12)
    assert len(PAPER_SIGMAS) == 10 and PAPER_SIGMAS[0] == pytest.approx(0.1) and PAPER_SIGMAS[-1] == pytest.approx(1.0)


def test_sigma_tracks_the_spread_of_the_data():
    # Samples and validation from N(0.5, s^2) in 4-d: the chosen width grows with s.
    g = torch.Generator().manual_seed(4)
    chosen = []
    for s in (0.1, 0.4):
        samples, validation = 0.5 + s * torch.randn(300, 4, generator=g), 0.5 + s * torch.randn(100, 4, generator=g)
        chosen.append(select_sigma(samples, validation, PAPER_SIGMAS, 50)[0])
    assert chosen[0] < chosen[1]


def test_protocol_mean_and_standard_error():
    samples, validation, test = data(5)
    out = parzen_log_likelihood(samples, validation, test)
    assert set(out) == {"parzen_ll", "parzen_se", "parzen_sigma"}
    ll = oracle_log_density(
        test.double().reshape(25, -1).numpy(), samples.double().reshape(40, -1).numpy(), out["parzen_sigma"]
    )
    assert out["parzen_ll"] == pytest.approx(ll.mean(), rel=1e-12)
    assert out["parzen_se"] == pytest.approx(ll.std() / math.sqrt(25), rel=1e-10)


def _folder(path, images):
    path.mkdir()
    for i, image in enumerate(images):
        Image.fromarray((image[0].numpy() * 255).round().astype(np.uint8)).save(path / f"{i:03d}.png")
    return open_image_folder(path)


def test_on_folders_splits_target_into_validation_and_test(tmp_path):
    samples, validation, test = ((x * 255).round() / 255 for x in data(6))  # what 8-bit files can hold
    target = torch.cat([validation[:12], test[:12]])
    inputs = FolderInputs(pred=_folder(tmp_path / "p", samples), target=_folder(tmp_path / "t", target),
                          device=torch.device("cpu"), seed=0, feature_extractor="digits", weights=None)
    assert parzen_on_folders(inputs) == parzen_log_likelihood(samples, validation[:12], test[:12])
    with pytest.raises(HarnessError, match="--target"):
        parzen_on_folders(replace(inputs, target=None))


def test_on_folders_checks_the_memory_it_needs_before_decoding(tmp_path, monkeypatch):
    samples, validation, _ = data(7)
    decoded = []
    inputs = FolderInputs(pred=replace(_folder(tmp_path / "p", samples), on_read=decoded.append),
                          target=_folder(tmp_path / "t", validation), device=torch.device("cpu"), seed=0,
                          feature_extractor="digits", weights=None)
    monkeypatch.setattr(parzen, "FOLDER_MAX_VALUES", 400)
    with pytest.raises(HarnessError, match=r"parzen: --pred and --target hold 40 \+ 15 images of 9 values = 495 "
                                           r"values.*the limit is 400 values"):
        parzen_on_folders(inputs)
    assert decoded == []
    small = _folder(tmp_path / "s", torch.rand(3, 1, 2, 2))
    with pytest.raises(HarnessError, match=r"--pred images have 1x3x3 values but --target images 1x2x2"):
        parzen_on_folders(replace(inputs, target=small))


def test_bad_input():
    samples, _, test = data()
    with pytest.raises(HarnessError, match="dimension"):
        parzen_log_density(test.reshape(25, -1)[:, :4], samples.reshape(40, -1), 0.5, 10)
    with pytest.raises(HarnessError, match="positive"):
        parzen_log_density(test, samples, 0.0, 10)
    with pytest.raises(HarnessError, match=r"\[0, 1\]"):
        parzen_log_density(test * 3, samples, 0.5, 10)
    with pytest.raises(HarnessError, match="batch_size"):
        parzen_log_density(test, samples, 0.5, 0)
