"""Grading results rendered for people (terminal table, Markdown) and machines (JSON)."""

from __future__ import annotations

import json
import re
import shutil
import textwrap
import time

from grader.course.content import bundle_kind
from grader.grading.results import GradingResult
from grader.outputs import nextsteps


def to_json(result: GradingResult) -> str:
    return json.dumps(result.to_gradescope_dict(), indent=2)


def terminal_width(default: int = 100) -> int:
    """The terminal's width in columns (COLUMNS, else the terminal, else `default`), at least 40."""
    return max(40, shutil.get_terminal_size((default, 24)).columns)


def wrap(text: str, width: int, indent: str = "") -> list[str]:
    """`text` wrapped to `width` columns after `indent`, never inside a word (a longer word gets its own line)."""
    lines = []
    for paragraph in text.splitlines() or [""]:
        # a `command in backticks` stays on one line: its spaces are not break points
        paragraph = re.sub(r"`[^`\n]{1,60}`", lambda m: m.group(0).replace(" ", "\xa0"), paragraph)
        lines += [line.replace("\xa0", " ") for line in textwrap.wrap(
            paragraph, width=max(20, width - len(indent)), break_long_words=False, break_on_hyphens=False)] or [""]
    return [indent + line for line in lines]


def fit(head: str, tail: str, width: int) -> str:
    """`head` then as many whole words of `tail` as fit in `width` columns ("…" when some are left out)."""
    if len(head) + len(tail) <= width:
        return head + tail
    words, kept = tail.split(), ""
    for word in words:
        if len(head) + len(kept) + len(word) + 2 > width:
            break
        kept = f"{kept} {word}" if kept else word
    return (head + kept + "…").rstrip() if kept else head.rstrip()


def grouped(checks) -> list[tuple[str, list[str]]]:
    """(feedback, names of the checks that gave it) in first-seen order: identical words are shown once."""
    groups: dict[str, list[str]] = {}
    for c in checks:
        groups.setdefault(c.feedback, []).append(c.name)
    return list(groups.items())


def times(n: int) -> str:
    return f" (x{n})" if n > 1 else ""


def _first_failure(concept) -> str:
    if concept.note:
        return concept.note
    failed = concept.failed_checks
    if not failed:
        return ""
    groups = grouped(failed)
    feedback, names = groups[0]
    others = len(failed) - len(names)
    more = f" (+{others} more failed check{'s' if others > 1 else ''})" if others else ""
    return feedback + times(len(names)) + more


def next_lines(standings, width: int, limit: int | None = None) -> list[str]:
    """The "Next" block: every concept not at full points, most points lost first, each with its command."""
    todo = nextsteps.to_fix(standings)
    if not todo:
        return []
    rows = ["Next (most points lost first):"]
    for s in todo[:limit]:
        rows += wrap(s.advice(), width, "  ")
        rows.append(f"      {s.command}")
    if limit is not None and len(todo) > limit:
        rows.append(f"  ... and {', '.join(s.id for s in todo[limit:])}")
    return rows


