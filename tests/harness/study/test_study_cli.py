"""``study`` command-line errors: one clear line, exit 2, nothing written."""

import json

import pytest

from harness.run import main


@pytest.fixture
def empty_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"profile": "smoke"}))
    (run / "manifest.json").write_text(json.dumps({"jobs": {}}))
    return run


@pytest.mark.parametrize("argv, message", [
    (["study", "simulate", "--run", "nowhere"], "no config.json/manifest.json there"),
    (["study", "simulate", "--run", "{run}", "--set", "gan.steps=3"], "study commands take study.* keys only"),
    (["study", "simulate", "--run", "{run}", "--set", "study.amt.n_participants=many"], "n_participants"),
    (["study", "simulate", "--run", "{run}"], "no trained model jobs to show in a study"),
    (["study", "export", "--protocol", "amt", "--run", "{run}", "--out", "{run}/kit"], "no trained model jobs"),
    (["study", "simulate", "--run", "{run}", "--calibrated", "--set", "study.seed=1"], "run `study calibrate"),
    # options are range-checked like suite's, before anything is read or written
    (["study", "simulate", "--run", "{run}", "--set", "study.amt.n_participants=0"],
     "study.amt.n_participants=0 is out of range; expected 2 <= value"),
    (["study", "simulate", "--run", "{run}", "--set", "study.mos.n_raters=-3"], "study.mos.n_raters=-3"),
    (["study", "export", "--protocol", "mos", "--run", "{run}", "--out", "{run}/kit", "--set",
      "study.stats.alpha=2"], "study.stats.alpha=2"),
    (["study", "calibrate", "--run", "{run}", "--free-amt", "bogus"], "--free-amt 'bogus': cannot fit 'bogus'"),
    (["study", "calibrate", "--run", "{run}", "--free-mos", "noise,noise"], "named twice"),
    (["study", "calibrate", "--run", "{run}", "--free-amt", ""], "--free-amt ''"),
])
def test_study_errors_exit_2(empty_run, capsys, argv, message):
    argv = [a.replace("{run}", str(empty_run)) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert sorted(p.name for p in empty_run.iterdir() if p.name != ".lock") == ["config.json", "manifest.json"]


def test_study_config_keys_are_listed(capsys):
    assert main(["list", "config"]) == 0
    out = capsys.readouterr().out
    for key in ("study.amt.n_participants = 50", "study.amt.n_practice = 10", "study.amt.n_trials = 40",
                "study.amt.exposure_ms = 1000", "study.best_of.n_participants = 146", "study.mos.n_raters = 26",
                "study.amt_observer.link = 'probit'", "study.simulate = True"):
        assert key in out, key


def test_calibrated_observers_replace_the_priors(tmp_path):
    import dataclasses

    from harness.study.calibrate import calibrated_config
    from harness.study.config import StudyConfig

    fitted = dataclasses.asdict(dataclasses.replace(StudyConfig().amt_observer, noise=0.37, lapse=0.01))
    (tmp_path / "calibration.json").write_text(json.dumps({"amt": {"params": fitted, "free": ["noise", "lapse"]}}))
    cfg = calibrated_config(StudyConfig(), tmp_path / "calibration.json")
    assert (cfg.amt_observer.noise, cfg.amt_observer.lapse) == (0.37, 0.01)
    assert cfg.mos_observer == StudyConfig().mos_observer  # no MOS fit: the prior stays
