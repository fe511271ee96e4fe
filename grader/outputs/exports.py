"""Exports rebuilt from the gradebook: grades.csv (one row per learner) and results/<learner>.json.

Both are derived data: the gradebook is the record, and every batch rewrites
the exports from it at the end. Each file is written to a temporary file and
moved into place with os.replace, so a reader (or a killed batch) only ever
sees a whole old file or a whole new one.

Which attempt counts is the course policy's choice (grader.course.policy: latest, best, or best
before the due date, with late penalties, extensions and an as_of cutoff); every row says which
attempt counted and why (`counted_attempt`, `submitted_at`, `late_penalty`, `exercises_final`,
`counted_reason`, `policy`). With no policy file, the latest attempt counts and nothing is late.
The `learner` column is an identity column, written exactly; display text (problems, reasons)
that a spreadsheet would run as a formula is prefixed with '.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from grader import safetext
from grader.course import manifest
from grader.course import policy as policies
from grader.grading.results import AttemptRecord

GRADES_CSV = "grades.csv"
QUIZ_ITEMS_CSV = "quiz_items.csv"   #: one row per learner and quiz question (latest attempt): item analysis
RESULTS_DIR = "results"
TMP_DIR = ".tmp"   #: temporary files of the output folder; emptied by the next batch if one was killed


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
               "graded_at", "grader_version", "content_hash", "results_file", "problem",
               "submitted_at", "counted_attempt", "late_penalty", "exercises_final", "quiz_final",
               "counted_reason", "policy"])


def submitted_at(attempt: AttemptRecord):
    """When the attempt was handed in (recorded from the archive, the LMS, Gradescope or CI), or None."""
    extra = getattr(attempt.result, "extra", None) if attempt is not None else None
    value = extra.get("submitted_at") if isinstance(extra, dict) else None
    try:
        return policies.parse_time(value) if value else None
    except ValueError:
        return None


def all_attempts(book, kind: str) -> dict[str, list[AttemptRecord]]:
    """learner -> every attempt of this kind with its typed result, oldest first (one read)."""
    found: dict[str, list[AttemptRecord]] = {}
    for a in book.attempts(kind=kind, results=True):
        found.setdefault(a.learner, []).append(a)
    return found


def counted(attempts: list[AttemptRecord], learner: str, kind: str, policy: policies.Policy) -> policies.Counted:
    """The attempt of this kind that counts for the learner under the policy, and why."""
    if kind == "quiz":   # a local check with the learner copy of the quiz is not a grade
        attempts = [a for a in attempts if a.result is None or getattr(a.result, "authoritative", True)]
    return policy.choose(learner, attempts, submitted_at=submitted_at, score=lambda a: a.score)


#: A display cell: inert text a spreadsheet never runs as a formula (=, +, -, @, tab, CR first).
_text = safetext.csv_cell


def _flag(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def grade_rows(book, policy: policies.Policy | None = None) -> list[dict[str, str]]:
    """One row per learner in the gradebook (graded, quiz only, or only a reported problem)."""
    policy = policy or policies.Policy()
    every_ex, every_quiz = all_attempts(book, "exercises"), all_attempts(book, "quiz")
    problems: dict[str, list[str]] = {}
    for learner, at, reason in book.problems():   # those reported since the latest grade (or ever, if none)
        last = every_ex.get(learner, [None])[-1]
        if (last is None or at >= last.graded_at) and reason not in problems.get(learner, []):
            problems.setdefault(learner, []).append(reason)
    rows = []
    for learner in book.all_learners():
        ex_count = counted(every_ex.get(learner, []), learner, "exercises", policy)
        quiz_count = counted(every_quiz.get(learner, []), learner, "quiz", policy)
        ex: AttemptRecord | None = ex_count.attempt
        quiz: AttemptRecord | None = quiz_count.attempt
        row = dict.fromkeys(columns(), "")
        # grades.csv is opened in spreadsheets: the learner id a submission chose is shown, never run as a
        # formula ("-dave" is written '-dave). The LMS imports keep identity columns exact (README).
        row["learner"] = _text(learner)
        if ex is not None:
            concepts = {c.id: c for c in ex.result.concepts} if ex.result is not None else {}
            for c in manifest.load():
                if c.id in concepts:
                    row[c.id] = _num(concepts[c.id].score)
            row.update(exercises_total=_num(ex.score), exercises_max=_num(ex.max_score),
                       exercises_passed=_flag(ex.passed), graded_at=ex.graded_at,
                       grader_version=ex.grader_version, content_hash=ex.content_hash or "",
                       results_file=f"{RESULTS_DIR}/{safetext.file_stem(learner)}.json",
                       submitted_at=policies.iso(submitted_at(ex)), counted_attempt=str(ex.id),
                       late_penalty=_num(ex_count.penalty), exercises_final=_num(ex_count.score))
        if quiz is not None:
            row.update(quiz_score=_num(quiz.score), quiz_max=_num(quiz.max_score), quiz_passed=_flag(quiz.passed),
                       quiz_final=_num(quiz_count.score))
        row["lesson_complete"] = _flag(bool(ex and ex.passed and quiz and quiz.passed))
        row["problem"] = _text(" | ".join(problems.get(learner, [])))
        reasons = [f"exercises: {ex_count.reason}" if ex is not None else "",
                   f"quiz (attempt {quiz.id}): {quiz_count.reason}" if quiz is not None else ""]
        row["counted_reason"] = _text("; ".join(r for r in reasons if r))
        row["policy"] = _text(policy.describe())
        rows.append(row)
    return rows


def grades_csv(book, policy: policies.Policy | None = None) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns(), lineterminator="\n")
    writer.writeheader()
    writer.writerows(grade_rows(book, policy))
    return out.getvalue()


def quiz_items_csv(book) -> str:
    """Per-question correctness of each learner's latest quiz attempt: which questions are missed, with what."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["learner", "question", "number", "chosen", "correct", "graded_with"])
    for learner, attempt in sorted(book.latest_per_learner("quiz").items()):
        if attempt.result is None:
            continue
        for q in attempt.result.questions:   # learner ids and answers are learner text: shown, never run
            writer.writerow([_text(learner), _text(q.id), _text(q.number), _text(q.chosen or ""), _flag(q.correct),
                             _text(attempt.result.graded_with)])
    return out.getvalue()


