"""HTML progress reports: a learner's own page and a class overview for staff.

Data comes from the gradebook's typed records (grader.store) (or, for a learner without one, a
results.json from `vaegrade grade --format json`); one Jinja environment
renders the templates in site/ with autoescape and StrictUndefined, and the
charts are inline SVG drawn from grader.outputs.charts geometry, so a report opens
offline and every learner-controlled string is escaped.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache

import jinja2

import grader
from grader import safetext
from grader.outputs import charts, nextsteps
from grader.course import manifest
from grader.course.content import content_dir
from grader.grading.quiz import QuizDataError, QuizResult, load_quiz
from grader.grading.results import AttemptRecord, GradingResult, Status
from grader.settings import GRADEBOOK_FILE, PASS_FRACTION, default_learner, passes

CLASS_REPORT = "class-report.html"   #: the class overview inside a batch output dir
REPORTS_DIR = "reports"              #: per-learner pages beside it
GRADEBOOK_NAME = GRADEBOOK_FILE  #: the gradebook `vaegrade batch` writes into its output dir


class ReportError(Exception):
    """The report cannot be made from what was given (missing gradebook, unreadable results)."""


# --- templates ---------------------------------------------------------------------


@lru_cache(maxsize=None)
def environment():
    """The one Jinja environment: templates from site/, HTML autoescaped, undefined names are errors."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(content_dir("site"))),
        autoescape=jinja2.select_autoescape(["html", "svg"], default_for_string=True, default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
        finalize=safetext.template_finalize,   # every printed value inert (bidi, controls, surrogates)
    )
    env.filters["num"] = lambda x: f"{x:g}"
    env.filters["when"] = _when
    env.filters["breakable"] = breakable
    env.globals["version"] = grader.__version__
    return env


def breakable(text: str):
    """Escaped text with a line-break opportunity after each @ . _ - / (a long id wraps between its parts)."""
    import markupsafe

    escaped = str(markupsafe.escape(safetext.inert(text)))   # markup built from learner text: inert, then escaped
    return markupsafe.Markup(re.sub(r"([@._/-]|&amp;)", r"\1<wbr>", escaped))


def _when(iso: str) -> str:
    """'2026-11-23T23:25:33+00:00' -> '2026-11-23 23:25 UTC' (unparseable text is shown as is)."""
    try:
        t = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso)
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M UTC")


# --- quiz content --------------------------------------------------------------------


@dataclass(frozen=True)
class QuizQuestion:
    """One mastery question as the report needs it (texts only; the key may be absent)."""

    id: str
    number: int
    prompt: str
    section: str
    options: dict[str, str]   #: canonical option id -> text
    why_not: dict[str, str]   #: canonical option id -> why that option is wrong
    explanation: str
    answer: str = ""          #: the right option's text ("" when the key cannot be read)


@lru_cache(maxsize=None)
def quiz_questions() -> dict[str, QuizQuestion]:
    """The quiz's questions by id, in the lesson's order, read through the quiz engine (the staff copy
    or the learner's key-less one give the same texts); empty when no usable quiz is installed."""
    try:
        quiz = load_quiz()
    except (OSError, QuizDataError):   # the report still renders, with question ids only
        return {}
    out = {}
    for q in quiz.questions:
        out[q.id] = QuizQuestion(
            id=q.id, number=q.number, prompt=q.prompt, section=q.section,
            options={o.id: o.text for o in q.options},
            why_not={o.id: quiz.key.why_not(q.id, o.id) for o in q.options},
            explanation=quiz.key.explanation(q.id),
            answer=next((o.text for o in q.options if o.id == quiz.answer(q)), ""))
    return dict(sorted(out.items(), key=lambda kv: kv[1].number))


