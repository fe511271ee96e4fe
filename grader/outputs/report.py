"""HTML progress reports: a learner's own page and a class overview for staff.

Data comes from the SQLite gradebook (or, for a learner without one, a
results.json from `vaegrade grade --format json`); one Jinja environment
renders the templates in site/ with autoescape and StrictUndefined, and the
charts are inline SVG drawn from grader.outputs.charts geometry, so a report opens
offline and every learner-controlled string is escaped.
"""

from __future__ import annotations

import json
import sqlite3
import time
import tomllib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

import grader
from grader import safetext
from grader.outputs import charts
from grader.course import manifest
from grader.settings import GRADEBOOK_FILE, PASS_FRACTION, STATE_DIR, default_learner, passes

CLASS_REPORT = "class-report.html"   #: the class overview inside a batch output dir
REPORTS_DIR = "reports"              #: per-learner pages beside it
GRADEBOOK_NAME = GRADEBOOK_FILE  #: the gradebook `vaegrade batch` writes into its output dir


class ReportError(Exception):
    """The report cannot be made from what was given (missing gradebook, unreadable results)."""


# --- templates ---------------------------------------------------------------------


@lru_cache(maxsize=None)
def environment():
    """The one Jinja environment: templates from site/, HTML autoescaped, undefined names are errors."""
    import jinja2

    from grader.course.content import content_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(content_dir("site"))),
        autoescape=jinja2.select_autoescape(["html", "svg"], default_for_string=True, default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
        finalize=safetext.template_finalize,   # every printed value inert (bidi, controls, surrogates)
    )
    env.filters["num"] = lambda x: f"{x:g}"
    env.filters["when"] = _when
    env.globals["version"] = grader.__version__
    return env


def _when(iso: str) -> str:
    """'2026-11-23T23:25:33+00:00' -> '2026-11-23 23:25 UTC' (unparseable text is shown as is)."""
    try:
        t = datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return str(iso)
    if t.tzinfo is not None:
        t = t.astimezone(timezone.utc)
    return t.strftime("%Y-%m-%d %H:%M UTC")


def safe_name(learner: str) -> str:
    """The file name (without .html) of a learner's page: grader.safetext.file_stem, injective."""
    return safetext.file_stem(learner)


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


@lru_cache(maxsize=None)
def quiz_questions() -> dict[str, QuizQuestion]:
    """The quiz's questions by id, in the lesson's order; empty when no quiz content is installed.

    Read through the quiz engine, so the learner's key-less copy gives the same
    explanations as the staff copy; the staff TOML is read directly otherwise.
    """
    try:
        from grader.grading.quiz import load_quiz
    except ImportError:
        return _quiz_from_toml()
    try:
        quiz = load_quiz()
        out = {}
        for q in quiz.questions:
            out[q.id] = QuizQuestion(
                id=q.id, number=q.number, prompt=q.prompt, section=q.section,
                options={o.id: o.text for o in q.options},
                why_not={o.id: quiz.key.why_not(q.id, o.id) for o in q.options},
                explanation=quiz.key.explanation(q.id))
    except Exception:  # unusable quiz data: the report still renders, with question ids only
        return _quiz_from_toml()
    return dict(sorted(out.items(), key=lambda kv: kv[1].number))


