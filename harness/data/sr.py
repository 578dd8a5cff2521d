"""The embedded super-resolution tasks: photographs bundled with scikit-image and matplotlib, ×4 by MATLAB bicubic.

Stands in for SRGAN's training set (350k ImageNet photos) and test sets (Set5, Set14, BSD100), none of which ships
with the harness. ``skimage.data`` bundles a few photographs inside the package, readable offline (scikit-image
0.26; the others it lists need ``pooch`` and a download, and are not used). The tasks split them *by image*, so no
test photo is ever seen in training:

- ``sr`` (RGB): train ``rocket``, ``motorcycle_left``, ``motorcycle_right`` (a stereo pair: one scene, one split),
  ``hubble_deep_field``, ``immunohistochemistry``, ``retina``; test ``astronaut``, ``chelsea``, ``coffee`` and
  matplotlib's sample ``grace_hopper`` (``cat`` is ``chelsea`` again and is not used twice; ``colorwheel`` and
  ``logo`` are drawings, not photos).
- ``sr_gray`` (grey): train ``page``, ``text``, ``clock``, ``cell``, ``brick``, ``grass``, ``gravel``; test
  ``camera``, ``coins``, ``moon`` (``horse``, ``checkerboard``, ``binary_blobs`` and the phantom are synthetic).

Training uses HR tiles and random HR crops of ``image_size`` (96 px in SRGAN); testing uses the whole test photos
(``test_size = 0``, the benchmarks' protocol) or every non-overlapping ``test_size`` px crop of them (a grid, named
``<photo>@<top>,<left>``) — the protocol string says which. Four photos are too few for the report's per-image
tests to resolve a few tenths of a dB; the crops of a grid are many held-out test images of the same photos
(``docs/sr.md`` gives the power).

The photos are decoded by the installed scikit-image / matplotlib and Pillow (three training photos and
``grace_hopper`` are JPEGs); ``PHOTO_SHA256`` pins the decoded pixels, and a photo that decodes to other bytes is
reported by name with both hashes (its likely cause: a release of one of those packages), since the task, and every
judge trained on it, would then differ from the benchmark's.
"""

from __future__ import annotations

import hashlib
import logging
import os
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
from harness.data.sr_pairs import Photo, build_sr_task, grid_crops

log = logging.getLogger(__name__)

VERSION = "sr-2"  # bump when the photo lists, the tiling or the LR convention change


def _motorcycle(side: int) -> np.ndarray:
    return skdata.stereo_motorcycle()[side]


def _matplotlib_sample(name: str) -> np.ndarray:
    import matplotlib
    from PIL import Image

    with Image.open(os.path.join(matplotlib.get_data_path(), "sample_data", name)) as image:
        return np.array(image.convert("RGB"))


