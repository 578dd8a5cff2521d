import pytest
import torch

from harness.core.errors import HarnessError
from metrics.judges.base import train_judge
from metrics.judges.digit_classifier import DIGITS, DigitClassifier, digit_data, predict_digits, to_judge_input

CPU = torch.device("cpu")


def synthetic_digits(n: int, seed: int, size: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """Class k = a bright 6x5 block at cell k of a 4x3 grid, plus noise: separable, shift-robust; uint8."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    images = torch.rand(n, 1, size, size, generator=g) * 0.2
    for i, k in enumerate(labels.tolist()):
        top, left = 2 + (k // 4) * 8, 2 + (k % 4) * 6
        images[i, 0, top : top + 6, left : left + 5] = 0.9
    return (images.clamp(0, 1) * 255).round().to(torch.uint8), labels


def test_shapes_and_ranges():
    torch.manual_seed(0)
    for size in (28, 32):
        model = DigitClassifier(size)
        x = torch.rand(3, 1, size, size)
        assert model.features(x).shape == (3, 128)
        assert (model.features(x) >= 0).all()
        assert model(x).shape == (3, 10)
        feats = DIGITS.features(model, torch.rand(3, 3, 40, 40))
        assert set(feats) == set(DIGITS.feature_layers) and feats["128"].shape == (3, 128)
    with pytest.raises(HarnessError, match="input size"):
        DigitClassifier(30)


def test_trains_above_90_percent_on_separable_data():
    train = digit_data(*synthetic_digits(400, seed=1))
    test_x, test_y = synthetic_digits(200, seed=2)
    model = train_judge(DIGITS, train, DIGITS.recipe(40, 16), device=CPU, progress=False)
    accuracy = (predict_digits(model, test_x.float() / 255, batch_size=64) == test_y).double().mean().item()
    assert accuracy > 0.9


def test_bad_training_input():
    x, y = synthetic_digits(8, seed=0)
    with pytest.raises(HarnessError, match="channels"):
        digit_data(x.repeat(1, 3, 1, 1), y)
    with pytest.raises(HarnessError, match="square"):
        digit_data(x[:, :, :, :20], y)
    with pytest.raises(HarnessError, match=r"targets must be in \[0, 9\]"):
        train_judge(DIGITS, digit_data(x, y + 10), DIGITS.recipe(1, 2), device=CPU, progress=False)


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
