"""`vaegrade dev mutants`: mutation adequacy of the hidden checks.

Every mutant of a reference solution (grader.checks.mutants makes them) is graded through the
normal sandboxed path on several seeds; a mutant is killed when it loses points on every seed.
Reviewed equivalent mutants (same behaviour as the reference) are listed with a reason in
grader/checks/equivalent_mutants.toml.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from grader.checks import mutants
from grader.course.content import content_dir
from grader.grading.runner import grade_submission
from grader.sandbox.session import Zygote
from grader.verbs.grade import check_concepts
from grader.verbs.workspace import Outcome as VerbOutcome
from grader.verbs.workspace import VerbError


@dataclass
class Outcome:
    mutant: mutants.Mutant
    scores: list[float]                 #: the mutant's score on each seed
    max_score: float
    equivalent: str | None = None       #: the reviewed reason, when listed
    feedback: str = ""                  #: one failing check's feedback (first seed it lost points)

    @property
    def killed(self) -> bool:
        return all(s < self.max_score for s in self.scores)

    @property
    def verdict(self) -> str:
        if self.equivalent is not None:
            return "equivalent (but killed: stale entry)" if self.killed else "equivalent"
        return "killed" if self.killed else "survived"


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)

    def table(self) -> dict[str, dict[str, int]]:
        rows: dict[str, dict[str, int]] = {}
        for o in self.outcomes:
            for key in (o.mutant.concept, "total"):
                row = rows.setdefault(key, {"mutants": 0, "killed": 0, "survived": 0, "equivalent": 0})
                row["mutants"] += 1
                row["equivalent" if o.equivalent is not None else o.verdict] += 1
        if "total" in rows:
            rows["total"] = rows.pop("total")
        return rows

    @property
    def survivors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.verdict == "survived"]

    @property
    def stale(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.verdict.startswith("equivalent (")]


def grade_mutants(made: list[mutants.Mutant], seeds: list[int], zygote=None,
                  echo: Callable[[str], None] = lambda s: None) -> Summary:
    """Grade every mutant on every seed through the sandbox, as a submission folder holding one file."""
    equivalents = mutants.load_equivalents()
    summary = Summary()
    own = zygote is None
    zygote = zygote or Zygote()
    try:
        with tempfile.TemporaryDirectory(prefix="vaegrade-mutant-") as tmp:
            folder = Path(tmp)
            for m in made:
                (folder / m.file).write_text(m.source, encoding="utf-8")
                scores, max_score, feedback = [], 0.0, ""
                for seed in seeds:
                    result = grade_submission(folder, concepts=[m.concept], seed=seed, zygote=zygote).concepts[0]
                    scores.append(result.score)
                    max_score = result.max_score
                    if result.score < result.max_score and not feedback:
                        feedback = result.failed_checks[0].feedback
                    elif result.score >= result.max_score:
                        break       # survived one seed: no need for the others
                (folder / m.file).unlink()
                outcome = Outcome(m, scores, max_score, equivalents.get((m.concept, m.key)), feedback)
                summary.outcomes.append(outcome)
                if outcome.verdict != "killed":
                    echo(f"{outcome.verdict:<9} {m.concept}: {m.key}")
    finally:
        if own:
            zygote.close()
    return summary


def format_table(summary: Summary, seeds: list[int]) -> str:
    rows = summary.table()
    lines = [f"mutants graded on seeds {', '.join(map(str, seeds))} (killed = loses points on every seed)",
             f"{'concept':<14}{'mutants':>8}{'killed':>8}{'survived':>9}{'equivalent':>11}"]
    for concept, r in rows.items():
        lines.append(f"{concept:<14}{r['mutants']:>8}{r['killed']:>8}{r['survived']:>9}{r['equivalent']:>11}")
    return "\n".join(lines)


def grade_all(concepts: list[str] | None = None, seeds: int = 3, sample_size: int | None = None,
        solutions: Path | None = None, echo: Callable[[str], None] = lambda s: None, zygote=None) -> Summary:
    solutions = solutions or content_dir("solutions")
    made = mutants.all_mutants(solutions, concepts)
    if sample_size is not None:
        made = mutants.sample(made, sample_size)
    seed_list = list(range(1, seeds + 1))
    echo(f"{len(made)} mutants of the reference solutions in {solutions}")
    summary = grade_mutants(made, seed_list, zygote=zygote, echo=echo)
    echo(format_table(summary, seed_list))
    return summary


def main(*, concepts: tuple[str, ...] = (), seeds: int = 3, sample_size: int | None = None,
         echo: Callable[[str], None] = lambda s: None) -> VerbOutcome:
    """Exit 0 when every non-equivalent mutant is killed on every seed, 1 when one survives."""
    check_concepts(concepts)
    try:
        summary = grade_all(list(concepts) or None, seeds=seeds, sample_size=sample_size, echo=echo)
    except FileNotFoundError as exc:
        raise VerbError(f"{exc}: mutants are made from the reference solutions, in a course checkout") from None
    notes = tuple(f"stale equivalent (it is killed now; remove it): {o.mutant.concept}: {o.mutant.key}"
                  for o in summary.stale)
    return VerbOutcome("", 1 if summary.survivors else 0, notes)
