"""`vaegrade report` and `vaegrade status`: where a learner or a class stands."""

from __future__ import annotations

import json
import time
import webbrowser
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from grader import store
from grader.grading.results import AttemptRecord
from grader.outputs import report as reports
from grader.settings import GRADEBOOK_FILE, PASS_FRACTION, STATE_DIR, default_learner
from grader.store import Gradebook
from grader.verbs.status import learner_status, status_text
from grader.verbs.workspace import Outcome, VerbError, Workspace


def open_gradebook(target) -> Gradebook:
    """Open an existing gradebook (a report never creates one): a SQLite file or a postgresql:// URL."""
    try:
        return store.open_gradebook(target if store.is_url(target) else Path(target), create=False)
    except store.GradebookMissing:
        raise VerbError(f"no gradebook at {target}") from None
    except store.GradebookError as exc:
        raise VerbError(str(exc)) from None


def load_snapshot(book: Gradebook, learner: str | None = None) -> reports.Snapshot:
    """Read the gradebook: every learner (learner=None) or just one."""
    try:
        attempts: dict[str, list[AttemptRecord]] = defaultdict(list)
        for a in book.attempts(learner):
            attempts[a.learner].append(a)
        exercises = {lid: a.result for lid, a in book.latest_per_learner("exercises", learner=learner).items()}
        quiz = {lid: a.result for lid, a in book.latest_per_learner("quiz", learner=learner).items()}
        problems: dict[str, list] = defaultdict(list)
        for p in book.problems(learner):
            problems[p.learner].append((p.at, p.reason))
    except store.GradebookError as exc:
        raise VerbError(str(exc)) from None
    learners = sorted(set(attempts) | set(problems))
    return reports.Snapshot(learners, dict(attempts), exercises, quiz, dict(problems))


