"""`vaegrade grade` and `vaegrade check`: one submission, the hidden or the public checks."""

from __future__ import annotations

from pathlib import Path

from grader.course import manifest
from grader.course.content import bundle_kind
from grader.grading.runner import SandboxError, SubmissionError, grade_submission
from grader.grading.results import GradingResult, Status
from grader.outputs import text as formats
from grader.sandbox.session import Zygote
from grader.settings import PASS_FRACTION, Limits
from grader.verbs.status import record_exercises
from grader.verbs.workspace import Outcome, VerbError, Workspace

FORMATS = ("table", "json", "markdown")


def check_concepts(concepts) -> list[str] | None:
    """The concept ids asked for (None: all), or VerbError naming the unknown ones."""
    known = {c.id for c in manifest.load()}
    unknown = [c for c in concepts or () if c not in known]
    if unknown:
        raise VerbError(f"unknown concept {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    return list(concepts) or None


def run(workspace: Workspace, submission: Path | None, *, what: str, zygote: Zygote | None = None,
        **kwargs) -> GradingResult:
    """Grade with `zygote` when the caller started one already (it stays the caller's to close)."""
    folder = submission or workspace.exercises(what)
    try:
        return grade_submission(folder, course_key=workspace.course_key(), zygote=zygote, **kwargs)
    except (SubmissionError, SandboxError) as exc:
        raise VerbError(str(exc)) from None


def main(*, workspace: Workspace, submission: Path | None = None, fmt: str = "table", seed: int | None = None,
         concepts: tuple[str, ...] = (), threshold: float = PASS_FRACTION, verbose: bool = False,
         limits: Limits = Limits(), learner: str | None = None, gradebook: Path | None = None,
         record: bool = True, zygote: Zygote | None = None) -> Outcome:
    """Grade with the hidden checks; exit 0 passed, 1 not passed, 2 not graded (the grader failed)."""
    selected = check_concepts(concepts)
    result = run(workspace, submission, what="grade", seed=seed, limits=limits, concepts=selected,
                 pass_fraction=threshold, zygote=zygote)
    text = {"json": formats.to_json, "markdown": formats.to_markdown,
            "table": lambda r: formats.to_table(r, verbose=verbose)}[fmt](result)
    notes = []
    if not result.graded:
        return Outcome(text, 2, ("The grader failed on some checks (not your code): nothing was recorded.",))
    if selected is None and record:
        path = workspace.gradebook(gradebook)
        try:
            record_exercises(path, workspace.learner(learner), result, submission)
        except (OSError, RuntimeError) as exc:   # grader.store.GradebookError is a RuntimeError
            notes.append(f"warning: the attempt could not be recorded in {path}: {exc}")
    if bundle_kind() == "student":
        notes.append("Note: this learner's copy runs only the public checks; your grade comes from the "
                     "hidden checks that staff or CI run.")
    return Outcome(text, 0 if result.passed else 1, tuple(notes))


def check(*, workspace: Workspace, concepts: tuple[str, ...] = (), folder: Path | None = None,
          style=lambda text, ok: text, zygote: Zygote | None = None) -> Outcome:
    """The quick public checks (the lesson's worked examples); exit 0 when all pass."""
    result = run(workspace, folder, what="check", concepts=check_concepts(concepts), public_only=True,
                 zygote=zygote)
    lines, width = [], formats.terminal_width()
    for c in result.concepts:
        for r in c.checks:
            mark = {Status.PASSED: style("pass", True), Status.FAILED: style("FAIL", False),
                    Status.ERROR: style("ERROR", False)}[r.status]
            lines.append(f"{mark}  {c.id:<14} {r.name}")
        # each distinct feedback once, with how many checks gave it
        for feedback, names in formats.grouped([r for r in c.checks if r.feedback]):
            lines += formats.wrap(feedback + formats.times(len(names)), width, "      ")
    passed = sum(r.status is Status.PASSED for r in result.checks)
    tail = ("Your grade comes from the hidden checks that staff or CI run." if bundle_kind() == "student"
            else "Run `vaegrade grade` for the hidden checks that decide the grade.")
    lines.append(f"\n{passed} of {len(result.checks)} public checks pass. {tail}")
    code = 2 if not result.graded else (0 if passed == len(result.checks) else 1)
    return Outcome("\n".join(lines), code)
