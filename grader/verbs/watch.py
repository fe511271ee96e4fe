"""`vaegrade watch`: the public checks of a concept rerun each time its file is saved.

One warm sandbox (Zygote) serves the whole session, so an answer comes a fraction of a
second after a save. Files are watched with `watchfiles` (Rust's notify underneath); the
screen says what changed since the last run and the next thing to fix. Ctrl-C leaves cleanly.
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

from grader.course import manifest
from grader.grading.results import GradingResult, Status
from grader.grading.runner import SandboxError, SubmissionError, grade_submission
from grader.outputs import text as formats
from grader.sandbox.session import Zygote
from grader.verbs.grade import check_concepts
from grader.verbs.workspace import Outcome, VerbError, Workspace

INSTALL_HINT = ("vaegrade watch needs the watchfiles package, a dependency of vae-grader that is missing here: "
                "pip install watchfiles")


class Session:
    """What the learner has seen so far: every public check's status by (concept, check name)."""

    def __init__(self, target: Path, concepts: list[str], course_key: bytes | None, zygote: Zygote):
        self.target, self.concepts, self.course_key, self.zygote = target, concepts, course_key, zygote
        self.seen: dict[tuple[str, str], Status] = {}
        self.results: dict[str, object] = {}   # concept id -> its latest ConceptResult

    def run(self, concepts: list[str]) -> tuple[GradingResult, list, list]:
        """Grade `concepts` with the public checks; (result, newly passing, newly failing) since last run."""
        result = grade_submission(self.target, course_key=self.course_key, concepts=concepts, public_only=True,
                                  zygote=self.zygote)
        now_passing, now_failing = [], []
        for concept in result.concepts:
            self.results[concept.id] = concept
            for check in concept.checks:
                key = (concept.id, check.name)
                before = self.seen.get(key)
                if before is not None and before is not check.status:
                    (now_passing if check.status is Status.PASSED else now_failing).append(check)
                self.seen[key] = check.status
        return result, now_passing, now_failing

    def ordered(self) -> list:
        return [self.results[c] for c in self.concepts if c in self.results]


def concepts_for(changed: set[Path], target: Path, concepts: list[str]) -> list[str]:
    """The watched concepts a set of saved files touches (a notebook touches them all)."""
    if target.is_file():
        return list(concepts) if any(p.name == target.name for p in changed) else []
    files = {manifest.by_id(c).file: c for c in concepts}
    return [files[p.name] for p in sorted(changed) if p.parent.resolve() == target.resolve() and p.name in files]


def main(*, workspace: Workspace, concepts: tuple[str, ...] = (), folder: Path | None = None, echo=print,
         clear=None, stop_event=None, debounce_ms: int = 50) -> Outcome:
    """Watch the exercises (or `folder`, or a notebook) and rerun the public checks on each save.

    `clear` is called before each screen (the CLI clears a terminal; tests and pipes keep
    the history). Returns when interrupted (Ctrl-C, exit status 0) or when `stop_event` is set.
    """
    try:
        import watchfiles
    except ImportError:
        raise VerbError(INSTALL_HINT) from None
    selected = check_concepts(concepts) or [c.id for c in manifest.load()]
    target = Path(folder) if folder is not None else workspace.exercises("watch")
    if not target.exists():
        raise VerbError(f"{target} does not exist: nothing to watch")
    if target.is_file() and target.suffix.lower() != ".ipynb":
        raise VerbError(f"{target} is neither a folder nor a Jupyter notebook (.ipynb)")
    try:
        zygote = Zygote()
    except SandboxError as exc:
        raise VerbError(str(exc)) from None
    session = Session(target, selected, workspace.course_key(), zygote)
    # a notebook's folder, not the file: editors save by writing a new file and renaming it
    watched = (target.parent if target.is_file() else target).resolve()

    def show(reason: str, concepts_now: list[str]) -> None:
        started = time.monotonic()
        try:
            result, passing, failing = session.run(concepts_now)
        except (SubmissionError, SandboxError) as exc:
            echo(f"{reason}: could not run the checks: {exc}")
            return
        if clear is not None:
            clear()
        elif reason != "first run":
            echo("")   # a pipe or a log keeps every screen: a blank line between them
        echo(formats.watch_screen(session.ordered(), reason=reason, passing=passing, failing=failing,
                                  seconds=time.monotonic() - started, target=target,
                                  notes=result.extra.get("notes", []), last=concepts_now))

    # The watcher runs on its own thread, started before the first run, so a save made while the
    # first screen is being drawn is not missed; the main thread waits on the queue (Ctrl-C works).
    saves: queue.Queue = queue.Queue()
    stop = stop_event or threading.Event()
    ready = threading.Event()

    def watcher() -> None:
        try:
            for changes in watchfiles.watch(watched, debounce=1600, step=debounce_ms, stop_event=stop,
                                            rust_timeout=200, yield_on_timeout=True, raise_interrupt=False,
                                            recursive=False, watch_filter=lambda change, path:
                                            not Path(path).name.startswith(".")):
                ready.set()
                if changes:
                    saves.put({Path(path) for _, path in changes})
        except Exception as exc:  # the folder vanished, too many watches: said on screen, not a traceback
            saves.put(exc)
        finally:
            ready.set()
            saves.put(None)

    thread = threading.Thread(target=watcher, name="vaegrade-watch", daemon=True)
    thread.start()
    try:
        ready.wait(10)
        show("first run", selected)
        while not stop.is_set():
            try:
                saved = saves.get(timeout=0.5)
            except queue.Empty:
                continue
            if saved is None:
                break
            if isinstance(saved, Exception):
                raise VerbError(f"stopped watching {watched}: {saved}")
            while not saves.empty():   # saves queued while the last run went: one run for them all
                more = saves.get_nowait()
                if more is None or isinstance(more, Exception):
                    saves.put(more)
                    break
                saved |= more
            touched = concepts_for(saved, target, selected)
            if touched:
                files = sorted({p for p in saved if p.suffix in (".py", ".ipynb")}, key=lambda p: p.name)
                show(", ".join(f"{p.name} {'saved' if p.exists() else 'deleted'}" for p in files), touched)
    except KeyboardInterrupt:
        return Outcome("\nStopped watching.", 0)
    finally:
        stop.set()
        thread.join(timeout=5)
        zygote.close()
    return Outcome("Stopped watching.", 0)