def now() -> str:
    """The time a report is generated, as it is printed on the page."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --- what the reports read -------------------------------------------------------------


@dataclass
class Snapshot:
    """Everything the reports read, as the gradebook's typed records (for one learner or a whole class)."""

    learners: list[str]
    attempts: dict[str, list[AttemptRecord]]        #: every attempt's summary, oldest first
    exercises: dict[str, GradingResult | None]      #: latest exercises attempt's result (None: unreadable record)
    quiz: dict[str, QuizResult | None]              #: latest quiz attempt's result
    problems: dict[str, list[tuple[str, str]]]      #: (when, reason) a submission failed to grade
    counted: dict[str, dict[str, AttemptRecord]] = field(default_factory=dict)
    #: kind -> learner -> the attempt the course policy counts (empty: the latest counts)
    policy: str = ""                                #: the course policy in one line ("" without one)


# --- the learner's report ------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """Feedback as the learner reads it: once, with the checks that gave it."""

    check: str              #: the first check's name
    feedback: str
    count: int = 1          #: how many checks gave these same words
    others: tuple[str, ...] = ()   #: the names of the other checks


@dataclass
class ConceptView:
    id: str
    title: str
    section: str
    score: float
    max_score: float
    status: str               #: "passed", "partial", "failed" or "not graded"
    note: str
    failures: list[Failure]
    hints: tuple[str, ...]
    standing: nextsteps.Standing | None = None   #: where it stands for "What to do next"

    @property
    def symbol(self) -> str:
        return {"passed": "✓", "partial": "◐", "failed": "✗"}.get(self.status, "·")


@dataclass(frozen=True)
class MissedQuestion:
    number: int
    prompt: str
    chosen: str        #: the text of the option the learner chose, or "no answer"
    why_not: str
    explanation: str
    section: str
    right: str = ""    #: the right option's text


@dataclass
class QuizView:
    score: float
    max_score: float
    passed: bool
    graded_at: str
    attempts: int
    missed: list[MissedQuestion]
    graded_with: str = ""   #: "staff key" (the attempt that counts) or "learner copy" (a local check)

    @property
    def percent(self) -> float:
        return 100 * self.score / self.max_score if self.max_score else 0.0


@dataclass
class ExercisesView:
    score: float
    max_score: float
    passed: bool
    graded_at: str
    attempts: int
    seed: object

    @property
    def percent(self) -> float:
        return 100 * self.score / self.max_score if self.max_score else 0.0


@dataclass(frozen=True)
class Step:
    text: str
    command: str = ""


@dataclass
class LearnerReport:
    learner: str
    generated_at: str
    threshold: float
    exercises: ExercisesView | None
    concepts: list[ConceptView]
    quiz: QuizView | None
    complete: bool
    glance: charts.HBarChart
    history: charts.LineChart | None
    quiz_history: charts.LineChart | None
    history_rows: list[tuple[int, str, str, float, float, bool]]   #: (n, kind, when, score, max, passed)
    next_steps: list[Step]
    problems: list[tuple[str, str]]
    back_href: str = ""   #: link to the class overview when rendered as part of one
    source: str = ""      #: where the data came from (gradebook path or results file)


@dataclass(frozen=True)
class _Entry:
    """What a concept view needs of one graded concept, from a typed result or a results.json."""

    title: str
    section: str
    score: float
    max_score: float
    passed: bool
    note: str


def _status(entry: _Entry) -> str:
    if entry.passed:
        return "passed"
    if entry.score > 0:
        return "partial"
    return "failed"


def _typed_entries(result: GradingResult | None) -> tuple[dict[str, _Entry], dict[str, list[Failure]]]:
    """A gradebook's typed result: each concept, and the checks that did not pass (with what the code printed)."""
    if result is None:
        return {}, {}
    entries = {c.id: _Entry(c.title, c.section, c.score, c.max_score, c.passed, c.note) for c in result.concepts}
    failures: dict[str, list[Failure]] = defaultdict(list)
    for c in result.checks:
        if c.status is not Status.PASSED:
            printed = f"\n\nYour code printed:\n{c.output}" if c.output else ""
            failures[c.concept].append(Failure(c.name, c.feedback + printed))
    return entries, failures


