import json

import pytest

from harness.core.errors import HarnessError
from reports.baseline import make_baseline, write_baseline
from reports.check import check_run, format_check_table


@pytest.fixture
def baseline(fake_run, tmp_path):
    path = tmp_path / "baseline.json"
    write_baseline([fake_run], path)
    return path


def _verdicts(result):
    return {(r.task, r.model, r.metric): r.verdict for r in result.rows}


def test_baseline_records_mean_tolerance_direction_protocol(fake_run):
    data = make_baseline([fake_run])
    entry = next(e for e in data["entries"] if (e["task"], e["model"], e["metric"]) == ("scenes", "pix2pix", "fid"))
    values = [60.0 * 0.99, 60.0, 60.0 * 1.02]
    mean = sum(values) / 3
    std = (sum((v - mean) ** 2 for v in values) / 2) ** 0.5
    assert entry["expected"] == pytest.approx(mean)
    assert entry["tolerance"] == pytest.approx(3 * std)
    assert entry["higher_is_better"] is False and entry["n_seeds"] == 3
    assert entry["protocol"] == "variant=default; impl=harness-0.1"  # seed dropped
    assert data["profile"] == "smoke" and data["seeds"] == [0, 1, 2]
    explicit = make_baseline([fake_run], tolerance=0.5)
    assert {e["tolerance"] for e in explicit["entries"]} == {0.5}


def test_tolerance_floor_for_a_single_seed(make_fake_run):
    data = make_baseline([make_fake_run("one", seeds=(0,))])
    entry = next(e for e in data["entries"] if e["metric"] == "fid" and e["model"] == "pix2pix")
    assert entry["tolerance"] == pytest.approx(0.01 * 60.0 * 0.99)


def test_check_passes_on_the_run_it_was_made_from(fake_run, baseline):
    result = check_run(fake_run, baseline)
    assert result.exit_code == 0 and not result.errors
    assert set(_verdicts(result).values()) == {"ok", "info"}  # info: parzen_se has no direction
    text = format_check_table(result)
    assert "all metrics hold (exit 0)" in text and "baseline" in text.splitlines()[0]


def test_planted_regression_beyond_tolerance_fails(make_fake_run, baseline):
    run = make_fake_run("worse", shift={("scenes", "pix2pix", "fid"): 10.0})  # lower is better: +10 is worse
    result = check_run(run, baseline)
    assert result.exit_code == 1
    verdicts = _verdicts(result)
    assert verdicts[("scenes", "pix2pix", "fid")] == "REGRESSED"
    assert [k for k, v in verdicts.items() if v not in ("ok", "info")] == [("scenes", "pix2pix", "fid")]
    assert "1 metric(s) REGRESSED (exit 1)" in format_check_table(result)


def test_shift_within_tolerance_holds(make_fake_run, baseline):
    run = make_fake_run("close", shift={("scenes", "pix2pix", "fid"): 1.0})  # tolerance is about 2.75
    assert check_run(run, baseline).exit_code == 0


def test_improvement_is_reported_not_failed(make_fake_run, baseline):
    run = make_fake_run("better", shift={("scenes", "pix2pix", "fcn_labels2photo_pixel_acc"): 0.2})
    result = check_run(run, baseline)
    assert result.exit_code == 0
    assert _verdicts(result)[("scenes", "pix2pix", "fcn_labels2photo_pixel_acc")] == "improved"


def test_protocol_mismatch_exits_2_and_names_it(make_fake_run, baseline):
    result = check_run(make_fake_run("proto", protocol_extra="; resize=bilinear"), baseline)
    assert result.exit_code == 2
    assert any("protocol changed" in e and "resize=bilinear" in e for e in result.errors)
    assert "unusable input" in format_check_table(result)


