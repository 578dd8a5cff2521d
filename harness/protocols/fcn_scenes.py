"""The ``fcn_scenes`` protocol: FCN-scores of labels→photo and photo→labels translation (pix2pix, CycleGAN).

labels→photo: the generator turns each test label map (domain A, label colours) into a photo; the segmentation judge
segments it and one confusion matrix against the true segmentation is accumulated over all test frames
(``metrics.fcn_score``). photo→labels: the generator turns each test photo (domain B) into a label-colour image,
mapped to class ids by the nearest palette colour. The reference rows (model ``"ground_truth"``) segment the real
test photos: the papers' "Ground truth" row, the ceiling the judge allows.

The judge is the harness's own segmenter trained on the task's real training photos (``metrics.judges.segmenter``),
not the papers' Caffe FCN-8s, so the numbers are not comparable with the published ones; every row says so.
Generated images of another size than the labels are resized to the label resolution (bilinear for photos, as the
official script's ``imresize``; nearest for label colours). A model that cannot translate ``BtoA`` (raises
``BtoA`` in ``directions()``) gets labels→photo rows only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch_fidelity
from torch.nn import functional as F

from harness import published
from harness.core.cache import stable_hash, tensor_digest
from harness.core.errors import HarnessError
from harness.core.images import check_images
from harness.core.results import Row
from harness.core.task import DomainData, Task
from harness.protocols.base import EvalContext, ProtocolSpec
from harness.protocols.rows import make_rows, save_strip
from metrics.fcn_score import (
    colors_to_train_ids,
    fcn_confusion_update,
    fcn_scores_from_confusion,
    new_confusion,
    per_class_scores,
)
from metrics.feature_extractor_segmenter import SEGMENTER_FEATURE_DIM
from metrics.fidelity import fidelity_metrics, warn_small_sample
from metrics.judges.segmenter import load_or_train_segmenter, segment

JUDGE_NAME = "harness-segmenter"
LABELS2PHOTO = "labels2photo"
PHOTO2LABELS = "photo2labels"


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


JUDGE_SEED = 0  # one judge per task for every model and seed, so seed spread measures the models, not the judge


def judge_seed() -> int:
    """The judge's training seed (fixed: every job of a task is scored by the same cached judge)."""
    return int(stable_hash("fcn_scenes judge", JUDGE_SEED, length=8), 16) % (2**31)


def train_judge(ctx: EvalContext) -> tuple[torch.nn.Module, Path, str]:
    """The cached segmenter trained on the task's real train photos; returns ``(model, file, full sha256)``."""
    task = ctx.task
    _, num_classes, ignore_index, _ = scene_meta(task)
    photos = task.data("train", task.domains[1])
    masks = photos.labels["segmentation"]
    if "cache_key" in task.meta:
        data_key = f"{task.name}:{stable_hash(task.meta['cache_key'])}"
    else:
        data_key = f"{task.name}:{tensor_digest(photos.images, masks)}"
    model, path, sha = load_or_train_segmenter(
        photos.get(), masks, num_classes=num_classes, ignore_index=ignore_index, steps=ctx.config.judge_steps,
        batch_size=ctx.config.judge_batch_size, seed=judge_seed(), device=ctx.device, data_key=data_key,
        progress=ctx.progress)
    return model, path, sha


