"""Grading one concept of a folder, or of a source string, for the concept test modules."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

from grader.course import manifest
from grader.grading.runner import grade_submission

ROOT = Path(__file__).resolve().parent.parent


def reference_with(tmp_path: Path, **replaced: str) -> Path:
    """A copy of the reference solutions in tmp_path/sub, with some files (by concept file stem)
    replaced by the given sources."""
    folder = tmp_path / "sub"
    shutil.copytree(ROOT / "solutions", folder)
    for name, source in replaced.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(source))
    return folder


def concept_graders(concept_id: str):
    """(grade(folder, zygote, seed), grade_source(tmp_path, zygote, source, seed)) for one concept."""
    file = manifest.by_id(concept_id).file

    def grade(folder, zygote, seed=11):
        return grade_submission(folder, concepts=[concept_id], seed=seed, zygote=zygote).concepts[0]

    def grade_source(tmp_path, zygote, source: str, seed=11):
        (tmp_path / file).write_text(textwrap.dedent(source))
        return grade(tmp_path, zygote, seed)

    return grade, grade_source


def assert_loses_points_and_names(result, misconception: str, text: str) -> None:
    """The concept lost points, and a failing check names `misconception` with `text` in its feedback."""
    assert result.score < result.max_score
    named = [c for c in result.failed_checks if c.misconception == misconception]
    assert named, [(c.misconception, c.feedback) for c in result.failed_checks]
    assert any(text in c.feedback for c in named), [c.feedback for c in named]
