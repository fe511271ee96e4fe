"""`vaegrade batch`: grade a whole class into a gradebook, on every core, losing nothing.

SUBMISSIONS holds one folder or one archive per learner (grader.grading.intake).
Each worker keeps one warm sandbox zygote for its whole life, so a submission
costs forks, not a Python + torch start. Workers are threads of this process:
the trusted side only runs numpy and waits on sockets, and measured side by
side (bench/bench_batch.py) threads were as fast as worker processes while
using less memory, and a killed batch takes its workers with it.

Only the main thread writes the gradebook, one transaction per attempt, so a
SIGKILL at any moment leaves whole attempts only; a rerun skips what is
already graded (same content hash, same grader version) and rebuilds the
exports (grader.outputs.exports) from the gradebook, under the course policy.

A submission's hand-in time is where it was handed in: the modification time of its archive
or folder in SUBMISSIONS (what an LMS download or a copy from a shared drive keeps), or, when
staff give --submitted-at, the learner's row of that CSV (learner,submitted_at, exported from the
LMS); never a date inside the submission (zip member dates, file contents). It is taken here, on
the client, whoever grades.

Where the grading runs is an executor: `LocalExecutor` (this machine's threads
or processes) or grader.grading.cluster's `DaskExecutor` (a Dask cluster's
workers, with intake on this side). Both yield each submission's Outcome as it
finishes; discovery, recording, the progress bar, the summary and the exports
are the same for both.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sys
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, TextIO

import grader
from grader import safetext
from grader.course import policy as policies
from grader.outputs import exports
from grader.grading import intake as archives
from grader.grading import quiz
from grader.grading.cluster import ClusterError, ClusterLost, DaskExecutor
from grader.grading import work as work_unit
from grader.grading.work import Outcome
from grader.sandbox.session import SandboxError, Zygote
from grader.settings import GRADEBOOK_FILE, PASS_FRACTION, Limits
from grader.store import open_gradebook
from grader.store.gradebook import Gradebook
from grader.verbs.workspace import Outcome as VerbOutcome
from grader.verbs.workspace import VerbError, Workspace

GRADEBOOK = GRADEBOOK_FILE
LOCK = ".lock"
MODES = ("threads", "processes")


class BatchError(Exception):
    """The batch cannot run at all (bad folder, output in use): the CLI exits 2."""


@dataclass
class Summary:
    graded: int = 0
    skipped: int = 0
    quizzes: int = 0             #: quiz answers files graded (new answers only)
    failed: list[tuple[str, str]] = field(default_factory=list)   #: (learner, reason)
    rejected: list[tuple[str, str]] = field(default_factory=list) #: (learner, reason): files refused in a graded submission
    ignored: list[str] = field(default_factory=list)               #: names in SUBMISSIONS that are not submissions
    learners: int = 0            #: submissions found
    scored: int = 0              #: of those, learners with a grade (this run or an earlier one)
    mean_score: float | None = None
    max_score: float | None = None
    pass_rate: float | None = None
    seconds: float = 0.0
    jobs: int = 1
    interrupted: bool = False
    lost: str = ""               #: why the run ended early (the Dask scheduler went away)
    where: str = ""              #: where the grading ran, when not on this machine
    out: Path | None = None
    book: str = ""               #: the gradebook written (a file, or a server URL without its password)
    exported: exports.Exported | None = None

    @property
    def exit_code(self) -> int:
        """0: everything graded; 1: some submissions could not be graded (reported) or the cluster was lost;
        130: interrupted."""
        return 130 if self.interrupted else (1 if self.failed or self.lost else 0)


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


# --- the worker side ------------------------------------------------------------------------------


class Worker:
    """Prepares and grades submissions; one warm zygote per thread, kept for the thread's life."""

    def __init__(self, *, limits: Limits, pass_fraction: float, force: bool,
                 done: dict[str, set[str]], work_root: Path, course_key: bytes | None = None):
        self.limits, self.pass_fraction, self.force = limits, pass_fraction, force
        self.course_key = course_key
        self.done, self.work_root = done, work_root
        self.local = threading.local()
        self.quiz_key = work_unit.QuizKey()   # the staff copy of the quiz, loaded once
        self.zygotes: list = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    def zygote(self, fresh: bool = False) -> Zygote:
        zygote = getattr(self.local, "zygote", None)
        if zygote is not None and (fresh or not zygote.alive()):
            zygote.close()
            zygote = None
        if zygote is None:
            with self.lock:   # never start a sandbox that close() would miss
                if self.stopping.is_set():
                    raise SandboxError("the batch is stopping")
                zygote = self.local.zygote = Zygote()
                self.zygotes.append(zygote)
        return zygote

    def close(self) -> None:
        self.stopping.set()
        with self.lock:
            zygotes, self.zygotes = self.zygotes, []
        for zygote in zygotes:
            zygote.close()

    def __call__(self, entry: archives.Entry) -> Outcome:
        started = time.monotonic()
        if self.stopping.is_set():
            return Outcome(entry.learner, "cancelled")
        try:
            with tempfile.TemporaryDirectory(dir=self.work_root, prefix="work-") as work:
                outcome = self._grade(entry, Path(work))
        except Exception as exc:  # a fault of the grader itself: reported for this learner, the batch goes on
            outcome = Outcome(entry.learner, "failed", f"the grader failed on this submission "
                                                      f"({type(exc).__name__}: {exc}); rerun to retry")
        outcome.seconds = time.monotonic() - started
        return outcome

    def _grade(self, entry: archives.Entry, work: Path) -> Outcome:
        try:
            prepared = archives.prepare(entry, work)
        except archives.BadSubmission as exc:
            return Outcome(entry.learner, "failed", str(exc))
        early = work_unit.settled(entry, prepared, force=self.force, done=self.done, quiz_key=self.quiz_key,
                        pass_fraction=self.pass_fraction)
        if early is not None:
            return early
        quiz_result, quiz_problem = self.quiz_key.grade(entry.learner, prepared.quiz_folder, self.pass_fraction)
        seed, source = work_unit.seed_for(self.course_key, prepared)
        outcome = work_unit.grade_folder(entry.learner, prepared.folder, prepared.content_hash, zygote=self.zygote,
                                         limits=self.limits, pass_fraction=self.pass_fraction, seed=seed,
                                         seed_source=source, stopping=self.stopping)
        outcome.quiz, outcome.quiz_problem = quiz_result, quiz_problem
        return work_unit.annotate(outcome, submission=str(entry.path), files=prepared.files,
                                  ignored=prepared.ignored)


