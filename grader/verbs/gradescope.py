"""`vaegrade gradescope`: what `run_autograder` runs inside Gradescope's /autograder tree.

It reads the learner's upload from ``/autograder/submission`` (the files as uploaded, in one
top folder, in an ``exercises/`` folder, or as a single .zip/.tar.gz), grades the exercises
with the hidden checks and a quiz answers file with the staff key, takes the learner and the
hand-in time from ``/autograder/submission_metadata.json`` (never from the submission's own
files), applies the course policy's late penalty, and writes
``/autograder/results/results.json`` (grader.outputs.gradescope). Nothing else is written
under /autograder: the work happens in a temporary folder, no gradebook is kept (Gradescope
keeps the grades) and the course key is read, never created.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from grader.course import manifest
from grader.course import policy as policies
from grader.grading import intake
from grader.grading import quiz as quiz_lib
from grader.grading.runner import SandboxError, SubmissionError, grade_submission
from grader.outputs import gradescope as gs_format
from grader.settings import PASS_FRACTION, Limits
from grader.verbs.ci import CIError, grade_quiz
from grader.verbs.workspace import Outcome, VerbError

KEY_FILE = "gradescope.key"   #: written into the autograder zip by `vaegrade release gradescope`
METADATA = "submission_metadata.json"


@dataclass
class Metadata:
    """What Gradescope says about this submission (submission_metadata.json)."""

    learner: str
    users: list[dict]
    submitted_at: datetime | None
    due: datetime | None          #: the learner's own due date on Gradescope (an extension there), else the assignment's
    note: str = ""


def read_metadata(path: Path) -> Metadata:
    """The learner and times from Gradescope's metadata; a missing or odd file gives what it can, with a note."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except FileNotFoundError:
        return Metadata("learner", [], None, None, f"no {METADATA}: hand-in time unknown, no late penalty")
    except (OSError, ValueError) as exc:
        return Metadata("learner", [], None, None, f"{METADATA} unreadable ({exc}): no late penalty")
    users = [u for u in data.get("users") or [] if isinstance(u, dict)]
    who = [{k: str(u.get(k, "")) for k in ("email", "name", "id") if u.get(k) is not None} for u in users]
    first = who[0] if who else {}
    learner = first.get("email") or first.get("id") or first.get("name") or "learner"
    notes = []

    def moment(value, what):
        if value in (None, ""):
            return None
        try:
            return policies.parse_time(value, what)
        except ValueError as exc:
            notes.append(str(exc))
            return None

    submitted = moment(data.get("created_at"), "created_at")
    assignment = data.get("assignment") if isinstance(data.get("assignment"), dict) else {}
    own = users[0].get("assignment") if users and isinstance(users[0].get("assignment"), dict) else {}
    due = moment(own.get("due_date"), "the learner's due_date") or moment(assignment.get("due_date"), "due_date")
    return Metadata(learner, who, submitted, due, "; ".join(notes))


def _only_archive(folder: Path) -> Path | None:
    """The upload when it is a single .zip/.tar.gz and nothing else worth grading."""
    items = [p for p in folder.iterdir() if not intake._junk(p.name)]
    if len(items) == 1 and items[0].is_file() and not items[0].is_symlink() and intake.archive_kind(items[0].name):
        return items[0]
    return None


def locate(submission: Path, work: Path, learner: str) -> tuple[intake.Prepared, Path | None, str]:
    """The graded files, the quiz answers file (or None), and the folder they were found in (for messages)."""
    if not submission.is_dir() or submission.is_symlink():
        raise intake.BadSubmission("the submission is not a folder of files")
    source = submission
    archive = _only_archive(submission)
    if archive is not None:   # an uploaded archive Gradescope did not unpack
        source = work / "unpacked"
        source.mkdir()
        intake.unpack(intake.Entry(learner, archive, intake.archive_kind(archive.name)[1]), source)
    top = intake._top(source)
    folder = top / "exercises" if (top / "exercises").is_dir() and not (top / "exercises").is_symlink() else top
    (work / "prepared").mkdir()
    prepared = intake.prepare(intake.Entry(learner, folder, "folder"), work / "prepared")
    answers = None
    for base in (folder, top):
        answers = answers or quiz_lib.find_answers_file(base)
    where = os.path.relpath(folder, source)
    return prepared, answers, "" if where == "." else where