def _quiz_from_toml() -> dict[str, QuizQuestion]:
    try:
        from grader.course.content import content_dir

        data = tomllib.loads((content_dir("quizzes") / "mastery.toml").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    out = {}
    for i, q in enumerate(data.get("questions", [])):
        if not isinstance(q, dict) or "id" not in q:
            continue
        opts = [o for o in q.get("options", []) if isinstance(o, dict) and "id" in o]
        out[str(q["id"])] = QuizQuestion(
            id=str(q["id"]), number=int(q.get("number", i + 1)), prompt=str(q.get("prompt", q["id"])),
            section=str(q.get("section", "")),
            options={str(o["id"]): str(o.get("text", "")) for o in opts},
            why_not={str(o["id"]): str(o["why_not"]) for o in opts if o.get("why_not")},
            explanation=str(q.get("explanation", "")))
    return dict(sorted(out.items(), key=lambda kv: kv[1].number))


# --- reading the gradebook -------------------------------------------------------------


@dataclass(frozen=True)
class AttemptRow:
    id: int
    kind: str
    graded_at: str
    score: float
    max_score: float
    passed: bool


@dataclass
class Snapshot:
    """Everything the reports read, loaded in a handful of queries (for one learner or a whole class)."""

    learners: list[str]
    attempts: dict[str, list[AttemptRow]]                   #: every attempt, oldest first
    exercises: dict[str, dict]                              #: latest exercises results.json
    quiz: dict[str, list[tuple[str, str | None, bool]]]     #: latest quiz answers
    quiz_result: dict[str, dict]                            #: latest quiz attempt's own record
    misconceptions: dict[str, list[tuple[str, str, str]]]   #: latest exercises: (concept, id, feedback)
    problems: dict[str, list[tuple[str, str]]]              #: (when, reason) a submission failed to grade


def open_gradebook(path: Path) -> sqlite3.Connection:
    """Open an existing gradebook read-only (a report never creates or changes one)."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"no gradebook at {path}")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        db.execute("SELECT 1 FROM attempts LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        raise ReportError(f"{path} is not a vae-grader gradebook ({exc})") from None
    return db


def load_snapshot(db: sqlite3.Connection, learner: str | None = None, *, details: bool = True) -> Snapshot:
    """Read the gradebook: every learner (learner=None) or just one.

    details=False skips the failed checks' feedback (the class overview does not show it).
    """
    only, args = ("AND learner = ?", (learner,)) if learner is not None else ("", ())
    attempts: dict[str, list[AttemptRow]] = defaultdict(list)
    for lid, aid, kind, at, score, max_score, passed in db.execute(
            f"SELECT learner, id, kind, graded_at, score, max_score, passed FROM attempts WHERE 1=1 {only}"
            " ORDER BY id", args):
        attempts[lid].append(AttemptRow(aid, kind, at, score, max_score, bool(passed)))

    def latest(kind: str) -> str:
        return f"SELECT MAX(id) FROM attempts WHERE kind = '{kind}' {only} GROUP BY learner"

    exercises = _latest_exercises(db, latest("exercises"), args, details)
    quiz_result = {lid: _loads(text) for lid, text in db.execute(
        f"SELECT learner, result_json FROM attempts WHERE id IN ({latest('quiz')})", args)}
    quiz: dict[str, list] = defaultdict(list)
    for lid, qid, chosen, ok in db.execute(
            "SELECT a.learner, q.question_id, q.chosen, q.correct FROM quiz_answers q JOIN attempts a"
            f" ON a.id = q.attempt_id WHERE q.attempt_id IN ({latest('quiz')}) ORDER BY q.rowid", args):
        quiz[lid].append((qid, chosen, bool(ok)))
    mis: dict[str, list] = defaultdict(list)
    for lid, concept, mid, feedback in db.execute(
            "SELECT a.learner, c.concept, c.misconception, c.feedback FROM check_results c JOIN attempts a"
            f" ON a.id = c.attempt_id WHERE c.misconception IS NOT NULL AND c.misconception != ''"
            f" AND c.attempt_id IN ({latest('exercises')})", args):
        mis[lid].append((concept, mid, feedback))
    problems: dict[str, list] = defaultdict(list)
    try:
        for lid, at, reason in db.execute(f"SELECT learner, at, reason FROM problems WHERE 1=1 {only} ORDER BY id",
                                          args):
            problems[lid].append((at, reason))
    except sqlite3.OperationalError:
        pass
    learners = sorted(set(attempts) | set(problems))
    return Snapshot(learners, dict(attempts), exercises, dict(quiz), quiz_result, dict(mis), dict(problems))


def _loads(text) -> dict:
    try:
        value = json.loads(text) if text is not None else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def _latest_exercises(db: sqlite3.Connection, latest: str, args: tuple, details: bool) -> dict[str, dict]:
    """learner -> the parts of the latest results.json a report reads (`concepts`, the seed, failed `tests`).

    SQLite's JSON functions pick those parts out, so Python parses a fifth of each
    record (the class overview of 1,000 learners reads in well under 0.1 s).
    """
    try:
        out = {lid: {"concepts": _loads(concepts), "extra_data": {"seed": seed}, "tests": []}
               for lid, concepts, seed in db.execute(
                   "SELECT learner, json_extract(result_json, '$.concepts'), json_extract(result_json,"
                   f" '$.extra_data.seed') FROM attempts WHERE id IN ({latest})", args)}
        if details:
            for lid, test in db.execute(
                    "SELECT a.learner, t.value FROM attempts a, json_each(a.result_json, '$.tests') t"
                    f" WHERE a.id IN ({latest}) AND json_extract(t.value, '$.status') IS NOT 'passed'"
                    " ORDER BY a.id, t.key", args):
                out[lid]["tests"].append(_loads(test))
        return out
    except sqlite3.OperationalError:  # an SQLite without JSON functions, or a malformed record
        return {lid: _loads(text) for lid, text in db.execute(
            f"SELECT learner, result_json FROM attempts WHERE id IN ({latest})", args)}


# --- the learner's report ------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    check: str
    feedback: str


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


def _status(entry: dict, failures: list[Failure]) -> str:
    if entry.get("passed"):
        return "passed"
    if float(entry.get("score", 0) or 0) > 0:
        return "partial"
    return "failed"


def _concept_views(result: dict | None) -> list[ConceptView]:
    """One view per concept of the manifest (then any others the result names), from a results.json."""
    known = {c.id: c for c in manifest.load()}
    entries = (result or {}).get("concepts") or {}
    if not isinstance(entries, dict):
        entries = {}
    failures: dict[str, list[Failure]] = defaultdict(list)
    for test in (result or {}).get("tests") or []:
        if not isinstance(test, dict) or test.get("status") == "passed":
            continue
        name = str(test.get("name", ""))
        tags = test.get("tags") or []
        concept = str(tags[0]) if tags else name.split(":", 1)[0]
        check = name.split(": ", 1)[1] if name.startswith(concept + ": ") else name
        failures[concept].append(Failure(check, str(test.get("output", ""))))
    views = []
    for cid in [*known, *(k for k in entries if k not in known)]:
        c, entry = known.get(cid), entries.get(cid)
        title = c.title if c else str((entry or {}).get("title", cid))
        section = c.section if c else str((entry or {}).get("section", ""))
        points = c.points if c else float((entry or {}).get("max_score", 0) or 0)
        if not isinstance(entry, dict):
            views.append(ConceptView(cid, title, section, 0.0, points, "not graded", "", [], c.hints if c else ()))
            continue
        fails = _merge_same_feedback(failures.get(cid, []))
        status = _status(entry, fails)
        views.append(ConceptView(cid, title, str(entry.get("section", section)), float(entry.get("score", 0) or 0),
                                 float(entry.get("max_score", points) or 0), status, str(entry.get("note", "") or ""),
                                 fails, c.hints if (c and status != "passed") else ()))
    return views


def _merge_same_feedback(failures: list[Failure]) -> list[Failure]:
    """Checks that failed with the same words are shown once ("a stub" fails every check the same way)."""
    names: dict[str, list[str]] = {}
    for f in failures:
        names.setdefault(f.feedback, []).append(f.check)
    return [Failure(checks[0] + (f" (and {len(checks) - 1} more check{'s' if len(checks) > 2 else ''})"
                                 if len(checks) > 1 else ""), feedback) for feedback, checks in names.items()]


def _quiz_view(answers: list[tuple[str, str | None, bool]], result: dict, attempts: list[AttemptRow]
               ) -> QuizView | None:
    quiz_attempts = [a for a in attempts if a.kind == "quiz"]
    if not quiz_attempts:
        return None
    last = quiz_attempts[-1]
    questions = quiz_questions()
    extra = _result_questions(result)
    missed = []
    for qid, chosen, ok in answers:
        if ok:
            continue
        q, more = questions.get(qid), extra.get(qid, {})
        options = q.options if q else {}
        chosen_text = options.get(chosen or "", "") or str(more.get("chosen_text", "")) or (
            "no answer" if chosen is None else f"option {chosen}")
        missed.append(MissedQuestion(
            number=q.number if q else int(more.get("number", 0) or 0),
            prompt=q.prompt if q else str(more.get("prompt", qid)),
            chosen=chosen_text,
            why_not=(q.why_not.get(chosen or "", "") if q else "") or str(more.get("why_not", "")),
            explanation=(q.explanation if q else "") or str(more.get("explanation", "")),
            section=(q.section if q else "") or str(more.get("section", ""))))
    missed.sort(key=lambda m: m.number)
    graded_with = str(result.get("graded_with", "")) if isinstance(result, dict) else ""
    return QuizView(last.score, last.max_score, last.passed, last.graded_at, len(quiz_attempts), missed,
                    graded_with)


def _result_questions(result: dict) -> dict[str, dict]:
    """Per-question details a quiz attempt's own record may carry (whatever shape the quiz engine chose)."""
    items = result.get("questions") if isinstance(result, dict) else None
    if isinstance(items, dict):
        items = [dict(v, id=k) for k, v in items.items() if isinstance(v, dict)]
    if not isinstance(items, list):
        return {}
    return {str(i.get("id")): i for i in items if isinstance(i, dict) and i.get("id") is not None}


def _next_steps(ex: ExercisesView | None, concepts: list[ConceptView], quiz: QuizView | None,
                threshold: float) -> list[Step]:
    steps: list[Step] = []
    if ex is None:
        steps.append(Step("Write the functions in the files of exercises/, starting with mse.py; "
                          "the lesson's worked examples are the quick checks.", "vaegrade check"))
        steps.append(Step("When the quick checks pass, run the hidden checks that decide the grade.",
                          "vaegrade grade"))
    else:
        todo = sorted((c for c in concepts if c.status != "passed"), key=lambda c: c.score - c.max_score)
        for c in todo[:3]:
            hint = f" {c.hints[0]}" if c.hints else ""
            reread = f" Reread “{c.section}”." if c.section else ""
            steps.append(Step(f"Fix {c.title} ({c.score:g} / {c.max_score:g} points).{reread}{hint}",
                              f"vaegrade check {c.id}"))
        if len(todo) > 3:
            steps.append(Step(f"Then the {len(todo) - 3} other concept{'s' if len(todo) > 4 else ''} "
                              "not passed yet: " + ", ".join(c.title for c in todo[3:]) + "."))
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
                        desc=f"{desc}. A pass needs more than {threshold:.0%}.", width=560, label_width=110, row_height=34)


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
                           last.graded_at, len(ex_attempts), (result or {}).get("extra_data", {}).get("seed"))
    concepts = _concept_views(result if ex else None)
    quiz = _quiz_view(snap.quiz.get(learner, []), snap.quiz_result.get(learner, {}), attempts)
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
        learner=learner, generated_at=generated_at or _now(), threshold=threshold, exercises=ex,
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
    when = str(extra.get("graded_at", "")) or _now()
    attempt = AttemptRow(0, "exercises", when, score, max_score, passes(score, max_score, threshold))
    ex = ExercisesView(score, max_score, attempt.passed, when, 1, extra.get("seed"))
    name = learner or str(extra.get("learner", "") or default_learner())
    return _assemble(name, ex, _concept_views(result), None, [attempt], [], threshold, "", "", source)


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
    attempts: int
    last: str
    problem: str

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