def _concept_views(result: GradingResult | None) -> list[ConceptView]:
    """One view per concept of the manifest (then any others the result names)."""
    entries, failures = _typed_entries(result)
    known = {c.id: c for c in manifest.load()}
    standings = {s.id: s for s in nextsteps.standings(result, known.values())}
    views = []
    for cid in [*known, *(k for k in entries if k not in known)]:
        c, entry = known.get(cid), entries.get(cid)
        title = c.title if c else (entry.title if entry else cid)
        section = c.section if c else (entry.section if entry else "")
        points = c.points if c else (entry.max_score if entry else 0.0)
        if entry is None:
            views.append(ConceptView(cid, title, section, 0.0, points, "not graded", "", [], c.hints if c else ()))
            continue
        fails = _merge_same_feedback(failures.get(cid, []))
        status = _status(entry)
        views.append(ConceptView(cid, title, entry.section or section, entry.score, entry.max_score, status,
                                 entry.note, fails, c.hints if (c and status != "passed") else (), standings.get(cid)))
    return views


def _merge_same_feedback(failures: list[Failure]) -> list[Failure]:
    """Checks that failed with the same words are shown once ("a stub" fails every check the same way)."""
    names: dict[str, list[str]] = {}
    for f in failures:
        names.setdefault(f.feedback, []).append(f.check)
    return [Failure(checks[0], feedback, len(checks), tuple(checks[1:])) for feedback, checks in names.items()]


def _quiz_view(result: QuizResult | None, attempts: list[AttemptRecord]) -> QuizView | None:
    quiz_attempts = [a for a in attempts if a.kind == "quiz"]
    if not quiz_attempts:
        return None
    last = quiz_attempts[-1]
    questions = quiz_questions()
    missed = []
    for answer in (result.questions if result is not None else []):
        if answer.correct:
            continue
        q, chosen = questions.get(answer.id), answer.chosen
        options = q.options if q else {}
        chosen_text = options.get(chosen or "", "") or ("no answer" if chosen is None else f"option {chosen}")
        missed.append(MissedQuestion(
            number=q.number if q else answer.number,
            prompt=q.prompt if q else answer.id,
            chosen=chosen_text,
            why_not=q.why_not.get(chosen or "", "") if q else "",
            explanation=q.explanation if q else "",
            section=(q.section if q else "") or answer.section,
            right=q.answer if q else ""))
    missed.sort(key=lambda m: m.number)
    return QuizView(last.score, last.max_score, last.passed, last.graded_at, len(quiz_attempts), missed,
                    result.graded_with if result is not None else "")


def _next_steps(ex: ExercisesView | None, concepts: list[ConceptView], quiz: QuizView | None,
                threshold: float) -> list[Step]:
    steps: list[Step] = []
    if ex is None:
        steps.append(Step("Write the functions in the files of exercises/, starting with mse.py; "
                          "the lesson's worked examples are the quick checks.", "vaegrade check"))
        steps.append(Step("When the quick checks pass, run the hidden checks that decide the grade.",
                          "vaegrade grade"))
    else:
        # the learner's recognised mistakes, most points lost first (the order `grade` and `status` use)
        todo = nextsteps.to_fix([c.standing for c in concepts if c.standing is not None])
        sections = {c.id: c.section for c in concepts}
        for s in todo:
            reread = f" Reread “{sections[s.id]}”." if sections.get(s.id) and s.mistakes else ""
            steps.append(Step(f"{s.advice()}{reread}", s.command))
        if todo:
            steps.append(Step("Grade again to record a new attempt.", "vaegrade grade"))
    if quiz is None:
        steps.append(Step(f"Take the ten-question mastery quiz (a pass needs more than {threshold:.0%}).",
                          "vaegrade quiz"))
    elif not quiz.passed:
        sections = sorted({m.section for m in quiz.missed if m.section})
        where = f" Reread {', '.join(f'“{s}”' for s in sections)}." if sections else ""
        steps.append(Step(f"Read the explanations of the questions you missed, then retake the quiz.{where}",
                          "vaegrade quiz"))
    if ex is not None and ex.passed and quiz is not None and quiz.passed:
        if any(c.status != "passed" for c in concepts):
            steps.insert(0, Step("The lesson is complete. The checks still failing are worth finishing: "
                                 "they are the mistakes the lesson warns about."))
        else:
            steps.append(Step("The lesson is complete: every concept passes and the quiz too. "
                              "Move on to the next lesson."))
    return steps


