"""The Cityscapes label table and the labelId → trainId → colour conversions.

Provenance: the table reproduces ``cityscapesscripts/helpers/labels.py`` of mcordts/cityscapesScripts (name, id,
trainId, category, color for all 34 labels plus ``license plate`` with id -1). The 19 evaluated classes are the
labels whose trainId is not 255; every other label maps to trainId 255 (ignore), which the FCN-score code of
pix2pix/CycleGAN drops from its confusion matrix.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from harness.core.errors import HarnessError


class CityscapesLabel(NamedTuple):
    """One row of the Cityscapes label table."""

    name: str
    id: int
    train_id: int
    category: str
    color: tuple[int, int, int]


IGNORE_INDEX = 255

LABELS: tuple[CityscapesLabel, ...] = (
    CityscapesLabel("unlabeled", 0, 255, "void", (0, 0, 0)),
    CityscapesLabel("ego vehicle", 1, 255, "void", (0, 0, 0)),
    CityscapesLabel("rectification border", 2, 255, "void", (0, 0, 0)),
    CityscapesLabel("out of roi", 3, 255, "void", (0, 0, 0)),
    CityscapesLabel("static", 4, 255, "void", (0, 0, 0)),
    CityscapesLabel("dynamic", 5, 255, "void", (111, 74, 0)),
    CityscapesLabel("ground", 6, 255, "void", (81, 0, 81)),
    CityscapesLabel("road", 7, 0, "flat", (128, 64, 128)),
    CityscapesLabel("sidewalk", 8, 1, "flat", (244, 35, 232)),
    CityscapesLabel("parking", 9, 255, "flat", (250, 170, 160)),
    CityscapesLabel("rail track", 10, 255, "flat", (230, 150, 140)),
    CityscapesLabel("building", 11, 2, "construction", (70, 70, 70)),
    CityscapesLabel("wall", 12, 3, "construction", (102, 102, 156)),
    CityscapesLabel("fence", 13, 4, "construction", (190, 153, 153)),
    CityscapesLabel("guard rail", 14, 255, "construction", (180, 165, 180)),
    CityscapesLabel("bridge", 15, 255, "construction", (150, 100, 100)),
    CityscapesLabel("tunnel", 16, 255, "construction", (150, 120, 90)),
    CityscapesLabel("pole", 17, 5, "object", (153, 153, 153)),
    CityscapesLabel("polegroup", 18, 255, "object", (153, 153, 153)),
    CityscapesLabel("traffic light", 19, 6, "object", (250, 170, 30)),
    CityscapesLabel("traffic sign", 20, 7, "object", (220, 220, 0)),
    CityscapesLabel("vegetation", 21, 8, "nature", (107, 142, 35)),
    CityscapesLabel("terrain", 22, 9, "nature", (152, 251, 152)),
    CityscapesLabel("sky", 23, 10, "sky", (70, 130, 180)),
    CityscapesLabel("person", 24, 11, "human", (220, 20, 60)),
    CityscapesLabel("rider", 25, 12, "human", (255, 0, 0)),
    CityscapesLabel("car", 26, 13, "vehicle", (0, 0, 142)),
    CityscapesLabel("truck", 27, 14, "vehicle", (0, 0, 70)),
    CityscapesLabel("bus", 28, 15, "vehicle", (0, 60, 100)),
    CityscapesLabel("caravan", 29, 255, "vehicle", (0, 0, 90)),
    CityscapesLabel("trailer", 30, 255, "vehicle", (0, 0, 110)),
    CityscapesLabel("train", 31, 16, "vehicle", (0, 80, 100)),
    CityscapesLabel("motorcycle", 32, 17, "vehicle", (0, 0, 230)),
    CityscapesLabel("bicycle", 33, 18, "vehicle", (119, 11, 32)),
    CityscapesLabel("license plate", -1, -1, "vehicle", (0, 0, 142)),
)

NUM_CLASSES = 19
TRAIN_IDS: tuple[int, ...] = tuple(range(NUM_CLASSES))  # the classes the official FCN-score averages over

# trainId → name / colour for the 19 evaluated classes, in trainId order.
_TRAIN_LABELS = sorted((lab for lab in LABELS if 0 <= lab.train_id < IGNORE_INDEX), key=lambda lab: lab.train_id)
TRAIN_ID_NAMES: tuple[str, ...] = tuple(lab.name for lab in _TRAIN_LABELS)
TRAIN_ID_PALETTE: np.ndarray = np.array([lab.color for lab in _TRAIN_LABELS], dtype=np.uint8)
TRAIN_ID_PALETTE.setflags(write=False)

# labelId (0..255) → trainId; ids absent from the table are flagged by _KNOWN_ID (the LUT holds 255 there).
LABEL_ID_TO_TRAIN_ID: np.ndarray = np.full(256, IGNORE_INDEX, dtype=np.uint8)
_KNOWN_ID = np.zeros(256, dtype=bool)
for _lab in LABELS:
    if _lab.id >= 0:
        LABEL_ID_TO_TRAIN_ID[_lab.id] = _lab.train_id if _lab.train_id >= 0 else IGNORE_INDEX
        _KNOWN_ID[_lab.id] = True
LABEL_ID_TO_TRAIN_ID.setflags(write=False)

# trainId (0..255) → RGB; everything that is not a class (255 ignore included) is black.
_TRAIN_ID_TO_COLOR = np.zeros((256, 3), dtype=np.uint8)
_TRAIN_ID_TO_COLOR[:NUM_CLASSES] = TRAIN_ID_PALETTE

TRAIN_ID: dict[str, int] = {name: i for i, name in enumerate(TRAIN_ID_NAMES)}


def label_ids_to_train_ids(array: np.ndarray, source_name: str) -> np.ndarray:
    """Maps a Cityscapes ``*_labelIds.png`` array to trainIds.

    Args:
        array: Integer ``(H, W)`` labelIds (0..33).
        source_name: The file the array came from, for the error message.

    Returns:
        uint8 ``(H, W)`` trainIds in 0..18 or 255 (ignore).

    Raises:
        HarnessError: If the array holds ids that are not in the Cityscapes label table.
    """
    values = np.asarray(array)
    if values.ndim != 2:
        raise HarnessError(f"{source_name}: expected a single-channel labelIds image, got shape {values.shape}")
    if values.size and (values.min() < 0 or values.max() > 255):
        raise HarnessError(f"{source_name}: label ids outside 0..255 (range {values.min()}..{values.max()})")
    values = values.astype(np.int64)
    unknown = np.unique(values[~_KNOWN_ID[values]])
    if unknown.size:
        shown = ", ".join(map(str, unknown[:10].tolist()))
        raise HarnessError(
            f"{source_name}: unknown Cityscapes label ids {shown} (expected labelIds 0..33 from cityscapesScripts "
            "labels.py; is this a *_gtFine_labelIds.png file?)"
        )
    return LABEL_ID_TO_TRAIN_ID[values]


def train_ids_to_color(array: np.ndarray) -> np.ndarray:
    """Colour-codes trainIds with the Cityscapes palette.

    Args:
        array: Integer ``(..., H, W)`` trainIds in 0..18 or 255.

    Returns:
        uint8 ``(..., H, W, 3)`` RGB; ignore (255) and any non-class id are black ``(0, 0, 0)``.
    """
    values = np.asarray(array).astype(np.int64)
    return _TRAIN_ID_TO_COLOR[np.where((values >= 0) & (values < 256), values, IGNORE_INDEX)]
