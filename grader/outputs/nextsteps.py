"""What to fix next: one ordering and one command per concept, shared by `grade`, `status` and the report.

Every concept not yet at full points is listed, the one losing the most points first (the
manifest's order breaks ties). A concept whose failures name a recognised mistake gets the
command that shows those mistakes (`vaegrade grade -v --concept ID`); an untouched stub
gets the quick public checks (`vaegrade check ID`), since its worked examples are where to start.
"""

from __future__ import annotations

from dataclasses import dataclass

#: misconception ids that are about code that did not run, not about the lesson
_CODE_PREFIXES = ("code.", "limit", "grader.")
NOT_IMPLEMENTED = "code.not_implemented"   #: the id of a stub's NotImplementedError


@dataclass(frozen=True)
class Standing:
    """Where one concept stands, as the next-steps advice needs it."""

    id: str
    title: str
    section: str
    score: float | None            #: None: not graded yet
    max_score: float
    mistakes: tuple[str, ...] = ()  #: the tutor's words for each recognised mistake, first seen first
    unstarted: tuple[str, ...] = ()  #: functions whose every failure is the stub's NotImplementedError

    @property
    def stub(self) -> bool:
        """Nothing written yet: no points, and every failure is an untouched stub."""
        return bool(self.unstarted) and not self.score and not self.mistakes

    @property
    def lost(self) -> float:
        return round(self.max_score - (self.score or 0.0), 4)

    @property
    def full(self) -> bool:
        return self.score is not None and self.lost <= 1e-9

    @property
    def command(self) -> str:
        """The command that shows what to fix in this concept."""
        if self.stub or self.score is None:
            return f"vaegrade check {self.id}"
        return f"vaegrade grade -v --concept {self.id}"

    def advice(self) -> str:
        """One sentence: where the concept stands and the mistake to fix first."""
        if self.score is None:
            return f"{self.title}: not graded yet."
        head = f"{self.title} ({self.score:g} / {self.max_score:g})"
        if self.stub:
            verb = "raises" if len(self.unstarted) == 1 else "raise"
            return f"{head}: not started yet ({and_list(self.unstarted)} still {verb} NotImplementedError)."
        if self.mistakes:
            more = len(self.mistakes) - 1
            extra = f" (and {more} other recognised mistake{'s' if more > 1 else ''})" if more > 0 else ""
            return f"{head}: {self.mistakes[0]}{extra}"
        if self.unstarted:
            return f"{head}: {and_list(self.unstarted)} not implemented yet."
        return f"{head}: some checks fail; reread “{self.section}”." if self.section else f"{head}: some checks fail."


def and_list(names) -> str:
    """'a', 'a and b', 'a, b and c'."""
    names = list(names)
    return ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)


def to_fix(standings) -> list[Standing]:
    """Every concept not at full points, most points lost first (stable: the manifest's order breaks ties)."""
    return sorted((s for s in standings if not s.full), key=lambda s: -s.lost)


def is_lesson_mistake(misconception: str | None) -> bool:
    """A recognised mistake about the lesson (not a crash, a stub or a limit)."""
    return bool(misconception) and not misconception.startswith(_CODE_PREFIXES) and misconception != "limit"


def mistake_sentence(feedback: str) -> str:
    """The sentence of a feedback that names the mistake ("<what> is off. <the mistake>" -> the mistake)."""
    _, sep, rest = feedback.partition(" is off. ")
    text = (rest if sep else feedback).split("\n", 1)[0].strip()
    return text if len(text) <= 240 else text[:237].rstrip() + "…"


def from_result(concept) -> Standing:
    """The Standing of a graded concept (grader.grading.results.ConceptResult)."""
    failed = [c for c in concept.checks if c.status.value == "failed"]
    mistakes: list[str] = []
    for c in failed:
        if is_lesson_mistake(c.misconception):
            sentence = mistake_sentence(c.feedback)
            if sentence and sentence not in mistakes:
                mistakes.append(sentence)
    return Standing(concept.id, concept.title, concept.section, concept.score, concept.max_score,
                    tuple(mistakes), unstarted(failed))


def unstarted(failed) -> tuple[str, ...]:
    """The functions whose every failed check is the stub's NotImplementedError, in first-seen order."""
    by_function: dict[str, list[str | None]] = {}
    for c in failed:
        by_function.setdefault(c.function or c.name, []).append(c.misconception)
    return tuple(f for f, ids in by_function.items() if all(i == NOT_IMPLEMENTED for i in ids))


def standings(result, concepts) -> list[Standing]:
    """The Standing of each manifest concept in a typed result (None: nothing graded yet)."""
    graded = {c.id: c for c in result.concepts} if result is not None else {}
    return [from_result(graded[c.id]) if c.id in graded else Standing(c.id, c.title, c.section, None, c.points)
            for c in concepts]
