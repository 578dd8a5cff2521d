"""Users' weights files (VGG19 for SRGAN, VGG-Face for DIAT, Inception for FID): one reader, no code run from them."""

import pytest
import torch

from harness.core.errors import HarnessError
from harness.core.user_weights import load_user_state_dict
from metrics.judges.vgg_face import load_vgg_face
from reference_models.sr_networks import load_vgg19

LOADERS = {"vgg19": (load_vgg19, "VGG19 weights"), "vgg_face": (load_vgg_face, "diat.identity_weights")}


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_code_in_a_weights_file_never_runs(tmp_path, loader, code_payload):
    load, what = LOADERS[loader]
    (payload, marker), path = code_payload, tmp_path / "weights.pth"
    torch.save({"features.0.weight": payload, "conv1_1.weight": payload}, path)
    with pytest.raises(HarnessError, match=f"^{what}: .*weights.pth.* cannot be loaded as plain weights"):
        load(path)
    assert not marker.exists()


def test_the_payload_runs_where_code_is_allowed(tmp_path, code_payload):
    """What the tests above guard against: the same file loaded with code allowed does create the marker."""
    payload, marker = code_payload
    torch.save({"conv1_1.weight": payload}, tmp_path / "weights.pth")
    torch.load(tmp_path / "weights.pth", weights_only=False).pop("conv1_1.weight").close()
    assert marker.exists()


@pytest.mark.parametrize("loader", sorted(LOADERS))
def test_missing_and_foreign_files_are_one_clear_error(tmp_path, loader):
    load, what = LOADERS[loader]
    with pytest.raises(HarnessError, match=f"^{what}: .*absent.pth.* does not exist.*nothing is downloaded"):
        load(tmp_path / "absent.pth")
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(HarnessError, match="is not a state dict of tensors"):
        load(listed)
    text = tmp_path / "notes.pth"
    text.write_text("not a torch file")
    with pytest.raises(HarnessError, match="cannot be loaded as plain weights"):
        load(text)


def test_a_state_dict_comes_back_as_saved(tmp_path):
    state = {"a.weight": torch.arange(6.0).reshape(2, 3), "a.bias": torch.zeros(2)}
    torch.save(state, tmp_path / "w.pth")
    loaded = load_user_state_dict(tmp_path / "w.pth", "x", "a state dict")
    assert loaded.keys() == state.keys() and all(torch.equal(loaded[k], state[k]) for k in state)


def test_vgg_face_loads_its_layout_and_records_the_sha256(tmp_path):
    from harness.core.cache import file_sha256
    from metrics.judges.vgg_face import VGGFaceFeatures

    state = {**VGGFaceFeatures().state_dict(), "fc8.weight": torch.zeros(2, 2)}  # extra fc layers are ignored
    torch.save(state, tmp_path / "vgg_face.pth")
    model, sha = load_vgg_face(tmp_path / "vgg_face.pth")
    assert sha == file_sha256(tmp_path / "vgg_face.pth") and len(sha) == 64
    assert torch.equal(model.conv5_3.weight, state["conv5_3.weight"]) and not model.conv1_1.weight.requires_grad
    del state["conv4_1.bias"]
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(HarnessError, match="lacks VGG-16 layers.*conv4_1.bias"):
        load_vgg_face(tmp_path / "partial.pth")
