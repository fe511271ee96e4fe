"""Typed grading results, their stored form (`to_row`/`from_row`), and Gradescope's results.json.

The stored form is what the gradebook keeps (grader.store): one flat mapping of
plain SQL values per record (str, int, float, None; booleans as 0/1), so a
result read back from any engine compares equal to the one grading produced.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from grader.settings import PASS_FRACTION, passes


class Status(str, Enum):
    PASSED = "passed"
    FAILED = "failed"   #: the learner's code did not meet the check
    ERROR = "error"     #: the grader could not run the check: scores nothing, is not the learner's failure


@dataclass
class CheckResult:
    """One hidden or public check of one concept."""

    concept: str
    name: str
    function: str
    max_score: float
    score: float
    status: Status
    feedback: str = ""
    misconception: str | None = None  #: id of a recognised mistake ("sigma.variance"), for class reports
    public: bool = False
    output: str = ""                  #: what the learner's code printed during the check (cut)

    def to_dict(self) -> dict:
        return {
            "concept": self.concept, "name": self.name, "function": self.function,
            "score": self.score, "max_score": self.max_score, "status": self.status.value,
            "feedback": self.feedback, "misconception": self.misconception,
            "public": self.public, "output": self.output,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "CheckResult":
        return cls(d["concept"], d["name"], d["function"], d["max_score"], d["score"],
                   Status(d["status"]), d.get("feedback", ""), d.get("misconception"),
                   d.get("public", False), d.get("output", ""))

    def to_row(self) -> dict:
        """The stored form: one row of the gradebook's check_results."""
        return {"concept": self.concept, "name": self.name, "function": self.function,
                "max_score": self.max_score, "score": self.score, "status": self.status.value,
                "feedback": self.feedback, "misconception": self.misconception,
                "public": int(self.public), "output": self.output}

    @classmethod
    def from_row(cls, row: Mapping) -> "CheckResult":
        return cls(concept=row["concept"], name=row["name"], function=row["function"],
                   max_score=float(row["max_score"]), score=float(row["score"]), status=Status(row["status"]),
                   feedback=row["feedback"], misconception=row["misconception"], public=bool(row["public"]),
                   output=row["output"])


@dataclass
class ConceptResult:
    id: str
    title: str
    section: str
    max_score: float
    checks: list[CheckResult]
    note: str = ""  #: concept-wide message (missing file, import error, limit reached)

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.checks), 2)

    @property
    def passed(self) -> bool:
        """A concept passes when every one of its checks passes."""
        return bool(self.checks) and all(c.status is Status.PASSED for c in self.checks)

    @property
    def failed_checks(self) -> list[CheckResult]:
        return [c for c in self.checks if c.status is Status.FAILED]

    @property
    def errors(self) -> list[CheckResult]:
        """Checks the grader itself could not run."""
        return [c for c in self.checks if c.status is Status.ERROR]
    def to_row(self) -> dict:
        """The stored form without the checks (they are rows of their own)."""
        return {"concept": self.id, "title": self.title, "section": self.section,
                "max_score": self.max_score, "note": self.note}

    @classmethod
    def from_row(cls, row: Mapping, checks: list[CheckResult]) -> "ConceptResult":
        return cls(id=row["concept"], title=row["title"], section=row["section"],
                   max_score=float(row["max_score"]), checks=list(checks), note=row["note"])

    def to_dict(self) -> dict:
        return {
            "title": self.title, "section": self.section, "score": self.score,
            "max_score": self.max_score, "passed": self.passed, "note": self.note,
            "checks_passed": sum(c.status is Status.PASSED for c in self.checks),
            "checks_total": len(self.checks),
            "misconceptions": sorted({c.misconception for c in self.checks if c.misconception}),
        }