def test_judge_change_is_one_clear_error_not_one_per_metric(make_fake_run, tmp_path):
    pinned = "; judge_sha256=7e0816a9a45b; judge_source=pinned"
    path = tmp_path / "pinned.json"
    write_baseline([make_fake_run("pinned", protocol_extra=pinned)], path)
    same = check_run(make_fake_run("again", protocol_extra=pinned), path)
    assert same.exit_code == 0 and not same.errors
    result = check_run(make_fake_run("local", protocol_extra="; judge_sha256=0123456789ab; judge_source=local"), path)
    assert result.exit_code == 2 and len(result.errors) == 1
    (error,) = result.errors
    assert error.startswith(f"judge changed for {len(result.rows)} metric(s) of task(s) digits, maps, ")
    assert "judge_sha256=7e0816a9a45b; judge_source=pinned" in error and "judge_sha256=0123456789ab" in error
    assert "trained on this machine" in error and "protocol changed" not in error
    assert set(_verdicts(result).values()) == {"JUDGE"}
    # A real protocol change is still a protocol change even when the judge changes too.
    both = check_run(make_fake_run("both", protocol_extra="; resize=x; judge_sha256=0123456789ab"), path)
    assert any("protocol changed" in e for e in both.errors)


def test_machine_dependent_keys_are_not_compared(make_fake_run, tmp_path):
    path = tmp_path / "b.json"
    write_baseline([make_fake_run("here", protocol_extra="; weights_path=/home/a/inception.pth")], path)
    result = check_run(make_fake_run("there", protocol_extra="; weights_path=/opt/b/inception.pth"), path)
    assert result.exit_code == 0 and not result.errors


def test_headline_flag_is_presentation_not_protocol(make_fake_run, tmp_path):
    path = tmp_path / "b.json"
    write_baseline([make_fake_run("before")], path)  # a baseline from before protocols named their headline
    assert check_run(make_fake_run("after", protocol_extra="; headline=fcn_labels2photo_pixel_acc/1"),
                     path).exit_code == 0


def test_profile_mismatch_exits_2(make_fake_run, baseline):
    result = check_run(make_fake_run("prof", profile="standard"), baseline)
    assert result.exit_code == 2
    assert result.errors == ("profile: run has 'standard', baseline has 'smoke'",)


def test_missing_rows_exit_2(make_fake_run, baseline):
    result = check_run(make_fake_run("gap", drop=("scenes", "cyclegan", "fid")), baseline)
    assert result.exit_code == 2
    assert _verdicts(result)[("scenes", "cyclegan", "fid")] == "MISSING"
    assert any("model='cyclegan' metric='fid'" in e for e in result.errors)


def test_informational_metrics_are_not_gated(fake_run, tmp_path):
    data = make_baseline([fake_run])
    for entry in data["entries"]:
        if entry["metric"] == "fid":
            entry["higher_is_better"] = None
            entry["expected"] += 1000.0
    path = tmp_path / "info.json"
    path.write_text(json.dumps(data))
    result = check_run(fake_run, path)
    assert result.exit_code == 0 and "info" in _verdicts(result).values()


