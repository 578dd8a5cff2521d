"""The task registry: embedded benchmark tasks, each built from its ``RunConfig`` section."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from harness.cityscapes_task import build_cityscapes_task
from harness.core.registry import Registry
from harness.core.task import Task
from harness.data.digits import build_digits
from harness.data.faces import build_faces
from harness.data.maps import build_maps
from harness.data.probe import build_probe_geometry, build_probe_texture
from harness.data.real_configs import build_aligned
from harness.data.real_faces import build_celeba, build_celeba_rafd, build_rafd
from harness.data.scenes import build_scenes
from harness.data.sr import build_sr, build_sr_gray
from harness.data.sr_folders import build_sr_folders
from harness.data.svhn_mnist import build_svhn_mnist


@dataclass(frozen=True)
class TaskSpec:
    """A registry entry.

    Attributes:
        name: Task name.
        config_section: ``RunConfig`` field holding the task's config.
        build: ``config -> Task`` (deterministic, cached).
        description: One line for ``list tasks``.
        default: Whether a run without ``--tasks`` includes it (real datasets need a path, so they are opt-in).
    """

    name: str
    config_section: str
    build: Callable[[Any], Task]
    description: str
    default: bool = True


TASKS: Registry[TaskSpec] = Registry("task")
for _spec in (
    TaskSpec("digits", "digits", build_digits,
             "printed house-number digits (RGB 32 px) and handwritten digits (gray 28 px), class-labelled"),
    TaskSpec("scenes", "scenes", build_scenes,
             "street-scene label maps (Cityscapes trainIds and colours) and photos rendered from them, paired"),
    TaskSpec("maps", "maps", build_maps, "map tiles and matching aerial renderings, paired (AMT protocol)"),
    TaskSpec("probe_texture", "probe", build_probe_texture,
             "geometry-vs-texture probe: the same shapes in another colour/texture, paired"),
    TaskSpec("probe_geometry", "probe", build_probe_geometry,
             "geometry-vs-texture probe: circles to squares at the same places and colours, paired"),
    TaskSpec("faces", "faces", build_faces,
             "parametric faces: a CelebA-like set (hair colour, sex, age) and a RaFD-like set (8 expressions), "
             "identities shared across splits"),
    TaskSpec("sr", "sr", build_sr,
             "x4 super-resolution of scikit-image's bundled RGB photos (MATLAB bicubic LR; split by photo)"),
    TaskSpec("sr_gray", "sr", build_sr_gray,
             "x4 super-resolution of scikit-image's bundled greyscale photos (the grey set of sr)", default=False),
    TaskSpec("cityscapes", "cityscapes", build_cityscapes_task,
             "real Cityscapes (leftImg8bit + gtFine labelIds → trainIds) from --set cityscapes.root=PATH; the papers' "
             "FCN-8s judge with --set cityscapes.fcn_weights=fcn-8s-cityscapes.caffemodel",
             default=False),
    TaskSpec("aligned", "aligned", build_aligned,
             "a real pix2pix A|B folder dataset (facades, maps, cityscapes) from --set aligned.root=PATH",
             default=False),
    TaskSpec("sr_folders", "sr_folders", build_sr_folders,
             "real SR data: Set5/Set14/BSD100/DIV2K-style HR folders (+ optional LR) from --set sr_folders.root=PATH",
             default=False),
    TaskSpec("svhn_mnist", "svhn_mnist", build_svhn_mnist,
             "real SVHN (.mat, source) → MNIST (idx, target) digits for DTN from --set svhn_mnist.root=PATH",
             default=False),
    TaskSpec("celeba", "faces_real", build_celeba,
             "real CelebA (StarGAN's 1,999-image test split, 178 crop, 128 px) from --set faces_real.celeba_root=PATH",
             default=False),
    TaskSpec("rafd", "faces_real", build_rafd,
             "real RaFD (file-name labels, 90/10 by image, 256 crop, 128 px) from --set faces_real.rafd_root=PATH",
             default=False),
    TaskSpec("celeba_rafd", "faces_real", build_celeba_rafd,
             "real CelebA and RaFD together (StarGAN joint training with the mask vector)", default=False),
):
    TASKS.add(_spec.name, _spec)


def build_task(name: str, run_config: object) -> Task:
    """Builds task ``name`` from its section of ``run_config``."""
    spec = TASKS.get(name)
    return spec.build(getattr(run_config, spec.config_section))
