"""DTN's f as a judge: architecture, the frozen representation, training, data source, key per width."""

import pytest
import torch

from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task
from metrics.judges.base import judge_key, train_judge
from metrics.judges.source_digits import (
    SOURCE_DIGITS,
    Representation,
    SourceDigitClassifier,
    predict_source_digits,
    source_digits_data,
    to_source_input,
)
from reference_models.base import count_parameters

CPU = torch.device("cpu")


def separable_rgb(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Class k = a bright 6x5 block at cell k of a 4x3 grid on a 32 px RGB image, plus noise (uint8)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    images = torch.rand(n, 3, 32, 32, generator=g) * 0.2
    for i, k in enumerate(labels.tolist()):
        top, left = 3 + (k // 4) * 9, 3 + (k % 4) * 7
        images[i, :, top : top + 6, left : left + 5] = 0.9
    return (images * 255).round().to(torch.uint8), labels


def _task(images: torch.Tensor, labels: torch.Tensor) -> Task:
    split = {"printed": DomainData(images, {"class": labels}),
             "handwritten": DomainData(images[:, :1, 2:30, 2:30].contiguous(), {"class": labels})}
    return Task(name="t", domains=("printed", "handwritten"), paired=False, label_kinds=("class",), image_size=32,
                splits={"train": split, "test": split})


def test_architecture_and_paper_width_parameter_count():
    model = SourceDigitClassifier()
    x = torch.rand(2, 3, 32, 32)
    assert model.features(x).shape == (2, 128) and model(x).shape == (2, 10)
    # Restated by hand: three 3x3 convolutions 3→64→128→256 and a 4x4 one 256→128, none with a bias (batch norm
    # follows each: weight and bias per channel), then the 128 → 10 linear head.
    convs = 3 * 64 * 9 + 64 * 128 * 9 + 128 * 256 * 9 + 256 * 128 * 16
    norms = 2 * (64 + 128 + 256 + 128)
    assert count_parameters(model) == convs + norms + 128 * 10 + 10 == 897_098
    assert model.eval().features(x).abs().max() < 1  # tanh-bounded representation
    assert SourceDigitClassifier(16).features(x).shape == (2, 32)
    with pytest.raises(HarnessError, match="width"):
        SourceDigitClassifier(0)


def test_representation_takes_grey_as_replicated_rgb_and_stays_frozen():
    torch.manual_seed(0)
    f = Representation(SourceDigitClassifier(8))
    grey = torch.rand(3, 1, 28, 28)
    assert torch.allclose(f(grey), f(grey.repeat(1, 3, 1, 1)))
    assert to_source_input(grey).shape == (3, 3, 32, 32)
    f.train()
    assert not f.training and not any(p.requires_grad for p in f.parameters())
    x = torch.rand(2, 1, 32, 32, requires_grad=True)
    f(x).sum().backward()  # gradients reach the input (L_CONST trains g through f), never f's weights
    assert x.grad is not None and all(p.grad is None for p in f.parameters())


def test_trains_above_90_percent_and_data_source():
    images, labels = separable_rgb(400, seed=1)
    data = source_digits_data(_task(images, labels), width=8)
    assert data.params == {"num_classes": 10, "width": 8}
    model = train_judge(SOURCE_DIGITS, data, SOURCE_DIGITS.recipe(150, 16), device=CPU, progress=False)
    test_x, test_y = separable_rgb(200, seed=2)
    accuracy = (predict_source_digits(model, test_x.float() / 255, batch_size=64) == test_y).double().mean().item()
    assert accuracy > 0.9
    features = SOURCE_DIGITS.features(model, test_x[:3].float() / 255)
    assert set(features) == set(SOURCE_DIGITS.feature_layers) and features["representation"].shape == (3, 16)
    other = source_digits_data(_task(images, labels), width=16)
    recipe = SOURCE_DIGITS.recipe(60, 16)
    assert judge_key(SOURCE_DIGITS, data, recipe) != judge_key(SOURCE_DIGITS, other, recipe)


def test_source_domain_must_be_rgb_32():
    images, labels = separable_rgb(4, seed=0)
    with pytest.raises(HarnessError, match="RGB 32 x 32"):
        source_digits_data(_task(images[:, :, :28, :28].contiguous(), labels))
    with pytest.raises(HarnessError, match="width"):
        source_digits_data(_task(images, labels), width=0)
