"""The `vaegrade` command line: the only module importing click.

Each command is a few lines: it reads its options (declared once, below) and calls a verb's
keyword-only `main` in grader/verbs/, which returns an Outcome (text, notes, exit status) or
raises VerbError (exit status 2). Verbs are imported inside their command so that
`vaegrade --help` does not load numpy and torch.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click

import grader
from grader import safetext
from grader.settings import PASS_FRACTION, SIMILAR_MIN_NODES, Limits


class GraderError(click.ClickException):
    """The grader could not run (bad arguments, unreadable input): exit status 2."""

    exit_code = 2


def finish(call, *args, **kwargs) -> None:
    """Run a verb; print its outcome and exit with its status (VerbError: message, exit 2)."""
    from grader.verbs.workspace import VerbError

    try:
        outcome = call(*args, **kwargs)
    except VerbError as exc:   # messages may quote a path or an id a learner chose
        raise GraderError(safetext.terminal(str(exc), 4000)) from None
    if outcome.text:   # the last line of defence: nothing a submission wrote reaches the terminal raw
        click.echo(safetext.terminal(outcome.text, None))
    for note in outcome.notes:
        click.echo(safetext.terminal(note, 4000), err=True)
    sys.exit(outcome.exit_code)


@contextlib.contextmanager
def early_sandbox():
    """The sandbox's warm parent, started before the verb's own imports so the two overlap.

    Closed on the way out, whatever happens (finish() leaves by SystemExit). None if it could
    not start: the grading then starts its own and says why it failed.
    """
    from grader.verbs import prestart

    zygote = prestart.sandbox()
    try:
        yield zygote
    finally:
        if zygote is not None:
            zygote.close()


pass_workspace = click.make_pass_decorator(object, ensure=False)


def workspace(ctx: click.Context):
    """The Workspace on ctx.obj, found on first use (so `--help` never looks for a course)."""
    from grader.verbs.workspace import VerbError, Workspace

    root = ctx.find_root()
    if not hasattr(root, "workspace"):
        try:
            root.workspace = Workspace.find((root.obj or {}).get("course"))
        except VerbError as exc:
            raise GraderError(str(exc)) from None
    return root.workspace


# --- options shared by several commands, declared once ------------------------------------------
def threshold_option(what: str = "points"):
    return click.option("--threshold", type=click.FloatRange(0, 1), default=PASS_FRACTION, show_default=True,
                        help=f"Fraction of the {what} the score must be above to pass.")


def limits_options(fn):
    fn = click.option("--time-limit", type=click.FloatRange(min=0.1), default=Limits.concept_seconds,
                      show_default=True, help="Wall-time seconds for all checks of one concept.")(fn)
    return click.option("--memory-limit", type=click.IntRange(min=64), default=Limits.memory_mb,
                        show_default=True, help="Megabytes a submission's process may allocate.")(fn)


def limits(kwargs: dict) -> Limits:
    return Limits(concept_seconds=kwargs.pop("time_limit"), memory_mb=kwargs.pop("memory_limit"))


learner_option = click.option(
    "--learner", envvar="VAEGRADE_LEARNER", default=None,
    help="Learner id (default: $VAEGRADE_LEARNER, else `git config user.email`, else your OS user name).")
gradebook_option = click.option(
    "--gradebook", default=None, metavar="FILE|URL",
    help="SQLite gradebook file or postgresql:// URL (default: .vaegrade/gradebook.sqlite in the course).")
no_record_option = click.option("--no-record", is_flag=True, help="Do not write the attempt to the gradebook.")
seed_option = click.option("--seed", type=int, default=None,
                           help="Reuse the random inputs of an earlier run (default: derived from the files "
                                "and the course key, so the same files get the same grade).")
concept_option = click.option("--concept", "concepts", multiple=True, help="Grade only this concept (repeatable).")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "auto_envvar_prefix": "VAEGRADE"})
@click.version_option(grader.__version__, prog_name="vaegrade")
@click.option("--course", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="The course folder (default: found from the working folder upwards, like git; "
                   "or $VAEGRADE_COURSE).")
@click.pass_context
def cli(ctx, course) -> None:
    """Grade the "Autoencoders and VAEs" exercises and mastery quiz.

    Learners: edit the files in exercises/, run `vaegrade check`, then
    `vaegrade grade`. Staff: `vaegrade batch`. CI: `vaegrade ci`.
    """
    ctx.obj = {"course": course}


@cli.command()
@click.argument("submission", required=False, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table",
              show_default=True, help="How to print the result (json is Gradescope's results.json).")
@seed_option
@concept_option
@threshold_option()
@click.option("-v", "--verbose", is_flag=True, help="Show the feedback of every failed check.")
@limits_options
@learner_option
@gradebook_option
@no_record_option
@click.pass_context
def grade(ctx, no_record, **kwargs) -> None:
    """Grade SUBMISSION (a folder, default: the course's exercises/) with the hidden checks.

    Exit status: 0 graded and passed, 1 graded and not passed, 2 could not grade.
    """
    with early_sandbox() as zygote:
        from grader.verbs import grade as verb

        finish(verb.main, workspace=workspace(ctx), limits=limits(kwargs), record=not no_record, zygote=zygote,
               **kwargs)


@cli.command()
@click.argument("concepts", nargs=-1)
@click.option("--dir", "folder", type=click.Path(path_type=Path), default=None,
              help="Folder with your files, or a Jupyter notebook (default: the course's exercises/).")
@click.pass_context
def check(ctx, concepts, folder) -> None:
    """Run the quick public checks (the lesson's worked examples) on your exercises.

    Give concept ids (mse, sigma, kl, ...) to check only those. The hidden
    checks that decide your grade run with `vaegrade grade`.
    """
    with early_sandbox() as zygote:
        from grader.verbs import grade as verb

        finish(verb.check, workspace=workspace(ctx), concepts=concepts, folder=folder, zygote=zygote,
               style=lambda text, ok: click.style(text, fg="green" if ok else "red"))


@cli.command()
@click.argument("concepts", nargs=-1)
@click.option("--dir", "folder", type=click.Path(path_type=Path), default=None,
              help="Folder (or Jupyter notebook) to watch (default: the course's exercises/).")
@click.pass_context
def watch(ctx, concepts, folder) -> None:
    """Rerun the public checks of a concept each time you save its file.

    Give concept ids to watch only those. One warm sandbox serves the whole
    session, so the answer comes right after the save. Ctrl-C to leave.
    """
    from grader.verbs import watch as verb

    finish(verb.main, workspace=workspace(ctx), concepts=concepts, folder=folder, echo=click.echo,
           clear=click.clear if sys.stdout.isatty() else None)


@cli.group()
def dev() -> None:
    """Tools for course authors."""


@dev.command("check")
@click.pass_context
def dev_check(ctx) -> None:
    """Prove the content is consistent: manifest, stubs, solutions, checks, quiz (the course's own files)."""
    from grader.verbs import dev as verb

    finish(verb.main, echo=click.echo, workspace=workspace(ctx))


@dev.command("mutants")
@click.argument("concepts", nargs=-1)
@click.option("--seeds", type=click.IntRange(min=1), default=3, show_default=True,
              help="Grade each mutant on seeds 1..N; killed means it lost points on every one.")
@click.option("--sample", "sample_size", type=click.IntRange(min=1), default=None,
              help="Grade a reproducible sample of N mutants (every operator at least once).")
def dev_mutants(concepts, seeds, sample_size) -> None:
    """Mutation adequacy: grade small slips in the reference solutions; exit 1 if any survives."""
    from grader.verbs import mutants

    finish(mutants.main, concepts=concepts, seeds=seeds, sample_size=sample_size, echo=click.echo)


@dev.command("quiz-copy")
@click.option("--src", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Staff copy (default: quizzes/mastery.toml).")
@click.argument("dest", required=False, type=click.Path(path_type=Path, dir_okay=False))
def dev_quiz_copy(src, dest) -> None:
    """Rebuild the learner copy of the quiz (no answer key in plain text) from the staff copy."""
    from grader.verbs import quiz as verb

    finish(verb.learner_copy, src=src, dest=dest)


@cli.command()
@click.argument("submissions", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder: gradebook.sqlite, grades.csv, results/<learner>.json.")
@click.option("-j", "--jobs", type=click.IntRange(min=1), default=None,
              help="Submissions graded at once, each by a worker process with its own sandbox "
                   "(one worker: a thread).  [default: all cores]")
@click.option("--force", is_flag=True, help="Regrade submissions already graded unchanged.")
@click.option("--submitted-at", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="CSV (learner,submitted_at) of hand-in times exported from the LMS "
                   "(default: each archive's or folder's time in SUBMISSIONS).")
@click.option("--excel", is_flag=True, help="Write grades.csv and quiz_items.csv in UTF-8 with a byte order "
                                            "mark, so Excel shows non-ASCII names right.")
@click.option("--gradebook", default=None, metavar="FILE|URL",
              help="Record into this gradebook instead of OUT/gradebook.sqlite: a SQLite file or a "
                   "postgresql:// URL shared by several batches, TAs and CI jobs.")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Grade on a Dask cluster: tcp://HOST:8786, or local:N for N worker processes on this "
                   "machine (needs the `cluster` extra).")
@threshold_option()
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@limits_options
@click.pass_context
def batch(ctx, quiet, **kwargs) -> None:
    """Grade every learner in SUBMISSIONS into a gradebook in --out.

    SUBMISSIONS holds one folder, .zip or .tar.gz per learner, named after
    the learner. Reruns skip submissions already graded unchanged, so a
    stopped batch is finished by running it again. With --scheduler the
    grading runs on a Dask cluster's workers; unpacking, hashing and the
    gradebook stay here. Exit status: 0 all graded, 1 some submissions could
    not be graded (listed) or the scheduler went away, 2 bad input.
    """
    from grader.verbs import batch as verb

    finish(verb.main, workspace=workspace(ctx), limits=limits(kwargs), progress=None if quiet else sys.stderr,
           **kwargs)


@cli.command()
def doctor() -> None:
    """Show which sandbox layers hold on this machine (run it on every grading worker).

    Exit status: 0 every required layer holds, 1 the sandbox cannot hold one
    here, so this machine must not grade.
    """
    from grader.verbs import doctor as verb

    finish(verb.main)


def _ask(prompt: str) -> str:
    """One line from the terminal; EOFError when input is closed (the quiz saves and stops)."""
    click.echo(prompt, nl=False)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line


@cli.command()
@click.option("--answers", "answers_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Grade this answers file instead of asking (JSON, TOML or `1: B` lines).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="How to print the graded attempt.")
@click.option("--quiz", "--key", "quiz_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Quiz data: the staff copy (.toml, with the key) or a learner copy (.json). "
                   "Default: quizzes/mastery.toml when present, else the learner copy.")
@learner_option
@click.option("--canonical", is_flag=True, help="The answers file uses canonical option ids a-d, "
                                                "not the learner's shuffled letters.")
@click.option("--partial", is_flag=True, help="Questions missing from the answers file count as wrong "
                                              "instead of being an error.")
@click.option("--restart", is_flag=True, help="Discard saved progress and start the quiz over.")
@click.option("--save-answers", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Where a finished quiz saves your answers (default: exercises/quiz_answers.json).")
@threshold_option("questions")
@gradebook_option
@no_record_option
@click.pass_context
def quiz(ctx, no_record, **kwargs) -> None:
    """Take the ten-question mastery quiz, or grade an answers file.

    Interactive: one question at a time, options lettered in your own order;
    every answer is saved at once, so q, Ctrl-C or a closed terminal loses
    nothing and the next `vaegrade quiz` resumes. At the end: your score and
    an explanation of each question you missed. Your answers are saved to
    exercises/quiz_answers.json to submit with your exercises.

    Exit status: 0 passed, 1 not passed, 2 bad answers file or quiz data,
    130 stopped before the end (answers so far are saved).
    """
    from grader.verbs import quiz as verb

    finish(verb.main, workspace=workspace(ctx), ask=_ask, echo=click.echo, record=not no_record, **kwargs)


@cli.command()
@learner_option
@gradebook_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_context
def status(ctx, **kwargs) -> None:
    """Where you stand: each concept, the quiz, whether the lesson is complete, what to do next.

    Read from the gradebook `vaegrade grade` and `vaegrade quiz` write to.
    Exit status: 0 lesson complete, 1 not yet, 2 unreadable gradebook.
    """
    from grader.verbs import report as verb

    finish(verb.status, workspace=workspace(ctx), **kwargs)


@cli.command()
@click.option("--gradebook", default=None, metavar="FILE|URL",
              help="Gradebook to read: a SQLite file or a postgresql:// URL (default: the course's "
                   ".vaegrade/gradebook.sqlite, or OUTDIR's with --class).")
@click.option("--learner", default=None, help="Whose report (default: you, or the gradebook's only learner).")
@click.option("--results", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Render from a results.json (`vaegrade grade --format json`) instead of a gradebook.")
@click.option("--class", "class_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Class overview of a batch output dir (its gradebook.sqlite), plus a page per learner.")
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="HTML file to write (default: progress-report.html, or OUTDIR/class-report.html).")
@threshold_option()
@click.option("--open", "open_", is_flag=True, help="Open the report in a web browser.")
@click.pass_context
def report(ctx, **kwargs) -> None:
    """Write an HTML progress report: yours, or with --class OUTDIR the class overview.

    The page works offline: charts are drawn in it, nothing is fetched.
    """
    from grader.verbs import report as verb

    finish(verb.main, workspace=workspace(ctx), **kwargs)


@cli.command()
@click.option("--exercises", type=click.Path(path_type=Path), default=None,
              help="The learner's exercises folder (default: $GITHUB_WORKSPACE/exercises, else exercises/).")
@click.option("--answers", type=click.Path(path_type=Path), default=None,
              help="A quiz answers file to grade too (default: quiz_answers.json, .toml or .txt at the "
                   "repository root or in exercises/, if any).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("vaegrade-results"), show_default=True,
              help="Folder for results.json (Gradescope format), junit.xml, summary.md and classroom.json.")
@click.option("--policy", type=click.Path(path_type=Path, exists=True), default=None,
              help="The course policy (policy.toml, or a folder holding it) from the autograder bundle: "
                   "due date, late penalty, extensions. Never the pull request's own.")
@threshold_option()
@seed_option
@concept_option
@limits_options
@click.pass_context
def ci(ctx, **kwargs) -> None:
    """Grade a pull request in CI: summary, annotations, JUnit XML and results.json.

    Under GitHub Actions (GITHUB_ACTIONS=true) it writes the job summary and
    annotates the failing functions; elsewhere it prints the summary.
    Exit status: 0 passed, 1 not passed, 2 could not grade.
    """
    from grader.verbs import ci as verb

    finish(verb.run, workspace=workspace(ctx), limits=limits(kwargs), echo=click.echo, **kwargs)


@cli.command()
@click.option("--root", type=click.Path(path_type=Path, file_okay=False), default=Path("/autograder"),
              show_default=True, help="Gradescope's autograder folder (submission/, results/, submission_metadata.json).")
@click.option("--hidden-visibility", type=click.Choice(["hidden", "after_due_date", "after_published", "visible"]),
              default=None, help="When learners see the hidden checks, the quiz and the total "
                                 "(default: the course policy's hidden_visibility, else after_due_date).")
@threshold_option()
@limits_options
@click.pass_context
def gradescope(ctx, **kwargs) -> None:
    """Grade a Gradescope submission (what the autograder zip's run_autograder runs).

    Writes ROOT/results/results.json in Gradescope's format and nothing else under ROOT.
    Exit status: 0 results written (whatever the score), 2 could not grade.
    """
    from grader.verbs import gradescope as verb

    finish(verb.main, course=workspace(ctx).course, limits=limits(kwargs), **kwargs)


@cli.command()
@click.argument("submissions", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Where similarity.json, similarity.md and the MOSS/JPlag/Dolos folders go (e.g. the batch's OUT).")
@click.option("--min-nodes", type=click.IntRange(min=1), default=SIMILAR_MIN_NODES, show_default=True,
              help="Flag only shared code at least this long (AST nodes after normalisation).")
def similarity(**kwargs) -> None:
    """For staff: learners whose code is identical after normalising layout, comments and names.

    Per concept and whole submission; short or canonical answers, which coincide by chance, are
    listed apart. Also writes one folder per learner for MOSS, JPlag or Dolos.
    """
    from grader.verbs import similarity as verb

    finish(verb.main, **kwargs)


@cli.group()
def release() -> None:
    """Build what learners get, what staff and CI keep, and a Gradescope autograder."""


def _release_command(kind: str, help_text: str) -> None:
    @release.command(kind, help=help_text)
    @click.argument("out", type=click.Path(path_type=Path))
    @click.option("--force", is_flag=True, help="Replace OUT if it exists.")
    def command(out, force) -> None:
        from grader.verbs import release as verb

        finish(verb.run, kind=kind, out=out, force=force)


_release_command("student", "Build the learner's bundle in OUT: stubs, public checks, key-less quiz, README.")
_release_command("autograder", "Build the staff/CI bundle in OUT: everything, hidden checks, solutions and the key.")
_release_command("gradescope", "Build OUT.zip, a Gradescope autograder (setup.sh, run_autograder, the autograder bundle).")


@cli.group("export")
def export() -> None:
    """Export grades for other tools (LMS gradebooks)."""


def _export_options(fn):
    fn = click.option("--excel", is_flag=True,
                      help="UTF-8 with a byte order mark, so Excel shows non-ASCII names right.")(fn)
    fn = click.option("--lesson-column", default="VAE lesson complete", show_default=True,
                      help="The lesson-complete column's name in the LMS (1 complete, 0 not yet).")(fn)
    fn = click.option("--quiz-column", default="VAE mastery quiz", show_default=True,
                      help="The quiz assignment's name in the LMS.")(fn)
    fn = click.option("--exercises-column", default="VAE exercises", show_default=True,
                      help="The exercises assignment's name in the LMS (Canvas: add \" (ID)\" to update one).")(fn)
    fn = click.option("--out", "source", required=True, type=click.Path(path_type=Path),
                      help="The batch output folder (or its gradebook file).")(fn)
    return click.argument("csv_out", metavar="OUT.csv", type=click.Path(path_type=Path))(fn)


@export.command("lms")
@_export_options
@click.option("--roster", type=click.Path(path_type=Path), default=None,
              help="CSV mapping learner ids to the LMS's Student, ID, SIS User ID, SIS Login ID, Section.")
@click.pass_context
def export_lms(ctx, **kwargs) -> None:
    """Write OUT.csv in Canvas's gradebook import layout (and OUT.counted.csv: which attempt counted, why)."""
    from grader.verbs import export as verb

    finish(verb.lms_csv, workspace=workspace(ctx), **kwargs)


@export.command("moodle")
@_export_options
@click.option("--roster", type=click.Path(path_type=Path), default=None,
              help="CSV mapping learner ids to Moodle's Email address, Username, ID number, First name, Last name.")
@click.pass_context
def export_moodle(ctx, **kwargs) -> None:
    """Write OUT.csv for Moodle's "Import grades: CSV file" (and OUT.counted.csv)."""
    from grader.verbs import export as verb

    finish(verb.moodle_csv, workspace=workspace(ctx), **kwargs)


def main() -> None:
    cli(prog_name="vaegrade")
