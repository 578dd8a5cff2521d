"""The report in a real browser: headless Chromium opens report.html from disk.

Skipped only when /usr/bin/chromium is absent (CI installs Debian's ``chromium``). Two passes: the report as built
(console messages and a screenshot), and a copy with a probe script injected first in <head> that records alerts,
errors, image loads and what a reader would check (highlights, plot colours, table widths, the summary) into the
DOM, read back with ``--dump-dom``.
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
VIEWPORT = 800  # px: narrower than the wide tables, so their scroll boxes are exercised
PROBE = """<script>
window.__errors = []; window.__alerts = [];
window.alert = function (m) { window.__alerts.push(String(m)); };
window.addEventListener("error", function (e) { window.__errors.push(String(e.message || "resource error")); }, true);
var __ce = console.error; console.error = function () { window.__errors.push([].join.call(arguments, " ")); };
function __all(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
function __scrolls(el) {  // an ancestor that scrolls sideways and fits the viewport
  for (var a = el.parentElement; a && a !== document.body; a = a.parentElement) {
    var o = getComputedStyle(a).overflowX;
    if ((o === "auto" || o === "scroll") && a.getBoundingClientRect().width <= window.innerWidth) return true;
  }
  return false;
}
window.addEventListener("load", function () {
  // First what a reader sees with every <details> closed: per task, its verdict, leaderboard and samples come
  // before the first collapsed block; then open every block so the checks below cover the detail too.
  var closedHeight = document.documentElement.scrollHeight;
  var firstSeen = __all("section[id^=task-]").map(function (sec) {
    var order = __all("p.verdict, table.leaderboard, table.grid, details", sec).map(function (el) {
      return el.tagName === "DETAILS" ? "details" : el.className.split(" ")[0]; });
    var cut = order.indexOf("details");
    return {before: cut < 0 ? order : order.slice(0, cut), details: __all("details", sec).length,
            grids: __all("table.grid", sec).length, boards: __all("table.leaderboard", sec).length,
            open: __all("details[open]", sec).length};
  });
  __all("details").forEach(function (d) { d.open = true; });
  var openHeight = document.documentElement.scrollHeight;
  var imgs = Array.prototype.slice.call(document.images);
  var single = __all("table.summary").filter(function (t) {  // tables with at most one compared method
    return __all("tr", t).slice(1).filter(function (r) {
      return r.cells[1] && r.cells[1].textContent.trim() !== "reference"; }).length <= 1; });
  var colours = JSON.parse(document.getElementById("colours").dataset.colours);
  var swatches = {};
  __all("#colours .swatch").forEach(function (s) { swatches[s.dataset.model] = getComputedStyle(s).backgroundColor; });
  var plotColours = __all("figure.plot").map(function (f) { return JSON.parse(f.dataset.colours); });
  var tables = __all("table").map(function (t) {
    return {wide: t.getBoundingClientRect().width > window.innerWidth, scrolls: __scrolls(t)}; });
  var sections = __all("section[id^=task-]").map(function (sec) {
    return {task: sec.querySelector("h2").textContent.replace("Task: ", ""),
            ranked: __all("table.leaderboard tr", sec).slice(1).filter(function (r) {
              return /^=?[0-9]/.test(r.cells[0].textContent.trim()); }).length}; });
  var summary = __all("#summary .task-summary").map(function (s) {
    return {task: s.dataset.task, winner: s.dataset.winner, p: s.dataset.p, text: s.textContent}; });
  var p = document.createElement("pre"); p.id = "__probe";
  p.textContent = JSON.stringify({images: imgs.length,
    broken: imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).length,
    errors: window.__errors, alerts: window.__alerts, scripts: document.scripts.length,
    shown: document.body.innerText.indexOf(__MODEL__) >= 0,
    single_tables: single.length,
    single_highlights: single.map(function (t) { return __all(".best, .tie", t).length; }),
    colours: colours, swatches: swatches, plot_colours: plotColours,
    viewport: window.innerWidth, page_width: document.documentElement.scrollWidth, tables: tables,
    sections: sections, summary: summary, first_seen: firstSeen, closed_height: closedHeight,
    open_height: openHeight});
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
    dom = _chromium(tmp_path / "profile2", f"--window-size={VIEWPORT},2000", "--dump-dom", probed.as_uri()).stdout
    found = re.search(r'<pre id="__probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    result = json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
    assert result["images"] >= 10 and result["broken"] == 0
    assert result["errors"] == [] and result["alerts"] == []
    assert result["scripts"] == 1  # only the probe: the model name did not become a script element
    assert result["shown"] is True  # the literal text <script>alert(1)</script> is visible
    _reader_checks(result)


def _rgb(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def _reader_checks(result: dict) -> None:
    """What issue 14 asks a reader to be able to trust, measured in the rendered page."""
    # each task's verdict, leaderboard and samples come first; the detail is one click away, closed
    for seen in result["first_seen"]:
        assert seen["details"] >= 1 and seen["open"] == 0, seen
        assert seen["before"].count("leaderboard") == seen["boards"], seen
        assert seen["before"].count("grid") == seen["grids"], seen
        assert seen["before"][0] in ("verdict", "leaderboard"), seen
    assert any("verdict" in seen["before"] for seen in result["first_seen"])
    assert any(seen["grids"] for seen in result["first_seen"]) and any(s["boards"] for s in result["first_seen"])
    assert result["closed_height"] < 0.6 * result["open_height"], (result["closed_height"], result["open_height"])
    # a table with one compared method highlights nothing (digits: vanilla_gan alone)
    assert result["single_tables"] >= 1 and result["single_highlights"] == [0] * result["single_tables"]
    # one colour per method across every plot, and the legend shows those colours
    colours = result["colours"]
    assert len(set(colours.values())) == len(colours)
    assert result["swatches"] == {m: _rgb(c) for m, c in colours.items()}
    assert len(result["plot_colours"]) >= 10
    for drawn in result["plot_colours"]:
        assert drawn and all(colours[m] == c for m, c in drawn.items()), drawn
    # no table wider than the viewport without its own scroll box; the page itself never scrolls sideways
    assert any(t["wide"] for t in result["tables"])  # the check below is not vacuous at this width
    assert all(t["scrolls"] for t in result["tables"] if t["wide"])
    assert result["page_width"] <= result["viewport"]
    # the summary paragraph names the winner of every task that compares methods, with a p-value
    summary = {s["task"]: s for s in result["summary"]}
    compared = [s["task"] for s in result["sections"] if s["ranked"] >= 2]
    assert compared and set(compared) <= set(summary)
    for task in compared:
        line = summary[task]
        assert line["winner"] and line["winner"] in line["text"], line
        assert re.search(r"\bp (=|<) ?\d", line["text"]), line
