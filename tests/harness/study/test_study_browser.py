"""The exported study in a real browser: Debian's chromium driven by selenium through chromium-driver.

export → open the page → images load → click → the page's ratings.csv → ``study import`` accepts it and the table
says what was clicked. Skipped, with the reason, when chromium, chromedriver or selenium is missing (``.ci/run``
installs Debian's ``chromium`` and ``chromium-driver``; selenium comes with the ``test`` extra).
"""

import dataclasses
import shutil
from pathlib import Path

import pandas as pd
import pytest

from harness.study.export import export_study
from harness.study.importer import import_ratings
from metrics.human_study.protocols import AMTProtocol, MOSProtocol

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), shutil.which("chromedriver") or "/usr/bin/chromedriver"
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install -e '.[test]')")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists() or not Path(DRIVER).exists(),
                                reason="needs /usr/bin/chromium and chromedriver (apt-get install chromium "
                                       "chromium-driver)")


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    browser.set_page_load_timeout(60)
    yield browser
    browser.quit()


def _wait(browser, condition, timeout: float = 20.0):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(condition)


def _start(browser, page: Path, session: str, participant: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{page.as_uri()}?session={session}&participant={participant}")
    assert browser.find_element(By.ID, "participant").get_attribute("value") == participant
    browser.find_element(By.ID, "start").click()


def _ratings(browser, path: Path) -> Path:
    from selenium.webdriver.common.by import By

    _wait(browser, lambda b: b.find_element(By.ID, "done").is_displayed())
    path.write_text(browser.find_element(By.ID, "ratings").get_attribute("value"))
    return path


def test_amt_study_round_trip_in_chromium(driver, tmp_path, material_factory):
    from selenium.webdriver.common.by import By

    material, cfg = material_factory(("copy", "noisy"), keep_images=True)
    cfg = dataclasses.replace(cfg, amt=AMTProtocol(n_participants=1, n_practice=1, n_trials=2))
    page = export_study(material, cfg, "amt", tmp_path / "amt", tmp_path)
    trials = pd.read_csv(tmp_path / "amt" / "trials.csv", keep_default_na=False)
    session = trials.loc[trials["method"] == "noisy", "session"].iloc[0]
    _start(driver, page, session, "worker-1")
    for kind in trials.loc[trials["session"] == session].sort_values("order")["kind"]:
        loaded = "var i = document.getElementById('img-1'); return i && i.complete && i.naturalWidth > 0;"
        _wait(driver, lambda b, s=loaded: b.execute_script(s), timeout=5)  # the image file is shown...
        _wait(driver, lambda b: b.find_element(By.ID, "choice-1").is_enabled())  # ...then hidden after 1 s
        assert not driver.find_element(By.ID, "img-1").is_displayed()
        driver.find_element(By.ID, "choice-1").click()
        if kind == "practice":  # feedback, then Next
            _wait(driver, lambda b: b.find_element(By.ID, "next").is_displayed())
            assert driver.find_element(By.ID, "feedback").text in ("Correct.", "Wrong: the real image was option 1.",
                                                                    "Wrong: the real image was option 2.")
            driver.find_element(By.ID, "next").click()
    ratings = _ratings(driver, tmp_path / "ratings.csv")
    rows = pd.read_csv(ratings)
    assert list(rows.columns) == ["participant", "session", "trial_id", "response", "rt_ms"] and len(rows) == 3
    assert (rows["response"] == 1).all() and (rows["rt_ms"] >= 900).all()  # answered after the 1 s exposure
    tables, _ = import_ratings([ratings], tmp_path / "amt", tmp_path / "results")
    scored = trials[(trials["session"] == session) & (trials["kind"] == "scored")]
    fooled = sum(opts.split("|")[0] == "noisy" for opts in scored["options"])  # option 1 clicked each time
    row = tables["amt"].set_index("method").loc["noisy"]
    assert (row["n_participants"], row["n_trials"], row["pct_real"]) == (1, 2, 100 * fooled / 2)


def test_mos_study_round_trip_in_chromium(driver, tmp_path, material_factory):
    from selenium.webdriver.common.by import By

    material, cfg = material_factory(("noisy",), keep_images=True)
    cfg = dataclasses.replace(cfg, mos=MOSProtocol(n_raters=1, n_calibration=1, n_images=1))
    page = export_study(material, cfg, "mos", tmp_path / "mos", tmp_path)
    trials = pd.read_csv(tmp_path / "mos" / "trials.csv", keep_default_na=False)
    _start(driver, page, trials["session"].iloc[0], "rater-1")
    for kind in trials.sort_values("order")["kind"]:
        if kind == "calibration":
            _wait(driver, lambda b: b.find_element(By.ID, "next").is_displayed())
            assert "Calibration: this image has score" in driver.find_element(By.ID, "prompt").text
            driver.find_element(By.ID, "next").click()
        else:
            _wait(driver, lambda b: b.find_element(By.ID, "score-4").is_enabled())
            driver.find_element(By.ID, "score-4").click()
    ratings = _ratings(driver, tmp_path / "ratings.csv")
    tables, _ = import_ratings([ratings], tmp_path / "mos", tmp_path / "results")
    mos = tables["mos"].set_index("method")["mos"]
    assert set(mos.index) == {"noisy", "real_data", "nearest_x4"} and (mos == 4.0).all()
