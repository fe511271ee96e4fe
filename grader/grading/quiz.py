"""The mastery quiz engine: per-learner option order, answers files, grading, the interactive session, records.

Content and the two copies of it (staff key, key-less learner copy) live in
grader/quizdata.py; this module is what `vaegrade quiz` and `vaegrade batch`
call. Nothing here imports click: the interactive session takes `ask` and
`echo` functions.
"""

from __future__ import annotations

import hashlib
import json
import os
import textwrap
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from grader.course.content import content_dir
from grader.settings import ANSWERS_FILE, ANSWERS_STEM, ANSWERS_SUFFIXES, PASS_FRACTION, QUIZ_PROGRESS_FILE, STATE_DIR, default_learner, passes
from grader.course.quizdata import (LEARNER_FILE, MAX_FILE_BYTES, STAFF_FILE, Question, Quiz, QuizDataError,  # noqa: F401
                             build_learner_copy, load, validate)

LETTERS = "ABCD"
PROGRESS_FILE = Path(STATE_DIR) / QUIZ_PROGRESS_FILE
PROGRESS_VERSION = 1
BLANK = {"", "-"}                             #: an answer written as null, "" or "-" is left blank (counts wrong)


class AnswersError(ValueError):
    """An answers file that cannot be graded; the message says what to fix."""


def default_quiz_path() -> Path:
    """The staff copy (with the key) in a course repository, else the learner copy."""
    folder = content_dir("quizzes")
    staff = folder / STAFF_FILE
    return staff if staff.is_file() else folder / LEARNER_FILE


def load_quiz(path: str | Path | None = None) -> Quiz:
    return load(path or default_quiz_path())


# --- per-learner option order ---------------------------------------------------------
def option_order(quiz: Quiz, learner: str, question: Question) -> list[str]:
    """Canonical option ids in the order `learner` sees them (lettered A to D).

    Deterministic from (quiz id, learner, question id), the same on every
    machine and Python version: options sorted by a SHA-256 of each.
    """
    def rank(option_id: str) -> str:
        return hashlib.sha256(f"{quiz.id}\x1f{learner}\x1f{question.id}\x1f{option_id}".encode()).hexdigest()

    return sorted((o.id for o in question.options), key=rank)


def letter_of(quiz: Quiz, learner: str, question: Question, option_id: str) -> str:
    return LETTERS[option_order(quiz, learner, question).index(option_id)]


def option_of(quiz: Quiz, learner: str, question: Question, letter: str) -> str:
    return option_order(quiz, learner, question)[LETTERS.index(letter.upper())]


# --- results --------------------------------------------------------------------------
@dataclass(frozen=True)
class QuestionResult:
    id: str
    number: int
    section: str
    chosen: str | None   #: canonical option id, None when left blank
    letter: str | None   #: the letter the learner picked, in their own order
    correct: bool

    def to_dict(self) -> dict:
        return {"id": self.id, "number": self.number, "section": self.section, "chosen": self.chosen,
                "letter": self.letter, "correct": self.correct}

    def to_row(self) -> dict:
        """The stored form: one row of the gradebook's quiz_answers."""
        return {"question_id": self.id, "number": self.number, "section": self.section, "chosen": self.chosen,
                "letter": self.letter, "correct": int(self.correct)}

    @classmethod
    def from_row(cls, row) -> "QuestionResult":
        return cls(id=row["question_id"], number=int(row["number"]), section=row["section"], chosen=row["chosen"],
                   letter=row["letter"], correct=bool(row["correct"]))


