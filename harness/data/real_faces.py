"""Real CelebA and RaFD in their published formats, as StarGAN's data loaders read them (``--tasks celeba|rafd``).

CelebA (``root/``): ``img_align_celeba/*.jpg`` (178x218), ``list_attr_celeba.txt`` (image count, the 40 attribute
names, then ``<file> <±1 x 40>``), ``list_eval_partition.txt`` (``<file> <0|1|2>``) and ``identity_CelebA.txt``
(``<file> <person>``). As ``yunjey/stargan`` ``data_loader.CelebA``: the attribute lines are shuffled with
``random.seed(1234)`` and lines whose 1-based index is below ``celeba_test_size`` (2000) are the test set — 1,999
images, the code's off-by-one — the rest train; each image is centre-cropped to 178x178 and resized to 128
(bilinear). The partition and identity files must list exactly the attribute file's images (they carry the people;
the StarGAN split ignores the partition, as the official code does).

RaFD (``root/``, any folder depth): files named as the RaFD release, ``Rafd090_01_Caucasian_female_angry_frontal.jpg``
= camera angle, person, ethnicity, sex, expression, gaze. StarGAN's guideline (``jpg/RaFD.md``): split 90 % / 10 %,
crop 256x256 with the face centred; the code then centre-crops 256 and resizes to 128. This loader reads the
expression and person from the file name, splits by image (stratified by expression, seeded) and centre-crops
``rafd_crop`` px: crop the originals face-centred to 256 px first, as the guideline asks.

Nothing is downloaded. Bad input is one ``HarnessError``: an attribute not in the attribute file, a RaFD name that
does not parse, a partition or identity file that disagrees with the images, images of different sizes.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
from PIL import Image

from harness.core.bounds import Count, DirPath, PositiveCount, Range, Seed
from harness.core.errors import HarnessError
from harness.core.image_files import IMAGE_SUFFIXES
from harness.core.images import read_image
from harness.core.task import DomainData, Task
from harness.data.face_render import ATTRIBUTES, EXPRESSIONS
from harness.data.faces import FaceSide, TestFraction, faces_meta, rafd_split

CropSide = Annotated[int, Range(16, 4096)]  # centre-crop side in pixels before resizing
RAFD_NAME = re.compile(r"^Rafd(\d{3})_(\d{2})_([A-Za-z]+)_(male|female)_([a-z]+)_(frontal|left|right)$")


@dataclass(frozen=True)
class RealFacesConfig:
    """Where CelebA / RaFD lie and how they are read (defaults: the official StarGAN code)."""

    celeba_root: DirPath = ""  # folder with img_align_celeba/ and the three list files (never downloaded)
    rafd_root: DirPath = ""  # folder (searched recursively) of RaFD images, face-centred 256 px crops
    image_size: FaceSide = 128  # StarGAN image_size
    celeba_crop: CropSide = 178  # StarGAN celeba_crop_size (centre crop before resizing)
    rafd_crop: CropSide = 256  # StarGAN rafd_crop_size
    selected_attrs: tuple[str, ...] = ATTRIBUTES  # StarGAN's selected_attrs
    celeba_test_size: PositiveCount = 2000  # lines with 1-based index < this go to test (official: 1,999 images)
    celeba_max_train: Count = 0  # read at most this many training images (0 = all 200,600)
    rafd_test_fraction: TestFraction = 0.1  # StarGAN's RaFD split: 90 % / 10 % by image
    seed: Seed = 0  # seed of the RaFD split


def _listed(path: Path, what: str) -> list[list[str]]:
    """The whitespace-separated fields of each non-empty line of a CelebA list file (ASCII, as released)."""
    if not path.is_file():
        raise HarnessError(f"CelebA: {what} {str(path)!r} not found (expected the file from the CelebA release)")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise HarnessError(f"CelebA: {what} {str(path)!r} line {line}: byte 0x{data[exc.start]:02x} is not UTF-8 "
                           "text; expected the CelebA release's ASCII file (re-save it as UTF-8)") from None
    return [line.split() for line in text.splitlines() if line.strip()]


def _identities(path: Path) -> dict[str, int]:
    """``<file> <integer person id>`` per line of ``identity_CelebA.txt``."""
    person = {}
    for number, fields in enumerate(_listed(path, "identity file"), 1):
        if len(fields) != 2 or not re.fullmatch(r"[0-9]+", fields[1]):
            raise HarnessError(f"CelebA: identity file {str(path)!r} entry {number}: expected '<file> <integer "
                               f"person id>', got {' '.join(fields)!r}")
        if fields[0] in person:
            raise HarnessError(f"CelebA: identity file {str(path)!r} entry {number}: {fields[0]!r} is listed twice")
        person[fields[0]] = int(fields[1])
    return person


def _check_same(kind: str, names: list[str], expected: set[str], path: Path) -> None:
    found = set(names)
    if found != expected or len(names) != len(found):
        extra, missing = sorted(found - expected)[:3], sorted(expected - found)[:3]
        raise HarnessError(f"CelebA: {str(path)!r} disagrees with list_attr_celeba.txt/img_align_celeba: {kind} lists "
                           f"{len(names)} entries; not among the images: {extra}; images it misses: {missing}")


def _crop_resize(path: Path, crop: int, size: int, expected: tuple[int, int] | None) -> tuple[np.ndarray, tuple]:
    image = read_image(path, mode="RGB")
    shape = image.shape[:2]
    if expected is not None and shape != expected:
        raise HarnessError(f"face images of mixed sizes: {str(path)!r} is {shape[1]}x{shape[0]}, others are "
                           f"{expected[1]}x{expected[0]}; every image of a dataset must have one size")
    if min(shape) < crop:
        raise HarnessError(f"{str(path)!r} is {shape[1]}x{shape[0]}, smaller than the {crop} px centre crop")
    top, left = int(round((shape[0] - crop) / 2)), int(round((shape[1] - crop) / 2))  # torchvision CenterCrop
    cropped = Image.fromarray(image[top: top + crop, left: left + crop])
    return np.asarray(cropped.resize((size, size), Image.Resampling.BILINEAR)), shape


def _stack(paths: list[Path], crop: int, size: int) -> torch.Tensor:
    arrays, expected = [], None
    for path in paths:
        array, expected = _crop_resize(path, crop, size, expected)
        arrays.append(array)
    if not arrays:
        return torch.zeros(0, 3, size, size, dtype=torch.uint8)
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()


def celeba_records(config: RealFacesConfig) -> tuple[list[tuple[str, list[float], int]], list[int]]:
    """``(records, test flags)``: per image in the official shuffled order, its file, selected labels and person."""
    root = Path(config.celeba_root)
    attr_path = root / "list_attr_celeba.txt"
    lines = _listed(attr_path, "attribute file")
    if len(lines) < 3:
        raise HarnessError(f"CelebA: {str(attr_path)!r} must hold a count line, the attribute names and image lines")
    names = lines[1]
    missing = [a for a in config.selected_attrs if a not in names]
    if missing:
        raise HarnessError(f"faces_real.selected_attrs: {missing} not in {str(attr_path)!r}; valid: {', '.join(names)}")
    columns = [names.index(a) for a in config.selected_attrs]
    rows = lines[2:]
    files = [r[0] for r in rows]
    if any(len(r) != len(names) + 1 for r in rows):
        raise HarnessError(f"CelebA: {str(attr_path)!r}: every image line needs a file name and {len(names)} values")
    if bad := next((r for r in rows if not set(r[1:]) <= {"1", "-1"}), None):
        raise HarnessError(f"CelebA: {str(attr_path)!r}: image {bad[0]!r} has values other than 1 and -1 "
                           f"({', '.join(sorted(set(bad[1:]) - {'1', '-1'}))}); expected 1 or -1 for each attribute")
    folder = root / "img_align_celeba"
    if not folder.is_dir():
        raise HarnessError(f"CelebA: image folder {str(folder)!r} not found")
    on_disk = {p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    _check_same("list_attr_celeba.txt", files, on_disk, attr_path)
    partition = _listed(root / "list_eval_partition.txt", "partition file")
    _check_same("the partition file", [r[0] for r in partition], on_disk, root / "list_eval_partition.txt")
    person = _identities(root / "identity_CelebA.txt")
    _check_same("the identity file", list(person), on_disk, root / "identity_CelebA.txt")
    records = [(r[0], [float(r[1 + c] == "1") for c in columns], person[r[0]]) for r in rows]
    random.Random(1234).shuffle(records)  # data_loader.CelebA.preprocess: random.seed(1234); random.shuffle(lines)
    return records, [int(i + 1 < config.celeba_test_size) for i in range(len(records))]


def _celeba_split(config: RealFacesConfig, records: list, test: list[int], want: int) -> DomainData:
    chosen = [r for r, t in zip(records, test, strict=True) if t == want]
    if want == 0 and config.celeba_max_train:
        chosen = chosen[: config.celeba_max_train]
    folder = Path(config.celeba_root) / "img_align_celeba"
    images = _stack([folder / r[0] for r in chosen], config.celeba_crop, config.image_size)
    return DomainData(images, {"attributes": torch.tensor([r[1] for r in chosen], dtype=torch.float32).reshape(
        len(chosen), len(config.selected_attrs)), "identity": torch.tensor([r[2] for r in chosen], dtype=torch.int64)})


def load_celeba_splits(config: RealFacesConfig) -> dict[str, DomainData]:
    """Train and test ``DomainData`` of CelebA (attributes float (N, A), identity int64)."""
    if not config.celeba_root:
        raise HarnessError("faces_real.celeba_root: set --set faces_real.celeba_root=PATH to a local CelebA "
                           "(img_align_celeba/, list_attr_celeba.txt, list_eval_partition.txt, identity_CelebA.txt)")
    records, test = celeba_records(config)
    splits = {"train": _celeba_split(config, records, test, 0), "test": _celeba_split(config, records, test, 1)}
    if not len(splits["train"]) or not len(splits["test"]):
        raise HarnessError(f"CelebA at {config.celeba_root!r}: {len(records)} images leave an empty split with "
                           f"faces_real.celeba_test_size={config.celeba_test_size}")
    return splits


def parse_rafd_name(path: Path) -> tuple[int, int]:
    """``(person, expression index)`` from a RaFD file name; a name that does not parse is a ``HarnessError``."""
    match = RAFD_NAME.match(path.stem)
    if match is None or match.group(5) not in EXPRESSIONS:
        raise HarnessError(f"RaFD: file name {path.name!r} does not follow the RaFD convention "
                           f"Rafd<angle>_<person>_<ethnicity>_<male|female>_<expression>_<frontal|left|right>.jpg "
                           f"(e.g. Rafd090_01_Caucasian_female_angry_frontal.jpg; expressions: "
                           f"{', '.join(EXPRESSIONS)})")
    return int(match.group(2)), EXPRESSIONS.index(match.group(5))


def load_rafd_splits(config: RealFacesConfig) -> dict[str, DomainData]:
    """Train and test ``DomainData`` of RaFD (expression int64, identity int64 = the RaFD person number)."""
    if not config.rafd_root:
        raise HarnessError("faces_real.rafd_root: set --set faces_real.rafd_root=PATH to a folder of RaFD images")
    root = Path(config.rafd_root)
    if not root.is_dir():
        raise HarnessError(f"RaFD: folder {str(root)!r} does not exist")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise HarnessError(f"RaFD: no images under {str(root)!r}")
    parsed = [parse_rafd_name(p) for p in paths]
    person = np.array([p for p, _ in parsed], dtype=np.int64)
    expression = np.array([e for _, e in parsed], dtype=np.int64)
    test = rafd_split(expression, config.rafd_test_fraction, config.seed)
    images = _stack(paths, config.rafd_crop, config.image_size)
    out = {}
    for split, mask in (("train", ~test), ("test", test)):
        index = torch.from_numpy(np.flatnonzero(mask))
        out[split] = DomainData(images[index], {"expression": torch.from_numpy(expression)[index],
                                                "identity": torch.from_numpy(person)[index]})
    return out


def _task(name: str, config: RealFacesConfig, parts: dict[str, dict[str, DomainData]]) -> Task:
    splits = {split: {ds: parts[ds][split] for ds in parts} for split in ("train", "test")}
    people = max(int(d.labels["identity"].max()) for split in splits.values() for d in split.values()) + 1
    meta = faces_meta(people) | {"attribute_names": tuple(config.selected_attrs)}
    return Task(name=name, domains=tuple(parts), paired=False, label_kinds=("attributes", "expression", "identity"),
                image_size=config.image_size, splits=splits, meta=meta)


def build_celeba(config: RealFacesConfig) -> Task:
    """Real CelebA (StarGAN's split and preprocessing)."""
    return _task("celeba", config, {"celeba": load_celeba_splits(config)})


def build_rafd(config: RealFacesConfig) -> Task:
    """Real RaFD (90/10 by image)."""
    return _task("rafd", config, {"rafd": load_rafd_splits(config)})


def build_celeba_rafd(config: RealFacesConfig) -> Task:
    """Both, for StarGAN's joint training; RaFD people are numbered after CelebA's (no one is in both)."""
    celeba, rafd = load_celeba_splits(config), load_rafd_splits(config)
    offset = max(int(d.labels["identity"].max()) for d in celeba.values()) + 1
    rafd = {split: DomainData(d.images, {"expression": d.labels["expression"],
                                         "identity": d.labels["identity"] + offset}) for split, d in rafd.items()}
    return _task("celeba_rafd", config, {"celeba": celeba, "rafd": rafd})
