"""The gradebook: every attempt, exercises and quiz, in one embedded SQLite database (WAL).

One attempt is written in one transaction, so a killed grader leaves either
the whole attempt or nothing. Readers (reports, exports) use the same API.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE IF NOT EXISTS attempts (
    id             INTEGER PRIMARY KEY,
    learner        TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('exercises', 'quiz')),
    graded_at      TEXT NOT NULL,            -- ISO 8601, UTC
    grader_version TEXT NOT NULL,
    content_hash   TEXT,                     -- sha256 of the submission's files (exercises) or answers (quiz)
    seed           INTEGER,                  -- exercises: reproduces the random inputs
    score          REAL NOT NULL,
    max_score      REAL NOT NULL,
    passed         INTEGER NOT NULL,
    result_json    TEXT NOT NULL             -- exercises: Gradescope results.json; quiz: the graded attempt
);
CREATE INDEX IF NOT EXISTS attempts_by_learner ON attempts (learner, kind, id);
CREATE TABLE IF NOT EXISTS check_results (
    attempt_id    INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    concept       TEXT NOT NULL,
    name          TEXT NOT NULL,
    function      TEXT NOT NULL,
    score         REAL NOT NULL,
    max_score     REAL NOT NULL,
    status        TEXT NOT NULL,
    feedback      TEXT NOT NULL,
    misconception TEXT
);
CREATE INDEX IF NOT EXISTS check_results_by_attempt ON check_results (attempt_id);
CREATE TABLE IF NOT EXISTS quiz_answers (
    attempt_id  INTEGER NOT NULL REFERENCES attempts (id) ON DELETE CASCADE,
    question_id TEXT NOT NULL,
    chosen      TEXT,                        -- canonical option id (a-d) or NULL when unanswered
    correct     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS quiz_answers_by_attempt ON quiz_answers (attempt_id);
CREATE TABLE IF NOT EXISTS problems (
    id        INTEGER PRIMARY KEY,
    learner   TEXT NOT NULL,
    at        TEXT NOT NULL,
    reason    TEXT NOT NULL                  -- why a submission could not be graded
);
"""