@dataclass
class QuizResult:
    """One graded attempt. The key itself is not part of it (CI logs and exports never show it)."""

    quiz_id: str
    learner: str            #: who the attempt is recorded for
    order_learner: str      #: whose option order the letters follow
    questions: list[QuestionResult]
    graded_with: str        #: "staff key" (authoritative) or "learner copy" (a local check)
    pass_fraction: float = PASS_FRACTION
    extra: dict = field(default_factory=dict)

    @property
    def score(self) -> int:
        return sum(q.correct for q in self.questions)

    @property
    def max_score(self) -> int:
        return len(self.questions)

    @property
    def passed(self) -> bool:
        return passes(self.score, self.max_score, self.pass_fraction)

    @property
    def missed(self) -> list[QuestionResult]:
        return [q for q in self.questions if not q.correct]

    def answers(self) -> list[tuple[str, str | None, bool]]:
        """(question id, canonical option id, correct), as the gradebook stores them."""
        return [(q.id, q.chosen, q.correct) for q in self.questions]

    def to_row(self) -> dict:
        """The stored form of the attempt itself (each question is a row of its own).

        score, max_score and passed are derived, and stored so that queries can use them.
        """
        return {"quiz_id": self.quiz_id, "learner": self.learner, "order_learner": self.order_learner,
                "graded_with": self.graded_with, "pass_fraction": self.pass_fraction,
                "extra_json": json.dumps(self.extra, sort_keys=True),
                "score": self.score, "max_score": self.max_score, "passed": int(self.passed)}

    @classmethod
    def from_row(cls, row, questions: list[QuestionResult]) -> "QuizResult":
        extra = json.loads(row["extra_json"] or "{}")
        if not isinstance(extra, dict):
            raise ValueError("extra_json is not an object")
        return cls(quiz_id=row["quiz_id"], learner=row["learner"], order_learner=row["order_learner"],
                   questions=list(questions), graded_with=row["graded_with"],
                   pass_fraction=float(row["pass_fraction"]), extra=extra)

    @property
    def authoritative(self) -> bool:
        """Graded with the staff key (a learner-copy attempt is a local check, not a grade)."""
        return self.graded_with == "staff key"

    def to_dict(self) -> dict:
        return {
            "quiz": self.quiz_id, "learner": self.learner, "order_learner": self.order_learner,
            "score": self.score, "max_score": self.max_score, "passed": self.passed,
            "pass_fraction": self.pass_fraction, "needed": needed(self.max_score, self.pass_fraction),
            "graded_with": self.graded_with, "authoritative": self.graded_with == "staff key",
            "questions": [q.to_dict() for q in self.questions], **self.extra,
        }


def needed(max_score: int, fraction: float = PASS_FRACTION) -> int:
    """The fewest right answers that pass (8 of 10 at "above 75%")."""
    return next(k for k in range(max_score + 1) if passes(k, max_score, fraction)) if max_score else 0


def grade(quiz: Quiz, chosen: dict[str, str | None], *, learner: str, order_learner: str | None = None,
          pass_fraction: float = PASS_FRACTION) -> QuizResult:
    """Grade canonical option ids per question id; a question absent from `chosen` is left blank."""
    order_learner = learner if order_learner is None else order_learner
    unknown = sorted(set(chosen) - {q.id for q in quiz.questions})
    if unknown:
        raise AnswersError(f"unknown question ids: {', '.join(unknown)}")
    results = []
    for q in quiz.questions:
        option = chosen.get(q.id)
        if option is not None and option not in {o.id for o in q.options}:
            raise AnswersError(f"question {q.number} ({q.id}): no option {option!r}")
        results.append(QuestionResult(
            q.id, q.number, q.section, option,
            letter_of(quiz, order_learner, q, option) if option is not None else None,
            option is not None and quiz.key.is_correct(q.id, option)))
    return QuizResult(quiz.id, learner, order_learner, results, quiz.graded_with, pass_fraction)


# --- answers files ----------------------------------------------------------------------
@dataclass
class Answers:
    chosen: dict[str, str | None]   #: canonical option id (or None: blank) per question id
    learner: str | None             #: the learner named in the file, if any
    canonical: bool                 #: letters were canonical option ids, not a learner's order


class _Pairs(list):
    """A JSON object kept as its (key, value) pairs, so duplicate keys are seen."""


def _reject_duplicates(pairs):
    keys = [k for k, _ in pairs]
    dups = sorted({k for k in keys if keys.count(k) > 1})
    if dups:
        raise AnswersError(f"duplicate answers for {', '.join(map(str, dups))}")
    return dict(pairs)


