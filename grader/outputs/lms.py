"""Grades for an LMS gradebook, read from the batch gradebook: Canvas's import CSV and Moodle's.

**Canvas** (`vaegrade export lms`; Canvas matches a row to a student by ID, SIS User ID or SIS Login ID):

| column | holds |
| --- | --- |
| Student | the learner's name (from --roster), else the learner id; a display column |
| ID | the LMS's numeric user id (from --roster), else blank |
| SIS User ID | from --roster, else blank |
| SIS Login ID | from --roster, else the learner id (the submission's folder or archive name) |
| Section | from --roster, else blank; a display column |
| <exercises column> | points of the counted exercises attempt after any late penalty (blank: never graded) |
| <quiz column> | right answers of the counted quiz attempt graded with the staff key, after any late penalty (blank: none) |
| <lesson column> | 1 when both passed (the lesson is complete), else 0; blank when nothing was graded |

The second row is Canvas's "Points Possible" row (exercises: the manifest's total; quiz: the
number of questions; lesson: 1). A column named "Name (1234)" updates Canvas assignment 1234;
a plain name creates a new assignment on import.

**Moodle** (`vaegrade export moodle`; "Import grades, CSV file", then map one identity column to
a user field and each grade column to a grade item): Email address, Username, ID number (identity
columns), First name, Last name (display), then the three grade columns as above. No "Points
Possible" row (Moodle would read it as a user); blank grades are left unchanged by the import.

Identity columns (ID, SIS User ID, SIS Login ID, Email address, Username, ID number) are written
exactly as the LMS holds them, so that the importer can match them: a login such as `-dave` stays
`-dave`. Display columns (names, sections) that a spreadsheet would run as a formula (=, +, -, @
first) are prefixed with ' and kept as text. Which attempt counts, and why, goes to a sidecar
file `<OUT>.counted.csv` (learner, counted_attempt, submitted_at, late_penalty, reason, policy):
any extra column in the import file would become a new assignment in Canvas.
`encoding="utf-8-sig"` (`--excel`) writes a byte order mark, so Excel shows non-ASCII names right.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from grader import safetext
from grader.course import manifest
from grader.course import policy as policies
from grader.course.quizdata import QUESTION_COUNT
from grader.outputs.exports import all_attempts, counted, submitted_at

IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_IDENTITY = ("Email address", "Username", "ID number", "First name", "Last name")
DISPLAY = frozenset({"Student", "Section", "First name", "Last name"})   #: the only columns formula-neutralised
POINTS_ROW = "Points Possible"
ENCODINGS = ("utf-8", "utf-8-sig")


class ExportError(Exception):
    """The export cannot be written (no gradebook, unreadable roster): exit status 2."""


def _cell(text, column: str = "Student") -> str:
    """A display column's text: inert, never run as a formula; an identity column's (what the LMS
    matches): kept exactly, only made encodable."""
    return safetext.csv_cell(text) if column in DISPLAY else safetext.csv_identity(text)


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def read_roster(path: Path, fields: tuple[str, ...] = IDENTITY) -> dict[str, dict[str, str]]:
    """learner id -> identity columns, from a CSV with a `learner` column plus any of `fields`."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "learner" not in reader.fieldnames:
                raise ExportError(f"{path}: the roster needs a 'learner' column (the submission folder name), "
                                  f"plus any of: {', '.join(fields)}")
            return {row["learner"].strip(): {k: (row.get(k) or "").strip() for k in fields}
                    for row in reader if (row.get("learner") or "").strip()}
    except OSError as exc:
        raise ExportError(f"cannot read the roster {path}: {exc.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ExportError(f"{path} is not a readable CSV file: {exc}") from None


@dataclass
class Graded:
    """One learner's counted grades, as every LMS export writes them."""

    learner: str
    exercises: float | None
    quiz: float | None
    lesson: bool | None
    counted_attempt: str
    submitted_at: str
    late_penalty: str
    reason: str


def graded(book, policy=None) -> dict[str, Graded]:
    policy = policy or policies.Policy()
    every_ex, every_quiz = all_attempts(book, "exercises"), all_attempts(book, "quiz")
    found = {}
    for learner in book.learners():   # learners with an attempt; the roster adds the others
        ex = counted(every_ex.get(learner, []), learner, "exercises", policy)
        quiz = counted(every_quiz.get(learner, []), learner, "quiz", policy)
        lesson = None if ex.attempt is None and quiz.attempt is None else \
            bool(ex.attempt and ex.attempt.passed and quiz.attempt and quiz.attempt.passed)
        reason = "; ".join(r for r in (f"exercises: {ex.reason}" if ex.attempt else "",
                                       f"quiz: {quiz.reason}" if quiz.attempt else "") if r)
        found[learner] = Graded(learner, ex.score, quiz.score, lesson,
                                str(ex.attempt.id) if ex.attempt else "",
                                policies.iso(submitted_at(ex.attempt)) if ex.attempt else "",
                                _num(ex.penalty) if ex.attempt else "", reason)
    return found


def _order(roster: dict, grades: dict) -> list[str]:
    return list(roster) + [l for l in grades if l not in roster]


def _lesson(value: bool | None) -> str:
    return "" if value is None else ("1" if value else "0")


def gradebook_rows(book, *, roster: dict | None = None, exercises_column: str = "VAE exercises",
                   quiz_column: str = "VAE mastery quiz", lesson_column: str = "VAE lesson complete",
                   policy=None) -> list[list[str]]:
    """Canvas: header, Points Possible, then one row per learner (roster order first, then the rest sorted)."""
    roster = roster or {}
    exercises_max = sum(c.points for c in manifest.load())
    grades = graded(book, policy)
    rows = [[*IDENTITY, exercises_column, quiz_column, lesson_column],
            [POINTS_ROW, "", "", "", "", _num(exercises_max), _num(float(QUESTION_COUNT)), "1"]]
    for learner in _order(roster, grades):
        who = roster.get(learner) or {"Student": learner, "SIS Login ID": learner}
        g = grades.get(learner)
        rows.append([_cell(who.get(k, ""), k) for k in IDENTITY]
                    + ([_num(g.exercises), _num(g.quiz), _lesson(g.lesson)] if g else ["", "", ""]))
    return rows


def moodle_rows(book, *, roster: dict | None = None, exercises_column: str = "VAE exercises",
                quiz_column: str = "VAE mastery quiz", lesson_column: str = "VAE lesson complete",
                policy=None) -> list[list[str]]:
    """Moodle: header, then one row per learner; the learner id fills Username when the roster has none."""
    roster = roster or {}
    grades = graded(book, policy)
    rows = [[*MOODLE_IDENTITY, exercises_column, quiz_column, lesson_column]]
    for learner in _order(roster, grades):
        who = roster.get(learner) or {"Username": learner}
        g = grades.get(learner)
        rows.append([_cell(who.get(k, ""), k) for k in MOODLE_IDENTITY]
                    + ([_num(g.exercises), _num(g.quiz), _lesson(g.lesson)] if g else ["", "", ""]))
    return rows


def counted_rows(book, policy=None) -> list[list[str]]:
    """The sidecar: which attempt counted for each learner, and why."""
    policy = policy or policies.Policy()
    rows = [["learner", "counted_attempt", "submitted_at", "late_penalty", "reason", "policy"]]
    for g in graded(book, policy).values():
        rows.append([g.learner, g.counted_attempt, g.submitted_at, g.late_penalty, g.reason, policy.describe()])
    return rows


def to_csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()


def write_csv(out: Path, rows: list[list[str]], encoding: str = "utf-8") -> None:
    """Write atomically; utf-8-sig adds the byte order mark Excel needs to read UTF-8."""
    if encoding not in ENCODINGS:
        raise ExportError(f"unknown encoding {encoding!r} (known: {', '.join(ENCODINGS)})")
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(to_csv(rows), encoding=encoding, newline="")
        os.replace(tmp, out)
    except OSError as exc:
        raise ExportError(f"cannot write {out}: {exc.strerror}") from None


def sidecar(out: Path) -> Path:
    out = Path(out)
    return out.with_name(f"{out.stem}.counted.csv")
