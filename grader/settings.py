"""Every default the grader has, written once."""

from __future__ import annotations

from dataclasses import dataclass

PASS_FRACTION = 0.75          # "score above 75%": strictly above, for exercises and quiz alike
DEFAULT_POINTS = None         # points come from grader/course/concepts.toml [defaults]
RELATIVE_TOLERANCE = 1e-4     # what a float32 computation meets (SPEC "Details the checks rely on")
ABSOLUTE_TOLERANCE = 1e-6


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
