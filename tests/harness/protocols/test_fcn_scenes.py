import math

import pandas as pd
import pytest
import torch
from PIL import Image

from harness.core.results import COLUMNS, Row
from harness.core.task import DomainData, Task
from harness.data.cityscapes_labels import TRAIN_ID_NAMES
from harness.data.scenes import DRAWN_CLASSES
from harness.protocols import fcn_scenes
from harness.protocols.base import EvalConfig, EvalContext
from harness.run import main

PALETTE = torch.tensor([[128, 64, 128], [220, 20, 60], [70, 130, 180]], dtype=torch.uint8)  # label colours
PHOTO = torch.tensor([[40, 40, 40], [200, 180, 40], [30, 200, 90]], dtype=torch.uint8)  # photo colour per class
NAMES = ["road", "person", "sky"]
SIZE = 16
CONFIG = EvalConfig(batch_size=5, judge_steps=20, judge_batch_size=8, n_sample_images=4)


pytestmark = pytest.mark.usefixtures("one_thread_module")


def _split(n: int, seed: int) -> dict[str, DomainData]:
    gen = torch.Generator().manual_seed(seed)
    seg = torch.zeros(n, SIZE, SIZE, dtype=torch.int64)
    for i in range(n):
        for cls in (1, 2):
            top, left = torch.randint(0, SIZE - 6, (2,), generator=gen).tolist()
            seg[i, top : top + 6, left : left + 6] = cls
    seg[:, 0, :] = 255  # ignore row: black in the label map
    labels = torch.where(seg[..., None] == 255, torch.zeros(3, dtype=torch.uint8), PALETTE[seg.clamp(max=2)])
    noise = torch.randint(-12, 13, (n, SIZE, SIZE, 3), generator=gen)
    photos = (PHOTO[seg.clamp(max=2)].long() + noise).clamp(0, 255).to(torch.uint8)
    return {"labels": DomainData(labels.permute(0, 3, 1, 2).contiguous(), {"segmentation": seg}),
            "photo": DomainData(photos.permute(0, 3, 1, 2).contiguous(), {"segmentation": seg})}


def _task(unscored_grey: bool = False) -> Task:
    """Three classes, all scored; ``unscored_grey`` adds a fourth, grey class the task never draws nor scores."""
    palette, names = (PALETTE, NAMES) if not unscored_grey else (
        torch.cat([PALETTE, torch.tensor([[120, 120, 120]], dtype=torch.uint8)]), [*NAMES, "wall"])
    meta = {"palette": palette.tolist(), "num_classes": len(names), "ignore_index": 255, "class_names": names,
            "scored_classes": [0, 1, 2], "class_set": "the classes the tiny generator draws"}
    return Task(name="tiny_scenes", domains=("labels", "photo"), paired=True, label_kinds=("segmentation",),
                image_size=SIZE, splits={"train": _split(24, 0), "test": _split(10, 1)}, meta=meta)


