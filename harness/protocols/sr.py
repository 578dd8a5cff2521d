"""The ``sr`` protocol: super-resolution scored as SRGAN's Tables 1–2, plus sharpness and distribution distances.

For every test image (a whole photo, or one crop of the task's grid of held-out crops), the model turns the LR image
into an SR image, which is rounded to 8 bits (the benchmarks score saved images) and compared with the HR image:

- ``y_psnr``, ``y_ssim`` (the papers' headline: Y channel of BT.601, ``crop_border`` = scale) and ``rgb_psnr``,
  ``rgb_ssim`` (R, G, B, same crop), from ``metrics.psnr_ssim``; means over images with a t-interval across
  images, and every image's own value as a ``y_psnr_per_image`` / ``y_ssim_per_image`` / ``hf_ratio_per_image``
  row naming the image (the report draws their distributions). PSNR of identical
  images is inf (the HR row, "∞" in Table 2); means are over finite values, ``psnr_identical`` counts the rest.
- ``hf_ratio``: high-frequency energy of SR over HR above the LR Nyquist frequency (``metrics.sharpness``): the
  "sharper but lower PSNR" half of SRGAN's claim.
- ``fid``, ``kid``: torch-fidelity on non-overlapping tiles of ``task.image_size`` px of the test images, in a
  checkerboard: SR tiles on the "black" squares against HR tiles on the "white" ones, so the two samples share no
  pixels (a SR tile and the HR tile of the same place are nearly the same image, which would bias KID's cross
  term). Features: Inception when ``eval.inception_weights`` is given, else the harness's SR feature network (a
  separate instance from SRGAN's content network). A few test images give few tiles: every row says how many and
  warns when FID's sample is too small.

Reference rows (``setting=reference``): ``nearest`` (pixel replication), ``bicubic`` (MATLAB ``imresize``, the
papers' baseline) and ``hr`` (the HR image itself).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from pathlib import Path

import torch
from scipy import stats

from harness import published
from harness.core.errors import HarnessError
from harness.core.images import to_uint8
from harness.core.results import Row
from harness.data.imresize import imresize, nearest_upscale
from harness.data.sr_pairs import unpad
from harness.protocols.base import EvalContext, ProtocolSpec
from harness.protocols.rows import as_saved, make_rows, save_outputs, save_strip
from metrics.fidelity import fidelity_metrics, warn_small_sample
from metrics.judges.base import Judge
from metrics.judges.resolve import judge_for_task
from metrics.judges.sr_features import FEATURE_DIM, SR_FEATURES
from metrics.psnr_ssim import Y_WEIGHTS, psnr_ssim_per_image, summarize
from metrics.sharpness import hf_ratio_per_image

log = logging.getLogger(__name__)

FEW_PHOTOS = 10  # fewer test photos than this: the rows warn that KID's tiles are not independent samples
OUTPUTS = ("y_psnr", "y_ssim", "rgb_psnr", "rgb_ssim", "psnr_identical", "hf_ratio", "fid", "kid")  # row keys
PER_IMAGE = ("y_psnr", "y_ssim", "hf_ratio")  # also written per image, as <metric>_per_image rows
DIRECTION = "LR_to_HR"  # sample-strip folder
STRIP_SIDE = 96  # centred crops shown in sample strips
Produce = Callable[[int, torch.Tensor], torch.Tensor]  # (test image index, LR (1, C, h, w)) → SR (1, C, H, W)


def fid_judge(ctx: EvalContext) -> Judge:
    """The SR feature network that scores FID/KID on this task: the committed one for this data, else trained here."""
    return judge_for_task(SR_FEATURES, ctx.task, steps=ctx.config.judge_steps, batch_size=ctx.config.judge_batch_size,
                          device=ctx.device, progress=ctx.progress)


def tiles(image: torch.Tensor, side: int, parity: int) -> torch.Tensor:
    """Non-overlapping ``side`` px tiles of ``(1, C, H, W)`` on one colour of a checkerboard → ``(T, C, side, side)``.

    A tile at grid position (row, col) is kept when ``(row + col) % 2 == parity``; the remainder is dropped.
    """
    grid = image[0].unfold(1, side, side).unfold(2, side, side)  # (C, rows, cols, side, side)
    rows, cols = torch.meshgrid(torch.arange(grid.shape[1]), torch.arange(grid.shape[2]), indexing="ij")
    keep = ((rows + cols) % 2 == parity).flatten()
    return grid.permute(1, 2, 0, 3, 4).reshape(-1, image.shape[1], side, side)[keep]


def _centre(image: torch.Tensor, side: int) -> torch.Tensor:
    top, left = max(0, (image.shape[-2] - side) // 2), max(0, (image.shape[-1] - side) // 2)
    return image[..., top : top + side, left : left + side]


def _interval(values: torch.Tensor) -> tuple[float, float]:
    """95% t-interval of the mean of the finite ``values`` (NaN with fewer than two)."""
    finite = values[torch.isfinite(values)].double()
    if finite.numel() < 2:
        return math.nan, math.nan
    half = float(stats.t.ppf(0.975, finite.numel() - 1)) * float(finite.std()) / math.sqrt(finite.numel())
    return float(finite.mean()) - half, float(finite.mean()) + half


def _super_resolve(ctx: EvalContext, produce: Produce) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """``(SR images, HR images)``, each float ``(1, C, H, W)`` in [0, 1], SR rounded to 8-bit levels."""
    lr_data, hr_data = ctx.task.data("test", "LR"), ctx.task.data("test", "HR")
    names = ctx.task.meta["test_names"]
    outputs, truths = [], []
    for index in range(len(hr_data)):
        hr = unpad(hr_data, index)
        sr = produce(index, unpad(lr_data, index).to(ctx.device)).cpu()
        if tuple(sr.shape) != tuple(hr.shape):
            raise HarnessError(f"{ctx.model_name}: SR image of {names[index]!r} is {tuple(sr.shape)}, HR is "
                               f"{tuple(hr.shape)}; the model's scale must match task {ctx.task.name!r}")
        outputs.append(as_saved(sr))
        truths.append(hr)
        save_outputs(ctx, DIRECTION, outputs[-1], [Path(names[index]).stem])
    return outputs, truths


def _per_image(outputs: list[torch.Tensor], truths: list[torch.Tensor], scale: int) -> dict[str, torch.Tensor]:
    """Every per-image value, float64 ``(N,)`` per key."""
    values: dict[str, list[torch.Tensor]] = {k: [] for k in ("y_psnr", "y_ssim", "rgb_psnr", "rgb_ssim", "hf_ratio")}
    for sr, hr in zip(outputs, truths, strict=True):
        for suffix, y_channel in (("y", True), ("rgb", False)):
            scores = psnr_ssim_per_image(sr, hr, crop_border=scale, y_channel=y_channel)
            values[f"{suffix}_psnr"].append(scores["psnr"])
            values[f"{suffix}_ssim"].append(scores["ssim"])
        values["hf_ratio"].append(hf_ratio_per_image(sr, hr, scale=scale, crop_border=scale))
    return {key: torch.cat(parts) for key, parts in values.items()}


def _protocol(ctx: EvalContext, extra: dict[str, str]) -> dict[str, object]:
    scale, task = int(ctx.task.meta["scale"]), ctx.task
    crop = task.meta.get("test_crop", 0)
    return {"protocol": "sr", "scale": scale, "crop_border": scale,
            "y": f"({'+'.join(map(str, Y_WEIGHTS))})RGB/255+16 (MATLAB rgb2ycbcr, unrounded)",
            "range": "[0,255], SR rounded to 8 bits", "ssim": "11x11 gaussian sigma 1.5, valid, K1 0.01, K2 0.03",
            "psnr_inf": "identical images inf, means over finite values",
            "lr": task.meta.get("lr_source", "MATLAB bicubic imresize x1/scale (antialiased)"),
            "test": f"grid of {crop}px crops" if crop else "whole images", "images": len(task.meta["test_names"]),
            "ci": "95% t-interval across images", "variant": ctx.variant, **extra}


def _quality_rows(ctx: EvalContext, per_image: dict[str, torch.Tensor], extra: dict[str, str]) -> list[Row]:
    """Mean rows (with CIs and published values where the task is a benchmark) and per-image rows."""
    names = ctx.task.meta["test_names"]
    values = {"y_psnr": summarize({"psnr": per_image["y_psnr"], "ssim": per_image["y_ssim"]}),
              "rgb_psnr": summarize({"psnr": per_image["rgb_psnr"], "ssim": per_image["rgb_ssim"]})}
    means = {"y_psnr": values["y_psnr"]["psnr"], "y_ssim": values["y_psnr"]["ssim"],
             "rgb_psnr": values["rgb_psnr"]["psnr"], "rgb_ssim": values["rgb_psnr"]["ssim"],
             "psnr_identical": values["rgb_psnr"]["psnr_identical"],
             "hf_ratio": float(per_image["hf_ratio"].nanmean())}
    ci = {key: _interval(per_image[key]) for key in ("y_psnr", "y_ssim", "rgb_psnr", "rgb_ssim", "hf_ratio")}
    benchmark = str(ctx.task.meta.get("benchmark", ""))
    protocol = _protocol(ctx, extra)
    rows = make_rows(ctx, means, n=len(names), protocol=protocol, ci=ci,
                     published=lambda metric: published.lookup(ctx.model_name, benchmark, metric))
    for index, name in enumerate(names):
        values = {f"{key}_per_image": float(per_image[key][index]) for key in PER_IMAGE}
        rows += make_rows(ctx, values, n=1, protocol={**protocol, "image": name})
    return rows


def _fidelity_rows(ctx: EvalContext, outputs: list[torch.Tensor], truths: list[torch.Tensor],
                   extra: dict[str, str]) -> list[Row]:
    """FID/KID of SR tiles against HR tiles (module docstring)."""
    side, cfg = ctx.task.image_size, ctx.config
    fake = torch.cat([tiles(sr, side, 0) for sr in outputs])
    real = torch.cat([tiles(hr, side, 1) for hr in truths])
    if min(len(fake), len(real)) < 2:
        log.warning("%s: fewer than two %d px tiles in the test images; FID/KID skipped", ctx.model_name, side)
        return []
    if cfg.inception_weights:
        extractor, weights, dim = "inception-v3-compat", cfg.inception_weights, 2048
        judge = {"feature_extractor": "inception-v3-compat (pool3 2048-d)"}
    else:
        found = fid_judge(ctx)
        extractor, weights, dim = SR_FEATURES.name, found.path, FEATURE_DIM
        judge = {"feature_extractor": f"{SR_FEATURES.description}, pooled {FEATURE_DIM}-d", **found.provenance()}
    subset = min(cfg.kid_subset_size, len(fake), len(real))
    values = fidelity_metrics(fake, real, feature_extractor=extractor, weights_path=weights, prc=False,
                              kid_subset_size=subset, kid_subsets=cfg.kid_subsets, batch_size=cfg.batch_size,
                              seed=ctx.seed, device=ctx.device)
    warning = (warn_small_sample(len(fake), feature_dim=dim) or "none").replace(";", ",")
    photos = len({name.split("@", 1)[0] for name in ctx.task.meta["test_names"]})  # a grid's crops: "<photo>@r,c"
    if photos < FEW_PHOTOS:  # the tiles of one photo resemble each other, and each photo is on both sides
        few = (f"KID from the tiles of only {photos} photos is biased low (same-photo pairs weigh more in its "
               "cross term than inside each set) and can be negative: compare methods at equal settings only")
        warning = few if warning == "none" else f"{warning}, and {few}"
    if warning != "none":
        log.info("%s: %s", ctx.model_name, warning)  # also in the row (small_sample_warning)
    protocol = dict(protocol="torch-fidelity", **judge, samples=f"{len(fake)} tiles of {side}px",
                    real=f"{len(real)} HR tiles, other checkerboard squares", kid_subset=subset,
                    small_sample_warning=warning, variant=ctx.variant, **extra)
    kid, kid_std = values["kid"], values["kid_std"]
    return make_rows(ctx, {"fid": values["fid"], "kid": kid}, n=len(fake), protocol=protocol,
                     ci={"kid": (kid - kid_std, kid + kid_std)})


def score(ctx: EvalContext, produce: Produce, extra: dict[str, str], strip_name: str | None = None) -> list[Row]:
    """Every row of one method: ``produce(index, LR (1, C, h, w))`` gives the SR image ``(1, C, H, W)``, in [0, 1]."""
    outputs, truths = _super_resolve(ctx, produce)
    strip = torch.cat([_centre(sr, STRIP_SIDE) for sr in outputs if min(sr.shape[-2:]) >= STRIP_SIDE] or
                      [_centre(outputs[0], min(outputs[0].shape[-2:]))])
    save_strip(ctx, DIRECTION, strip[: ctx.config.n_sample_images], name=strip_name)
    per_image = _per_image(outputs, truths, int(ctx.task.meta["scale"]))
    return _quality_rows(ctx, per_image, extra) + _fidelity_rows(ctx, outputs, truths, extra)


def evaluate_sr(model, ctx: EvalContext) -> list[Row]:
    """Rows of a trained SR model (``translate(lr, direction="AtoB")``); its provenance comes with ``ctx``."""
    return score(ctx, lambda _, lr: model.translate(lr, direction="AtoB"), {})


def _bicubic(lr: torch.Tensor, scale: int) -> torch.Tensor:
    return imresize(to_uint8(lr), float(scale)).float().div_(255.0)


def reference_sr(ctx: EvalContext) -> list[Row]:
    """The ``nearest``, ``bicubic`` and ``hr`` rows of SRGAN's Table 2, plus the input and target strips."""
    scale, hr_data = int(ctx.task.meta["scale"]), ctx.task.data("test", "HR")
    baselines: dict[str, tuple[Produce, str]] = {
        "nearest": (lambda _, lr: nearest_upscale(lr, scale), "_input"),
        "bicubic": (lambda _, lr: _bicubic(lr, scale), f"bicubic__s{ctx.seed}"),
        "hr": (lambda index, _: unpad(hr_data, index), "_target"),
    }
    rows: list[Row] = []
    for name, (produce, strip) in baselines.items():
        rows += score(dataclasses.replace(ctx, model_name=name, outputs_dir=None), produce, {"method": name}, strip)
    if ctx.outputs_dir is not None:  # --save-outputs: the LR inputs and the HR ground truth, by test image name
        for index, name in enumerate(ctx.task.meta["test_names"]):
            save_outputs(ctx, "inputs/LR", unpad(ctx.task.data("test", "LR"), index), [Path(name).stem])
            save_outputs(ctx, "HR", unpad(hr_data, index), [Path(name).stem])
    return rows


SR = ProtocolSpec(name="sr", evaluate=evaluate_sr, reference=reference_sr, reference_name="baselines",
                  headline=("y_psnr", "y_ssim", "hf_ratio"))  # SRGAN Tables 1-2, with sharpness shown beside
