"""The Inception weights are read with weights_only=True: a malicious pickle at that path runs no code."""

import io

import pytest
import torch
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torch_fidelity.utils import create_feature_extractor

from harness.core.cache import file_sha256
from harness.core.errors import HarnessError
from metrics import fidelity
from metrics.feature_extractor_inception import SAFE_INCEPTION_EXTRACTOR, FeatureExtractorInceptionSafe


class _Unloaded(FeatureExtractorInceptionV3):
    """torch-fidelity's network with its random initialisation (its weights load skipped)."""

    def load_state_dict(self, state_dict, strict=True, assign=False):
        return None


@pytest.fixture(scope="module")
def random_weights(tmp_path_factory):
    """A state-dict file of the right shapes (random values): stands in for the real 95 MB download."""
    empty = io.BytesIO()
    torch.save({}, empty)
    empty.seek(0)
    torch.manual_seed(0)
    net = _Unloaded("probe", ["2048"], feature_extractor_weights_path=empty)
    path = tmp_path_factory.mktemp("inception") / "weights.pth"
    torch.save(net.state_dict(), path)
    return path


def test_malicious_pickle_runs_no_code(tmp_path, monkeypatch, code_payload):
    payload, marker = code_payload
    path = tmp_path / fidelity.INCEPTION_FILE
    torch.save({"Conv2d_1a_3x3.conv.weight": payload}, path)
    with pytest.raises(HarnessError, match="cannot be loaded as plain weights"):
        FeatureExtractorInceptionSafe(SAFE_INCEPTION_EXTRACTOR, ["2048"], feature_extractor_weights_path=str(path))
    assert not marker.exists()
    # Through the public path too, with the sha256 check out of the way (as if the payload matched it).
    monkeypatch.setattr(fidelity, "INCEPTION_SHA256", file_sha256(path))
    images = torch.rand(4, 3, 16, 16)
    with pytest.raises(HarnessError, match=path.name):
        fidelity.fidelity_metrics(images, images, feature_extractor="inception-v3-compat", weights_path=path,
                                  kid=False, prc=False)
    assert not marker.exists()


def test_not_a_state_dict_is_refused(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(HarnessError, match="not a state dict"):
        FeatureExtractorInceptionSafe(SAFE_INCEPTION_EXTRACTOR, ["2048"], feature_extractor_weights_path=str(path))
    with pytest.raises(HarnessError, match="nothing is downloaded"):
        FeatureExtractorInceptionSafe(SAFE_INCEPTION_EXTRACTOR, ["2048"])


def test_safe_extractor_equals_torch_fidelity_on_the_same_weights(random_weights, monkeypatch):
    ours = create_feature_extractor(SAFE_INCEPTION_EXTRACTOR, ["2048"], cuda=False,
                                    feature_extractor_weights_path=str(random_weights), verbose=False)
    theirs = FeatureExtractorInceptionV3("inception-v3-compat", ["2048"],
                                         feature_extractor_weights_path=str(random_weights)).eval()
    x = (torch.rand(1, 3, 40, 40) * 255).to(torch.uint8)
    with torch.no_grad():
        assert torch.equal(ours(x)[0], theirs(x)[0])
    # verify_inception_weights returns the full sha256 that protocols record in every row.
    monkeypatch.setattr(fidelity, "INCEPTION_SHA256", file_sha256(random_weights))
    path, digest = fidelity.verify_inception_weights(random_weights)
    assert path == random_weights and digest == file_sha256(random_weights) and len(digest) == 64


def test_a_file_matching_only_the_hash_prefix_is_refused(random_weights, monkeypatch):
    """A file forged to the 8 hex digits of the file name (32 bits: minutes on one core) is not Inception."""
    digest = file_sha256(random_weights)
    monkeypatch.setattr(fidelity, "INCEPTION_SHA256", digest[:8] + ("0" if digest[8] != "0" else "1") + digest[9:])
    with pytest.raises(HarnessError, match=f"has sha256 {digest}, expected"):
        fidelity.verify_inception_weights(random_weights)
    images = torch.rand(4, 3, 16, 16)
    with pytest.raises(HarnessError, match="replace the file"):
        fidelity.fidelity_metrics(images, images, feature_extractor="inception-v3-compat", weights_path=random_weights,
                                  kid=False, prc=False)


def test_the_pinned_digest_is_the_file_names_and_whole():
    assert len(fidelity.INCEPTION_SHA256) == 64 and int(fidelity.INCEPTION_SHA256, 16) >= 0
    assert fidelity.INCEPTION_FILE.removesuffix(".pth").endswith("-" + fidelity.INCEPTION_SHA256[:8])
