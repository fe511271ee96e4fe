"""The gradebook: every attempt, exercises and quiz, stored as the typed records grading produced.

Writers hand it a GradingResult or a QuizResult; readers get AttemptRecords
whose `result` is that same typed record again (equal to the one stored), so
no reader parses feedback text or a Gradescope dict. Every statement is
written once for both engines (grader.store.engines: SQLite by default,
PostgreSQL for a postgresql:// URL).

The promises, on both engines:
- one transaction per attempt: a killed grader leaves a whole attempt or none;
- reruns are idempotent: an attempt is unique by (learner, kind, content hash,
  grader version), so recording it again stores nothing (a deliberate regrade
  says so, and is kept as a new generation);
- attempt ids are UUIDs, unique across machines and gradebooks;
- several writers (batches, CI jobs) at once are safe: each attempt is
  recorded exactly once.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import grader
from grader.grading.quiz import QuestionResult, QuizResult
from grader.grading.results import AttemptRecord, CheckResult, ConceptResult, GradingResult, Problem  # noqa: F401
from grader.store import schema
from grader.store.engines import Engine, GradebookError, GradebookMissing, connect, driver_errors  # noqa: F401

SCHEMA_VERSION = schema.SCHEMA_VERSION
KINDS = ("exercises", "quiz")


_ATTEMPT = ("seq", "id", "learner", "kind", "graded_at", "grader_version", "content_hash", "generation", "score",
            "max_score", "passed", "pass_fraction", "extra_json", "seed", "submission", "duration", "public_only",
            "quiz_id", "order_learner", "graded_with")
_CONCEPT = ("attempt_seq", "position", "concept", "title", "section", "max_score", "note")
_CHECK = ("attempt_seq", "position", "concept_position", "concept", "name", "function", "max_score", "score", "status", "feedback",
          "misconception", "public", "output")
_QUESTION = ("attempt_seq", "position", "question_id", "number", "section", "chosen", "letter", "correct")


def _insert(table: str, cols: tuple[str, ...]) -> str:
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"


class Gradebook:
    """A gradebook on either engine: `Gradebook(path)`, `Gradebook("postgresql://...")` (or open_gradebook)."""

    def __init__(self, target: str | Path, *, create: bool = True):
        self.target = target
        self.engine: Engine = connect(target, create=create)
        try:
            with self._errors("open"):
                schema.migrate(self.engine)
        except BaseException:
            self.engine.close()
            raise

    # --- plumbing ----------------------------------------------------------------------------
    @property
    def db(self):
        """The engine's DB-API connection (for tests and diagnostics; the gradebook's own SQL is here)."""
        return self.engine.conn

    @property
    def engine_name(self) -> str:
        return self.engine.name

    def describe(self) -> str:
        """Where the gradebook is, for messages (a URL without its password)."""
        return self.engine.describe()

    def __repr__(self) -> str:
        return f"Gradebook({self.describe()!r})"

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        try:
            yield
        except GradebookError:
            raise
        except driver_errors() as exc:
            raise GradebookError(f"cannot {doing} the gradebook {self.describe()}: "
                                 f"{str(exc).strip() or type(exc).__name__}") from exc

    def close(self) -> None:
        self.engine.close()

    def __enter__(self) -> "Gradebook":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        with self._errors("read"):
            return schema.current_version(self.engine)

    # --- writing -----------------------------------------------------------------------------
    def record_exercises(self, learner: str, result: GradingResult, content_hash: str | None = None, *,
                         regrade: bool = False) -> str | None:
        """Store one graded submission with its concepts and checks, in one transaction.

        Returns the new attempt's id, or None when this attempt (learner, content
        hash, grader version) was already recorded. regrade=True always stores a
        new attempt (a deliberate regrade of the same files).
        """
        row = {**result.to_row(), "learner": learner, "kind": "exercises",
               "content_hash": content_hash if content_hash is not None else (result.content_hash or None)}
        concepts = [(i, c.to_row()) for i, c in enumerate(result.concepts)]
        checks = [(i, {**check.to_row(), "concept_position": n})
                  for i, (n, check) in enumerate((n, check) for n, c in enumerate(result.concepts) for check in c.checks)]

        def children(seq: int) -> None:
            self.engine.executemany(_insert("concept_results", _CONCEPT),
                                    [[seq, i] + [r[c] for c in _CONCEPT[2:]] for i, r in concepts])
            self.engine.executemany(_insert("check_results", _CHECK),
                                    [[seq, i] + [r[c] for c in _CHECK[2:]] for i, r in checks])

        return self._record(row, children, regrade)

    def record_quiz(self, result: QuizResult, *, content_hash: str | None = None,
                    grader_version: str | None = None, regrade: bool = False) -> str | None:
        """Store one graded quiz attempt (for result.learner) with its answers, in one transaction.

        Returns the new attempt's id, or None when already recorded (see record_exercises).
        """
        if grader_version is None:
            grader_version = grader.__version__
        row = {**result.to_row(), "kind": "quiz", "content_hash": content_hash, "grader_version": grader_version}
        questions = [(i, q.to_row()) for i, q in enumerate(result.questions)]

        def children(seq: int) -> None:
            self.engine.executemany(_insert("quiz_answers", _QUESTION),
                                    [[seq, i] + [r[c] for c in _QUESTION[2:]] for i, r in questions])

        return self._record(row, children, regrade)

    def _record(self, row: dict, children, regrade: bool) -> str | None:
        cols = [c for c in _ATTEMPT if c != "seq"]
        key = (row["learner"], row["kind"], row["content_hash"], row["grader_version"])
        for _ in range(5):   # a concurrent regrade may take our generation first: count again
            attempt_id = uuid.uuid4().hex
            with self._errors("write"), self.engine.transaction():
                generation = 0
                if regrade and row["content_hash"] is not None:
                    [(generation,)] = self.engine.execute(
                        "SELECT COALESCE(MAX(generation) + 1, 0) FROM attempts WHERE learner = ? AND kind = ?"
                        " AND content_hash = ? AND grader_version = ?", key)
                values = {**row, "id": attempt_id, "graded_at": schema.now(), "generation": generation}
                inserted = self.engine.execute(
                    _insert("attempts", tuple(cols)) + " ON CONFLICT (learner, kind, content_hash, grader_version,"
                    " generation) DO NOTHING RETURNING seq", [values.get(c) for c in cols])
                if inserted:
                    children(inserted[0][0])
                    return attempt_id
            if not regrade:
                return None
        raise GradebookError(f"cannot write the gradebook {self.describe()}: too many concurrent regrades")

    def record_problem(self, learner: str, reason: str) -> None:
        """Note that a learner's submission could not be graded (kept with the time)."""
        with self._errors("write"), self.engine.transaction():
            self.engine.execute("INSERT INTO problems (id, learner, at, reason) VALUES (?, ?, ?, ?)",
                                (uuid.uuid4().hex, learner, schema.now(), reason))

    # --- reading -----------------------------------------------------------------------------
    def _select(self, where: str, params: tuple, results: bool) -> list[AttemptRecord]:
        """Attempts matching `where` (oldest first), with their typed results when asked: four queries in all."""
        with self._errors("read"), self.engine.snapshot():
            rows = [dict(zip(_ATTEMPT, r)) for r in self.engine.execute(
                f"SELECT {', '.join(_ATTEMPT)} FROM attempts WHERE {where} ORDER BY seq", params)]
            if not results or not rows:
                return [_summary(r) for r in rows]
            inner = f"SELECT seq FROM attempts WHERE {where}"
            concepts = _children(self.engine.execute(
                f"SELECT {', '.join(_CONCEPT)} FROM concept_results WHERE attempt_seq IN ({inner})"
                " ORDER BY attempt_seq, position", params), _CONCEPT)
            checks = _children(self.engine.execute(
                f"SELECT {', '.join(_CHECK)} FROM check_results WHERE attempt_seq IN ({inner})"
                " ORDER BY attempt_seq, position", params), _CHECK)
            questions = _children(self.engine.execute(
                f"SELECT {', '.join(_QUESTION)} FROM quiz_answers WHERE attempt_seq IN ({inner})"
                " ORDER BY attempt_seq, position", params), _QUESTION)
        return [_full(r, concepts.get(r["seq"], []), checks.get(r["seq"], []), questions.get(r["seq"], []))
                for r in rows]

    def attempts(self, learner: str | None = None, kind: str | None = None, *,
                 results: bool = False) -> list[AttemptRecord]:
        """Every attempt (of one learner, of one kind), oldest first; results=True loads the typed results."""
        where, params = _where(learner=learner, kind=kind)
        return self._select(where, params, results)

    def attempt(self, attempt_id: str) -> AttemptRecord | None:
        """One attempt by its id, with its typed result."""
        found = self._select("id = ?", (attempt_id,), True)
        return found[0] if found else None

    def latest(self, learner: str, kind: str) -> AttemptRecord | None:
        """A learner's latest attempt of this kind, with its typed result."""
        found = self.latest_per_learner(kind, learner=learner)
        return found.get(learner)

    def latest_per_learner(self, kind: str, *, learner: str | None = None,
                           results: bool = True) -> dict[str, AttemptRecord]:
        """Each learner's latest attempt of this kind (one learner's with learner=...)."""
        where, params = _where(learner=learner, kind=kind)
        found = self._select(f"seq IN (SELECT MAX(seq) FROM attempts WHERE {where} GROUP BY learner)",
                             params, results)
        return {a.learner: a for a in found}

    latest_all = latest_per_learner   #: the name the batch used first

    def quiz_attempts(self, learner: str | None = None, *, results: bool = True) -> list[AttemptRecord]:
        """Every quiz attempt (of one learner), oldest first, with the typed QuizResults."""
        return self.attempts(learner, "quiz", results=results)

    def learners(self) -> list[str]:
        """Learners with at least one attempt, sorted."""
        with self._errors("read"):
            return sorted(r[0] for r in self.engine.execute("SELECT DISTINCT learner FROM attempts"))

    def all_learners(self) -> list[str]:
        """Learners with an attempt or a reported problem, sorted."""
        with self._errors("read"), self.engine.snapshot():
            found = {r[0] for r in self.engine.execute("SELECT DISTINCT learner FROM attempts")}
            found |= {r[0] for r in self.engine.execute("SELECT DISTINCT learner FROM problems")}
        return sorted(found)

    def already_graded(self, learner: str, content_hash: str, grader_version: str, kind: str = "exercises") -> bool:
        with self._errors("read"):
            return bool(self.engine.execute(
                "SELECT 1 FROM attempts WHERE learner = ? AND kind = ? AND content_hash = ? AND grader_version = ?",
                (learner, kind, content_hash, grader_version)))

    def graded_hashes(self, grader_version: str, kind: str = "exercises") -> dict[str, set[str]]:
        """learner -> content hashes already graded by this grader version (what a rerun skips)."""
        found: dict[str, set[str]] = {}
        with self._errors("read"):
            for learner, digest in self.engine.execute(
                    "SELECT learner, content_hash FROM attempts WHERE kind = ? AND grader_version = ?"
                    " AND content_hash IS NOT NULL", (kind, grader_version)):
                found.setdefault(learner, set()).add(digest)
        return found

    def problems(self, learner: str | None = None) -> list[Problem]:
        """Every reported problem (of one learner), oldest first."""
        where, params = _where(learner=learner)
        with self._errors("read"):
            return [Problem(*r) for r in self.engine.execute(
                f"SELECT learner, at, reason FROM problems WHERE {where} ORDER BY seq", params)]

    def latest_problems(self) -> dict[str, tuple[str, str]]:
        """learner -> (at, reason) of the latest problem reported for that learner."""
        return {p.learner: (p.at, p.reason) for p in self.problems()}