# Ids the check DSL uses for mistakes that are not about one concept.
GENERIC_MISCONCEPTIONS = {
    "shape": "Returns the right values in the wrong shape",
    "numeric.nonfinite": "NaN or infinity for extreme logvar (not numerically stable)",
    "torch.no_grad_path": "Gradients do not reach mu and logvar (detached, converted to numpy, or no_grad)",
}

# Ids for code that did not run as a function should (the runner's): not misconceptions about the
# lesson, so the class overview counts them apart. "code.not_implemented" is ours: a code.exception
# that is the stub's NotImplementedError.
CODE_PROBLEMS = {
    "code.not_implemented": "Still the stub: raises NotImplementedError",
    "code.exception": "Raises an exception",
    "code.missing_file": "File missing from the submission",
    "code.missing_function": "Function missing from its file",
    "code.import_error": "File does not import (syntax or import error)",
    "code.crash": "The process running it crashed",
    "code.protocol": "Sent back something the grader cannot read",
    "grader.unjudgeable": "The grader could not judge the result",
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


def misconception_label(mid: str, feedbacks: list[str]) -> str:
    """A readable label for a misconception id: the tutor's sentence its checks most often gave."""
    if mid in GENERIC_MISCONCEPTIONS:
        return GENERIC_MISCONCEPTIONS[mid]
    sentences = Counter()
    for text in feedbacks:
        # expect_close writes "<what> is off. <the mistake, named>": keep the naming sentence.
        _, sep, rest = text.partition(" is off. ")
        sentences[(rest if sep else text).split("\n", 1)[0].strip()] += 1
    best = sentences.most_common(1)[0][0] if sentences else ""
    if not best:
        return mid.split(".", 1)[-1].replace("_", " ")
    return best if len(best) <= 200 else best[:197].rstrip() + "…"


def class_report(snap: Snapshot, *, threshold: float = PASS_FRACTION, source: str = "",
                 generated_at: str = "", href=lambda learner: f"{REPORTS_DIR}/{safe_name(learner)}.html"
                 ) -> ClassReport:
    """The staff overview of every learner's latest attempts."""
    known = manifest.load()
    graded = [lid for lid in snap.learners if lid in snap.exercises]
    percents, scores, max_scores = [], [], []
    ex_pass = {}
    for lid in graded:
        last = [a for a in snap.attempts.get(lid, []) if a.kind == "exercises"][-1]
        scores.append(last.score)
        max_scores.append(last.max_score)
        percents.append(100 * last.score / last.max_score if last.max_score else 0.0)
        ex_pass[lid] = passes(last.score, last.max_score, threshold)
    quiz_last = {lid: [a for a in snap.attempts.get(lid, []) if a.kind == "quiz"][-1]
                 for lid in snap.learners if any(a.kind == "quiz" for a in snap.attempts.get(lid, []))}
    quiz_pass = {lid: passes(a.score, a.max_score, threshold) for lid, a in quiz_last.items()}

    # Pass rate per concept, over the learners with a graded exercises attempt.
    rates = []
    for c in [*known, *sorted({k for r in snap.exercises.values() for k in (r.get("concepts") or {})}
                              - {k.id for k in known})]:
        cid = c if isinstance(c, str) else c.id
        entries = [(snap.exercises[lid].get("concepts") or {}).get(cid) for lid in graded]
        entries = [e for e in entries if isinstance(e, dict)]
        if not entries and isinstance(c, str):
            continue
        passed = sum(bool(e.get("passed")) for e in entries)
        mean = sum(float(e.get("score", 0) or 0) for e in entries) / len(entries) if entries else 0.0
        title = c.title if not isinstance(c, str) else str(entries[0].get("title", cid))
        section = c.section if not isinstance(c, str) else str(entries[0].get("section", ""))
        max_score = c.points if not isinstance(c, str) else float(entries[0].get("max_score", 0) or 0)
        rates.append(ConceptRate(cid, title, section, passed, len(entries), round(mean, 2), max_score))

    # Misconceptions: learners (not checks) whose latest attempt shows each one.
    # A concept's own ids ("sigma.variance") are counted as such; the DSL's generic ones ("shape")
    # per concept, since a wrong shape in kl and one in vq are different lessons to reread.
    who: dict[tuple[str, str], set] = defaultdict(set)
    feedback: dict[tuple[str, str], list[str]] = defaultdict(list)
    concept_ids = {c.id for c in known}
    code_who: dict[str, set] = defaultdict(set)
    code_concepts: dict[str, set] = defaultdict(set)
    for lid in graded:
        for concept, mid, text in snap.misconceptions.get(lid, []):
            if _is_code_problem(mid):
                if mid == "code.exception" and "NotImplementedError" in text:
                    mid = "code.not_implemented"
                code_who[mid].add(lid)
                code_concepts[mid].add(concept)
                continue
            owner = mid.split(".", 1)[0]
            slot = (owner if owner in concept_ids else concept, mid)
            who[slot].add(lid)
            if len(feedback[slot]) < 50:
                feedback[slot].append(text)
    misconceptions = sorted(
        (MisconceptionRow(mid, concept, misconception_label(mid, feedback[(concept, mid)]), len(lids),
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
        for qid, chosen, ok in snap.quiz.get(lid, []):
            answered[qid] += 1
            if ok:
                correct[qid] += 1
            elif chosen is None:
                blank[qid] += 1
            else:
                wrong[qid][chosen] += 1
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
        items.append(QuizItem(q.number if q else i + 1, qid, q.prompt if q else qid, answered[qid], correct[qid],
                              wrong_text, top[0][1] if top else 0, blank[qid]))
    if not quiz_last:
        items = []

    roster = []
    for lid in snap.learners:
        attempts = snap.attempts.get(lid, [])
        ex_last = [a for a in attempts if a.kind == "exercises"]
        q = quiz_last.get(lid)
        probs = snap.problems.get(lid, [])
        problem = probs[-1][1] if probs and (not attempts or probs[-1][0] >= attempts[-1].graded_at) else ""
        roster.append(RosterRow(
            lid, href(lid), ex_last[-1].score if ex_last else None, ex_last[-1].max_score if ex_last else None,
            ex_pass.get(lid), q.score if q else None, q.max_score if q else None, quiz_pass.get(lid),
            bool(ex_pass.get(lid) and quiz_pass.get(lid)), len(attempts),
            attempts[-1].graded_at if attempts else (probs[-1][0] if probs else ""), problem))

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
    concept_chart = charts.hbars(
        [(r.title, r.percent, f"{r.percent:.0f}%") for r in rates], threshold=None,
        title="Pass rate per concept",
        desc="; ".join(f"{r.title}: {r.passed} of {r.graded} pass ({r.percent:.0f}%)" for r in rates) + ".",
        label_width=230) if graded else None
    quiz_chart = charts.hbars(
        [(f"Q{it.number}", it.percent, f"{it.percent:.0f}%") for it in items], threshold=threshold,
        title="Percent of learners answering each quiz question correctly",
        desc="; ".join(f"question {it.number}: {it.correct} of {it.answered} correct" for it in items) + ".",
        label_width=56) if items else None
    most_missed = sorted((it for it in items if it.answered and it.correct < it.answered),
                         key=lambda it: (it.percent, it.number))[:3]
    return ClassReport(
        generated_at=generated_at or _now(), threshold=threshold, source=source, learners=len(snap.learners),
        graded=len(graded), ex_passed=sum(ex_pass.values()), quiz_taken=len(quiz_last),
        quiz_passed=sum(quiz_pass.values()), complete=sum(r.complete for r in roster),
        median=median, mean=round(sum(scores) / len(scores), 2) if scores else None, max_score=top_max,
        histogram=hist, concept_chart=concept_chart, concepts=rates, misconceptions=misconceptions,
        code_problems=code_problems,
        quiz_chart=quiz_chart, quiz_items=items, roster=roster,
        problems=[(lid, at, reason) for lid, ps in snap.problems.items() for at, reason in ps],
        most_missed=most_missed)


def render_class(report: ClassReport) -> str:
    return environment().get_template("class.html").render(r=report, generated_at=report.generated_at)


# --- files (what the CLI calls) ---------------------------------------------------------------------


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write(path: Path, text: str) -> None:
    """Write through a temporary file so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_learner_report(*, out: Path, gradebook: Path | None = None, learner: str | None = None,
                         results: Path | None = None, threshold: float = PASS_FRACTION) -> tuple[Path, str]:
    """Render one learner's report to `out`; returns (the file, the learner id shown)."""
    if results is not None:
        try:
            data = json.loads(Path(results).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ReportError(f"cannot read {results}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise ReportError(f"{results} is not JSON ({exc})") from None
        report = learner_report_from_results(data, learner=learner, source=str(results))
    else:
        explicit = gradebook is not None
        gradebook = Path(gradebook) if explicit else default_gradebook()
        if not gradebook.is_file() and not explicit:
            # A learner who has graded nothing yet: an empty report that says how to start.
            who = learner or default_learner()
            snap = Snapshot([], {}, {}, {}, {}, {}, {})
        else:
            db = open_gradebook(gradebook)
            try:
                who = learner or _pick_learner(db, gradebook)
                snap = load_snapshot(db, who)
            finally:
                db.close()
        report = learner_report(who, snap, threshold=threshold, source=str(gradebook))
    _write(Path(out), render_learner(report))
    return Path(out), report.learner


def default_gradebook() -> Path:
    """The learner's own gradebook, the one `vaegrade grade` and `vaegrade quiz` write to."""
    return Path(STATE_DIR) / GRADEBOOK_FILE


def _pick_learner(db: sqlite3.Connection, gradebook: Path) -> str:
    """No --learner: this machine's learner if the gradebook knows them, else its only learner."""
    everyone = [r[0] for r in db.execute("SELECT DISTINCT learner FROM attempts ORDER BY learner")]
    if len(everyone) == 1:
        return everyone[0]
    me = default_learner()
    if me in everyone or not everyone:
        return me
    shown = ", ".join(everyone[:10]) + (" …" if len(everyone) > 10 else "")
    raise ReportError(f"{gradebook} holds {len(everyone)} learners: choose one with --learner ({shown})")


@dataclass(frozen=True)
class ClassOutput:
    page: Path
    learner_pages: int
    seconds: float


def write_class_report(*, outdir: Path, gradebook: Path | None = None, out: Path | None = None,
                       threshold: float = PASS_FRACTION, learner_pages: bool = True) -> ClassOutput:
    """Render the class overview (and each learner's page under reports/) from a batch output dir."""
    start = time.perf_counter()
    outdir = Path(outdir)
    gradebook = Path(gradebook) if gradebook else outdir / GRADEBOOK_NAME
    if not gradebook.is_file():
        raise ReportError(f"no {GRADEBOOK_NAME} in {outdir}: run `vaegrade batch SUBMISSIONS --out {outdir}` "
                          "first, or give --gradebook")
    db = open_gradebook(gradebook)
    try:
        snap = load_snapshot(db, details=learner_pages)
    finally:
        db.close()
    page = Path(out) if out else outdir / CLASS_REPORT
    reports_dir = page.parent / REPORTS_DIR
    stamp = _now()
    report = class_report(snap, threshold=threshold, source=str(gradebook), generated_at=stamp)
    _write(page, render_class(report))
    count = 0
    if learner_pages:
        back = f"../{page.name}"
        names = safetext.file_stems(snap.learners)   # checked: two learners never share a page
        for lid in snap.learners:
            view = learner_report(lid, snap, threshold=threshold, generated_at=stamp, back_href=back,
                                  source=str(gradebook))
            _write(reports_dir / f"{names[lid]}.html", render_learner(view))
            count += 1
    return ClassOutput(page, count, time.perf_counter() - start)


def open_in_browser(path: Path) -> bool:
    """Open a report in the default browser; False when there is none (say where the file is instead)."""
    import webbrowser

    try:
        return bool(webbrowser.open(Path(path).resolve().as_uri()))
    except webbrowser.Error:
        return False