def _glance(ex: ExercisesView | None, quiz: QuizView | None, threshold: float) -> charts.HBarChart:
    rows = [("Exercises", ex.percent if ex else 0.0,
             f"{ex.score:g} / {ex.max_score:g}" if ex else "—"),
            ("Mastery quiz", quiz.percent if quiz else 0.0,
             f"{quiz.score:g} / {quiz.max_score:g}" if quiz else "—")]
    desc = "; ".join(f"{label}: {text} ({pct:.0f}%)" if "/" in text else f"{label}: not graded yet"
                     for label, pct, text in rows)
    return charts.hbars(rows, threshold=threshold, title="Exercises and quiz against the pass line",
                        desc=f"{desc}. A pass needs more than {threshold:.0%}.", width=440, label_width=100, row_height=34)


def learner_report(learner: str, snap: Snapshot, *, threshold: float = PASS_FRACTION, generated_at: str = "",
                   back_href: str = "", source: str = "") -> LearnerReport:
    """The view of one learner's progress, from a gradebook snapshot holding that learner."""
    attempts = snap.attempts.get(learner, [])
    ex_attempts = [a for a in attempts if a.kind == "exercises"]
    result = snap.exercises.get(learner)
    ex = None
    if ex_attempts:
        last = ex_attempts[-1]
        ex = ExercisesView(last.score, last.max_score, passes(last.score, last.max_score, threshold),
                           last.graded_at, len(ex_attempts), last.seed)
    concepts = _concept_views(result if ex else None)
    quiz = _quiz_view(snap.quiz.get(learner), attempts)
    if quiz is not None:
        quiz.passed = passes(quiz.score, quiz.max_score, threshold)
    return _assemble(learner, ex, concepts, quiz, attempts, snap.problems.get(learner, []), threshold,
                     generated_at, back_href, source)


def _assemble(learner, ex, concepts, quiz, attempts, problems, threshold, generated_at, back_href, source):
    complete = bool(ex and ex.passed and quiz and quiz.passed)
    ex_hist = [(_when(a.graded_at), a.score, a.max_score) for a in attempts if a.kind == "exercises"]
    quiz_hist = [(_when(a.graded_at), a.score, a.max_score) for a in attempts if a.kind == "quiz"]
    history = charts.history(
        ex_hist, threshold=threshold, title="Exercise score per attempt",
        desc=f"{len(ex_hist)} graded attempt{'s' if len(ex_hist) != 1 else ''}; "
             + ", ".join(f"{s:g}/{m:g}" for _, s, m in ex_hist[-20:])
             + f". The pass line is at {threshold:.0%}.") if ex_hist else None
    quiz_history = charts.history(
        quiz_hist, threshold=threshold, title="Quiz score per attempt",
        desc=f"{len(quiz_hist)} quiz attempt{'s' if len(quiz_hist) != 1 else ''}; "
             + ", ".join(f"{s:g}/{m:g}" for _, s, m in quiz_hist[-20:])
             + f". The pass line is at {threshold:.0%}.", height=180) if quiz_hist else None
    counters: Counter = Counter()
    rows = []
    for a in attempts:
        counters[a.kind] += 1
        rows.append((counters[a.kind], "exercises" if a.kind == "exercises" else "quiz", a.graded_at,
                     a.score, a.max_score, passes(a.score, a.max_score, threshold)))
    return LearnerReport(
        learner=learner, generated_at=generated_at or now(), threshold=threshold, exercises=ex,
        concepts=concepts, quiz=quiz, complete=complete, glance=_glance(ex, quiz, threshold), history=history,
        quiz_history=quiz_history, history_rows=rows, next_steps=_next_steps(ex, concepts, quiz, threshold),
        problems=problems, back_href=back_href, source=source)


