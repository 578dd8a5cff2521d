"""Reference sets: made from a small run here, then shown beside a plugin trained alone — or refused, with why.

Self-contained: the module makes its own reference run (pix2pix and CycleGAN on tiny scenes, 2 seeds, 4 steps) and
its set; only the last test reads the committed sets (and skips, saying so, while none is committed).
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest
import torch

from harness.core.results import REFERENCE_SET_KEY
from harness.data.pins import DATA_SHA256
from harness.reference_sets import committed_dir, load_set
from harness.run import main

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("no_plugins")]
COMMITTED = ("pix2pix (committed)", "cyclegan (committed)")


@pytest.fixture(scope="module")
def made(tmp_path_factory, scene_args):
    """``(reference run, folder of sets, tiny run args)``; the module shares one cache."""
    root = tmp_path_factory.mktemp("reference-sets")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HARNESS_CACHE_DIR", str(root / "cache"))
        args = [*scene_args("study.simulate=false"), "--no-progress", "--tasks", "scenes"]
        run, sets = root / "references-run", root / "sets"
        assert main(["suite", "--models", "pix2pix,cyclegan", "--seeds", "0,1", "--out", str(run), *args]) == 0
        assert main(["references", "make", "--run", str(run), "--out", str(sets)]) == 0
        yield run, sets, args


def _plugin_run(example_path, out, args, *extra: str) -> list[str]:
    return ["suite", "--plugin", str(example_path), "--models", "pix2pix_lsgan", "--out", str(out), *args, *extra]


def test_make_writes_the_run_s_rows_manifest_data_hash_and_protocols(made, tmp_path, capsys):
    run, sets, _ = made
    data = load_set(sets / "smoke" / "scenes.json")
    manifest = json.loads((run / "manifest.json").read_text())
    assert data["reference_set"] == f"smoke/scenes@{manifest['git_commit'][:12]}"
    assert data["data_sha256"] == manifest["tasks"]["scenes"]["sha256"]
    assert {m: e["seeds"] for m, e in data["models"].items()} == {"pix2pix": [0, 1], "cyclegan": [0, 1]}
    assert data["models"]["pix2pix"]["config"]["steps"] == 4 and data["models"]["cyclegan"]["setting"] == "unpaired"
    made_from = data["made_from"]
    assert made_from["git_commit"] == manifest["git_commit"] and made_from["hardware"]["cpu_count"]
    assert set(made_from["jobs"]) == {f"{m}__scenes__s{s}" for m in ("pix2pix", "cyclegan") for s in (0, 1)}
    assert all(job["wall_time_s"] > 0 and job["device"] == "cpu" for job in made_from["jobs"].values())
    kind = f"({torch.backends.cpu.get_cpu_capability()})"  # each job's CPU kind: its numbers are a draw on that kind
    assert all(job["cpu"].endswith(kind) for job in made_from["jobs"].values()) and made_from["hardware"]["cpu"]
    evaluation = data["evaluation"]["fcn_scenes"]
    assert evaluation["reference"] == "ground_truth" and "judge_sha256=" in evaluation["metrics"]["photo_fid"]
    ours = pd.read_csv(run / "metrics.csv", keep_default_na=False)
    trained = ours[ours["model"].isin(["pix2pix", "cyclegan"])]
    rows = pd.DataFrame(data["rows"])
    assert len(rows) == len(trained) and set(rows["model"]) == set(COMMITTED)
    assert rows["protocol"].str.endswith(f"; {REFERENCE_SET_KEY}={data['reference_set']}").all()
    assert sorted(rows["value"]) == sorted(trained["value"].astype(float))
    assert main(["references", "list", "--references", str(sets)]) == 0
    assert "smoke/scenes: smoke/scenes@" in capsys.readouterr().out

    broken = tmp_path / "unfinished"  # a run with a planned job that has no results is not a reference
    shutil.copytree(run, broken)
    (broken / "jobs" / "cyclegan__scenes__s1" / "rows.json").unlink()
    assert main(["references", "make", "--run", str(broken), "--out", str(tmp_path / "out")]) == 2
    assert "cyclegan__scenes__s1" in capsys.readouterr().err and not (tmp_path / "out").exists()


def test_a_plugin_alone_is_compared_with_the_committed_rows(made, example_path, tmp_path, capsys):
    run, sets, args = made
    out = tmp_path / "mine"
    assert main(_plugin_run(example_path, out, args, "--seeds", "0,1", "--references", str(sets))) == 0
    printed = capsys.readouterr().out
    assert "on scenes: the rows of pix2pix, cyclegan marked (committed) were trained elsewhere" in printed
    manifest = json.loads((out / "manifest.json").read_text())
    assert not [j for j in manifest["jobs"] if j.startswith(("pix2pix__", "cyclegan__"))]  # nothing retrained
    metrics = pd.read_csv(out / "metrics.csv", keep_default_na=False)
    reference = pd.read_csv(run / "metrics.csv", keep_default_na=False)
    for model in ("pix2pix", "cyclegan"):
        shown = metrics[metrics["model"] == f"{model} (committed)"].sort_values(["seed", "metric"])
        trained = reference[reference["model"] == model].sort_values(["seed", "metric"])
        assert list(shown["value"]) == list(trained["value"]) and set(shown["seed"]) == {0, 1}
        assert shown["protocol"].str.contains(f"{REFERENCE_SET_KEY}=smoke/scenes@").all()

    summary = (out / "summary.md").read_text()  # every table marks them: the leaderboard...
    board = summary.split("Leaderboard by")[1].split("Every metric")[0]
    assert "| pix2pix (committed) | paired | 2 |" in board and "| pix2pix_lsgan | paired | 2 |" in board
    assert "> Reference set smoke/scenes@" in summary
    pairs = pd.read_csv(out / "comparisons.csv")  # ...the tests between methods, on the committed per-seed values
    test = pairs[(pairs["metric"] == "fcn_labels2photo_pixel_acc")
                 & (pairs[["model_a", "model_b"]].isin(["pix2pix_lsgan", "pix2pix (committed)"]).all(axis=1))]
    assert len(test) == 1 and test["test"].iloc[0].startswith("Welch") and 0 <= test["p"].iloc[0] <= 1
    pvu = pd.read_csv(out / "paired_vs_unpaired.csv")  # ...and paired vs unpaired
    assert set(pvu["model_b"]) == {"cyclegan (committed)"}
    html = (out / "report.html").read_text()
    assert 'class="reference-set"' in html and "<b>pix2pix (committed)</b> (paired)" in html

    baseline = tmp_path / "baseline.json"  # the gate holds the run's own rows only
    assert main(["baseline", "--run", str(out), "--out", str(baseline)]) == 0
    models = {e["model"] for e in json.loads(baseline.read_text())["entries"]}
    assert models == {"pix2pix_lsgan", "ground_truth"}


def _not_shown(out, capsys) -> str:
    printed = capsys.readouterr().out
    metrics = pd.read_csv(out / "metrics.csv", keep_default_na=False)
    assert not metrics["model"].str.endswith("(committed)").any()
    return printed


def test_other_data_shows_no_committed_rows(made, example_path, tmp_path, capsys):
    _, sets, args = made
    out = tmp_path / "mine"
    assert main(_plugin_run(example_path, out, args, "--references", str(sets), "--set", "scenes.n_test=10")) == 0
    printed = _not_shown(out, capsys)
    assert "NOT shown, this run's scenes data (sha256 " in printed and "differs from the set's" in printed


def test_another_evaluation_protocol_shows_no_committed_rows(made, example_path, tmp_path, capsys):
    _, sets, args = made
    edited = tmp_path / "sets"
    shutil.copytree(sets, edited)
    path = edited / "smoke" / "scenes.json"
    data = json.loads(path.read_text())
    metrics = data["evaluation"]["fcn_scenes"]["metrics"]
    metrics["photo_fid"] = metrics["photo_fid"].replace("judge_sha256=", "judge_sha256=0")  # another judge
    path.write_text(json.dumps(data))
    out = tmp_path / "mine"
    assert main(_plugin_run(example_path, out, args, "--references", str(edited))) == 0
    printed = _not_shown(out, capsys)
    assert "the evaluation protocol differs (fcn_scenes, photo_fid: judge_sha256: set '0" in printed


def test_a_model_trained_with_other_settings_is_left_out(made, example_path, tmp_path, capsys):
    _, sets, args = made
    out = tmp_path / "mine"
    assert main(_plugin_run(example_path, out, args, "--references", str(sets), "--set", "cyclegan.steps=6")) == 0
    printed = capsys.readouterr().out
    assert "cyclegan left out: trained with other settings than this run's (cyclegan.steps: set 4, this run 6)" \
        in printed
    models = set(pd.read_csv(out / "metrics.csv", keep_default_na=False)["model"])
    assert "pix2pix (committed)" in models and "cyclegan (committed)" not in models


def test_references_without_a_set_are_refused_before_anything_is_written(made, example_path, tmp_path, capsys):
    _, sets, args = made
    out = tmp_path / "mine"
    maps = [a if a != "scenes" else "maps" for a in args]
    assert main(_plugin_run(example_path, out, maps, "--references", str(sets))) == 2
    assert "no reference set for smoke/maps" in capsys.readouterr().err and not out.exists()
    assert main(["suite", "--profile", "paper", "--models", "pix2pix", "--tasks", "cityscapes", "--references",
                 "committed", "--out", str(out)]) == 2
    assert "no reference set for paper/cityscapes" in capsys.readouterr().err and not out.exists()
    assert main(_plugin_run(example_path, out, args, "--references", str(tmp_path / "nowhere"))) == 2
    assert "not a folder" in capsys.readouterr().err and not out.exists()


def test_committed_sets_are_well_formed_and_made_from_the_pinned_data():
    paths = sorted(committed_dir().glob("*/*.json"))
    if not paths:
        pytest.skip("no reference set is committed yet (harness/reference_sets/<profile>/<task>.json): they are made "
                    "with `references make` once the data generators are final")
    for path in paths:
        data = load_set(path)
        assert (data["profile"], data["task"]) == (path.parent.name, path.stem), path
        assert len({tuple(sorted(e["seeds"])) for e in data["models"].values()}) == 1, path  # one seed set
        pinned = DATA_SHA256.get(data["profile"], {}).get(data["task"])  # the default tasks are pinned per profile
        if pinned is not None:
            assert data["data_sha256"] == pinned, f"{path} is stale: regenerate it"
