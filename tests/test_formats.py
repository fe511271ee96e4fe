"""Outside formats checked by real consumers: Gradescope's results.json (JSON Schema written from
its documentation), JUnit XML (junitparser), the LMS gradebook CSV (Canvas's import layout)."""

from __future__ import annotations

import copy
import csv
import io
import json
from pathlib import Path

import jsonschema
import junitparser
import pytest
from click.testing import CliRunner

from grader.course import manifest
from grader.cli import cli
from grader.store.gradebook import Gradebook
from grader.outputs.junit import to_junit_xml
from grader.grading.results import CheckResult, ConceptResult, GradingResult, Status

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "tests" / "schemas" / "gradescope_results.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def make_result(scores: dict[str, float] | None = None, *, output: str = "", feedback: str = "wrong") -> GradingResult:
    """A result over the whole manifest: each concept has two checks; `scores` gives points per concept."""
    concepts = []
    for c in manifest.load():
        earned = (scores or {}).get(c.id, c.points)
        half = c.points / 2
        checks = []
        for i in range(2):
            got = min(half, max(0.0, earned - i * half))
            status = Status.PASSED if got == half else Status.FAILED
            checks.append(CheckResult(c.id, f"check {i}", c.functions[0], half, got, status,
                                      "" if status is Status.PASSED else feedback,
                                      None if status is Status.PASSED else f"{c.id}.slip", public=i == 0,
                                      output=output))
        concepts.append(ConceptResult(c.id, c.title, c.section, c.points, checks))
    return GradingResult(concepts, 42, "0.1.0", "sub", 1.5)


# --- Gradescope results.json ---------------------------------------------------------------


def test_schema_is_a_valid_json_schema():
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("scores", [None, {"mse": 0, "kl": 5}, {c.id: 0 for c in manifest.load()}])
def test_results_json_validates_against_gradescopes_format(scores):
    data = make_result(scores, output="printed\n\x00odd").to_gradescope_dict()
    VALIDATOR.validate(data)
    assert {"concepts", "passed", "max_score"} <= set(data)  # our extra top-level keys are allowed


