"""``fidelity_on_folders``: folders streamed to torch-fidelity give the same numbers as the in-memory tensors."""

import numpy as np
import pytest
import torch
from PIL import Image

from harness.core.errors import HarnessError
from harness.core.image_folder import open_image_folder
from metrics.fidelity import FolderDataset, fidelity_metrics, fidelity_on_folders
from metrics.judges.base import save_judge
from metrics.judges.digit_classifier import DIGITS, DigitClassifier
from metrics.spec import FolderInputs

N = 40

pytestmark = pytest.mark.usefixtures("one_thread_module")


@pytest.fixture(scope="module")
def judge_path(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("judge") / "digit-judge.pt"
    save_judge(DIGITS, DigitClassifier(28), {"input_size": 28, "num_classes": 10}, path)
    return path


def _save(folder, images):
    folder.mkdir()
    for i, image in enumerate(images):
        Image.fromarray((image[0].numpy() * 255).round().astype(np.uint8)).save(folder / f"{i:03d}.png")
    return folder


def test_folders_match_the_tensor_path_and_read_lazily(tmp_path, judge_path):
    g = torch.Generator().manual_seed(1)
    real = ((torch.rand(N, 1, 28, 28, generator=g) ** 2) * 255).round() / 255
    fake = ((torch.rand(N, 1, 28, 28, generator=g) * 0.8 + 0.1) * 255).round() / 255
    decoded = []
    pred = open_image_folder(_save(tmp_path / "fake", fake), "--pred", on_read=decoded.append)
    dataset = FolderDataset(pred)
    assert len(dataset) == N and decoded == []
    item = dataset[3]
    assert item.dtype == torch.uint8 and item.shape == (3, 28, 28) and len(decoded) == 1
    target = open_image_folder(_save(tmp_path / "real", real), "--target")
    inputs = FolderInputs(pred=pred, target=target, device=torch.device("cpu"), seed=3, feature_extractor="digits",
                          weights=judge_path)
    out = fidelity_on_folders(inputs)
    expected = fidelity_metrics(fake, real, feature_extractor="digits", weights_path=judge_path, seed=3)
    assert set(out) == {"fid", "kid", "kid_std", "precision", "recall", "f1"}
    for key, value in expected.items():
        assert out[key] == pytest.approx(value, rel=1e-9, abs=1e-12)
    with pytest.raises(HarnessError, match="--target"):
        fidelity_on_folders(FolderInputs(pred, None, torch.device("cpu"), 3, "digits", judge_path))
