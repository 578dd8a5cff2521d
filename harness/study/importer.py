"""``study import``: validate real ratings against an exported study's manifest, then score them.

The tables are the ones the simulation writes (``harness.study.scoring``).

Every problem is a ``HarnessError`` (exit 2) naming the file, the row and what was expected: a missing column, a
trial id not in ``trials.csv``, a session that is not the trial's, a response outside the protocol's range (AMT:
1-2, best-of: 1-N, MOS: 1-5), a participant who answered a trial twice or took part in two sessions (each
participant does one session), or a session left incomplete.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from harness.config import apply_overrides, flatten_dict
from harness.core.csv_files import unescape_frame
from harness.core.errors import HarnessError
from harness.study.config import StudyConfig
from harness.study.scoring import TABLES, score, write_tables
from metrics.human_study.design import TRIAL_COLUMNS
from metrics.human_study.protocols import MOS_MAX, MOS_MIN

REQUIRED = ("participant", "session", "trial_id", "response")
INTEGER = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: str.isdigit() also accepts "²", which int() refuses


def load_study(study_dir: Path) -> tuple[str, StudyConfig, pd.DataFrame]:
    """``(protocol, study config, trial manifest)`` of an exported study folder."""
    meta_path, trials_path = study_dir / "study.json", study_dir / "trials.csv"
    if not meta_path.is_file() or not trials_path.is_file():
        raise HarnessError(f"--study {str(study_dir)!r}: expected an exported study folder with study.json and "
                           "trials.csv (from `study export`)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        cfg = apply_overrides(StudyConfig(), flatten_dict(meta["study"]), source=str(meta_path))
        protocol = str(meta["protocol"])
        trials = unescape_frame(pd.read_csv(trials_path, dtype={"input": str, "trial_id": str, "session": str},
                                            keep_default_na=False))
    except (OSError, ValueError, KeyError) as exc:
        raise HarnessError(f"--study {str(study_dir)!r}: unreadable study.json or trials.csv ({exc})") from exc
    missing = [c for c in TRIAL_COLUMNS if c not in trials.columns]
    if missing:
        raise HarnessError(f"{trials_path}: missing columns {missing}")
    return protocol, cfg, trials


def read_ratings(paths: Sequence[Path]) -> pd.DataFrame:
    """The ratings files concatenated, with ``file`` and ``row`` (1-based line in its file) for messages."""
    frames = []
    for path in paths:
        try:
            frame = unescape_frame(pd.read_csv(path, dtype=str, keep_default_na=False))
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise HarnessError(f"--ratings {str(path)!r}: not a readable CSV ({exc})") from exc
        missing = [c for c in REQUIRED if c not in frame.columns]
        if missing:
            raise HarnessError(f"--ratings {str(path)!r}: missing columns {missing}; expected "
                               "participant,session,trial_id,response[,rt_ms] as the study page writes")
        frames.append(frame.assign(file=str(path), row=range(2, len(frame) + 2)))
    return pd.concat(frames, ignore_index=True)


def _where(rec: pd.Series) -> str:
    return f"{rec['file']} row {rec['row']}"


def validate(ratings: pd.DataFrame, trials: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """Checks ratings against the manifest; returns them with ``response`` as int.

    Raises:
        HarnessError: The first problem found (see the module docstring), naming the file and row.
    """
    by_id = trials.set_index("trial_id")
    for _, rec in ratings.iterrows():
        if rec["trial_id"] not in by_id.index:
            raise HarnessError(f"{_where(rec)}: unknown trial id {rec['trial_id']!r} (not in this study's "
                               "trials.csv)")
        trial = by_id.loc[rec["trial_id"]]
        if rec["session"] != trial["session"]:
            raise HarnessError(f"{_where(rec)}: trial {rec['trial_id']!r} belongs to session {trial['session']!r}, "
                               f"not {rec['session']!r}")
        low, high = (MOS_MIN, MOS_MAX) if protocol == "mos" else (1, len(str(trial["options"]).split("|")))
        text = rec["response"].strip()
        if not INTEGER.fullmatch(text) or not low <= int(text) <= high:
            raise HarnessError(f"{_where(rec)}: response {rec['response']!r} for trial {rec['trial_id']!r} is out "
                               f"of range: expected an integer {low}..{high}")
    twice = ratings[ratings.duplicated(["participant", "trial_id"], keep=False)]
    if len(twice):
        first = twice.iloc[0]
        raise HarnessError(f"{_where(first)}: participant {first['participant']!r} answered trial "
                           f"{first['trial_id']!r} more than once (duplicate participant rows)")
    sessions = ratings.groupby("participant")["session"].nunique()
    if (sessions > 1).any():
        who = sessions[sessions > 1].index[0]
        names = sorted(ratings.loc[ratings["participant"] == who, "session"].unique())
        raise HarnessError(f"--ratings: duplicate participant {who!r} in sessions {', '.join(names[:3])}; the "
                           "protocol allows one session per participant")
    sizes = trials.groupby("session").size()
    answered = ratings.groupby(["participant", "session"]).size()
    for (who, session), count in answered.items():
        if count != sizes[session]:
            raise HarnessError(f"--ratings: participant {who!r} answered {count} of the {sizes[session]} trials of "
                               f"session {session!r}; drop incomplete sessions before importing")
    return ratings.assign(response=ratings["response"].str.strip().astype(int))


def check_out(out: Path, option: str) -> None:
    """Refuses an ``out`` folder that is a file or already holds study tables (an earlier import's).

    Raises:
        HarnessError: Naming the folder, what is in the way and what to do instead; nothing is written.
    """
    if out.exists() and not out.is_dir():
        raise HarnessError(f"{option} {str(out)!r} is a file; choose a folder for the tables")
    earlier = sorted(p.name for p in (out.glob("*.csv") if out.is_dir() else ()) if p.stem in TABLES)
    if earlier:
        raise HarnessError(f"{option} {str(out)!r} already holds the tables of an earlier import ({', '.join(earlier)})"
                           "; nothing was written: pass --out NEW_FOLDER to keep both, or delete those files to "
                           "replace them")


def import_ratings(paths: Sequence[Path], study_dir: Path, out: Path, option: str = "--out"
                   ) -> tuple[dict[str, pd.DataFrame], list[Path]]:
    """Validates and scores ratings of the study in ``study_dir``; writes the tables into ``out``.

    Raises:
        HarnessError: ``out`` is a file or holds an earlier import's tables, or the study or the ratings are bad
            (see ``validate``); nothing is written then.
    """
    check_out(out, option)
    protocol, cfg, trials = load_study(study_dir)
    ratings = validate(read_ratings(paths), trials, protocol)
    tables = score({protocol: (trials, ratings)}, cfg)
    return tables, write_tables(tables, out, simulated=False)
