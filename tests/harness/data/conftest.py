"""Tiny CelebA and RaFD folders in the exact published formats, for loader tests (fixtures ``celeba_dir``,
``rafd_dir``; the writers take a count and an image size)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CELEBA_ATTRIBUTES = ("5_o_Clock_Shadow", "Arched_Eyebrows", "Black_Hair", "Blond_Hair", "Brown_Hair", "Male",
                     "Smiling", "Young")  # a subset of the 40, in release order
RAFD_EXPRESSIONS = ("angry", "contemptuous", "disgusted", "fearful", "happy", "neutral", "sad", "surprised")


def _image(path: Path, width: int, height: int, value: int) -> None:
    rng = np.random.default_rng(value)
    Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).save(path, quality=95)


def write_celeba(root: Path, count: int = 12, size: tuple[int, int] = (178, 218)) -> list[str]:
    """``img_align_celeba/`` + ``list_attr_celeba.txt`` + ``list_eval_partition.txt`` + ``identity_CelebA.txt``."""
    folder = root / "img_align_celeba"
    folder.mkdir(parents=True)
    names = [f"{i + 1:06d}.jpg" for i in range(count)]
    lines = [str(count), " ".join(CELEBA_ATTRIBUTES)]
    for i, name in enumerate(names):
        _image(folder / name, *size, i)
        hair = i % 3
        values = [-1, 1, *(1 if h == hair else -1 for h in range(3)), 1 if i % 2 else -1, -1, 1 if i % 4 < 2 else -1]
        lines.append(f"{name} " + " ".join(f"{v:2d}" for v in values))
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    (root / "list_eval_partition.txt").write_text("".join(f"{n} {0 if i < count - 2 else 2}\n"
                                                          for i, n in enumerate(names)))
    (root / "identity_CelebA.txt").write_text("".join(f"{n} {1 + i % 4}\n" for i, n in enumerate(names)))
    return names


def write_rafd(root: Path, people: int = 2, size: tuple[int, int] = (256, 256)) -> list[str]:
    """RaFD files ``Rafd090_<person>_Caucasian_<sex>_<expression>_<gaze>.jpg`` for every expression, 3 gazes."""
    root.mkdir(parents=True, exist_ok=True)
    names = []
    for person in range(1, people + 1):
        for e, expression in enumerate(RAFD_EXPRESSIONS):
            for gaze in ("frontal", "left", "right"):
                name = f"Rafd090_{person:02d}_Caucasian_{'female' if person % 2 else 'male'}_{expression}_{gaze}.jpg"
                _image(root / name, *size, person * 100 + e)
                names.append(name)
    return names


@pytest.fixture
def celeba_writer():
    """``write_celeba(root, count=12, size=(178, 218))``."""
    return write_celeba


@pytest.fixture
def celeba_dir(tmp_path) -> Path:
    """A 12-image CelebA folder."""
    write_celeba(tmp_path / "celeba")
    return tmp_path / "celeba"


@pytest.fixture
def rafd_dir(tmp_path) -> Path:
    """Two RaFD people, every expression, three gazes (48 images of 256x256)."""
    write_rafd(tmp_path / "rafd")
    return tmp_path / "rafd"
