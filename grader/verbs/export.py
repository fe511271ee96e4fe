"""`vaegrade export`: grades for other tools (LMS gradebooks)."""

from __future__ import annotations

import os
from pathlib import Path

from grader.outputs import lms
from grader.settings import GRADEBOOK_FILE
from grader.store import GradebookError, is_url, open_gradebook
from grader.verbs.workspace import Outcome, VerbError


def lms_csv(*, csv_out: Path, source: Path, roster: Path | None = None, exercises_column: str = "VAE exercises",
            quiz_column: str = "VAE mastery quiz") -> Outcome:
    """Canvas's gradebook import layout: exercises and quiz as two columns."""
    try:
        count = write_lms_csv(source=source, out=csv_out, roster=roster, exercises_column=exercises_column,
                              quiz_column=quiz_column)
    except lms.ExportError as exc:
        raise VerbError(str(exc)) from None
    return Outcome(f"{count} learners written to {csv_out}", 0)


def find_gradebook(source: Path | str) -> Path | str:
    """The batch gradebook: a postgresql:// URL as given, else SOURCE/gradebook.sqlite or the file itself."""
    if is_url(source):
        return source
    source = Path(source)
    path = source / GRADEBOOK_FILE if source.is_dir() else source
    if not path.is_file():
        raise lms.ExportError(f"no gradebook at {path} (give the folder `vaegrade batch --out` wrote)")
    return path


def write_lms_csv(*, source: Path | str, out: Path, roster: Path | None = None, exercises_column: str = "VAE exercises",
         quiz_column: str = "VAE mastery quiz") -> int:
    """Write the LMS CSV; returns the number of learners in it. SOURCE: a batch folder, its file, or a URL."""
    path = find_gradebook(source)
    people = lms.read_roster(roster) if roster is not None else None
    try:
        with open_gradebook(path, create=False) as book:
            rows = lms.gradebook_rows(book, roster=people, exercises_column=exercises_column, quiz_column=quiz_column)
    except GradebookError as exc:
        raise lms.ExportError(str(exc)) from None
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(lms.to_csv(rows), encoding="utf-8")
        os.replace(tmp, out)
    except OSError as exc:
        raise lms.ExportError(f"cannot write {out}: {exc.strerror}") from None
    return len(rows) - 2
