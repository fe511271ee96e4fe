"""Grading results rendered for people (terminal table, Markdown) and machines (JSON)."""

from __future__ import annotations

from grader import safetext
from grader.grading.results import GradingResult


def to_json(result: GradingResult) -> str:
    """Gradescope's results.json: always valid UTF-8 JSON (no NaN, no lone surrogate)."""
    return safetext.json_dumps(result.to_gradescope_dict(), indent=2)


def _first_failure(concept) -> str:
    if concept.note:
        return concept.note
    failed = concept.failed_checks
    if not failed:
        return ""
    more = f" (+{len(failed) - 1} more failed check{'s' if len(failed) > 2 else ''})" if len(failed) > 1 else ""
    return failed[0].feedback + more


def to_table(result: GradingResult, *, verbose: bool = False, width: int = 100) -> str:
    """The terminal view: one row per concept, the first feedback of each failing one."""
    import textwrap

    rows = [f"{'concept':<15} {'points':>11}  result", "-" * min(width, 60)]
    for c in result.concepts:
        mark = "ERROR" if c.errors else ("pass" if c.passed else "FAIL")
        rows.append(f"{c.id:<15} {c.score:>5g} / {c.max_score:<3g}  {mark}  {c.title}")
        failures = c.failed_checks if verbose else c.failed_checks[:1]
        messages = [c.note] if c.note and not verbose else [f.feedback for f in failures]
        if not verbose and messages and not c.note:
            messages = [_first_failure(c)]
        for message in messages:
            for line in textwrap.wrap(safetext.terminal(message), width=width - 6) or [""]:
                rows.append("      " + line)
        if failures:
            rows.append(f"      reread: \"{c.section}\"")
    verdict = "NOT GRADED" if not result.graded else ("PASSED" if result.passed else "NOT PASSED")
    rows += ["-" * min(width, 60),
             f"{'total':<15} {result.score:>5g} / {result.max_score:<3g}  {verdict} "
             f"(a pass needs more than {result.pass_fraction:.0%})",
             f"seed {result.seed} ({SEED_SOURCES.get(result.seed_source, result.seed_source)}; rerun with "
             f"--seed {result.seed} to reproduce), {result.duration:.1f} s"]
    if not result.graded:
        rows.append(f"The grader failed on {len(result.errors)} check(s), not your code: this attempt is not "
                    "graded and not recorded. Run it again; if it keeps failing, tell your course staff.")
    return "\n".join(rows)


SEED_SOURCES = {"given": "given with --seed", "course-key": "derived from your files and the course key",
                "random": "drawn at random"}


def _md_cell(text: str, limit: int = 300) -> str:
    """Text in a Markdown table cell: every markup character escaped, one line, bounded."""
    return safetext.markdown(text, limit)


def _md_own(text: str) -> str:
    """The grader's own words (titles, function names) in a table cell: one line, pipes escaped."""
    return " ".join(safetext.inert(text, 300).split()).replace("|", "\\|")


def to_markdown(result: GradingResult) -> str:
    """A Markdown summary for a CI job page or a pull-request comment."""
    verdict = "⚠️ not graded: the grader failed" if not result.graded else (
        "✅ passed" if result.passed else "❌ not passed")
    lines = [f"### vae-grader: {result.score:g} / {result.max_score:g} ({verdict})", "",
             "| concept | points | result | feedback |", "| --- | ---: | :---: | --- |"]
    for c in result.concepts:
        lines.append(f"| {_md_own(c.title)} | {c.score:g} / {c.max_score:g} | {'✅' if c.passed else '❌'} "
                     f"| {_md_cell(_first_failure(c))} |")
    lines += ["", f"A pass needs more than {result.pass_fraction:.0%} of the points. Seed `{result.seed}`."]
    return "\n".join(lines)
