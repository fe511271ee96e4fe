"""The reports in a real browser: headless Chromium driven over the DevTools protocol (stdlib only).

Checks what a person would see: the charts' elements with the right counts,
no console errors, no request leaving the page's own file, the page readable
with JavaScript off, and a screenshot saved in the test's temporary folder.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # report_fixtures sits beside this file

from grader import safetext
from grader.outputs import report
from grader.verbs import report as report_verb
from grader.store.gradebook import Gradebook
from report_fixtures import answers_with, build_class, key, make_result, record_quiz

HOSTILE = "<script>alert(1)</script>\"'../x"


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if exe:
        return exe
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed, and CI must run the browser test: apt-get install -y chromium")
    pytest.skip("chromium is not installed (Debian: apt-get install -y chromium); CI runs this test")


class Browser:
    """A headless Chromium with the DevTools protocol on a pipe (fd 3 in, fd 4 out, NUL-separated JSON)."""

    def __init__(self, exe: str, profile: Path):
        to_chrome_r, self._out = os.pipe()
        self._in, from_chrome_w = os.pipe()
        # Park the child's ends above 3 and 4 so the dup2 calls below cannot clobber them.
        high = [os.dup(fd) for fd in (to_chrome_r, from_chrome_w) for _ in range(1)]
        while min(high) <= 4:
            high = [os.dup(fd) for fd in high]

        def wire():
            os.dup2(high[0], 3)
            os.dup2(high[1], 4)

        self.proc = subprocess.Popen(
            [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check",
             "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
             f"--user-data-dir={profile}", "--remote-debugging-pipe", "about:blank"],
            pass_fds=(3, 4), preexec_fn=wire, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        for fd in (to_chrome_r, from_chrome_w, *high):
            os.close(fd)
        self._buf = b""
        self._id = 0
        self.events: list[dict] = []
        self.session = ""

    def _send(self, message: dict) -> None:
        data = json.dumps(message).encode() + b"\0"
        while data:
            data = data[os.write(self._out, data):]

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._in], [], [], left)[0]:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._in, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        message, self._buf = self._buf.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, *, browser: bool = False, timeout: float = 30) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params or {}}
        if not browser:
            message["sessionId"] = self.session
        self._send(message)
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            event = self._read(deadline)
            if event.get("method") == method:
                return event
            self.events.append(event)

    def open_tab(self) -> None:
        target = self.call("Target.createTarget", {"url": "about:blank"}, browser=True)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 browser=True)["sessionId"]
        for domain in ("Page", "Runtime", "Network", "Log"):
            self.call(f"{domain}.enable")

    def load(self, path: Path, *, width: int = 1100, height: int = 900) -> None:
        self.events.clear()
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False})
        self.call("Page.navigate", {"url": path.resolve().as_uri()})
        self.wait_for("Page.loadEventFired")

    def js(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise AssertionError(f"page script failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, to: Path) -> Path:
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": int(size["width"]), "height": int(size["height"]), "deviceScaleFactor": 1,
                   "mobile": False})
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})
        to.write_bytes(base64.b64decode(shot["data"]))
        return to

    def problems(self) -> tuple[list[str], list[str]]:
        """(console errors and uncaught exceptions, requests for anything but the page's own file)."""
        # Drain what is already waiting on the pipe so late events are not missed.
        try:
            self.call("Runtime.evaluate", {"expression": "1"})
        except TimeoutError:
            pass
        errors, requests = [], []
        for e in self.events:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert", "warning"):
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
            elif method == "Runtime.exceptionThrown":
                errors.append(str(params["exceptionDetails"].get("text")))
            elif method == "Log.entryAdded" and params["entry"].get("level") in ("error", "warning"):
                errors.append(params["entry"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                url = params["request"]["url"]
                if not url.startswith(("file:", "data:", "about:")):
                    requests.append(url)
        return errors, requests

    def close(self) -> None:
        try:
            self.call("Browser.close", browser=True, timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._in)
        os.close(self._out)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    exe = chromium()
    b = Browser(exe, tmp_path_factory.mktemp("chromium-profile"))
    try:
        b.open_tab()
        yield b
    finally:
        b.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict:
    """A class of 12 (one hostile id, one with four attempts, one who never graded) rendered to files."""
    outdir = tmp_path_factory.mktemp("batch")
    learners = [f"learner{i:02d}" for i in range(10)]
    build_class(outdir / "gradebook.sqlite", learners, seed=3, attempts=2)
    k = key()
    with Gradebook(outdir / "gradebook.sqlite") as gb:
        for step in ({"vq": "vq", "kl": "kl", "elbo": "elbo"}, {"vq": "vq"}, {}, {}):
            gb.record_exercises(HOSTILE, make_result(zero=tuple(step), failing={
                "sigma": ("sigma.variance", "<img src=x onerror=alert(2)> is off. This is exp(logvar).")}), None)
        record_quiz(gb, HOSTILE, answers_with({"mse": k["mse"][1][0], "kl": None}))
        gb.record_problem("unreadable", "unreadable.zip is not a valid archive")
    made = report_verb.write_class_report(outdir=outdir)
    return {"dir": outdir, "class": made.page, "hostile": outdir / "reports" / f"{safetext.file_stem(HOSTILE)}.html",
            "learners": len(learners) + 2}


def check_clean(browser: Browser) -> None:
    errors, requests = browser.problems()
    assert errors == [], f"console errors: {errors}"
    assert requests == [], f"requests leaving the page: {requests}"


def test_class_report_in_chromium(browser, pages, tmp_path):
    browser.load(pages["class"])
    counts = browser.js("""({
        histogram: document.querySelectorAll('svg#histogram rect.bar').length,
        concepts: document.querySelectorAll('svg#concept-rates rect.bar').length,
        quiz: document.querySelectorAll('svg#quiz-items rect.bar').length,
        roster: document.querySelectorAll('#roster tbody tr').length,
        links: document.querySelectorAll('#roster tbody a[href^="reports/"]').length,
        sortButtons: document.querySelectorAll('#roster thead th button').length,
        unlabelled: [...document.querySelectorAll('svg')].filter(s =>
            !s.getAttribute('aria-label') || !s.querySelector('title') || !s.querySelector('desc')).length,
        histogramLearners: [...document.querySelectorAll('svg#histogram rect.bar')]
            .map(r => parseInt(r.querySelector('title').textContent.split(': ')[1])).reduce((a, b) => a + b, 0),
        tallest: Math.max(...[...document.querySelectorAll('svg#histogram rect.bar')]
            .map(r => r.getBoundingClientRect().height)),
        overflow: document.documentElement.scrollWidth - window.innerWidth,
        injected: typeof window.alert_called !== 'undefined' || document.querySelectorAll('img').length,
    })""")
    assert counts["histogram"] == 20 and counts["concepts"] == 8 and counts["quiz"] == 10
    assert counts["roster"] == pages["learners"] and counts["links"] == pages["learners"]
    assert counts["histogramLearners"] == pages["learners"] - 1        # "unreadable" has no score
    assert counts["tallest"] > 20 and counts["unlabelled"] == 0 and counts["overflow"] <= 0
    assert counts["sortButtons"] == 7 and counts["injected"] == 0
    assert browser.js("document.body.innerText").count("<script>alert(1)</script>") >= 1   # shown as text
    check_clean(browser)
    shot = browser.screenshot(tmp_path / "class-report.png")
    assert shot.stat().st_size > 20_000

    # Sorting (progressive enhancement): the exercises column, highest first on the second click.
    order = browser.js("""(() => {
        const button = document.querySelectorAll('#roster thead th button')[1];
        button.click(); button.click();
        return [...document.querySelectorAll('#roster tbody tr')].map(r => parseFloat(r.cells[1].dataset.sort));
    })()""")
    assert order == sorted(order, reverse=True) and order[0] > order[-1]
    check_clean(browser)


def test_class_report_reads_without_javascript(browser, pages):
    browser.call("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.load(pages["class"])
        seen = browser.call("Runtime.evaluate", {"expression": "1"})  # scripts off: only the DOM is inspected
        del seen
        doc = browser.call("DOM.getDocument", {"depth": -1, "pierce": False})["root"]
        html = browser.call("DOM.getOuterHTML", {"nodeId": doc["nodeId"]})["outerHTML"]
    finally:
        browser.call("Emulation.setScriptExecutionDisabled", {"value": False})
    assert html.count('class="bar') == 20 + 8 + 10
    assert html.count('<a href="reports/') == pages["learners"]
    assert "<button" not in html          # the sort buttons only appear when the script runs


def test_learner_report_in_chromium(browser, pages, tmp_path):
    browser.load(pages["hostile"])
    counts = browser.js("""({
        points: document.querySelectorAll('svg#history circle.point').length,
        quizPoints: document.querySelectorAll('svg#quiz-history circle.point').length,
        glance: document.querySelectorAll('svg#glance rect.bar').length,
        tiles: document.querySelectorAll('.tiles .tile').length,
        concepts: document.querySelectorAll('article.concept').length,
        missed: document.querySelectorAll('ol.missed > li').length,
        title: document.querySelector('h1').textContent,
        images: document.querySelectorAll('img, script').length,
        back: document.querySelector('header nav a').getAttribute('href'),
        overflow: document.documentElement.scrollWidth - window.innerWidth,
    })""")
    assert counts["points"] == 4 and counts["quizPoints"] == 1 and counts["glance"] == 2
    assert counts["tiles"] == 9 and counts["concepts"] == 8 and counts["missed"] == 2
    assert counts["title"] == HOSTILE and counts["images"] == 0 and counts["overflow"] <= 0
    assert counts["back"] == "../class-report.html"
    check_clean(browser)
    assert browser.screenshot(tmp_path / "learner-report.png").stat().st_size > 20_000


def test_learner_report_on_a_phone_and_without_attempts(browser, tmp_path):
    Gradebook(tmp_path / "gradebook.sqlite").close()
    page, _ = report_verb.write_learner_report(out=tmp_path / "new.html", gradebook=tmp_path / "gradebook.sqlite",
                                          learner="new learner")
    browser.load(page, width=390, height=800)
    seen = browser.js("""({
        charts: document.querySelectorAll('svg.history').length,
        steps: document.querySelectorAll('.next li').length,
        overflow: document.documentElement.scrollWidth - window.innerWidth,
    })""")
    browser.screenshot(tmp_path / "new-learner-phone.png")
    assert seen == {"charts": 0, "steps": 3, "overflow": 0}
    check_clean(browser)


# --- geometry: nothing clipped, nothing overflowing, no tiles on top of each other -----------------

LONG_ID = "firstname.lastname-of-a-very-long-department@students.university-of-somewhere.example.edu"

#: Every visible text element is measured: its content fits its own box (scrollWidth against
#: clientWidth), its box lies inside its card (tile, concept, step, missed question) and inside
#: the page's width, each SVG label inside its SVG, and no two tiles overlap. Containers meant
#: to scroll sideways (.scroll, a wide table) are the one exception and are listed.
GEOMETRY = r"""(() => {
  const out = [], eps = 1;
  const vw = document.documentElement.clientWidth;
  const name = el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
      (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '') +
      ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
  const shown = el => {
    if (el.closest('.sr, .scroll')) return false;
    const d = el.closest('details'); if (d && !d.open && !el.closest('summary')) return false;
    const cs = getComputedStyle(el);
    return cs.display !== 'none' && cs.visibility !== 'hidden' && el.getClientRects().length > 0;
  };
  const texts = [...document.querySelectorAll('main *, header.top *, footer')].filter(el =>
      !(el instanceof SVGElement) && shown(el) &&
      [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()));
  for (const el of texts) {
    const cs = getComputedStyle(el);
    if (cs.display !== 'inline' && el.scrollWidth > el.clientWidth + eps)
      out.push(`overflows its box (${el.scrollWidth} > ${el.clientWidth}): ${name(el)}`);
    for (const r of el.getClientRects()) {
      if (r.left < -eps || r.right > vw + eps) out.push(`outside the page (${Math.round(r.left)}..${Math.round(r.right)} of ${vw}): ${name(el)}`);
      const card = el.closest('.tile, article.concept, .next li, ol.missed > li, .hero, dl.stats div');
      if (card && card !== el) {
        const c = card.getBoundingClientRect();
        if (r.left < c.left - eps || r.right > c.right + eps || r.top < c.top - eps || r.bottom > c.bottom + eps)
          out.push(`outside its ${card.className.split(' ')[0] || card.tagName} box: ${name(el)}`);
      }
    }
  }
  for (const el of document.querySelectorAll('main *')) {          // clipped content of any block
    if (el instanceof SVGElement || !shown(el)) continue;
    const cs = getComputedStyle(el);
    if (cs.display !== 'inline' && cs.overflowX !== 'visible' && el.scrollWidth > el.clientWidth + eps)
      out.push(`clips its content (${el.scrollWidth} > ${el.clientWidth}): ${name(el)}`);
  }
  for (const svg of document.querySelectorAll('main svg')) {
    if (!shown(svg)) continue;
    const s = svg.getBoundingClientRect();
    for (const t of svg.querySelectorAll('text')) {
      const r = t.getBoundingClientRect();
      if (r.width && (r.left < s.left - eps || r.right > s.right + eps || r.top < s.top - eps || r.bottom > s.bottom + eps))
        out.push(`SVG text cut at the chart's edge: ${svg.id} "${t.textContent}"`);
    }
  }
  // words are never cut across lines (a break after a hyphen is fine) in tile titles, steps, feedback and quiz text (ids may break at . @ -)
  for (const el of document.querySelectorAll('.tile .name, .next .step, p.feedback, ol.missed p, .concept h3')) {
    if (!shown(el)) continue;
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      for (const m of n.textContent.matchAll(/[^\s\u2010-]+/g)) {   // a break after a hyphen is fair
        const range = document.createRange();
        range.setStart(n, m.index); range.setEnd(n, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top)));
        if (lines.size > 1 && m[0].length > 1) out.push(`word cut across lines: "${m[0]}" in ${name(el)}`);
      }
    }
  }
  const tiles = [...document.querySelectorAll('.tiles .tile')].filter(shown).map(t => [t, t.getBoundingClientRect()]);
  for (let i = 0; i < tiles.length; i++) for (let j = i + 1; j < tiles.length; j++) {
    const [a, r] = tiles[i], [b, q] = tiles[j];
    if (r.left < q.right - eps && q.left < r.right - eps && r.top < q.bottom - eps && q.top < r.bottom - eps)
      out.push(`tiles overlap: ${name(a)} and ${name(b)}`);
  }
  if (document.documentElement.scrollWidth > vw + eps) out.push(`the page scrolls sideways (${document.documentElement.scrollWidth} > ${vw})`);
  return {problems: out, measured: texts.length, tiles: tiles.length};
})()"""


@pytest.fixture(scope="module")
def learner_pages(tmp_path_factory) -> dict:
    """Learner pages that stress the layout: a long id, a fractional score, repeated feedback, missed questions."""
    from grader.grading.results import Status

    out = tmp_path_factory.mktemp("geometry")
    k = key()
    result = make_result(
        {"sigma": ("sigma.variance", "logvar_to_sigma of a (2, 3) batch is off. This is exp(logvar), the "
                   "variance; σ is exp(0.5·logvar).")},
        zero=("elbo", "collapse", "vq", "latent_budget"))
    first = result.concepts[0].checks[0]
    first.score, first.status, first.feedback = 3.64, Status.FAILED, "reconstruction_mse of a (3, 7) batch is off."
    with Gradebook(out / "gradebook.sqlite") as gb:
        gb.record_exercises(LONG_ID, make_result(zero=("vq",)), None)
        gb.record_exercises(LONG_ID, result, None)
        record_quiz(gb, LONG_ID, answers_with({"mse": k["mse"][1][0], "kl": None, "vq-lookup": k["vq-lookup"][1][1]}))
    page, _ = report_verb.write_learner_report(out=out / "long.html", gradebook=out / "gradebook.sqlite", learner=LONG_ID)
    return {"long": page, "score": result.score}


@pytest.mark.parametrize("width", [1280, 390])
def test_learner_report_geometry(browser, learner_pages, width, tmp_path):
    browser.load(learner_pages["long"], width=width, height=900)
    seen = browser.js(GEOMETRY)
    shot = browser.screenshot(tmp_path / f"learner-{width}.png")
    assert seen["measured"] > 100 and seen["tiles"] == 9, seen
    assert seen["problems"] == [], f"at {width} px (screenshot {shot}):\n" + "\n".join(seen["problems"])
    text = browser.js("document.body.innerText")
    assert f"{learner_pages['score']:g} / 80" in text          # the glance value, whole
    assert browser.js("getComputedStyle(document.querySelector('p.feedback')).fontFamily") == \
        browser.js("getComputedStyle(document.body).fontFamily")    # feedback is prose, in the body font
    check_clean(browser)


@pytest.mark.parametrize("width", [1280, 390])
def test_other_report_pages_geometry(browser, pages, width):
    for page in (pages["hostile"], pages["class"]):
        browser.load(page, width=width, height=900)
        seen = browser.js(GEOMETRY)
        assert seen["problems"] == [], f"{page.name} at {width} px:\n" + "\n".join(seen["problems"])
CLASS_GEOMETRY = r"""(() => {
    const problems = [];
    const box = el => el.getBoundingClientRect();
    const overlap = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;
    const where = el => (el.id ? '#' + el.id : el.tagName.toLowerCase()) + ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
    if (document.documentElement.scrollWidth > window.innerWidth) problems.push('page scrolls sideways');
    // Stat cards: full rows only (no card alone on a row), nothing cut inside a card.
    const cards = [...document.querySelectorAll('dl.stats > div')];
    const rows = {};
    cards.forEach(c => { const t = Math.round(box(c).top); rows[t] = (rows[t] || 0) + 1; });
    const sizes = Object.values(rows);
    if (new Set(sizes).size !== 1) problems.push('stat cards in uneven rows: ' + sizes.join(','));
    cards.forEach(c => c.querySelectorAll('dt, dd').forEach(e => {
        if (e.scrollWidth > e.clientWidth + 1) problems.push('clipped ' + where(e));
        if (box(e).right > box(c).right + 0.5) problems.push('outside its card ' + where(e));
    }));
    // Histogram: the pass-line label touches no bar and no count.
    const label = document.querySelector('svg#histogram .threshold-label');
    if (label) document.querySelectorAll('svg#histogram rect.bar, svg#histogram text.value').forEach(b => {
        if (box(b).height > 0 && overlap(box(label), box(b))) problems.push('pass-line label overlaps ' + where(b));
    });
    // Bar charts: every label left of the plot, every value inside the drawing.
    document.querySelectorAll('svg.hbars').forEach(svg => {
        const frame = box(svg);
        const start = Math.min(...[...svg.querySelectorAll('rect.track')].map(r => box(r).left));
        svg.querySelectorAll('text.label').forEach(t => { if (box(t).right > start + 0.5) problems.push('label over bar ' + where(t)); });
        svg.querySelectorAll('text').forEach(t => {
            const b = box(t);
            if (b.left < frame.left - 0.5 || b.right > frame.right + 0.5) problems.push('text outside chart ' + where(t));
        });
        const labels = [...svg.querySelectorAll('text.label')];
        labels.forEach((a, i) => labels.slice(i + 1).forEach(b => { if (overlap(box(a), box(b))) problems.push('labels overlap ' + where(a)); }));
    });
    // Table cells: nothing cut, outside a sideways-scrolling container nothing wider than the page.
    document.querySelectorAll('table.data th, table.data td').forEach(cell => {
        if (cell.scrollWidth > cell.clientWidth + 1) problems.push('clipped cell ' + where(cell));
        if (!cell.closest('.scroll') && box(cell).right > window.innerWidth + 0.5) problems.push('cell off the page ' + where(cell));
    });
    document.querySelectorAll('.scroll').forEach(s => { if (box(s).right > window.innerWidth + 0.5) problems.push('scroller wider than the page'); });
    // Headings and paragraphs never run off the page.
    document.querySelectorAll('h1, h2, p, li').forEach(e => { if (box(e).right > window.innerWidth + 0.5) problems.push('off the page ' + where(e)); });
    return problems;
})()"""


@pytest.mark.parametrize("width", [1280, 390])
def test_class_report_geometry(browser, pages, tmp_path, width):
    browser.load(pages["class"], width=width, height=900)
    problems = browser.js(CLASS_GEOMETRY)
    assert problems == [], problems
    seen = browser.js("""({
        cards: document.querySelectorAll('dl.stats > div').length,
        bases: [...document.querySelectorAll('dl.stats dd.base')].map(e => e.textContent.trim()),
        gridRows: document.querySelectorAll('#grid tbody tr').length,
        gridCols: document.querySelectorAll('#grid thead th').length,
        sticky: getComputedStyle(document.querySelector('#grid tbody th')).position,
        gridScrolls: (() => { const s = document.querySelector('.grid-wrap'); return s.scrollWidth >= s.clientWidth; })(),
        conceptOrder: [...document.querySelectorAll('svg#concept-rates rect.bar title')].map(t => parseFloat(t.textContent.split(': ')[1])),
        threshold: document.querySelectorAll('svg#concept-rates line.threshold').length,
        responses: document.querySelectorAll('ul.responses').length,
    })""")
    assert seen["cards"] == 8 and all(b for b in seen["bases"])
    assert any("of" in b and "%" in b for b in seen["bases"])          # percentages say their base
    assert seen["gridRows"] == pages["learners"] - 1 and seen["gridCols"] == 2 + 8
    assert seen["sticky"] == "sticky" and seen["gridScrolls"]
    assert seen["conceptOrder"] == sorted(seen["conceptOrder"]) and seen["threshold"] == 1
    assert seen["responses"] == 10
    check_clean(browser)
    browser.screenshot(tmp_path / f"class-{width}.png")
    # The grid sorts by a concept column, highest first on the second click.
    order = browser.js("""(() => {
        const button = document.querySelectorAll('#grid thead th button')[2];
        button.click(); button.click();
        return [...document.querySelectorAll('#grid tbody tr')].map(r => parseFloat(r.cells[2].dataset.sort));
    })()""")
    assert order == sorted(order, reverse=True)
