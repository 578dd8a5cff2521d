"""Protocols for paired tasks whose ground-truth translation is known: ``translation`` (maps) and ``probe``.

``translation`` scores each direction by per-pixel agreement with the true counterpart (L1, PSNR). ``probe``, for
the geometry-vs-texture probe (CycleGAN §5.2 limitation), adds the shape IoU between the translation's foreground
and the true target's foreground mask. Its reference job, ``identity``, scores the untranslated input against the
target: on ``probe_geometry`` that is the IoU a model gets by changing nothing (discs vs squares, about π/4), so a
translation only counts as changing geometry when it beats it.
"""

from __future__ import annotations

import torch

from harness.core.results import Row
from harness.data.probe import foreground_mask
from harness.protocols.base import EvalContext, ProtocolSpec
from harness.protocols.rows import make_rows, save_strip
from metrics.psnr import l1_per_image, mask_iou_compute, mask_iou_update, psnr_per_image, psnr_summary

DIRECTIONS = ("AtoB", "BtoA")
PSNR_RULE = ("10log10(1/MSE) per image, all channels in [0,1], no crop; mean of finite values, identical pairs (inf) "
             "counted in psnr_identical")


def _score(ctx: EvalContext, translate, directions: tuple[str, ...], with_shape: bool) -> list[Row]:
    """Rows for ``directions``; ``translate(images, direction)`` returns images in [0, 1]."""
    task, cfg = ctx.task, ctx.config
    rows: list[Row] = []
    for direction in directions:
        src, dst = task.domains if direction == "AtoB" else task.domains[::-1]
        source, target = task.data("test", src), task.data("test", dst)
        l1, psnr_values, counts = [], [], None
        for start in range(0, len(source), cfg.batch_size):
            index = slice(start, start + cfg.batch_size)
            out, truth = translate(source.get(index), direction), target.get(index)
            l1.append(l1_per_image(out, truth))
            psnr_values.append(psnr_per_image(out, truth))
            if with_shape:
                counts = mask_iou_update(counts, foreground_mask(out, tuple(task.meta["background"])),
                                         target.labels["mask"][index])
            if start == 0 and ctx.setting == "reference":  # the identity output is the input strip itself
                save_strip(ctx, direction, source.get(slice(0, cfg.n_sample_images)), name="_input")
                save_strip(ctx, direction, truth[: cfg.n_sample_images], name="_target")
            elif start == 0:
                save_strip(ctx, direction, out[: cfg.n_sample_images])
        psnr = psnr_summary(torch.cat(psnr_values))  # metrics.psnr's rule: inf for identical images, never capped
        values = {f"{direction}_l1": float(torch.cat(l1).mean()), f"{direction}_psnr": psnr["psnr"],
                  f"{direction}_psnr_identical": psnr["psnr_identical"]}
        if counts is not None:
            values[f"{direction}_shape_iou"] = mask_iou_compute(counts)["shape_iou"]
        rows += make_rows(ctx, values, n=len(source),
                          protocol=dict(protocol="probe" if with_shape else "paired_truth", direction=f"{src}->{dst}",
                                        l1="mean |pred-true| per image, [0,1]",
                                        psnr=PSNR_RULE,
                                        shape_iou="pooled foreground IoU vs true target mask" if with_shape else "n/a",
                                        variant=ctx.variant))
    return rows


def evaluate_translation(model, ctx: EvalContext) -> list[Row]:
    """L1 and PSNR of the model's translation directions against the true counterparts."""
    return _score(ctx, lambda images, direction: model.translate(images, direction=direction), model.directions(),
                  with_shape=False)


def evaluate_probe(model, ctx: EvalContext) -> list[Row]:
    """L1, PSNR and shape IoU of the model's translation directions on a probe task."""
    return _score(ctx, lambda images, direction: model.translate(images, direction=direction), model.directions(),
                  with_shape=True)


def reference_probe(ctx: EvalContext) -> list[Row]:
    """The ``identity`` baseline: the untranslated input scored against the target."""
    return _score(ctx, lambda images, direction: images, DIRECTIONS, with_shape=True)


def reference_translation(ctx: EvalContext) -> list[Row]:
    """The ``identity`` baseline for maps: the untranslated input scored against the target (writes strips)."""
    return _score(ctx, lambda images, direction: images, DIRECTIONS, with_shape=False)


TRANSLATION = ProtocolSpec(name="translation", evaluate=evaluate_translation, reference=reference_translation,
                           reference_name="identity")
PROBE = ProtocolSpec(name="probe", evaluate=evaluate_probe, reference=reference_probe, reference_name="identity")
