"""The store past one writer and one version: concurrent writers, schema migrations, and the readers on both engines."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import json
import multiprocessing
import sqlite3
from collections import Counter

import pytest

from grader.course import manifest
from grader.grading.quiz import QuestionResult, QuizResult, answers_hash
from grader.grading.results import CheckResult, ConceptResult, GradingResult, Status
from grader.store import SCHEMA_VERSION, open_gradebook
from grader.store.engines import is_url

LEARNERS = 60


def result(learner: int, *, version: str = "0.1.0") -> GradingResult:
    concepts = []
    for c in manifest.load():
        ok = (learner + len(c.id)) % 3 != 0
        check = CheckResult(c.id, "a check", c.functions[0], c.points, c.points if ok else 0.0,
                            Status.PASSED if ok else Status.FAILED, "" if ok else "off", None if ok else f"{c.id}.slip")
        concepts.append(ConceptResult(c.id, c.title, c.section, c.points, [check]))
    return GradingResult(concepts, learner, version, f"subs/l{learner}")


def quiz(learner: str, right: int) -> QuizResult:
    return QuizResult("vae-mastery", learner, learner,
                      [QuestionResult(f"q{i}", i + 1, "", "a", "A", i < right) for i in range(10)], "staff key")


def _writer(target, order: list[int], start) -> None:
    """One process writing its share of the class, each attempt in its own transaction."""
    with open_gradebook(target) as book:
        start.wait(timeout=60)
        for i in order:
            book.record_exercises(f"l{i:03d}", result(i), f"h{i}")
            if i % 4 == 0:
                taken = quiz(f"l{i:03d}", i % 11)
                book.record_quiz(taken, content_hash=answers_hash(taken))


def test_two_concurrent_writers_record_every_attempt_exactly_once(gradebook_target):
    with open_gradebook(gradebook_target):   # created once, as a batch's first open would
        pass
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(2)
    # overlapping halves, in opposite orders: both try to record learners 20..39
    one = list(range(0, 40))
    two = list(reversed(range(20, LEARNERS)))
    procs = [ctx.Process(target=_writer, args=(gradebook_target, order, start)) for order in (one, two)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    assert [p.exitcode for p in procs] == [0, 0]
    with open_gradebook(gradebook_target) as book:
        attempts = book.attempts()
        per = Counter((a.learner, a.kind) for a in attempts)
        assert {k for k, n in per.items() if n != 1} == set()
        assert sum(1 for k in per if k[1] == "exercises") == LEARNERS
        assert sum(1 for k in per if k[1] == "quiz") == len(range(0, LEARNERS, 4))
        assert len({a.id for a in attempts}) == len(attempts)
        latest = book.latest_per_learner("exercises")
        assert all(latest[f"l{i:03d}"].result == replace(result(i), content_hash=f"h{i}")   # whole attempts only
                   for i in range(LEARNERS))


def test_concurrent_regrades_each_get_their_own_generation(gradebook_target):
    with open_gradebook(gradebook_target):
        pass
    ctx = multiprocessing.get_context("fork")
    start = ctx.Barrier(2)

    def regrade(target, start):
        with open_gradebook(target) as book:
            start.wait(timeout=60)
            for _ in range(10):
                assert book.record_exercises("ada", result(1), "h1", regrade=True) is not None

    procs = [ctx.Process(target=regrade, args=(gradebook_target, start)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=180)
    assert [p.exitcode for p in procs] == [0, 0]
    with open_gradebook(gradebook_target) as book:
        generations = sorted(r[0] for r in book.engine.execute("SELECT generation FROM attempts"))
    assert generations == list(range(20))


# --- schema versions --------------------------------------------------------------------------------

V1_SCHEMA = """
CREATE TABLE attempts (id INTEGER PRIMARY KEY, learner TEXT NOT NULL, kind TEXT NOT NULL, graded_at TEXT NOT NULL,
    grader_version TEXT NOT NULL, content_hash TEXT, seed INTEGER, score REAL NOT NULL, max_score REAL NOT NULL,
    passed INTEGER NOT NULL, result_json TEXT NOT NULL);
CREATE INDEX attempts_by_learner ON attempts (learner, kind, id);
CREATE TABLE check_results (attempt_id INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    concept TEXT NOT NULL, name TEXT NOT NULL, function TEXT NOT NULL, score REAL NOT NULL, max_score REAL NOT NULL,
    status TEXT NOT NULL, feedback TEXT NOT NULL, misconception TEXT);
