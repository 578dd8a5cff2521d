"""A user's folder of scenes outputs, scored with FCN-score and put --into a smoke run of pix2pix and CycleGAN.

One tiny run (2 seeds, ``--save-outputs``) serves the module: the saved outputs score the jobs' own numbers through
``evaluate``; a folder per seed joins the run and shows in the leaderboard, rankings, paired-vs-unpaired table and
the gate; bad input leaves the run untouched.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from harness.run import main
from harness.rundir import RunDir

SETS = ("scenes.n_train=24", "scenes.n_val=8", "scenes.n_test=12", "pix2pix.steps=4", "pix2pix.ngf=8",
        "pix2pix.ndf=8", "cyclegan.steps=4", "cyclegan.decay_steps=2", "cyclegan.ngf=8", "cyclegan.ndf=8",
        "cyclegan.n_blocks=1", "cyclegan.batch_size=2", "eval.n_sample_images=4", "eval.judge_steps=30",
        "eval.kid_subset_size=10", "eval.kid_subsets=5", "study.simulate=false")
DIRECTIONS = ("labels2photo", "photo2labels")
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread_module")]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    out = tmp_path_factory.mktemp("runs") / "scenes"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_CACHE_DIR", str(cache))
        argv = ["suite", "--models", "pix2pix,cyclegan", "--tasks", "scenes", "--seeds", "0,1", "--out", str(out),
                "--no-progress", "--save-outputs", "--no-report"]
        for item in SETS:
            argv += ["--set", item]
        assert main(argv) == 0
        yield out


def _metrics(run_dir):
    return pd.read_csv(run_dir / "metrics.csv", keep_default_na=False)


def _fcn(pred, run_dir, direction, *extra):
    return ["evaluate", "--metric", "fcn", "--direction", direction, "--pred", str(pred), "--labels",
            str(run_dir / "outputs" / "scenes" / "_reference" / "trainIds"), "--no-progress", *extra]


def test_saved_outputs_score_the_jobs_own_numbers(run, capsys):
    rows = _metrics(run)
    for model in ("pix2pix", "cyclegan"):
        for seed in (0, 1):
            for direction in DIRECTIONS:
                pred = run / "outputs" / "scenes" / f"{model}__s{seed}" / direction
                assert len(list(pred.glob("*.png"))) == 12
                assert main(_fcn(pred, run, direction, "--context", str(run), "--json")) == 0
                got = json.loads(capsys.readouterr().out)
                job = rows[(rows["model"] == model) & (rows["seed"] == seed)
                           & rows["metric"].str.startswith(f"fcn_{direction}_")]
                assert len(job) == len(got) > 3
                for metric, value in zip(job["metric"], job["value"], strict=True):
                    assert got[metric] == float(value), (model, seed, metric)  # one protocol, one number


def _user_folders(run, root):
    """A "method" per seed: the real test photos with a little seeded noise (better than the smoke models)."""
    photos = run / "outputs" / "scenes" / "_reference" / "inputs" / "photo2labels"
    folders = []
    for seed in (0, 1):
        folder = root / f"mine_s{seed}"
        folder.mkdir(parents=True)
        rng = np.random.default_rng(seed)
        for path in sorted(photos.glob("*.png")):
            image = np.asarray(Image.open(path)).astype(np.int64)
            noisy = np.clip(image + rng.integers(-6, 7, image.shape), 0, 255).astype(np.uint8)
            Image.fromarray(noisy).save(folder / path.name)
        folders.append(folder)
    return folders


def _into(run_dir, pred, seed, *extra, name="mine", setting="paired"):
    return [*_fcn(pred, run_dir, "labels2photo"), "--into", str(run_dir), "--as", name, "--setting", setting,
            "--seed", str(seed), *extra]


def test_folder_joins_leaderboard_rankings_paired_vs_unpaired_and_the_gate(run, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(run, run_dir)
    for seed, folder in enumerate(_user_folders(run, tmp_path)):
        assert main(_into(run_dir, folder, seed)) == 0, capsys.readouterr().err
    rows = _metrics(run_dir)
    mine = rows[rows["model"] == "mine"]
    assert set(mine["seed"]) == {0, 1} and set(mine["setting"]) == {"paired"} and set(mine["task"]) == {"scenes"}
    assert {"fcn_labels2photo_pixel_acc", "fcn_labels2photo_class_iou"} <= set(mine["metric"])
    protocol = mine["protocol"].iloc[0]
    for key in ("outputs_folder=", "outputs_files=12", "outputs_sha256=", "reference_sha256=", "model_train=external",
                "judge_sha256="):
        assert key in protocol, key
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["jobs"]["mine__scenes__s0"]["external"] is True
    assert main(["report", "--run", str(run_dir)]) == 0
    summary = pd.read_csv(run_dir / "summary.csv")
    scenes = summary[summary["task"] == "scenes"].set_index("model")
    assert {"mine", "pix2pix", "cyclegan"} <= set(scenes.index)
    iou = "fcn_labels2photo_class_iou"
    assert scenes.loc["mine", iou] > scenes.loc["pix2pix", iou]  # real photos (noisy) beat 4-step models
    pairs = pd.read_csv(run_dir / "comparisons.csv")
    assert ((pairs["model_a"] == "mine") | (pairs["model_b"] == "mine")).any()
    pvu = pd.read_csv(run_dir / "paired_vs_unpaired.csv")
    row = pvu[(pvu["task"] == "scenes") & (pvu["metric"] == iou)].iloc[0]
    assert {row["model_a"], row["model_b"]} == {"mine", "cyclegan"}
    text = (run_dir / "summary.md").read_text()
    html = (run_dir / "report.html").read_text()
    assert "mine" in text and re.search(r"<td>=?\d+</td><td>mine</td><td>paired</td>", html)  # a leaderboard row
    assert "<td>paired</td><td>mine</td>" in html and "<b>mine</b> (paired)" in html  # paired vs unpaired; ranking
    _in_the_browser(run_dir / "report.html", tmp_path)
    assert main(["baseline", "--run", str(run_dir), "--out", str(tmp_path / "base.json")]) == 0
    assert main(["check", "--run", str(run_dir), "--baseline", str(tmp_path / "base.json")]) == 0
    entries = json.loads((tmp_path / "base.json").read_text())["entries"]
    assert any(e["model"] == "mine" for e in entries)
    argv = ["suite", "--models", "pix2pix,cyclegan", "--tasks", "scenes", "--seeds", "0,1", "--out", str(run_dir),
            "--no-progress", "--resume", "--no-report"]
    assert main([*argv, *(x for item in SETS for x in ("--set", item))]) == 0  # every job done: rebuilds metrics
    assert (_metrics(run_dir)["model"] == "mine").sum() == len(mine)  # the folder's rows stay


def _in_the_browser(report, tmp_path):
    """Headless Chromium (when installed, as in CI) renders the page: "mine" in the scenes leaderboard and the
    paired-vs-unpaired table."""
    if not CHROMIUM.exists():
        return
    probe = ("<script>window.addEventListener('load', function () { var s = Array.prototype.find.call("
             "document.querySelectorAll('section[id^=task-]'), function (x) { return x.querySelector('h2')"
             ".textContent === 'Task: scenes'; }); var cells = function (sel) { return Array.prototype.map.call("
             "s.querySelectorAll(sel + ' td'), function (c) { return c.textContent.trim(); }); };"
             "var p = document.createElement('pre'); p.id = '__probe'; p.textContent = JSON.stringify("
             "{leaderboard: cells('table.leaderboard'), pvu: cells('table.pvu')}); document.body.appendChild(p);"
             "});</script>")
    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text(encoding="utf-8").replace("<head>", "<head>" + probe, 1), encoding="utf-8")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom"]
    dom = subprocess.run([str(CHROMIUM), *flags, probed.as_uri()], capture_output=True, text=True, timeout=90,
                         check=False).stdout
    found = re.search(r'<pre id="__probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    seen = json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    assert "mine" in seen["leaderboard"] and "mine" in seen["pvu"], seen


def _snapshot(run_dir):
    return {str(p.relative_to(run_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(run_dir.rglob("*")) if p.is_file() and p.name != "harness.log"}


def _fails(argv, capsys, *expected):
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for text in expected:
        assert text in err, err


def test_bad_input_exits_2_and_leaves_the_run_untouched(run, tmp_path, capsys):
    run_dir = tmp_path / "run"
    shutil.copytree(run, run_dir)
    (folder, _) = _user_folders(run, tmp_path)
    assert main(_into(run_dir, folder, 0)) == 0
    capsys.readouterr()
    before = _snapshot(run_dir)
    _fails(_into(tmp_path, folder, 0), capsys, "not a run directory")
    _fails(_into(run_dir, folder, 0, name="pix2pix"), capsys, "a model the harness trains has that name")
    _fails(_into(run_dir, folder, 0, name="ground_truth"), capsys, "already a model of run")
    _fails(_into(run_dir, folder, 0), capsys, "already has mine's fcn_labels2photo")
    _fails([a for a in _into(run_dir, folder, 1) if a not in ("--setting", "paired")], capsys, "needs --setting")
    renamed = tmp_path / "renamed"
    shutil.copytree(folder, renamed)
    (renamed / "00003.png").rename(renamed / "frame_x.png")
    _fails(_into(run_dir, renamed, 1), capsys, "matched by file name", "frame_x", "00003")
    grey = tmp_path / "grey"
    grey.mkdir()
    for path in folder.glob("*.png"):
        Image.fromarray(np.asarray(Image.open(path))[..., 0]).save(grey / path.name)
    _fails(_into(run_dir, grey, 1), capsys, "holds grey images")
    bad_labels = tmp_path / "labels"
    shutil.copytree(run / "outputs" / "scenes" / "_reference" / "trainIds", bad_labels)
    first = sorted(bad_labels.glob("*.png"))[0]
    Image.fromarray(np.full((32, 32), 77, np.uint8)).save(first)
    argv = _into(run_dir, folder, 1)
    argv[argv.index("--labels") + 1] = str(bad_labels)
    _fails(argv, capsys, "trainIds 77 are outside the table")
    bad_weights = tmp_path / "t.caffemodel"
    bad_weights.write_bytes(b"\x0a\x05hello\xa2\x06\xff")
    _fails([*_into(run_dir, folder, 1), "--judge", "fcn8s", "--weights", str(bad_weights)], capsys,
           "not a readable caffemodel")
    holder = RunDir(run_dir)
    holder.attach()
    try:
        _fails(_into(run_dir, folder, 1), capsys, "in use by another harness process")
    finally:
        holder.close()
    assert _snapshot(run_dir) == before
    assert main(_into(run_dir, folder, 1)) == 0  # the same folder as another seed is accepted
    photos = run / "outputs" / "scenes" / "_reference" / "inputs" / "photo2labels"
    argv = ["evaluate", "--metric", "psnr", "--pred", str(folder), "--target", str(photos), "--into", str(run_dir),
            "--as", "mine", "--setting", "paired", "--no-progress"]
    assert main(argv) == 0  # an image metric joins the same method's rows
    rows = _metrics(run_dir)
    assert {"psnr", "l1", "fcn_labels2photo_pixel_acc"} <= set(rows.loc[rows["model"] == "mine", "metric"])
