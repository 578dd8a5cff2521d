"""The ``fcn_scenes`` protocol: FCN-scores of labels→photo and photo→labels translation (pix2pix, CycleGAN).

labels→photo: the generator turns each test label map (domain A, label colours) into a photo; the segmentation judge
segments it and one confusion matrix against the true segmentation is accumulated over all test frames
(``metrics.fcn_score``). photo→labels: the generator turns each test photo (domain B) into a label-colour image,
mapped to class ids by the nearest palette colour. The reference rows (model ``"ground_truth"``) segment the real
test photos: the papers' "Ground truth" row, the ceiling the judge allows.

Scoring follows ``scripts/eval_cityscapes`` of junyanz/pytorch-CycleGAN-and-pix2pix:

- Class set: the task declares the classes it scores (``meta["scored_classes"]``: all 19 trainIds on real
  Cityscapes, the 10 the generator draws on the embedded scenes). Every row of the task, ground truth included,
  averages over that set with the official ``get_scores`` (``+1e-12`` denominators, so an absent class scores 0 and
  still counts); the protocol string names the convention and the class count, and per-class IoU rows exist for
  exactly that set. Ground truth holding a class outside the set is an error.
- Resolution: the confusion matrix counts the ground truth's own pixels (real Cityscapes keeps its test label maps
  at full size). ``evaluate.py`` resizes each generated image up to its label map's size and segments it there with
  an FCN-8s trained at that size; the harness judge is trained at the task's image size, so a generated image is
  segmented at that size and its class scores are resized bilinearly to the label map's size (label colours:
  nearest) — the label maps are never downsampled. On the embedded scenes the sizes agree. Frames are scored in
  chunks (``SCORED_PIXELS_PER_CHUNK``) so full-size class scores never fill memory.

The judge is the harness's own segmenter trained on the task's real training photos (``metrics.judges.segmenter``),
not the papers' Caffe FCN-8s, so the numbers are not comparable with the published ones; every row says so. On real
Cityscapes, ``--set cityscapes.fcn_weights=PATH`` names ``fcn-8s-cityscapes.caffemodel``: labels→photo frames (and the
ground-truth rows) are then scored by the papers' FCN-8s (``metrics.judges.fcn8s``, read without Caffe) exactly as
``evaluate.py`` does — 8-bit RGB resized to the label map's size, BGR minus the mean, argmax, the official
``fast_hist`` — and the rows say ``judge=fcn8s-cityscapes``, the file's sha256 and ``comparable_to_paper=yes``.
Generated images of another size than the task's are resized to it (bilinear for photos, as the official script's
``imresize``; nearest for label colours). A model that cannot translate ``BtoA`` (no ``BtoA`` in ``directions()``)
gets labels→photo rows only. Outputs are rounded to 8-bit levels before they are scored (``rows.as_saved``), so the
images ``suite --save-outputs`` writes score the same numbers through ``evaluate``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import torch
import torch_fidelity
from torch.nn import functional as F

from harness import published
from harness.core.errors import HarnessError
from harness.core.images import check_images
from harness.core.results import Row
from harness.core.task import DomainData, Task
from harness.data.scenes import FULL_RES_SEGMENTATION
from harness.protocols.base import EvalContext, ProtocolSpec
from harness.protocols.fcn_counting import (
    FCN8S_META,
    Count,
    Scorer,
    colour_counter,
    fcn8s_scorer,
    judge_counter,
)
from harness.protocols.rows import as_saved, frame_names, make_rows, save_label_maps, save_outputs, save_strip
from metrics.fcn_score import (
    ClassMean,
    describe_class_mean,
    fcn_scores_from_confusion,
    new_confusion,
    per_class_scores,
)
from metrics.fidelity import effective_kid_subset_size, fidelity_metrics, warn_small_sample
from metrics.judges.base import Judge
from metrics.judges.fcn8s import load_fcn8s
from metrics.judges.resolve import judge_for_task
from metrics.judges.segmenter import FEATURE_DIM as SEGMENTER_FEATURE_DIM
from metrics.judges.segmenter import SEGMENTER

LABELS2PHOTO = "labels2photo"
PHOTO2LABELS = "photo2labels"
CLASS_MEAN: ClassMean = "official"  # get_scores of scripts/eval_cityscapes/util.py; "present_only" is not used
SCORED_PIXELS_PER_CHUNK = 1 << 22  # ground-truth pixels scored at once: bounds the resized class scores (K·4 B each)


def scene_meta(task: Task) -> tuple[torch.Tensor, int, int, list[str]]:
    """``(palette uint8 (K, 3), K, ignore index, class names)`` from ``task.meta``; missing keys are an error."""
    missing = [k for k in ("palette", "num_classes", "ignore_index", "class_names") if k not in task.meta]
    if missing or len(task.domains) < 2:
        raise HarnessError(f"task {task.name!r} cannot run fcn_scenes: it needs two domains (label maps, photos) and "
                           f"meta keys palette, num_classes, ignore_index, class_names (missing: {missing})")
    palette = torch.as_tensor(task.meta["palette"], dtype=torch.uint8)
    num_classes = int(task.meta["num_classes"])
    names = [str(n) for n in task.meta["class_names"]]
    if palette.shape != (num_classes, 3) or len(names) != num_classes:
        raise HarnessError(f"task {task.name!r}: palette {tuple(palette.shape)} and {len(names)} class names do not "
                           f"match num_classes={num_classes}")
    return palette, num_classes, int(task.meta["ignore_index"]), names


def scored_classes(task: Task) -> tuple[tuple[int, ...], str]:
    """``(the trainIds every row of the task averages over, where that set comes from)`` from ``task.meta``."""
    _, num_classes, _, _ = scene_meta(task)
    if "scored_classes" not in task.meta or "class_set" not in task.meta:
        raise HarnessError(f"task {task.name!r} cannot run fcn_scenes: its meta must declare scored_classes (the "
                           "trainIds FCN-scores average over) and class_set (where they come from)")
    scored = tuple(int(c) for c in task.meta["scored_classes"])
    if not scored or len(set(scored)) != len(scored) or min(scored) < 0 or max(scored) >= num_classes:
        raise HarnessError(f"task {task.name!r}: meta scored_classes {list(scored)} must be distinct class ids in "
                           f"[0, {num_classes})")
    return scored, str(task.meta["class_set"])


def ground_truth(data: DomainData) -> torch.Tensor:
    """The label maps FCN-scores count: full size where the task keeps them (real Cityscapes), else its own."""
    return data.labels.get(FULL_RES_SEGMENTATION, data.labels["segmentation"])


def train_judge(ctx: EvalContext) -> Judge:
    """The segmenter of the task's real train photos: the committed one for this data and recipe, else trained here."""
    scene_meta(ctx.task)
    return judge_for_task(SEGMENTER, ctx.task, steps=ctx.config.judge_steps, batch_size=ctx.config.judge_batch_size,
                          device=ctx.device, progress=ctx.progress)