@dataclass(frozen=True)
class Attempt:
    id: int
    learner: str
    kind: str
    graded_at: str
    grader_version: str
    content_hash: str | None
    seed: int | None
    score: float
    max_score: float
    passed: bool
    result: dict


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Gradebook:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA synchronous=NORMAL")
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"{self.path} was written by a newer grader (schema {version})")
        with self.db:
            self.db.executescript(SCHEMA)
            self.db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Gradebook":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writing ---------------------------------------------------------------
    def record_exercises(self, learner: str, result, content_hash: str | None) -> int:
        """Store one graded submission (a grader.grading.results.GradingResult) with all its checks."""
        with self.db:
            cur = self.db.execute(
                "INSERT INTO attempts (learner, kind, graded_at, grader_version, content_hash, seed,"
                " score, max_score, passed, result_json) VALUES (?, 'exercises', ?, ?, ?, ?, ?, ?, ?, ?)",
                (learner, now(), result.grader_version, content_hash, result.seed, result.score,
                 result.max_score, int(result.passed), json.dumps(result.to_gradescope_dict())))
            attempt = cur.lastrowid
            self.db.executemany(
                "INSERT INTO check_results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(attempt, c.concept, c.name, c.function, c.score, c.max_score, c.status.value,
                  c.feedback, c.misconception) for c in result.checks])
        return attempt

    def record_quiz(self, learner: str, *, score: float, max_score: float, passed: bool,
                    answers: list[tuple[str, str | None, bool]], result: dict,
                    grader_version: str, content_hash: str | None = None) -> int:
        """Store one graded quiz attempt; answers are (question id, canonical option id, correct)."""
        with self.db:
            cur = self.db.execute(
                "INSERT INTO attempts (learner, kind, graded_at, grader_version, content_hash, seed,"
                " score, max_score, passed, result_json) VALUES (?, 'quiz', ?, ?, ?, NULL, ?, ?, ?, ?)",
                (learner, now(), grader_version, content_hash, score, max_score, int(passed),
                 json.dumps(result)))
            attempt = cur.lastrowid
            self.db.executemany("INSERT INTO quiz_answers VALUES (?, ?, ?, ?)",
                                [(attempt, q, chosen, int(ok)) for q, chosen, ok in answers])
        return attempt

    def record_problem(self, learner: str, reason: str) -> None:
        with self.db:
            self.db.execute("INSERT INTO problems (learner, at, reason) VALUES (?, ?, ?)",
                            (learner, now(), reason))

    # --- reading ---------------------------------------------------------------
    def _attempts(self, where: str, params: tuple) -> list[Attempt]:
        rows = self.db.execute(
            "SELECT id, learner, kind, graded_at, grader_version, content_hash, seed, score, max_score,"
            f" passed, result_json FROM attempts WHERE {where} ORDER BY id", params).fetchall()
        return [Attempt(*r[:9], bool(r[9]), json.loads(r[10])) for r in rows]

    def attempts(self, learner: str, kind: str | None = None) -> list[Attempt]:
        if kind is None:
            return self._attempts("learner = ?", (learner,))
        return self._attempts("learner = ? AND kind = ?", (learner, kind))

    def latest(self, learner: str, kind: str) -> Attempt | None:
        found = self.attempts(learner, kind)
        return found[-1] if found else None

    def learners(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT learner FROM attempts ORDER BY learner")]

    def already_graded(self, learner: str, content_hash: str, grader_version: str, kind: str = "exercises") -> bool:
        return self.db.execute(
            "SELECT 1 FROM attempts WHERE learner = ? AND kind = ? AND content_hash = ? AND grader_version = ?",
            (learner, kind, content_hash, grader_version)).fetchone() is not None

    def quiz_answers(self, attempt_id: int) -> list[tuple[str, str | None, bool]]:
        return [(q, c, bool(ok)) for q, c, ok in self.db.execute(
            "SELECT question_id, chosen, correct FROM quiz_answers WHERE attempt_id = ? ORDER BY rowid",
            (attempt_id,))]

    def check_results(self, attempt_id: int) -> list[dict]:
        cols = ("concept", "name", "function", "score", "max_score", "status", "feedback", "misconception")
        return [dict(zip(cols, r)) for r in self.db.execute(
            f"SELECT {', '.join(cols)} FROM check_results WHERE attempt_id = ? ORDER BY rowid", (attempt_id,))]

    def problems(self) -> list[tuple[str, str, str]]:
        return list(self.db.execute("SELECT learner, at, reason FROM problems ORDER BY id"))

    # --- whole-class reads (batch grading, exports): one query each, not one per learner ---
    def latest_all(self, kind: str) -> dict[str, Attempt]:
        """Each learner's latest attempt of this kind."""
        found = self._attempts("id IN (SELECT MAX(id) FROM attempts WHERE kind = ? GROUP BY learner)", (kind,))
        return {a.learner: a for a in found}

    def graded_hashes(self, grader_version: str, kind: str = "exercises") -> dict[str, set[str]]:
        """learner -> content hashes already graded by this grader version (what a rerun skips)."""
        found: dict[str, set[str]] = {}
        for learner, digest in self.db.execute(
                "SELECT learner, content_hash FROM attempts WHERE kind = ? AND grader_version = ?"
                " AND content_hash IS NOT NULL", (kind, grader_version)):
            found.setdefault(learner, set()).add(digest)
        return found

    def latest_problems(self) -> dict[str, tuple[str, str]]:
        """learner -> (at, reason) of the latest problem reported for that learner."""
        return {learner: (at, reason) for learner, at, reason in self.db.execute(
            "SELECT learner, at, reason FROM problems WHERE id IN (SELECT MAX(id) FROM problems GROUP BY learner)")}

    def all_learners(self) -> list[str]:
        """Every learner with an attempt or a reported problem."""
        return [r[0] for r in self.db.execute(
            "SELECT learner FROM attempts UNION SELECT learner FROM problems ORDER BY 1")]
