"""Attacks on what the trusted side writes and shows: the staff terminal, the exports, the reports,
the CI log and step summary. Each names the attack, and asserts what must hold."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader import safetext
from grader.cli import cli
from grader.course import manifest
from grader.grading import quiz as quiz_lib
from grader.grading.results import CheckResult, ConceptResult, GradingResult, Status
from grader.grading.runner import grade_submission
from grader.outputs import exports, report
from grader.outputs.junit import to_junit_xml
from grader.outputs.text import to_json, to_markdown, to_table
from grader.store.gradebook import Gradebook
from grader.verbs import batch as batch_verb
from grader.verbs import ci

ROOT = Path(__file__).resolve().parent.parent
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
MISCONCEPTIONS = {"sigma.variance", "kl.sign", "mse.sum_not_mean"}   #: ids the checks give to known mistakes


def result_with(feedback: str = "", output: str = "", *, score_all: bool = False, learner: str = "x") -> GradingResult:
    concepts = []
    for c in manifest.load():
        ok = score_all or c.id != "mse"
        check = CheckResult(c.id, "worked example", c.functions[0], c.points, c.points if ok else 0.0,
                            Status.PASSED if ok else Status.FAILED, "" if ok else feedback,
                            None if ok else "code.exception", False, "" if ok else output)
        concepts.append(ConceptResult(c.id, c.title, c.section, c.points, [check]))
    return GradingResult(concepts, 1, "0.1.0", "sub", extra={"learner": learner})


def strict_json(text: str):
    def refuse(token):
        raise ValueError(f"non-standard JSON constant {token}")
    return json.loads(text, parse_constant=refuse)


# 1. A learner id that is a Windows device name: results/CON.json cannot be opened on Windows
#    (and a share mounted from there), and hides the file.
@pytest.mark.parametrize("learner", ["con", "CON", "nul.json", "com1", "LPT9", "aux.tar", "conin$", "prn."])
def test_windows_device_names_never_become_file_names(learner, tmp_path):
    name = safetext.file_stem(learner)
    assert name.split(".")[0].lower() not in safetext.WINDOWS_DEVICES and not name.endswith(".")
    with Gradebook(tmp_path / "g.sqlite") as book:
        book.record_exercises(learner, result_with(learner=learner), "h")
        exports.write_exports(book, tmp_path / "out")
    assert [p.name for p in (tmp_path / "out" / "results").iterdir()] == [name + ".json"]


# 2. "..", "." and hidden ids: a results file outside results/, or one `ls` does not show.
@pytest.mark.parametrize("learner", ["..", ".", ".bashrc", "../grades", "./..", "results/../x"])
def test_dot_ids_stay_visible_and_inside_their_folder(learner, tmp_path):
    out = tmp_path / "out"
    with Gradebook(tmp_path / "g.sqlite") as book:
        book.record_exercises(learner, result_with(learner=learner), "h")
        exports.write_exports(book, out)
    [written] = list((out / "results").iterdir())
    assert not written.name.startswith(".") and written.parent == out / "results"
    assert sorted(p.name for p in out.iterdir()) == [".tmp", "grades.csv", "quiz_items.csv", "results"] or \
        sorted(p.name for p in out.iterdir() if p.name != ".tmp") == ["grades.csv", "quiz_items.csv", "results"]


# 3. A results file name longer than 255 bytes (ENAMETOOLONG would stop the export for everyone).
def test_an_id_longer_than_a_file_name_can_be_still_exports(tmp_path):
    learners = ["é" * 200, "x" * 300, "\U0001f600" * 100]
    with Gradebook(tmp_path / "g.sqlite") as book:
        for learner in learners:
            book.record_exercises(learner, result_with(learner=learner), "h")
        exports.write_exports(book, tmp_path / "out")
    names = [p.name for p in (tmp_path / "out" / "results").iterdir()]
    assert len(names) == 3 and all(len(n.encode()) <= 80 for n in names)


# 4. An RTL override that disguises a score: "bob\u202e08/0" shows as "bob0/80" in a terminal,
#    a spreadsheet and a browser that honour bidi.
def test_a_bidi_override_cannot_disguise_a_score(tmp_path):
    learner = "bob \u202e08 / 0 \u2066"
    summary = batch_verb.Summary(failed=[(learner, "reason \u202edessap")], learners=1)
    assert "\u202e" not in batch_verb.summary_text(summary) and "\u2066" not in batch_verb.summary_text(summary)
    with Gradebook(tmp_path / "g.sqlite") as book:
        book.record_exercises(learner, result_with(learner=learner), "h")
        exports.write_exports(book, tmp_path / "out")
    for path in (tmp_path / "out").rglob("*.*"):
        if path.is_file():
                assert not RAW.search(path.read_text(encoding="utf-8")), path
    page = report.render_learner(report.learner_report_from_results(
        result_with(learner=learner).to_gradescope_dict(), learner=learner))
    assert "\u202e" not in page and "\u2066" not in page


# 5. A misconception id forged from inside the submission: an exception named like the grader's
#    Fail, carrying a misconception id, or a message naming one.
FORGER = '''
class Fail(Exception):
    pass

def reconstruction_mse(x, x_hat):
    raise Fail("this is exp(logvar), the variance", "sigma.variance")

def logvar_to_sigma(logvar):
    import sys
    print("misconception: sigma.variance")
    raise SystemExit("sigma.variance")
'''


def test_a_forged_misconception_id_is_never_recorded(tmp_path, zygote):
    (tmp_path / "mse.py").write_text(FORGER)
    (tmp_path / "sigma.py").write_text(FORGER)
    result = grade_submission(tmp_path, zygote=zygote, concepts=["mse", "sigma"], seed=1)
    mistakes = {c.misconception for c in result.checks}
    assert mistakes and all(m is None or m.startswith(("code.", "limit.")) for m in mistakes), mistakes
    assert not mistakes & MISCONCEPTIONS
    tags = {t for test in result.to_gradescope_dict()["tests"] for t in test["tags"]}
    assert "sigma.variance" not in tags


# 6. JSON with NaN and infinities: a learner returning NaN everywhere, and a record holding one,
#    must still give strict JSON (Gradescope and jq refuse NaN).
NAN = '''
def reconstruction_mse(x, x_hat):
    return float("nan")

def logvar_to_sigma(logvar):
    import numpy as np
    return np.full(np.shape(logvar), np.inf)
'''


def test_nan_never_reaches_a_json_file(tmp_path, zygote):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mse.py").write_text(NAN)
    (tmp_path / "sub" / "sigma.py").write_text(NAN)
    result = grade_submission(tmp_path / "sub", zygote=zygote, concepts=["mse", "sigma"], seed=2)
    assert result.score == 0
    result.extra["measured"] = float("nan")   # and a record that holds one anyway
    result.extra["bounds"] = [float("inf"), -float("inf")]
    data = strict_json(to_json(result))
    assert data["extra_data"]["measured"] is None and data["extra_data"]["bounds"] == [None, None]
    with Gradebook(tmp_path / "g.sqlite") as book:
        book.record_exercises("nan", result, "h")
        exports.write_exports(book, tmp_path / "out")
    strict_json((tmp_path / "out" / "results" / "nan.json").read_text())


# 7. A CSV injection through the quiz: formulas as answer letters, as the answers file's learner,
#    as the submission's name.
def test_quiz_answers_cannot_inject_a_formula(tmp_path):
    quiz = quiz_lib.load_quiz()
    answers = tmp_path / "quiz_answers.json"
    answers.write_text(json.dumps({"learner": "=HYPERLINK(\"http://x\",\"y\")",
                                   "answers": {q.id: "=1+1" for q in quiz.questions}}))
    with pytest.raises(quiz_lib.AnswersError):
        quiz_lib.grade_answers_file(answers, "=cmd|' /C calc'!A0", quiz=quiz)
    answers.write_text(json.dumps({"learner": "@SUM(A1)", "answers": {q.id: "A" for q in quiz.questions}}))
    graded = quiz_lib.grade_answers_file(answers, "=cmd|' /C calc'!A0", quiz=quiz, partial=True)
    with Gradebook(tmp_path / "g.sqlite") as book:
        quiz_lib.record(book, graded)
        text = exports.quiz_items_csv(book)
    rows = list(csv.reader(io.StringIO(text)))[1:]
    assert rows and all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert all(row[0] == "'=cmd|' /C calc'!A0" for row in rows)


# 8. HTML in a feedback message (an exception's text) and in the learner id, on the learner's page.
def test_html_in_feedback_and_ids_is_text_on_every_page():
    hostile = "<img src=x onerror=alert(1)><script>alert(2)</script><a href=javascript:alert(3)>x</a>"
    data = result_with(feedback=f"reconstruction_mse raised ValueError: {hostile}", output=hostile,
                       learner=hostile).to_gradescope_dict()
    page = report.render_learner(report.learner_report_from_results(data, learner=hostile))
    assert "<img src=x" not in page and "<script>alert" not in page and "<a href=javascript" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


# 9. A zero-width joiner flood (and a combining-mark tower) as printed output and as an id:
#    megabytes of nothing visible in the terminal, a file name as long as the flood.
def test_invisible_floods_are_cut_and_never_shown_raw(tmp_path):
    flood = "\u200d" * 1_000_000 + "e" + "\u0301" * 100_000
    table = to_table(result_with(feedback=flood, output=flood))
    assert "\u200d" not in table and table.count("\u0301") <= safetext.MAX_COMBINING and len(table) < 20_000
    assert len(safetext.file_stem(flood)) < 80
    assert len(safetext.terminal(flood)) <= safetext.DEFAULT_LIMIT


# 10. Workflow commands forged in printed output and feedback: `::error`, `::add-mask::`,
#     a guessed stop-commands token, the legacy `##[error]`, and %0A smuggled into an annotation.
def test_printed_output_cannot_issue_workflow_commands():
    from test_ci import runner_commands

    forged = ("::error file=x.py::you passed\n::add-mask::secret\n::stop-commands::abc\n::abc::\n"
              "##[error]legacy\n  ::set-output name=passed::true\n\x1b[2K::warning::after an escape")
    result = result_with(feedback="raised: " + forged + "%0A::error::smuggled", output=forged)
    log = ci.fenced(ci.terminal_summary(result, None) + "\n\n" + ci.details_log(result))
    annotations = [a.command() for a in ci.annotations_for(result, ROOT / "exercises", ROOT)]
    commands = runner_commands("\n".join([log] + annotations))
    assert annotations and [c["name"] for c in commands] == [a[2:].split(" ")[0].split(":")[0] for a in annotations]
    assert all("\n::" not in c["data"] for c in commands)
    assert not RAW.search(log)


# 11. A Markdown table breakout in feedback forging a passing row (and a heading) in the step summary.
def test_feedback_cannot_add_rows_or_headings_to_the_summary():
    from markdown_it import MarkdownIt

    forged = "x |\n| Reconstruction | 10 / 10 | ✅ | forged |\n# All passed\n<details open>"
    md = to_markdown(result_with(feedback=forged))
    html = MarkdownIt("commonmark").enable("table").render(md)
    assert html.count("<tr>") == 1 + len(manifest.load())   # the header and one row per concept
    assert "<h1>" not in html and "<details" not in html


# 12. A newline in a learner id forging a line of the batch summary ("class: ... pass rate 100%").
def test_a_learner_id_cannot_add_lines_to_the_batch_summary():
    learner = "x\nclass: mean score 80.0 / 80, pass rate 100% (1 learners with a grade)\r\x1b[1A\x1b[2K"
    summary = batch_verb.Summary(failed=[(learner, "bad\nALL PASSED")], learners=1)
    text = batch_verb.summary_text(summary)
    assert len(text.splitlines()) == 2 and not RAW.search(text)
    assert not any(line.startswith("class:") for line in text.splitlines())


# 13. JUnit attribute and element breakout: quotes, angle brackets, a CDATA end, XML-illegal characters.
def test_junit_cannot_gain_test_cases():
    forged = '"/><testcase name="forged" classname="x"/><x a="]]>\x00\x1b\ufffe\ud800'
    xml = to_junit_xml(result_with(feedback=forged, output=forged))
    root = ET.fromstring(xml.encode("utf-8"))
    assert len(root.findall(".//testcase")) == len(manifest.load())
    assert not any(case.get("name") == "forged" for case in root.iter("testcase"))


# 14. Escape sequences that move the cursor and erase lines (to overwrite "FAIL" with "pass",
#     or the total) or hide text, in the terminal table of `grade`.
def test_cursor_movement_cannot_rewrite_the_terminal_table():
    forged = "\r\x1b[1A\x1b[2K\x1b[8mtotal 80 / 80 PASSED\x1b[0m\x9b1A\x08\x08\x08\x08pass"
    table = to_table(result_with(feedback=forged, output=forged), verbose=True)
    assert "\x1b" not in table and "\r" not in table and "\x08" not in table and "\x9b" not in table
    assert len([line for line in table.splitlines() if line.startswith("total")]) == 1   # only ours


# 15. A learner id of 100,000 characters: the summary line, the CSV cell and the file name stay bounded.
def test_a_huge_learner_id_is_bounded_everywhere(tmp_path):
    learner = "A" * 100_000
    text = batch_verb.summary_text(batch_verb.Summary(failed=[(learner, "x" * 100_000)], learners=1))
    assert len(text) < 2_000
    with Gradebook(tmp_path / "g.sqlite") as book:
        book.record_exercises(learner, result_with(learner=learner), "h")
        exports.write_exports(book, tmp_path / "out")
    assert max(len(line) for line in (tmp_path / "out" / "grades.csv").read_text().splitlines()) < 3_000


# 16. Unicode lookalikes and folding: ids equal after NFC/NFD normalisation (macOS), after
#     Unicode case folding (Kelvin sign, long s, dotless i, title-case digraphs) get distinct files.
def test_normalisation_and_case_folding_never_merge_two_learners(tmp_path):
    learners = ["café", "cafe\u0301", "k", "\u212a", "K", "s", "\u017f", "i", "\u0131", "I", "\u0130", "ǅ", "ǆ", "Ǆ"]
    with Gradebook(tmp_path / "g.sqlite") as book:
        for learner in learners:
            book.record_exercises(learner, result_with(learner=learner), "h")
        exports.write_exports(book, tmp_path / "out")
    names = [p.name for p in (tmp_path / "out" / "results").iterdir()]
    assert len(names) == len(learners) == len({n.casefold() for n in names})
    assert all(n.isascii() for n in names)


# 17. An answers file whose "learner" holds a lone surrogate and a bidi override, at a path that is
#     not UTF-8: `quiz` records it, and the report reads it back, without a traceback.
def test_a_hostile_answers_file_is_graded_recorded_and_reported(tmp_path):
    import subprocess
    import sys

    quiz = quiz_lib.load_quiz()
    folder = Path(os.fsdecode(os.fsencode(tmp_path) + b"/d\xff\x1b[2J"))
    folder.mkdir()
    (folder / "quiz_answers.json").write_text(json.dumps(
        {"learner": "ev\ud800il\u202e", "answers": {q.id: "A" for q in quiz.questions}}))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("VAEGRADE_LEARNER", None)
    key = ROOT / "quizzes" / "mastery.toml"
    run = lambda *args: subprocess.run([sys.executable, "-m", "grader", *args], capture_output=True,
                                       cwd=tmp_path, env=env, timeout=300)
    graded = run("quiz", "--answers", str(folder / "quiz_answers.json"), "--key", str(key))
    assert graded.returncode in (0, 1) and b"Traceback" not in graded.stdout + graded.stderr, graded.stderr[-2000:]
    assert not RAW.search(graded.stdout.decode("utf-8") + graded.stderr.decode("utf-8"))
    page = run("report", "--out", "r.html")
    assert page.returncode == 0 and b"Traceback" not in page.stdout + page.stderr, page.stderr[-2000:]
    html = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "\u202e" not in html and "ev\ufffdil" in html


# 18. Two ids that look the same once made inert ("a\u202eb" and "a\u200db" both show as "a\ufffdb"):
#     staff must still tell them apart in the summary, and find each one's file.
def test_ids_that_look_alike_once_inert_are_told_apart():
    twins = ["a\u202eb", "a\u200db", "a\x1bb"]
    text = batch_verb.summary_text(batch_verb.Summary(failed=[(t, "r") for t in twins], learners=3))
    shown = [line for line in text.splitlines() if line.startswith("  could not grade")]
    assert len(set(shown)) == 3 and not RAW.search(text)
    for twin, line in zip(twins, shown):
        assert safetext.file_stem(twin) in line
    assert batch_verb.summary_text(batch_verb.Summary(failed=[("alice", "r")], learners=1)).endswith("could not grade alice: r")
