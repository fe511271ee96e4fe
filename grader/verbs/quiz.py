"""`vaegrade quiz`: take the mastery quiz in the terminal, or grade an answers file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from grader.course.content import content_dir
from grader.grading import quiz as engine
from grader.settings import PASS_FRACTION, QUIZ_PROGRESS_FILE
from grader.store import open_gradebook
from grader.verbs.workspace import Outcome, VerbError, Workspace

INTERRUPTED = 130


def main(*, workspace: Workspace, ask: Callable[[str], str], echo: Callable[[str], None],
         answers_path: Path | None = None, fmt: str = "table", quiz_path: Path | None = None,
         learner: str | None = None, canonical: bool = False, partial: bool = False, restart: bool = False,
         save_answers: Path | None = None, threshold: float = PASS_FRACTION, gradebook: Path | None = None,
         record: bool = True) -> Outcome:
    """Exit 0 passed, 1 not passed, 2 bad answers file or quiz data, 130 stopped before the end."""
    try:
        data = engine.load_quiz(quiz_path)
        if answers_path is not None:
            result = engine.grade_answers_file(answers_path, learner, quiz=data, canonical=canonical,
                                               partial=partial, pass_fraction=threshold)
        else:
            result = engine.take(data, learner=workspace.learner(learner), ask=ask, echo=echo, restart=restart,
                                 progress=workspace.state(QUIZ_PROGRESS_FILE), pass_fraction=threshold)
    except (engine.AnswersError, engine.QuizDataError) as exc:
        raise VerbError(str(exc)) from None
    except engine.Interrupted as exc:
        return Outcome("", INTERRUPTED, (f"\n{exc}",))
    notes: list[str] = []
    if answers_path is None:
        default_out = (workspace.course / "exercises" / engine.ANSWERS_FILE) if workspace.course \
            else engine.default_answers_out()
        lines = engine.finish(result, progress=workspace.state(QUIZ_PROGRESS_FILE),
                              answers_out=save_answers or default_out)
        text = "\n".join([engine.review_text(data, result), *lines])
    else:
        text = json.dumps(result.to_dict(), indent=2) if fmt == "json" else engine.review_text(data, result)
    if record:
        path = workspace.gradebook(gradebook)
        try:
            with open_gradebook(path) as book:
                engine.record(book, result)
        except (OSError, RuntimeError) as exc:   # grader.store.GradebookError is a RuntimeError
            notes.append(f"warning: the attempt could not be recorded in {path}: {exc}")
        else:
            notes.append(f"Recorded in {path}.")
    return Outcome(text, 0 if result.passed else 1, tuple(notes))


def learner_copy(*, src: Path | None = None, dest: Path | None = None) -> Outcome:
    """Rebuild the learner copy of the quiz (no answer key in plain text) from the staff copy."""
    folder = content_dir("quizzes")
    try:
        out = engine.build_learner_copy(src or folder / engine.STAFF_FILE, dest or folder / engine.LEARNER_FILE)
    except engine.QuizDataError as exc:
        raise VerbError(str(exc)) from None
    return Outcome(f"wrote {out}", 0)
