"""Exports rebuilt from the gradebook: grades.csv (one row per learner) and results/<learner>.json.

Both are derived data: the gradebook is the record, and every batch rewrites
the exports from it at the end. Each file is written to a temporary file and
moved into place with os.replace, so a reader (or a killed batch) only ever
sees a whole old file or a whole new one.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader.course import manifest
from grader.grading.results import AttemptRecord

GRADES_CSV = "grades.csv"
QUIZ_ITEMS_CSV = "quiz_items.csv"   #: one row per learner and quiz question (latest attempt): item analysis
RESULTS_DIR = "results"
TMP_DIR = ".tmp"   #: temporary files of the output folder; emptied by the next batch if one was killed


def safe_filename(learner: str) -> str:
    """A file name for the learner id: letters, digits, '.', '_', '-' only, never hidden or a path.

    An id that had to change gets a short hash of the original appended, so two
    different ids never share a file.
    """
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", learner).lstrip(".")[:80] or "learner"
    if clean != learner:
        clean += "-" + hashlib.sha256(learner.encode("utf-8", "surrogateescape")).hexdigest()[:8]
    return clean


def atomic_write(path: Path, data: bytes, tmp_dir: Path) -> bool:
    """Replace `path` by `data` in one step; False (nothing written) when it already holds exactly that."""
    try:
        if path.read_bytes() == data:
            return False
    except OSError:
        pass
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=path.name + ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return True


def columns() -> list[str]:
    """grades.csv's header: learner, one column per concept (its score), totals, quiz, completion."""
    return (["learner"] + [c.id for c in manifest.load()]
            + ["exercises_total", "exercises_max", "exercises_passed",
               "quiz_score", "quiz_max", "quiz_passed", "lesson_complete",
               "graded_at", "grader_version", "content_hash", "results_file", "problem"])


def _text(value: str) -> str:
    """A cell a spreadsheet would run as a formula (=, +, -, @ first) is prefixed with ' and kept as text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def _flag(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def grade_rows(book) -> list[dict[str, str]]:
    """One row per learner in the gradebook (graded, quiz only, or only a reported problem)."""
    exercises = book.latest_per_learner("exercises")
    quizzes = book.latest_per_learner("quiz", results=False)
    problems: dict[str, list[str]] = {}
    for learner, at, reason in book.problems():   # those reported since the latest grade (or ever, if none)
        ex = exercises.get(learner)
        if (ex is None or at >= ex.graded_at) and reason not in problems.get(learner, []):
            problems.setdefault(learner, []).append(reason)
    rows = []
    for learner in book.all_learners():
        ex: AttemptRecord | None = exercises.get(learner)
        quiz: AttemptRecord | None = quizzes.get(learner)
        row = dict.fromkeys(columns(), "")
        row["learner"] = _text(learner)
        if ex is not None:
            concepts = {c.id: c for c in ex.result.concepts} if ex.result is not None else {}
            for c in manifest.load():
                if c.id in concepts:
                    row[c.id] = _num(concepts[c.id].score)
            row.update(exercises_total=_num(ex.score), exercises_max=_num(ex.max_score),
                       exercises_passed=_flag(ex.passed), graded_at=ex.graded_at,
                       grader_version=ex.grader_version, content_hash=ex.content_hash or "",
                       results_file=f"{RESULTS_DIR}/{safe_filename(learner)}.json")
        if quiz is not None:
            row.update(quiz_score=_num(quiz.score), quiz_max=_num(quiz.max_score), quiz_passed=_flag(quiz.passed))
        row["lesson_complete"] = _flag(bool(ex and ex.passed and quiz and quiz.passed))
        row["problem"] = _text(" | ".join(problems.get(learner, [])))
        rows.append(row)
    return rows


def grades_csv(book) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns(), lineterminator="\n")
    writer.writeheader()
    writer.writerows(grade_rows(book))
    return out.getvalue()


def quiz_items_csv(book) -> str:
    """Per-question correctness of each learner's latest quiz attempt: which questions are missed, with what."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["learner", "question", "number", "chosen", "correct", "graded_with"])
    for learner, attempt in sorted(book.latest_per_learner("quiz").items()):
        if attempt.result is None:
            continue
        for q in attempt.result.questions:
            writer.writerow([learner, q.id, q.number, q.chosen or "", _flag(q.correct), attempt.result.graded_with])
    return out.getvalue()


@dataclass
class Exported:
    learners: int      #: rows in grades.csv
    results: int       #: results/*.json files the gradebook holds
    written: int       #: files actually rewritten (the others were already up to date)


def write_exports(book, out: Path) -> Exported:
    """Rewrite out/grades.csv and out/results/<learner>.json from the gradebook."""
    out = Path(out)
    tmp = out / TMP_DIR
    results = out / RESULTS_DIR
    results.mkdir(parents=True, exist_ok=True)
    written = 0
    latest = {k: a for k, a in book.latest_per_learner("exercises").items() if a.result is not None}
    for learner, attempt in latest.items():
        data = (json.dumps(attempt.result.to_gradescope_dict(), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
        written += atomic_write(results / f"{safe_filename(learner)}.json", data, tmp)
    text = grades_csv(book)
    written += atomic_write(out / GRADES_CSV, text.encode("utf-8"), tmp)
    written += atomic_write(out / QUIZ_ITEMS_CSV, quiz_items_csv(book).encode("utf-8"), tmp)
    return Exported(text.count("\n") - 1, len(latest), written)
