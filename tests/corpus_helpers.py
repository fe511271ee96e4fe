"""The wrong-implementation corpus (tests/corpus/<concept>/<case>.py): each file's first line says
what grading it must give, `# expect: <misconception id>` (it loses points on every seed and some
failing check names that id) or `# expect: correct` (full marks on every seed)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from grader.grading.runner import grade_submission
from grader.course import manifest

CORPUS = Path(__file__).resolve().parent / "corpus"
SEEDS = (1, 2, 3)
GENERIC = ("does not match the right value", "which is not the right answer", "does not list the right",
           "does not pick the nearest code", "which is not the latent grid", "which is not pixel positions")


@dataclass(frozen=True)
class Case:
    concept: str
    name: str
    path: Path
    expect: str            #: a misconception id, or "correct"

    @property
    def id(self) -> str:
        return f"{self.concept}/{self.name}"


def cases() -> list[Case]:
    out = []
    for path in sorted(CORPUS.glob("*/*.py")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        m = re.fullmatch(r"# expect: (\S+)", first.strip())
        if not m:
            raise ValueError(f"{path}: the first line must be '# expect: <misconception id or correct>'")
        out.append(Case(path.parent.name, path.stem, path, m.group(1)))
    return out


def grade_case(case: Case, tmp: Path, zygote, seed: int):
    """The concept result of grading the case's file as a submission folder."""
    folder = tmp / f"{case.concept}-{case.name}-{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(case.path, folder / manifest.by_id(case.concept).file)
    return grade_submission(folder, concepts=[case.concept], seed=seed, zygote=zygote).concepts[0]


def is_generic(result) -> bool:
    """True when no failing check names a mistake: only 'does not match'-style feedback or a bare exception."""
    return not any(c.misconception and not c.misconception.startswith(("code.", "grader.", "limit"))
                   for c in result.failed_checks)
