"""Learner-controlled text through every sink (grader.safetext), and a hostile class end to end.

The corpus holds what a submission controls and has been seen to break graders: lone
surrogates, invalid UTF-8, C0/C1 controls, CSI/OSC/DCS escape sequences (OSC 52 writes
the clipboard), bidi overrides and isolates, Markdown, HTML, spreadsheet formulas, very
long strings, floods of invisible or combining characters, and names that collide after
mapping.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest

from grader import safetext
from grader.outputs import report

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"

CORPUS = [
    "\ud800", "a\udfffb", "\ud83d", "caf\udce9", b"\xff\xfe\x80 invalid \xc3( utf-8", b"caf\xe9",
    "\x00\x01\x07\x08\x0b\x0c\x0e\x1f\x7f", "\x85\x9b31m\x9d52;c;QQ==\x9c\x90q\x9c",
    "\x1b[2J\x1b[H\x1b[31mred", "\x1b]52;c;ZXZpbA==\x07", "\x1b]52;c;ZXZpbA==\x1b\\",
    "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\", "\x1bP+q544e\x1b\\", "\x1b_apc\x1b\\", "\x1bc",
    "score \u202e08 / 0\u202c", "\u2066\u2067\u2068x\u2069", "\u200e\u200f\u061c", "\ufeffbom",
    "# heading\n[link](http://x) ![img](http://y/i.png) <b>html</b> | a | b |\n`code` *em* _em_ ~~s~~",
    "```\nfenced\n```", "<script>alert(1)</script>", "\"'><img src=x onerror=alert(1)>", "&lt;&#60;",
    "- item\n1. item\n> quote\n---\n===", "@org/team #1 https://evil.example", "<!-- comment -->",
    "=SUM(1,41)", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "\uff1d1+1", "=cmd|' /C calc'!A0",
    "x" * 100_000, "\u200d" * 50_000, "e" + "\u0301" * 5000, "\ufffe\uffff\U0001fffe\ufdd0",
    "\U000e0041\U000e0042 tag smuggling", "line\u2028sep\u2029para", "\r80 / 80 PASSED",
    "", "plain ascii", "é ü σ ⊙ 中文 ✅",
]
IDS = [repr(c)[:40] for c in CORPUS]

#: what no output may hold raw: C0 but tab/newline/CR-in-CSV, DEL, C1, bidi and other format
#: characters, line separators, lone surrogates, noncharacters.
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f"
                 "\ufeff\ufff9-\ufffb\u2028\u2029\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff\U000e0000-\U000e007f]")


def no_raw(text: str, allow: str = "\n\t") -> bool:
    return not [m for m in RAW.findall(text) if m not in allow]


def encodable(text: str) -> bool:
    text.encode("utf-8")   # raises on a lone surrogate
    return True


# --- each sink --------------------------------------------------------------------------------


@pytest.mark.parametrize("value", CORPUS, ids=IDS)
def test_terminal_is_inert_bounded_and_encodable(value):
    shown = safetext.terminal(value, 300)
    assert encodable(shown) and no_raw(shown) and len(shown) <= 300
    assert "\x1b" not in shown and "\r" not in shown
    line = safetext.terminal_line(value, 120)
    assert no_raw(line, allow="") and "\n" not in line and len(line) <= 120


def test_terminal_shows_what_was_cut_and_keeps_the_text():
    assert safetext.terminal("ok\n\tab") == "ok\n\tab"
    long = safetext.terminal("x" * 5000, 200)
    assert len(long) == 200 and re.search(r"\[4,8\d\d more characters cut\]$", long)
    # escape sequences lose their introducer and show as text: evidence, not action
    assert safetext.terminal("\x1b]52;c;ZXZpbA==\x07") == "\ufffd]52;c;ZXZpbA==\ufffd"
    assert safetext.terminal(b"caf\xe9") == "caf\ufffd"
    assert safetext.terminal("e" + "\u0301" * 100).count("\u0301") == safetext.MAX_COMBINING


def _render_md(text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table").enable("strikethrough").render(text)


@pytest.mark.parametrize("value", CORPUS, ids=IDS)
def test_markdown_renders_as_exactly_its_text(value):
    cell = safetext.markdown(value, 500)
    assert "\n" not in cell and no_raw(cell)
    html = _render_md(cell)
    assert re.findall(r"<(/?\w+)", html) in ([], ["p", "/p"])   # no heading, link, image, code, emphasis, HTML
    # and inside a table cell too: still one cell, nothing but text
    table = _render_md(f"| a | b |\n| --- | --- |\n| {cell} | end |\n")
    assert re.findall(r"<td>", table) == ["<td>", "<td>"] and "<a " not in table and "<img" not in table
    plain = " ".join(safetext.inert(value, 500).split())
    import html as html_lib
    assert html_lib.unescape(re.sub(r"</?p>\n?", "", html)).strip() == plain.strip()


@pytest.mark.parametrize("value", ["a`b", "``x``", "`" * 7 + "y", "```\nfence\n```\n# h", "<b>x</b>"])
def test_markdown_code_spans_and_fences_hold_any_backtick_run(value):
    span = _render_md(safetext.md_code(value))
    assert re.findall(r"<(/?\w+)", span) == ["p", "code", "/code", "/p"]
    block = safetext.md_block(value + "\n" + "`" * 12)
    rendered = _render_md(block + "\n\n# after")
    assert rendered.count("<pre>") == 1 and "<h1>after</h1>" in rendered   # the fence closed where it should


@pytest.mark.parametrize("value", CORPUS, ids=IDS)
def test_html_text_and_report_templates_escape_and_neutralise(value):
    escaped = safetext.html(value)
    assert "<" not in escaped and ">" not in escaped and no_raw(escaped) and encodable(escaped)
    page = report.environment().from_string("<p title=\"{{ v }}\">{{ v }}</p>").render(v=value if isinstance(
        value, str) else value.decode("utf-8", "surrogateescape"))
    assert encodable(page) and no_raw(page)
    assert re.findall(r"<(/?\w+)", page) == ["p", "/p"]


def test_grader_markup_passes_the_template_finalizer_unchanged():
    from markupsafe import Markup

    env = report.environment()
    assert env.from_string("{{ m }}").render(m=Markup("<b>ours</b>")) == "<b>ours</b>"
    assert env.from_string("{{ s }}").render(s="<b>\u202etheirs") == "&lt;b&gt;\ufffdtheirs"


@pytest.mark.parametrize("value", CORPUS, ids=IDS)
def test_csv_display_cells_never_run_and_parse_back(value):
    cell = safetext.csv_cell(value)
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20"))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([cell, "next"])
    assert list(csv.reader(io.StringIO(out.getvalue()))) == [[cell, "next"]]
    assert no_raw(cell, allow="\n\t\r") and encodable(out.getvalue())


def test_csv_identity_cells_stay_exact():
    for ident in ["=SUM(1,41)", "-42", "+44 20 7946 0000", "@ada", "a,b\"c"]:
        assert safetext.csv_identity(ident) == ident
    assert safetext.csv_identity("x\udce9") == "x\ufffd"   # only made encodable


@pytest.mark.parametrize("value", CORPUS, ids=IDS)
def test_xml_text_parses_back_in_elements_and_attributes(value):
    text = safetext.xml(value)
    root = ET.Element("testcase", name=text)
    ET.SubElement(root, "failure", message=text).text = text
    doc = ET.tostring(root, encoding="unicode").encode("utf-8")
    back = ET.fromstring(doc)
    assert back.get("name") == text and (back[0].text or "") == text and back[0].get("message") == text
    assert "\ufffe" not in text and "\uffff" not in text and no_raw(text)


@pytest.mark.parametrize("value", CORPUS, ids=IDS)
def test_json_always_encodes_parses_and_shows_nothing_raw(value):
    text = value if isinstance(value, str) else value.decode("utf-8", "surrogateescape")
    doc = safetext.json_dumps({text: [text, float("nan"), float("inf"), (1, 2)], "n": -float("inf")}, indent=1)
    data = json.loads(doc.encode("utf-8"))
    assert no_raw(doc) and "NaN" not in doc and "Infinity" not in doc
    key = safetext.text(text)
    assert data[key][0] == key and data[key][1:] == [None, None, [1, 2]] and data["n"] is None


def test_json_keeps_values_exactly_apart_from_surrogates():
    value = "score \u202e08 / 0 \u200d é \x1b[2J"
    assert json.loads(safetext.json_dumps({"v": value}))["v"] == value   # escaped in the file, exact when read
    assert "\u202e" not in safetext.json_dumps({"v": value})


def test_workflow_commands_escape_their_own_separators():
    data = safetext.workflow_data("50%\r\n::error::forged\x1b[2J")
    assert data.startswith("50%25%0D%0A::error::forged") and "\x1b" not in data and "\n" not in data
    assert safetext.workflow_property("a:b,c") == "a%3Ab%2Cc"


# --- file names ------------------------------------------------------------------------------

NAME_OK = re.compile(r"[a-z0-9][a-z0-9._-]*")
COLLIDING = ["alice", "Alice", "ALICE", "a/b", "a_b", "a b", "a\\b", "a:b", "a?b", "..", ".", "", "con", "CON",
             "con.txt", "nul", "com1", "lpt9", "conin$", "x.", "x..", ".hidden", "-dash",
             "caf\udce9", "caf\ufffd", "caf\\xe9", "café", "cafe\u0301", "\ud800", "\udfff",
             "x" * 300, "x" * 301, "é" * 200, "ß", "ss", "SS", "ǅ", "ǆ", "Ǆ",
             "a\u200db", "ab", "a\u202eb", f"a_b-{hashlib.sha256(b'a/b').hexdigest()[:16]}",
             f"x-{'0' * 16}", "x-" + "0" * 15, "\x1b]52;c;QQ==\x07", "=SUM(1,41)", "learner", "1", "a" * 64, "a" * 65]


def test_file_names_are_safe_short_and_injective_even_case_folded():
    names = safetext.file_stems(COLLIDING)
    assert len({n.casefold() for n in names.values()}) == len(set(COLLIDING))
    for ident, name in names.items():
        assert NAME_OK.fullmatch(name), (ident, name)
        assert len((name + ".html").encode()) <= 80
        assert name.split(".")[0] not in safetext.WINDOWS_DEVICES and not name.endswith(".")
        assert name == ident or name.endswith("-" + safetext.id_hash(ident))


def test_a_plain_id_keeps_its_name_and_a_forged_hashed_name_is_hashed_again():
    assert safetext.file_stem("ada.lovelace-2") == "ada.lovelace-2"
    victim = safetext.file_stem("a/b")
    assert safetext.file_stem(victim) != victim   # choosing a classmate's mapped name does not reach their file


def test_a_collision_is_refused_not_overwritten(monkeypatch):
    monkeypatch.setattr(safetext, "id_hash", lambda ident: "0" * 16)
    with pytest.raises(safetext.NameCollision):
        safetext.file_stems(["a/b", "a:b"])


def test_learner_ids_from_non_utf8_names_are_storable_and_distinct():
    assert safetext.learner_id("caf\udce9") == "caf\\xe9"
    assert safetext.learner_id(b"caf\xe9") == "caf\\xe9"
    assert safetext.learner_id("alice") == "alice"
    assert encodable(safetext.learner_id("\ud800x"))


# --- a hostile class, end to end ---------------------------------------------------------------

HOSTILE_MSG = ("\ud800\udfff \x1b]52;c;ZXZpbA==\x07 \x1b[2J\x1b[31mRED \u202eLIAF\u202c \x9b31m "
               "<script>alert(1)</script> [x](http://evil) ![i](http://e/i.png) # head | pipe `tick` "
               "=HYPERLINK(\"http://x\") \r80 / 80 PASSED \u200d\u200d\u200d \U000e0041")
PRINTER = f'''
import sys
def reconstruction_mse(x, x_hat):
    print({HOSTILE_MSG!r})
    try:
        sys.stdout.buffer.write(b"\\xff\\xfe\\x1b]0;title\\x07 raw bytes\\n")
        sys.stdout.flush()
    except Exception:
        pass
    raise ValueError({HOSTILE_MSG!r} + "x" * 200000)

def logvar_to_sigma(logvar):
    class Evil(Exception):
        def __str__(self):
            return "\\x1b]52;c;QUJD\\x07\\u202e" * 1000
    raise Evil()
'''


def _mkdir(parent: Path, name) -> Path:
    path = Path(os.fsdecode(os.path.join(os.fsencode(parent), name if isinstance(name, bytes) else os.fsencode(name))))
    path.mkdir()
    return path


def hostile_class(subs: Path) -> dict:
    subs.mkdir()
    good = _mkdir(subs, "good")
    for p in SOLUTIONS.glob("*.py"):
        (good / p.name).write_text(p.read_text())
    for name in ["\x1b]52;c;ZXZpbA==\x07eve\u202e", b"caf\xe9", "=SUM(1,41)", "Alice", "alice", "x y",
                 f"x_y-{safetext.id_hash('x y')}", "con", "x" * 250, "\u200d" * 40]:
        (_mkdir(subs, name) / "sigma.py").write_text(PRINTER)   # only sigma: fast to grade
    (_mkdir(subs, "quizzer") / "mse.py").write_text(PRINTER)
    (subs / "quizzer" / "quiz_answers.json").write_text(json.dumps(
        {"learner": "\ud800=1", "answers": {"\ud800": "=1+1", "1": "@SUM(A1)"}}, ensure_ascii=True))
    with zipfile.ZipFile(subs / "zed\x1b[2J.zip", "w") as zf:
        zf.writestr("sigma.py", PRINTER)
        zf.writestr("\x1b]52;c;QUJD\x07notes\u202e.txt", "hi")
        zf.writestr("<img src=x onerror=alert(1)>.md", "hi")
    with tarfile.open(subs / "tarry.tar.gz", "w:gz", encoding="utf-8", errors="surrogateescape") as tf:
        for member, data in (("sigma.py", PRINTER.encode()), ("bad\udcff\udcfe\x1b[5m.txt", b"x"),
                             (b"\xff\xfe.py".decode("utf-8", "surrogateescape"), b"x = 1\n")):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    with tarfile.open(subs / "evil-abs.tar.gz", "w:gz", encoding="utf-8", errors="surrogateescape") as tf:
        info = tarfile.TarInfo("/\x1b]52;c;QQ==\x07\udcff/abs.py")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    nopy = _mkdir(subs, b"nopy\xff")
    Path(os.fsdecode(os.fsencode(nopy) + b"/read\x1b[2Jme\xfe.txt")).write_text("x")
    return {"learners": 16, "not_graded": 2}


def _run(*args, env=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True, cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}, timeout=600)


@pytest.fixture(scope="module")
def hostile_batch(tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    expected = hostile_class(base / "subs")
    proc = _run("batch", str(base / "subs"), "--out", str(base / "out"), "-j", "2", "--time-limit", "10")
    report_proc = _run("report", "--class", str(base / "out"))
    return base, proc, report_proc, expected


def test_a_hostile_batch_finishes_and_its_terminal_summary_is_inert(hostile_batch):
    base, proc, report_proc, expected = hostile_batch
    out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")   # strict: valid UTF-8
    assert proc.returncode == 1, err[-3000:]   # some could not be graded (reported), nothing crashed
    assert "Traceback" not in out + err
    assert f"{expected['learners']} submissions: {expected['learners'] - expected['not_graded']} graded" in out
    assert no_raw(out) and no_raw(err), [m for m in RAW.findall(out + err) if m not in "\n\t"][:5]
    assert "could not grade evil-abs" in out and "could not grade nopy\\xff" in out
    assert report_proc.returncode == 0, report_proc.stderr.decode()[-2000:]


def test_every_export_parses_and_holds_nothing_raw(hostile_batch):
    base, proc, _, expected = hostile_batch
    out = base / "out"
    files = [p for p in out.rglob("*") if p.is_file() and p.suffix in (".csv", ".json", ".html")]
    assert len(list((out / "results").glob("*.json"))) == expected["learners"] - expected["not_graded"]
    assert len(list((out / "reports").glob("*.html"))) == expected["learners"]
    for path in files:
        text = path.read_bytes().decode("utf-8")
        assert no_raw(text.replace("\r\n", "\n")), (path.name, RAW.findall(text)[:5])
        if path.suffix == ".json":
            data = json.loads(text)
            assert "NaN" not in text
            assert data["extra_data"]["learner"]
        elif path.suffix == ".csv":
            rows = list(csv.reader(io.StringIO(text)))
            assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows[1:] for cell in row[:1])
        else:
            assert "<script>alert" not in text and "<img src=x" not in text
    rows = {r["learner"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
    assert "'=SUM(1,41)" in rows and "caf\\xe9" in rows and "Alice" in rows and "alice" in rows
    assert rows["good"]["exercises_total"] == rows["good"]["exercises_max"]   # the classmate is graded right
    named = [r["results_file"] for r in rows.values() if r["results_file"]]
    assert len(set(n.casefold() for n in named)) == len(named)   # nobody shares a results file


def test_the_gradebook_holds_the_hostile_ids_exactly_as_storable_text(hostile_batch):
    import sqlite3

    base = hostile_batch[0]
    db = sqlite3.connect(base / "out" / "gradebook.sqlite")
    learners = {r[0] for r in db.execute("SELECT learner FROM attempts UNION SELECT learner FROM problems")}
    assert {"\x1b]52;c;ZXZpbA==\x07eve\u202e", "caf\\xe9", "=SUM(1,41)", "nopy\\xff"} <= learners


@pytest.fixture(scope="module")
def hostile_submission(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-sub")
    (folder / "sigma.py").write_text(PRINTER)
    (folder / "mse.py").write_text(PRINTER)
    Path(os.fsdecode(os.fsencode(folder) + b"/caf\xe9\x1b[2J.py")).write_text("x = 1\n")
    return folder


@pytest.mark.parametrize("fmt", ["table", "json", "markdown"])
def test_grade_never_prints_a_traceback_on_a_hostile_submission(hostile_submission, fmt, tmp_path):
    proc = _run("grade", str(hostile_submission), "--format", fmt, "--concept", "mse", "--concept", "sigma",
                "--no-record", env={"VAEGRADE_LEARNER": "ev\udcffil"})
    out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")
    assert proc.returncode == 1, err[-3000:]
    assert "Traceback" not in out + err and no_raw(out) and no_raw(err)
    if fmt == "json":
        data = json.loads(out)
        assert data["score"] == 0 and "ValueError" in json.dumps(data)
    if fmt == "markdown":
        html = _render_md(out)
        assert "<script" not in html and "<img" not in html and 'href="http://evil"' not in html


def test_grade_records_a_learner_id_that_is_not_utf8(hostile_submission, tmp_path):
    book = tmp_path / "book.sqlite"
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(hostile_submission), "--concept", "mse",
                           "--gradebook", str(book), "--learner", os.fsdecode(b"ev\xffil\x1b[2J")],
                          capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)
    assert proc.returncode == 1 and b"Traceback" not in proc.stdout + proc.stderr, proc.stderr[-2000:]


def test_ci_writes_every_output_for_a_hostile_submission(hostile_submission, tmp_path):
    summary = tmp_path / "step_summary.md"
    proc = _run("ci", "--exercises", str(hostile_submission), "--out", str(tmp_path / "res"),
                "--concept", "mse", "--concept", "sigma",
                env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary),
                     "GITHUB_OUTPUT": str(tmp_path / "gh_out"), "GITHUB_WORKSPACE": str(hostile_submission.parent)})
    out, err = proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")
    assert proc.returncode == 1, err[-3000:]
    assert "Traceback" not in out + err and no_raw(out) and no_raw(err)
    for line in out.splitlines():   # only our own workflow commands
        if line.startswith("::"):
            assert re.match(r"::(group|endgroup|stop-commands|error|warning|[0-9a-f]{32})\b", line), line
    json.loads((tmp_path / "res" / "results.json").read_bytes().decode("utf-8"))
    ET.fromstring((tmp_path / "res" / "junit.xml").read_bytes())
    md = summary.read_text(encoding="utf-8")
    assert no_raw(md)
    html = _render_md(md)
    assert "<script" not in html and "<img" not in html and 'href="http://evil"' not in html and "<h1>" not in html


def test_no_template_or_renderer_marks_text_safe():
    """Autoescape is the HTML sink's rule: no `|safe`, no autoescape switched off, no Markup built by hand."""
    for page in (ROOT / "site").glob("*.html"):
        text = page.read_text(encoding="utf-8")
        assert not re.search(r"\|\s*safe\b", text) and "autoescape false" not in text, page.name
    allowed = {"grader/outputs/report.py": 1}   # breakable(): inert, escaped, then <wbr> added (tested below)
    for module in (ROOT / "grader").rglob("*.py"):
        text = module.read_text(encoding="utf-8")
        name = module.relative_to(ROOT).as_posix()
        assert text.count("Markup(") == allowed.get(name, 0) and "|safe" not in text, name


@pytest.mark.parametrize("value", CORPUS, ids=IDS)
def test_the_breakable_filter_escapes_and_neutralises(value):
    text = value if isinstance(value, str) else value.decode("utf-8", "surrogateescape")
    shown = str(report.breakable(text))
    assert encodable(shown) and no_raw(shown) and set(re.findall(r"<(/?\w+)", shown)) <= {"wbr"}