def _recolour(images: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Replaces each pixel by the target colour of its nearest source colour (a perfect colour translator)."""
    pixels = images.permute(0, 2, 3, 1) * 255.0
    ids = ((pixels[..., None, :] - source.float()) ** 2).sum(-1).argmin(-1)
    return (target[ids].float() / 255.0).permute(0, 3, 1, 2).contiguous()


class PerfectModel:
    def directions(self):
        return ("AtoB", "BtoA")

    def translate(self, images, direction):
        if direction == "AtoB":
            return _recolour(images, PALETTE, PHOTO)
        return _recolour(images, PHOTO, PALETTE)


class ConstantModel(PerfectModel):
    def translate(self, images, direction):
        return torch.full((images.shape[0], 3, 8, 8), 0.5)  # also exercises the resize to label resolution


class ForwardOnlyModel(PerfectModel):
    def directions(self):
        return ("AtoB",)

    def translate(self, images, direction):
        assert direction == "AtoB", "a protocol asked for a direction the model does not translate"
        return super().translate(images, direction)


def _ctx(tmp_path, model_name: str, task: Task, seed: int = 3) -> EvalContext:
    return EvalContext(model_name=model_name, task=task, seed=seed, device=torch.device("cpu"), config=CONFIG,
                       sample_dir=tmp_path / "samples" / task.name, setting="paired", variant="", progress=False)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One cache for the module, so the judge is trained once and every later call is a cache hit."""
    root = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_CACHE_DIR", str(root))
        yield root


def _by_metric(rows: list[Row]) -> dict[str, Row]:
    return {r.metric: r for r in rows}


def test_perfect_model_matches_ground_truth_and_constant_is_worse(tmp_path, cache):
    task = _task()
    reference = _by_metric(fcn_scenes.reference_fcn_scenes(_ctx(tmp_path, "ground_truth", task)))
    perfect = _by_metric(fcn_scenes.evaluate_fcn_scenes(PerfectModel(), _ctx(tmp_path, "pix2pix", task)))
    constant = _by_metric(fcn_scenes.evaluate_fcn_scenes(ConstantModel(), _ctx(tmp_path, "cyclegan", task)))
    assert len(list((cache / "judges").glob("segmenter-*.pt"))) == 1  # one judge (task, seed), reused

    assert set(reference) == {"fcn_labels2photo_pixel_acc", "fcn_labels2photo_class_acc",
                              "fcn_labels2photo_class_iou", "photo_fid", "photo_kid"} | {
                                  f"fcn_labels2photo_iou[{n}]" for n in NAMES}
    # FID/KID of generated photos with the judge's features: perfect colours are closer to the photos than grey.
    assert perfect["photo_fid"].value < constant["photo_fid"].value
    assert perfect["photo_fid"].higher_is_better is False and "feature_extractor=harness segmenter" in (
        perfect["photo_fid"].protocol)
    gt_acc = reference["fcn_labels2photo_pixel_acc"].value
    assert gt_acc > 0.9
    assert perfect["fcn_labels2photo_pixel_acc"].value == pytest.approx(gt_acc, abs=0.05)
    assert perfect["fcn_photo2labels_pixel_acc"].value == pytest.approx(1.0, abs=1e-12)  # exact colours -> ids
    assert perfect["fcn_photo2labels_class_iou"].value == pytest.approx(1.0, abs=1e-12)
    for direction in ("labels2photo", "photo2labels"):  # road covers ~70%: a constant "road" scores that much
        assert constant[f"fcn_{direction}_pixel_acc"].value < perfect[f"fcn_{direction}_pixel_acc"].value - 0.1
        assert constant[f"fcn_{direction}_class_acc"].value < perfect[f"fcn_{direction}_class_acc"].value - 0.5
        assert constant[f"fcn_{direction}_class_iou"].value < 0.3
    # A constant prediction of one class: the other classes' IoU is 0 (present in GT), so per-class rows exist.
    assert sum(constant[f"fcn_photo2labels_iou[{n}]"].value == 0.0 for n in NAMES) == 2


def test_row_columns_protocol_and_published(tmp_path, cache, monkeypatch):
    calls = []

    def fake_lookup(model, task_family, metric):
        calls.append((model, task_family, metric))
        return (0.80, "pix2pix v3 Table 1 [V]") if metric == "fcn_labels2photo_pixel_acc" else (math.nan, "")

    monkeypatch.setattr(fcn_scenes.published, "lookup", fake_lookup)
    task = _task()
    rows = [r for r in fcn_scenes.reference_fcn_scenes(_ctx(tmp_path, "ground_truth", task))
            if r.metric.startswith("fcn_")]
    row = _by_metric(rows)["fcn_labels2photo_pixel_acc"]
    assert tuple(row.to_dict()) == COLUMNS
    assert (row.model, row.task, row.n, row.seed, row.split, row.higher_is_better) == (
        "ground_truth", "tiny_scenes", 10, 3, "test", True)
    assert math.isnan(row.ci_low) and math.isnan(row.ci_high)
    assert row.published_value == 0.80 and "pix2pix" in row.published_source
    assert row.protocol.startswith("protocol=fcn_score; judge=harness-segmenter; judge_sha256=")
    assert "judge_train=real train photos; confusion=accumulated over all frames; ignore=255" in row.protocol
    assert ("class_mean=official get_scores (+1e-12 denominators, a class absent from the ground truth scores 0) "
            "over 3 of 3 classes; class_set=the classes the tiny generator draws; scored_at=16x16 ground-truth "
            "pixels") in row.protocol
    assert "comparable_to_paper=no (retrained judge, embedded task)" in row.protocol
    sha = row.protocol.split("judge_sha256=")[1].split(";")[0]
    assert len(sha) == 12
    assert all(r.higher_is_better and 0.0 <= r.value <= 1.0 for r in rows)
    assert math.isnan(_by_metric(rows)["fcn_labels2photo_iou[sky]"].published_value)
    assert calls == [("ground_truth", "cityscapes", r.metric) for r in rows]


def test_sample_strips_written(tmp_path, cache):
    task = _task()
    fcn_scenes.reference_fcn_scenes(_ctx(tmp_path, "ground_truth", task))
    fcn_scenes.evaluate_fcn_scenes(PerfectModel(), _ctx(tmp_path, "pix2pix", task))
    folder = tmp_path / "samples" / "tiny_scenes"
    expected = {"labels2photo": {"pix2pix__s3.png", "_input.png", "_target.png"},
                "photo2labels": {"pix2pix__s3.png", "_input.png", "_target.png"}}
    for sub, names in expected.items():
        assert {p.name for p in (folder / sub).iterdir()} == names  # no temp files left behind
        with Image.open(folder / sub / "_input.png") as img:
            assert img.size == (4 * (SIZE + 2) + 2, SIZE + 4)  # one row of n_sample_images


def test_forward_only_model_gets_labels2photo_rows(tmp_path, cache):
    rows = fcn_scenes.evaluate_fcn_scenes(ForwardOnlyModel(), _ctx(tmp_path, "pix2pix", _task()))
    assert rows and all(r.metric.startswith(("fcn_labels2photo_", "photo_")) for r in rows)


def test_spec_and_missing_meta(tmp_path, cache):
    assert fcn_scenes.FCN_SCENES.name == "fcn_scenes"
    assert fcn_scenes.FCN_SCENES.reference is fcn_scenes.reference_fcn_scenes
    assert fcn_scenes.FCN_SCENES.reference_name == "ground_truth"
    task = _task()
    bare = Task(name="bare", domains=task.domains, paired=True, label_kinds=(), image_size=SIZE, splits=task.splits)
    with pytest.raises(fcn_scenes.HarnessError, match="palette"):
        fcn_scenes.evaluate_fcn_scenes(PerfectModel(), _ctx(tmp_path, "pix2pix", bare))


def _field(protocol: str, key: str) -> str:
    return dict(part.split("=", 1) for part in protocol.split("; "))[key]


OFFICIAL_3_OF_4 = ("official get_scores (+1e-12 denominators, a class absent from the ground truth scores 0) over 3 "
                   "of 4 classes")


def test_class_set_is_the_same_for_every_row_of_a_task(tmp_path, cache):
    task = _task(unscored_grey=True)  # a fourth class "wall" the task neither draws nor scores
    runs = {"ground_truth": fcn_scenes.reference_fcn_scenes(_ctx(tmp_path, "ground_truth", task)),
            "pix2pix": fcn_scenes.evaluate_fcn_scenes(PerfectModel(), _ctx(tmp_path, "pix2pix", task)),
            "cyclegan": fcn_scenes.evaluate_fcn_scenes(ConstantModel(), _ctx(tmp_path, "cyclegan", task)),
            "forward_only": fcn_scenes.evaluate_fcn_scenes(ForwardOnlyModel(), _ctx(tmp_path, "forward", task))}
    for direction, models in (("labels2photo", set(runs)), ("photo2labels", {"pix2pix", "cyclegan"})):
        seen = set()
        for model, rows in runs.items():
            fcn = [r for r in rows if r.metric.startswith(f"fcn_{direction}_")]
            if not fcn:
                continue
            seen.add(model)
            per_class = {r.metric.removeprefix(f"fcn_{direction}_") for r in fcn if "[" in r.metric}
            assert per_class == {f"iou[{n}]" for n in NAMES}, (direction, model)
            assert {_field(r.protocol, "class_mean") for r in fcn} == {OFFICIAL_3_OF_4}, (direction, model)
            assert {_field(r.protocol, "class_set") for r in fcn} == {"the classes the tiny generator draws"}
        assert seen == models, direction
    # The constant grey output maps to the unscored grey class everywhere: all three scored classes score 0 and the
    # mean still runs over those three (the old NaN-skipping mean gave the same 0 here, but over four classes).
    constant = _by_metric(runs["cyclegan"])
    assert constant["fcn_photo2labels_class_iou"].value == 0.0 and constant["fcn_photo2labels_pixel_acc"].value == 0.0
    perfect = _by_metric(runs["pix2pix"])
    assert perfect["fcn_photo2labels_class_iou"].value == pytest.approx(1.0, abs=1e-12)


def test_undeclared_class_set_or_unscored_ground_truth_is_an_error(tmp_path, cache):
    task = _task()
    bare = Task(name="bare", domains=task.domains, paired=True, label_kinds=task.label_kinds, image_size=SIZE,
                splits=task.splits, meta={k: v for k, v in task.meta.items() if k != "scored_classes"})
    with pytest.raises(fcn_scenes.HarnessError, match="scored_classes"):
        fcn_scenes.evaluate_fcn_scenes(PerfectModel(), _ctx(tmp_path, "pix2pix", bare))
    narrow = Task(name="narrow", domains=task.domains, paired=True, label_kinds=task.label_kinds, image_size=SIZE,
                  splits=task.splits, meta=dict(task.meta) | {"scored_classes": [0, 2]})
    with pytest.raises(fcn_scenes.HarnessError, match=r"ground truth holds \['person'\]"):
        fcn_scenes.evaluate_fcn_scenes(PerfectModel(), _ctx(tmp_path, "pix2pix", narrow))
    for bad in ([], [0, 0], [5]):
        wrong = Task(name="wrong", domains=task.domains, paired=True, label_kinds=task.label_kinds, image_size=SIZE,
                     splits=task.splits, meta=dict(task.meta) | {"scored_classes": bad})
        with pytest.raises(fcn_scenes.HarnessError, match="distinct class ids"):
            fcn_scenes.reference_fcn_scenes(_ctx(tmp_path, "ground_truth", wrong))


SUITE_SETS = ("scenes.n_train=24", "scenes.n_val=8", "scenes.n_test=12", "pix2pix.steps=2", "pix2pix.ngf=8",
              "pix2pix.ndf=8", "pix2pix.batch_size=1", "cyclegan.steps=2", "cyclegan.decay_steps=1", "cyclegan.ngf=8",
              "cyclegan.ndf=8", "cyclegan.n_blocks=1", "cyclegan.batch_size=2", "eval.n_sample_images=2")


@pytest.mark.slow
def test_a_suite_run_scores_every_model_over_the_same_class_set(tmp_path, cache, tiny_args):
    out = tmp_path / "run"
    argv = ["suite", "--models", "pix2pix,cyclegan", "--tasks", "scenes", "--out", str(out), "--no-progress",
            *tiny_args(*SUITE_SETS)]
    assert main(argv) == 0
    metrics = pd.read_csv(out / "metrics.csv", keep_default_na=False)
    drawn = {f"iou[{TRAIN_ID_NAMES[c]}]" for c in DRAWN_CLASSES}
    for direction, models in (("labels2photo", {"ground_truth", "pix2pix", "cyclegan"}),
                              ("photo2labels", {"pix2pix", "cyclegan"})):
        rows = metrics[metrics["metric"].str.startswith(f"fcn_{direction}_")]
        assert set(rows["model"]) == models, direction
        for model, group in rows.groupby("model"):
            per_class = {m.removeprefix(f"fcn_{direction}_") for m in group["metric"] if "[" in m}
            assert per_class == drawn, (direction, model)
        means = {_field(p, "class_mean") for p in rows["protocol"]}
        assert len(means) == 1 and means.pop().endswith("over 10 of 19 classes"), direction
        assert {_field(p, "class_set") for p in rows["protocol"]} == {"the trainIds the scenes generator draws"}
