"""SRGAN's content-loss scale: calibrated per content network so that l_X(bicubic, HR) sits at l_MSE(bicubic, HR).

The acceptance check of issue 22: on a bicubic batch the calibration did not see, the content term is within 2x of
the pixel MSE, for the harness's stand-in network (the committed smoke ``sr_content``) and for VGG19 weights from a
user's file (torchvision and Caffe preprocessing).
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from harness.run_config import model_config, resolve_config
from harness.sr_models import bicubic_pairs, build_sr_model, sr_content_network
from harness.tasks import build_task
from reference_models.sr_content import PAPER_RESCALE
from reference_models.sr_networks import VGG19Features

CPU = torch.device("cpu")
pytestmark = pytest.mark.usefixtures("one_thread_module")


@pytest.fixture(scope="module")
def smoke_sr():
    config = resolve_config("smoke", {})
    return config, build_task("sr", config)


def _content_over_mse(content, layer: str, upsampled: torch.Tensor, hr: torch.Tensor) -> float:
    """l_X / l_MSE of the bicubic batch, l_X as SRGAN computes it (s·φ, pixels from [−1, 1] mapped to [0, 1])."""
    with torch.no_grad():
        diff = content.scale * (content.features(upsampled, layer) - content.features(hr, layer))
    return float(diff.double().square().mean() / ((upsampled - hr) * 2).double().square().mean())


@pytest.mark.parametrize("content", ["vgg54", "vgg22"])
def test_stand_in_content_term_within_2x_of_mse_on_a_held_out_bicubic_batch(smoke_sr, content):
    config, task = smoke_sr
    cfg = dataclasses.replace(model_config(config, "srgan", "sr"), content=content)
    network = sr_content_network(cfg, task, CPU)
    assert "calibrated" in network.scale_note and network.scale != PAPER_RESCALE
    upsampled, hr = bicubic_pairs(task, cfg, seed=1)  # not the calibration batch (seed 0)
    assert 0.5 <= _content_over_mse(network, content.removeprefix("vgg"), upsampled, hr) <= 2.0


def _vgg_file(tmp_path, seed: int = 0):
    torch.manual_seed(seed)
    path = tmp_path / "vgg19.pth"
    torch.save({f"features.{k}": v for k, v in VGG19Features().features.state_dict().items()}, path)
    return path


@pytest.mark.parametrize("preprocess", ["torchvision", "caffe"])
def test_vgg19_content_term_within_2x_of_mse_for_either_preprocessing(smoke_sr, tmp_path, preprocess):
    config, task = smoke_sr
    cfg = dataclasses.replace(model_config(config, "srgan", "sr"), vgg19_weights=str(_vgg_file(tmp_path)),
                              vgg19_preprocess=preprocess, content="vgg22")  # phi2,2: the same code, 10x cheaper
    network = sr_content_network(cfg, task, CPU)
    assert f"{preprocess} preprocessing" in network.description
    upsampled, hr = bicubic_pairs(task, cfg, seed=1)
    assert 0.5 <= _content_over_mse(network, "22", upsampled, hr) <= 2.0


def test_fixed_scale_is_the_configured_one_and_rows_say_so(smoke_sr):
    config, task = smoke_sr
    cfg = dataclasses.replace(model_config(config, "srgan", "sr"), content_scale="fixed")
    network = sr_content_network(cfg, task, CPU)
    assert network.scale == PAPER_RESCALE == cfg.feature_rescale and "fixed" in network.scale_note
    model = build_sr_model(cfg, task, CPU)
    assert model.content_scale == PAPER_RESCALE
    assert "fixed srgan.feature_rescale 0.0784314" in model.provenance()["model_content_scale"]
    assert sr_content_network(dataclasses.replace(cfg, content="mse"), task, CPU) is None


def test_calibrated_model_trains_with_its_scale_and_keeps_it_across_a_reload(smoke_sr):
    config, task = smoke_sr
    cfg = model_config(config, "srgan", "sr")
    model = build_sr_model(cfg, task, CPU)
    assert model.content_scale == model.content.scale
    sr, hr = torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1
    phi = model.content.features
    expected = torch.nn.functional.mse_loss(model.content_scale * phi((sr + 1) / 2, "54"),
                                            model.content_scale * phi((hr + 1) / 2, "54"))
    assert torch.allclose(model._content_loss(sr, hr, "vgg54"), expected, rtol=1e-5)
    state = model.state_dict() | {"content_scale": 0.5}
    model.load_state_dict(state)
    assert model.content_scale == 0.5 and model.provenance()["model_content_scale"].startswith("s 0.5,")


def test_caffe_preprocessing_is_bgr_0_255_minus_the_mean():
    torch.manual_seed(0)
    caffe, plain = VGG19Features("caffe"), VGG19Features()
    plain.features.load_state_dict(caffe.features.state_dict())
    plain.mean.zero_()
    plain.std.fill_(1.0)
    x = torch.rand(2, 3, 16, 16)
    manual = x.flip(1) * 255 - torch.tensor([103.939, 116.779, 123.68]).view(1, 3, 1, 1)
    assert torch.allclose(caffe(x, "22"), plain(manual, "22"), rtol=1e-5, atol=1e-4)
