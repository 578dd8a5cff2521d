"""``study import``: a hand-written ratings file gives its hand-computed table; bad files exit 2 with one clear line;
simulated ratings written by ``simulate`` import back into exactly the simulation's tables."""

import json

import pandas as pd
import pytest

from harness.run import main
from harness.study.config import StudyConfig
from harness.study.importer import import_ratings
from harness.study.run_study import _save_ratings
from harness.study.scoring import score
from harness.study.simulate import simulate_responses

TRIALS = """trial_id,protocol,session,order,kind,task,condition,seed,method,item,input,images,options,answer
s1-t000,amt,s1,0,practice,maps,m2a,0,alpha,0,,r0|a0,real|alpha,1
s1-t001,amt,s1,1,scored,maps,m2a,0,alpha,1,,a1|r1,alpha|real,2
s1-t002,amt,s1,2,scored,maps,m2a,0,alpha,2,,r2|a2,real|alpha,1
s2-t000,amt,s2,0,practice,maps,m2a,0,beta,0,,b0|r0,beta|real,2
s2-t001,amt,s2,1,scored,maps,m2a,0,beta,1,,r1|b1,real|beta,1
s2-t002,amt,s2,2,scored,maps,m2a,0,beta,2,,b2|r2,beta|real,2
s3-t000,amt,s3,0,practice,maps,m2a,0,beta,0,,r0|b0,real|beta,1
s3-t001,amt,s3,1,scored,maps,m2a,0,beta,1,,r1|b1,real|beta,1
s3-t002,amt,s3,2,scored,maps,m2a,0,beta,2,,r2|b2,real|beta,1
"""
# p1 (alpha): t001 clicks 1 = the fake (labelled real), t002 clicks 1 = real.  -> alpha 50 %
# p2 (beta): t001 clicks 2 = fake, t002 clicks 1 = fake.                     -> p2 100 %
# p3 (beta): both click 1 = real.                                             -> p3 0 %; beta mean 50 %, SE 50
RATINGS = """participant,session,trial_id,response,rt_ms
p1,s1,s1-t000,2,900
p1,s1,s1-t001,1,850
p1,s1,s1-t002,1,700
p2,s2,s2-t000,1,1200
p2,s2,s2-t001,2,640
p2,s2,s2-t002,1,610
p3,s3,s3-t000,1,1000
p3,s3,s3-t001,1,500
p3,s3,s3-t002,1,520
"""


@pytest.fixture
def study(tmp_path):
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "trials.csv").write_text(TRIALS)
    from dataclasses import asdict

    (folder / "study.json").write_text(json.dumps({"protocol": "amt", "study": asdict(StudyConfig())}))
    return folder


def test_hand_written_ratings_give_the_hand_computed_table(study, tmp_path, capsys):
    ratings = tmp_path / "ratings.csv"
    ratings.write_text(RATINGS)
    out = tmp_path / "o"
    assert main(["study", "import", "--ratings", str(ratings), "--study", str(study), "--out", str(out)]) == 0
    table = pd.read_csv(tmp_path / "o" / "amt.csv").set_index("method")
    assert table.loc["alpha", "pct_real"] == 50.0 and table.loc["alpha", "n_participants"] == 1
    assert table.loc["beta", "pct_real"] == 50.0 and table.loc["beta", "se"] == pytest.approx(50.0)
    assert (table.loc["beta", "n_trials"], bool(table["simulated"].any())) == (4, False)
    tests = pd.read_csv(tmp_path / "o" / "amt_tests.csv")
    assert tests.iloc[0]["diff_pp"] == 0.0 and "amt" in capsys.readouterr().out


