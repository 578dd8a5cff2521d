import numpy as np
import pytest
import scipy.linalg
import torch

from harness.core.errors import HarnessError
from metrics.feature_extractor_judge import extractor_name
from metrics.fidelity import fidelity_metrics
from metrics.judges.base import load_judge_file, save_judge
from metrics.judges.registry import JUDGES
from metrics.judges.segmenter import SEGMENTER, Segmenter

N = 120


@pytest.fixture(scope="module")
def judge_file(tmp_path_factory):
    torch.manual_seed(0)
    model = Segmenter(4)
    path = tmp_path_factory.mktemp("seg") / "segmenter.pt"
    save_judge(SEGMENTER, model, {"num_classes": 4}, path)
    return path


def scipy_fid(f1, f2):
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_segmenter_fid_equals_scipy_on_the_same_features(judge_file):
    g = torch.Generator().manual_seed(2)
    real = torch.rand(N, 3, 16, 16, generator=g)
    fake = (torch.rand(N, 3, 16, 16, generator=g) * 0.5 + 0.25)
    judge = load_judge_file(SEGMENTER, judge_file)
    with torch.no_grad():  # uint8 round trip, as torch-fidelity sees the images
        f_fake = judge.features(torch.round(fake * 255) / 255).double().numpy()
        f_real = judge.features(torch.round(real * 255) / 255).double().numpy()
    ours = fidelity_metrics(fake, real, feature_extractor="segmenter", weights_path=judge_file, kid=False, prc=False,
                            batch_size=32)
    assert ours["fid"] == pytest.approx(scipy_fid(f_fake, f_real), rel=1e-4)
    again = fidelity_metrics(fake, real, feature_extractor="segmenter", weights_path=judge_file, kid=False, prc=False,
                             batch_size=7)
    assert again["fid"] == pytest.approx(ours["fid"], rel=1e-6)  # batch-size independent


def test_segmenter_extractor_needs_a_judge_file(tmp_path):
    images = torch.rand(4, 3, 8, 8)
    with pytest.raises(HarnessError, match="'segmenter' extractor needs its judge's weights file"):
        fidelity_metrics(images, images, feature_extractor="segmenter", weights_path=tmp_path / "missing.pt")


def test_every_judge_has_a_registered_extractor():
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

    for name, spec in JUDGES.items():
        cls = FEATURE_EXTRACTORS_REGISTRY[extractor_name(spec)]
        assert cls.spec is spec and extractor_name(spec) == f"harness-{name}"
        assert cls.get_default_feature_layer_for_metric("fid") == spec.feature_layers[0]
