"""The report in a real browser: headless Chromium opens report.html from disk.

Skipped only when /usr/bin/chromium is absent (CI installs Debian's ``chromium``). Two passes: the report as built
(console messages and a screenshot), and a copy with a probe script injected first in <head> that records alerts,
errors and image loads into the DOM, read back with ``--dump-dom``.
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from reports.build import build_report

CHROMIUM = Path("/usr/bin/chromium")
SCRIPT_MODEL = "<script>alert(1)</script>"  # the model name planted by conftest.py
LEAD_SCREENSHOT = Path("/tmp/report_screenshot.png")  # a copy for the lead's issue note
PROBE = """<script>
window.__errors = []; window.__alerts = [];
window.alert = function (m) { window.__alerts.push(String(m)); };
window.addEventListener("error", function (e) { window.__errors.push(String(e.message || "resource error")); }, true);
var __ce = console.error; console.error = function () { window.__errors.push([].join.call(arguments, " ")); };
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var p = document.createElement("pre"); p.id = "__probe";
  p.textContent = JSON.stringify({images: imgs.length,
    broken: imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).length,
    errors: window.__errors, alerts: window.__alerts, scripts: document.scripts.length,
    shown: document.body.innerText.indexOf(__MODEL__) >= 0});
  document.body.appendChild(p);
});
</script>"""

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)")


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
             f"--user-data-dir={tmp}", "--virtual-time-budget=5000"]
    return subprocess.run([str(CHROMIUM), *flags, *args], capture_output=True, text=True, timeout=90, check=False)


def test_report_renders_in_headless_chromium(fake_run, tmp_path):
    report = build_report(fake_run).report_html
    html = report.read_text(encoding="utf-8")
    shot = tmp_path / "report.png"
    plain = _chromium(tmp_path / "profile1", "--enable-logging=stderr", "--v=0", "--window-size=1280,2400",
                      f"--screenshot={shot}", report.as_uri())
    assert shot.is_file() and shot.stat().st_size > 10_000, plain.stderr[-2000:]
    assert not re.findall(r"CONSOLE[^\n]*", plain.stderr)  # the report logs nothing: no errors, no warnings
    shutil.copyfile(shot, LEAD_SCREENSHOT)

    probed = tmp_path / "probed.html"
    probe = PROBE.replace("__MODEL__", json.dumps(SCRIPT_MODEL).replace("/", "\\/"))
    probed.write_text(html.replace("<head>", "<head>" + probe, 1), encoding="utf-8")
    dom = _chromium(tmp_path / "profile2", "--dump-dom", probed.as_uri()).stdout
    found = re.search(r'<pre id="__probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    result = json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    assert result["images"] >= 10 and result["broken"] == 0
    assert result["errors"] == [] and result["alerts"] == []
    assert result["scripts"] == 1  # only the probe: the model name did not become a script element
    assert result["shown"] is True  # the literal text <script>alert(1)</script> is visible
