"""`vaegrade status`: where a learner stands (each concept, the quiz, lesson complete or not, what next).

Read from the gradebook that `vaegrade grade` and `vaegrade quiz` write to
(.vaegrade/gradebook.sqlite in the working folder by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from grader.course import manifest
from grader.grading.quiz import needed
from grader.outputs import nextsteps, text
from grader.store import is_url, open_gradebook
from grader.settings import PASS_FRACTION

NEXT_LESSON = "The Transformer Architecture End-to-End"


@dataclass
class ConceptStatus:
    id: str
    title: str
    section: str
    score: float | None       #: None: not graded yet
    max_score: float
    passed: bool


@dataclass
class Status:
    learner: str
    concepts: list[ConceptStatus]
    exercises: dict | None     #: latest exercises attempt: score, max_score, passed, graded_at
    quiz: dict | None          #: latest quiz attempt: score, max_score, passed, graded_at, graded_with, missed
    standings: list = field(default_factory=list)   #: nextsteps.Standing per concept, from the latest attempt

    @property
    def complete(self) -> bool:
        return bool(self.exercises and self.exercises["passed"] and self.quiz and self.quiz["passed"])

    def next_steps(self) -> list[str]:
        if self.complete:
            return [f"Lesson complete. Continue to \"{NEXT_LESSON}\"."]
        steps = []
        if self.exercises is None:
            steps.append("Grade your exercises: `vaegrade check` for the worked examples, then `vaegrade grade`.")
        else:
            todo = nextsteps.to_fix(self.standings)
            if todo:
                steps.append(f"Fix {nextsteps.and_list(s.id for s in todo)} (most points lost first), then "
                             "`vaegrade grade` again:")
            for s in todo:
                steps.append(f"  {s.advice()}\n      {s.command}")
        if self.quiz is None:
            steps.append("Take the mastery quiz: `vaegrade quiz`.")
        elif not self.quiz["passed"]:
            steps.append(f"Retake the quiz (you need {self.quiz['needed']} of {self.quiz['max_score']:g}): "
                         "reread the sections of the questions you missed, then `vaegrade quiz`.")
        return steps

    def to_dict(self) -> dict:
        return {
            "learner": self.learner, "complete": self.complete,
            "concepts": {c.id: {"title": c.title, "score": c.score, "max_score": c.max_score, "passed": c.passed}
                         for c in self.concepts},
            "exercises": self.exercises, "quiz": self.quiz, "next": self.next_steps(),
        }


def learner_status(gradebook: str | Path, learner: str) -> Status:
    """The latest exercises and quiz attempts of `learner` (a missing gradebook means nothing graded yet)."""
    exercises = quiz = None
    concepts_done: dict = {}
    latest_result = None
    if is_url(gradebook) or Path(gradebook).is_file():
        with open_gradebook(gradebook, create=False) as book:
            ex, qz = book.latest(learner, "exercises"), book.latest(learner, "quiz")
        if ex is not None:
            latest_result = ex.result
            concepts_done = {c.id: c for c in ex.result.concepts} if ex.result is not None else {}
            exercises = {"score": ex.score, "max_score": ex.max_score, "passed": ex.passed, "graded_at": ex.graded_at}
        if qz is not None:
            taken = qz.result
            quiz = {"score": qz.score, "max_score": qz.max_score, "passed": qz.passed, "graded_at": qz.graded_at,
                    "graded_with": taken.graded_with if taken else "",
                    "needed": needed(int(qz.max_score), taken.pass_fraction if taken else PASS_FRACTION),
                    "missed": [q.number for q in taken.questions if not q.correct] if taken else []}
    concepts = []
    for c in manifest.load():
        done = concepts_done.get(c.id)
        concepts.append(ConceptStatus(c.id, c.title, c.section, done.score if done else None,
                                      done.max_score if done else c.points, bool(done and done.passed)))
    return Status(learner, concepts, exercises, quiz, nextsteps.standings(latest_result, manifest.load()))


def status_text(status: Status) -> str:
    lines = [f"Learner: {status.learner}", "", "Exercises"]
    if status.exercises is None:
        lines.append("  not graded yet — run `vaegrade grade`")
    for c in status.concepts:
        if c.score is None:
            shown = "not graded yet" if status.exercises is None else "not graded in the latest attempt"
            lines.append(f"  {c.id:<15} {'-':>5} / {c.max_score:<3g} {shown}")
        else:
            lines.append(f"  {c.id:<15} {c.score:>5g} / {c.max_score:<3g} {'pass' if c.passed else 'FAIL'}  {c.title}")
    if status.exercises is not None:
        e = status.exercises
        lines.append(f"  total {e['score']:g} / {e['max_score']:g}: {'passed' if e['passed'] else 'not passed'} "
                     f"(graded {e['graded_at']})")
    lines += ["", "Quiz"]
    if status.quiz is None:
        lines.append("  not taken yet — run `vaegrade quiz`")
    else:
        q = status.quiz
        missed = f"; missed {', '.join(map(str, q['missed']))}" if q["missed"] else ""
        lines.append(f"  {q['score']:g} / {q['max_score']:g}: {'passed' if q['passed'] else 'not passed'} "
                     f"(needs {q['needed']}{missed}; {q['graded_with']}, {q['graded_at']})")
    lines += ["", f"Lesson: {'COMPLETE' if status.complete else 'not complete yet'} "
                  f"(the exercises and the quiz must both score above {PASS_FRACTION:.0%})", "", "Next"]
    width = text.terminal_width()
    for step in status.next_steps():
        for part in step.split("\n"):
            indent = "  " + " " * (len(part) - len(part.lstrip()))
            lines += text.wrap(part.strip(), width, indent)
    return "\n".join(lines) + "\n"


def record_exercises(gradebook: str | Path, learner: str, result, submission: str | Path | None = None) -> str | None:
    """Store a full grading (grader.grading.results.GradingResult) for `learner`, under its content hash.

    Returns the attempt's id, or None when the same files were already recorded by this grader version.
    `gradebook` is a SQLite file or a postgresql:// URL.
    """
    with open_gradebook(gradebook) as book:
        # every `vaegrade grade` is an attempt of its own: grading the same files again is the latest
        # attempt (status and the report follow it), not a rerun to skip as in a batch
        return book.record_exercises(learner, result, result.content_hash, regrade=True)