LOADERS: dict[str, Callable[[], np.ndarray]] = {  # every photo used, by its skimage.data name
    "astronaut": skdata.astronaut, "chelsea": skdata.chelsea, "coffee": skdata.coffee, "rocket": skdata.rocket,
    "motorcycle_left": lambda: _motorcycle(0), "motorcycle_right": lambda: _motorcycle(1),
    "hubble_deep_field": skdata.hubble_deep_field, "immunohistochemistry": skdata.immunohistochemistry,
    "retina": skdata.retina, "camera": skdata.camera, "coins": skdata.coins, "moon": skdata.moon,
    "page": skdata.page, "text": skdata.text, "clock": skdata.clock, "cell": skdata.cell, "brick": skdata.brick,
    "grass": skdata.grass, "gravel": skdata.gravel, "grace_hopper": lambda: _matplotlib_sample("grace_hopper.jpg"),
}
PHOTO_SHA256 = {  # sha256 of each decoded photo's uint8 (C, H, W) bytes (scikit-image 0.26, matplotlib 3.11, Pillow 13)
    "astronaut": "9d1263ba0e684c996ad8d59ebeeb479d2608e2d7bb09a217aafcb77f1c5f9533",
    "chelsea": "9c717786308ef130d869e61afda7439c5a84e3624d7d1bc0500947db97a023f1",
    "coffee": "9b3e037f9cd32e3aa4673b24f51de4b8b0a6c6fc4c4f2c89d2dd5d63cc43e8f2",
    "rocket": "94bc01cd6c3812d001dc262b1fc2de79c32671282dd2a1043f7ac6e120b19f94",
    "motorcycle_left": "036a8bd5572f98b7a41f544822a01915573f9708c1e1ba16acae8a21b75c228e",
    "motorcycle_right": "4235aecd094a88767330600e71b70df436aeff80561457858206872f3b1564c0",
    "hubble_deep_field": "85b4affbfad09ffb0203cc6f8eed2dda1c88acefcf5ab9237a65bd0c7f3611b0",
    "immunohistochemistry": "a4aaac3f2e68b8230de4049ba798832eb51c99d35d98199f6bef3794e6560a0b",
    "retina": "57c7ddc404670df0a52b330913f0caa7e74cc3c3066f62b5dd12788efce6fcf7",
    "camera": "5cb24482a53416f99052258be2b1ee38cd31c559a70c8a8b321cba231b332e21",
    "coins": "e080cc03805f1fa70516c3cb84883d4633bda2a1b51841da7c22f3d14c072451",
    "moon": "a20362266d5b01021f6f0f54bd603c3137f921b741770420deeb5ea0141716c0",
    "page": "667bfd85aab58052ae90251fae1a265cf8be6d1097b1e61dcfc183b65887a1fe",
    "text": "6705caed21e6281799a52591c27498da5526cace39f2b6af3141b2ff11e2e517",
    "clock": "ad313afa739ea86c00ce55d190f1fa284c1982e9bc70eb4c9b21ac29c5c7a85c",
    "cell": "dc464a59c68346fbe7a36fb75421d02a5e29780874b92efd3c920a319bfcb3b0",
    "brick": "664a145c5253f0d66db1a12776785f0ea35a44cc7447ffc933f6d6118dc58643",
    "grass": "b18dae4c68bf850a7a7b28a29d1846c76be890665117b57fd125fe29c4d4ede6",
    "gravel": "3d51ad45f789cd8b98534b7af6bce774e499ead45421135afd757358c7230009",
    "grace_hopper": "e2d643579c66f50c6be6a52681b4769f7d9c4b4cb4b24fb622c9067dc268386e",
}
PHOTO_SETS: dict[str, dict[str, tuple[str, ...]]] = {
    "rgb": {"train": ("rocket", "motorcycle_left", "motorcycle_right", "hubble_deep_field", "immunohistochemistry",
                      "retina"),
            "test": ("astronaut", "chelsea", "coffee", "grace_hopper")},
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
    # 0 = whole test photos (the benchmarks' protocol); > 0 = every non-overlapping crop of this side (a grid)
    test_size: Annotated[int, Range(0, 8192)] = 0


def photo(name: str) -> torch.Tensor:
    """The bundled photo ``name`` as uint8 ``(C, H, W)`` (C = 3 or 1)."""
    array = np.asarray(LOADERS[name]())
    if array.dtype != np.uint8:
        raise HarnessError(f"scikit-image photo {name!r} is {array.dtype}, expected uint8")
    array = array[..., None] if array.ndim == 2 else array[..., :3]
    image = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1).contiguous()
    digest = hashlib.sha256(image.numpy().tobytes()).hexdigest()
    if digest != PHOTO_SHA256[name]:
        log.warning("sr photo %r decodes to other pixels here (sha256 %s…, pinned %s…): a scikit-image, matplotlib or "
                    "Pillow (JPEG decoder) release other than the lock file's; the sr tasks and their judges then "
                    "differ from the benchmark's (install with the lock file: see the README)", name, digest[:12],
                    PHOTO_SHA256[name][:12])
    return image


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
    test = [Photo(n, photo(n)) for n in names["test"]]
    if config.test_size:
        test = [crop for p in test for crop in grid_crops(p, config.test_size, config.scale)]
    key = stable_hash(asdict(config), photo_set, VERSION)  # the photos themselves are pinned (PHOTO_SHA256)
    meta: dict[str, object] = {"cache_key": key, "photos": f"scikit-image {skimage.__version__} {photo_set} photos",
                               "test_crop": config.test_size}
    return build_sr_task(name, train, test, scale=config.scale, tile=config.tile, image_size=config.image_size,
                         meta=meta)


def build_sr(config: SRConfig) -> Task:
    """The RGB photo task ``sr``."""
    return build_photo_task(config, "rgb", "sr")


def build_sr_gray(config: SRConfig) -> Task:
    """The greyscale photo task ``sr_gray``."""
    return build_photo_task(config, "gray", "sr_gray")
