"""`vaegrade ci`: grade a learner's pull request and report it where CI shows things.

Under GitHub Actions (GITHUB_ACTIONS=true) the verdict goes to four places:
the job summary ($GITHUB_STEP_SUMMARY, Markdown), annotations on the lines of
the failing functions (`::error`/`::warning` workflow commands, escaped and
within GitHub's per-step caps), the step outputs ($GITHUB_OUTPUT), and files
in the output folder (results.json in Gradescope's format, junit.xml,
summary.md). Anything the submission controls (feedback quoting its
exceptions, what it printed) reaches the log only between
``::stop-commands::<random token>`` and ``::<token>::``, with every line
neutralised as well, so it cannot issue workflow commands of its own.
"""

from __future__ import annotations

import ast
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from grader.course import manifest
from grader.course.content import bundle_kind
from grader.grading import quiz as quiz_lib
from grader.grading.results import GradingResult, Status
from grader.grading.runner import SandboxError, SubmissionError, grade_submission
from grader.outputs.junit import to_junit_xml
from grader.outputs.text import _md_cell, to_markdown, to_table
from grader.settings import MAX_SOURCE_BYTES, PASS_FRACTION, Limits
from grader.verbs.workspace import Outcome as VerbOutcome
from grader.verbs.workspace import VerbError, Workspace

#: GitHub shows at most 10 error and 10 warning annotations per step (50 per job); the rest are dropped.
ANNOTATION_CAP = 10


class CIError(Exception):
    """`ci` cannot run (bad arguments, a learner's copy of the grader): exit status 2."""


# --- workflow commands ---------------------------------------------------------------


def escape_data(text: str) -> str:
    """A workflow command's message: %, CR and LF escaped so it stays one command on one line."""
    return str(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value: also ':' and ',' which separate properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def neutralise(text: str) -> str:
    """Untrusted text for the log: no line can be read as a workflow command (`::cmd::` or legacy `##[cmd]`)."""
    lines = []
    for line in str(text).replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = line.replace("##[", "#\u2060#[")
        lines.append("| " + line if line.lstrip().startswith("::") else line)
    return "\n".join(lines)


def fenced(text: str, token: str | None = None) -> str:
    """Untrusted text between ::stop-commands::TOKEN and ::TOKEN:: (the runner ignores commands in between)."""
    token = token or secrets.token_hex(16)
    return f"::stop-commands::{token}\n{neutralise(text)}\n::{token}::"


@dataclass
class Annotation:
    """One `::error`/`::warning` annotation on a line of the learner's code."""

    level: str                    #: "error" or "warning"
    message: str
    file: str | None = None       #: path relative to the repository root
    line: int | None = None
    title: str | None = None

    def command(self) -> str:
        props = [f"{k}={escape_property(v)}" for k, v in
                 (("file", self.file), ("line", self.line), ("title", self.title)) if v is not None]
        return f"::{self.level}{' ' + ','.join(props) if props else ''}::{escape_data(self.message)}"


def cap(annotations: list[Annotation], limit: int = ANNOTATION_CAP) -> list[Annotation]:
    """At most `limit` per level: the last one kept sums up the ones GitHub would drop."""
    kept = []
    for level in ("error", "warning"):
        mine = [a for a in annotations if a.level == level]
        if len(mine) > limit:
            rest = mine[limit - 1:]
            names = ", ".join(a.title or a.message[:40] for a in rest)
            mine = mine[:limit - 1] + [Annotation(level, f"{len(rest)} more: {names}. The job summary lists "
                                                  "every one.",
                                                  title=f"{len(rest)} more {level}s")]
        kept += mine
    return kept


# --- where the learner's functions are (parsed, never imported) --------------------------


@dataclass
class SourceMap:
    """Line numbers of a learner's file, read with ast (the grader never imports submission code)."""

    exists: bool
    defs: dict[str, int] = field(default_factory=dict)   #: top-level function name -> line of its `def`
    stubs: set[str] = field(default_factory=set)         #: functions that still raise NotImplementedError
    syntax_error_line: int | None = None


def source_map(path: Path) -> SourceMap:
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_SOURCE_BYTES:
            return SourceMap(exists=False)
        text = path.read_bytes()
    except OSError:
        return SourceMap(exists=False)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError) as exc:
        return SourceMap(True, syntax_error_line=getattr(exc, "lineno", None) or 1)
    found = SourceMap(True)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            found.defs[node.name] = node.lineno
            if _is_stub(node):
                found.stubs.add(node.name)
    return found


