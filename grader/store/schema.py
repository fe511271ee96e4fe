"""The gradebook's schema, the same on SQLite and PostgreSQL, and its forward migrations.

The version lives in the table schema_version (one row). Opening a gradebook
migrates it forward, under an exclusive lock, one version at a time; a
gradebook written by a newer grader is refused rather than misread.

Version 1 was SQLite only: the Gradescope results.json of each attempt in a
JSON column, the version in the file header (PRAGMA user_version).
Version 2 stores the typed records (grader.grading.results, the quiz's
QuizResult) column by column, with attempt ids unique across machines and a
unique key that makes reruns idempotent.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from grader.store.engines import Engine, GradebookError, SQLiteEngine

SCHEMA_VERSION = 2

#: {serial} is the engine's auto-numbered key. Times are ISO 8601 text in UTC, booleans 0/1.
TABLES = """
CREATE TABLE schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE attempts (
    seq            {serial},                 -- order of recording in this gradebook
    id             TEXT NOT NULL UNIQUE,     -- a UUID: unique across machines and gradebooks
    learner        TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('exercises', 'quiz')),
    graded_at      TEXT NOT NULL,
    grader_version TEXT NOT NULL,
    content_hash   TEXT,                     -- what was graded (files, or quiz answers); NULL: never deduplicated
    generation     INTEGER NOT NULL DEFAULT 0,   -- 0; n for the n-th deliberate regrade of the same content
    score          DOUBLE PRECISION NOT NULL,
    max_score      DOUBLE PRECISION NOT NULL,
    passed         INTEGER NOT NULL,
    pass_fraction  DOUBLE PRECISION NOT NULL,
    extra_json     TEXT NOT NULL,            -- the record's free-form extras, a JSON object
    seed           BIGINT,                   -- exercises
    submission     TEXT,                     -- exercises
    duration       DOUBLE PRECISION,         -- exercises
    public_only    INTEGER,                  -- exercises
    quiz_id        TEXT,                     -- quiz
    order_learner  TEXT,                     -- quiz
    graded_with    TEXT,                     -- quiz
    UNIQUE (learner, kind, content_hash, grader_version, generation)
);
CREATE INDEX attempts_by_learner ON attempts (learner, kind, seq);
CREATE INDEX attempts_by_kind ON attempts (kind, learner, seq);
CREATE TABLE concept_results (
    attempt_seq BIGINT NOT NULL REFERENCES attempts (seq) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    concept     TEXT NOT NULL,
    title       TEXT NOT NULL,
    section     TEXT NOT NULL,
    max_score   DOUBLE PRECISION NOT NULL,
    note        TEXT NOT NULL,
    PRIMARY KEY (attempt_seq, position)
);
CREATE TABLE check_results (
    attempt_seq   BIGINT NOT NULL REFERENCES attempts (seq) ON DELETE CASCADE,
    position      INTEGER NOT NULL,          -- order among all the attempt's checks
    concept_position INTEGER NOT NULL,       -- the concept_results row holding it
    concept       TEXT NOT NULL,
    name          TEXT NOT NULL,
    function      TEXT NOT NULL,
    max_score     DOUBLE PRECISION NOT NULL,
    score         DOUBLE PRECISION NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('passed', 'failed', 'error')),
    feedback      TEXT NOT NULL,
    misconception TEXT,                      -- an id; its label comes from the course manifest
    public        INTEGER NOT NULL,
    output        TEXT NOT NULL,
    PRIMARY KEY (attempt_seq, position)
);
CREATE INDEX check_results_by_misconception ON check_results (misconception);
CREATE TABLE quiz_answers (
    attempt_seq BIGINT NOT NULL REFERENCES attempts (seq) ON DELETE CASCADE,
    position    INTEGER NOT NULL,
    question_id TEXT NOT NULL,
    number      INTEGER NOT NULL,
    section     TEXT NOT NULL,
    chosen      TEXT,                        -- canonical option id, NULL when left blank
    letter      TEXT,                        -- the letter the learner picked, in their own order
    correct     INTEGER NOT NULL,
    PRIMARY KEY (attempt_seq, position)
);
CREATE TABLE problems (
    seq     {serial},
    id      TEXT NOT NULL UNIQUE,
    learner TEXT NOT NULL,
    at      TEXT NOT NULL,
    reason  TEXT NOT NULL                    -- why a submission could not be graded
);
CREATE INDEX problems_by_learner ON problems (learner, seq);
"""


def statements(engine: Engine, script: str) -> list[str]:
    text = "\n".join(line.split("--", 1)[0] for line in script.splitlines())
    return [s.strip().format(serial=engine.serial_key) for s in text.split(";") if s.strip()]


def current_version(engine: Engine) -> int:
    """0: an empty database; 1: the first SQLite layout; else the schema_version row."""
    tables = engine.tables()
    if "schema_version" in tables:
        row = engine.execute("SELECT MAX(version) FROM schema_version")
        return int(row[0][0] or 0)
    if not tables:
        return 0
    if "attempts" in tables and isinstance(engine, SQLiteEngine) and engine.user_version() == 1:
        return 1
    raise GradebookError(f"{engine.describe()} is not a vae-grader gradebook (it holds other tables: "
                         f"{', '.join(sorted(tables)[:5])})")


def migrate(engine: Engine) -> int:
    """Bring the gradebook to SCHEMA_VERSION (creating it when empty); returns the version found.

    An up-to-date gradebook is only read (a report may open one it cannot write);
    otherwise the version is checked again under the exclusive lock, so two
    processes opening a new gradebook at once create it once.
    """
    found = current_version(engine)
    if found == SCHEMA_VERSION:
        return found
    with engine.transaction(exclusive=True):
        found = current_version(engine)
        if found > SCHEMA_VERSION:
            raise GradebookError(f"{engine.describe()} was written by a newer grader (schema {found}, "
                                 f"this grader reads up to {SCHEMA_VERSION}): upgrade vae-grader")
        if found == SCHEMA_VERSION:
            return found
        if found == 0:
            _create(engine)
        else:
            for version in range(found + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[version](engine)
        engine.execute("DELETE FROM schema_version")
        engine.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
    return found


def _create(engine: Engine) -> None:
    for sql in statements(engine, TABLES):
        engine.execute(sql)


# --- version 1 (SQLite, the Gradescope dict in result_json) -> version 2 (typed columns) ---------------
_GRADESCOPE_EXTRA = ("seed", "grader_version", "submission", "pass_fraction", "public_only", "seed_source",
                     "content_hash", "not_graded")
_QUIZ_KEYS = ("quiz", "learner", "order_learner", "score", "max_score", "passed", "pass_fraction", "needed",
              "graded_with", "authoritative", "questions")


def _v2_from_v1(engine: Engine) -> None:
    for table in ("attempts", "check_results", "quiz_answers", "problems"):
        engine.execute(f"ALTER TABLE {table} RENAME TO v1_{table}")
    for index in ("attempts_by_learner", "check_results_by_attempt", "quiz_answers_by_attempt"):
        engine.execute(f"DROP INDEX IF EXISTS {index}")
    _create(engine)
    checks: dict[int, list[tuple]] = {}
    for row in engine.execute("SELECT attempt_id, concept, name, function, score, max_score, status, feedback,"
                              " misconception FROM v1_check_results ORDER BY rowid"):
        checks.setdefault(row[0], []).append(row[1:])
    answers: dict[int, list[tuple]] = {}
    for row in engine.execute("SELECT attempt_id, question_id, chosen, correct FROM v1_quiz_answers ORDER BY rowid"):
        answers.setdefault(row[0], []).append(row[1:])
    generations: dict[tuple, int] = {}
    for (old_id, learner, kind, graded_at, version, content_hash, seed, score, max_score, passed,
         text) in engine.execute("SELECT id, learner, kind, graded_at, grader_version, content_hash, seed, score,"
                                 " max_score, passed, result_json FROM v1_attempts ORDER BY id"):
        try:
            result = json.loads(text)
        except (TypeError, ValueError):
            result = {}
        result = result if isinstance(result, dict) else {}
        key = (learner, kind, content_hash, version)
        generation = generations.get(key, 0) if content_hash is not None else 0
        generations[key] = generation + 1
        row = {"id": uuid.uuid4().hex, "learner": learner, "kind": kind, "graded_at": graded_at,
               "grader_version": version, "content_hash": content_hash, "generation": generation,
               "score": score, "max_score": max_score, "passed": int(bool(passed))}
        if kind == "exercises":
            extra = result.get("extra_data") if isinstance(result.get("extra_data"), dict) else {}
            row.update(seed=seed, submission=str(extra.get("submission", "")),
                       duration=float(result.get("execution_time", 0.0) or 0.0),
                       pass_fraction=float(extra.get("pass_fraction", 0.75)),
                       public_only=int(bool(extra.get("public_only", False))),
                       extra_json=json.dumps({k: v for k, v in extra.items() if k not in _GRADESCOPE_EXTRA},
                                             sort_keys=True))
        else:
            row.update(quiz_id=str(result.get("quiz", "")), order_learner=str(result.get("order_learner", learner)),
                       graded_with=str(result.get("graded_with", "")),
                       pass_fraction=float(result.get("pass_fraction", 0.75)),
                       extra_json=json.dumps({k: v for k, v in result.items() if k not in _QUIZ_KEYS},
                                             sort_keys=True, default=str))
        cols = list(row)
        [(seq,)] = engine.execute(f"INSERT INTO attempts ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
                                  " RETURNING seq", [row[c] for c in cols])
        if kind == "exercises":
            _v1_exercises_children(engine, seq, result, checks.get(old_id, []))
        else:
            _v1_quiz_children(engine, seq, result, answers.get(old_id, []))
    for learner, at, reason in engine.execute("SELECT learner, at, reason FROM v1_problems ORDER BY id"):
        engine.execute("INSERT INTO problems (id, learner, at, reason) VALUES (?, ?, ?, ?)",
                       (uuid.uuid4().hex, learner, at, reason))
    for table in ("check_results", "quiz_answers", "attempts", "problems"):
        engine.execute(f"DROP TABLE v1_{table}")
    engine.execute("PRAGMA user_version=0")


def _v1_exercises_children(engine: Engine, seq: int, result: dict, checks: list[tuple]) -> None:
    concepts = result.get("concepts") if isinstance(result.get("concepts"), dict) else {}
    tests = result.get("tests") if isinstance(result.get("tests"), list) else []
    order = list(concepts) + [c[0] for c in checks if c[0] not in concepts]
    for position, cid in enumerate(dict.fromkeys(order)):
        entry = concepts.get(cid) if isinstance(concepts.get(cid), dict) else {}
        mine = [c for c in checks if c[0] == cid]
        engine.execute("INSERT INTO concept_results VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (seq, position, cid, str(entry.get("title", cid)), str(entry.get("section", "")),
                        float(entry.get("max_score", sum(c[4] for c in mine)) or 0.0), str(entry.get("note", ""))))
    where = {cid: i for i, cid in enumerate(dict.fromkeys(order))}
    for position, (concept, name, function, score, max_score, status, feedback, misconception) in enumerate(checks):
        test = tests[position] if position < len(tests) and isinstance(tests[position], dict) else {}
        printed = str(test.get("output", ""))
        marker = f"{feedback}\n\nYour code printed:\n"
        engine.execute("INSERT INTO check_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       (seq, position, where[concept], concept, name, function, max_score, score, status, feedback, misconception,
                        int(test.get("visibility") == "visible"),
                        printed[len(marker):] if printed.startswith(marker) else ""))


def _v1_quiz_children(engine: Engine, seq: int, result: dict, answers: list[tuple]) -> None:
    questions = result.get("questions") if isinstance(result.get("questions"), list) else []
    known = {str(q.get("id")): q for q in questions if isinstance(q, dict)}
    for position, (qid, chosen, correct) in enumerate(answers):
        q = known.get(qid, {})
        engine.execute("INSERT INTO quiz_answers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (seq, position, qid, int(q.get("number", position + 1) or position + 1),
                        str(q.get("section", "")), chosen, q.get("letter"), int(bool(correct))))


MIGRATIONS = {2: _v2_from_v1}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
