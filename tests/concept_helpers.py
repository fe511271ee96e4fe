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


# Code a submission's file runs at import (with `child`, the sandbox's harness module, in scope), rewriting
# the child's answer to several calls: forged, empty, garbled, or dripped one answer at a time.
CALLS_ANSWER_REWRITES = {
    "more answers than calls": """
        child.HANDLERS["calls"] = lambda req: ("ok", ("none",), {
            "replies": [("ok", ("float", 0.0), {})] * (len(req[1]) + 1), "outputs": [("", 0)] * (len(req[1]) + 1)})
        """,
    "no answer at all": """
        child.HANDLERS["calls"] = lambda req: ("ok", ("none",), {"replies": [], "outputs": []})
        """,
    "outputs that are not text": """
        _honest = child.HANDLERS["calls"]
        def _garble(req):
            reply = _honest(req)
            reply[2]["outputs"] = [(None, "x")] * len(reply[2]["outputs"])
            return reply
        child.HANDLERS["calls"] = _garble
        """,
    "one answer at a time": """
        _honest = child.HANDLERS["calls"]
        child.HANDLERS["calls"] = lambda req: _honest(("calls", req[1][:1]))
        """,
}