def photo_scorer(ctx: EvalContext, judge: Judge | None = None) -> Scorer:
    """The papers' FCN-8s when the task names its caffemodel (``cityscapes.fcn_weights``), else the harness judge."""
    _, num_classes, _, _ = scene_meta(ctx.task)
    weights = ctx.task.meta.get(FCN8S_META)
    if weights:
        return fcn8s_scorer(load_fcn8s(str(weights), ctx.device), num_classes)
    judge = judge or train_judge(ctx)
    return Scorer(judge_counter(judge.model, ctx.device, num_classes),
                  {**judge.provenance(), "judge_train": "real train photos"})


def label_scorer(ctx: EvalContext, judge: Judge | None) -> Scorer:
    """photo→labels: label colours mapped to the nearest palette colour (the task's judge named, not used)."""
    palette, num_classes, _, _ = scene_meta(ctx.task)
    keys = {**judge.provenance(), "judge_train": "real train photos"} if judge is not None else {}
    return Scorer(colour_counter(palette, num_classes), keys)


def accumulate(ctx: EvalContext, batches: Iterable[tuple[int, torch.Tensor]], target: torch.Tensor, count: Count,
               size: tuple[int, int], resize_mode: str, num_classes: int, folder: str | None = None,
               keep: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Streams translated frames: round them to 8 bits, bring them to the task's size S, count them.

    Args:
        ctx: The evaluation context (device, ``outputs_dir``).
        batches: ``(index of the first frame, translated images float (n, 3, h, w) in [0, 1])`` in frame order.
        target: Integer ``(N, H, W)`` ground-truth trainIds (255 ignored), ``(H, W)`` possibly larger than S.
        count: The scorer's counter.
        size: ``(S, S)``: outputs of another size are resized to it (``resize_mode``: bilinear / nearest).
        resize_mode: ``"bilinear"`` for photos, ``"nearest"`` for label colours.
        num_classes: K.
        folder: With ``--save-outputs``, the sub-folder the rounded outputs are saved in (None: not saved).
        keep: Return the frames (for sample strips and FID); ``evaluate`` on folders keeps none.

    Returns:
        ``(hist int64 (K, K), every frame float (N, 3, S, S) at 8-bit levels, or none without keep)``.
    """
    hist, samples = new_confusion(num_classes), []
    label_size = tuple(target.shape[1:])
    chunk = max(1, SCORED_PIXELS_PER_CHUNK // (label_size[0] * label_size[1]))
    for start, out in batches:
        out = as_saved(check_images(out.cpu(), "translated images", channels=3))
        if folder is not None:
            save_outputs(ctx, folder, out, frame_names(start, len(out)))
        if tuple(out.shape[2:]) != size:
            out = F.interpolate(out, size=size, mode=resize_mode).clamp(0, 1)
        for first in range(0, len(out), chunk):
            frames = out[first : first + chunk]
            hist = count(hist, frames, target[start + first : start + first + len(frames)])
        if keep:
            samples.append(out)
    return hist, torch.cat(samples) if samples else torch.zeros(0, 3, *size)


def _translated(ctx: EvalContext, inputs: DomainData, produce: Callable[[torch.Tensor], torch.Tensor]
                ) -> Iterator[tuple[int, torch.Tensor]]:
    for start in range(0, len(inputs), ctx.config.batch_size):
        yield start, produce(inputs.get(slice(start, start + ctx.config.batch_size)).to(ctx.device))


def fcn_rows(ctx: EvalContext, direction: str, hist: torch.Tensor, scorer: Scorer, n: int,
             extra: dict[str, str] | None = None) -> list[Row]:
    """Mean scores over the task's class set and one IoU row per class of the set (the same for every model)."""
    _, num_classes, ignore_index, names = scene_meta(ctx.task)
    scored, class_set = scored_classes(ctx.task)
    unscored = [names[c] for c in range(num_classes) if c not in scored and hist[c].sum() > 0]
    if unscored:
        raise HarnessError(f"task {ctx.task.name!r}: the test ground truth holds {unscored}, which meta scored_classes "
                           "does not list (declare every class the task's labels contain)")
    test = ctx.task.data("test", ctx.task.domains[0])
    label_size, size = tuple(ground_truth(test).shape[1:]), tuple(test.images.shape[2:])
    scored_at = "x".join(map(str, label_size)) + " ground-truth pixels" + (
        "" if label_size == size else f" (outputs segmented at {size[0]}x{size[1]}, class scores resized up)")
    if scorer.tally is not None:
        scored_at = "x".join(map(str, label_size)) + " ground-truth pixels (outputs resized to them, then segmented)"
        scorer.tally.log(f"{ctx.model_name} {direction}")
    protocol = {"protocol": "fcn_score", **scorer.provenance, "confusion": "accumulated over all frames",
                "ignore": ignore_index, "class_mean": describe_class_mean(CLASS_MEAN, len(scored), num_classes),
                "class_set": class_set, "scored_at": scored_at, "variant": ctx.variant,
                "comparable_to_paper": scorer.comparable} | (extra or {})
    values = {f"fcn_{direction}_{k}": v for k, v in fcn_scores_from_confusion(hist, scored, CLASS_MEAN).items()}
    _, iou = per_class_scores(hist, CLASS_MEAN)
    values.update({f"fcn_{direction}_iou[{names[c]}]": float(iou[c]) for c in scored})
    return make_rows(
        ctx, values, n=n, protocol=protocol,
        published=lambda m: published.lookup(model=ctx.model_name, task_family="cityscapes", metric=m))


def _strip(ctx: EvalContext, direction: str, images: torch.Tensor, name: str | None = None) -> None:
    """Writes a one-row sample strip of the first images (atomically) unless there is nothing to show."""
    if len(images):
        save_strip(ctx, direction, images[: ctx.config.n_sample_images], name)


def _fidelity_rows(ctx: EvalContext, photos: torch.Tensor, judge: Judge) -> list[Row]:
    """FID/KID of ``photos`` against the real test photos, with the segmenter judge as feature extractor."""
    real = ctx.task.data("test", ctx.task.domains[1]).get()
    subset = effective_kid_subset_size(ctx.config.kid_subset_size, len(photos), len(real))
    values = fidelity_metrics(photos, real, feature_extractor=SEGMENTER.name, weights_path=judge.path, prc=False,
                              kid_subset_size=subset, kid_subsets=ctx.config.kid_subsets,
                              batch_size=ctx.config.batch_size, seed=ctx.seed, device=ctx.device)
    warning = warn_small_sample(len(photos), feature_dim=SEGMENTER_FEATURE_DIM) or "none"
    protocol = dict(protocol="torch-fidelity", implementation=f"torch-fidelity {torch_fidelity.__version__}",
                    feature_extractor=f"harness segmenter judge (pooled encoder, {SEGMENTER_FEATURE_DIM}-d)",
                    judge_sha256=judge.sha256[:12], judge_source=judge.source, real=f"test photos[{len(real)}]",
                    samples=len(photos), kid_subset=subset, small_sample_warning=warning, variant=ctx.variant)
    kid = values["kid"], values["kid_std"]
    return make_rows(ctx, {"photo_fid": values["fid"], "photo_kid": kid[0]}, n=len(photos),
                     ci={"photo_kid": (kid[0] - kid[1], kid[0] + kid[1])}, protocol=protocol)


def evaluate_fcn_scenes(model: object, ctx: EvalContext) -> list[Row]:
    """FCN-score rows of a translation model in both directions (see the module docstring).

    Args:
        model: A reference model whose ``translate(images, direction=...)`` maps float ``(N, 3, H, W)`` in [0, 1]
            label-colour maps to photos (``"AtoB"``) and photos to label-colour maps (``"BtoA"``).
        ctx: The evaluation context; ``ctx.task`` carries ``labels["segmentation"]`` and the scene meta keys.

    Returns:
        Rows ``fcn_labels2photo_{pixel_acc,class_acc,class_iou}``, ``fcn_labels2photo_iou[<class>]`` for every
        scored class, ``photo_fid``/``photo_kid``, and the same FCN rows for ``photo2labels``, for the directions
        in ``model.directions()``.
    """
    _, num_classes, _, _ = scene_meta(ctx.task)
    scored_classes(ctx.task)  # a task without a declared class set fails before the judge is trained
    judge = train_judge(ctx)
    labels, photos = ctx.task.data("test", ctx.task.domains[0]), ctx.task.data("test", ctx.task.domains[1])
    size = tuple(labels.images.shape[2:])
    rows: list[Row] = []
    if "AtoB" in model.directions():
        scorer = photo_scorer(ctx, judge)
        hist, shown = accumulate(ctx, _translated(ctx, labels, lambda x: model.translate(x, direction="AtoB")),
                                 ground_truth(labels), scorer.count, size, "bilinear", num_classes, LABELS2PHOTO)
        _strip(ctx, LABELS2PHOTO, shown)
        rows += fcn_rows(ctx, LABELS2PHOTO, hist, scorer, len(labels)) + _fidelity_rows(ctx, shown, judge)
    if "BtoA" in model.directions():
        scorer = label_scorer(ctx, judge)
        hist, shown = accumulate(ctx, _translated(ctx, photos, lambda x: model.translate(x, direction="BtoA")),
                                 ground_truth(photos), scorer.count, size, "nearest", num_classes, PHOTO2LABELS)
        _strip(ctx, PHOTO2LABELS, shown)
        rows += fcn_rows(ctx, PHOTO2LABELS, hist, scorer, len(photos), {"mapping": "nearest palette colour"})
    return rows


def _save_reference(ctx: EvalContext, labels: DomainData, photos: DomainData) -> None:
    """With ``--save-outputs``: the test inputs of both directions and the ground-truth trainIds (grey PNG)."""
    if ctx.outputs_dir is None:
        return
    for direction, data in ((LABELS2PHOTO, labels), (PHOTO2LABELS, photos)):
        for start in range(0, len(data), ctx.config.batch_size):
            batch = data.get(slice(start, start + ctx.config.batch_size))
            save_outputs(ctx, f"inputs/{direction}", batch, frame_names(start, len(batch)))
    save_label_maps(ctx, "trainIds", ground_truth(labels), [f"{n}_trainIds" for n in frame_names(0, len(labels))])


def reference_fcn_scenes(ctx: EvalContext) -> list[Row]:
    """The "Ground truth" rows: the judge on the real test photos (labels→photo only), plus input/target strips."""
    _, num_classes, _, _ = scene_meta(ctx.task)
    scored_classes(ctx.task)
    judge = train_judge(ctx)
    labels, photos = ctx.task.data("test", ctx.task.domains[0]), ctx.task.data("test", ctx.task.domains[1])
    scorer = photo_scorer(ctx, judge)
    hist, _ = accumulate(ctx, _translated(ctx, photos, lambda x: x), ground_truth(labels), scorer.count,
                         tuple(labels.images.shape[2:]), "bilinear", num_classes)
    _save_reference(ctx, labels, photos)
    k = slice(0, ctx.config.n_sample_images)  # the real photos are the target strip: no separate reference strip
    _strip(ctx, LABELS2PHOTO, labels.get(k), "_input")
    _strip(ctx, LABELS2PHOTO, photos.get(k), "_target")
    _strip(ctx, PHOTO2LABELS, photos.get(k), "_input")
    _strip(ctx, PHOTO2LABELS, labels.get(k), "_target")
    train = ctx.task.data("train", ctx.task.domains[1])
    index = torch.randperm(len(train), generator=torch.Generator().manual_seed(ctx.seed))[: len(photos)]
    return fcn_rows(ctx, LABELS2PHOTO, hist, scorer, len(labels)) + _fidelity_rows(ctx, train.get(index), judge)


FCN_SCENES = ProtocolSpec(name="fcn_scenes", evaluate=evaluate_fcn_scenes, reference=reference_fcn_scenes,
                          reference_name="ground_truth",  # pix2pix Table 1 / CycleGAN Table 2: the FCN-score
                          headline=("fcn_labels2photo_pixel_acc", "fcn_labels2photo_class_acc",
                                    "fcn_labels2photo_class_iou"))