def _is_stub(fn: ast.FunctionDef) -> bool:
    """True when the body is only a docstring, comments, `pass` and `raise NotImplementedError`."""
    raises = False
    for stmt in fn.body:
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            continue
        if isinstance(stmt, ast.Pass):
            continue
        if isinstance(stmt, ast.Raise) and stmt.exc is not None:
            exc = stmt.exc.func if isinstance(stmt.exc, ast.Call) else stmt.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                raises = True
                continue
        return False
    return raises


def _relative(path: Path, root: Path | None) -> str:
    path = path.absolute()
    if root is not None:
        try:
            return path.relative_to(root.absolute()).as_posix()
        except ValueError:
            pass
    return os.path.relpath(path).replace(os.sep, "/")


def annotations_for(result: GradingResult, exercises: Path, root: Path | None,
                    quiz: dict | None = None) -> list[Annotation]:
    """Errors on the `def` line of each failing function; warnings for functions not started yet."""
    found = []
    for concept in result.concepts:
        if concept.passed:
            continue
        spec = manifest.by_id(concept.id)
        lost = round(concept.max_score - concept.score, 2)
        if exercises.suffix.lower() == ".ipynb" and exercises.is_file():
            # a notebook: one annotation per failing function on the notebook, naming its cell
            cells = result.extra.get("notebook", {}).get("functions", {})
            for function in spec.functions:
                failed = [c for c in concept.checks if c.function == function and c.status is Status.FAILED]
                if failed:
                    cell = f"cell {cells[function]}: " if function in cells else ""
                    found.append(Annotation("error", f"{cell}{failed[0].feedback or 'failed'}\nReread: "
                                            f"\"{spec.section}\".", _relative(exercises, root), None,
                                            f"{function}: {len(failed)} checks failed"))
            continue
        path = exercises / spec.file
        where = _relative(path, root)
        src = source_map(path)
        if not src.exists:
            found.append(Annotation("error", concept.note or f"{spec.file} is missing.", where, None,
                                    f"{concept.id}: {spec.file} missing (0 / {concept.max_score:g})"))
            continue
        if src.syntax_error_line is not None or (concept.note and not any(
                c.status is Status.PASSED for c in concept.checks)):
            found.append(Annotation("error", concept.note or "This file could not be graded.", where,
                                    src.syntax_error_line or 1,
                                    f"{concept.id}: {lost:g} of {concept.max_score:g} points lost"))
            continue
        by_function: dict[str, list] = {}
        for c in concept.checks:
            by_function.setdefault(c.function, []).append(c)
        for function in spec.functions:
            checks = by_function.get(function, [])
            failed = [c for c in checks if c.status is Status.FAILED]
            if not failed:
                continue
            points = round(sum(c.max_score for c in failed), 2)
            line = src.defs.get(function)
            if function in src.stubs:
                found.append(Annotation("warning", f"{function} is not implemented yet: it still raises "
                                        f"NotImplementedError, so its {len(failed)} checks score nothing.",
                                        where, line, f"{function}: not started ({points:g} points waiting)"))
                continue
            hint = f"\nHint: {spec.hints[0]}" if spec.hints else ""
            message = (failed[0].feedback or "failed") + hint + f"\nReread: \"{spec.section}\"."
            if line is None:
                message = f"{function} is not defined in {spec.file}. " + message
            found.append(Annotation("error", message, where, line or 1,
                                    f"{function}: {len(failed)} of {len(checks)} checks failed "
                                    f"({points:g} points lost)"))
    if quiz is not None and not quiz["passed"]:
        found.append(Annotation("error", f"Quiz: {quiz['score']:g} / {quiz['max_score']:g} right; a pass needs "
                                f"more than {quiz.get('pass_fraction', PASS_FRACTION):.0%}. {quiz.get('note', '')}".strip(),
                                quiz.get("file"), None, "quiz not passed"))
    return found


# --- summaries ---------------------------------------------------------------------------


def lesson_verdict(result: GradingResult, quiz: dict | None) -> str:
    if quiz is None:
        return "exercises " + ("passed" if result.passed else "not passed") + "; no quiz answers in this run"
    both = result.passed and quiz["passed"]
    return "lesson complete" if both else "lesson not complete yet (exercises and quiz must both pass)"


