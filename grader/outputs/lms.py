"""Grades for an LMS gradebook: a CSV in Canvas's gradebook import layout, read from the batch gradebook.

Columns (Canvas matches a row to a student by ID, SIS User ID or SIS Login ID):

| column | holds |
| --- | --- |
| Student | the learner's name (from --roster), else the learner id |
| ID | the LMS's numeric user id (from --roster), else blank |
| SIS User ID | from --roster, else blank |
| SIS Login ID | from --roster, else the learner id (the submission's folder or archive name) |
| Section | from --roster, else blank |
| <exercises column> | points of the latest graded exercises attempt (blank: never graded) |
| <quiz column> | right answers of the latest quiz attempt graded with the staff key (blank: none) |

The second row is Canvas's "Points Possible" row (exercises: the manifest's total; quiz: the
number of questions). A column named "Name (1234)" updates Canvas assignment 1234; a plain name
creates a new assignment on import.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from grader.course import manifest
from grader.course.quizdata import QUESTION_COUNT

IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
POINTS_ROW = "Points Possible"


class ExportError(Exception):
    """The export cannot be written (no gradebook, unreadable roster): exit status 2."""


def _cell(text) -> str:
    """Text a spreadsheet will not run as a formula (learner ids come from folder names)."""
    text = "" if text is None else str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def read_roster(path: Path) -> dict[str, dict[str, str]]:
    """learner id -> identity columns, from a CSV with a `learner` column plus any of IDENTITY."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "learner" not in reader.fieldnames:
                raise ExportError(f"{path}: the roster needs a 'learner' column (the submission folder name), "
                                  f"plus any of: {', '.join(IDENTITY)}")
            return {row["learner"].strip(): {k: (row.get(k) or "").strip() for k in IDENTITY}
                    for row in reader if (row.get("learner") or "").strip()}
    except OSError as exc:
        raise ExportError(f"cannot read the roster {path}: {exc.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ExportError(f"{path} is not a readable CSV file: {exc}") from None


def gradebook_rows(book, *, roster: dict | None = None, exercises_column: str = "VAE exercises",
                   quiz_column: str = "VAE mastery quiz") -> list[list[str]]:
    """Header, Points Possible, then one row per learner (roster order first, then the rest sorted)."""
    roster = roster or {}
    exercises_max = sum(c.points for c in manifest.load())
    quiz_max = float(QUESTION_COUNT)
    graded = book.learners()
    latest_exercises = book.latest_per_learner("exercises", results=False)
    latest_quiz = book.latest_per_learner("quiz")
    rows = [[*IDENTITY, exercises_column, quiz_column],
            [POINTS_ROW, "", "", "", "", _num(exercises_max), _num(quiz_max)]]
    for learner in list(roster) + [l for l in graded if l not in roster]:
        who = roster.get(learner) or {"Student": learner, "SIS Login ID": learner}
        exercises, quiz = latest_exercises.get(learner), latest_quiz.get(learner)
        if quiz is not None and quiz.result is not None and not quiz.result.authoritative:
            quiz = None  # a local check with the learner copy is not a grade
        rows.append([_cell(who.get(k, "")) for k in IDENTITY]
                    + [_num(exercises.score if exercises else None), _num(quiz.score if quiz else None)])
    return rows


def to_csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()
