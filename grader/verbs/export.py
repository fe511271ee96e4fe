"""`vaegrade export`: grades for other tools (Canvas's and Moodle's gradebook imports).

Both read the course policy (grader.course.policy), so the grade exported is the counted
attempt's after any late penalty, and a sidecar `<OUT>.counted.csv` says which attempt counted
and why.
"""

from __future__ import annotations

from pathlib import Path

from grader.course import policy as policies
from grader.outputs import lms
from grader.settings import GRADEBOOK_FILE
from grader.store import GradebookError, is_url, open_gradebook
from grader.verbs.workspace import Outcome, VerbError, Workspace


def course_policy(workspace: Workspace | None) -> policies.Policy:
    """The policy of the course the command runs in (the default policy outside a course)."""
    try:
        return policies.load(workspace.course if workspace is not None else None)
    except policies.PolicyError as exc:
        raise VerbError(f"the course policy is wrong: {exc}") from None


def lms_csv(*, csv_out: Path, source: Path, roster: Path | None = None, exercises_column: str = "VAE exercises",
            quiz_column: str = "VAE mastery quiz", lesson_column: str = "VAE lesson complete",
            excel: bool = False, layout: str = "canvas", workspace: Workspace | None = None) -> Outcome:
    """Canvas's (or Moodle's) gradebook import layout: exercises, quiz and lesson complete as three columns."""
    try:
        count = write_lms_csv(source=source, out=csv_out, roster=roster, exercises_column=exercises_column,
                              quiz_column=quiz_column, lesson_column=lesson_column,
                              policy=course_policy(workspace), layout=layout,
                              encoding="utf-8-sig" if excel else "utf-8")
    except lms.ExportError as exc:
        raise VerbError(str(exc)) from None
    return Outcome(f"{count} learners written to {csv_out} (which attempt counted, and why: "
                   f"{lms.sidecar(csv_out)})", 0)


def moodle_csv(**kwargs) -> Outcome:
    return lms_csv(layout="moodle", **kwargs)


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
                  quiz_column: str = "VAE mastery quiz", lesson_column: str = "VAE lesson complete",
                  policy: policies.Policy | None = None, layout: str = "canvas", encoding: str = "utf-8") -> int:
    """Write the LMS CSV and its .counted.csv sidecar; returns the number of learners in it.

    SOURCE: a batch folder, its gradebook file, or a postgresql:// URL.
    """
    path = find_gradebook(source)
    fields = lms.IDENTITY if layout == "canvas" else lms.MOODLE_IDENTITY
    people = lms.read_roster(roster, fields) if roster is not None else None
    build = lms.gradebook_rows if layout == "canvas" else lms.moodle_rows
    try:
        with open_gradebook(path, create=False) as book:
            rows = build(book, roster=people, exercises_column=exercises_column, quiz_column=quiz_column,
                         lesson_column=lesson_column, policy=policy)
            why = lms.counted_rows(book, policy)
    except GradebookError as exc:
        raise lms.ExportError(str(exc)) from None
    lms.write_csv(out, rows, encoding)
    lms.write_csv(lms.sidecar(out), why, encoding)
    return len(rows) - (2 if layout == "canvas" else 1)