def to_table(result: GradingResult, *, verbose: bool = False, width: int | None = None) -> str:
    """The terminal view: one row per concept and the feedback of each failing one, wrapped to the terminal.

    Without -v, a failing concept shows its first feedback; with -v, every failed check by name,
    identical feedback once with a count ("(x3)").
    """
    width = width or terminal_width()
    rule = "-" * min(width, 72)
    rows = [f"{'concept':<15} {'points':>11}  result", rule]
    for c in result.concepts:
        mark = "ERROR" if c.errors else ("pass" if c.passed else "FAIL")
        rows.append(fit(f"{c.id:<15} {c.score:>5g} / {c.max_score:<3g}  {mark}  ", c.title, width))
        if not verbose or c.note:
            message = _first_failure(c)
            if message:
                rows += wrap(message, width, "      ")
        if verbose:
            for feedback, names in grouped(c.failed_checks if not c.note else []):
                for name in names:
                    rows += wrap(f"✗ {name}", width, "      ")
                rows += wrap(feedback + times(len(names)), width, "          ")
        if c.failed_checks or c.note:
            rows.append(f"      reread: \"{c.section}\"")
    verdict = "NOT GRADED" if not result.graded else ("PASSED" if result.passed else "NOT PASSED")
    rows.append(rule)
    rows += wrap(f"{'total':<15} {result.score:>5g} / {result.max_score:<3g}  {verdict} "
                 f"(a pass needs more than {result.pass_fraction:.0%})", width)
    rows += wrap(f"seed {result.seed} ({SEED_SOURCES.get(result.seed_source, result.seed_source)}; rerun with "
                 f"--seed {result.seed} to reproduce), {result.duration:.1f} s", width)
    for note in result.extra.get("notes", []):
        rows += wrap(f"note: {note}", width)
    if not result.graded:
        rows += wrap(f"The grader failed on {len(result.errors)} check(s), not your code: this attempt is not "
                     "graded and not recorded. Run it again; if it keeps failing, tell your course staff.", width)
    else:
        block = next_lines([nextsteps.from_result(c) for c in result.concepts], width)
        if block:
            rows += [""] + block
    return "\n".join(rows)


def watch_screen(concepts, *, reason: str, passing, failing, seconds: float, target, notes=(),
                 width: int | None = None, last: list[str] | None = None) -> str:
    """One screen of `vaegrade watch`: what changed since the last run, where each concept stands, what next."""
    width = width or terminal_width()
    stamp = time.strftime("%H:%M:%S")
    rows = [f"vaegrade watch  {target}  ({stamp})"]
    rows += wrap(f"{reason}: public checks run in {seconds:.2f} s", width)
    for check in passing:
        rows += wrap(f"+ now passing: {check.concept}: {check.name}", width, "  ")
    for check in failing:
        rows += wrap(f"- now failing: {check.concept}: {check.name}", width, "  ")
    if reason != "first run" and not passing and not failing:
        rows.append("  no change in the public checks")
    rows.append("")
    for c in concepts:
        ok = sum(r.status.value == "passed" for r in c.checks)
        mark = "ok " if ok == len(c.checks) and c.checks else "   "
        rows.append(f"  {mark}{c.id:<15} {ok}/{len(c.checks)} public checks pass")
    rows.append("")
    todo = [c for c in concepts if not c.passed]
    todo.sort(key=lambda c: c.id not in (last or ()))   # the file just saved first, then the manifest's order
    if todo:
        first = todo[0]
        message = first.note or (first.failed_checks[0].feedback if first.failed_checks else
                                 (first.checks[0].feedback if first.checks else ""))
        check = "" if first.note or not first.failed_checks else f" ({first.failed_checks[0].name})"
        rows += wrap(f"Next: {first.id}{check}: {message}", width)
    else:
        hidden = ("Your grade comes from the hidden checks that staff or CI run." if bundle_kind() == "student"
                  else "`vaegrade grade` runs the hidden checks that decide the grade.")
        rows += wrap(f"Every public check of the watched concepts passes. {hidden}", width)
    for note in notes:
        rows += wrap(f"note: {note}", width)
    rows.append("Waiting for a save... (Ctrl-C to leave)")
    return "\n".join(rows)


SEED_SOURCES = {"given": "given with --seed", "course-key": "derived from your files and the course key",
                "random": "drawn at random"}


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def to_markdown(result: GradingResult) -> str:
    """A Markdown summary for a CI job page or a pull-request comment."""
    verdict = "✅ passed" if result.passed else "❌ not passed"
    lines = [f"### vae-grader: {result.score:g} / {result.max_score:g} ({verdict})", "",
             "| concept | points | result | feedback |", "| --- | ---: | :---: | --- |"]
    for c in result.concepts:
        lines.append(f"| {_md_cell(c.title)} | {c.score:g} / {c.max_score:g} | {'✅' if c.passed else '❌'} "
                     f"| {_md_cell(_first_failure(c))[:300]} |")
    lines += ["", f"A pass needs more than {result.pass_fraction:.0%} of the points. Seed `{result.seed}`."]
    return "\n".join(lines)