CREATE INDEX check_results_by_attempt ON check_results (attempt_id);
CREATE TABLE quiz_answers (attempt_id INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    question_id TEXT NOT NULL, chosen TEXT, correct INTEGER NOT NULL);
CREATE INDEX quiz_answers_by_attempt ON quiz_answers (attempt_id);
CREATE TABLE problems (id INTEGER PRIMARY KEY, learner TEXT NOT NULL, at TEXT NOT NULL, reason TEXT NOT NULL);
PRAGMA user_version=1;
"""


def test_a_version_1_sqlite_gradebook_migrates_forward(tmp_path):
    """The first layout (a Gradescope dict per attempt) comes back as the same typed records."""
    path = tmp_path / "gradebook.sqlite"
    want = result(7)
    want.concepts[0].checks[0].public = True
    want.concepts[0].checks[0].output = "hello\n"
    want.concepts[1].note = "the time limit stopped it"
    want.extra = {"learner": "ada", "ignored_files": ["notes.pdf"]}
    want.content_hash = "h1"
    taken = quiz("ada", 9)
    taken.extra = {"answers_file": "quiz_answers.json"}
    db = sqlite3.connect(path)
    db.executescript(V1_SCHEMA)
    for n, content in enumerate(["h1", "h1"]):   # the same files recorded twice: both kept, as generations
        cur = db.execute("INSERT INTO attempts VALUES (NULL, 'ada', 'exercises', ?, ?, ?, ?, ?, ?, ?, ?)",
                         (f"2026-01-0{n + 1}T00:00:00+00:00", want.grader_version, content, want.seed, want.score,
                          want.max_score, int(want.passed), json.dumps(want.to_gradescope_dict())))
        db.executemany("INSERT INTO check_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       [(cur.lastrowid, c.concept, c.name, c.function, c.score, c.max_score, c.status.value,
                         c.feedback, c.misconception) for c in want.checks])
    cur = db.execute("INSERT INTO attempts VALUES (NULL, 'ada', 'quiz', '2026-01-03T00:00:00+00:00', '0.1.0', 'q', NULL,"
                     " 9, 10, 1, ?)", (json.dumps(taken.to_dict()),))
    db.executemany("INSERT INTO quiz_answers VALUES (?, ?, ?, ?)", [(cur.lastrowid, *a) for a in taken.answers()])
    db.execute("INSERT INTO problems VALUES (NULL, 'bob', '2026-01-01T00:00:00+00:00', 'the archive is corrupt')")
    db.commit()
    db.close()

    with open_gradebook(path) as book:
        assert book.schema_version == SCHEMA_VERSION
        ex = book.attempts("ada", "exercises", results=True)
        assert len(ex) == 2 and ex[0].result == want and ex[1].result == want
        assert [a.graded_at[:10] for a in ex] == ["2026-01-01", "2026-01-02"]
        assert book.latest("ada", "quiz").result == taken
        assert book.problems() == [("bob", "2026-01-01T00:00:00+00:00", "the archive is corrupt")]
        assert book.record_exercises("ada", want, "h1") is None   # the migrated attempt counts for reruns
        assert book.engine.tables() >= {"schema_version", "attempts"} and not any(
            t.startswith("v1_") for t in book.engine.tables())


def test_a_url_is_shown_without_its_password():
    from grader.store.engines import redact

    assert redact("postgresql://staff:s3cret@db.example.org:5432/grades") == \
        "postgresql://staff:***@db.example.org:5432/grades"
    assert redact("postgresql://staff@db/grades") == "postgresql://staff@db/grades"


def test_a_postgresql_url_without_a_server_is_a_clear_error():
    from grader.store import GradebookError

    pytest.importorskip("psycopg")
    with pytest.raises(GradebookError, match="cannot connect to the gradebook postgresql://u:\\*\\*\\*@127.0.0.1:9/x"):
        open_gradebook("postgresql://u:pw@127.0.0.1:9/x")


def test_other_databases_are_not_mistaken_for_a_gradebook(tmp_path):
    from grader.store import GradebookError

    path = tmp_path / "other.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")
    with pytest.raises(GradebookError, match="not a vae-grader gradebook"):
        open_gradebook(path)


# --- every reader on both engines ------------------------------------------------------------------------


def test_the_readers_work_on_both_engines(gradebook_target, tmp_path):
    from grader.outputs import exports, lms, report
    from grader.verbs import export as export_verb
    from grader.verbs import report as report_verb
    from grader.verbs.status import learner_status

    with open_gradebook(gradebook_target) as book:
        book.record_exercises("ada", result(1), "h1")
        book.record_exercises("ada", result(2), "h2")
        book.record_quiz(quiz("ada", 9))
        book.record_exercises("bob", result(3), "h3")
        book.record_problem("cy", "the archive is corrupt")
        exports.write_exports(book, tmp_path / "exports")
        rows = lms.gradebook_rows(book)
    target = gradebook_target if is_url(gradebook_target) else str(gradebook_target)

    st = learner_status(target, "ada")
    assert st.exercises["score"] == result(2).score and st.quiz["score"] == 9 and st.quiz["missed"] == [10]
    assert [r[3] for r in rows[2:]] == ["ada", "bob"] and rows[2][6] == "9"
    assert (tmp_path / "exports" / "results" / "ada.json").is_file()
    made = report_verb.write_class_report(outdir=tmp_path / "class", gradebook=target)
    page = made.page.read_text(encoding="utf-8")
    assert made.learner_pages == 3 and "the archive is corrupt" in page
    out, who = report_verb.write_learner_report(out=tmp_path / "ada.html", gradebook=target, learner="ada")
    assert who == "ada" and "9 / 10" in out.read_text(encoding="utf-8")
    assert export_verb.write_lms_csv(source=target, out=tmp_path / "canvas.csv") == 2


def test_a_batch_records_into_a_shared_gradebook_on_either_engine(gradebook_target, tmp_path):
    # `vaegrade batch --gradebook URL`: several batches (or TAs, or CI jobs) record into one server
    import shutil

    from click.testing import CliRunner

    from grader.cli import cli

    root = Path(__file__).resolve().parent.parent
    subs = tmp_path / "subs"
    for learner in ("alice", "bob"):
        (subs / learner).mkdir(parents=True)
        shutil.copy(root / "solutions" / "mse.py", subs / learner / "mse.py")
    target = str(gradebook_target)
    for run in range(2):   # the second run skips both: reruns are idempotent on the shared gradebook
        result = CliRunner().invoke(cli, ["batch", str(subs), "--out", str(tmp_path / "out"), "--gradebook", target,
                                          "-q", "--time-limit", "5"])
        assert result.exit_code == 0, result.output
    assert "2 submissions: 0 graded, 2 unchanged" in result.output
    with open_gradebook(target) as book:
        assert sorted(a.learner for a in book.attempts(kind="exercises")) == ["alice", "bob"]
    assert (tmp_path / "out" / "grades.csv").is_file()
    assert not (tmp_path / "out" / "gradebook.sqlite").exists() or target.endswith("gradebook.sqlite")