@dataclass
class GradingResult:
    """Everything one grading of one submission produced."""

    concepts: list[ConceptResult]
    seed: int
    grader_version: str
    submission: str
    duration: float = 0.0
    pass_fraction: float = PASS_FRACTION
    public_only: bool = False
    extra: dict = field(default_factory=dict)
    content_hash: str = ""          #: sha256 of the graded files (grader.grading.intake.content_hash)
    seed_source: str = "random"     #: how the seed was chosen: "given", "course-key" or "random"

    @property
    def score(self) -> float:
        return round(sum(c.score for c in self.concepts), 2)

    @property
    def max_score(self) -> float:
        return round(sum(c.max_score for c in self.concepts), 2)

    @property
    def passed(self) -> bool:
        return passes(self.score, self.max_score, self.pass_fraction)

    @property
    def checks(self) -> list[CheckResult]:
        return [c for concept in self.concepts for c in concept.checks]

    @property
    def errors(self) -> list[CheckResult]:
        """Checks the grader could not run: while any remain, the submission is not graded."""
        return [c for c in self.checks if c.status is Status.ERROR]

    @property
    def graded(self) -> bool:
        return not self.errors

    def to_row(self) -> dict:
        """The stored form of the attempt itself (concepts and checks are rows of their own).

        score, max_score and passed are derived, and stored so that queries can use them.
        """
        return {"seed": self.seed, "grader_version": self.grader_version, "submission": self.submission,
                "duration": self.duration, "pass_fraction": self.pass_fraction,
                "public_only": int(self.public_only),
                "extra_json": json.dumps({**self.extra, "seed_source": self.seed_source}, sort_keys=True),
                "content_hash": self.content_hash,
                "score": self.score, "max_score": self.max_score, "passed": int(self.passed)}

    @classmethod
    def from_row(cls, row: Mapping, concepts: list[ConceptResult]) -> "GradingResult":
        extra = json.loads(row["extra_json"] or "{}")
        if not isinstance(extra, dict):
            raise ValueError("extra_json is not an object")
        seed_source = str(extra.pop("seed_source", "random"))
        return cls(concepts=list(concepts), seed=row["seed"], grader_version=row["grader_version"],
                   submission=row["submission"], duration=float(row["duration"]),
                   pass_fraction=float(row["pass_fraction"]), public_only=bool(row["public_only"]), extra=extra,
                   content_hash=row["content_hash"] or "", seed_source=seed_source)

    @classmethod
    def from_results_json(cls, data: dict) -> "GradingResult":
        """A results.json this grader wrote (`vaegrade grade --format json`), back as a typed result.

        The inverse of to_gradescope_dict for what a report needs: each concept with its checks
        (name, points, status, feedback, misconception id). ValueError when it is not such a file.
        """
        if not isinstance(data, dict) or not isinstance(data.get("concepts"), dict):
            raise ValueError("not a vae-grader results.json (it needs `concepts`)")
        extra = data.get("extra_data") if isinstance(data.get("extra_data"), dict) else {}
        checks: dict[str, list[CheckResult]] = {}
        for test in data.get("tests") or []:
            if not isinstance(test, dict):
                continue
            tags = [str(t) for t in test.get("tags") or []]
            name = str(test.get("name", ""))
            concept = tags[0] if tags else name.split(":", 1)[0]
            feedback, _, printed = str(test.get("output", "")).partition("\n\nYour code printed:\n")
            status = Status.PASSED if test.get("status") == "passed" else Status.FAILED
            checks.setdefault(concept, []).append(CheckResult(
                concept, name.split(": ", 1)[1] if name.startswith(concept + ": ") else name,
                str(test.get("function", "")), float(test.get("max_score", 0) or 0), float(test.get("score", 0) or 0),
                status, feedback, tags[1] if len(tags) > 1 else None, test.get("visibility") == "visible", printed))
        concepts = []
        for cid, c in data["concepts"].items():
            c = c if isinstance(c, dict) else {}
            concepts.append(ConceptResult(str(cid), str(c.get("title", cid)), str(c.get("section", "")),
                                          float(c.get("max_score", 0) or 0), checks.get(str(cid), []),
                                          str(c.get("note", "") or "")))
        return cls(concepts, int(extra.get("seed", 0) or 0), str(extra.get("grader_version", "")),
                   str(extra.get("submission", "")), float(data.get("execution_time", 0) or 0),
                   float(extra.get("pass_fraction", PASS_FRACTION)), bool(extra.get("public_only", False)),
                   content_hash=str(extra.get("content_hash", "")), seed_source=str(extra.get("seed_source", "")))

    def to_gradescope_dict(self) -> dict:
        """Gradescope's results.json (top level and `tests`), plus our `concepts`."""
        verdict = "passed" if self.passed else "not passed"
        return {
            "score": self.score,
            "max_score": self.max_score,
            "passed": self.passed,
            "output": (f"{self.score:g} / {self.max_score:g} points: {verdict} "
                       f"(a pass needs more than {self.pass_fraction:.0%})."),
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "execution_time": round(self.duration, 3),
            "tests": [
                {
                    "name": f"{c.concept}: {c.name}",
                    "number": f"{i + 1}",
                    "score": c.score,
                    "max_score": c.max_score,
                    "status": "passed" if c.status is Status.PASSED else "failed",
                    "output": c.feedback + (f"\n\nYour code printed:\n{c.output}" if c.output else ""),
                    "visibility": "visible" if c.public else "after_published",
                    "tags": [c.concept] + ([c.misconception] if c.misconception else []),
                }
                for i, c in enumerate(self.checks)
            ],
            "concepts": {c.id: c.to_dict() for c in self.concepts},
            "extra_data": {
                "seed": self.seed, "grader_version": self.grader_version,
                "submission": self.submission, "pass_fraction": self.pass_fraction,
                "public_only": self.public_only, "seed_source": self.seed_source,
                "content_hash": self.content_hash,
                "not_graded": [f"{c.concept}: {c.name}" for c in self.errors], **self.extra,
            },
        }


# --- what the gradebook gives back --------------------------------------------------------------


@dataclass(frozen=True)
class AttemptRecord:
    """One recorded attempt; `result` is the typed record (None when not asked for, or unreadable)."""

    id: str                   #: a UUID
    learner: str
    kind: str                 #: "exercises" or "quiz"
    graded_at: str            #: ISO 8601, UTC
    grader_version: str
    content_hash: str | None
    score: float
    max_score: float
    passed: bool
    seed: int | None = None   #: exercises: reproduces the random inputs
    result: object = None     #: the typed record: a GradingResult, or a grader.grading.quiz.QuizResult


class Problem(NamedTuple):
    """A submission that could not be graded, and why."""

    learner: str
    at: str
    reason: str
