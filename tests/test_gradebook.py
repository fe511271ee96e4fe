"""The gradebook (one transaction per attempt, WAL) and the exports rebuilt from it."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3

import pytest

from grader.outputs import exports
from grader.course import manifest
from grader.store.gradebook import Gradebook
from grader.grading.results import CheckResult, ConceptResult, GradingResult, Status


def result(scores: dict[str, float], *, seed: int = 7, version: str = "0.1.0") -> GradingResult:
    """A graded submission without running anything: each concept one check worth its points."""
    concepts = []
    for c in manifest.load():
        got = scores.get(c.id, 0.0)
        status = Status.PASSED if got == c.points else Status.FAILED
        check = CheckResult(c.id, "a check", c.functions[0], c.points, got, status,
                            "" if status is Status.PASSED else f"{c.id} is off", None if got else "code.missing_file")
        concepts.append(ConceptResult(c.id, c.title, c.section, c.points, [check]))
    return GradingResult(concepts, seed, version, "subs/x")


FULL = {c.id: c.points for c in manifest.load()}


@pytest.fixture
def book(tmp_path):
    with Gradebook(tmp_path / "out" / "gradebook.sqlite") as gb:
        yield gb


def test_wal_and_one_row_per_check(book):
    assert book.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    attempt = book.record_exercises("alice", result(FULL), "h1")
    assert len(book.check_results(attempt)) == len(manifest.load())
    [a] = book.attempts("alice", "exercises")
    assert (a.content_hash, a.seed, a.score, a.passed, a.grader_version) == ("h1", 7, 80.0, True, "0.1.0")


def test_a_failing_attempt_leaves_no_row_at_all(book):
    broken = result(FULL)
    broken.concepts[0].checks[0].status = None   # fails while the check rows are written
    with pytest.raises(AttributeError):
        book.record_exercises("alice", broken, "h1")
    assert book.db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 0
    assert book.db.execute("SELECT COUNT(*) FROM check_results").fetchone()[0] == 0


def test_class_reads(book):
    book.record_exercises("alice", result({}), "h1")
    book.record_exercises("alice", result(FULL), "h2")
    book.record_exercises("bob", result(FULL, version="0.0.9"), "h3")
    book.record_problem("carol", "the archive is corrupt")
    book.record_problem("carol", "the submission is empty")
    assert {k: a.content_hash for k, a in book.latest_all("exercises").items()} == {"alice": "h2", "bob": "h3"}
    assert book.graded_hashes("0.1.0") == {"alice": {"h1", "h2"}}
    assert book.latest_problems()["carol"][1] == "the submission is empty"
    assert book.all_learners() == ["alice", "bob", "carol"]


def rows(out):
    return {r["learner"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}


def test_exports_one_row_per_learner_with_latest_attempts(book, tmp_path):
    out = tmp_path / "out"
    book.record_exercises("alice", result({}), "h1")
    book.record_exercises("alice", result({**FULL, "vq": 0.0}), "h2")
    book.record_exercises("bob", result(FULL), "h3")
    book.record_quiz("bob", score=9, max_score=10, passed=True, answers=[("q1", "a", True)], result={},
                     grader_version="0.1.0")
    book.record_quiz("dan", score=3, max_score=10, passed=False, answers=[], result={}, grader_version="0.1.0")
    book.record_problem("carol", "the archive is corrupt")
    exported = exports.write_exports(book, out)
    assert (exported.learners, exported.results) == (4, 2)
    header = next(csv.reader(io.StringIO((out / "grades.csv").read_text())))
    ids = [c.id for c in manifest.load()]
    assert header[:len(ids) + 1] == ["learner"] + ids
    assert {"exercises_total", "exercises_max", "exercises_passed", "quiz_score", "quiz_max", "quiz_passed",
            "lesson_complete", "problem"} <= set(header)
    got = rows(out)
    assert list(got) == ["alice", "bob", "carol", "dan"]
    alice, bob, carol, dan = got.values()
    assert (alice["vq"], alice["mse"], alice["exercises_total"], alice["exercises_max"]) == ("0", "10", "70", "80")
    assert (alice["exercises_passed"], alice["quiz_score"], alice["lesson_complete"]) == ("true", "", "false")
    assert (bob["exercises_total"], bob["quiz_score"], bob["quiz_max"], bob["quiz_passed"]) == ("80", "9", "10", "true")
    assert bob["lesson_complete"] == "true"
    assert carol["exercises_total"] == "" and carol["problem"] == "the archive is corrupt"
    assert dan["quiz_passed"] == "false" and dan["exercises_total"] == ""
    saved = json.loads((out / alice["results_file"]).read_text())
    assert saved["score"] == 70.0 and saved["max_score"] == 80.0 and len(saved["tests"]) == len(ids)
    assert sorted(os.listdir(out / "results")) == ["alice.json", "bob.json"]


def test_a_problem_before_the_latest_grade_is_not_shown(book, tmp_path):
    book.record_problem("alice", "the archive is corrupt")
    book.db.execute("UPDATE problems SET at = '2000-01-01T00:00:00+00:00'")
    book.db.commit()
    book.record_exercises("alice", result(FULL), "h1")
    exports.write_exports(book, tmp_path / "out")
    assert rows(tmp_path / "out")["alice"]["problem"] == ""


@pytest.mark.parametrize("learner", ["../../etc/passwd", "/abs", ".hidden", "a/b", "x\0y", "", "..", "é"])
def test_learner_ids_become_safe_file_names(learner):
    name = exports.safe_filename(learner)
    assert "/" not in name and "\0" not in name and not name.startswith(".") and name
    assert name == os.path.basename(name) and name not in (".", "..")


def test_safe_names_keep_different_ids_apart():
    assert exports.safe_filename("a/b") != exports.safe_filename("a_b")
    assert exports.safe_filename("alice") == "alice"


def test_traversal_in_a_learner_id_stays_inside_results(book, tmp_path):
    out = tmp_path / "out"
    book.record_exercises("../../escape", result(FULL), "h")
    exports.write_exports(book, out)
    [name] = os.listdir(out / "results")
    assert name.endswith(".json") and not (tmp_path / "escape.json").exists()
    assert rows(out)["../../escape"]["results_file"] == f"results/{name}"


def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path, monkeypatch):
    target, tmp = tmp_path / "grades.csv", tmp_path / ".tmp"
    exports.atomic_write(target, b"old", tmp)

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        exports.atomic_write(target, b"new", tmp)
    assert target.read_bytes() == b"old" and os.listdir(tmp) == []


def test_unchanged_exports_are_not_rewritten(book, tmp_path):
    out = tmp_path / "out"
    book.record_exercises("alice", result(FULL), "h1")
    first = exports.write_exports(book, out)
    inode = os.stat(out / "results" / "alice.json").st_ino
    again = exports.write_exports(book, out)
    assert first.written >= 2 and again.written == 0   # results/alice.json and grades.csv, then nothing
    assert os.stat(out / "results" / "alice.json").st_ino == inode


def test_reading_while_a_writer_holds_the_database(book, tmp_path):
    book.record_exercises("alice", result(FULL), "h1")
    book.db.execute("BEGIN IMMEDIATE")
    book.db.execute("INSERT INTO problems (learner, at, reason) VALUES ('x', 'now', 'pending')")
    reader = sqlite3.connect(tmp_path / "out" / "gradebook.sqlite")
    assert reader.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 1   # WAL: readers are not blocked
    assert reader.execute("SELECT COUNT(*) FROM problems").fetchone()[0] == 0   # nor see half an attempt
    reader.close()
    book.db.rollback()


def test_a_learner_id_is_exported_exactly_and_display_text_never_as_a_formula(book, tmp_path):
    # The learner column is an identity column: an LMS or a script must match it exactly ("-dave"
    # prefixed with ' is another login). Display text (problems, reasons) is kept from formulas.
    book.record_exercises("-dave", result(FULL), "h")
    book.record_exercises("=HYPERLINK(\"http://x\")", result(FULL), "h")
    book.record_problem("=HYPERLINK(\"http://x\")", "=cmd|' /C calc'!A0")
    exports.write_exports(book, tmp_path / "out")
    got = rows(tmp_path / "out")
    assert list(got) == ["-dave", "=HYPERLINK(\"http://x\")"]
    assert got["=HYPERLINK(\"http://x\")"]["problem"] == "'=cmd|' /C calc'!A0"
