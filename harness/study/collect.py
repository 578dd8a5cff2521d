"""What a study shows, gathered from a run: every trained job's outputs per condition, and their signals.

For each finished job the trained model is rebuilt from the model registry and ``jobs/<job>/model.pt`` reloaded
(nothing is retrained). A condition is one task, one direction the model translates (``AtoB``/``BtoA`` become
``<source>2<target>``, e.g. ``labels2photo``) or, for an unconditional model, the domain it generates, and one seed;
every model of the run that produces that condition is one method of it. Models whose conditions are not
``direction=`` translations or samples are skipped with a note (conditional models bring their conditions later).
The real target images are the first ``max_images`` of the task's test split; the real-image manifold is
``n_reference`` train images of the target domain.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from harness.core.task import Task
from harness.models import MODELS, build_model
from harness.run_config import RunConfig, model_config
from harness.study.config import StudyConfig
from harness.tasks import build_task
from harness.train import load_trained
from metrics.human_study.design import BLANK, NEAREST, REAL, ConditionPool
from metrics.human_study.signals import RealManifold, standardise_realism

log = logging.getLogger(__name__)

TRANSLATIONS = ("AtoB", "BtoA")
SR_FACTOR = 4  # nearest_x4: bicubic x4 down, nearest x4 up (SRGAN's NN baseline)


@dataclass
class StudyMaterial:
    """Pools of image keys, their signals, and (when kept) the images.

    Attributes:
        pools: One per (task, condition, seed).
        z_real: Image key -> standardised log realism.
        z_ref: Image key -> minus the distance to the true counterpart (0 where none).
        settings: Method -> setting (``paired``/``unpaired``/``unconditional``/``reference``).
        variants: Method -> variant label.
        provenance: Method -> the model's ``provenance()`` keys, which every row about its outputs carries.
        images: Image key -> uint8 ``(C, H, W)`` (only when collected with ``keep_images``).
        notes: Models or conditions skipped, and why.
    """

    pools: list[ConditionPool] = field(default_factory=list)
    z_real: dict[str, float] = field(default_factory=dict)
    z_ref: dict[str, float] = field(default_factory=dict)
    settings: dict[str, str] = field(default_factory=lambda: {REAL: "reference", NEAREST: "reference",
                                                              BLANK: "reference"})
    variants: dict[str, str] = field(default_factory=dict)
    provenance: dict[str, dict[str, str]] = field(default_factory=dict)
    images: dict[str, torch.Tensor] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def nearest_x4(images: torch.Tensor) -> torch.Tensor:
    """Bicubic (antialiased) x4 downsampling then nearest x4 upsampling to the original size, ``[0, 1]``."""
    size = images.shape[2:]
    small = F.interpolate(images, size=(max(size[0] // SR_FACTOR, 1), max(size[1] // SR_FACTOR, 1)), mode="bicubic",
                          antialias=True, align_corners=False).clamp(0, 1)
    return F.interpolate(small, size=size, mode="nearest")


def blank(images: torch.Tensor) -> torch.Tensor:
    """Each image replaced by its mean colour (``(N, C, H, W)`` in [0, 1])."""
    return images.mean(dim=(2, 3), keepdim=True).expand_as(images).contiguous()


def _batched(fn, images: torch.Tensor, batch: int) -> torch.Tensor:
    return torch.cat([fn(images[i:i + batch]) for i in range(0, len(images), batch)]) if len(images) else images


Produced = dict[str, tuple[str | None, str, torch.Tensor]]


def _outputs(spec, model, cfg, task: Task, seed: int, n: int, batch: int) -> Produced:
    """Condition name -> (source domain or None, target domain, outputs) of one trained model.

    Translations are of the first ``n`` test inputs; an unconditional model gives ``n`` samples.
    """
    out: Produced = {}
    if spec.setting == "unconditional":
        domain = cfg.domain if hasattr(cfg, "domain") else task.domains[-1]  # GANConfig.domain: what it models
        generator = torch.Generator().manual_seed(seed + 7_777)
        count = min(n, len(task.data("test", domain)))  # as many samples as real images are shown
        out[domain] = (None, domain, model.sample(count, generator).cpu())
        return out
    for direction in model.directions():
        if direction not in TRANSLATIONS:
            continue
        src, dst = task.domains if direction == "AtoB" else task.domains[::-1]
        inputs = task.data("test", src).get(slice(0, n))
        out[f"{src}2{dst}"] = (src, dst, _batched(lambda x, d=direction: model.translate(x, direction=d).cpu(), inputs,
                                             batch))
    return out


@contextlib.contextmanager
def seeded_torch(seed: int, device: torch.device) -> Iterator[None]:
    """Runs the block with torch's generators (CPU and ``device``) seeded from ``seed``, restoring them after.

    A model that draws at test time (pix2pix keeps dropout on, as the official test script does) then gives the
    same outputs for the same job whatever ran before it, so a study's tables are the same bytes on every call.
    """
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


def _keys(prefix: str, n: int) -> tuple[str, ...]:
    return tuple(f"{prefix}/{i:04d}" for i in range(n))


class _Signals:
    """Per (task, domain): the real-image manifold and the standardisation of the shown real images."""

    def __init__(self, task: Task, domain: str, study: StudyConfig) -> None:
        train, n = task.data("train", domain), study.max_images
        count = min(study.n_reference, len(train))
        self.manifold = RealManifold(train.get(slice(0, count)))
        self.real = task.data("test", domain).get(slice(0, n))
        self.real_embedded = self.manifold.embed(self.real)
        self.real_log_r = self.manifold.log_realism_of(self.real_embedded)
        # MOS calibration images come from the train split too (SRGAN: BSD300 train), after the reference ones.
        n_cal = min(study.mos.n_calibration, len(train))
        self.calibration = train.get(slice(len(train) - n_cal, len(train)))

    def z(self, images: torch.Tensor, paired: bool) -> tuple[np.ndarray, np.ndarray]:
        """``(z_real, z_ref)`` of ``images``; ``z_ref`` against the shown real image of the same index if paired."""
        embedded = self.manifold.embed(images)
        z_real = standardise_realism(self.manifold.log_realism_of(embedded), self.real_log_r)
        if not paired:
            return z_real, np.zeros(len(images))
        return z_real, -self.manifold.distance_of(embedded, self.real_embedded[: len(images)])


def _record(material: StudyMaterial, keys: tuple[str, ...], images: torch.Tensor, signals: _Signals,
            paired: bool, keep: bool) -> None:
    z_real, z_ref = signals.z(images, paired)
    for key, zr, zf in zip(keys, z_real, z_ref, strict=True):
        material.z_real[key], material.z_ref[key] = float(zr), float(zf)
    if keep:
        material.images.update(zip(keys, (images.clamp(0, 1) * 255).round().to(torch.uint8), strict=True))


def collect(run_dir: Path, config: RunConfig, jobs: Iterable[tuple[str, str, int]], *, device: torch.device,
            keep_images: bool = False) -> StudyMaterial:
    """Rebuilds each ``(job_id, model, seed)`` job's model, translates or samples, and computes signals.

    Args:
        run_dir: The run directory (``jobs/<job>/model.pt``).
        config: The run's resolved config.
        jobs: Finished model jobs ``(job id, model name, seed)`` grouped by nothing in particular; job ids are
            ``<model>__<task>__s<seed>``.
        device: Where to run the models.
        keep_images: Keep the images (for ``study export``).
    """
    material, n = StudyMaterial(), config.study.max_images
    outputs: dict[tuple[str, str, int], dict[str, torch.Tensor]] = {}
    domains: dict[tuple[str, str], tuple[str | None, str]] = {}
    tasks: dict[str, Task] = {}
    for job_id, name, seed in jobs:
        task_name = job_id.split("__")[1]
        task = tasks.setdefault(task_name, build_task(task_name, config))
        spec = MODELS.get(name)
        cfg = model_config(config, name, task_name)  # task_overrides apply per task, as in the suite
        model = build_model(spec, cfg, task, device, config.eval, progress=False)
        load_trained(model, run_dir / "jobs" / job_id)
        with seeded_torch(seed, device):  # dropout at test time (pix2pix) draws from torch's generator
            produced = _outputs(spec, model, cfg, task, seed, n, config.eval.batch_size)
        if not produced:
            material.notes.append(f"{name}: no direction= translation or samples to show; skipped")
        for condition, (src, dst, images) in produced.items():
            outputs.setdefault((task_name, condition, seed), {})[name] = images
            domains[(task_name, condition)] = (src, dst)
        material.settings[name], material.variants[name] = spec.setting, spec.variant
        material.provenance[name] = dict(model.provenance())
    signals: dict[tuple[str, str], _Signals] = {}
    for (task_name, condition, seed), methods in outputs.items():
        src, dst = domains[(task_name, condition)]
        add_condition(material, tasks[task_name], condition, src, dst, seed, methods, config.study,
                      keep_images=keep_images, signals=signals)
    return material


def add_condition(material: StudyMaterial, task: Task, condition: str, src: str | None, dst: str, seed: int,
                  methods: dict[str, torch.Tensor], study: StudyConfig, *, keep_images: bool,
                  signals: dict[tuple[str, str], _Signals]) -> None:
    """Adds one condition's pool and signals to ``material``.

    Args:
        material: Collected so far (updated in place).
        task: The task (its train split of ``dst`` is the real manifold, its test split the shown real images).
        condition: Condition name.
        src: Input domain, or None for generated samples.
        dst: Target domain.
        seed: Seed of the models.
        methods: Method -> outputs float ``(n, C, H, W)`` in [0, 1]; output ``i`` is of test input ``i``.
        study: Study settings (``max_images``, ``n_reference``, ``mos.n_calibration``).
        keep_images: Keep uint8 copies of the images (export).
        signals: Cache of manifolds per (task, domain), shared across calls.
    """
    if (task.name, dst) not in signals:
        signals[(task.name, dst)] = _Signals(task, dst, study)
    material.pools.append(_pool(material, task, condition, src, seed, methods, signals[(task.name, dst)],
                                keep_images))


def _pool(material: StudyMaterial, task: Task, condition: str, src: str | None, seed: int,
          methods: dict[str, torch.Tensor], sig: _Signals, keep: bool) -> ConditionPool:
    """One condition's pool; ``src`` is the input domain (None for generated samples)."""
    base = f"{task.name}/{condition}"
    real = sig.real
    paired = task.paired and src is not None
    real_keys, near_keys = _keys(f"{base}/{REAL}", len(real)), _keys(f"{base}/{NEAREST}", len(real))
    _record(material, real_keys, real, sig, paired, keep)
    _record(material, near_keys, nearest_x4(real), sig, paired, keep)
    blank_keys = _keys(f"{base}/{BLANK}", len(real))
    _record(material, blank_keys, blank(real), sig, paired, keep)
    cal_real, cal_near = _keys(f"{base}/cal_real", len(sig.calibration)), _keys(f"{base}/cal_near",
                                                                                len(sig.calibration))
    _record(material, cal_real, sig.calibration, sig, False, keep)
    _record(material, cal_near, nearest_x4(sig.calibration), sig, False, keep)
    method_keys = {}
    for name, images in methods.items():
        shown = images[: len(real)]  # output i is of test input i; never more than the real images shown
        method_keys[name] = _keys(f"{base}/s{seed}/{name}", len(shown))
        _record(material, method_keys[name], shown, sig, paired, keep)
    inputs = None
    if src is not None:
        inputs = _keys(f"{base}/input", len(real))
        if keep:
            material.images.update(zip(inputs, (task.data("test", src).get(slice(0, len(real))) * 255).round().to(
                torch.uint8), strict=True))
    return ConditionPool(task=task.name, condition=condition, seed=seed, real=real_keys, methods=method_keys,
                         inputs=inputs, nearest=near_keys, blank=blank_keys, calibration=(cal_real, cal_near),
                         paired=paired)
