"""The course a command works on, the seed it grades with, and faults of the grader itself.

Each test here once failed on the tree it was written for: a threshold that did not reach the
quiz, two content hashes filling one column, answers formats that one command took and
another refused, a sandbox that could not start recorded as a learner's zero, and the same
files graded twice with different scores.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.grading import quiz as quiz_lib
from grader.grading.intake import Entry, prepare
from grader.grading.results import Status
from grader.grading.runner import grade_submission
from grader.sandbox.session import SandboxError, Zygote
from grader.settings import COURSE_MARKER
from grader.store.gradebook import Gradebook
from grader.verbs import ci
from grader.verbs.workspace import VerbError, Workspace

ROOT = Path(__file__).resolve().parent.parent
QUIZ = ROOT / "quizzes" / "mastery.toml"


def make_course(tmp_path: Path, files: dict[str, str]) -> Path:
    course = tmp_path / "course"
    (course / "exercises").mkdir(parents=True)
    (course / COURSE_MARKER).write_text("[course]\n")
    for name, text in files.items():
        (course / "exercises" / name).write_text(text)
    return course


def solution(name: str) -> str:
    return (ROOT / "solutions" / name).read_text()


def answers_with(right: int) -> dict[str, str]:
    quiz = quiz_lib.load_quiz(QUIZ)
    return {q.id: quiz.answer(q) if i < right else next(o.id for o in q.options if o.id != quiz.answer(q))
            for i, q in enumerate(quiz.questions)}


# --- the course is found like git finds a repository --------------------------------------


def test_the_course_is_found_from_any_folder_inside(tmp_path):
    course = make_course(tmp_path, {})
    deep = course / "exercises" / "notes" / "deeper"
    deep.mkdir(parents=True)
    assert Workspace.find(start=deep).course == course.resolve()
    assert Workspace.find(start=course / "exercises").exercises() == course.resolve() / "exercises"


# --- the same files, the same grade ---------------------------------------------------------


WRONG_KL = solution("kl.py").replace("-0.5 *", "-0.45 *")


def test_the_same_files_get_the_same_grade_without_a_seed(tmp_path, monkeypatch):
    course = make_course(tmp_path, {"kl.py": WRONG_KL, "mse.py": solution("mse.py")})
    monkeypatch.chdir(course)
    monkeypatch.delenv("VAEGRADE_COURSE_KEY", raising=False)
    runs = [CliRunner().invoke(cli, ["grade", "--format", "json", "--concept", "kl", "--concept", "mse"])
            for _ in range(5)]
    results = [json.loads(r.stdout) for r in runs]
    assert [r.exit_code for r in runs] == [1] * 5
    key = lambda r: (r["score"], [(t["name"], t["score"], t["output"]) for t in r["tests"]])  # noqa: E731
    assert all(key(r) == key(results[0]) for r in results)   # five gradings, one grade
    assert {r["extra_data"]["seed_source"] for r in results} == {"course-key"}
    assert results[0]["score"] < 20
    # The key lives in the course and was made on first use; another key gives other inputs.
    assert (course / ".vaegrade" / "course.key").stat().st_mode & 0o077 == 0
    monkeypatch.setenv("VAEGRADE_COURSE_KEY", "another course")
    other = json.loads(CliRunner().invoke(cli, ["grade", "--format", "json", "--concept", "kl"]).stdout)
    assert other["extra_data"]["seed"] != results[0]["extra_data"]["seed"]
    # --seed still reproduces any run, and says so.
    seed = results[0]["extra_data"]["seed"]
    again = json.loads(CliRunner().invoke(cli, ["grade", "--format", "json", "--concept", "kl", "--concept", "mse",
                                                "--seed", str(seed)]).stdout)
    assert key(again) == key(results[0]) and again["extra_data"]["seed_source"] == "given"


def test_one_content_hash_for_grade_and_batch(tmp_path, zygote):
    course = make_course(tmp_path, {"mse.py": solution("mse.py"), "sigma.py": solution("sigma.py")})
    (course / "exercises" / "notes.txt").write_text("not graded")
    graded = grade_submission(course / "exercises", concepts=["mse"], zygote=zygote, seed=1)
    (tmp_path / "work").mkdir()
    prepared = prepare(Entry("alice", course / "exercises", "folder"), tmp_path / "work")
    assert graded.content_hash == prepared.content_hash and len(graded.content_hash) == 64
    book_path = tmp_path / "book.sqlite"
    CliRunner().invoke(cli, ["grade", str(course / "exercises"), "--gradebook", str(book_path), "--learner", "a",
                             "--concept", "mse"])
    result = CliRunner().invoke(cli, ["grade", str(course / "exercises"), "--gradebook", str(book_path),
                                      "--learner", "a", "--time-limit", "5"])
    assert result.exit_code in (0, 1), result.output
    with Gradebook(book_path) as book:
        assert book.graded_hashes(graded.grader_version) == {"a": {prepared.content_hash}}


# --- ci: the quiz honours --threshold, every answers format is taken ------------------------


@pytest.mark.parametrize("suffix, text", [
    (".json", lambda chosen: json.dumps({"answers": chosen})),
    (".toml", lambda chosen: "[answers]\n" + "".join(f'{k} = "{v}"\n' for k, v in chosen.items())),
    (".txt", lambda chosen: "".join(f"{k}: {v}\n" for k, v in chosen.items())),
])
def test_ci_finds_every_answers_format_batch_takes(tmp_path, suffix, text):
    exercises = tmp_path / "exercises"
    exercises.mkdir()
    chosen = answers_with(9)
    quiz = quiz_lib.load_quiz(QUIZ)
    letters = {q.id: quiz_lib.letter_of(quiz, "octocat", q, chosen[q.id]) for q in quiz.questions}
    (tmp_path / f"quiz_answers{suffix}").write_text(text(letters))
    found = ci.find_answers(tmp_path, exercises)
    assert found == tmp_path / f"quiz_answers{suffix}"
    assert quiz_lib.find_answers_file(tmp_path) == found   # the same lookup batch uses
    graded = ci.grade_quiz(found, tmp_path, "octocat", pass_fraction=0.75)
    assert graded["score"] == 9.0 and graded["passed"] is True, graded


def test_ci_grades_the_quiz_with_its_threshold(tmp_path):
    exercises = tmp_path / "exercises"
    exercises.mkdir()
    (exercises / "mse.py").write_text(solution("mse.py"))
    quiz = quiz_lib.load_quiz(QUIZ)
    chosen = answers_with(9)
    letters = {q.id: quiz_lib.letter_of(quiz, "octocat", q, chosen[q.id]) for q in quiz.questions}
    (tmp_path / "quiz_answers.json").write_text(json.dumps({"learner": "octocat", "answers": letters}))
    env = {"GITHUB_ACTIONS": None, "GITHUB_STEP_SUMMARY": None, "GITHUB_WORKSPACE": str(tmp_path),
           "GITHUB_ACTOR": "octocat"}
    for threshold, quiz_passed in (("0.75", True), ("0.95", False)):
        out = tmp_path / f"out{threshold}"
        result = CliRunner().invoke(cli, ["ci", "--exercises", str(exercises), "--out", str(out), "--concept", "mse",
                                          "--threshold", threshold], env=env)
        assert result.exit_code in (0, 1), result.output
        quiz_part = json.loads((out / "results.json").read_text())["extra_data"]["quiz"]
        assert quiz_part["score"] == 9.0 and quiz_part["passed"] is quiz_passed, quiz_part


# --- the grader's own failure is never the learner's grade ---------------------------------


class BrokenSandbox(Zygote):
    """A warm parent that cannot start children (a process cap reached, say)."""

    def spawn(self, root, limits):
        raise SandboxError("the sandbox could not start a process (resource temporarily unavailable)")


def test_a_sandbox_that_cannot_start_is_an_error_not_a_zero(tmp_path):
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(ROOT / "solutions" / "mse.py", sub / "mse.py")
    with BrokenSandbox() as broken:
        result = grade_submission(sub, concepts=["mse"], zygote=broken, seed=3)
    assert result.checks and {c.status for c in result.checks} == {Status.ERROR}
    assert not result.graded and result.score == 0
    assert "the grader failed here, not your code" in result.concepts[0].note.lower()
    assert all(c.misconception is None for c in result.checks)   # no mistake is pinned on the learner
    gradescope = result.to_gradescope_dict()
    assert gradescope["extra_data"]["not_graded"] and all(t["status"] == "failed" for t in gradescope["tests"])


def test_grade_exits_2_and_records_nothing_when_the_grader_fails(tmp_path, monkeypatch):
    from grader.grading import runner

    course = make_course(tmp_path, {"mse.py": solution("mse.py")})
    monkeypatch.chdir(course)
    from grader.verbs import prestart

    monkeypatch.setattr(runner, "Zygote", BrokenSandbox)
    monkeypatch.setattr(prestart, "Zygote", BrokenSandbox)   # the CLI starts its sandbox early
    result = CliRunner().invoke(cli, ["grade", "--time-limit", "5"])
    assert result.exit_code == 2, result.output
    assert "NOT GRADED" in result.output and "not your code" in result.output
    assert not (course / ".vaegrade" / "gradebook.sqlite").exists()


def test_a_batch_lists_a_submission_the_grader_failed_on_as_not_graded(tmp_path, monkeypatch):
    from grader.verbs import batch

    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / "mse.py", subs / "alice" / "mse.py")
    monkeypatch.setattr(batch, "Zygote", BrokenSandbox)
    summary = batch.run_batch(subs, tmp_path / "out", jobs=1, progress=None)
    assert summary.exit_code == 1
    [(learner, reason)] = summary.failed
    assert learner == "alice" and "not the learner's code" in reason
    with Gradebook(tmp_path / "out" / "gradebook.sqlite") as book:
        assert book.graded_hashes("0.1.0") == {}   # no score stored for alice


def test_grading_the_same_files_again_is_the_latest_attempt(tmp_path, monkeypatch):
    # a learner grades their solution, then the stubs, then the solution again: status follows the last one
    course = make_course(tmp_path, {"mse.py": solution("mse.py")})
    stubs = tmp_path / "stubs"
    stubs.mkdir()
    (stubs / "mse.py").write_text((ROOT / "exercises" / "mse.py").read_text())
    monkeypatch.chdir(course)
    for folder in (course / "exercises", stubs, course / "exercises"):
        CliRunner().invoke(cli, ["grade", str(folder), "--learner", "ada", "--time-limit", "5"])
    with Gradebook(course / ".vaegrade" / "gradebook.sqlite") as book:
        assert [a.score for a in book.attempts("ada", "exercises")] == [10.0, 0.0, 10.0]
        assert book.latest("ada", "exercises").score == 10.0
