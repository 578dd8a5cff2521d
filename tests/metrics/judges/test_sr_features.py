"""The SR feature network on the shared judge machinery: its data source, learning, features, FID extractor."""

import pytest
import torch
from torch.nn import functional as F

from harness.core.cache import weights_sha256
from harness.core.errors import HarnessError
from harness.core.task import DomainData, Task
from metrics.fidelity import fidelity_metrics
from metrics.judges.base import train_judge
from metrics.judges.registry import JUDGES
from metrics.judges.resolve import judge_for_task
from metrics.judges.sr_features import FEATURE_DIM, ROTATIONS, SR_CONTENT, SR_FEATURES, rotation_crops, sr_task_data

CPU = torch.device("cpu")
pytestmark = pytest.mark.usefixtures("one_thread_module")


def _task() -> Task:
    """Three 'photos' of different textures (stripes, a gradient, blobs) in 24 px tiles; 16 px training crops."""
    g = torch.Generator().manual_seed(0)
    y, x = torch.meshgrid(torch.arange(24.0), torch.arange(24.0), indexing="ij")
    kinds = [torch.sin(x), (x + 2 * y) / 70, torch.rand(24, 24, generator=g).round()]
    tiles = torch.stack([(k.clamp(-1, 1) * 100 + 128 + 10 * torch.randn(24, 24, generator=g)).clamp(0, 255)
                         .expand(3, -1, -1) for k in kinds for _ in range(4)]).to(torch.uint8)
    source = {"source": torch.arange(3).repeat_interleave(4)}
    train = {"LR": DomainData(tiles[..., ::4, ::4].contiguous(), source), "HR": DomainData(tiles, source)}
    return Task("sr_fake", ("LR", "HR"), True, (), 16, {"train": train}, {"scale": 4})


def test_data_source_rotates_crops_and_labels_photo_and_rotation():
    tiles = torch.arange(2 * 8 * 8, dtype=torch.uint8).reshape(2, 1, 8, 8)
    images, targets = rotation_crops(tiles, torch.tensor([0, 1]), crop=8, count=64,
                                     generator=torch.Generator().manual_seed(0))
    for image, target in zip(images, targets, strict=True):
        photo, turns = divmod(int(target), ROTATIONS)
        assert torch.equal(image, torch.rot90(tiles[photo], turns, dims=(1, 2)))
    data = sr_task_data(_task())
    assert data.images.shape == (2048, 3, 16, 16) and data.params == {"num_classes": 12}
    assert torch.equal(data.targets, sr_task_data(_task()).targets)  # the data (and the judge key) are fixed


def test_learns_photo_and_rotation_deterministically():
    data = sr_task_data(_task())
    recipe = SR_FEATURES.recipe(60, 16)
    model = train_judge(SR_FEATURES, data, recipe, device=CPU, progress=False)
    again = train_judge(SR_FEATURES, data, recipe, device=CPU, progress=False)
    assert weights_sha256(model.state_dict()) == weights_sha256(again.state_dict())
    with torch.no_grad():
        loss = F.cross_entropy(model(data.images[:256].float() / 255), data.targets[:256])
    assert float(loss) < 0.7 * torch.log(torch.tensor(12.0))
    content = train_judge(SR_CONTENT, data, SR_CONTENT.recipe(60, 16), device=CPU, progress=False)  # another seed
    assert weights_sha256(content.state_dict()) != weights_sha256(model.state_dict())


def test_features_and_torch_fidelity_extractor(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CACHE_DIR", str(tmp_path))  # a fresh cache: the judge is trained here (source local)
    assert {"sr_features", "sr_content"} <= set(JUDGES.names())
    judge = judge_for_task(SR_FEATURES, _task(), steps=5, batch_size=8, device=CPU, progress=False)
    assert judge.source == "local" and judge.provenance()["judge_sha256"] == judge.sha256[:12]
    images = _task().data("train", "HR").images[:4].float() / 255
    assert judge.model.features(images, "22").shape == (4, 32, 12, 12)  # 24 px: stage 2 at 1/2, stage 3 at 1/4
    assert judge.model.features(images, "54").shape == (4, 64, 6, 6)
    assert judge.model.pooled(images[:, :1]).shape == (4, FEATURE_DIM)  # grey repeated to RGB
    real = _task().data("train", "HR").images[4:].float() / 255
    values = fidelity_metrics(images.repeat(2, 1, 1, 1), real, feature_extractor="sr_features",
                              weights_path=judge.path, prc=False, kid_subset_size=4, kid_subsets=3, batch_size=4)
    assert values["fid"] > 0 and set(values) == {"fid", "kid", "kid_std"}


def test_not_an_sr_task_is_an_error():
    task = Task("other", ("A", "B"), True, (), 16, {"train": {}}, {})
    with pytest.raises(HarnessError, match="not an SR task"):
        sr_task_data(task)
