"""FCN-score on folders, both directions, counted by the same code as the suite's ``fcn_scenes`` protocol.

- ``labels2photo``: ``--pred`` holds generated photos (RGB), ``--labels`` the ground truth (Cityscapes
  ``*_gtFine_labelIds.png`` or trainId maps). The judge is the papers' FCN-8s (``--judge fcn8s --weights
  fcn-8s-cityscapes.caffemodel``, no run needed: the 19 Cityscapes trainIds, evaluate.py's preprocessing and
  ``fast_hist``) or the run's own (``--into``/``--context RUN``: its segmenter, or the FCN-8s its
  ``cityscapes.fcn_weights`` names).
- ``photo2labels``: ``--pred`` holds generated label-colour images, mapped to trainIds by the nearest palette colour
  (the run task's palette, else Cityscapes'); no judge.

Frames are read in file-name order in batches of the run's ``eval.batch_size``, rounded to 8 bits as the suite rounds
outputs, and counted into one confusion matrix over all frames; scores follow the official ``get_scores`` over the
task's class set (all 19 trainIds without a run).
"""

from __future__ import annotations

import torch

from harness.core.errors import HarnessError
from harness.core.image_folder import ImageFolder, open_image_folder
from harness.data.cityscapes_labels import NUM_CLASSES, TRAIN_ID_NAMES, TRAIN_ID_PALETTE
from harness.folder_eval.context import FolderRequest, Scored, bare_context, run_context
from harness.folder_eval.inputs import match, read_label_maps
from harness.protocols.base import EvalContext
from harness.protocols.fcn_counting import Scorer, colour_counter, fcn8s_scorer
from harness.protocols.fcn_scenes import (
    CLASS_MEAN,
    LABELS2PHOTO,
    PHOTO2LABELS,
    accumulate,
    label_scorer,
    photo_scorer,
    scene_meta,
    scored_classes,
)
from metrics.fcn_score import describe_class_mean, fcn_scores_from_confusion, per_class_scores
from metrics.judges.fcn8s import load_fcn8s

DIRECTIONS = (LABELS2PHOTO, PHOTO2LABELS)
JUDGES = ("harness", "fcn8s")  # the run's judge (segmenter, or its cityscapes.fcn_weights), the papers' FCN-8s
CITYSCAPES_SET = "the 19 Cityscapes trainIds (official)"


def _classes(ctx: EvalContext | None) -> tuple[torch.Tensor, int, list[str], tuple[int, ...], str]:
    """(palette, K, class names, scored ids, class-set description) of the run's task, else Cityscapes'."""
    if ctx is None or not ctx.task.splits:
        return torch.from_numpy(TRAIN_ID_PALETTE.copy()), NUM_CLASSES, list(TRAIN_ID_NAMES), tuple(
            range(NUM_CLASSES)), CITYSCAPES_SET
    palette, num_classes, _, names = scene_meta(ctx.task)
    scored, class_set = scored_classes(ctx.task)
    return palette, num_classes, names, scored, class_set


def _scorer(request: FolderRequest, ctx: EvalContext, palette: torch.Tensor, num_classes: int) -> Scorer:
    if request.direction == PHOTO2LABELS:
        return label_scorer(ctx, None) if ctx.task.splits else Scorer(colour_counter(palette, num_classes), {},
                                                                      "no (colour mapping only)")
    if request.judge == "fcn8s":
        if request.weights is None:
            raise HarnessError("--judge fcn8s: needs --weights fcn-8s-cityscapes.caffemodel (the file "
                               "scripts/eval_cityscapes/download_fcn8s.sh of pytorch-CycleGAN-and-pix2pix fetches)")
        return fcn8s_scorer(load_fcn8s(request.weights, request.device), num_classes)
    if not ctx.task.splits:
        raise HarnessError("--metric fcn_score: the harness judge is the segmenter of a run's task; give --into RUN "
                           "or --context RUN, or --judge fcn8s --weights fcn-8s-cityscapes.caffemodel")
    return photo_scorer(ctx)


def _open(request: FolderRequest) -> tuple[ImageFolder, ImageFolder]:
    if request.direction not in DIRECTIONS:
        raise HarnessError(f"--direction {request.direction}: expected one of {', '.join(DIRECTIONS)}")
    if request.labels is None:
        raise HarnessError("--metric fcn_score: needs --labels DIR with the ground-truth label maps "
                           "(*_gtFine_labelIds.png or trainId maps)")
    pred = open_image_folder(request.pred, "--pred")
    if pred.channels != 3:
        raise HarnessError(f"--pred {str(request.pred)!r}: holds grey images; FCN-score needs RGB "
                           f"{'photos' if request.direction == LABELS2PHOTO else 'label-colour images'}")
    return match(pred, open_image_folder(request.labels, "--labels"))


def fcn_on_folders(request: FolderRequest) -> list[Scored]:
    """FCN-scores of the ``--pred`` frames against ``--labels`` in ``--direction`` (module docstring)."""
    if request.judge not in (None, *JUDGES):
        raise HarnessError(f"--judge {request.judge}: fcn_score takes {', '.join(JUDGES)}")
    pred, labels = _open(request)
    ctx = run_context(request, ("fcn_scenes",)) if request.run is not None else bare_context(request, "cityscapes")
    palette, num_classes, names, scored, class_set = _classes(ctx)
    truth, label_format = read_label_maps(labels, request.label_format, num_classes)
    scorer = _scorer(request, ctx, palette, num_classes)
    fcn8s = scorer.tally is not None
    size = pred.size if fcn8s or not ctx.task.splits else (ctx.task.image_size, ctx.task.image_size)
    batch = ctx.config.batch_size
    batches = zip(range(0, len(pred), batch), pred.batches(batch), strict=True)
    mode = "bilinear" if request.direction == LABELS2PHOTO else "nearest"
    hist, _ = accumulate(ctx, batches, truth, scorer.count, size, mode, num_classes, keep=False)
    if scorer.tally is not None:
        scorer.tally.log(f"{request.pred} {request.direction}")
    unscored = [names[c] for c in range(num_classes) if c not in scored and hist[c].sum() > 0]
    if unscored:
        raise HarnessError(f"--labels: the label maps hold {unscored}, which run task {ctx.task.name!r} does not score")
    direction = request.direction
    values = {f"fcn_{direction}_{k}": v for k, v in fcn_scores_from_confusion(hist, scored, CLASS_MEAN).items()}
    _, iou = per_class_scores(hist, CLASS_MEAN)
    values.update({f"fcn_{direction}_iou[{names[c]}]": float(iou[c]) for c in scored})
    label_size = "x".join(map(str, truth.shape[1:]))
    scored_at = f"{label_size} ground-truth pixels" + (" (outputs resized to them, then segmented)" if fcn8s else "")
    protocol = {"protocol": "fcn_score", **scorer.provenance, "confusion": "accumulated over all frames",
                "ignore": 255, "class_mean": describe_class_mean(CLASS_MEAN, len(scored), num_classes),
                "class_set": class_set, "scored_at": scored_at, "labels": label_format,
                "comparable_to_paper": scorer.comparable}
    if direction == PHOTO2LABELS:
        protocol["mapping"] = "nearest palette colour"
    return [Scored(values, len(pred), protocol)]