def learner_report_from_results(result: dict, *, learner: str | None = None, threshold: float | None = None,
                                source: str = "") -> LearnerReport:
    """A learner's report straight from one results.json (no gradebook: one attempt, no quiz)."""
    if not isinstance(result, dict) or not isinstance(result.get("concepts"), dict) or "score" not in result:
        raise ReportError("not a vae-grader results.json (it needs `score`, `max_score` and `concepts`); "
                          "make one with `vaegrade grade --format json > results.json`")
    extra = result.get("extra_data") if isinstance(result.get("extra_data"), dict) else {}
    if threshold is None:
        threshold = float(extra.get("pass_fraction", PASS_FRACTION))
    try:
        score, max_score = float(result["score"]), float(result.get("max_score", 0))
    except (TypeError, ValueError):
        raise ReportError("the results file's `score` and `max_score` must be numbers") from None
    when = str(extra.get("graded_at", "")) or now()
    name = learner or str(extra.get("learner", "") or default_learner())
    attempt = AttemptRecord("", name, "exercises", when, str(extra.get("grader_version", "")), None, score,
                            max_score, passes(score, max_score, threshold))
    ex = ExercisesView(score, max_score, attempt.passed, when, 1, extra.get("seed"))
    try:
        typed = GradingResult.from_results_json(result)
    except (TypeError, ValueError) as exc:
        raise ReportError(f"the results file cannot be read: {exc}") from None
    return _assemble(name, ex, _concept_views(typed), None, [attempt], [], threshold, "", "", source)


def render_learner(report: LearnerReport) -> str:
    return environment().get_template("learner.html").render(r=report, generated_at=report.generated_at)


# --- the class overview ------------------------------------------------------------------------


@dataclass(frozen=True)
class RosterRow:
    learner: str
    href: str
    ex_score: float | None
    ex_max: float | None
    ex_passed: bool | None
    quiz_score: float | None
    quiz_max: float | None
    quiz_passed: bool | None
    complete: bool
    attempts: int                 #: every attempt, exercises and quiz
    last: str                     #: when the latest attempt was graded ("" when none was)
    problem: str
    ex_attempts: int = 0
    quiz_attempts: int = 0

    @property
    def ex_percent(self) -> float:
        return 100 * self.ex_score / self.ex_max if self.ex_max else 0.0


@dataclass(frozen=True)
class ConceptRate:
    id: str
    title: str
    section: str
    passed: int
    graded: int
    mean: float
    max_score: float

    @property
    def percent(self) -> float:
        return 100 * self.passed / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class MisconceptionRow:
    id: str
    concept: str
    label: str
    learners: int
    percent: float


@dataclass(frozen=True)
class CodeProblemRow:
    id: str
    label: str
    concepts: list[str]
    learners: int
    percent: float


@dataclass(frozen=True)
class QuizItem:
    number: int
    id: str
    prompt: str
    answered: int
    correct: int
    wrong_text: str     #: the wrong option chosen most often ("" when nobody chose a wrong one)
    wrong_count: int
    blank: int          #: learners who left it unanswered
    responses: tuple = ()   #: (letter A-D, option text, learners who chose it, is the right one), canonical order

    @property
    def percent(self) -> float:
        return 100 * self.correct / self.answered if self.answered else 0.0


@dataclass
class ClassReport:
    generated_at: str
    threshold: float
    source: str
    learners: int
    graded: int
    ex_passed: int
    quiz_taken: int
    quiz_passed: int
    complete: int
    median: float | None
    mean: float | None
    max_score: float | None
    histogram: charts.Histogram | None
    concept_chart: charts.HBarChart | None
    concepts: list[ConceptRate]
    misconceptions: list[MisconceptionRow]
    code_problems: list[CodeProblemRow]
    quiz_chart: charts.HBarChart | None
    quiz_items: list[QuizItem]
    roster: list[RosterRow]
    problems: list[tuple[str, str, str]]
    most_missed: list[QuizItem] = field(default_factory=list)
    grid_concepts: list[ConceptRate] = field(default_factory=list)   #: the grid's columns, manifest order
    grid: list[GridRow] = field(default_factory=list)                #: one row per graded learner
    ambiguous: int = 0       #: learner-concepts with more than one diagnosis: not counted as a misconception
    stubs: int = 0           #: learner-concepts still the stub: counted apart, never as a misconception
    similarity: dict | None = None   #: `vaegrade similarity`'s groups, when it ran into the batch folder
    policy: str = ""         #: the course policy that chose each learner's counted attempt ("": the latest)


