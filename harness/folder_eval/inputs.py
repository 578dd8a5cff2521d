"""What ``evaluate`` reads besides images: names matched across folders, label maps, per-file targets, digests.

- **Names**: files are matched by their name without suffix and without the conventional tails that tools append
  (``FRAME_TAILS``: Cityscapes' ``_leftImg8bit`` / ``_gtFine_labelIds`` …, pytorch-CycleGAN-and-pix2pix's
  ``_fake_B`` …), so ``frankfurt_000000_000294_leftImg8bit.png`` meets ``frankfurt_000000_000294_gtFine_labelIds.png``.
  A name on one side only is an error listing the first few of each side.
- **Label maps**: single-channel PNGs of Cityscapes ``labelIds`` (mapped to trainIds by cityscapesScripts' table) or
  ``trainIds`` (0..K-1, 255 = ignore); ``auto`` reads the format from the files' ``_labelIds`` / ``_trainIds`` tails.
  An id outside the table is an error naming the file and the ids.
- **Targets**: a folder per target (``happy/``, ``sad/``) or a CSV of ``file,target``.
- **Digest**: the sha256 over the sorted file names and each file's sha256 — a folder's content, for provenance.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from harness.core.cache import file_sha256
from harness.core.errors import HarnessError
from harness.core.image_files import decode_image
from harness.core.image_folder import ImageFolder, open_image_folder
from harness.data.cityscapes_labels import IGNORE_INDEX, label_ids_to_train_ids

FRAME_TAILS = ("_gtFine_labelIds", "_gtFine_trainIds", "_gtFine_color", "_gtFine_instanceIds", "_labelIds",
               "_trainIds", "_leftImg8bit", "_fake_B", "_fake_A", "_synthesized_image")
LabelFormat = Literal["auto", "labelIds", "trainIds"]
SHOWN = 5


def few(names: list[str]) -> str:
    """The first names of a list, then how many in all."""
    return ", ".join(names[:SHOWN]) + (f", … ({len(names)} in all)" if len(names) > SHOWN else "")


def frame_key(stem: str) -> str:
    """A file name without suffix, less one conventional tail (``FRAME_TAILS``)."""
    for tail in FRAME_TAILS:
        if stem.endswith(tail) and len(stem) > len(tail):
            return stem[: -len(tail)]
    return stem


def keys(folder: ImageFolder) -> list[str]:
    """The matching key of every file, checked to be unique."""
    found = [frame_key(h.path.stem) for h in folder.headers]
    dupes = sorted(k for k, c in Counter(found).items() if c > 1)
    if dupes:
        raise HarnessError(f"{folder.option}: several files share the name {few(dupes)} (without suffix and tail); "
                           "files are matched by name, so each must occur once")
    return found


def match(pred: ImageFolder, other: ImageFolder) -> tuple[ImageFolder, ImageFolder]:
    """``(pred, other)`` with ``other`` reordered so that file i of both has the same key (``frame_key``).

    Raises:
        HarnessError: Duplicate keys, or keys on one side only (the first few of each side are listed).
    """
    pred_keys, other_keys = keys(pred), keys(other)
    index = {k: i for i, k in enumerate(other_keys)}
    only_pred = [k for k in pred_keys if k not in index]
    only_other = sorted(set(other_keys) - set(pred_keys))
    if only_pred or only_other:
        raise HarnessError(
            f"{pred.option} and {other.option} are matched by file name, but {len(only_pred)} {pred.option} name(s) "
            f"have no {other.option} file{': ' + few(only_pred) if only_pred else ''} and {len(only_other)} "
            f"{other.option} name(s) have no {pred.option} file{': ' + few(only_other) if only_other else ''}")
    return pred, replace(other, headers=tuple(other.headers[index[k]] for k in pred_keys))


def _format(folder: ImageFolder, label_format: LabelFormat) -> str:
    if label_format != "auto":
        return label_format
    kinds = {"labelIds" if h.path.stem.endswith("_labelIds") else "trainIds" if h.path.stem.endswith("_trainIds")
             else "?" for h in folder.headers}
    if len(kinds) != 1 or "?" in kinds:
        raise HarnessError(f"{folder.option}: cannot tell labelIds from trainIds by the file names (expected every "
                           "name to end in _labelIds or every one in _trainIds); pass --label-format labelIds|trainIds")
    return kinds.pop()


def read_label_maps(folder: ImageFolder, label_format: LabelFormat, num_classes: int) -> tuple[torch.Tensor, str]:
    """Every label map of ``folder`` as trainIds, uint8 ``(N, H, W)`` (255 = ignore), and the format read.

    Raises:
        HarnessError: Colour images, or ids outside the table (labelIds not in cityscapesScripts' table; trainIds
            other than 0..K-1 and 255), naming the file and the ids.
    """
    if folder.channels != 1:
        colour = [h.path.name for h in folder.headers if h.channels != 1]
        raise HarnessError(f"{folder.option}: expected single-channel label-id maps, but {few(colour)} are colour "
                           "images (a *_color.png?); give *_gtFine_labelIds.png or trainId maps")
    kind = _format(folder, label_format)
    maps = torch.empty(len(folder), *folder.size, dtype=torch.uint8)
    for i, header in enumerate(folder.headers):
        values = decode_image(header, folder.option)[..., 0].astype(np.int64)
        if kind == "labelIds":
            maps[i] = torch.from_numpy(label_ids_to_train_ids(values, str(header.path)))
            continue
        bad = np.unique(values[(values >= num_classes) & (values != IGNORE_INDEX)])
        if bad.size:
            raise HarnessError(f"{header.path}: trainIds {', '.join(map(str, bad[:10].tolist()))} are outside the "
                               f"table (expected 0..{num_classes - 1}, 255 = ignore; labelIds need "
                               "--label-format labelIds)")
        maps[i] = torch.from_numpy(values.astype(np.uint8))
    return maps, kind


def read_targets(pred: Path, targets: Path | None, option: str = "--pred") -> dict[str, ImageFolder]:
    """Target name → its images: the sub-folders of ``pred``, or ``targets`` (a CSV ``file,target``) over ``pred``.

    Raises:
        HarnessError: No sub-folders and no CSV, a malformed CSV, or CSV files missing from ``pred`` (and the
            reverse), each listing the first few; images of several sizes.
    """
    if targets is None:
        folders = sorted(p for p in Path(pred).iterdir() if p.is_dir()) if Path(pred).is_dir() else []
        if not folders:
            raise HarnessError(f"{option} {str(pred)!r}: expected a folder per target (happy/, sad/, …) or --targets "
                               "FILE.csv with columns file,target")
        return {f.name: open_image_folder(f, f"{option} {f.name}/") for f in folders}
    folder = open_image_folder(pred, option)
    on_disk = {h.path.name: h for h in folder.headers}
    try:
        with open(targets, newline="", encoding="utf-8") as handle:
            table = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise HarnessError(f"--targets {str(targets)!r}: cannot read it as CSV ({type(exc).__name__})") from None
    if not table or not {"file", "target"} <= set(table[0]):
        raise HarnessError(f"--targets {str(targets)!r}: expected a header file,target and one row per image")
    listed = [str(row["file"]) for row in table]
    missing, unlisted = [f for f in listed if f not in on_disk], sorted(set(on_disk) - set(listed))
    if missing or unlisted:
        raise HarnessError(f"--targets {str(targets)!r} and {option} must name the same files: {len(missing)} listed "
                           f"file(s) are not in {option}{': ' + few(missing) if missing else ''} and {len(unlisted)} "
                           f"image(s) are not listed{': ' + few(unlisted) if unlisted else ''}")
    groups: dict[str, list] = {}
    for row in table:
        groups.setdefault(str(row["target"]).strip(), []).append(on_disk[str(row["file"])])
    return {target: replace(folder, headers=tuple(headers)) for target, headers in groups.items()}


def folder_digest(files: list[Path]) -> str:
    """sha256 over the sorted ``name:sha256`` lines of ``files`` (their content, independent of where they lie)."""
    digest = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.name):
        digest.update(f"{path.name}:{file_sha256(path)}\n".encode())
    return digest.hexdigest()
