"""`vaegrade report` and `vaegrade status`: where a learner or a class stands."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from grader.outputs import report as reports
from grader.settings import PASS_FRACTION
from grader.verbs.status import learner_status, status_text
from grader.verbs.workspace import Outcome, VerbError, Workspace


def status(*, workspace: Workspace, learner: str | None = None, gradebook: Path | None = None,
           fmt: str = "table") -> Outcome:
    """Exit 0 lesson complete, 1 not yet, 2 unreadable gradebook."""
    path = workspace.gradebook(gradebook)
    try:
        st = learner_status(path, workspace.learner(learner))
    except (sqlite3.Error, RuntimeError) as exc:
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
            made = reports.write_class_report(outdir=class_dir, gradebook=gradebook, out=out, threshold=threshold)
            page = made.page
            text = (f"class report: {page} ({made.learner_pages} learner pages in "
                    f"{page.parent / reports.REPORTS_DIR}, {made.seconds:.2f} s)")
        else:
            if class_dir is not None:
                gradebook = gradebook or class_dir / reports.GRADEBOOK_NAME
                reports.require_learner(gradebook, learner)
            elif gradebook is None and results is None and workspace.gradebook().is_file():
                gradebook = workspace.gradebook()   # else: a start page that says how to begin
            page, who = reports.write_learner_report(out=out or Path("progress-report.html"), gradebook=gradebook,
                                                     learner=learner, results=results, threshold=threshold)
            text = f"report for {who}: {page}"
    except reports.ReportError as exc:
        raise VerbError(str(exc)) from None
    except OSError as exc:
        raise VerbError(f"cannot write the report: {exc}") from None
    if open_ and not reports.open_in_browser(page):
        text += f"\nNo web browser is available here: open {page.resolve().as_uri()} yourself."
    return Outcome(text, 0)
