import numpy as np
import pytest
import torch

from harness.core.errors import HarnessError
from metrics.classifier_accuracy import (
    classification_accuracy,
    classification_error,
    confusion_matrix_compute,
    confusion_matrix_update,
)


def test_hand_computed_confusion_matrix():
    preds = torch.tensor([0, 1, 1, 2, 2, 2, 0])
    labels = torch.tensor([0, 1, 2, 2, 2, 0, 0])
    confusion = confusion_matrix_update(None, preds, labels, 3)
    expected = torch.tensor([[2, 0, 1], [0, 1, 0], [0, 1, 2]])  # rows: true class, columns: predicted
    assert confusion.dtype == torch.int64
    assert torch.equal(confusion, expected)
    assert confusion_matrix_compute(confusion) == {"accuracy": pytest.approx(5 / 7, rel=1e-15)}
    assert classification_accuracy(preds, labels) == {"accuracy": pytest.approx(5 / 7, rel=1e-15)}
    assert classification_error(preds, labels, 3) == {"error": pytest.approx(2 / 7, rel=1e-15)}


@pytest.mark.parametrize("seed", [0, 1])
def test_logits_match_numpy_oracle(seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(200, 10, generator=g)
    labels = torch.randint(0, 10, (200,), generator=g)
    oracle_preds = logits.numpy().argmax(1)
    oracle = (oracle_preds == labels.numpy()).mean()
    oracle_confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(oracle_confusion, (labels.numpy(), oracle_preds), 1)
    assert classification_accuracy(logits, labels)["accuracy"] == pytest.approx(oracle, rel=1e-15)
    assert np.array_equal(confusion_matrix_update(None, logits, labels, 10).numpy(), oracle_confusion)


def test_streaming_is_batch_size_independent():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(53, 4, generator=g)
    labels = torch.randint(0, 4, (53,), generator=g)
    for batch in (1, 10, 53):
        confusion = None
        for lg, lb in zip(logits.split(batch), labels.split(batch), strict=True):
            confusion = confusion_matrix_update(confusion, lg, lb, 4)
        assert confusion_matrix_compute(confusion) == classification_accuracy(logits, labels)


def test_bad_input():
    with pytest.raises(HarnessError, match="3 predictions but 2 labels"):
        classification_accuracy(torch.tensor([0, 1, 1]), torch.tensor([0, 1]), 2)
    with pytest.raises(HarnessError, match="classes"):
        classification_accuracy(torch.randn(3, 5), torch.tensor([0, 1, 1]), 4)
    with pytest.raises(HarnessError, match=r"\[0, 1\]"):
        classification_accuracy(torch.tensor([0, 2]), torch.tensor([0, 1]), 2)
    with pytest.raises(HarnessError, match="no examples"):
        confusion_matrix_compute(torch.zeros(2, 2, dtype=torch.int64))
    with pytest.raises(HarnessError, match="integer labels"):
        classification_accuracy(torch.tensor([0.0, 1.0]), torch.tensor([0, 1]), 2)