_PROCESS_WORKER: Worker | None = None


PR_SET_PDEATHSIG = 1


def _start_process_worker(kwargs: dict, batch_pid: int) -> None:
    global _PROCESS_WORKER
    import ctypes
    import signal
    from multiprocessing import util

    # A worker dies with its batch, even a killed one (and its warm sandboxes, which end when their
    # worker does): a pool's worker would otherwise wait on its queue for ever.
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != batch_pid:   # the batch died before the line above
        os._exit(1)

    # Ctrl-C reaches the whole process group; the batch answers it for its workers (SIGTERM, see
    # LocalExecutor.close), so a worker prints no traceback of its own. SIGTERM closes the
    # worker's warm sandboxes, which kills their children: the submission in hand ends at once,
    # the ones queued are answered "cancelled", and the pool then stops its workers in order.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_process_worker)

    _PROCESS_WORKER = Worker(**kwargs)
    util.Finalize(_PROCESS_WORKER, _PROCESS_WORKER.close, exitpriority=10)


def _stop_process_worker(*_) -> None:
    """SIGTERM in a worker process: Worker.close without its lock, which the code this signal
    interrupted may hold (a zygote's own lock is re-entrant)."""
    worker = _PROCESS_WORKER
    worker.stopping.set()
    for zygote in list(worker.zygotes):
        zygote.close()


def _grade_in_process(entry: archives.Entry) -> Outcome:
    return _PROCESS_WORKER(entry)


