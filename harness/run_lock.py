"""The lock of an existing run, held by every command that reads or writes it (``report``, ``baseline``, ``study``).

``suite``, ``train`` and ``evaluate --run`` take the same lock in ``RunDir.start``; this is the rest: a command on
an existing run holds its ``flock`` for as long as it works on it, so none reads or writes a run that another process
is writing, and its log lines also go to the run's ``harness.log``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from harness.rundir import RunDir


def run_folder_of(path: Path) -> Path | None:
    """The run directory ``path`` is or lies inside (the nearest with config.json and manifest.json), or None."""
    for folder in (Path(path).resolve(), *Path(path).resolve().parents):
        if (folder / "config.json").is_file() and (folder / "manifest.json").is_file():
            return folder
    return None


@contextlib.contextmanager
def locked_run(path: Path, option: str = "--run") -> Iterator[RunDir | None]:
    """Holds the run that ``path`` is or lies in while a command reads or writes it; yields it (None: no run there).

    Raises:
        HarnessError: Another harness process holds the run (its pid named), or the run cannot be locked.
    """
    folder = run_folder_of(path)
    if folder is None:
        yield None
        return
    run = RunDir(folder)
    run.take_lock(option, wait="wait for it to finish, then run this command again")
    try:
        yield run
    finally:
        run.close()
