"""Fixtures shared by the metric tests."""

import pytest
import torch

from metrics.judges.base import save_judge
from metrics.judges.digit_classifier import DIGITS, DigitClassifier


@pytest.fixture(scope="module")
def judge_path(tmp_path_factory):
    """A digit judge with fixed random weights (seed 0): the extractor only has to be a fixed function of the images."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("judge") / "digit-judge.pt"
    save_judge(DIGITS, DigitClassifier(28), {"input_size": 28, "num_classes": 10}, path)
    return path
