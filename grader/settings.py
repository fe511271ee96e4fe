"""Every default, cap, threshold and file name the grader has, written once.

Course content (concepts, points, misconceptions, the quiz) lives in the manifest
(grader/course/concepts.toml) and the quiz data; everything else that more than
one module needs to agree on lives here.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# --- grading ---------------------------------------------------------------------------
PASS_FRACTION = 0.75          # "score above 75%": strictly above, for exercises and quiz alike
RELATIVE_TOLERANCE = 1e-4     # what a float32 computation meets (SPEC "Details the checks rely on")
ABSOLUTE_TOLERANCE = 1e-6
FLOAT32_ROUNDING = 1e-6      # a few float32 roundings (eps 1.2e-7), relative to the scale they happen at
POINT_DECIMALS = 4            # per-check points are rounded to this many decimals, then made to sum exactly
SIMILAR_MIN_NODES = 80        # similarity: shared code shorter than this (AST nodes, normalised) coincides by chance

# --- files and folders -----------------------------------------------------------------
COURSE_MARKER = "vaegrade.toml"           #: marks a course's root folder (found like git finds .git)
STATE_DIR = ".vaegrade"                   #: per-course state: the learner's gradebook, quiz progress, course key
GRADEBOOK_FILE = "gradebook.sqlite"       #: the gradebook's name, in STATE_DIR or in a batch's output folder
COURSE_KEY_FILE = "course.key"            #: the secret that makes grading inputs unknowable in advance
QUIZ_PROGRESS_FILE = "quiz-progress.json" #: an interrupted quiz session, in STATE_DIR
ANSWERS_FILE = "quiz_answers.json"        #: the quiz answers file a learner hands in beside the exercises
ANSWERS_SUFFIXES = (".json", ".toml", ".txt")  #: every answers format `quiz`, `batch` and `ci` accept
ANSWERS_STEM = "quiz_answers"

# --- caps on what a submission may hand in ---------------------------------------------
MAX_SOURCE_BYTES = 1024 * 1024            #: a larger .py file (or notebook) is not graded
MAX_SUBMISSION_BYTES = 20 * 1024 * 1024   #: uncompressed bytes one submission may hold
MAX_SUBMISSION_ENTRIES = 200              #: files and folders one submission may hold
MAX_ANSWERS_BYTES = 1_000_000             #: an answers file or quiz data file larger than this is refused
MAX_TRANSCRIPT_BYTES = 64 * 1024 * 1024   #: calls and answers of one concept kept to confirm it in a fresh child

# --- the environment ---------------------------------------------------------------------
TORCH_PIN = "torch==2.13.0"               #: the CPU build installed first everywhere (bundles, workflow, CI)


@dataclass(frozen=True)
class Limits:
    """Limits on one submission's sandboxed code."""

    concept_seconds: float = 20.0  # wall time for all the checks of one concept
    memory_mb: int = 1024          # address space a child may add to the warm parent's
    cpu_seconds: int = 120         # CPU backstop for one child
    output_chars: int = 2000       # captured stdout/stderr kept per call


def passes(score: float, max_score: float, fraction: float = PASS_FRACTION) -> bool:
    """True when score is strictly above `fraction` of max_score (exactly 75% does not pass)."""
    return max_score > 0 and score > fraction * max_score + 1e-9


def state_path(root: Path | None, name: str) -> Path:
    """A state file of the course at `root` (the working folder when there is no course)."""
    return (root if root is not None else Path(".")) / STATE_DIR / name


def default_learner() -> str:
    """Who is working here: $VAEGRADE_LEARNER, else `git config user.email`, else the OS user name."""
    env = os.environ.get("VAEGRADE_LEARNER", "").strip()
    if env:
        return env
    if shutil.which("git"):
        try:
            email = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True,
                                   timeout=5).stdout.strip()
            if email:
                return email
        except (OSError, subprocess.SubprocessError):
            pass
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (containers)
        return "learner"
