"""The `vaegrade` command line: a thin layer over the library (the only module importing click)."""

from __future__ import annotations

import os
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
@click.option("--learner", envvar="VAEGRADE_LEARNER", default=None,
              help="Learner the attempt is recorded for (default: $VAEGRADE_LEARNER, else `git config "
                   "user.email`, else your OS user name).")
@click.option("--gradebook", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Record a full grading in this SQLite gradebook (default: .vaegrade/gradebook.sqlite here; "
                   "read by `vaegrade status`).")
@click.option("--no-record", is_flag=True, help="Do not record the attempt.")
def grade(submission, fmt, seed, concepts, threshold, verbose, time_limit, memory_limit,
          learner, gradebook, no_record) -> None:
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
                                  pass_fraction=threshold, parallel=os.cpu_count() or 1)
    except (SubmissionError, SandboxError) as exc:
        raise GraderError(str(exc)) from None
    render = {"json": formats.to_json, "markdown": formats.to_markdown,
              "table": lambda r: formats.to_table(r, verbose=verbose)}[fmt]
    click.echo(render(result))
    if not concepts and not no_record:
        _record_grade(result, submission, learner, gradebook)
    from grader.content import bundle_kind

    if bundle_kind() == "student":
        click.echo("Note: this learner's copy runs only the public checks; your grade comes from the "
                   "hidden checks that staff or CI run.", err=True)
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
                                  public_only=True, parallel=os.cpu_count() or 1)
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
@cli.command()
@click.argument("submissions", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder: gradebook.sqlite, grades.csv, results/<learner>.json.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Submissions graded at once.  [default: all cores]")
@click.option("--force", is_flag=True, help="Regrade submissions already graded unchanged.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=PASS_FRACTION, show_default=True,
              help="Fraction of the points the score must be above to pass.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@_limits_options
def batch(submissions, out, jobs, force, threshold, quiet, time_limit, memory_limit) -> None:
    """Grade every learner in SUBMISSIONS into a gradebook in --out.

    SUBMISSIONS holds one folder, .zip or .tar.gz per learner, named after
    the learner. Reruns skip submissions already graded unchanged, so a
    stopped batch is finished by running it again. Exit status: 0 all
    graded, 1 some submissions could not be graded (listed), 2 bad input.
    """
    from grader.batch import BatchError, run_batch, summary_text

    limits = Limits(concept_seconds=time_limit, memory_mb=memory_limit)
    try:
        summary = run_batch(submissions, out, jobs=jobs, force=force, limits=limits, pass_fraction=threshold,
                            progress=None if quiet else sys.stderr)
    except BatchError as exc:
        raise GraderError(str(exc)) from None
    click.echo(summary_text(summary))
    sys.exit(summary.exit_code)


# --- quiz, status (issue 4) ---------------------------------------------------------
def _learner_option(fn):
    return click.option("--learner", envvar="VAEGRADE_LEARNER", default=None,
                        help="Learner id (default: $VAEGRADE_LEARNER, else `git config user.email`, "
                             "else your OS user name).")(fn)


def _gradebook_option(fn):
    fn = click.option("--no-record", is_flag=True, help="Do not write the attempt to the gradebook.")(fn)
    return click.option("--gradebook", type=click.Path(path_type=Path, dir_okay=False), default=None,
                        help="SQLite gradebook (default: .vaegrade/gradebook.sqlite here).")(fn)


def _record_grade(result, submission, learner, gradebook) -> None:
    """`vaegrade grade` keeps each full grading in the learner's gradebook (silently: stdout may be JSON)."""
    import sqlite3

    from grader.status import LEARNER_GRADEBOOK, default_learner, record_exercises

    path = gradebook or LEARNER_GRADEBOOK
    try:
        record_exercises(path, learner or default_learner(), result, submission)
    except (OSError, sqlite3.Error, RuntimeError) as exc:
        click.echo(f"warning: the attempt could not be recorded in {path}: {exc}", err=True)


def _ask(prompt: str) -> str:
    """One line from the terminal; EOFError when input is closed (the quiz saves and stops)."""
    click.echo(prompt, nl=False)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


def _record_quiz(result, gradebook, no_record, *, err: bool) -> None:
    import sqlite3

    from grader import quiz as engine
    from grader.status import LEARNER_GRADEBOOK

    if no_record:
        return
    path = gradebook or LEARNER_GRADEBOOK
    try:
        engine.record_to(path, result)
    except (OSError, sqlite3.Error, RuntimeError) as exc:
        click.echo(f"warning: the attempt could not be recorded in {path}: {exc}", err=True)
    else:
        click.echo(f"Recorded in {path}.", err=err)


@cli.command()
@click.option("--answers", "answers_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Grade this answers file instead of asking (JSON, TOML or `1: B` lines).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print the graded attempt.")
@click.option("--quiz", "--key", "quiz_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Quiz data: the staff copy (.toml, with the key) or a learner copy (.json). "
                   "Default: quizzes/mastery.toml when present, else the learner copy.")
@_learner_option
@click.option("--canonical", is_flag=True, help="The answers file uses canonical option ids a-d, "
                                                "not the learner's shuffled letters.")
@click.option("--partial", is_flag=True, help="Questions missing from the answers file count as wrong "
                                              "instead of being an error.")
@click.option("--restart", is_flag=True, help="Discard saved progress and start the quiz over.")
@click.option("--save-answers", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Where a finished quiz saves your answers (default: exercises/quiz_answers.json).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=PASS_FRACTION, show_default=True,
              help="Fraction of the questions the score must be above to pass.")
@_gradebook_option
def quiz(answers_path, fmt, quiz_path, learner, canonical, partial, restart, save_answers, threshold,
         gradebook, no_record) -> None:
    """Take the ten-question mastery quiz, or grade an answers file.

    Interactive: one question at a time, options lettered in your own order;
    every answer is saved at once, so q, Ctrl-C or a closed terminal loses
    nothing and the next `vaegrade quiz` resumes. At the end: your score and
    an explanation of each question you missed. Your answers are saved to
    exercises/quiz_answers.json to submit with your exercises.

    Exit status: 0 passed, 1 not passed, 2 bad answers file or quiz data,
    130 stopped before the end (answers so far are saved).
    """
    import json

    from grader import quiz as engine
    from grader.status import default_learner

    try:
        data = engine.load_quiz(quiz_path)
        if answers_path is not None:
            result = engine.grade_answers_file(answers_path, learner, quiz=data, canonical=canonical,
                                               partial=partial, pass_fraction=threshold)
        else:
            result = engine.take(data, learner=learner or default_learner(), ask=_ask, echo=click.echo,
                                 restart=restart, pass_fraction=threshold)
    except (engine.AnswersError, engine.QuizDataError) as exc:
        raise GraderError(str(exc)) from None
    except engine.Interrupted as exc:
        click.echo(f"\n{exc}", err=True)
        sys.exit(130)
    if answers_path is None:
        notes = engine.finish(result, answers_out=save_answers or engine.default_answers_out())
        click.echo(engine.review_text(data, result))
        for note in notes:
            click.echo(note)
    else:
        click.echo(json.dumps(result.to_dict(), indent=2) if fmt == "json" else engine.review_text(data, result))
    _record_quiz(result, gradebook, no_record, err=fmt == "json")
    sys.exit(0 if result.passed else 1)


@cli.command()
@_learner_option
@click.option("--gradebook", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="SQLite gradebook (default: .vaegrade/gradebook.sqlite here).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def status(learner, gradebook, fmt) -> None:
    """Where you stand: each concept, the quiz, whether the lesson is complete, what to do next.

    Read from the gradebook `vaegrade grade` and `vaegrade quiz` write to.
    Exit status: 0 lesson complete, 1 not yet, 2 unreadable gradebook.
    """
    import json
    import sqlite3

    from grader.status import LEARNER_GRADEBOOK, default_learner, learner_status, status_text

    try:
        st = learner_status(gradebook or LEARNER_GRADEBOOK, learner or default_learner())
    except (sqlite3.Error, RuntimeError) as exc:
        raise GraderError(f"cannot read the gradebook {gradebook or LEARNER_GRADEBOOK}: {exc}") from None
    click.echo(json.dumps(st.to_dict(), indent=2) if fmt == "json" else status_text(st), nl=fmt == "json")
    sys.exit(0 if st.complete else 1)


@dev.command("mutants")
@click.argument("concepts", nargs=-1)
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True,
              help="Grade each mutant on seeds 1..N; killed means it lost points on every one.")
@click.option("--sample", "sample_size", type=click.IntRange(min=1), default=None,
              help="Grade a reproducible sample of N mutants (every operator at least once).")
def dev_mutants(concepts, seeds, sample_size) -> None:
    """Mutation adequacy: grade small slips in the reference solutions; exit 1 if any survives."""
    from grader.checks import mutants

    _check_concepts(list(concepts))
    try:
        summary = mutants.run(list(concepts) or None, seeds=seeds, sample_size=sample_size, echo=click.echo)
    except FileNotFoundError as exc:
        raise GraderError(f"{exc}: mutants are made from the reference solutions, in a course checkout") from None
    for o in summary.stale:
        click.echo(f"stale equivalent (it is killed now; remove it): {o.mutant.concept}: {o.mutant.key}", err=True)
    sys.exit(1 if summary.survivors else 0)


@dev.command("quiz-copy")
@click.option("--src", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Staff copy (default: quizzes/mastery.toml).")
@click.argument("dest", required=False, type=click.Path(path_type=Path, dir_okay=False))
def dev_quiz_copy(src, dest) -> None:
    """Rebuild the learner copy of the quiz (no answer key in plain text) from the staff copy."""
    from grader import quiz as engine
    from grader.content import content_dir

    folder = content_dir("quizzes")
    try:
        out = engine.build_learner_copy(src or folder / engine.STAFF_FILE, dest or folder / engine.LEARNER_FILE)
    except engine.QuizDataError as exc:
        raise GraderError(str(exc)) from None
    click.echo(f"wrote {out}")


# --- report (issue 5) -----------------------------------------------------------------
@cli.command()
@click.option("--gradebook", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Gradebook to read (default: .vaegrade/gradebook.sqlite, or OUTDIR's with --class).")
@click.option("--learner", default=None, help="Whose report (default: you, or the gradebook's only learner).")
@click.option("--results", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Render from a results.json (`vaegrade grade --format json`) instead of a gradebook.")
@click.option("--class", "class_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Class overview of a batch output dir (its gradebook.sqlite), plus a page per learner.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="HTML file to write (default: progress-report.html, or OUTDIR/class-report.html).")
@click.option("--threshold", type=click.FloatRange(0, 1), default=PASS_FRACTION, show_default=True,
              help="Fraction of the points a score must be above to pass.")
@click.option("--open", "open_", is_flag=True, help="Open the report in a web browser.")
def report(gradebook, learner, results, class_dir, out, threshold, open_) -> None:
    """Write an HTML progress report: yours, or with --class OUTDIR the class overview.

    The page works offline: charts are drawn in it, nothing is fetched.
    """
    from grader import report as reports

    if class_dir is not None and results is not None:
        raise GraderError("--results renders one learner's report; it does not go with --class")
    try:
        if class_dir is not None and learner is None:
            made = reports.write_class_report(outdir=class_dir, gradebook=gradebook, out=out, threshold=threshold)
            page = made.page
            click.echo(f"class report: {page} ({made.learner_pages} learner pages in "
                       f"{page.parent / reports.REPORTS_DIR}, {made.seconds:.2f} s)")
        else:
            if class_dir is not None:
                gradebook = gradebook or class_dir / reports.GRADEBOOK_NAME
            page, who = reports.write_learner_report(out=out or Path("progress-report.html"), gradebook=gradebook,
                                                     learner=learner, results=results, threshold=threshold)
            click.echo(f"report for {who}: {page}")
    except reports.ReportError as exc:
        raise GraderError(str(exc)) from None
    except OSError as exc:
        raise GraderError(f"cannot write the report: {exc}") from None
    if open_ and not reports.open_in_browser(page):
        click.echo(f"No web browser is available here: open {page.resolve().as_uri()} yourself.")


# --- ci, release (issue 6) --------------------------------------------------------------
@cli.command()
@click.option("--exercises", type=click.Path(path_type=Path), default=None,
              help="The learner's exercises folder (default: $GITHUB_WORKSPACE/exercises, else exercises/).")
@click.option("--answers", type=click.Path(path_type=Path), default=None,
              help="A quiz answers file to grade too (default: quiz_answers.json at the repository root, if any).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("vaegrade-results"), show_default=True,
              help="Folder for results.json (Gradescope format), junit.xml and summary.md.")
@click.option("--threshold", type=click.FloatRange(0, 1), default=PASS_FRACTION, show_default=True,
              help="Fraction of the points the score must be above to pass.")
@click.option("--seed", type=int, default=None, help="Reuse the random inputs of an earlier run.")
@click.option("--concept", "concepts", multiple=True, help="Grade only this concept (repeatable).")
@_limits_options
def ci(exercises, answers, out, threshold, seed, concepts, time_limit, memory_limit) -> None:
    """Grade a pull request in CI: summary, annotations, JUnit XML and results.json.

    Under GitHub Actions (GITHUB_ACTIONS=true) it writes the job summary and
    annotates the failing functions; elsewhere it prints the summary.
    Exit status: 0 passed, 1 not passed, 2 could not grade.
    """
    from grader import ci as ci_lib

    _check_concepts(concepts)
    try:
        outcome = ci_lib.main(exercises=exercises, answers=answers, out=out, threshold=threshold, seed=seed,
                              limits=Limits(concept_seconds=time_limit, memory_mb=memory_limit),
                              concepts=list(concepts) or None, echo=click.echo)
    except ci_lib.CIError as exc:
        raise GraderError(str(exc)) from None
    sys.exit(outcome.exit_code)


@cli.group()
def release() -> None:
    """Build what learners get, what staff and CI keep, and a Gradescope autograder."""


@release.command("student")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def release_student(out, force) -> None:
    """Build the learner's bundle in OUT: stubs, public checks, key-less quiz, README."""
    _release("student", out, force)


@release.command("autograder")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def release_autograder(out, force) -> None:
    """Build the staff/CI bundle in OUT: everything, hidden checks, solutions and the key."""
    _release("autograder", out, force)


@release.command("gradescope")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Replace OUT if it exists.")
def release_gradescope(out, force) -> None:
    """Build OUT.zip, a Gradescope autograder (setup.sh, run_autograder, the autograder bundle)."""
    _release("gradescope", out, force)


def _release(kind, out, force) -> None:
    from grader import release as release_lib

    try:
        report = release_lib.main(kind=kind, out=out, force=force)
    except release_lib.ReleaseError as exc:
        raise GraderError(str(exc)) from None
    click.echo(report)


def _export_group() -> click.Group:
    """`vaegrade export`: shared with the batch exports when that section defines the group first."""
    existing = cli.commands.get("export")
    if isinstance(existing, click.Group):
        return existing

    @cli.group("export")
    def export() -> None:
        """Export grades for other tools (LMS gradebooks)."""

    return export


@_export_group().command("lms")
@click.argument("csv_out", metavar="OUT.csv", type=click.Path(path_type=Path))
@click.option("--out", "source", required=True, type=click.Path(path_type=Path),
              help="The batch output folder (or its gradebook file).")
@click.option("--roster", type=click.Path(path_type=Path), default=None,
              help="CSV mapping learner ids to the LMS's Student, ID, SIS User ID, SIS Login ID, Section.")
@click.option("--exercises-column", default="VAE exercises", show_default=True,
              help="The exercises assignment's name in the LMS (add \" (ID)\" to update an existing one).")
@click.option("--quiz-column", default="VAE mastery quiz", show_default=True,
              help="The quiz assignment's name in the LMS.")
def export_lms(csv_out, source, roster, exercises_column, quiz_column) -> None:
    """Write OUT.csv in Canvas's gradebook import layout: exercises and quiz as two columns."""
    from grader import lms

    try:
        count = lms.main(source=source, out=csv_out, roster=roster, exercises_column=exercises_column,
                         quiz_column=quiz_column)
    except lms.ExportError as exc:
        raise GraderError(str(exc)) from None
    click.echo(f"{count} learners written to {csv_out}")



def main() -> None:
    cli(prog_name="vaegrade")
