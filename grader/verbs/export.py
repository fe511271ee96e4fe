"""`vaegrade export`: grades for other tools (LMS gradebooks)."""

from __future__ import annotations

from pathlib import Path

from grader.outputs import lms
from grader.verbs.workspace import Outcome, VerbError


def lms_csv(*, csv_out: Path, source: Path, roster: Path | None = None, exercises_column: str = "VAE exercises",
            quiz_column: str = "VAE mastery quiz") -> Outcome:
    """Canvas's gradebook import layout: exercises and quiz as two columns."""
    try:
        count = lms.main(source=source, out=csv_out, roster=roster, exercises_column=exercises_column,
                         quiz_column=quiz_column)
    except lms.ExportError as exc:
        raise VerbError(str(exc)) from None
    return Outcome(f"{count} learners written to {csv_out}", 0)