def open_gradebook(target: str | Path, *, create: bool = True) -> Gradebook:
    """The gradebook at `target`: a postgresql:// URL, else a SQLite file (created unless create=False)."""
    return Gradebook(target, create=create)


def _where(**equal) -> tuple[str, tuple]:
    used = [(k, v) for k, v in equal.items() if v is not None]
    return (" AND ".join(f"{k} = ?" for k, _ in used) or "1 = 1"), tuple(v for _, v in used)


def _children(rows: list[tuple], cols: tuple[str, ...]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for r in rows:
        out.setdefault(r[0], []).append(dict(zip(cols, r)))
    return out


def _summary(row: dict, result=None) -> AttemptRecord:
    return AttemptRecord(id=row["id"], learner=row["learner"], kind=row["kind"], graded_at=row["graded_at"],
                         grader_version=row["grader_version"], content_hash=row["content_hash"],
                         score=float(row["score"]), max_score=float(row["max_score"]), passed=bool(row["passed"]),
                         seed=None if row["seed"] is None else int(row["seed"]), result=result)


def _full(row: dict, concepts: list[dict], checks: list[dict], questions: list[dict]) -> AttemptRecord:
    try:
        if row["kind"] == "exercises":
            by_concept: dict[int, list[CheckResult]] = {}
            for c in checks:
                by_concept.setdefault(c["concept_position"], []).append(CheckResult.from_row(c))
            result = GradingResult.from_row(row, [ConceptResult.from_row(c, by_concept.get(c["position"], []))
                                                  for c in concepts])
        else:
            result = QuizResult.from_row(row, [QuestionResult.from_row(q) for q in questions])
    except (KeyError, TypeError, ValueError):   # a damaged record: its summary is still true
        result = None
    return _summary(row, result)
