import numpy as np
import pytest
import scipy.linalg
import torch
import torch_fidelity
from torch_fidelity.metric_kid import kid_features_to_metric
from torch_fidelity.metric_prc import prc_features_to_metric
from torch_fidelity.utils import create_feature_extractor, get_featuresdict_from_dataset

from harness.core.errors import HarnessError
from harness.core.images import save_image
from metrics.feature_extractor_judge import extractor_name
from metrics.fidelity import (
    INCEPTION_FILE,
    Uint8ImageDataset,
    fidelity_metrics,
    verify_inception_weights,
    warn_small_sample,
)
from metrics.judges.base import load_judge_file
from metrics.judges.digit_classifier import DIGITS, to_judge_input

N = 160
DIGITS_EXTRACTOR = extractor_name(DIGITS)
PINNED_FID = 0.0418065  # digits extractor, judge from torch.manual_seed(0), images below; torch 2.14 CPU


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(1)
    real = torch.rand(N, 1, 28, 28, generator=g) ** 2
    fake = (torch.rand(N, 1, 28, 28, generator=g) * 0.8 + 0.1).clamp(0, 1)
    return fake, real


def own_features(path, imgs):
    """Features computed by hand: uint8 round-trip, then the judge on its own input convention."""
    judge = load_judge_file(DIGITS, path)
    x = torch.round(imgs * 255) / 255
    with torch.no_grad():
        return judge.features(to_judge_input(x, 28)).double().numpy()


def scipy_fid(f1, f2):
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def run(fake, real, path, **kw):
    opts = dict(
        feature_extractor="digits", weights_path=path, kid_subset_size=50, kid_subsets=10, batch_size=50, seed=3
    )
    opts.update(kw)
    return fidelity_metrics(fake, real, **opts)


@pytest.mark.filterwarnings("ignore:Matrix is singular")  # dead ReLUs of a random judge: rank-deficient covariance
def test_keys_and_parity_with_independent_oracles(judge_path, images):
    fake, real = images
    out = run(fake, real, judge_path)
    assert list(out) == ["fid", "kid", "kid_std", "precision", "recall", "f1"]
    f1, f2 = own_features(judge_path, fake), own_features(judge_path, real)
    assert out["fid"] == pytest.approx(scipy_fid(f1, f2), rel=1e-4)
    t1, t2 = torch.from_numpy(f1).float(), torch.from_numpy(f2).float()
    kid = kid_features_to_metric(t1, t2, kid_subsets=10, kid_subset_size=50, rng_seed=3, verbose=False)
    assert out["kid"] == pytest.approx(kid[torch_fidelity.KEY_METRIC_KID_MEAN], rel=1e-5)
    assert out["kid_std"] == pytest.approx(kid[torch_fidelity.KEY_METRIC_KID_STD], rel=1e-5)
    prc = prc_features_to_metric(t1, t2, prc_neighborhood=3, verbose=False)
    assert out["precision"] == prc[torch_fidelity.KEY_METRIC_PRECISION]
    assert out["recall"] == prc[torch_fidelity.KEY_METRIC_RECALL]


def test_kid_full_subset_equals_hand_mmd(judge_path, images):
    # With one subset of all N samples, KID is the unbiased MMD^2 of the whole sets (subsets are permutations).
    fake, real = images
    out = run(fake, real, judge_path, fid=False, prc=False, kid_subset_size=N, kid_subsets=1)
    x, y = own_features(judge_path, fake), own_features(judge_path, real)
    d = x.shape[1]
    kxx, kyy, kxy = ((a @ b.T / d + 1) ** 3 for a, b in ((x, x), (y, y), (x, y)))
    mmd = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (N * (N - 1)) - 2 * kxy.mean()
    assert out["kid"] == pytest.approx(mmd, rel=1e-4)
    assert out["kid_std"] == 0.0


def test_precision_recall_hand_knn(judge_path, images):
    fake, real = images
    out = run(fake, real, judge_path, fid=False, kid=False)
    x, y = own_features(judge_path, fake), own_features(judge_path, real)
    dyy = np.linalg.norm(y[:, None] - y[None], axis=-1)
    dxx = np.linalg.norm(x[:, None] - x[None], axis=-1)
    dxy = np.linalg.norm(x[:, None] - y[None], axis=-1)
    radius_y, radius_x = np.sort(dyy, 1)[:, 3], np.sort(dxx, 1)[:, 3]  # 3rd neighbour, self excluded
    assert out["precision"] == pytest.approx((dxy <= radius_y[None]).any(1).mean(), abs=1.5 / N)
    assert out["recall"] == pytest.approx((dxy.T <= radius_x[None]).any(1).mean(), abs=1.5 / N)


