"""Real images' features computed once and reused (issue 23): same numbers as torch-fidelity, one computation."""

import logging

import pytest
import torch
import torch_fidelity
from torch_fidelity import utils as tf_utils

from metrics.feature_extractor_judge import extractor_name
from metrics.fidelity import Uint8ImageDataset, fidelity_metrics
from metrics.judges.base import save_judge
from metrics.judges.digit_classifier import DIGITS, DigitClassifier

OPTS = dict(feature_extractor="digits", kid_subset_size=40, kid_subsets=10, batch_size=32, seed=3)


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(root))
    return root


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(7)
    return torch.rand(96, 1, 28, 28, generator=g) * 0.9, torch.rand(80, 1, 28, 28, generator=g) ** 2


@pytest.fixture()
def real_extractions(monkeypatch):
    """Counts the feature passes over the real side (input 2)."""
    calls = []
    original = tf_utils.extract_featuresdict_from_input_id

    def counting(input_id, *args, **kwargs):
        if input_id == 2:
            calls.append(kwargs["input2"])
        return original(input_id, *args, **kwargs)

    monkeypatch.setattr(tf_utils, "extract_featuresdict_from_input_id", counting)
    return calls


def reference(fake, real, judge_path):
    """torch-fidelity's own calculate_metrics on the same inputs and options."""
    result = torch_fidelity.calculate_metrics(
        input1=Uint8ImageDataset(fake), input2=Uint8ImageDataset(real), cuda=False, batch_size=32, fid=True, kid=True,
        prc=True, feature_extractor=extractor_name(DIGITS), feature_extractor_weights_path=str(judge_path),
        kid_subsets=10, kid_subset_size=40, rng_seed=3, cache=False, save_cpu_ram=True, verbose=False)
    return {k: float(v) for k, v in result.items()}


@pytest.mark.filterwarnings("ignore:Matrix is singular")
def test_equal_to_calculate_metrics_cold_and_warm(cache, judge_path, images, real_extractions):
    fake, real = images
    expected = reference(fake, real, judge_path)
    real_extractions.clear()
    cold = fidelity_metrics(fake, real, weights_path=judge_path, **OPTS)
    warm = fidelity_metrics(fake.flip(0), real, weights_path=judge_path, **OPTS)  # another model's outputs
    again = fidelity_metrics(fake, real, weights_path=judge_path, **OPTS)
    assert len(real_extractions) == 1  # the real side's features were computed once, then read back
    assert cold == again  # bit for bit
    assert cold["fid"] == expected[torch_fidelity.KEY_METRIC_FID]
    assert cold["kid"] == expected[torch_fidelity.KEY_METRIC_KID_MEAN]
    assert cold["kid_std"] == expected[torch_fidelity.KEY_METRIC_KID_STD]
    assert cold["precision"] == expected[torch_fidelity.KEY_METRIC_PRECISION]
    assert cold["recall"] == expected[torch_fidelity.KEY_METRIC_RECALL]
    assert warm["fid"] == pytest.approx(cold["fid"], rel=1e-6)  # same set, other order: FID is order-free
    entries = list((cache / "fidelity").glob("real-*.pt"))
    assert len(entries) == 1
    entry = torch.load(entries[0], weights_only=True)  # tensors only: never unpickled with weights_only=False
    assert set(entry["data"]) == {"128"} and entry["data"]["128"].shape == (80, 128)


@pytest.mark.filterwarnings("ignore:Matrix is singular")
def test_key_covers_images_weights_layers_and_batch(cache, judge_path, images, real_extractions, tmp_path):
    fake, real = images
    fidelity_metrics(fake, real, weights_path=judge_path, **OPTS)
    fidelity_metrics(fake, real[:-1], weights_path=judge_path, **OPTS)  # other images
    fidelity_metrics(fake, real, weights_path=judge_path, **(OPTS | {"batch_size": 16}))  # other batch size
    torch.manual_seed(1)
    other = tmp_path / "other-judge.pt"
    save_judge(DIGITS, DigitClassifier(28), {"input_size": 28, "num_classes": 10}, other)
    fidelity_metrics(fake, real, weights_path=other, **OPTS)  # other weights
    fidelity_metrics(fake, real, weights_path=judge_path, feature_layer_fid="logits", kid=False, prc=False,
                     **{k: v for k, v in OPTS.items()})  # other layer
    assert len(real_extractions) == 5
    assert len(list((cache / "fidelity").glob("real-*.pt"))) == 5


@pytest.mark.filterwarnings("ignore:Matrix is singular")
def test_damaged_entry_is_recomputed_with_a_warning(cache, judge_path, images, real_extractions, caplog):
    fake, real = images
    first = fidelity_metrics(fake, real, weights_path=judge_path, **OPTS)
    (entry,) = (cache / "fidelity").glob("real-*.pt")
    stored = torch.load(entry, weights_only=True)
    stored["data"]["128"][0, 0] += 1.0  # an edited entry: its tensors no longer match the recorded hash
    torch.save(stored, entry)
    with caplog.at_level(logging.WARNING):
        second = fidelity_metrics(fake, real, weights_path=judge_path, **OPTS)
    assert second == first
    assert len(real_extractions) == 2
    assert any("regenerating" in r.getMessage() and str(entry) in r.getMessage() for r in caplog.records)


class Streamed(torch.utils.data.Dataset):
    def __init__(self, images):
        self.items = list(images)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


@pytest.mark.filterwarnings("ignore:Matrix is singular")
def test_reuse_off_and_datasets_are_not_cached(cache, judge_path, images, real_extractions):
    fake, real = images
    a = fidelity_metrics(fake, real, weights_path=judge_path, reuse_real=False, **OPTS)
    streamed = Streamed(Uint8ImageDataset(real).images)  # a Dataset such as a folder's: no content hash to key on
    b = fidelity_metrics(fake, streamed, weights_path=judge_path, **OPTS)
    assert a == b
    assert len(real_extractions) == 2
    assert not (cache / "fidelity").exists()
