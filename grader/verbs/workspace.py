"""Where a command runs: the course it is in (found like git finds a repository), and its state.

Every verb takes a `Workspace`; the CLI builds one from `--course` / `VAEGRADE_COURSE` and
the working folder and hands it to the command on `ctx.obj`.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from grader.settings import COURSE_KEY_FILE, COURSE_MARKER, GRADEBOOK_FILE, STATE_DIR, default_learner


class VerbError(Exception):
    """A command cannot do what was asked (bad arguments, unreadable input): exit status 2."""


@dataclass(frozen=True)
class Outcome:
    """What a command produced: text for standard output, notes for standard error, its exit status."""

    text: str
    exit_code: int
    notes: tuple[str, ...] = ()


def find_course(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding the course marker (vaegrade.toml)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / COURSE_MARKER).is_file():
            return folder
    return None


@dataclass(frozen=True)
class Workspace:
    course: Path | None   #: the course's root folder, or None when the command runs outside any course

    @classmethod
    def find(cls, override: str | os.PathLike | None = None, start: Path | None = None) -> "Workspace":
        if override:
            root = Path(override)
            if not (root / COURSE_MARKER).is_file():
                raise VerbError(f"{root} is not a vae-grader course (no {COURSE_MARKER} in it)")
            return cls(root.resolve())
        return cls(find_course(start or Path.cwd()))

    def require_course(self, what: str) -> Path:
        if self.course is None:
            raise VerbError(f"not inside a vae-grader course (no {COURSE_MARKER} here or in any folder above): "
                            f"cd into your course folder, give --course DIR, or name the folder to {what}")
        return self.course

    def exercises(self, what: str = "grade") -> Path:
        """The learner's exercises folder: the course's exercises/, wherever in the course we are."""
        return self.require_course(what) / "exercises"

    def state(self, name: str) -> Path:
        return (self.course if self.course is not None else Path(".")) / STATE_DIR / name

    def gradebook(self, explicit: str | os.PathLike | None = None) -> Path | str:
        """The gradebook given (a file, or a postgresql:// URL kept as a string), else the course's own."""
        if explicit:
            return explicit if str(explicit).startswith(("postgresql://", "postgres://")) else Path(explicit)
        return self.state(GRADEBOOK_FILE)

    @staticmethod
    def learner(explicit: str | None = None) -> str:
        return explicit or default_learner()

    def course_key(self) -> bytes | None:
        """The secret that, with a submission's content hash, fixes its grading inputs.

        $VAEGRADE_COURSE_KEY (staff and CI keep it as a secret), else the course's own key file,
        made on first use. None outside a course: the inputs are then drawn at random.
        """
        env = os.environ.get("VAEGRADE_COURSE_KEY", "").strip()
        if env:
            return env.encode()
        if self.course is None:
            return None
        path = self.state(COURSE_KEY_FILE)
        try:
            key = path.read_bytes().strip()
            if key:
                return key
        except FileNotFoundError:
            pass
        except OSError:
            return None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_bytes().strip() or None
        except OSError:
            return None  # a read-only course: grade with random inputs rather than not at all
        key = secrets.token_hex(32).encode()
        with os.fdopen(fd, "wb") as f:
            f.write(key)
        return key