# --- files ---------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    """Write through a temporary file so a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_learner_report(*, out: Path, gradebook: Path | str | None = None, learner: str | None = None,
                         results: Path | None = None, threshold: float = PASS_FRACTION) -> tuple[Path, str]:
    """Render one learner's report to `out`; returns (the file, the learner id shown)."""
    if results is not None:
        try:
            data = json.loads(Path(results).read_text(encoding="utf-8"))
        except OSError as exc:
            raise VerbError(f"cannot read {results}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise VerbError(f"{results} is not JSON ({exc})") from None
        report = reports.learner_report_from_results(data, learner=learner, source=str(results))
    else:
        explicit = gradebook is not None
        gradebook = gradebook if explicit else default_gradebook()
        source = str(gradebook)
        if not explicit and not Path(gradebook).is_file():
            # A learner who has graded nothing yet: an empty report that says how to start.
            who = learner or default_learner()
            snap = reports.Snapshot([], {}, {}, {}, {})
        else:
            with open_gradebook(gradebook) as book:
                source = book.describe()
                who = learner or _pick_learner(book)
                snap = load_snapshot(book, who)
        report = reports.learner_report(who, snap, threshold=threshold, source=source)
    _write(Path(out), reports.render_learner(report))
    return Path(out), report.learner


def default_gradebook() -> Path:
    """The learner's own gradebook, the one `vaegrade grade` and `vaegrade quiz` write to."""
    return Path(STATE_DIR) / GRADEBOOK_FILE


def _pick_learner(book: Gradebook) -> str:
    """No --learner: this machine's learner if the gradebook knows them, else its only learner."""
    try:
        everyone = book.learners()
    except store.GradebookError as exc:
        raise VerbError(str(exc)) from None
    if len(everyone) == 1:
        return everyone[0]
    me = default_learner()
    if me in everyone or not everyone:
        return me
    shown = ", ".join(everyone[:10]) + (" …" if len(everyone) > 10 else "")
    raise VerbError(f"{book.describe()} holds {len(everyone)} learners: choose one with --learner ({shown})")


@dataclass(frozen=True)
class ClassOutput:
    page: Path
    learner_pages: int
    seconds: float


def write_class_report(*, outdir: Path, gradebook: Path | str | None = None, out: Path | None = None,
                       threshold: float = PASS_FRACTION, learner_pages: bool = True) -> ClassOutput:
    """Render the class overview (and each learner's page under reports/) from a batch output dir."""
    start = time.perf_counter()
    outdir = Path(outdir)
    gradebook = gradebook or outdir / reports.GRADEBOOK_NAME
    if not store.is_url(gradebook) and not Path(gradebook).is_file():
        raise VerbError(f"no {reports.GRADEBOOK_NAME} in {outdir}: run `vaegrade batch SUBMISSIONS --out {outdir}` "
                          "first, or give --gradebook")
    with open_gradebook(gradebook) as book:
        source = book.describe()
        snap = load_snapshot(book)
    page = Path(out) if out else outdir / reports.CLASS_REPORT
    reports_dir = page.parent / reports.REPORTS_DIR
    stamp = reports.now()
    report = reports.class_report(snap, threshold=threshold, source=source, generated_at=stamp)
    _write(page, reports.render_class(report))
    count = 0
    if learner_pages:
        back = f"../{page.name}"
        for lid in snap.learners:
            view = reports.learner_report(lid, snap, threshold=threshold, generated_at=stamp, back_href=back,
                                  source=source)
            _write(reports_dir / f"{reports.safe_name(lid)}.html", reports.render_learner(view))
            count += 1
    return ClassOutput(page, count, time.perf_counter() - start)


def open_in_browser(path: Path) -> bool:
    """Open a report in the default browser; False when there is none (say where the file is instead)."""
    try:
        return bool(webbrowser.open(Path(path).resolve().as_uri()))
    except webbrowser.Error:
        return False


def status(*, workspace: Workspace, learner: str | None = None, gradebook: Path | None = None,
           fmt: str = "table") -> Outcome:
    """Exit 0 lesson complete, 1 not yet, 2 unreadable gradebook."""
    path = workspace.gradebook(gradebook)
    try:
        st = learner_status(path, workspace.learner(learner))
    except (OSError, RuntimeError) as exc:
        raise VerbError(f"cannot read the gradebook {path}: {exc}") from None
    text = json.dumps(st.to_dict(), indent=2) if fmt == "json" else status_text(st).rstrip("\n")
    return Outcome(text, 0 if st.complete else 1)


def main(*, workspace: Workspace, gradebook: Path | None = None, learner: str | None = None,
         results: Path | None = None, class_dir: Path | None = None, out: Path | None = None,
         threshold: float = PASS_FRACTION, open_: bool = False) -> Outcome:
    """Write the learner's progress report, or with class_dir the class overview and a page per learner."""
    if class_dir is not None and results is not None:
        raise VerbError("--results renders one learner's report; it does not go with --class")
    try:
        if class_dir is not None and learner is None:
            made = write_class_report(outdir=class_dir, gradebook=gradebook, out=out, threshold=threshold)
            page = made.page
            text = (f"class report: {page} ({made.learner_pages} learner pages in "
                    f"{page.parent / reports.REPORTS_DIR}, {made.seconds:.2f} s)")
        else:
            if class_dir is not None:
                gradebook = gradebook or class_dir / reports.GRADEBOOK_NAME
            elif gradebook is None and results is None and Path(workspace.gradebook()).is_file():
                gradebook = workspace.gradebook()   # else: a start page that says how to begin
            page, who = write_learner_report(out=out or Path("progress-report.html"), gradebook=gradebook,
                                                     learner=learner, results=results, threshold=threshold)
            text = f"report for {who}: {page}"
    except reports.ReportError as exc:
        raise VerbError(str(exc)) from None
    except OSError as exc:
        raise VerbError(f"cannot write the report: {exc}") from None
    if open_ and not open_in_browser(page):
        text += f"\nNo web browser is available here: open {page.resolve().as_uri()} yourself."
    return Outcome(text, 0)