def _accumulate(
    ctx: EvalContext, inputs: DomainData, target: torch.Tensor, produce: Callable[[torch.Tensor], torch.Tensor],
    to_ids: Callable[[torch.Tensor], torch.Tensor], resize_mode: str, num_classes: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Streams the test frames: produce images, map them to class ids, add to the confusion matrix.

    Returns:
        ``(hist int64 (K, K), every produced image float (N, 3, H, W) in [0, 1])``.
    """
    hist, samples = new_confusion(num_classes), []
    size = tuple(target.shape[1:])
    for start in range(0, len(inputs), ctx.config.batch_size):
        index = slice(start, start + ctx.config.batch_size)
        out = check_images(produce(inputs.get(index).to(ctx.device)).cpu(), "translated images", channels=3)
        if tuple(out.shape[2:]) != size:
            out = F.interpolate(out, size=size, mode=resize_mode).clamp(0, 1)
        hist = fcn_confusion_update(hist, to_ids(out), target[index], num_classes)
        samples.append(out)
    return hist, torch.cat(samples) if samples else torch.zeros(0, 3, *size)


def _rows(ctx: EvalContext, direction: str, hist: torch.Tensor, sha: str, extra: dict[str, str]) -> list[Row]:
    """Mean scores and per-class IoU rows of one direction (classes with NaN IoU omitted)."""
    _, _, ignore_index, names = scene_meta(ctx.task)
    protocol = {"protocol": "fcn_score", "judge": JUDGE_NAME, "judge_sha256": sha[:12],
                "judge_train": "real train photos", "confusion": "accumulated over all frames", "ignore": ignore_index,
                "variant": ctx.variant,
                "comparable_to_paper": "no (retrained judge, embedded task)"} | extra
    values = {f"fcn_{direction}_{k}": v for k, v in fcn_scores_from_confusion(hist).items()}
    _, iou = per_class_scores(hist)
    values.update({f"fcn_{direction}_iou[{n}]": float(v) for n, v in zip(names, iou, strict=True) if not v.isnan()})
    return make_rows(
        ctx, values, n=len(ctx.task.data("test", ctx.task.domains[0])),
        protocol=protocol, published=lambda m: published.lookup(model=ctx.model_name, task_family="cityscapes",
                                                                metric=m))


def _strip(ctx: EvalContext, direction: str, images: torch.Tensor, name: str | None = None) -> None:
    """Writes a one-row sample strip of the first images (atomically) unless there is nothing to show."""
    if len(images):
        save_strip(ctx, direction, images[: ctx.config.n_sample_images], name)


def _fidelity_rows(ctx: EvalContext, photos: torch.Tensor, judge_path: Path, sha: str) -> list[Row]:
    """FID/KID of ``photos`` against the real test photos, with the segmenter judge as feature extractor."""
    real = ctx.task.data("test", ctx.task.domains[1]).get()
    subset = min(ctx.config.kid_subset_size, len(photos), len(real))
    values = fidelity_metrics(photos, real, feature_extractor="segmenter", weights_path=judge_path, prc=False,
                              kid_subset_size=subset, kid_subsets=ctx.config.kid_subsets,
                              batch_size=ctx.config.batch_size, seed=ctx.seed, device=ctx.device)
    warning = warn_small_sample(len(photos), feature_dim=SEGMENTER_FEATURE_DIM) or "none"
    protocol = dict(protocol="torch-fidelity", implementation=f"torch-fidelity {torch_fidelity.__version__}",
                    feature_extractor=f"harness segmenter judge (pooled encoder, {SEGMENTER_FEATURE_DIM}-d)",
                    judge_sha256=sha[:12], real=f"test photos[{len(real)}]", samples=len(photos), kid_subset=subset,
                    small_sample_warning=warning, variant=ctx.variant)
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
        Rows ``fcn_labels2photo_{pixel_acc,class_acc,class_iou}``, ``fcn_labels2photo_iou[<class>]`` and the same
        for ``photo2labels``, for the directions in ``model.directions()``.
    """
    palette, num_classes, _, _ = scene_meta(ctx.task)
    judge, judge_path, sha = train_judge(ctx)
    labels, photos = ctx.task.data("test", ctx.task.domains[0]), ctx.task.data("test", ctx.task.domains[1])
    rows: list[Row] = []
    if "AtoB" in model.directions():
        hist, shown = _accumulate(
            ctx, labels, labels.labels["segmentation"], lambda x: model.translate(x, direction="AtoB"),
            lambda out: segment(judge, out, ctx.config.batch_size, ctx.device), "bilinear", num_classes)
        _strip(ctx, LABELS2PHOTO, shown)
        rows += _rows(ctx, LABELS2PHOTO, hist, sha, {}) + _fidelity_rows(ctx, shown, judge_path, sha)
    if "BtoA" in model.directions():
        hist, shown = _accumulate(
            ctx, photos, photos.labels["segmentation"], lambda x: model.translate(x, direction="BtoA"),
            lambda out: colors_to_train_ids(out, palette), "nearest", num_classes)
        _strip(ctx, PHOTO2LABELS, shown)
        rows += _rows(ctx, PHOTO2LABELS, hist, sha, {"mapping": "nearest palette colour"})
    return rows


def reference_fcn_scenes(ctx: EvalContext) -> list[Row]:
    """The "Ground truth" rows: the judge on the real test photos (labels→photo only), plus input/target strips."""
    _, num_classes, _, _ = scene_meta(ctx.task)
    judge, judge_path, sha = train_judge(ctx)
    labels, photos = ctx.task.data("test", ctx.task.domains[0]), ctx.task.data("test", ctx.task.domains[1])
    hist, _ = _accumulate(
        ctx, photos, labels.labels["segmentation"], lambda x: x,
        lambda out: segment(judge, out, ctx.config.batch_size, ctx.device), "bilinear", num_classes)
    k = slice(0, ctx.config.n_sample_images)  # the real photos are the target strip: no separate reference strip
    _strip(ctx, LABELS2PHOTO, labels.get(k), "_input")
    _strip(ctx, LABELS2PHOTO, photos.get(k), "_target")
    _strip(ctx, PHOTO2LABELS, photos.get(k), "_input")
    _strip(ctx, PHOTO2LABELS, labels.get(k), "_target")
    train = ctx.task.data("train", ctx.task.domains[1])
    index = torch.randperm(len(train), generator=torch.Generator().manual_seed(ctx.seed))[: len(photos)]
    return _rows(ctx, LABELS2PHOTO, hist, sha, {}) + _fidelity_rows(ctx, train.get(index), judge_path, sha)


FCN_SCENES = ProtocolSpec(name="fcn_scenes", evaluate=evaluate_fcn_scenes, reference=reference_fcn_scenes,
                          reference_name="ground_truth")
