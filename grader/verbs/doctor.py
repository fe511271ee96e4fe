"""`vaegrade doctor`: which confinement layers hold on this machine (run it on every grading worker)."""

from __future__ import annotations

from grader.sandbox import doctor
from grader.verbs.workspace import Outcome


def main() -> Outcome:
    """Exit 0 when every required layer holds, 1 when the sandbox cannot hold one (do not grade here)."""
    report = doctor.probe()
    return Outcome(report.text(), 0 if report.ok() else 1)
