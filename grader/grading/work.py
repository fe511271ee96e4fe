"""One learner's submission in a batch: what a worker (a thread, a process or a Dask worker) does with it.

The batch's client side unpacks and hashes a submission (grader.grading.intake); the
worker side grades the staged files in a warm sandbox, grades the quiz answers with
the staff key, and hands back an `Outcome` of plain data. For a remote worker the
staged submission travels as a `Task`: the graded files' and the answers file's bytes
and the seed the client derived, never a path, so a worker needs no shared
filesystem and sees no other learner's files.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import grader
from grader.grading import intake, quiz
from grader.grading.runner import SubmissionError, derive_seed, grade_submission, stage
from grader.sandbox.session import SandboxError, Zygote
from grader.settings import PASS_FRACTION, Limits


@dataclass
class Outcome:
    """What became of one learner's submission in this run (plain data: it crosses process boundaries)."""

    learner: str
    status: str                     #: "graded", "skipped" (unchanged since graded), "failed" or "cancelled"
    reason: str = ""                #: why it could not be graded
    result: object = None           #: the GradingResult, when graded
    content_hash: str | None = None
    seconds: float = 0.0            #: preparing + grading, in the worker
    quiz: object = None             #: QuizResult of the submission's quiz_answers.json (grader.grading.quiz), if any
    quiz_problem: str = ""          #: why that answers file could not be graded
    submitted_at: str = ""          #: when it was handed in (ISO 8601), and from where (set by the client)
    submitted_from: str = ""


@dataclass(frozen=True)
class Task:
    """A staged submission as plain data: everything a remote worker needs to grade it, and nothing else."""

    learner: str
    files: dict[str, bytes]                      #: the graded top-level .py files
    content_hash: str                            #: of `files` (grader.grading.intake.content_hash)
    seed: int | None                             #: derived on the client from the course key; None: random
    seed_source: str = "random"
    quiz: dict[str, bytes] = field(default_factory=dict)   #: the quiz answers file, when there is one
    limits: Limits = Limits()
    pass_fraction: float = PASS_FRACTION
    grader_version: str = grader.__version__   #: the client's: a worker with other checks must not grade


@dataclass
class Settings:
    """What every way of running a batch's grading needs to know."""

    limits: Limits
    pass_fraction: float
    force: bool                      #: regrade submissions already graded unchanged
    done: dict[str, set[str]]        #: learner -> content hashes already graded by this grader version
    work_root: Path                  #: where submissions are unpacked (inside the batch's output folder)
    course_key: bytes | None = None  #: the seeds' secret; it stays on the client
    quiz_key: "QuizKey" = field(default_factory=lambda: QuizKey())


def seed_for(course_key: bytes | None, prepared: intake.Prepared) -> tuple[int | None, str]:
    """The grading seed of these files in this course, computed where the course key is (the client).

    The same seed `vaegrade grade` derives for the same files: from the content hash of what is
    staged for grading, which for a notebook is the concept files extracted from it.
    """
    if not course_key:
        return None, "random"
    digest = prepared.content_hash
    if not all(name.endswith(".py") for name in prepared.files):
        with tempfile.TemporaryDirectory(prefix="vaegrade-seed-") as staging:
            staged = stage(prepared.folder, Path(staging))
            digest = intake.content_hash(Path(staging), staged.files)
    return derive_seed(course_key, digest), "course-key"


def make_task(learner: str, prepared: intake.Prepared, *, course_key: bytes | None, limits: Limits,
              pass_fraction: float) -> Task:
    files = {name: (prepared.folder / name).read_bytes() for name in prepared.files}
    answers = {}
    if prepared.quiz_folder is not None:
        answers = {p.name: p.read_bytes() for p in sorted(prepared.quiz_folder.iterdir()) if p.is_file()}
    seed, source = seed_for(course_key, prepared)
    return Task(learner, files, prepared.content_hash, seed, source, answers, limits, pass_fraction)


def annotate(outcome: Outcome, *, submission: str, files: list[str], ignored: list[str]) -> Outcome:
    """The client's facts about a graded submission, added to its result (where it came from, what was ignored)."""
    if outcome.status == "graded":
        result = outcome.result
        result.submission = submission
        result.extra.update(learner=outcome.learner, content_hash=outcome.content_hash, files=files)
        if ignored:
            result.extra["ignored_files"] = ignored[:50]
    return outcome