def test_a_real_grading_validates(tmp_path):
    (tmp_path / "latent_budget.py").write_text((ROOT / "solutions" / "latent_budget.py").read_text())
    result = CliRunner().invoke(cli, ["grade", str(tmp_path), "--format", "json", "--concept", "latent_budget",
                                      "--concept", "mse"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.output)
    VALIDATOR.validate(data)
    assert {t["status"] for t in data["tests"]} == {"passed", "failed"}


@pytest.mark.parametrize("break_it", [
    lambda d: d["tests"][0].update(status="ok"),
    lambda d: d["tests"][0].update(visibility="public"),
    lambda d: d["tests"][0].update(number=1),
    lambda d: d["tests"][0].update(unknown_key=1),
    lambda d: d.update(visibility="sometimes"),
    lambda d: d.update(score="10"),
    lambda d: (d.pop("score"), d.pop("tests")),
])
def test_schema_rejects_what_gradescope_would_reject(break_it):
    data = copy.deepcopy(make_result().to_gradescope_dict())
    break_it(data)
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(data)


# --- JUnit XML -------------------------------------------------------------------------------


def test_junit_xml_parses_with_junitparser(tmp_path):
    result = make_result({"mse": 5, "vq": 0}, output="print \x1b[31m\x07 & <tag> ]]>", feedback="x < y & \x00")
    quiz = {"questions": [{"id": "mse", "correct": True}, {"id": "kl", "correct": False, "feedback": "no"}]}
    path = tmp_path / "junit.xml"
    path.write_text(to_junit_xml(result, quiz), encoding="utf-8")
    xml = junitparser.JUnitXml.fromfile(str(path))
    suites = list(xml)
    assert len(suites) == len(manifest.load()) + 1
    cases = [case for suite in suites for case in suite]
    assert len(cases) == len(result.checks) + 2
    failed = [c for c in cases if not c.is_passed]
    assert len(failed) == 1 + 2 + 1  # mse's second check, both vq checks, one quiz question
    mse = next(s for s in suites if s.name.startswith("mse"))
    assert mse.tests == 2 and mse.failures == 1
    failure = next(c for c in mse if not c.is_passed).result[0]
    assert failure.message.startswith("x < y & ")  # escaped, and the NUL replaced, not dropped silently
    assert "reread" in failure.text
    assert "print" in next(iter(mse)).system_out


# --- LMS gradebook CSV --------------------------------------------------------------------------


def _quiz(learner: str, right: int, graded_with: str = "staff key"):
    from grader.grading.quiz import QuestionResult, QuizResult

    return QuizResult("vae-mastery", learner, learner, [QuestionResult(f"q{i}", i + 1, "", "a", "A", i < right)
                                                        for i in range(10)], graded_with)


@pytest.fixture
def batch_dir(tmp_path):
    out = tmp_path / "batch"
    with Gradebook(out / "gradebook.sqlite") as book:
        book.record_exercises("alice", make_result({"mse": 0}), "h1")
        book.record_exercises("alice", make_result(), "h2")           # the latest attempt counts
        book.record_exercises("=cmd|evil", make_result({c.id: 0 for c in manifest.load()}), "h3")
        book.record_quiz(_quiz("alice", 9))
        book.record_quiz(_quiz("bob", 7))
        book.record_quiz(_quiz("=cmd|evil", 10, "learner copy"))  # a local check with the learner copy: not a grade
    return out


def _read(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_lms_export_has_canvas_columns_and_separate_quiz(batch_dir, tmp_path):
    out = tmp_path / "canvas.csv"
    result = CliRunner().invoke(cli, ["export", "lms", "--out", str(batch_dir), str(out),
                                      "--exercises-column", "VAE exercises (101)", "--quiz-column", "VAE quiz (102)"])
    assert result.exit_code == 0, result.output
    rows = _read(out)
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "VAE exercises (101)",
                       "VAE quiz (102)"]
    total = sum(c.points for c in manifest.load())
    assert rows[1] == ["Points Possible", "", "", "", "", f"{total:g}", "10"]
    people = {r[3]: r for r in rows[2:]}
    assert people["alice"][5:] == [f"{total:g}", "9"]
    assert people["bob"][5:] == ["", "7"]                  # never graded exercises: blank, not 0
    evil = people["'=cmd|evil"]
    assert evil[0] == "'=cmd|evil"                         # no spreadsheet formula
    assert evil[5:] == ["0", ""]                           # the learner-copy quiz is not exported
    assert "3 learners" in result.output


def test_lms_export_uses_the_roster(batch_dir, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("learner,Student,ID,SIS User ID,SIS Login ID,Section\n"
                      "alice,\"Liddell, Alice\",4711,S-1,aliddell,Lab 2\ncarol,Carol C,4712,S-2,carol,Lab 1\n")
    out = tmp_path / "canvas.csv"
    result = CliRunner().invoke(cli, ["export", "lms", "--out", str(batch_dir / "gradebook.sqlite"), str(out),
                                      "--roster", str(roster)])
    assert result.exit_code == 0, result.output
    rows = _read(out)[2:]
    assert rows[0][:5] == ["Liddell, Alice", "4711", "S-1", "aliddell", "Lab 2"]
    assert rows[1][:5] == ["Carol C", "4712", "S-2", "carol", "Lab 1"] and rows[1][5:] == ["", ""]
    assert {r[3] for r in rows[2:]} == {"bob", "'=cmd|evil"}  # graded but not on the roster: still exported


def test_lms_export_bad_input_exits_2(tmp_path):
    result = CliRunner().invoke(cli, ["export", "lms", "--out", str(tmp_path / "nothing"), str(tmp_path / "x.csv")])
    assert result.exit_code == 2 and "no gradebook" in result.output
    assert not (tmp_path / "nothing").exists()  # no empty gradebook created by looking
    (tmp_path / "gradebook.sqlite").write_text("not a database")
    result = CliRunner().invoke(cli, ["export", "lms", "--out", str(tmp_path), str(tmp_path / "x.csv")])
    assert result.exit_code == 2 and "Traceback" not in result.output
