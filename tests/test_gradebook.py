"""The gradebook on both engines (SQLite and a real PostgreSQL server), and the exports rebuilt from it.

Every test taking `book` runs twice: on a SQLite file and on a fresh database
of the session's PostgreSQL server (tests/conftest.py; skipped without the
server binaries, failed in CI).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os

import pytest

from grader import safetext
from grader.course import manifest
from grader.grading.quiz import QuestionResult, QuizResult, answers_hash
from grader.grading.results import CheckResult, ConceptResult, GradingResult, Status
from grader.outputs import exports
from grader.store import SCHEMA_VERSION, Gradebook, GradebookError, open_gradebook


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


def quiz(learner: str, right: int, *, total: int = 10, graded_with: str = "staff key") -> QuizResult:
    questions = [QuestionResult(f"q{i}", i + 1, f"section {i}", "a" if i < right else "b", "C", i < right)
                 for i in range(total)]
    return QuizResult("vae-mastery", learner, learner, questions, graded_with)


FULL = {c.id: c.points for c in manifest.load()}


@pytest.fixture
def book(gradebook_target):
    with open_gradebook(gradebook_target) as gb:
        yield gb


def count(book: Gradebook, table: str) -> int:
    return book.engine.execute(f"SELECT COUNT(*) FROM {table}")[0][0]


# --- one typed record: what is stored comes back equal, field by field ------------------------------


def everything_set() -> GradingResult:
    """A result whose every field (of every record type in it) differs from its default."""
    check = CheckResult(concept="sigma", name="variance on a (2, 3) batch", function="logvar_to_sigma",
                        max_score=2.5, score=0.0, status=Status.FAILED,
                        feedback="This is exp(logvar), the variance; σ is exp(0.5·logvar).",
                        misconception="sigma.variance", public=True, output="printed <b>42</b>\n", seconds=0.125)
    error = CheckResult("sigma", "the grader could not run this", "logvar_to_sigma", 1.5, 0.0, Status.ERROR,
                        "the grader failed here, not your code", "grader.unjudgeable", False, "")
    passed = CheckResult("mse", "lesson example", "reconstruction_mse", 6.0, 6.0, Status.PASSED, public=True)
    concepts = [ConceptResult(id="sigma", title="logvar to sigma", section="A VAE learns distributions",
                              max_score=4.0, checks=[check, error], note="the time limit stopped one check",
                              lines={"logvar_to_sigma": 7}),
                ConceptResult("mse", "Reconstruction MSE", "Compress one photo patch", 6.0, [passed], "a note")]
    return GradingResult(concepts=concepts, seed=2 ** 62 + 12345, grader_version="9.8.7", submission="subs/ada.zip",
                         duration=3.25, pass_fraction=0.6, public_only=True,
                         extra={"learner": "ada", "ignored_files": ["report.pdf"], "seed_from": "content"},
                         content_hash="h1", seed_source="course-key")


def quiz_everything_set() -> QuizResult:
    questions = [QuestionResult(id="kl", number=3, section="Keep posteriors near a sampleable prior",
                                chosen="c", letter="B", correct=True),
                 QuestionResult("mse", 2, "Compress one photo patch", None, None, False)]
    return QuizResult(quiz_id="vae-mastery", learner="ada@example.org", order_learner="ada-laptop",
                      questions=questions, graded_with="learner copy", pass_fraction=0.5,
                      extra={"answers_file": "quiz_answers.toml"})


def assert_every_field_set(record) -> None:
    """Fails when a record type gains a field that the round-trip sample leaves at its default.

    The first item of each list (concepts, checks, questions) is the one that sets everything.
    """
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if f.default is not dataclasses.MISSING:
            assert value != f.default, f"{type(record).__name__}.{f.name} is left at its default: set it"
        if f.default_factory is not dataclasses.MISSING:
            assert value != f.default_factory(), f"{type(record).__name__}.{f.name} is left at its default: set it"
        if isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
            assert_every_field_set(value[0])


def assert_same(got, want, path: str = "") -> None:
    """Field by field (so a dropped field is named), then as a whole."""
    assert type(got) is type(want), path
    for f in dataclasses.fields(want):
        a, b = getattr(got, f.name), getattr(want, f.name)
        where = f"{path}{type(want).__name__}.{f.name}"
        if isinstance(b, list) and b and dataclasses.is_dataclass(b[0]):
            assert len(a) == len(b), where
            for i, (x, y) in enumerate(zip(a, b)):
                assert_same(x, y, f"{where}[{i}].")
        else:
            assert a == b and type(a) is type(b), f"{where}: stored {b!r}, read back {a!r}"
    assert got == want


def test_the_samples_set_every_field():
    assert_every_field_set(everything_set())
    assert_every_field_set(quiz_everything_set())
    statuses = {c.status for c in everything_set().checks}
    assert statuses == set(Status)   # every status, ERROR included, goes through the store


def test_rows_round_trip_without_a_database():
    want = everything_set()
    concepts = [ConceptResult.from_row(c.to_row(), [CheckResult.from_row(k.to_row()) for k in c.checks])
                for c in want.concepts]
    assert_same(GradingResult.from_row(want.to_row(), concepts), want)
    q = quiz_everything_set()
    assert_same(QuizResult.from_row(q.to_row(), [QuestionResult.from_row(r.to_row()) for r in q.questions]), q)


def test_an_exercises_attempt_reads_back_equal(book):
    want = everything_set()
    attempt_id = book.record_exercises("ada", want, "h1")
    got = book.latest("ada", "exercises")
    assert got.id == attempt_id and len(attempt_id) == 32
    assert_same(got.result, want)
    assert_same(book.attempt(attempt_id).result, want)
    assert_same(book.latest_per_learner("exercises")["ada"].result, want)
    [summary] = book.attempts("ada")
    assert summary.result is None and (summary.score, summary.max_score, summary.passed) == (6.0, 10.0, False)
    assert (summary.seed, summary.content_hash, summary.grader_version, summary.kind) == (2 ** 62 + 12345, "h1",
                                                                                          "9.8.7", "exercises")
    error = [c for c in got.result.checks if c.status is Status.ERROR]
    assert len(error) == 1 and error[0].score == 0.0


def test_a_quiz_attempt_reads_back_equal(book):
    want = quiz_everything_set()
    attempt_id = book.record_quiz(want, content_hash=answers_hash(want), grader_version="9.8.7")
    [got] = book.quiz_attempts("ada@example.org")
    assert got.id == attempt_id and got.learner == "ada@example.org" and got.seed is None
    assert_same(got.result, want)
    assert (got.score, got.max_score, got.passed) == (1, 2, False)
    assert not got.result.authoritative


def test_misconceptions_are_stored_as_ids(book):
    book.record_exercises("ada", everything_set(), "h1")
    stored = {r[0] for r in book.engine.execute("SELECT misconception FROM check_results")}
    assert stored == {"sigma.variance", "grader.unjudgeable", None}


def test_hostile_text_is_stored_alike_on_both_engines(book):
    hostile = everything_set()
    hostile.concepts[0].checks[0].output = "nul\x00 and a lone surrogate \udcff; =cmd|' /C calc'!A0 <script>"
    book.record_exercises("x\x00y", hostile, "h")
    [learner] = book.learners()
    got = book.latest(learner, "exercises").result.concepts[0].checks[0].output
    assert learner == "x\ufffdy" and got == "nul\ufffd and a lone surrogate \ufffd; =cmd|' /C calc'!A0 <script>"


# --- transactions, idempotent reruns, ids ------------------------------------------------------------


def test_a_failing_attempt_leaves_no_row_at_all(book):
    broken = result(FULL)
    broken.concepts[-1].checks[0].function = object()   # the last check row cannot be written
    with pytest.raises(GradebookError):
        book.record_exercises("alice", broken, "h1")
    assert [count(book, t) for t in ("attempts", "concept_results", "check_results")] == [0, 0, 0]
    assert book.record_exercises("alice", result(FULL), "h1") is not None   # and the gradebook still works


def test_recording_the_same_attempt_again_stores_nothing(book):
    first = book.record_exercises("alice", result(FULL), "h1")
    assert book.record_exercises("alice", result(FULL), "h1") is None
    assert [a.id for a in book.attempts("alice")] == [first]
    assert book.record_exercises("alice", result(FULL, version="0.2.0"), "h1") is not None   # a new grader
    assert book.record_exercises("bob", result(FULL), "h1") is not None                      # another learner
    assert book.record_exercises("alice", result(FULL), None) is not None                    # no hash: always
    assert book.record_exercises("alice", result(FULL), None) is not None
    done = quiz("alice", 9)
    assert book.record_quiz(done, content_hash=answers_hash(done)) is not None
    assert book.record_quiz(done, content_hash=answers_hash(done)) is None
    assert len(book.attempts("alice")) == 5


def test_a_regrade_is_a_new_generation(book):
    ids = [book.record_exercises("alice", result(FULL), "h1", regrade=True) for _ in range(3)]
    assert None not in ids and len(set(ids)) == 3
    assert sorted(r[0] for r in book.engine.execute("SELECT generation FROM attempts")) == [0, 1, 2]
    assert book.record_exercises("alice", result(FULL), "h1") is None


def test_schema_version_is_recorded(book, gradebook_target):
    assert book.schema_version == SCHEMA_VERSION
    book.record_exercises("alice", result(FULL), "h1")
    with open_gradebook(gradebook_target) as again:   # reopening migrates nothing and keeps everything
        assert again.schema_version == SCHEMA_VERSION and len(again.attempts()) == 1


def test_a_gradebook_from_a_newer_grader_is_refused(book, gradebook_target):
    book.engine.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(GradebookError, match="newer grader"):
        open_gradebook(gradebook_target)


def test_a_writer_in_progress_is_invisible_to_readers(book, gradebook_target):
    book.record_exercises("alice", result(FULL), "h1")
    with open_gradebook(gradebook_target) as reader:
        with book.engine.transaction():
            book.engine.execute("INSERT INTO problems (id, learner, at, reason) VALUES ('p1', 'x', 'now', 'pending')")
            assert len(reader.attempts()) == 1   # readers are not blocked by the writer
            assert reader.problems() == []       # nor see half of its work
        assert [p.reason for p in reader.problems()] == ["pending"]


# --- class reads ---------------------------------------------------------------------------------------


def test_class_reads(book):
    book.record_exercises("alice", result({}), "h1")
    book.record_exercises("alice", result(FULL), "h2")
    book.record_exercises("bob", result(FULL, version="0.0.9"), "h3")
    book.record_problem("carol", "the archive is corrupt")
    book.record_problem("carol", "the submission is empty")
    assert {k: a.content_hash for k, a in book.latest_per_learner("exercises").items()} == {"alice": "h2", "bob": "h3"}
    assert book.graded_hashes("0.1.0") == {"alice": {"h1", "h2"}}
    assert book.latest_problems()["carol"][1] == "the submission is empty"
    assert [p.reason for p in book.problems("carol")] == ["the archive is corrupt", "the submission is empty"]
    assert book.all_learners() == ["alice", "bob", "carol"] and book.learners() == ["alice", "bob"]
    assert book.already_graded("alice", "h1", "0.1.0") and not book.already_graded("alice", "h3", "0.1.0")


def test_learners_sort_the_same_on_both_engines(book):
    for learner in ["b", "B", "a", "_x", "Ä", "10", "9"]:
        book.record_problem(learner, "r")
    assert book.all_learners() == sorted(["b", "B", "a", "_x", "Ä", "10", "9"])


def test_no_sql_outside_the_store():
    """Every statement lives in grader/store; nothing else imports a database driver."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parents[1] / "grader"
    sql = re.compile(r"\b(SELECT\s+\S.*\bFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE|json_each)\b")
    offenders = []
    for path in root.rglob("*.py"):
        if path.relative_to(root).parts[0] == "store":
            continue
        text = path.read_text(encoding="utf-8")
        if sql.search(text) or re.search(r"^\s*(import|from)\s+(sqlite3|psycopg)\b", text, re.M):
            offenders.append(str(path.relative_to(root)))
    assert offenders == []


