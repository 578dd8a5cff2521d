"""How FCN-score frames become confusion counts: the harness segmenter, the papers' FCN-8s, or label colours.

A ``Count`` takes a batch of translated images (float ``(n, 3, S, S)`` in [0, 1], 8-bit levels) and their
ground-truth trainIds (int64 ``(n, H, W)``, ``(H, W)`` possibly larger than S) and adds them to a ``(K, K)`` confusion
matrix; a ``Scorer`` pairs it with the judge keys its rows carry. The suite's protocol (``fcn_scenes``) and
``evaluate`` on folders call the same counters, so a model's saved outputs score the same numbers as in its run.

- ``judge_counter``: the harness segmenter segments at its input size S; its class scores are resized bilinearly to
  the label map's size, then argmax (``fcn_scenes``' module docstring says why).
- ``fcn8s_counter``: the papers' FCN-8s (``metrics.judges.fcn8s``): each frame, as 8-bit RGB, is resized to its label
  map's size and segmented there (evaluate.py), and counted by the official ``fast_hist``
  (``metrics.fcn_score.official_frame_update``), which drops a frame where the 20th output map meets class 18.
- ``colour_counter``: a label-colour image (photo→labels) is mapped to the nearest palette colour at its own size,
  then resized to the label map's size by nearest neighbour.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch.nn import functional as F

from harness.core.images import to_uint8
from metrics.fcn_score import colors_to_train_ids, fcn_confusion_update, official_frame_update
from metrics.judges.fcn8s import Fcn8sJudge, segment

log = logging.getLogger(__name__)

FCN8S_META = "fcn8s_weights"  # task meta key: the caffemodel of the papers' FCN-8s (set by cityscapes.fcn_weights)
FAST_HIST = ("official util.py fast_hist (a 20th-map prediction counts as class 0 of the next ground-truth class; "
             "a frame where it meets class 18 is dropped)")
Count = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (hist, images, truth) -> hist


@dataclass
class Fcn8sTally:
    """What the official counting did beyond the matrix: frames dropped by ``fast_hist``, 20th-map pixels."""

    frames: int = 0
    dropped: list[int] = field(default_factory=list)
    extra_map_pixels: int = 0

    def log(self, what: str) -> None:
        """One log line when the official quirks changed anything."""
        if self.dropped or self.extra_map_pixels:
            log.warning("%s: FCN-8s predicted its 20th map on %d pixels; fast_hist dropped %d of %d frames (%s), as "
                        "the official script does", what, self.extra_map_pixels, len(self.dropped), self.frames,
                        ", ".join(map(str, self.dropped[:5])) or "none")


@dataclass(frozen=True)
class Scorer:
    """How one direction's frames are counted and what its rows say about the judge.

    Attributes:
        count: The counter (``harness.protocols.fcn_counting``).
        provenance: Judge keys for the rows' protocol string.
        comparable: The rows' ``comparable_to_paper`` value.
        tally: The FCN-8s counting record (dropped frames), or None for the other counters.
    """

    count: Count
    provenance: dict[str, str]
    comparable: str = "no (retrained judge, embedded task)"
    tally: Fcn8sTally | None = None


def fcn8s_scorer(fcn: Fcn8sJudge, num_classes: int) -> Scorer:
    """The papers' FCN-8s, counted by the official ``fast_hist``."""
    tally = Fcn8sTally()
    keys = fcn.provenance()
    comparable = keys.pop("comparable_to_paper")
    return Scorer(fcn8s_counter(fcn, num_classes, tally), {**keys, "fast_hist": FAST_HIST}, comparable, tally)


def judge_counter(judge: torch.nn.Module, device: torch.device, num_classes: int) -> Count:
    """The harness segmenter at its input size, class scores resized to the label maps' size."""

    @torch.no_grad()
    def count(hist: torch.Tensor, images: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
        judge.eval()
        logits = judge(images.to(device))
        if tuple(logits.shape[2:]) != tuple(truth.shape[1:]):
            logits = F.interpolate(logits, size=tuple(truth.shape[1:]), mode="bilinear", align_corners=False)
        return fcn_confusion_update(hist, logits.argmax(dim=1).cpu(), truth, num_classes)

    return count


def colour_counter(palette: torch.Tensor, num_classes: int) -> Count:
    """Nearest palette colour at the output's size, then nearest-neighbour resized to the label maps' size."""

    def count(hist: torch.Tensor, images: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
        ids = colors_to_train_ids(images, palette)
        if tuple(ids.shape[1:]) != tuple(truth.shape[1:]):
            ids = F.interpolate(ids[:, None].double(), size=tuple(truth.shape[1:]), mode="nearest")[:, 0].long()
        return fcn_confusion_update(hist, ids, truth, num_classes)

    return count


def fcn8s_counter(judge: Fcn8sJudge, num_classes: int, tally: Fcn8sTally) -> Count:
    """The papers' FCN-8s, one frame at a time at its label map's size, counted by the official ``fast_hist``."""

    def count(hist: torch.Tensor, images: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
        frames = to_uint8(images).permute(0, 2, 3, 1).numpy()
        for image, target in zip(frames, truth, strict=True):
            pred = segment(judge, image, tuple(target.shape))
            tally.extra_map_pixels += int((pred >= num_classes).sum())
            hist, dropped = official_frame_update(hist, pred, target, num_classes)
            if dropped:
                tally.dropped.append(tally.frames)
            tally.frames += 1
        return hist

    return count