def markdown_summary(result: GradingResult, quiz: dict | None, annotations: list[Annotation] = (),
                     dropped: int = 0) -> str:
    lines = [to_markdown(result), ""]
    if quiz is not None:
        mark = "✅" if quiz["passed"] else "❌"
        lines += ["| quiz | score | result |", "| --- | ---: | :---: |",
                  f"| mastery check | {quiz['score']:g} / {quiz['max_score']:g} | {mark} |", ""]
        if quiz.get("note"):
            lines += [_md_cell(quiz["note"]), ""]
    lines.append(f"**{lesson_verdict(result, quiz).capitalize()}.**")
    if annotations:
        lines += ["", "<details><summary>Every function to fix</summary>", ""]
        for a in annotations:
            where = f"`{_md_cell(a.file)}`" + (f" line {a.line}" if a.line else "") if a.file else ""
            lines.append(f"- {'❌' if a.level == 'error' else '⚠️'} {where}: {_md_cell(a.title or '')}")
        lines += ["", "</details>"]
    if dropped:
        lines += ["", f"{dropped} annotations were summed up in one to stay within GitHub's limit of "
                  f"{ANNOTATION_CAP} per kind; the list above has them all."]
    return "\n".join(lines) + "\n"


def terminal_summary(result: GradingResult, quiz: dict | None) -> str:
    text = to_table(result)
    if quiz is not None:
        verdict = "PASSED" if quiz["passed"] else "NOT PASSED"
        text += f"\nquiz            {quiz['score']:>5g} / {quiz['max_score']:<3g}  {verdict}"
        if quiz.get("note"):
            text += f"\n      {quiz['note']}"
    return text + f"\n{lesson_verdict(result, quiz)}"


def details_log(result: GradingResult) -> str:
    """Every failed check's feedback, and what the learner's code printed, for the job log."""
    parts = []
    for concept in result.concepts:
        if concept.note:
            parts.append(f"FAIL {concept.id}: {concept.note}")
            continue
        for c in concept.failed_checks:
            parts.append(f"FAIL {c.concept} / {c.function}: {c.name}\n     {c.feedback}")
            if c.output:
                parts.append("     your code printed:\n" + "\n".join("     " + line for line in c.output.splitlines()))
    return "\n".join(parts)


# --- the quiz (grader.grading.quiz grades the answers file with the key) ----------------------------


def find_answers(root: Path | None, exercises: Path) -> Path | None:
    """The quiz answers file of the pull request, if it has one: the same names and formats `batch` takes."""
    for base in [b for b in (root, exercises.parent, exercises) if b is not None]:
        found = quiz_lib.find_answers_file(base)
        if found is not None:
            return found
    return None


def grade_quiz(answers: Path, root: Path | None, learner: str, *, pass_fraction: float) -> dict:
    """The answers file graded with the staff key, as a small dict (score, passed, questions).

    A malformed answers file is the learner's mistake, not the grader's: it scores zero with a
    note saying what to fix, and the run goes on.
    """
    rel = _relative(answers, root)
    try:
        quiz = quiz_lib.load_quiz()
    except quiz_lib.QuizDataError as exc:
        raise CIError(f"the quiz data cannot be read: {exc}") from None
    if not quiz.key.authoritative:
        raise CIError("the quiz here is the learner copy (no key): CI must grade with the autograder bundle")
    try:
        graded = quiz_lib.grade_answers_file(answers, learner, quiz=quiz, pass_fraction=pass_fraction)
    except quiz_lib.AnswersError as exc:
        return {"score": 0.0, "max_score": float(len(quiz.questions)), "passed": False, "file": rel,
                "note": f"{rel} could not be graded: {exc}", "questions": [], "pass_fraction": pass_fraction}
    return {"score": float(graded.score), "max_score": float(graded.max_score), "passed": bool(graded.passed),
            "file": rel, "note": "", "pass_fraction": pass_fraction,
            "questions": [{"id": q.id, "number": q.number, "correct": bool(q.correct),
                           "feedback": "" if q.correct else f"question {q.number}: wrong or left blank; "
                           f"reread \"{q.section}\""} for q in graded.questions]}


# --- the command ------------------------------------------------------------------------------


@dataclass
class Outcome:
    exit_code: int
    result: GradingResult
    quiz: dict | None
    annotations: list[Annotation]


