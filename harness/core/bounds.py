"""Declared ranges of config fields: ``Annotated[int, Range(1, 10**8)]``, checked when a config is resolved.

A config dataclass (in any layer) declares what a field accepts in its annotation; ``harness.config.check_config``
walks a resolved config and rejects, with one line naming the dotted key and the accepted range, every value out of
its ``Range``, every choice outside its ``Literal[...]``, every non-finite float and every missing path. The common
ranges have names here so that a field reads ``n_train: Count = 1000``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal


def _show(x: float) -> str:
    return str(x) if isinstance(x, int) else f"{x:g}"


@dataclass(frozen=True)
class Range:
    """The closed interval ``[lo, hi]`` a number must lie in (``None``: unbounded on that side).

    Attributes:
        lo: Lower end.
        hi: Upper end.
        open_lo: Whether ``lo`` itself is excluded.
        open_hi: Whether ``hi`` itself is excluded.
    """

    lo: float | None = None
    hi: float | None = None
    open_lo: bool = False
    open_hi: bool = False

    def accepts(self, value: float) -> bool:
        """Whether ``value`` is finite and inside the interval."""
        if not math.isfinite(value):
            return False
        above = self.lo is None or (value > self.lo if self.open_lo else value >= self.lo)
        below = self.hi is None or (value < self.hi if self.open_hi else value <= self.hi)
        return above and below

    def describe(self) -> str:
        """``"1 <= value <= 100000000"``-style text for error messages."""
        lo = "" if self.lo is None else f"{_show(self.lo)} {'<' if self.open_lo else '<='} "
        hi = "" if self.hi is None else f" {'<' if self.open_hi else '<='} {_show(self.hi)}"
        return f"{lo}value{hi}" if lo or hi else "a finite value"


@dataclass(frozen=True)
class PathTo:
    """A string field naming an existing file or folder; the empty string means "not used".

    Attributes:
        kind: ``"file"`` or ``"dir"``.
    """

    kind: Literal["file", "dir"]

    def problem(self, value: str) -> str | None:
        """``None`` when ``value`` is empty or an existing ``kind``, else what is wrong."""
        if not value:
            return None
        path = Path(value).expanduser()
        if not path.exists():
            return "does not exist"
        if self.kind == "file" and not path.is_file():
            return "is not a file"
        if self.kind == "dir" and not path.is_dir():
            return "is not a folder"
        return None


# Named ranges. Upper bounds keep a typo (an extra zero or three) from exhausting memory or running for days; they
# are far above every profile's value, the paper profile included.
Count = Annotated[int, Range(0, 1_000_000)]  # number of images of a split (0 allowed where a split may be empty)
PositiveCount = Annotated[int, Range(1, 1_000_000)]  # a count that must be at least one (samples, subsets)
BatchSize = Annotated[int, Range(1, 65_536)]
Steps = Annotated[int, Range(1, 100_000_000)]  # optimisation steps or step intervals
ImageSide = Annotated[int, Range(16, 1024)]  # side length in pixels of a generated image (paper: 256)
Seed = Annotated[int, Range(0, 2**32 - 1)]  # numpy accepts seeds in 0..2**32-1
Probability = Annotated[float, Range(0.0, 1.0)]
NonNegative = Annotated[float, Range(0.0, 1e6)]  # loss weights and similar factors
LearningRate = Annotated[float, Range(0.0, 10.0, open_lo=True)]
AdamBeta = Annotated[float, Range(0.0, 1.0, open_hi=True)]  # torch.optim.Adam needs 0 <= beta < 1
FilePath = Annotated[str, PathTo("file")]
DirPath = Annotated[str, PathTo("dir")]