# --- exports -------------------------------------------------------------------------------------------


def rows(out):
    return {r["learner"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}


def test_exports_one_row_per_learner_with_latest_attempts(book, tmp_path):
    out = tmp_path / "exports"
    book.record_exercises("alice", result({}), "h1")
    book.record_exercises("alice", result({**FULL, "vq": 0.0}), "h2")
    book.record_exercises("bob", result(FULL), "h3")
    book.record_quiz(quiz("bob", 9))
    book.record_quiz(quiz("dan", 3))
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
    latest = result({**FULL, "vq": 0.0})
    latest.content_hash = "h2"   # the record knows the hash it was stored under
    assert saved == latest.to_gradescope_dict()
    assert sorted(os.listdir(out / "results")) == ["alice.json", "bob.json"]
    items = list(csv.DictReader(io.StringIO((out / exports.QUIZ_ITEMS_CSV).read_text())))
    assert len(items) == 20 and {(i["learner"], i["number"], i["chosen"], i["correct"]) for i in items
                                 if i["question"] == "q0"} == {("bob", "1", "a", "true"), ("dan", "1", "a", "true")}


def test_a_problem_before_the_latest_grade_is_not_shown(book, tmp_path):
    book.record_problem("alice", "the archive is corrupt")
    book.engine.execute("UPDATE problems SET at = '2000-01-01T00:00:00+00:00'")
    book.record_exercises("alice", result(FULL), "h1")
    exports.write_exports(book, tmp_path / "exports")
    assert rows(tmp_path / "exports")["alice"]["problem"] == ""


@pytest.mark.parametrize("learner", ["../../etc/passwd", "/abs", ".hidden", "a/b", "x\0y", "", "..", "é"])
def test_learner_ids_become_safe_file_names(learner):
    name = safetext.file_stem(learner)
    assert "/" not in name and "\0" not in name and not name.startswith(".") and name
    assert name == os.path.basename(name) and name not in (".", "..")


def test_safe_names_keep_different_ids_apart():
    assert safetext.file_stem("a/b") != safetext.file_stem("a_b")
    assert safetext.file_stem("alice") == "alice"


def test_traversal_in_a_learner_id_stays_inside_results(book, tmp_path):
    out = tmp_path / "exports"
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
    out = tmp_path / "exports"
    book.record_exercises("alice", result(FULL), "h1")
    first = exports.write_exports(book, out)
    inode = os.stat(out / "results" / "alice.json").st_ino
    again = exports.write_exports(book, out)
    assert first.written >= 2 and again.written == 0   # results/alice.json and grades.csv, then nothing
    assert os.stat(out / "results" / "alice.json").st_ino == inode


def test_no_learner_chosen_text_runs_as_a_formula_in_grades_csv(book, tmp_path):
    # grades.csv is opened in spreadsheets, and a learner id is whatever a submission's folder was
    # named: it is shown, never run. (The LMS imports keep their identity columns exact.)
    book.record_exercises("-dave", result(FULL), "h")
    book.record_exercises("=HYPERLINK(\"http://x\")", result(FULL), "h")
    book.record_problem("=HYPERLINK(\"http://x\")", "=cmd|' /C calc'!A0")
    exports.write_exports(book, tmp_path / "exports")
    got = rows(tmp_path / "exports")
    assert list(got) == ["'-dave", "'=HYPERLINK(\"http://x\")"]
    assert got["'=HYPERLINK(\"http://x\")"]["problem"] == "'=cmd|' /C calc'!A0"


# --- SQLite only ------------------------------------------------------------------------------------------


def test_sqlite_is_the_default_and_uses_wal(tmp_path):
    with Gradebook(tmp_path / "g.sqlite") as gb:
        assert gb.engine_name == "sqlite"
        assert gb.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_missing_gradebook_is_not_created_when_reading(tmp_path):
    from grader.store import GradebookMissing

    with pytest.raises(GradebookMissing):
        open_gradebook(tmp_path / "nope.sqlite", create=False)
    assert not (tmp_path / "nope.sqlite").exists()


def test_a_file_that_is_not_a_gradebook_is_refused(tmp_path):
    (tmp_path / "notes.sqlite").write_text("not a database at all " * 100)
    with pytest.raises(GradebookError, match="not a vae-grader gradebook|not a database"):
        open_gradebook(tmp_path / "notes.sqlite")
