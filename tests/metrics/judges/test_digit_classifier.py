import pytest
import torch

from harness.core.atomic import torch_load
from harness.core.cache import weights_sha256
from harness.core.errors import HarnessError
from metrics.judges import digit_classifier as dc
from metrics.judges.digit_classifier import (
    DigitClassifier,
    load_digit_classifier,
    load_or_train_digit_judge,
    predict_digits,
    save_digit_classifier,
    to_judge_input,
    train_digit_classifier,
)

CPU = torch.device("cpu")


def synthetic_digits(n: int, seed: int, size: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """Class k = a bright 6x6 square at cell k of a 4x3 grid, plus noise: separable, shift-robust."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    images = torch.rand(n, 1, size, size, generator=g) * 0.2
    for i, k in enumerate(labels.tolist()):
        top, left = 2 + (k // 4) * 8, 2 + (k % 4) * 6
        images[i, 0, top : top + 6, left : left + 5] = 0.9
    return images.clamp(0, 1), labels


def test_shapes_and_ranges():
    torch.manual_seed(0)
    for size in (28, 32):
        model = DigitClassifier(size)
        x = torch.rand(3, 1, size, size)
        assert model.features(x).shape == (3, 128)
        assert (model.features(x) >= 0).all()
        assert model(x).shape == (3, 10)
    with pytest.raises(HarnessError, match="input size"):
        DigitClassifier(30)


def test_trains_above_90_percent_on_separable_data():
    train_x, train_y = synthetic_digits(400, seed=1)
    test_x, test_y = synthetic_digits(200, seed=2)
    model = train_digit_classifier(
        train_x, train_y, steps=40, batch_size=16, lr=1e-3, seed=0, device=CPU, progress=False
    )
    accuracy = (predict_digits(model, test_x, batch_size=64) == test_y).double().mean().item()
    assert accuracy > 0.9


def test_deterministic_for_a_seed_and_leaves_global_rng_alone():
    x, y = synthetic_digits(64, seed=3)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = train_digit_classifier(x, y, steps=3, batch_size=4, lr=1e-3, seed=7, device=CPU, progress=False)
    assert torch.equal(torch.rand(1), before)
    b = train_digit_classifier(x, y, steps=3, batch_size=4, lr=1e-3, seed=7, device=CPU, progress=False)
    c = train_digit_classifier(x, y, steps=3, batch_size=4, lr=1e-3, seed=8, device=CPU, progress=False)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.state_dict().values(), c.state_dict().values(), strict=True))


def test_cache_second_call_loads_without_training(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    x, y = synthetic_digits(64, seed=4)
    kwargs = dict(steps=2, batch_size=4, seed=0, device=CPU, data_key="digits-test", progress=False)
    model1, path1, sha1 = load_or_train_digit_judge(x, y, **kwargs)
    assert path1.parent == tmp_path / "judges" and path1.name.startswith("digit-") and path1.suffix == ".pt"
    assert sha1 == weights_sha256(torch_load(path1)["state_dict"]) and len(sha1) == 64

    def no_training(*args, **kw):
        raise AssertionError("retrained instead of loading the cache")

    monkeypatch.setattr(dc, "train_digit_classifier", no_training)
    model2, path2, sha2 = load_or_train_digit_judge(x, y, **kwargs)
    assert (path2, sha2) == (path1, sha1)
    for p1, p2 in zip(model1.state_dict().values(), model2.state_dict().values(), strict=True):
        assert torch.equal(p1, p2)
    # Anything in the key changes the entry.
    other = dict(kwargs, seed=1)
    monkeypatch.undo()
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))
    assert load_or_train_digit_judge(x, y, **other)[1] != path1


def test_save_load_roundtrip_and_bad_files(tmp_path):
    torch.manual_seed(0)
    model = DigitClassifier(32)
    path = tmp_path / "judge.pt"
    save_digit_classifier(model, path)
    loaded = load_digit_classifier(path, CPU)
    assert loaded.input_size == 32
    x = torch.rand(2, 1, 32, 32)
    assert torch.equal(model.eval()(x), loaded(x))
    with pytest.raises(HarnessError, match="do not exist"):
        load_digit_classifier(tmp_path / "missing.pt", CPU)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(HarnessError, match="junk.pt"):
        load_digit_classifier(tmp_path / "junk.pt", CPU)


def test_bad_training_input():
    x, y = synthetic_digits(8, seed=0)
    with pytest.raises(HarnessError, match="channels"):
        train_digit_classifier(
            x.repeat(1, 3, 1, 1), y, steps=1, batch_size=2, lr=1e-3, seed=0, device=CPU, progress=False
        )
    with pytest.raises(HarnessError, match="labels"):
        train_digit_classifier(x, y + 10, steps=1, batch_size=2, lr=1e-3, seed=0, device=CPU, progress=False)


def test_judge_input_conversion_and_batch_independence():
    g = torch.Generator().manual_seed(0)
    gray = torch.rand(5, 1, 28, 28, generator=g)
    # Grayscale repeated to RGB comes back as the same grayscale (luma weights sum to 1).
    assert torch.allclose(to_judge_input(gray.repeat(1, 3, 1, 1), 28), gray, atol=1e-6)
    rgb = torch.rand(5, 3, 32, 32, generator=g)
    luma = 0.299 * rgb[:, 0] + 0.587 * rgb[:, 1] + 0.114 * rgb[:, 2]
    assert torch.allclose(to_judge_input(rgb, 32)[:, 0], luma, atol=1e-6)
    assert to_judge_input(rgb, 28).shape == (5, 1, 28, 28)
    torch.manual_seed(0)
    model = DigitClassifier(28).eval()
    x = torch.rand(13, 1, 28, 28, generator=g)
    assert torch.equal(predict_digits(model, x, batch_size=2), predict_digits(model, x, batch_size=13))
