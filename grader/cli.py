"""The `vaegrade` command line: a thin layer over the library (the only module importing click)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

import grader
from grader.config import PASS_FRACTION, Limits


class GraderError(click.ClickException):
    """The grader could not run (bad arguments, unreadable input): exit status 2."""

    exit_code = 2


def _default_exercises() -> Path:
    from grader.content import content_dir

    local = Path("exercises")
    return local if local.is_dir() else content_dir("exercises")


def _limits_options(fn):
    fn = click.option("--time-limit", type=click.FloatRange(min=0.1), default=Limits.concept_seconds,
                      show_default=True, help="Wall-time seconds for all checks of one concept.")(fn)
    fn = click.option("--memory-limit", type=click.IntRange(min=64), default=Limits.memory_mb,
                      show_default=True, help="Megabytes a submission's process may allocate.")(fn)
    return fn


@click.group(context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "VAEGRADE"})
@click.version_option(grader.__version__, prog_name="vaegrade")
def cli() -> None:
    """Grade the "Autoencoders and VAEs" exercises and mastery quiz.

    Learners: edit the files in exercises/, run `vaegrade check`, then
    `vaegrade grade`. Staff: `vaegrade batch`. CI: `vaegrade ci`.
    """


@cli.command()
@click.argument("submission", required=False, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table",
              show_default=True, help="How to print the result (json is Gradescope's results.json).")
@click.option("--seed", type=int, default=None, help="Reuse the random inputs of an earlier run.")
@click.option("--concept", "concepts", multiple=True, help="Grade only this concept (repeatable).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=PASS_FRACTION, show_default=True,
              help="Fraction of the points the score must be above to pass.")
@click.option("-v", "--verbose", is_flag=True, help="Show the feedback of every failed check.")
@_limits_options
def grade(submission, fmt, seed, concepts, threshold, verbose, time_limit, memory_limit) -> None:
    """Grade SUBMISSION (a folder, default: exercises/) with the hidden checks.

    Exit status: 0 graded and passed, 1 graded and not passed, 2 could not grade.
    """
    from grader import formats
    from grader.runner import SandboxError, SubmissionError, grade_submission

    submission = submission or _default_exercises()
    _check_concepts(concepts)
    limits = Limits(concept_seconds=time_limit, memory_mb=memory_limit)
    try:
        result = grade_submission(submission, seed=seed, limits=limits, concepts=list(concepts) or None,
                                  pass_fraction=threshold)
    except (SubmissionError, SandboxError) as exc:
        raise GraderError(str(exc)) from None
    render = {"json": formats.to_json, "markdown": formats.to_markdown,
              "table": lambda r: formats.to_table(r, verbose=verbose)}[fmt]
    click.echo(render(result))
    sys.exit(0 if result.passed else 1)


@cli.command()
@click.argument("concepts", nargs=-1)
@click.option("--dir", "folder", type=click.Path(path_type=Path), default=None,
              help="Folder with your files (default: exercises/).")
def check(concepts, folder) -> None:
    """Run the quick public checks (the lesson's worked examples) on your exercises.

    Give concept ids (mse, sigma, kl, ...) to check only those. The hidden
    checks that decide your grade run with `vaegrade grade`.
    """
    from grader.runner import SandboxError, SubmissionError, grade_submission

    _check_concepts(concepts)
    try:
        result = grade_submission(folder or _default_exercises(), concepts=list(concepts) or None,
                                  public_only=True)
    except (SubmissionError, SandboxError) as exc:
        raise GraderError(str(exc)) from None
    for c in result.concepts:
        for r in c.checks:
            mark = click.style("pass", fg="green") if r.status.value == "passed" else click.style("FAIL", fg="red")
            click.echo(f"{mark}  {c.id:<14} {r.name}")
            if r.feedback:
                click.echo(f"      {r.feedback}")
    passed = sum(r.status.value == "passed" for r in result.checks)
    click.echo(f"\n{passed} of {len(result.checks)} public checks pass. "
               "Run `vaegrade grade` for the hidden checks that decide the grade.")
    sys.exit(0 if passed == len(result.checks) else 1)


def _check_concepts(concepts) -> None:
    from grader import manifest

    known = {c.id for c in manifest.load()}
    unknown = [c for c in concepts if c not in known]
    if unknown:
        raise GraderError(f"unknown concept {', '.join(unknown)} (known: {', '.join(sorted(known))})")


# --- dev (content checks) ---------------------------------------------------------
@cli.group()
def dev() -> None:
    """Tools for course authors."""


@dev.command("check")
def dev_check() -> None:
    """Prove the content is consistent: manifest, stubs, solutions, checks, quiz."""
    from grader import devcheck

    problems = devcheck.run(echo=click.echo)
    if problems:
        for p in problems:
            click.echo(click.style("problem: ", fg="red") + p, err=True)
        sys.exit(1)
    click.echo("content is consistent")


# --- batch, gradebook (issue 3) ---------------------------------------------------

# --- quiz, status (issue 4) ---------------------------------------------------------

# --- report (issue 5) -----------------------------------------------------------------

# --- ci, release (issue 6) --------------------------------------------------------------


def main() -> None:
    cli(prog_name="vaegrade")