@pytest.mark.parametrize("edit, message", [
    (lambda t: t.replace("p1,s1,s1-t002,1", "p1,s1,s1-t099,1"), "row 4: unknown trial id 's1-t099'"),
    (lambda t: t.replace("p2,s2,s2-t001,2", "p2,s2,s2-t001,3"), "row 6: response '3' for trial 's2-t001' is out of "
                                                               "range: expected an integer 1..2"),
    (lambda t: t.replace("p3,s3", "p2,s3"), "duplicate participant 'p2' in sessions s2, s3"),
    (lambda t: t + "p1,s1,s1-t002,2,10\n", "participant 'p1' answered trial 's1-t002' more than once"),
    (lambda t: t.replace("p1,s1,s1-t002,1,700\n", ""), "participant 'p1' answered 2 of the 3 trials of session 's1'"),
    (lambda t: t.replace("participant,", "who,"), "missing columns ['participant']"),
    # str.isdigit() accepts a superscript two, int() does not: one clear line, not an internal error
    (lambda t: t.replace("p2,s2,s2-t001,2", "p2,s2,s2-t001,\u00b2"), "row 6: response '\u00b2' for trial 's2-t001'"),
    (lambda t: t.replace("p2,s2,s2-t001,2", "p2,s2,s2-t001,--1"), "row 6: response '--1' for trial 's2-t001'"),
    (lambda t: t.replace("p2,s2,s2-t001,2", "p2,s2,s2-t001,1.0"), "row 6: response '1.0'"),
])
def test_bad_ratings_exit_2_with_a_clear_error(study, tmp_path, capsys, edit, message):
    ratings = tmp_path / "ratings.csv"
    ratings.write_text(edit(RATINGS))
    assert main(["study", "import", "--ratings", str(ratings), "--study", str(study)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (study / "results").exists()


def test_a_folder_that_is_no_study_exits_2(tmp_path, capsys):
    (tmp_path / "r.csv").write_text(RATINGS)
    assert main(["study", "import", "--ratings", str(tmp_path / "r.csv")]) == 2
    assert "expected an exported study folder" in capsys.readouterr().err


def test_simulated_ratings_import_into_exactly_the_simulated_tables(tmp_path, material_factory):
    material, cfg = material_factory(("copy", "noisy"))
    data = simulate_responses(material, cfg)
    simulated = score(data, cfg)
    _save_ratings(data, cfg, tmp_path / "sim", tmp_path)
    for protocol in ("amt", "best_of", "mos"):
        folder = tmp_path / "sim" / protocol
        tables, _ = import_ratings([folder / "ratings.csv"], folder, folder / "results")
        for name, table in tables.items():
            pd.testing.assert_frame_equal(table, simulated[name], check_dtype=False)


def _import(study, ratings, *extra):
    return main(["study", "import", "--ratings", str(ratings), "--study", str(study), *extra])


def test_out_naming_a_file_exits_2(study, tmp_path, capsys):
    (tmp_path / "ratings.csv").write_text(RATINGS)
    (tmp_path / "taken").write_text("mine")
    assert _import(study, tmp_path / "ratings.csv", "--out", str(tmp_path / "taken")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out") and "is a file" in err and err.count("\n") == 1
    assert (tmp_path / "taken").read_text() == "mine"


def test_a_second_import_never_replaces_the_first(study, tmp_path, capsys):
    """The second import into the same folder is refused naming what is there; its advice works when followed."""
    (tmp_path / "ratings.csv").write_text(RATINGS)
    fewer = "\n".join(line for line in RATINGS.splitlines() if not line.startswith("p3")) + "\n"
    (tmp_path / "fewer.csv").write_text(fewer)
    assert _import(study, tmp_path / "ratings.csv") == 0
    first = {p.name: p.read_bytes() for p in (study / "results").iterdir()}
    capsys.readouterr()
    assert _import(study, tmp_path / "fewer.csv") == 2
    err = capsys.readouterr().err
    assert "already holds the tables of an earlier import (amt.csv, amt_tests.csv)" in err and "--out" in err
    assert {p.name: p.read_bytes() for p in (study / "results").iterdir()} == first
    assert _import(study, tmp_path / "fewer.csv", "--out", str(tmp_path / "second")) == 0  # the advice, followed
    assert pd.read_csv(tmp_path / "second" / "amt.csv")["n_participants"].sum() == 2
    for path in (study / "results").glob("*.csv"):  # and the other advice: delete them to replace them
        path.unlink()
    assert _import(study, tmp_path / "fewer.csv") == 0
