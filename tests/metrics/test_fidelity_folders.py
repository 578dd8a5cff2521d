"""``fidelity_on_folders``: folders streamed to torch-fidelity give the same numbers as the in-memory tensors."""

import numpy as np
import pytest
import torch
from PIL import Image

from harness.core.errors import HarnessError
from harness.core.image_folder import open_image_folder
from metrics.fidelity import FolderDataset, fidelity_metrics, fidelity_on_folders
from metrics.spec import FolderInputs

N = 40

pytestmark = pytest.mark.usefixtures("one_thread_module")


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


def test_evaluate_says_that_fidelity_rounds_16_bit_files(tmp_path, judge_path, caplog, capsys):
    """Every other metric reads 16-bit files at full precision; fidelity's uint8 features round them, and says so."""
    from harness.run import main

    rng = np.random.default_rng(0)
    for name in ("pred", "target"):
        (tmp_path / name).mkdir()
        for i in range(6):
            Image.fromarray(rng.integers(0, 65536, (28, 28), dtype=np.uint16)).save(tmp_path / name / f"{i}.png")
    with caplog.at_level("WARNING"):
        code = main(["evaluate", "--metric", "fidelity", "--pred", str(tmp_path / "pred"), "--target",
                     str(tmp_path / "target"), "--feature-extractor", "digits", "--weights", str(judge_path),
                     "--no-progress"])
    assert code == 0, capsys.readouterr().err
    messages = [r.getMessage() for r in caplog.records]
    for option in ("--pred", "--target"):
        assert any(m.startswith(f"{option}: fidelity scores 8-bit images: its 6 16-bit image(s) are rounded")
                   for m in messages), messages
    assert any("all 6 images are grey; each is repeated to 3 channels (FID/KID features take RGB)" in m
               for m in messages), messages
