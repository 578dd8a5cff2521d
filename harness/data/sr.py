"""The embedded super-resolution tasks: the natural photographs bundled with scikit-image, ×4 by MATLAB bicubic.

Stands in for SRGAN's training set (350k ImageNet photos) and test sets (Set5, Set14, BSD100), none of which ships
with the harness. ``skimage.data`` bundles a few photographs inside the package, readable offline (scikit-image
0.26; the others it lists need ``pooch`` and a download, and are not used). The tasks split them *by image*, so no
test photo is ever seen in training:

- ``sr`` (RGB): train ``rocket``, ``motorcycle_left``, ``motorcycle_right`` (a stereo pair: one scene, one split),
  ``hubble_deep_field``, ``immunohistochemistry``, ``retina``; test ``astronaut``, ``chelsea``, ``coffee``
  (``cat`` is ``chelsea`` again and is not used twice; ``colorwheel`` and ``logo`` are drawings, not photos).
- ``sr_gray`` (grey): train ``page``, ``text``, ``clock``, ``cell``, ``brick``, ``grass``, ``gravel``; test
  ``camera``, ``coins``, ``moon`` (``horse``, ``checkerboard``, ``binary_blobs`` and the phantom are synthetic).

Training uses HR tiles and random HR crops of ``image_size`` (96 px in SRGAN); testing uses the whole test photos
(``test_size = 0``) or, for CPU smoke runs, centred crops of ``test_size`` px — the protocol string says which.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Annotated

import numpy as np
import skimage
import torch
from skimage import data as skdata

from harness.core.bounds import Range
from harness.core.cache import stable_hash
from harness.core.errors import HarnessError
from harness.core.task import Task
from harness.data.sr_pairs import Photo, build_sr_task, centre_crop

VERSION = "sr-1"  # bump when the photo lists, the tiling or the LR convention change


def _motorcycle(side: int) -> np.ndarray:
    return skdata.stereo_motorcycle()[side]


LOADERS: dict[str, Callable[[], np.ndarray]] = {  # every photo used, by its skimage.data name
    "astronaut": skdata.astronaut, "chelsea": skdata.chelsea, "coffee": skdata.coffee, "rocket": skdata.rocket,
    "motorcycle_left": lambda: _motorcycle(0), "motorcycle_right": lambda: _motorcycle(1),
    "hubble_deep_field": skdata.hubble_deep_field, "immunohistochemistry": skdata.immunohistochemistry,
    "retina": skdata.retina, "camera": skdata.camera, "coins": skdata.coins, "moon": skdata.moon,
    "page": skdata.page, "text": skdata.text, "clock": skdata.clock, "cell": skdata.cell, "brick": skdata.brick,
    "grass": skdata.grass, "gravel": skdata.gravel,
}
PHOTO_SETS: dict[str, dict[str, tuple[str, ...]]] = {
    "rgb": {"train": ("rocket", "motorcycle_left", "motorcycle_right", "hubble_deep_field", "immunohistochemistry",
                      "retina"),
            "test": ("astronaut", "chelsea", "coffee")},
    "gray": {"train": ("page", "text", "clock", "cell", "brick", "grass", "gravel"),
             "test": ("camera", "coins", "moon")},
}


@dataclass(frozen=True)
class SRConfig:
    """The embedded SR tasks (``sr``, ``sr_gray``); profiles shrink them."""

    scale: Annotated[int, Range(2, 16)] = 4  # upscaling factor; SRGAN's tables are x4
    # HR training crop side (SRGAN §3.2: 96x96, LR 24x24); a multiple of scale
    image_size: Annotated[int, Range(2, 4096)] = 96
    tile: Annotated[int, Range(2, 8192)] = 192  # HR training tiles are cut at this side (>= image_size); crops inside
    # 0 = whole test photos (the benchmarks' protocol); > 0 = centred crops of this side
    test_size: Annotated[int, Range(0, 8192)] = 0


def photo(name: str) -> torch.Tensor:
    """The bundled photo ``name`` as uint8 ``(C, H, W)`` (C = 3 or 1)."""
    array = np.asarray(LOADERS[name]())
    if array.dtype != np.uint8:
        raise HarnessError(f"scikit-image photo {name!r} is {array.dtype}, expected uint8")
    array = array[..., None] if array.ndim == 2 else array[..., :3]
    return torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).contiguous()


def _check(config: SRConfig, task: str) -> None:
    if config.scale < 2:
        raise HarnessError(f"{task}: sr.scale={config.scale}; expected an integer upscaling factor >= 2")
    if config.image_size % config.scale or config.tile % config.scale or config.image_size > config.tile:
        raise HarnessError(f"{task}: sr.image_size={config.image_size} and sr.tile={config.tile} must be multiples of "
                           f"sr.scale={config.scale}, with image_size <= tile")
    if 0 < config.test_size < 4 * config.scale or config.test_size % config.scale:
        raise HarnessError(f"{task}: sr.test_size={config.test_size} must be 0 (whole photos) or a multiple of "
                           f"sr.scale of at least {4 * config.scale}")


def build_photo_task(config: SRConfig, photo_set: str, name: str) -> Task:
    """The SR task of one photo set (``"rgb"`` or ``"gray"``) of ``PHOTO_SETS``."""
    _check(config, name)
    names = PHOTO_SETS[photo_set]
    train = [Photo(n, photo(n)) for n in names["train"]]
    test = [photo(n) for n in names["test"]]
    if config.test_size:
        test = [centre_crop(image, config.test_size, config.scale) for image in test]
    key = stable_hash(asdict(config), photo_set, VERSION, skimage.__version__)
    meta: dict[str, object] = {"cache_key": key, "photos": f"scikit-image {skimage.__version__} {photo_set} photos",
                               "test_crop": config.test_size}
    return build_sr_task(name, train, [Photo(n, t) for n, t in zip(names["test"], test, strict=True)],
                         scale=config.scale, tile=config.tile, image_size=config.image_size, meta=meta)


def build_sr(config: SRConfig) -> Task:
    """The RGB photo task ``sr``."""
    return build_photo_task(config, "rgb", "sr")


def build_sr_gray(config: SRConfig) -> Task:
    """The greyscale photo task ``sr_gray``."""
    return build_photo_task(config, "gray", "sr_gray")
