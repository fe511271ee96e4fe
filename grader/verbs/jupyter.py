"""The public checks from a Jupyter cell: `from grader.verbs.jupyter import check; check()`.

It grades the notebook *file* as last saved (save first: Ctrl-S), exactly as `vaegrade check
vae.ipynb` would: the definitions are taken from its code cells and run in the sandbox, never
in the kernel. The result renders as HTML in the notebook (and as text elsewhere). One warm
sandbox is kept for the kernel's lifetime, so checks after the first answer quickly.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from grader.grading.results import GradingResult
from grader.grading.runner import SandboxError, SubmissionError, grade_submission
from grader.outputs import report as pages
from grader.outputs import text as formats
from grader.sandbox.session import Zygote
from grader.verbs.grade import check_concepts
from grader.verbs.workspace import VerbError, Workspace

_zygote: Zygote | None = None
_lock = threading.Lock()


def _warm_sandbox() -> Zygote:
    global _zygote
    with _lock:
        if _zygote is None or not _zygote.alive():
            _zygote = Zygote()
            atexit.register(_zygote.close)
        return _zygote


def find_notebook(path: str | os.PathLike | None = None) -> Path:
    """The notebook to grade: `path`, else the one this kernel runs (when Jupyter says), else the only one here."""
    if path is not None:
        return Path(path)
    for name in ("JPY_SESSION_NAME", "__vsc_ipynb_file__"):
        guess = os.environ.get(name, "")
        if guess.endswith(".ipynb") and Path(guess).is_file():
            return Path(guess)
    here = sorted(Path.cwd().glob("*.ipynb"))
    if len(here) == 1:
        return here[0]
    raise VerbError("say which notebook to check: check(\"vae.ipynb\")" if here else
                    "no notebook (.ipynb) in this folder: give its path, check(\"path/to/vae.ipynb\")")


@dataclass
class CheckView:
    """What check() returns: rendered as HTML by Jupyter, as text by a terminal."""

    path: Path
    result: GradingResult | None
    error: str = ""
    saved_at: float = 0.0

    @property
    def passed(self) -> int:
        return 0 if self.result is None else sum(c.status.value == "passed" for c in self.result.checks)

    @property
    def total(self) -> int:
        return 0 if self.result is None else len(self.result.checks)

    def _repr_html_(self) -> str:
        groups = {}
        if self.result is not None:
            groups = {c.id: formats.grouped(c.failed_checks) for c in self.result.concepts}
        return pages.environment().get_template("notebook.html").render(
            v=self, groups=groups, saved=time.strftime("%H:%M:%S", time.localtime(self.saved_at)),
            stale=self.saved_at and time.time() - self.saved_at > 120)

    def __repr__(self) -> str:
        if self.result is None:
            return f"vaegrade check {self.path.name}: {self.error}"
        return (f"vaegrade check {self.path.name}: {self.passed} of {self.total} public checks pass\n"
                + formats.to_table(self.result, verbose=True))


def check(path: str | os.PathLike | None = None, concepts=(), *, course: str | os.PathLike | None = None
          ) -> CheckView:
    """Run the public checks on the saved notebook at `path` (default: this one); a CheckView to display."""
    try:
        notebook = find_notebook(path)
        selected = check_concepts(tuple([concepts] if isinstance(concepts, str) else concepts))
        workspace = Workspace.find(course, start=notebook.resolve().parent)
        saved_at = notebook.stat().st_mtime if notebook.is_file() else 0.0
        result = grade_submission(notebook, course_key=workspace.course_key(), concepts=selected,
                                  public_only=True, zygote=_warm_sandbox())
    except (VerbError, SubmissionError, SandboxError, OSError) as exc:
        return CheckView(Path(path or "notebook"), None, str(exc))
    return CheckView(notebook, result, saved_at=saved_at)
