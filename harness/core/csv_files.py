"""The CSV files the harness writes: atomic, and inert when opened in a spreadsheet.

A spreadsheet evaluates a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or with a tab or carriage return) as a
formula: a model name such as ``=HYPERLINK("http://…")`` in a run's rows would run when ``summary.csv`` is opened
("CSV injection", OWASP). Every CSV the harness writes goes through ``write_csv``, which writes such a text cell with
a single quote in front (OWASP's advice), and also a text cell that itself starts with a quote, so the change can be
undone exactly: ``unescape_frame`` (which every reader of these files applies) removes one leading quote. Numbers,
negative ones included, stay numbers; a text cell that is a plain decimal number (``"-1"``, ``"2.5e-3"``) carries no
formula and is left alone too.

``harness.core`` does not import pandas: the functions take a pandas ``DataFrame`` without naming its type.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness.core.atomic import atomic_path

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet reads as the start of a formula
QUOTE = "'"
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def escape_cell(value: object) -> object:
    """``value`` as written: text starting with a formula character or a quote gets a leading quote."""
    if not isinstance(value, str):
        return value
    if value.startswith(QUOTE) or (value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value)):
        return QUOTE + value
    return value


def unescape_cell(value: object) -> object:
    """The value ``escape_cell`` was given: one leading quote of a text cell removed."""
    return value[1:] if isinstance(value, str) and value.startswith(QUOTE) else value


def _map_text(frame: Any, fn: Any) -> Any:
    """A copy of ``frame`` with ``fn`` applied to its headers and to every cell of its text columns."""
    out = frame.rename(columns=fn)  # a copy
    for index, dtype in enumerate(out.dtypes):
        if str(dtype) in ("object", "string", "str"):  # text columns (pandas < 3: object; 3: str)
            out.isetitem(index, out.iloc[:, index].map(fn))
    return out


def write_csv(path: str | Path, frame: Any) -> None:
    """Atomically writes a pandas ``DataFrame`` as CSV (no index), every text cell and header through ``escape_cell``.

    Raises:
        OSError: The write failed (see ``harness.core.atomic.atomic_path``); the previous file, if any, is kept.
    """
    safe = _map_text(frame, escape_cell)
    with atomic_path(path) as tmp:
        safe.to_csv(tmp, index=False)


def unescape_frame(frame: Any) -> Any:
    """A ``DataFrame`` read from a file ``write_csv`` wrote, with its text cells and headers as they were given."""
    return _map_text(frame, unescape_cell)
