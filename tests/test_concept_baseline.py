"""Every concept: the reference solution earns full marks on several seeds, the stub earns nothing."""

from __future__ import annotations

import pytest
from concept_helpers import ROOT, concept_graders

from grader.course import manifest


@pytest.mark.parametrize("concept_id", [c.id for c in manifest.load()])
def test_reference_solution_scores_full_marks(zygote, concept_id):
    grade, _ = concept_graders(concept_id)
    for seed in (1, 2, 3):
        result = grade(ROOT / "solutions", zygote, seed)
        assert result.score == result.max_score, [c.feedback for c in result.failed_checks]
    assert len(result.checks) >= 10


@pytest.mark.parametrize("concept_id", [c.id for c in manifest.load()])
def test_stub_scores_zero(zygote, concept_id):
    grade, _ = concept_graders(concept_id)
    result = grade(ROOT / "exercises", zygote)
    assert result.score == 0
    assert all("NotImplementedError" in c.feedback for c in result.checks)
    # the stub is told apart by its id, so the class report counts it without reading feedback
    stubbed = [c for c in result.checks if "is not implemented yet" in c.feedback]
    assert stubbed and {c.misconception for c in stubbed} == {"code.not_implemented"}
