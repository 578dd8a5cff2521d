"""The sr protocol on a small embedded task: reference rows, a stub model, per-image rows, FID notes, errors."""

import dataclasses
import math

import pytest
import torch

from harness.core.errors import HarnessError
from harness.data.imresize import imresize
from harness.data.sr import SRConfig, build_sr
from harness.data.sr_pairs import unpad
from harness.protocols.base import EvalConfig, EvalContext
from harness.protocols.sr import OUTPUTS, evaluate_sr, reference_sr
from metrics.psnr_ssim import psnr_ssim

pytestmark = pytest.mark.usefixtures("one_thread_module")
EVAL = EvalConfig(judge_steps=3, judge_batch_size=4, kid_subset_size=8, kid_subsets=4, batch_size=16,
                  n_sample_images=2)


@pytest.fixture(scope="module")
def task():
    return build_sr(SRConfig(image_size=16, tile=32, test_size=256))  # a grid of 11 crops of the 4 test photos


@pytest.fixture
def ctx(task, tmp_path, cache):
    return EvalContext(model_name="stub", task=task, seed=0, device=torch.device("cpu"), config=EVAL,
                       sample_dir=tmp_path / "samples", setting="paired", variant="bicubic stub", progress=False)


NAMES = ["astronaut@0,0", "astronaut@0,256", "astronaut@256,0", "astronaut@256,256", "chelsea@0,0", "coffee@0,0",
         "coffee@0,256", "grace_hopper@0,0", "grace_hopper@0,256", "grace_hopper@256,0", "grace_hopper@256,256"]


class BicubicStub:
    """A 'model' that upsamples with MATLAB bicubic, so its rows must equal the bicubic reference rows."""

    scale = 4

    def translate(self, images, direction="AtoB"):
        return imresize((images * 255).round().to(torch.uint8), float(self.scale)).float() / 255

    def provenance(self):
        return {"model_train": "none, bicubic"}


def _values(rows, model):
    return {r.metric: r.value for r in rows if r.model == model}


def test_reference_rows_are_nearest_bicubic_and_hr(ctx, task):
    rows = reference_sr(dataclasses.replace(ctx, setting="reference"))
    assert {r.model for r in rows} == {"nearest", "bicubic", "hr"}
    hr = _values(rows, "hr")
    assert hr["y_psnr"] == math.inf and hr["rgb_psnr"] == math.inf and hr["psnr_identical"] == len(NAMES)
    assert hr["y_ssim"] == pytest.approx(1.0) and hr["hf_ratio"] == pytest.approx(1.0)
    bicubic = _values(rows, "bicubic")
    lr, truth = unpad(task.data("test", "LR"), 0), unpad(task.data("test", "HR"), 0)
    direct = psnr_ssim(BicubicStub().translate(lr), truth, crop_border=4, y_channel=True)
    astronaut = next(r for r in rows if r.model == "bicubic" and r.metric == "y_psnr_per_image")
    assert "image=astronaut@0,0" in astronaut.protocol and astronaut.value == pytest.approx(direct["psnr"], abs=1e-9)
    assert bicubic["y_psnr"] > _values(rows, "nearest")["y_psnr"] and bicubic["hf_ratio"] < 0.5
    assert all(r.setting == "reference" for r in rows)
    assert (ctx.sample_dir / "LR_to_HR" / "_target.png").exists()


def test_model_rows_carry_ci_per_image_values_provenance_and_fid_note(ctx):
    rows = evaluate_sr(BicubicStub(), dataclasses.replace(ctx, model_provenance=BicubicStub().provenance()))
    values = _values(rows, "stub")
    reference = _values(reference_sr(dataclasses.replace(ctx, setting="reference")), "bicubic")
    for key in ("y_psnr", "y_ssim", "rgb_psnr", "rgb_ssim", "hf_ratio"):
        assert values[key] == pytest.approx(reference[key], abs=1e-12), key
    assert set(OUTPUTS) <= set(values)
    per_image = [r for r in rows if r.metric == "y_psnr_per_image"]
    names = [r.protocol.split("image=", 1)[1].split(";")[0] for r in per_image]
    assert names == NAMES
    mean = next(r for r in rows if r.metric == "y_psnr")
    assert mean.n == len(NAMES) and mean.ci_low < mean.value < mean.ci_high and mean.higher_is_better is True
    assert "model_train=none, bicubic" in mean.protocol and "test=grid of 256px crops" in mean.protocol
    fid = next(r for r in rows if r.metric == "fid")
    assert "harness SR feature network" in fid.protocol and "tiles of only 4 photos" in fid.protocol
    assert fid.n == len(NAMES) * 256 // 16 * 256 // 16 // 2  # 16 px tiles, SR on half the checkerboard


def test_published_values_on_a_named_benchmark(ctx, task):
    named = dataclasses.replace(task, meta={**task.meta, "benchmark": "set5"})
    rows = reference_sr(dataclasses.replace(ctx, task=named))
    bicubic = next(r for r in rows if r.model == "bicubic" and r.metric == "y_psnr")
    assert bicubic.published_value == 28.43 and "Table 2" in bicubic.published_source


def test_model_of_the_wrong_scale_is_an_error(ctx):
    stub = BicubicStub()
    stub.scale = 2
    with pytest.raises(HarnessError, match="scale must match"):
        evaluate_sr(stub, ctx)