@dataclass(frozen=True)
class GridCell:
    score: float | None      #: None: the concept was not in the attempt
    max_score: float
    state: str               #: "passed", "partial", "failed" or "none"


@dataclass(frozen=True)
class GridRow:
    learner: str
    href: str
    total: float
    max_score: float
    cells: list[GridCell]


# Ids for code that did not run as a function should (the runner's): not misconceptions about the
# lesson, so the class overview counts them apart.
CODE_PROBLEMS = {
    "code.not_implemented": "Still the stub: raises NotImplementedError",
    "code.exception": "Raises an exception",
    "code.missing_file": "File missing from the submission",
    "code.missing_function": "Function missing from its file",
    "code.import_error": "File does not import (syntax or import error)",
    "code.crash": "The process running it crashed",
    "code.protocol": "Sent back something the grader cannot read",
}


def _is_code_problem(mid: str) -> bool:
    return mid in CODE_PROBLEMS or mid == "limit" or mid.startswith(("code.", "limit.", "grader."))


def _code_problem_label(mid: str) -> str:
    if mid in CODE_PROBLEMS:
        return CODE_PROBLEMS[mid]
    if mid.startswith("limit"):
        which = mid.partition(".")[2].replace("_", " ")
        return f"Stopped by the {which} limit" if which else "Stopped by a limit"
    return mid


@lru_cache(maxsize=None)
def declared_misconceptions() -> dict[str, str]:
    """Misconception id -> label, as the course manifest (grader/course/concepts.toml) declares them."""
    return {m.id: m.label for m in manifest.misconceptions()}


def misconception_label(mid: str) -> str:
    """The label of a misconception id, as the manifest declares it (else the id itself)."""
    return declared_misconceptions().get(mid) or mid