class LocalExecutor:
    """Submissions graded by threads (or forked processes) of this machine, each with its own warm sandbox."""

    where = ""

    def __init__(self, settings: work_unit.Settings, *, jobs: int, mode: str):
        self.jobs = jobs
        kwargs = dict(limits=settings.limits, pass_fraction=settings.pass_fraction, force=settings.force,
                      done=settings.done, work_root=settings.work_root, course_key=settings.course_key)
        self.worker: Worker | None = None
        if mode == "threads":
            self.worker = Worker(**kwargs)
            self.pool: Executor = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="grader")
            self.task = self.worker
        else:
            import multiprocessing

            self.pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"),
                                            initializer=_start_process_worker, initargs=(kwargs, os.getpid()))
            self.task = _grade_in_process
        self.pending: set[Future] = set()

    def outcomes(self, entries: list[archives.Entry]) -> Iterator[Outcome]:
        learner_of = {self.pool.submit(self.task, entry): entry.learner for entry in entries}
        self.pending = set(learner_of)
        while self.pending:
            finished, self.pending = wait(self.pending, return_when=FIRST_COMPLETED)
            for future in finished:
                try:
                    yield future.result()
                except Exception as exc:   # a worker process died (processes mode)
                    yield Outcome(learner_of[future], "failed",
                                  f"the grader's worker died ({type(exc).__name__}); rerun to retry")

    def close(self, interrupted: bool) -> None:
        if self.worker is not None:   # threads
            for future in self.pending:
                future.cancel()
            self.worker.close()   # stops in-flight children at once when interrupted
            self.pool.shutdown(wait=not interrupted, cancel_futures=True)
            return
        # Worker processes: never killed while the pool runs (a pool that loses a worker fails every
        # pending future, and Python 3.11's then trips over the ones already cancelled). Asked to stop
        # instead, they finish in a moment, and the pool shuts down in order.
        if interrupted:
            import multiprocessing
            import signal

            for process in multiprocessing.active_children():
                try:
                    os.kill(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        self.pool.shutdown(wait=True, cancel_futures=True)


def _executor(scheduler: str | None, settings: work_unit.Settings, *, jobs: int, mode: str):
    """Where the grading runs: this machine's threads or processes, or a Dask cluster's workers."""
    if not scheduler:
        return LocalExecutor(settings, jobs=jobs, mode=mode)
    try:
        return DaskExecutor(scheduler, settings)
    except ClusterError as exc:
        raise BatchError(str(exc)) from None


# --- progress ----------------------------------------------------------------------------------------


class Progress:
    """A one-line progress bar with rate and ETA on a terminal; a line every 10% otherwise."""

    def __init__(self, total: int, stream: TextIO | None, width: int = 28):
        self.total, self.stream, self.width = total, stream, width
        self.done = self.skipped = self.failed = 0
        self.started = time.monotonic()
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        self.step = max(1, total // 10)

    def update(self, outcome: Outcome) -> None:
        self.done += 1
        self.skipped += outcome.status == "skipped"
        self.failed += outcome.status == "failed"
        if self.stream is None:
            return
        if self.tty:
            self.stream.write("\r" + self.line())
        elif self.done % self.step == 0 or self.done == self.total:
            self.stream.write(self.line() + "\n")
        self.stream.flush()

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else None
        filled = int(self.width * self.done / self.total) if self.total else self.width
        bar = "#" * filled + "-" * (self.width - filled)
        eta = _clock(left) if left is not None else "?"
        extra = ", ".join(f"{n} {what}" for n, what in ((self.skipped, "unchanged"), (self.failed, "failed")) if n)
        return (f"grading [{bar}] {self.done}/{self.total}  {rate:.1f}/s  ETA {eta}"
                + (f"  ({extra})" if extra else "")).ljust(78)

    def close(self) -> None:
        if self.stream is not None and self.tty and self.total:
            self.stream.write("\n")
            self.stream.flush()


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


# --- the batch ------------------------------------------------------------------------------------------


def _lock(out: Path):
    """One batch per output folder at a time (the lock dies with the process, even on SIGKILL)."""
    handle = open(out / LOCK, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise BatchError(f"another `vaegrade batch` is writing to {out}; wait for it to finish") from None
    return handle


def _record(book: Gradebook, outcome: Outcome, reported: dict[str, set[str]], *, regrade: bool = False) -> int:
    """Write one outcome to the gradebook (each attempt in its own transaction); 1 if a quiz was recorded.

    A problem already reported since the learner's latest grade is not written again.
    """
    if outcome.status == "graded":
        book.record_exercises(outcome.learner, outcome.result, outcome.content_hash, regrade=regrade)
    reasons = [outcome.reason] if outcome.status == "failed" else []
    for reason in reasons + ([outcome.quiz_problem] if outcome.quiz_problem else []):
        reason = safetext.inert(reason, 2000)   # may quote member names and messages: stored inert
        if reason not in reported.setdefault(outcome.learner, set()):
            book.record_problem(outcome.learner, reason)
            reported[outcome.learner].add(reason)
    if outcome.quiz is not None:
        return int(quiz.record_new(book, outcome.quiz))
    return 0


def _reported(book: Gradebook) -> dict[str, set[str]]:
    """learner -> problems reported since that learner's latest exercises attempt."""
    graded_at = {k: a.graded_at for k, a in book.latest_all("exercises").items()}
    reported: dict[str, set[str]] = {}
    for learner, at, reason in book.problems():
        if at >= graded_at.get(learner, ""):
            reported.setdefault(learner, set()).add(reason)
    return reported


def run_batch(submissions: str | os.PathLike, out: str | os.PathLike, *, jobs: int | None = None,
              force: bool = False, limits: Limits = Limits(), pass_fraction: float = PASS_FRACTION,
              progress: TextIO | None = sys.stderr, mode: str | None = None, course_key: bytes | None = None,
              scheduler: str | None = None, policy: policies.Policy | None = None,
              handed_in: dict | None = None, encoding: str = "utf-8", gradebook: str | os.PathLike | None = None) -> Summary:
    """Grade every submission in `submissions` into a gradebook, then rewrite the exports in `out`.

    The gradebook is out/gradebook.sqlite unless `gradebook` names another (a SQLite file, or a
    postgresql:// URL that several batches, TAs and CI jobs can share).

    With `scheduler` (a Dask scheduler's address, or local:N) the grading runs on that cluster's
    workers; everything else (intake, the gradebook, the exports) stays here.
    """
    started = time.monotonic()
    submissions, out = Path(submissions), Path(out)
    if not submissions.is_dir():
        raise BatchError(f"{submissions} is not a folder of submissions")
    if out.resolve() == submissions.resolve():
        raise BatchError(f"--out {out} is the submissions folder itself: give another folder")
    jobs = jobs or default_jobs()
    # Several workers: processes, each with its own interpreter lock (measured faster than threads,
    # whose checks queue for one lock); one worker: a thread, with nothing to fork.
    mode = mode or ("processes" if jobs > 1 else "threads")
    if mode not in MODES:
        raise BatchError(f"unknown worker mode {mode!r} (known: {', '.join(MODES)})")
    try:
        out.mkdir(parents=True, exist_ok=True)
        lock = _lock(out)
    except OSError as exc:
        raise BatchError(f"cannot write to {out}: {exc.strerror or exc}") from None
    try:
        try:
            target = gradebook if gradebook is not None else out / GRADEBOOK
            book = open_gradebook(target)
        except Exception as exc:   # not a database, a newer schema, unreadable, no server
            raise BatchError(f"cannot open the gradebook {safetext.terminal_line(target, 300)}: {exc}") from None
        with book:
            return _run(book, submissions, out, jobs=jobs, force=force, limits=limits,
                        pass_fraction=pass_fraction, progress=progress, mode=mode, started=started,
                        course_key=course_key, scheduler=scheduler, policy=policy or policies.Policy(),
                        handed_in=handed_in or {}, encoding=encoding)
    finally:
        lock.close()


def _run(book: Gradebook, submissions: Path, out: Path, *, jobs, force, limits, pass_fraction,
         progress, mode, started, course_key, scheduler, policy, handed_in, encoding) -> Summary:
    tmp = out / exports.TMP_DIR
    shutil.rmtree(tmp, ignore_errors=True)   # leftovers of a killed batch: never a result
    tmp.mkdir()
    try:
        found = archives.discover(submissions)
    except OSError as exc:
        raise BatchError(f"cannot read {submissions}: {exc.strerror or exc}") from None
    inside = [e for e in found.entries if _contains(e.path, out)]
    if inside:   # the output folder inside SUBMISSIONS is not a learner
        found.entries = [e for e in found.entries if e not in inside]
        found.ignored = found.ignored + [f"{e.path.name} (the --out folder of this batch: not a submission)"
                                         for e in inside]
    summary = Summary(book=book.describe(), ignored=found.ignored, learners=len(found.entries) + len(found.problems), jobs=jobs, out=out)
    reported = _reported(book)
    bar = Progress(summary.learners, progress)
    for learner, reason in found.problems:
        outcome = Outcome(learner, "failed", reason)
        _record(book, outcome, reported)
        summary.failed.append((learner, reason))
        bar.update(outcome)
    settings = work_unit.Settings(limits=limits, pass_fraction=pass_fraction, force=force,
                                  done=book.graded_hashes(grader.__version__), work_root=tmp, course_key=course_key)
    executor = _executor(scheduler, settings, jobs=jobs, mode=mode)
    summary.jobs, summary.where = executor.jobs, executor.where
    recorded: set[tuple[str, str]] = set()
    entry_of = {e.learner: e for e in found.entries}
    try:
        for outcome in executor.outcomes(found.entries):
            if outcome.status == "cancelled":
                continue
            if outcome.status == "graded" and (outcome.learner, outcome.content_hash) in recorded:
                continue   # one grade per learner and content per run, whatever a retry sends back
            if outcome.learner in entry_of:
                stamp(outcome, entry_of[outcome.learner], handed_in)
            summary.quizzes += _record(book, outcome, reported, regrade=force)
            if outcome.quiz_problem and outcome.status != "failed":
                summary.rejected.append((outcome.learner, outcome.quiz_problem))
            elif outcome.quiz_problem:
                summary.failed.append((outcome.learner, outcome.quiz_problem))
            if outcome.status == "graded":
                recorded.add((outcome.learner, outcome.content_hash))
                summary.graded += 1
            elif outcome.status == "skipped":
                summary.skipped += 1
            else:
                summary.failed.append((outcome.learner, outcome.reason))
            bar.update(outcome)
    except KeyboardInterrupt:
        summary.interrupted = True
    except ClusterLost as exc:
        summary.lost = str(exc)
    finally:
        executor.close(interrupted=summary.interrupted or bool(summary.lost))
        bar.close()
    summary.exported = exports.write_exports(book, out, policy, encoding=encoding)
    shutil.rmtree(tmp, ignore_errors=True)
    _class_figures(book, summary, [e.learner for e in found.entries])
    summary.seconds = time.monotonic() - started
    return summary


def submitted(entry: archives.Entry, handed_in: dict) -> tuple[str, str]:
    """(hand-in time, where it came from): the staff's CSV, else the file's time in SUBMISSIONS."""
    if entry.learner in handed_in:
        return policies.iso(handed_in[entry.learner]), "submitted-at CSV"
    try:
        mtime = entry.path.lstat().st_mtime
    except OSError:
        return "", ""
    return policies.iso(datetime.fromtimestamp(mtime, timezone.utc)), "file time in SUBMISSIONS"


def stamp(outcome: Outcome, entry: archives.Entry, handed_in: dict) -> None:
    """Note on the outcome and its records when the submission was handed in (taken here, never from a worker)."""
    outcome.submitted_at, outcome.submitted_from = submitted(entry, handed_in)
    for record in (outcome.result, outcome.quiz):
        if record is not None and outcome.submitted_at:
            record.extra.update(submitted_at=outcome.submitted_at, submitted_from=outcome.submitted_from)


def _contains(entry: Path, out: Path) -> bool:
    """True when `out` is the entry itself or inside it (a folder submission)."""
    try:
        out.resolve().relative_to(entry.resolve())
        return True
    except (ValueError, OSError):
        return False


def _class_figures(book: Gradebook, summary: Summary, learners: list[str]) -> None:
    latest = book.latest_all("exercises")
    graded = [latest[k] for k in learners if k in latest]
    summary.scored = len(graded)
    if graded:
        summary.mean_score = sum(a.score for a in graded) / len(graded)
        summary.max_score = max(a.max_score for a in graded)
        summary.pass_rate = sum(a.passed for a in graded) / len(graded)


def summary_text(summary: Summary, *, show: int = 20) -> str:
    """What staff read at the end of a batch (learner ids and reasons come from the submissions folder)."""
    lines = []
    if summary.interrupted:
        lines.append("Interrupted: everything graded so far is saved; run the same command again to finish.")
    if summary.lost:
        lines.append(f"Stopped early: {safetext.terminal_line(summary.lost, 500)}.")
    rate = summary.graded / summary.seconds if summary.seconds else 0.0
    left = summary.learners - summary.graded - summary.skipped - len(summary.failed)
    lines.append(f"{summary.learners} submissions: {summary.graded} graded, {summary.skipped} unchanged since "
                 f"graded (skipped; --force regrades), {len(summary.failed)} could not be graded"
                 f"{f', {left} not reached' if left > 0 else ''} "
                 f"[{summary.seconds:.1f} s, {rate:.1f} graded/s, {summary.jobs} worker"
                 f"{'s' if summary.jobs != 1 else ''}{' on ' + summary.where if summary.where else ''}]")
    if summary.quizzes:
        lines.append(f"quiz: {summary.quizzes} new answers file{'s' if summary.quizzes != 1 else ''} graded")
    if summary.mean_score is not None:
        lines.append(f"class: mean score {summary.mean_score:.1f} / {summary.max_score:g}, pass rate "
                     f"{summary.pass_rate:.0%} ({summary.scored} learners with a grade)")
    for learner, reason in summary.failed[:show]:
        lines.append(f"  could not grade {safetext.shown_id(learner)}: {safetext.terminal_line(reason, 500)}")
    if len(summary.failed) > show:
        lines.append(f"  ... and {len(summary.failed) - show} more (the gradebook's problems table has them all)")
    for learner, reason in summary.rejected[:show]:
        lines.append(f"  rejected a file of {safetext.shown_id(learner)}: {safetext.terminal_line(reason, 500)}")
    if len(summary.rejected) > show:
        lines.append(f"  ... and {len(summary.rejected) - show} more rejected files (the gradebook's problems table)")
    for name in summary.ignored[:show]:
        lines.append(f"  ignored {safetext.terminal_line(name, 200)}")
    if summary.out is not None:
        out = safetext.terminal_line(summary.out, 500)
        book = safetext.terminal_line(summary.book, 500) if summary.book else f"{out}/{GRADEBOOK}"
        lines.append(f"gradebook: {book}; grades: {out}/{exports.GRADES_CSV}; "
                     f"results: {out}/{exports.RESULTS_DIR}/")
    return "\n".join(lines)


def main(*, workspace: Workspace, submissions: Path, out: Path, jobs: int | None = None, force: bool = False,
         threshold: float = PASS_FRACTION, limits: Limits = Limits(), progress: TextIO | None = sys.stderr,
         submitted_at: Path | None = None, excel: bool = False, scheduler: str | None = None,
         gradebook: str | None = None) -> VerbOutcome:
    """Grade a class; exit 0 every submission graded, 1 some could not be graded (or the cluster was lost),
    2 bad input (or no cluster to run on)."""
    try:
        policy = policies.load(workspace.course)
        handed_in = policies.read_submitted_at(submitted_at) if submitted_at is not None else None
    except policies.PolicyError as exc:
        raise VerbError(str(exc)) from None
    try:
        summary = run_batch(submissions, out, jobs=jobs, force=force, limits=limits, pass_fraction=threshold,
                            progress=progress, course_key=workspace.course_key(), scheduler=scheduler,
                            policy=policy, handed_in=handed_in, encoding="utf-8-sig" if excel else "utf-8",
                            gradebook=workspace.gradebook(gradebook) if gradebook else None)
    except BatchError as exc:
        raise VerbError(str(exc)) from None
    return VerbOutcome(summary_text(summary), summary.exit_code)
