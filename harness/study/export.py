"""``study export``: a self-contained static study for real participants (HTML + images + trial manifest).

The folder holds ``study.html`` (one page, no external resources: open it from disk or host it anywhere; a
session is picked with ``?session=ID&participant=ID``), ``images/`` (PNG), ``trials.csv`` (the trial manifest,
``metrics.human_study.design.TRIAL_COLUMNS``), ``study.json`` (protocol, parameters, seed, source run) and
``README.txt``. The page shows each trial as the protocol says (AMT: both images for ``exposure_ms``, then hidden,
practice trials with feedback; best-of: input and options until answered; MOS: calibration anchors first) and at
the end offers the answers as ``ratings.csv`` (``participant,session,trial_id,response,rt_ms``), which
``study import`` reads. The answers of scored trials are not in the page, only in ``trials.csv``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import jinja2
import pandas as pd

from harness.core import atomic
from harness.core.csv_files import write_csv
from harness.core.errors import HarnessError
from harness.core.images import save_image
from harness.study.collect import StudyMaterial
from harness.study.config import StudyConfig
from harness.study.simulate import design
from metrics.human_study.protocols import MOS_MAX, MOS_MIN

TEMPLATES = Path(__file__).parent / "templates"
TEXT = {  # protocol -> (title, instructions, prompt, choice button label)
    "amt": ("Real or fake?",
            "Each trial shows two images for one second. One is a real image, the other was made by an algorithm. "
            "After they disappear, click the one you think was REAL. Take as long as you like to answer. The "
            "first trials are practice and tell you whether you were right.",
            "Which image was real?", "This one was real"),
    "best_of": ("Which result is best?",
                "Each question shows an input image and several results made from it, in random order. Pick the "
                "best one: the most realistic, the best translation of the input, the most faithful to its content.",
                "Which result is best?", "Best"),
    "mos": ("Rate image quality",
            f"Rate the quality of each image from {MOS_MIN} (bad) to {MOS_MAX} (excellent). The first images show "
            f"what a {MOS_MIN} and a {MOS_MAX} look like.",
            f"How good is this image? {MOS_MIN} (bad) to {MOS_MAX} (excellent)", ""),
}


def image_file(key: str) -> str:
    """The relative file of an image key (``task/condition/.../0003`` -> ``images/task__condition__...__0003.png``)."""
    return "images/" + key.replace("/", "__") + ".png"


def _page_data(protocol: str, trials: pd.DataFrame, cfg: StudyConfig) -> dict[str, object]:
    sessions: dict[str, list[dict[str, object]]] = {}
    for t in trials.sort_values(["session", "order"], kind="stable").itertuples():
        shown_answer = int(t.answer) if t.kind in ("practice", "calibration") else 0  # scored answers stay out
        sessions.setdefault(t.session, []).append({
            "id": t.trial_id, "kind": t.kind, "images": [image_file(k) for k in t.images.split("|")],
            "input": image_file(t.input) if t.input else "", "answer": shown_answer})
    exposure = {"amt": cfg.amt.exposure_ms, "best_of": cfg.best_of.exposure_ms, "mos": cfg.mos.exposure_ms}[protocol]
    return {"protocol": protocol, "exposure_ms": exposure, "prompt": TEXT[protocol][2],
            "choice_label": TEXT[protocol][3], "scale": [MOS_MIN, MOS_MAX], "sessions": sessions}


def render_page(protocol: str, trials: pd.DataFrame, cfg: StudyConfig) -> str:
    """The HTML of ``study.html`` (data embedded as JSON with ``<``, ``>``, ``&`` escaped)."""
    data = json.dumps(_page_data(protocol, trials, cfg), separators=(",", ":"))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    display = {"amt": cfg.amt.display_px, "best_of": cfg.best_of.display_px, "mos": cfg.mos.display_px}[protocol]
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined)
    title, instructions = TEXT[protocol][:2]
    return env.get_template("study.html").render(title=title, instructions=instructions, display_px=display,
                                                 data_json=data)


def export_study(material: StudyMaterial, cfg: StudyConfig, protocol: str, out: Path, run_dir: Path) -> Path:
    """Writes the study folder ``out`` (which must not exist or be empty); returns ``out / "study.html"``.

    The folder is written whole or not at all: everything goes into a hidden folder beside ``out``, which is renamed
    to ``out`` at the end and removed if anything fails (a full disk, an interruption).

    Raises:
        HarnessError: ``out`` is a file or holds files, or no condition of the run fits the protocol.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise HarnessError(f"--out {str(out)!r} is {'a file' if not out.is_dir() else 'not empty'}; choose a new "
                           "folder for the study")
    frames = [design(pool, protocol, cfg) for pool in material.pools]
    frames = [f for f in frames if not f.empty]
    if not frames:
        raise HarnessError(f"--protocol {protocol}: no condition of the run has what it needs (best-of needs two "
                           "methods translating the same direction)")
    trials = pd.concat(frames, ignore_index=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        _write_study(material, cfg, protocol, trials, staging, run_dir)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(staging, 0o777 & ~mask)  # mkdtemp's 0o700 would hide the study from the web server that hosts it
        if out.exists():
            out.rmdir()  # empty (checked above)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out / "study.html"


def _write_study(material: StudyMaterial, cfg: StudyConfig, protocol: str, trials: pd.DataFrame, out: Path,
                 run_dir: Path) -> None:
    """Every file of the study folder, into ``out``."""
    (out / "images").mkdir(parents=True, exist_ok=True)
    keys = {k for col in ("images", "input") for cell in trials[col] if cell for k in cell.split("|")}
    for key in sorted(keys):
        save_image(material.images[key].float() / 255.0, out / image_file(key))
    write_csv(out / "trials.csv", trials)
    meta = {"protocol": protocol, "study": dataclasses.asdict(cfg), "run": str(run_dir),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "n_sessions": int(trials["session"].nunique()),
            "n_trials": len(trials), "conditions": sorted({p.tag for p in material.pools})}
    atomic.write_json(out / "study.json", meta)
    atomic.write_text(out / "study.html", render_page(protocol, trials, cfg))
    atomic.write_text(out / "README.txt", _readme(protocol, meta))


def _readme(protocol: str, meta: dict[str, object]) -> str:
    return (f"Human study ({protocol}) exported by the harness from run {meta['run']}.\n\n"
            "Host this folder anywhere (or open study.html from disk). Give each participant one session:\n"
            "  study.html?session=SESSION_ID&participant=PARTICIPANT_ID\n"
            f"Sessions ({meta['n_sessions']}) are listed in trials.csv (column session). Each participant does one "
            "session only.\nAt the end the page shows the answers as ratings.csv; collect them all into one CSV "
            "(one header line) and run\n  python -m harness.run study import --ratings ratings.csv --study "
            "THIS_FOLDER\n")