def _parse_text(text: str) -> tuple[dict, list[tuple[str, object]]]:
    """`KEY: VALUE` (or `KEY = VALUE`) lines; `#` starts a comment."""
    meta, pairs = {}, []
    for n, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        sep = min((i for i in (line.find(":"), line.find("=")) if i >= 0), default=-1)
        if sep < 0:
            raise AnswersError(f"line {n}: expected `QUESTION: LETTER` (e.g. `1: B` or `kl: B`), got {line!r}")
        key, value = line[:sep].strip().strip("\"'"), line[sep + 1:].strip().strip("\"'")
        if key.lower() in ("learner", "quiz", "letters"):
            meta[key.lower()] = value
        else:
            pairs.append((key, value))
    return meta, pairs


def parse_answers(path: str | Path, quiz: Quiz, *, canonical: bool = False, partial: bool = False) -> Answers:
    """Read an answers file (JSON, TOML or `1: B` lines) into canonical option ids; AnswersError if unusable.

    JSON: {"learner": "ada@example.org", "answers": {"bottleneck": "B", "mse": "A", ...}}
    Keys are question ids or numbers; values the learner's letters A to D,
    in the option order of "learner" (else of the learner grading it). With
    "letters": "canonical" (or canonical=True) the values are the canonical
    option ids a to d instead. null, "" or "-" leaves a question blank; a
    question missing from the file is an error unless partial=True.
    """
    path = Path(path)
    if not path.is_file():
        raise AnswersError(f"{path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise AnswersError(f"{path}: larger than {MAX_FILE_BYTES} bytes; not an answers file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise AnswersError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise AnswersError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not text.strip():
        raise AnswersError(f"{path}: the file is empty (expected answers for {len(quiz.questions)} questions)")
    try:
        if path.suffix == ".json" or text.lstrip().startswith("{"):
            data = json.loads(text, object_pairs_hook=_Pairs)
            if not isinstance(data, _Pairs):
                raise AnswersError(f"{path}: expected a JSON object like "
                                   '{"answers": {"bottleneck": "B", ...}}')
            meta = {k: v for k, v in data if k != "answers"}
            _reject_duplicates(data)
            answers = dict(data).get("answers")
            if not isinstance(answers, _Pairs):
                raise AnswersError(f"{path}: \"answers\" must be an object mapping question ids to letters")
            pairs = answers
        elif path.suffix == ".toml":
            data = tomllib.loads(text)
            meta = {k: v for k, v in data.items() if k != "answers"}
            if not isinstance(data.get("answers"), dict):
                raise AnswersError(f"{path}: expected an [answers] table mapping question ids to letters")
            pairs = list(data["answers"].items())
        else:
            meta, pairs = _parse_text(text)
    except json.JSONDecodeError as exc:
        raise AnswersError(f"{path}: not valid JSON ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise AnswersError(f"{path}: not valid TOML ({exc})") from None
    except AnswersError as exc:
        raise AnswersError(str(exc) if str(exc).startswith(str(path)) else f"{path}: {exc}") from None
    return _interpret(path, quiz, meta, pairs, canonical, partial)


def _interpret(path: Path, quiz: Quiz, meta: dict, pairs: list, canonical: bool, partial: bool) -> Answers:
    problems = []
    learner = meta.get("learner")
    if learner is not None and not (isinstance(learner, str) and learner.strip()):
        problems.append('"learner" must be a non-empty string')
        learner = None
    if meta.get("quiz") not in (None, quiz.id):
        problems.append(f"answers for quiz {meta['quiz']!r}, but this is {quiz.id!r}")
    letters = meta.get("letters", "canonical" if canonical else "shuffled")
    if letters not in ("shuffled", "canonical"):
        problems.append(f'"letters" must be "shuffled" or "canonical", got {letters!r}')
    canonical = letters == "canonical"
    valid = "a, b, c, d (canonical option ids)" if canonical else "A, B, C or D"
    chosen: dict[str, str | None] = {}
    picked: dict[str, str | None] = {}
    for key, value in pairs:
        q = quiz.question(str(key))
        if q is None:
            problems.append(f"unknown question {key!r} (use an id such as {quiz.questions[0].id!r} or a number 1 to "
                            f"{len(quiz.questions)})")
            continue
        if q.id in picked:
            problems.append(f"duplicate answers for question {q.number} ({q.id})")
            continue
        if value is None or (isinstance(value, str) and value.strip() in BLANK):
            picked[q.id] = None
            continue
        letter = value.strip() if isinstance(value, str) else value
        if not isinstance(letter, str) or len(letter) != 1 or letter.upper() not in LETTERS:
            problems.append(f"question {q.number} ({q.id}): {value!r} is not one of {valid}")
            continue
        picked[q.id] = letter
    missing = [q for q in quiz.questions if q.id not in picked]
    if missing and not partial and not problems:
        problems.append("missing answers for " + ", ".join(f"{q.number} ({q.id})" for q in missing)
                        + ' (answer every question; write null or "-" to leave one blank)')
    if problems:
        raise AnswersError(f"{path}: " + ("\n  ".join([""] + problems) if len(problems) > 1 else problems[0]))
    for qid, letter in picked.items():
        # shuffled letters are mapped to option ids once the learner whose order applies is known
        chosen[qid] = None if letter is None else letter.lower() if canonical else letter.upper()
    return Answers(chosen, learner.strip() if learner else None, canonical)


def grade_answers(answers: Answers, quiz: Quiz, *, learner: str, pass_fraction: float) -> QuizResult:
    """Letters follow the order of the learner named in the file, else of `learner`."""
    order_learner = answers.learner or learner
    chosen = {}
    for qid, letter in answers.chosen.items():
        q = quiz.question(qid)
        chosen[qid] = letter if letter is None or answers.canonical else option_of(quiz, order_learner, q, letter)
    return grade(quiz, chosen, learner=learner, order_learner=order_learner, pass_fraction=pass_fraction)


def grade_answers_file(path: str | Path, learner: str | None, *, quiz: Quiz | None = None, canonical: bool = False,
                       partial: bool = False, pass_fraction: float = PASS_FRACTION) -> QuizResult:
    """Grade an answers file (e.g. <submission>/quiz_answers.json) for `learner`, with the staff key by default.

    learner=None records it for the learner the file names (else the default
    learner of this machine). Raises AnswersError (bad answers file) or
    QuizDataError (bad quiz data).
    """
    quiz = quiz or load_quiz()
    answers = parse_answers(path, quiz, canonical=canonical, partial=partial)
    if learner is None:
        learner = answers.learner or default_learner()
    result = grade_answers(answers, quiz, learner=learner, pass_fraction=pass_fraction)
    result.extra["answers_file"] = str(path)
    return result


def find_answers_file(folder: str | Path) -> Path | None:
    """The answers file at the top of a submission folder (quiz_answers.json, .toml or .txt); symlinks are ignored."""
    for suffix in ANSWERS_SUFFIXES:
        path = Path(folder) / (ANSWERS_STEM + suffix)
        if path.is_file() and not path.is_symlink():
            return path
    return None


def grade_submission_quiz(folder: str | Path, learner: str, *, quiz: Quiz | None = None,
                          pass_fraction: float) -> QuizResult | None:
    """For `vaegrade batch`: grade the answers file in a learner's submission folder (None when there is none).

    Unanswered questions count as wrong here (a learner's file is graded as
    far as it goes); a malformed file raises AnswersError, to report as a problem.
    """
    path = find_answers_file(folder)
    if path is None:
        return None
    try:
        result = grade_answers_file(path, learner, quiz=quiz, partial=True, pass_fraction=pass_fraction)
    except AnswersError as exc:   # name the file as the learner knows it, not by the grader's work folder
        raise AnswersError(str(exc).replace(str(path), path.name)) from None
    result.extra["answers_file"] = path.name
    return result


def answers_file_dict(result: QuizResult) -> dict:
    """The answers file of an attempt, in the learner's letters (what `vaegrade quiz` saves for submission)."""
    return {"quiz": result.quiz_id, "learner": result.order_learner,
            "answers": {q.id: q.letter for q in result.questions}}


# --- records ---------------------------------------------------------------------------
def answers_hash(result: QuizResult) -> str:
    """What the gradebook's content_hash holds for a quiz attempt: the quiz and the canonical answers."""
    return hashlib.sha256(json.dumps([result.quiz_id, result.answers()]).encode()).hexdigest()


def record(gradebook, result: QuizResult) -> str | None:
    """Store an attempt in a gradebook (grader.store); its id, or None when these answers were already recorded."""
    return gradebook.record_quiz(result, content_hash=answers_hash(result))


def record_new(gradebook, result: QuizResult) -> bool:
    """Store an attempt unless the same answers were already graded by this grader version (batch reruns)."""
    return record(gradebook, result) is not None



# --- the review ------------------------------------------------------------------------
def _wrap(text: str, indent: str = "   ", width: int = 78) -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent) or [indent]


def review_text(quiz: Quiz, result: QuizResult) -> str:
    """Score, verdict, then each missed question in the learner's own option order with its feedback."""
    verdict = "PASSED" if result.passed else "NOT PASSED"
    lines = [f"{quiz.title}", f"Score: {result.score} / {result.max_score}  {verdict} "
             f"(a pass needs more than {result.pass_fraction:.0%}: {needed(result.max_score, result.pass_fraction)} "
             f"of {result.max_score})", ""]
    lines += ["  " + "  ".join(f"{q.number}:{'ok' if q.correct else '--'}" for q in result.questions), ""]
    for r in result.missed:
        q = quiz.question(r.id)
        order = option_order(quiz, result.order_learner, q)
        answer = quiz.answer(q)
        lines += _wrap(f"{q.number}. {q.prompt}", indent="")
        for letter, oid in zip(LETTERS, order):
            mark = "  <- your answer" if oid == r.chosen else ("  <- correct" if oid == answer else "")
            text = next(o.text for o in q.options if o.id == oid)
            lines += _wrap(f"{letter}) {text}{mark}", indent="   ")
        if r.chosen is None:
            lines.append("   You left this one blank.")
        else:
            lines += _wrap(f"Why not {r.letter}: {quiz.key.why_not(q.id, r.chosen)}")
        lines += _wrap(f"Why {letter_of(quiz, result.order_learner, q, answer)}: {quiz.key.explanation(q.id)}")
        lines += [f"   Reread: \"{q.section}\"", ""]
    if not result.missed:
        lines.append("Every answer is right.")
    if not quiz.key.authoritative:
        lines.append("(Checked with the learner copy: a local check. The attempt that counts is the one "
                     "graded with the staff key when you submit.)")
    return "\n".join(lines).rstrip() + "\n"


# --- the interactive session ------------------------------------------------------------
def _write_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_progress(path: Path, quiz: Quiz, learner: str) -> dict[str, str]:
    """Answers saved by an unfinished session of this quiz and learner (canonical ids); {} if none."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if (data.get("version") != PROGRESS_VERSION or data.get("quiz") != quiz.id
                or data.get("fingerprint") != quiz.fingerprint or data.get("learner") != learner):
            return {}
        valid = {q.id: {o.id for o in q.options} for q in quiz.questions}
        return {q: o for q, o in data["answers"].items() if o in valid.get(q, ())}
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
        return {}


def save_progress(path: Path, quiz: Quiz, learner: str, answers: dict[str, str]) -> None:
    _write_atomic(Path(path), {"version": PROGRESS_VERSION, "quiz": quiz.id, "fingerprint": quiz.fingerprint,
                               "learner": learner, "answers": answers})


class Interrupted(Exception):
    """The learner stopped (q, Ctrl-C, end of input); the answers given so far are saved."""

    def __init__(self, answered: int, total: int, progress: Path):
        self.answered, self.total, self.progress = answered, total, progress
        super().__init__(f"stopped after {answered} of {total} answers; they are saved in {progress}. "
                         "Run `vaegrade quiz` again to continue where you left off.")


def _ask_until(ask: Callable[[str], str], echo: Callable[[str], None], prompt: str, valid: set[str],
               help_text: str) -> str:
    while True:
        raw = ask(prompt).strip()
        if raw.upper() in valid:
            return raw.upper()
        echo(help_text)


def take(quiz: Quiz, *, learner: str, ask: Callable[[str], str], echo: Callable[[str], None],
         progress: Path = PROGRESS_FILE, restart: bool = False, pass_fraction: float = PASS_FRACTION) -> QuizResult:
    """Ask each unanswered question in turn, saving after every answer; grade when all ten are answered.

    `ask(prompt)` returns a line and raises EOFError or KeyboardInterrupt when
    the learner goes away; then (or on `q`) Interrupted is raised with every
    answer so far saved in `progress`, which the next call resumes from.
    """
    progress = Path(progress)
    total = len(quiz.questions)
    answers = {} if restart else load_progress(progress, quiz, learner)
    warned = []

    def save() -> None:
        try:
            save_progress(progress, quiz, learner, answers)
        except OSError as exc:   # a read-only folder: the quiz still works, only resuming does not
            if not warned:
                warned.append(exc)
                echo(f"(cannot save progress in {progress}: {exc.strerror or exc}; an interruption will lose "
                     "your answers)")
    try:
        if answers:
            reply = _ask_until(ask, echo, f"You answered {len(answers)} of {total} questions earlier. "
                               "Resume where you left off? [Y/n] ", {"Y", "N", "YES", "NO", ""},
                               "Please answer y (resume) or n (start over).")
            if reply.startswith("N"):
                answers = {}
        if restart or not answers:
            save()
        echo(f"{quiz.title}: {total} questions, one at a time. Answer with a letter; q stops and saves "
             "(so do Ctrl-C and Ctrl-D).\n")
        for q in quiz.questions:
            if q.id in answers:
                continue
            order = option_order(quiz, learner, q)
            lines = [f"Question {q.number} of {total}  ({q.section})"] + _wrap(q.prompt, indent="") + [""]
            for letter, oid in zip(LETTERS, order):
                lines += _wrap(f"{letter}) {next(o.text for o in q.options if o.id == oid)}", indent="  ")
            echo("\n".join(lines))
            reply = _ask_until(ask, echo, "Your answer (A-D): ", set(LETTERS) | {"Q"},
                               "Please answer A, B, C or D (or q to stop and resume later).")
            if reply == "Q":
                raise Interrupted(len(answers), total, progress)
            answers[q.id] = order[LETTERS.index(reply)]
            save()
            echo("")
    except (EOFError, KeyboardInterrupt):
        raise Interrupted(len(answers), total, progress) from None
    return grade(quiz, answers, learner=learner, pass_fraction=pass_fraction)


def finish(result: QuizResult, *, progress: Path = PROGRESS_FILE, answers_out: Path | None = None) -> list[str]:
    """After a completed session: save the answers file, then drop the progress file. Returns notes to show."""
    notes = []
    if answers_out is not None:
        try:
            _write_atomic(Path(answers_out), answers_file_dict(result))
            notes.append(f"Your answers are saved in {answers_out}: submit it with your exercises; "
                         "staff or CI grade it with the key.")
        except OSError as exc:
            notes.append(f"warning: cannot save your answers in {answers_out} ({exc.strerror or exc}); "
                         "use --save-answers PATH")
    try:
        Path(progress).unlink(missing_ok=True)
    except OSError:
        pass
    return notes


def default_answers_out() -> Path:
    """Where a finished session saves its answers: in exercises/ (the submission folder) when there is one."""
    return Path("exercises") / ANSWERS_FILE if Path("exercises").is_dir() else Path(ANSWERS_FILE)