class QuizKey:
    """The staff copy of the quiz, loaded once per process on first use."""

    def __init__(self) -> None:
        self._quiz = None
        self._lock = threading.Lock()

    def grade(self, learner: str, folder: Path | None, pass_fraction: float):
        """(QuizResult or None, problem) for the answers file in `folder`."""
        if folder is None:
            return None, ""
        try:
            with self._lock:
                if self._quiz is None:
                    self._quiz = quiz.load_quiz()
            return quiz.grade_submission_quiz(folder, learner, quiz=self._quiz, pass_fraction=pass_fraction), ""
        except (quiz.AnswersError, quiz.QuizDataError) as exc:
            return None, f"quiz answers: {exc}"


def settled(entry: intake.Entry, prepared: intake.Prepared, *, force: bool, done: dict[str, set[str]],
            quiz_key: QuizKey, pass_fraction: float) -> Outcome | None:
    """The outcome of a submission that needs no sandbox (only quiz answers, or unchanged since graded)."""
    if prepared.files and (force or prepared.content_hash not in done.get(entry.learner, ())):
        return None
    quiz_result, quiz_problem = quiz_key.grade(entry.learner, prepared.quiz_folder, pass_fraction)
    if not prepared.files:
        return Outcome(entry.learner, "failed", "no Python file at the top of the submission (only quiz answers)",
                       quiz=quiz_result, quiz_problem=quiz_problem)
    return Outcome(entry.learner, "skipped", content_hash=prepared.content_hash, quiz=quiz_result,
                   quiz_problem=quiz_problem)


def grade_folder(learner: str, folder: Path, content_hash: str, *, zygote: Callable[[bool], Zygote],
                 limits: Limits, pass_fraction: float, seed: int | None = None, seed_source: str = "",
                 course_key: bytes | None = None, stopping: threading.Event | None = None) -> Outcome:
    """Grade the staged files in `folder`, once more with a fresh sandbox when the grader failed on a check.

    `zygote(fresh)` gives the warm sandbox to use (a new one when `fresh`). The quiz is not graded here.
    """
    stopping = stopping or threading.Event()
    for attempt in (1, 2):
        if stopping.is_set():
            return Outcome(learner, "cancelled")
        try:
            result = grade_submission(folder, seed=seed, course_key=course_key, limits=limits,
                                      zygote=zygote(attempt > 1), pass_fraction=pass_fraction)
            if not result.graded and attempt == 1:
                continue   # the grader failed on some checks: once more with a fresh sandbox
            if not result.graded:
                return Outcome(learner, "failed", f"could not be graded: the grader failed on "
                               f"{len(result.errors)} check(s), not the learner's code; rerun to retry")
            break
        except SubmissionError as exc:
            return Outcome(learner, "failed", str(exc))
        except (SandboxError, OSError) as exc:   # the zygote died (e.g. the kernel's OOM killer): once more
            if attempt == 2 or stopping.is_set():
                return Outcome(learner, "failed" if not stopping.is_set() else "cancelled",
                               f"the sandbox failed twice ({exc}); rerun to retry")
    if seed_source:
        result.seed_source = seed_source
    return Outcome(learner, "graded", result=result, content_hash=content_hash)


def grade_task(task: Task, *, zygote: Callable[[bool], Zygote], quiz_key: QuizKey,
               work_root: str | None = None) -> Outcome:
    """Grade a Task on a worker: its bytes written into a private folder that is removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="vaegrade-task-", dir=work_root) as work:
        folder, answers = Path(work) / "files", Path(work) / "quiz"
        folder.mkdir()
        for name, data in task.files.items():
            _write_plain(folder, name, data)
        if task.quiz:
            answers.mkdir()
            for name, data in task.quiz.items():
                _write_plain(answers, name, data)
        got_quiz, quiz_problem = quiz_key.grade(task.learner, answers if task.quiz else None, task.pass_fraction)
        if not task.files:
            return Outcome(task.learner, "failed", "no Python file at the top of the submission (only quiz answers)",
                           quiz=got_quiz, quiz_problem=quiz_problem)
        if intake.content_hash(folder, sorted(task.files)) != task.content_hash:
            return Outcome(task.learner, "failed", "the submission's files arrived damaged (content hash mismatch); "
                           "rerun to retry")
        outcome = grade_folder(task.learner, folder, task.content_hash, zygote=zygote, limits=task.limits,
                               pass_fraction=task.pass_fraction, seed=task.seed, seed_source=task.seed_source)
    outcome.quiz, outcome.quiz_problem = got_quiz, quiz_problem
    return outcome


def _write_plain(folder: Path, name: str, data: bytes) -> None:
    """One file of a task; a name that is not a plain file name is refused (a task is built by our client)."""
    if not name or name != os.path.basename(name) or name in (".", "..") or "\x00" in name:
        raise ValueError(f"not a plain file name: {name!r}")
    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