@dataclass
class Exported:
    learners: int      #: rows in grades.csv
    results: int       #: results/*.json files the gradebook holds
    written: int       #: files actually rewritten (the others were already up to date)


def write_exports(book, out: Path, policy: policies.Policy | None = None, *, encoding: str = "utf-8") -> Exported:
    """Rewrite out/grades.csv and out/results/<learner>.json (the counted attempt's) from the gradebook.

    encoding="utf-8-sig" writes the CSV files with the byte order mark Excel needs for non-ASCII names.
    """
    out = Path(out)
    tmp = out / TMP_DIR
    results = out / RESULTS_DIR
    results.mkdir(parents=True, exist_ok=True)
    written = 0
    policy = policy or policies.Policy()
    latest = {}
    for learner, attempts in all_attempts(book, "exercises").items():
        attempt = counted(attempts, learner, "exercises", policy).attempt
        if attempt is not None and attempt.result is not None:
            latest[learner] = attempt
    names = safetext.file_stems(latest)   # checked: two learners never share a file, case-folded
    for learner, attempt in latest.items():
        data = (safetext.json_dumps(attempt.result.to_gradescope_dict(), indent=2) + "\n").encode("utf-8")
        written += atomic_write(results / f"{names[learner]}.json", data, tmp)
    text = grades_csv(book, policy)
    written += atomic_write(out / GRADES_CSV, text.encode(encoding), tmp)
    written += atomic_write(out / QUIZ_ITEMS_CSV, quiz_items_csv(book).encode(encoding), tmp)
    return Exported(text.count("\n") - 1, len(latest), written)