def course_key(course: Path | None, env) -> bytes | None:
    """$VAEGRADE_COURSE_KEY, else the key shipped in the autograder zip; never created here."""
    if env.get("VAEGRADE_COURSE_KEY", "").strip():
        return env["VAEGRADE_COURSE_KEY"].strip().encode()
    for base in [b for b in (course, Path(__file__).resolve().parents[2]) if b is not None]:
        try:
            key = (Path(base) / KEY_FILE).read_bytes().strip()
        except OSError:
            continue
        if key:
            return key
    return None


def write_results(results_dir: Path, data: dict) -> Path:
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / "results.json"
    tmp = results_dir / ".results.json.tmp"
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def main(*, root: Path = Path("/autograder"), course: Path | None = None, hidden_visibility: str | None = None,
         threshold: float = PASS_FRACTION, limits: Limits = Limits(), env=None) -> Outcome:
    """Grade /autograder/submission into /autograder/results/results.json; exit 0 whenever results were written."""
    env = os.environ if env is None else env
    root = Path(root)
    try:
        policy = policies.load(course)
    except policies.PolicyError as exc:
        raise VerbError(f"the course policy is wrong: {exc}") from None
    visibility = hidden_visibility or policy.hidden_visibility
    meta = read_metadata(root / METADATA)
    learner = meta.learner
    # An extension in the course's extensions CSV (by email, id or name) wins over Gradescope's dates.
    ids = [meta.users[0].get(k) for k in ("email", "id", "name")] if meta.users else []
    policy_learner = next((i for i in ids if i and i in policy.extensions), learner)
    due = policy.extensions.get(policy_learner) or meta.due or policy.due
    lateness = policy.lateness(policy_learner, meta.submitted_at, due=due)
    names = ", ".join(c.file for c in manifest.load())
    with tempfile.TemporaryDirectory(prefix="vaegrade-gradescope-") as tmp:
        work = Path(tmp)
        try:
            prepared, answers, where = locate(root / "submission", work, learner)
        except intake.BadSubmission as exc:
            data = gs_format.results(None, lateness=lateness, learner={"id": learner, "users": meta.users},
                                     problem=f"Nothing could be graded: {exc}. Upload your exercise files "
                                             f"({names}) and quiz_answers.json, loose or in one folder or zip.")
            write_results(root / "results", data)
            return Outcome(data["output"], 0, tuple(n for n in (meta.note,) if n))
        expected = {c.file for c in manifest.load()}
        found = [f for f in prepared.files if f in expected]
        problem = ""
        if not found:
            seen = prepared.files + prepared.ignored
            problem = (f"No exercise file found{' in ' + where if where else ''}: upload {names} "
                       f"(loose, in one folder or in one zip). Found: {', '.join(seen[:10]) or 'nothing'}.")
            if answers is None:
                data = gs_format.results(None, lateness=lateness, learner={"id": learner, "users": meta.users},
                                         problem=problem, ignored=seen)
                write_results(root / "results", data)
                return Outcome(data["output"], 0)
        try:
            result = grade_submission(prepared.folder, course_key=course_key(course, env), limits=limits,
                                      pass_fraction=threshold)
        except (SubmissionError, SandboxError) as exc:
            raise VerbError(str(exc)) from None
        if not result.graded:   # the grader's own failure: no score is written, not even 0
            raise VerbError(f"the grader failed on {len(result.errors)} check(s) of this submission (not the "
                            "learner's code): not graded")
        quiz = None
        if answers is not None:
            try:
                quiz = grade_quiz(answers, answers.parent, learner, pass_fraction=threshold)
            except CIError as exc:
                quiz = {"score": 0.0, "max_score": 0.0, "passed": False, "questions": [],
                        "note": f"the quiz could not be graded here ({exc}): tell course staff"}
        data = gs_format.results(result, quiz=quiz, lateness=lateness, hidden_visibility=visibility,
                                 learner={"id": learner, "users": meta.users}, files=prepared.files,
                                 ignored=prepared.ignored, problem=problem)
        data["extra_data"]["policy"] = policy.describe()
        write_results(root / "results", data)
    notes = tuple(n for n in (meta.note,) if n)
    return Outcome(data["output"], 0, notes)