def test_equals_calculate_metrics_on_png_folders(judge_path, images, tmp_path):
    # torch-fidelity's own path: PNG folders read by PIL and converted to RGB, same registered extractor.
    fake, real = images
    for name, imgs in (("fake", fake[:60]), ("real", real[:60])):
        (tmp_path / name).mkdir()
        for i, img in enumerate(imgs):
            save_image(img, tmp_path / name / f"{i:04d}.png")
    ref = torch_fidelity.calculate_metrics(
        input1=str(tmp_path / "fake"),
        input2=str(tmp_path / "real"),
        cuda=False,
        fid=True,
        kid=True,
        feature_extractor=DIGITS_EXTRACTOR,
        feature_extractor_weights_path=str(judge_path),
        kid_subset_size=30,
        kid_subsets=5,
        rng_seed=3,
        cache=False,
        save_cpu_ram=True,
        verbose=False,
        samples_shuffle=False,
    )
    out = run(fake[:60], real[:60], judge_path, prc=False, kid_subset_size=30, kid_subsets=5)
    assert out["fid"] == pytest.approx(ref[torch_fidelity.KEY_METRIC_FID], rel=1e-5)
    # KID is a small difference of large kernel means: float32 summation order (thread count) moves it by ~1e-8
    # absolute (CI saw 9.8476e-4 vs 9.8472e-4), so the tolerance is absolute at that scale.
    assert out["kid"] == pytest.approx(ref[torch_fidelity.KEY_METRIC_KID_MEAN], rel=1e-5, abs=1e-7)


def test_fid_of_a_set_with_itself_is_zero_and_pinned_value(judge_path, images):
    fake, real = images
    self_fid = run(real, real, judge_path, kid=False, prc=False)["fid"]
    out = run(fake, real, judge_path, kid=False, prc=False)
    assert abs(self_fid) < 1e-4 * out["fid"]
    assert out["fid"] == pytest.approx(PINNED_FID, rel=1e-3)


def test_batch_size_independence(judge_path, images):
    fake, _ = images
    extractor = create_feature_extractor(
        DIGITS_EXTRACTOR, ["128"], cuda=False, feature_extractor_weights_path=str(judge_path), verbose=False
    )
    feats = [
        get_featuresdict_from_dataset(Uint8ImageDataset(fake), extractor, b, False, True, False)["128"] for b in (7, 50)
    ]
    assert torch.allclose(feats[0], feats[1], rtol=1e-5, atol=1e-6)
    a, b = (run(fake, images[1], judge_path, batch_size=b) for b in (7, 50))
    for key in a:
        assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-9)


def test_rgb_and_grayscale_inputs(judge_path, images):
    fake, real = images
    gray = run(fake, real, judge_path, kid=False, prc=False)["fid"]
    rgb = run(fake.repeat(1, 3, 1, 1), real.repeat(1, 3, 1, 1), judge_path, kid=False, prc=False)["fid"]
    assert rgb == pytest.approx(gray, rel=1e-5)


def test_inception_weights_are_never_downloaded(tmp_path, images):
    fake, real = images
    with pytest.raises(HarnessError, match="never downloads"):
        fidelity_metrics(fake, real, feature_extractor="inception-v3-compat", weights_path=None)
    with pytest.raises(HarnessError, match="does not exist"):
        verify_inception_weights(tmp_path / INCEPTION_FILE)
    bad = tmp_path / INCEPTION_FILE
    bad.write_bytes(b"not the inception weights")
    with pytest.raises(HarnessError, match="6726825d") as err:
        fidelity_metrics(fake, real, feature_extractor="inception-v3-compat", weights_path=bad)
    assert INCEPTION_FILE in str(err.value)


def test_bad_options(judge_path, images, tmp_path):
    fake, real = images
    with pytest.raises(HarnessError, match="weights file"):
        fidelity_metrics(fake, real, feature_extractor="digits", weights_path=tmp_path / "missing.pt")
    with pytest.raises(HarnessError, match="unknown feature extractor"):
        fidelity_metrics(fake, real, feature_extractor="vgg", weights_path=judge_path)
    with pytest.raises(HarnessError, match=r"\[0, 1\]"):
        fidelity_metrics(fake * 2, real, feature_extractor="digits", weights_path=judge_path)


def test_warn_small_sample():
    assert warn_small_sample(10000) is None
    assert "500" in warn_small_sample(500)
    assert warn_small_sample(500, feature_dim=128) is None
    assert warn_small_sample(100, feature_dim=128) is not None
