"""The wrong-implementation corpus (tests/corpus/<concept>/<case>.py, first line `# expect: <id>`):
every wrong case loses points on each of three seeds and a failing check names its misconception;
every correct-style case (loops, torch instead of numpy, np.float64) keeps full marks. The share of
wrong cases whose feedback names no mistake at all stays under 10%."""

from __future__ import annotations

from pathlib import Path

import pytest
from corpus_helpers import GENERIC, SEEDS, cases, grade_case, is_generic

from grader.course import manifest

CASES = cases()
WRONG = [c for c in CASES if c.expect != "correct"]
CORRECT = [c for c in CASES if c.expect == "correct"]


def test_the_corpus_is_large_and_covers_every_concept():
    assert len(WRONG) >= 120
    assert {c.concept for c in WRONG} == {c.id for c in manifest.load()}
    assert {c.concept for c in CORRECT} == {c.id for c in manifest.load()}


@pytest.mark.parametrize("case", WRONG, ids=[c.id for c in WRONG])
def test_wrong_case_loses_points_on_every_seed_and_is_named(tmp_path, zygote, case):
    for seed in SEEDS:
        result = grade_case(case, tmp_path, zygote, seed)
        assert result.score < result.max_score, f"seed {seed}: full marks"
        named = [c.misconception for c in result.failed_checks]
        assert case.expect in named, (seed, [(c.misconception, c.feedback[:200]) for c in result.failed_checks])


@pytest.mark.parametrize("case", CORRECT, ids=[c.id for c in CORRECT])
def test_correct_style_keeps_full_marks_on_every_seed(tmp_path, zygote, case):
    for seed in SEEDS:
        result = grade_case(case, tmp_path, zygote, seed)
        assert result.score == result.max_score, (seed, [c.feedback for c in result.failed_checks])


def test_generic_feedback_is_rare(tmp_path, zygote):
    results = {c.id: grade_case(c, tmp_path, zygote, SEEDS[0]) for c in WRONG}
    # No wrong case goes without a named mistake, and few carry even one generic "does not match".
    assert [cid for cid, r in results.items() if is_generic(r)] == []
    some_generic = [cid for cid, r in results.items()
                    if any(phrase in c.feedback for c in r.failed_checks for phrase in GENERIC)]
    assert len(some_generic) < 0.10 * len(WRONG), some_generic


#: Raised by the trusted side's own cross-check of reported gradients: only a rewritten harness
#: (an attack, tests/test_attacks.py) reaches it, since a check that compares gradients with the
#: analytic ones names an honest slip first.
CROSS_CHECK_ONLY = {"torch.gradient_mismatch"}


def test_every_declared_misconception_is_the_diagnosis_of_some_corpus_case():
    expected = {c.expect for c in WRONG}
    declared = {m.id for m in manifest.misconceptions()}
    assert declared - expected == CROSS_CHECK_ONLY, "declared but never triggered by a corpus case"
    attacks = (Path(__file__).with_name("test_attacks.py")).read_text()
    assert all(f'"{mid}"' in attacks for mid in CROSS_CHECK_ONLY)
    assert expected - declared == set(), "corpus expects an id that concepts.toml does not declare"