def main(*, exercises: Path | None = None, answers: Path | None = None, out: Path = Path("vaegrade-results"),
         threshold: float = PASS_FRACTION, seed: int | None = None, limits: Limits = Limits(),
         concepts: list[str] | None = None, env: dict | None = None, echo=print,
         course_key: bytes | None = None) -> Outcome:
    """Grade, write results.json / junit.xml / summary.md to `out`, and report to GitHub Actions if there."""
    env = os.environ if env is None else env
    if bundle_kind() == "student":
        raise CIError("this is a learner's copy of the grader (public checks only): CI must grade with the "
                      "autograder bundle (vaegrade release autograder)")
    in_actions = env.get("GITHUB_ACTIONS") == "true"
    root = Path(env["GITHUB_WORKSPACE"]) if env.get("GITHUB_WORKSPACE") else None
    exercises = exercises or ((root / "exercises") if root is not None else Path("exercises"))
    notebook = exercises.suffix.lower() == ".ipynb" and exercises.is_file()
    if not exercises.is_dir() and not notebook:
        raise CIError(f"{exercises} is not a folder or a notebook (give the learner's exercises with --exercises)")
    if answers is not None and not answers.is_file():
        raise CIError(f"the answers file {answers} does not exist")
    answers = answers or find_answers(root, exercises.parent if notebook else exercises)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CIError(f"cannot create the output folder {out}: {exc.strerror}") from None

    try:
        result = grade_submission(exercises, seed=seed, course_key=course_key, limits=limits, concepts=concepts,
                                  pass_fraction=threshold)
    except (SubmissionError, SandboxError) as exc:
        raise CIError(str(exc)) from None
    learner = env.get("VAEGRADE_LEARNER") or env.get("GITHUB_ACTOR") or "learner"
    quiz = grade_quiz(answers, root, learner, pass_fraction=threshold) if answers is not None else None
    passed = result.passed and (quiz is None or quiz["passed"])

    everything = annotations_for(result, exercises, root, quiz)
    shown = cap(everything)
    counts = [sum(a.level == level for a in everything) for level in ("error", "warning")]
    dropped = sum(n - (ANNOTATION_CAP - 1) for n in counts if n > ANNOTATION_CAP)
    summary_md = markdown_summary(result, quiz, everything, dropped)

    data = result.to_gradescope_dict()
    if quiz is not None:
        data["extra_data"]["quiz"] = quiz
    data["extra_data"]["lesson_complete"] = bool(quiz is not None and passed)
    (out / "results.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (out / "junit.xml").write_text(to_junit_xml(result, quiz), encoding="utf-8")
    (out / "summary.md").write_text(summary_md, encoding="utf-8")

    if in_actions:
        token = secrets.token_hex(16)
        echo("::group::vaegrade feedback (every failed check, and what your code printed)")
        echo(fenced(terminal_summary(result, quiz) + "\n\n" + details_log(result), token))
        echo("::endgroup::")
        for a in shown:
            echo(a.command())
        if env.get("GITHUB_STEP_SUMMARY"):
            with open(env["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as fh:
                fh.write(summary_md)
        if env.get("GITHUB_OUTPUT"):
            with open(env["GITHUB_OUTPUT"], "a", encoding="utf-8") as fh:
                fh.write(f"score={result.score:g}\nmax_score={result.max_score:g}\n"
                         f"passed={'true' if passed else 'false'}\n")
    else:
        echo(terminal_summary(result, quiz))
    verdict = "passed" if passed else "not passed"
    echo(f"vaegrade: {result.score:g} / {result.max_score:g} points, {verdict}; results in {out}/")
    return Outcome(0 if passed else 1, result, quiz, shown)


__all__ = ["main", "CIError", "Annotation", "cap", "escape_data", "escape_property", "fenced",
           "neutralise", "source_map", "annotations_for", "markdown_summary"]


def run(*, workspace: Workspace, limits: Limits = Limits(), echo=print, exercises: Path | None = None,
        answers: Path | None = None, out: Path = Path("vaegrade-results"), threshold: float = PASS_FRACTION,
        seed: int | None = None, concepts: tuple[str, ...] = ()) -> VerbOutcome:
    """`vaegrade ci`: exit 0 passed, 1 not passed, 2 could not grade."""
    known = {c.id for c in manifest.load()}
    unknown = [c for c in concepts if c not in known]
    if unknown:
        raise VerbError(f"unknown concept {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    try:
        outcome = main(exercises=exercises, answers=answers, out=out, threshold=threshold, seed=seed, limits=limits,
                       concepts=list(concepts) or None, echo=echo, course_key=workspace.course_key())
    except CIError as exc:
        raise VerbError(str(exc)) from None
    return VerbOutcome("", outcome.exit_code)