def test_unreadable_baseline_is_a_harness_error(fake_run, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text("{}")
    with pytest.raises(HarnessError, match="bad.json"):
        check_run(fake_run, path)
    with pytest.raises(HarnessError, match="--tolerance"):
        make_baseline([fake_run], tolerance=-1.0)


def test_per_class_and_partial_metrics_are_not_gated(tmp_path):
    import pandas as pd

    from harness.core.atomic import write_json
    from harness.core.results import COLUMNS
    from reports.baseline import make_baseline

    run = tmp_path / "run"
    run.mkdir()
    write_json(run / "config.json", {"profile": "smoke", "seeds": [0, 1]})
    rows = []
    for seed in (0, 1):
        for metric in ("fcn_pixel_acc", "fcn_iou[road]"):
            rows.append({"model": "m", "task": "t", "metric": metric, "value": 0.5 + seed / 10, "seed": seed,
                         "split": "test", "n": 10, "higher_is_better": True, "protocol": "p=1"})
    rows.append({"model": "m", "task": "t", "metric": "fcn_iou[bus]", "value": 0.1, "seed": 0, "split": "test",
                 "n": 10, "higher_is_better": True, "protocol": "p=1"})
    pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(run / "metrics.csv", index=False)
    entries = make_baseline([run])["entries"]
    assert [e["metric"] for e in entries] == ["fcn_pixel_acc"]


def test_an_infinite_mean_is_left_out_and_the_run_still_checks(tmp_path):
    # The HR reference of an SR task scores PSNR = inf against itself; a baseline entry must be finite to be read.
    import pandas as pd

    from harness.core.atomic import write_json
    from harness.core.results import COLUMNS

    run = tmp_path / "run"
    run.mkdir()
    write_json(run / "config.json", {"profile": "smoke", "seeds": [0, 1]})
    rows = [{"model": "hr", "task": "sr", "metric": metric, "value": value, "seed": seed, "split": "test", "n": 3,
             "higher_is_better": direction, "protocol": "p=1"}
            for seed in (0, 1) for metric, value, direction in (("y_psnr", float("inf"), True),
                                                                 ("y_psnr_identical", 3.0, None))]
    pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(run / "metrics.csv", index=False)
    path = tmp_path / "baseline.json"
    data = write_baseline([run], path)
    assert [e["metric"] for e in data["entries"]] == ["y_psnr_identical"]
    assert json.loads(path.read_text())["entries"][0]["expected"] == 3.0
    assert check_run(run, path).exit_code == 0


def test_folder_paths_and_output_hashes_are_not_the_protocol():
    from reports.baseline import seed_independent_protocol

    a = "protocol=fcn_score; outputs_folder=/a/s0; outputs_files=12; outputs_sha256=aa; reference_sha256=cc"
    b = "protocol=fcn_score; outputs_folder=/b/s1; outputs_files=12; outputs_sha256=bb; reference_sha256=cc"
    assert seed_independent_protocol(a) == seed_independent_protocol(b) == (
        "protocol=fcn_score; outputs_files=12; reference_sha256=cc")


def test_runs_from_two_cpu_kinds_pool_draw_by_draw(make_fake_run, tmp_path):
    # The same seeds trained on another CPU kind are new draws: here pix2pix's FID came out 1.5 higher there.
    here, there = make_fake_run("here"), make_fake_run("there", shift={("scenes", "pix2pix", "fid"): 1.5})
    data = make_baseline([here, there])
    entry = next(e for e in data["entries"] if (e["task"], e["model"], e["metric"]) == ("scenes", "pix2pix", "fid"))
    draws = [60.0 * 0.99, 60.0, 60.0 * 1.02, 60.0 * 0.99 + 1.5, 61.5, 60.0 * 1.02 + 1.5]
    mean = sum(draws) / 6
    std = (sum((v - mean) ** 2 for v in draws) / 5) ** 0.5
    assert entry["expected"] == pytest.approx(mean) and entry["tolerance"] == pytest.approx(3 * std)
    assert entry["n_seeds"] == 6 and data["run"] == "here+there" and data["seeds"] == [0, 1, 2]
    assert [(d["run"], d["seed"]) for d in data["draws"]] == [("here", 0), ("here", 1), ("here", 2), ("there", 0),
                                                              ("there", 1), ("there", 2)]
    assert entry["values"] == pytest.approx(draws)  # each draw's value, in the draws' order (for baseline --add-to)
    assert make_baseline([here])["entries"][0]["n_seeds"] == 3  # one run: its seeds are the draws, as before
    path = tmp_path / "pooled.json"
    write_baseline([here, there], path)
    assert check_run(here, path).exit_code == 0 and check_run(there, path).exit_code == 0  # each kind holds


def test_a_repeated_draw_a_run_named_twice_or_mixed_profiles_are_refused(make_fake_run, fake_run):
    with pytest.raises(HarnessError, match="seed 0 repeats .* value for value"):
        make_baseline([fake_run, make_fake_run("same-kind")])  # the same seeds on the same kind: identical numbers
    with pytest.raises(HarnessError, match="given twice"):
        make_baseline([fake_run, fake_run.parent / "." / fake_run.name])
    with pytest.raises(HarnessError, match="different profiles.*'standard'"):
        make_baseline([fake_run, make_fake_run("std", profile="standard", shift={("scenes", "cyclegan", "fid"): 1})])
    with pytest.raises(HarnessError, match="seed 1 repeats"):  # a run of a subset of the seeds on the same kind
        make_baseline([make_fake_run("seeds-1-2", seeds=(1, 2)), make_fake_run("seed-1", seeds=(1,))])
    # one metric differing is enough to be another draw (deterministic rows, e.g. real data, are equal on any kind)
    assert make_baseline([fake_run, make_fake_run("other", shift={("scenes", "cyclegan", "fid"): 2.0})])["entries"]
