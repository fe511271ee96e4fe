"""The concept manifest (grader/course/concepts.toml) loaded into typed records."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

MANIFEST_PATH = Path(__file__).with_name("concepts.toml")


@dataclass(frozen=True)
class Concept:
    """One exercise of the lesson, declared once in concepts.toml."""

    id: str                      #: short name used on the command line and in results ("kl")
    title: str                   #: what a person reads ("KL divergence to N(0, I)")
    file: str                    #: file name in exercises/, solutions/ and a submission ("kl.py")
    functions: tuple[str, ...]   #: functions the learner writes in that file
    points: float                #: points of the concept
    section: str                 #: the lesson section to reread
    hints: tuple[str, ...]       #: short hints shown when a check fails

    @property
    def module(self) -> str:
        """The checks module: grader/checks/<id>.py."""
        return f"grader.checks.{self.id}"


@lru_cache(maxsize=None)
def load(path: Path = MANIFEST_PATH) -> tuple[Concept, ...]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    default_points = float(data.get("defaults", {}).get("points", 10.0))
    return tuple(
        Concept(
            id=c["id"], title=c["title"], file=c["file"], functions=tuple(c["functions"]),
            points=float(c.get("points", default_points)), section=c["section"],
            hints=tuple(c.get("hints", ())),
        )
        for c in data["concepts"]
    )


def by_id(concept_id: str) -> Concept:
    for concept in load():
        if concept.id == concept_id:
            return concept
    known = ", ".join(c.id for c in load())
    raise KeyError(f"unknown concept {concept_id!r} (known: {known})")


@dataclass(frozen=True)
class Misconception:
    """A mistake the checks can name, declared once in concepts.toml."""

    id: str                      #: what a check reports ("sigma.variance")
    label: str                   #: a short label for staff ("exp(logvar) (the variance) instead of ...")
    section: str                 #: the lesson section to reread ("" for ids shared by several concepts)

    @property
    def concept(self) -> str | None:
        """The concept the id belongs to (its prefix), or None for an id shared by several concepts."""
        prefix = self.id.split(".", 1)[0]
        return prefix if "." in self.id and prefix in {c.id for c in load()} else None


@lru_cache(maxsize=None)
def misconceptions(path: Path = MANIFEST_PATH) -> tuple[Misconception, ...]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return tuple(Misconception(m["id"], m["label"], m.get("section", "")) for m in data.get("misconceptions", []))
