"""The SR feature network: learns its self-supervised task, trains deterministically, caches, serves FID features."""

import pytest
import torch
from torch.nn import functional as F

from harness.core.cache import weights_sha256
from harness.core.errors import HarnessError
from metrics.fidelity import fidelity_metrics
from metrics.judges.sr_features import (
    FEATURE_DIM,
    ROTATIONS,
    _batch,
    load_or_train_sr_features,
    train_sr_features,
)

CPU = torch.device("cpu")
pytestmark = pytest.mark.usefixtures("one_thread_module")


def _tiles(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Three 'photos' of different textures: vertical stripes, a diagonal gradient, blobs; four tiles each."""
    g = torch.Generator().manual_seed(seed)
    y, x = torch.meshgrid(torch.arange(24.0), torch.arange(24.0), indexing="ij")
    kinds = [torch.sin(x), (x + 2 * y) / 70, torch.rand(24, 24, generator=g).round()]
    tiles = [(k.clamp(-1, 1) * 100 + 128 + 10 * torch.randn(24, 24, generator=g)).clamp(0, 255).expand(3, -1, -1)
             for k in kinds for _ in range(4)]
    return torch.stack(tiles).to(torch.uint8), torch.arange(3).repeat_interleave(4)


def test_learns_photo_and_rotation_and_is_deterministic():
    tiles, sources = _tiles()
    model = train_sr_features(tiles, sources, crop=16, steps=60, batch_size=16, seed=0, device=CPU, progress=False)
    again = train_sr_features(tiles, sources, crop=16, steps=60, batch_size=16, seed=0, device=CPU, progress=False)
    assert weights_sha256(model.state_dict()) == weights_sha256(again.state_dict())
    x, y = _batch(tiles, sources, 16, 256, torch.Generator().manual_seed(9))
    with torch.no_grad():
        loss = F.cross_entropy(model(x), y)
    assert model.num_classes == 3 * ROTATIONS and float(loss) < 0.7 * torch.log(torch.tensor(12.0))


def test_cache_features_and_torch_fidelity_extractor(cache):
    tiles, sources = _tiles()
    args = dict(crop=16, steps=5, batch_size=8, seed=1, device=CPU, data_key="fake", progress=False)
    model, path, sha = load_or_train_sr_features(tiles, sources, **args)
    mtime = path.stat().st_mtime_ns
    again, path2, sha2 = load_or_train_sr_features(tiles, sources, **args)
    assert path2 == path and sha2 == sha and path.stat().st_mtime_ns == mtime  # loaded, not retrained
    images = tiles[:2].float() / 255
    assert model.features(images, "22").shape == (2, 32, 12, 12)  # 24 px tiles: stage 2 at 1/2, stage 3 at 1/4
    assert model.features(images, "54").shape == (2, 64, 6, 6)
    assert model.pooled(images[:, :1]).shape == (2, FEATURE_DIM)  # grey repeated to RGB
    values = fidelity_metrics(images.repeat(4, 1, 1, 1), (tiles[4:].float() / 255), feature_extractor="sr",
                              weights_path=path, prc=False, kid_subset_size=4, kid_subsets=3, batch_size=4)
    assert values["fid"] > 0 and set(values) == {"fid", "kid", "kid_std"}


def test_bad_tiles_are_an_error():
    with pytest.raises(HarnessError, match="uint8"):
        train_sr_features(torch.rand(2, 3, 8, 8), torch.zeros(2, dtype=torch.int64), crop=16, steps=1, batch_size=1,
                          seed=0, device=CPU, progress=False)