def class_report(snap: Snapshot, *, threshold: float = PASS_FRACTION, source: str = "",
                 generated_at: str = "", href=lambda learner: f"{REPORTS_DIR}/{safetext.file_stem(learner)}.html"
                 ) -> ClassReport:
    """The staff overview of every learner's latest attempts."""
    known = manifest.load()
    graded = [lid for lid in snap.learners if lid in snap.exercises]
    percents, scores, max_scores = [], [], []
    ex_pass = {}
    ex_counted = snap.counted.get("exercises", {})
    for lid in graded:
        last = ex_counted.get(lid) or [a for a in snap.attempts.get(lid, []) if a.kind == "exercises"][-1]
        scores.append(last.score)
        max_scores.append(last.max_score)
        percents.append(100 * last.score / last.max_score if last.max_score else 0.0)
        ex_pass[lid] = passes(last.score, last.max_score, threshold)
    quiz_last = {lid: snap.counted.get("quiz", {}).get(lid) or [a for a in snap.attempts.get(lid, [])
                                                                  if a.kind == "quiz"][-1]
                 for lid in snap.learners if any(a.kind == "quiz" for a in snap.attempts.get(lid, []))}
    quiz_pass = {lid: passes(a.score, a.max_score, threshold) for lid, a in quiz_last.items()}

    # Pass rate per concept, over the learners with a graded exercises attempt.
    rates = []
    by_id = {lid: {c.id: c for c in r.concepts} for lid, r in snap.exercises.items() if r is not None}
    for c in [*known, *sorted({k for concepts in by_id.values() for k in concepts} - {k.id for k in known})]:
        cid = c if isinstance(c, str) else c.id
        entries = [by_id[lid][cid] for lid in graded if cid in by_id.get(lid, {})]
        if not entries and isinstance(c, str):
            continue
        passed = sum(e.passed for e in entries)
        mean = sum(e.score for e in entries) / len(entries) if entries else 0.0
        title = c.title if not isinstance(c, str) else entries[0].title
        section = c.section if not isinstance(c, str) else entries[0].section
        max_score = c.points if not isinstance(c, str) else entries[0].max_score
        rates.append(ConceptRate(cid, title, section, passed, len(entries), round(mean, 2), max_score))

    # Misconceptions: learners (not checks) whose latest attempt shows each one, by declared label.
    # A concept's own ids ("sigma.variance") are counted as such; the DSL's generic ones ("shape")
    # per concept, since a wrong shape in kl and one in vq are different lessons to reread. A
    # learner's concept counts only when its diagnosis is unambiguous (one misconception id among
    # its failed checks); a concept that is still the stub counts apart, never as a misconception.
    who: dict[tuple[str, str], set] = defaultdict(set)
    concept_ids = {c.id for c in known}
    code_who: dict[str, set] = defaultdict(set)
    code_concepts: dict[str, set] = defaultdict(set)
    ambiguous = stubs = 0
    for lid in graded:
        result = snap.exercises.get(lid)
        seen: dict[str, set] = defaultdict(set)
        stubbed: set = set()
        for check in (result.checks if result is not None else []):
            mid, concept = check.misconception, check.concept
            if not mid:
                continue
            if _is_code_problem(mid):
                if mid == "code.exception" and "NotImplementedError" in (check.feedback or ""):
                    mid = "code.not_implemented"
                if mid == "code.not_implemented":
                    stubbed.add(concept)
                code_who[mid].add(lid)
                code_concepts[mid].add(concept)
                continue
            owner = mid.split(".", 1)[0]
            seen[owner if owner in concept_ids else concept].add(mid)
        stubs += len(stubbed)
        for concept, mids in seen.items():
            if concept in stubbed:
                continue
            if len(mids) > 1:
                ambiguous += 1
                continue
            who[(concept, next(iter(mids)))].add(lid)
    misconceptions = sorted(
        (MisconceptionRow(mid, concept, misconception_label(mid), len(lids),
                          100 * len(lids) / len(graded)) for (concept, mid), lids in who.items()),
        key=lambda m: (-m.learners, m.concept, m.id))[:15]
    order = {c.id: i for i, c in enumerate(known)}
    code_problems = sorted(
        (CodeProblemRow(mid, _code_problem_label(mid), sorted(code_concepts[mid], key=lambda c: (order.get(c, 99), c)),
                        len(lids), 100 * len(lids) / len(graded)) for mid, lids in code_who.items()),
        key=lambda m: (-m.learners, m.id))

    # Quiz item analysis over each learner's latest quiz attempt.
    questions = quiz_questions()
    answered: Counter = Counter()
    correct: Counter = Counter()
    blank: Counter = Counter()
    wrong: dict[str, Counter] = defaultdict(Counter)
    for lid in quiz_last:
        taken = snap.quiz.get(lid)
        for qid, chosen, ok in ((q.id, q.chosen, q.correct) for q in (taken.questions if taken else [])):
            answered[qid] += 1
            if ok:
                correct[qid] += 1
            elif chosen is None:
                blank[qid] += 1
            else:
                wrong[qid][chosen] += 1
    chosen_by: dict[str, Counter] = defaultdict(Counter)
    right_option: dict[str, str] = {}
    for lid in quiz_last:
        taken = snap.quiz.get(lid)
        for q in (taken.questions if taken else []):
            if q.chosen is not None:
                chosen_by[q.id][q.chosen] += 1
                if q.correct:
                    right_option[q.id] = q.chosen
    items = []
    order = [*questions, *sorted(set(answered) - set(questions))]
    for i, qid in enumerate(order):
        q = questions.get(qid)
        if q is None and not answered[qid]:
            continue
        top = wrong[qid].most_common(1)
        wrong_text = ""
        if top:
            wrong_text = (q.options.get(top[0][0]) if q else None) or f"option {top[0][0]}"
        option_ids = sorted(set(q.options) if q else set()) or sorted(chosen_by[qid])
        responses = tuple((chr(ord("A") + k), (q.options.get(oid, "") if q else ""), chosen_by[qid][oid],
                           right_option.get(qid) == oid) for k, oid in enumerate(option_ids))
        items.append(QuizItem(q.number if q else i + 1, qid, q.prompt if q else qid, answered[qid], correct[qid],
                              wrong_text, top[0][1] if top else 0, blank[qid], responses))
    if not quiz_last:
        items = []

    roster = []
    for lid in snap.learners:
        attempts = snap.attempts.get(lid, [])
        ex_last = [a for a in attempts if a.kind == "exercises"]
        q = quiz_last.get(lid)
        probs = snap.problems.get(lid, [])
        problem = probs[-1][1] if probs and (not attempts or probs[-1][0] >= attempts[-1].graded_at) else ""
        shown = ex_counted.get(lid) or (ex_last[-1] if ex_last else None)
        roster.append(RosterRow(
            lid, href(lid), shown.score if shown else None, shown.max_score if shown else None,
            ex_pass.get(lid), q.score if q else None, q.max_score if q else None, quiz_pass.get(lid),
            bool(ex_pass.get(lid) and quiz_pass.get(lid)), len(attempts),
            attempts[-1].graded_at if attempts else "", problem,
            ex_attempts=len(ex_last), quiz_attempts=sum(a.kind == "quiz" for a in attempts)))

    ordered = sorted(scores)
    median = None
    if ordered:
        mid = len(ordered) // 2
        median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    top_max = max(max_scores) if max_scores else None
    hist = charts.histogram(
        percents, threshold=threshold, title="Distribution of exercise scores",
        desc=f"{len(percents)} learners' latest exercise scores in bins of 5 percent; "
             f"{sum(ex_pass.values())} are above the {threshold:.0%} pass line.") if percents else None
    by_rate = sorted(rates, key=lambda r: (r.percent, r.title))   # the concepts to reteach first
    concept_chart = charts.hbars(
        [(r.title, r.percent, f"{r.percent:.0f}%") for r in by_rate], threshold=threshold,
        title=f"Pass rate per concept, lowest first (the line: {threshold:.0%} of learners)",
        desc="; ".join(f"{r.title}: {r.passed} of {r.graded} pass ({r.percent:.0f}%)" for r in by_rate) + ".",
        label_width=230) if graded else None
    quiz_chart = charts.hbars(
        [(f"Q{it.number}", it.percent, f"{it.percent:.0f}%") for it in items], threshold=threshold,
        title="Percent of learners answering each quiz question correctly",
        desc="; ".join(f"question {it.number}: {it.correct} of {it.answered} correct" for it in items) + ".",
        label_width=56) if items else None
    missed = sorted((it for it in items if it.answered and it.correct < it.answered),
                    key=lambda it: (it.percent, it.number))
    cut = missed[min(2, len(missed) - 1)].percent if missed else 0.0
    most_missed = [it for it in missed if it.percent <= cut + 1e-9]   # the three lowest, and every tie
    grid = []
    for lid in graded:
        entries = by_id.get(lid, {})
        cells = []
        for r in rates:
            e = entries.get(r.id)
            state = "none" if e is None else ("passed" if e.passed else ("partial" if e.score else "failed"))
            cells.append(GridCell(None if e is None else e.score, r.max_score, state))
        last = ex_counted.get(lid) or [a for a in snap.attempts.get(lid, []) if a.kind == "exercises"][-1]
        grid.append(GridRow(lid, href(lid), last.score, last.max_score, cells))
    return ClassReport(
        generated_at=generated_at or now(), threshold=threshold, source=source, learners=len(snap.learners),
        graded=len(graded), ex_passed=sum(ex_pass.values()), quiz_taken=len(quiz_last),
        quiz_passed=sum(quiz_pass.values()), complete=sum(r.complete for r in roster),
        median=median, mean=round(sum(scores) / len(scores), 2) if scores else None, max_score=top_max,
        histogram=hist, concept_chart=concept_chart, concepts=rates, misconceptions=misconceptions,
        code_problems=code_problems,
        quiz_chart=quiz_chart, quiz_items=items, roster=roster,
        problems=[(lid, at, reason) for lid, ps in snap.problems.items() for at, reason in ps],
        most_missed=most_missed, grid_concepts=rates, grid=grid, ambiguous=ambiguous, stubs=stubs,
        policy=snap.policy)


def render_class(report: ClassReport) -> str:
    return environment().get_template("class.html").render(r=report, generated_at=report.generated_at)
