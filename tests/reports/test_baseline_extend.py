"""``baseline --add-to``: a stored baseline widened with another CPU kind's draws, without its runs."""

import json

import pytest

from harness.core.errors import HarnessError
from reports.baseline import make_baseline, write_baseline
from reports.baseline_extend import extend_baseline
from reports.check import check_run

FID = ("scenes", "pix2pix", "fid")


def _entry(data, key=FID):
    return next(e for e in data["entries"] if (e["task"], e["model"], e["metric"]) == key)


def _as_format_1(path):
    """Rewrites a baseline file as format 1 wrote it: no values, one draws record per run."""
    data = json.loads(path.read_text())
    for entry in data["entries"]:
        del entry["values"]
    data["format"], data["draws"] = 1, [{"run": "old", "seeds": data["seeds"], "cpu": None}]
    path.write_text(json.dumps(data))


def test_adding_a_kind_s_draws_equals_pooling_both_runs(make_fake_run, tmp_path):
    here, there = make_fake_run("here"), make_fake_run("there", shift={FID: 1.5})
    path = tmp_path / "base.json"
    write_baseline([here], path)
    added, pooled = extend_baseline(path, [there]), make_baseline([here, there])
    assert added["draws"] == pooled["draws"] and added["format"] == 2 and added["run"] == "here+there"
    assert [(e["task"], e["model"], e["metric"]) for e in added["entries"]] == [
        (e["task"], e["model"], e["metric"]) for e in pooled["entries"]]
    for mine, theirs in zip(added["entries"], pooled["entries"], strict=True):
        assert mine["values"] == pytest.approx(theirs["values"]) and mine["n_seeds"] == 6 and "prior" not in mine
        assert mine["expected"] == pytest.approx(theirs["expected"])
        assert mine["tolerance"] == pytest.approx(theirs["tolerance"])
    assert _entry(added)["tolerance"] > _entry(make_baseline([here]))["tolerance"]  # the new kind widened FID


def test_a_format_1_baseline_becomes_each_entry_s_prior(make_fake_run, tmp_path):
    here, there = make_fake_run("here"), make_fake_run("there", shift={FID: 40.0})
    path = tmp_path / "old.json"
    write_baseline([here], path)
    _as_format_1(path)
    old = _entry(json.loads(path.read_text()))
    data = extend_baseline(path, [there])
    entry = _entry(data)
    assert entry["prior"] == {"expected": old["expected"], "tolerance": old["tolerance"], "n_seeds": 3}
    assert entry["values"] == pytest.approx([60.0 * 0.99 + 40, 100.0, 60.0 * 1.02 + 40]) and entry["n_seeds"] == 3
    low, high = entry["expected"] - entry["tolerance"], entry["expected"] + entry["tolerance"]
    assert low == pytest.approx(old["expected"] - old["tolerance"])  # the old interval's lower end
    mean = sum(entry["values"]) / 3
    std = (sum((v - mean) ** 2 for v in entry["values"]) / 2) ** 0.5
    assert high == pytest.approx(mean + 3 * std)  # the new draws' upper end
    assert data["prior"] == {"run": "here", "seeds": [0, 1, 2], "format": 1} and len(data["draws"]) == 3
    out = tmp_path / "new.json"
    out.write_text(json.dumps(data))
    assert check_run(here, out).exit_code == 0 and check_run(there, out).exit_code == 0  # both kinds hold
    again = extend_baseline(out, [make_fake_run("third", shift={FID: -3.0})])  # a format-2 file keeps its priors
    assert _entry(again)["prior"] == entry["prior"] and len(again["draws"]) == 6 and again["prior"] == data["prior"]


def test_a_metric_newer_than_the_baseline_gets_null_for_the_stored_draws(make_fake_run, tmp_path):
    path = tmp_path / "base.json"
    write_baseline([make_fake_run("before", drop=FID)], path)
    after = make_fake_run("after", shift={FID: 1.0, ("scenes", "cyclegan", "fid"): 1.0})  # another kind's draws
    entry = _entry(extend_baseline(path, [after]))
    assert entry["values"][:3] == [None] * 3 and entry["n_seeds"] == 3
    assert entry["expected"] == pytest.approx(sum(entry["values"][3:]) / 3)


def test_an_explicit_tolerance_is_kept_when_draws_are_added(make_fake_run, tmp_path):
    path = tmp_path / "base.json"
    write_baseline([make_fake_run("here")], path, tolerance=0.25)
    data = extend_baseline(path, [make_fake_run("there", shift={FID: 30.0})])  # 3 std of these draws would be far wider
    assert data["tolerance"] == 0.25 and {e["tolerance"] for e in data["entries"]} == {0.25}
    assert _entry(data)["expected"] == pytest.approx(sum(_entry(data)["values"]) / 6)
    assert json.loads(path.read_text())["tolerance"] == 0.25
    assert make_baseline([make_fake_run("x")])["tolerance"] is None  # derived from the spread: recorded as null


def test_repeats_another_profile_missing_or_remeasured_metrics_are_refused(make_fake_run, fake_run, tmp_path):
    path = tmp_path / "base.json"
    write_baseline([fake_run], path)
    with pytest.raises(HarnessError, match="seed 0 repeats the draw of run 'run' seed 0 .* value for value"):
        extend_baseline(path, [make_fake_run("same-kind")])
    with pytest.raises(HarnessError, match="profile 'smoke', the runs of 'standard'"):
        extend_baseline(path, [make_fake_run("std", profile="standard", shift={FID: 1.0})])
    with pytest.raises(HarnessError, match="no rows for scenes/pix2pix/fid, which the baseline gates"):
        extend_baseline(path, [make_fake_run("gap", drop=FID, shift={("scenes", "cyclegan", "fid"): 1.0})])
    with pytest.raises(HarnessError, match="measured otherwise .* 'baseline --run' alone"):
        extend_baseline(path, [make_fake_run("proto", protocol_extra="; resize=bilinear")])


def test_the_command_widens_the_committed_file_in_place(make_fake_run, tmp_path, capsys):
    from harness.run import main

    here, there = make_fake_run("here"), make_fake_run("there", shift={FID: 1.5})
    path = tmp_path / "smoke.json"
    assert main(["baseline", "--run", str(here), "--out", str(path)]) == 0
    assert main(["baseline", "--run", str(there), "--add-to", str(path), "--out", str(path)]) == 0
    assert "from 6 draws, seeds [0, 1, 2]" in capsys.readouterr().out
    data = json.loads(path.read_text())
    assert data["run"] == "here+there" and _entry(data)["values"] == pytest.approx(_entry(make_baseline(
        [here, there]))["values"])
    assert main(["check", "--run", str(there), "--baseline", str(path)]) == 0
