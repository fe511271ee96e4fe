"""How feedback is worded across a concept: one explanation per slip (with a count), two slips that
coincide said both and named neither, NaN advice about logvar only where a logvar exists."""

from __future__ import annotations

import numpy as np
import pytest
from concept_helpers import concept_graders

from grader.checks import Either, Fail, REPEAT_PREFIX, expect_close, fold_repeats


def test_a_slip_reported_by_several_checks_is_explained_once_with_a_count(tmp_path, zygote):
    _, grade_source = concept_graders("sigma")
    result = grade_source(tmp_path, zygote, """
        import numpy as np
        def logvar_to_sigma(logvar):
            return np.exp(np.asarray(logvar, dtype=float))
        """)
    named = [c for c in result.failed_checks if c.misconception == "sigma.variance"]
    assert len(named) >= 3
    full = [c for c in named if "the variance σ²" in c.feedback]
    assert len(full) == 1 and f"fails {len(named)} checks" in full[0].feedback
    assert all(REPEAT_PREFIX in c.feedback for c in named if c is not full[0])


def test_fold_repeats_leaves_code_problems_and_distinct_slips_alone():
    failed = [("a", "f(1) is off. Slip X.", "m.x"), ("b", "f(2) is off. Slip X.", "m.x"),
              ("c", "f raised ValueError", "code.exception"), ("d", "f raised ValueError", "code.exception"),
              ("e", "f(3) is off. Slip Y.", "m.y")]
    out = fold_repeats(failed)
    assert out[0] == "f(1) is off. Slip X. (This same slip fails 2 checks of this concept.)"
    assert out[1] == f"f(2) is off: {REPEAT_PREFIX} “a” (above)."
    assert out[2:] == ["f raised ValueError", "f raised ValueError", "f(3) is off. Slip Y."]


def test_two_slips_that_coincide_are_both_said_and_neither_named():
    with pytest.raises(Fail) as caught:
        expect_close(0.5, 0.25, "f(x)", mistakes={"m.a": (0.5, "Slip A."), "m.b": (Either(0.7, 0.5), "Slip B."),
                                                  "m.c": (0.9, "Slip C.")})
    assert caught.value.misconception is None
    assert "Slip A." in caught.value.message and "Slip B." in caught.value.message
    assert "Slip C." not in caught.value.message


def test_a_slip_that_gives_the_right_value_here_is_not_a_candidate():
    with pytest.raises(Fail) as caught:
        expect_close(0.5, 0.25, "f(x)", mistakes={"m.a": (0.5, "Slip A."), "m.same": (0.25, "Slip S.")})
    assert caught.value.misconception == "m.a"


def test_nan_advice_mentions_logvar_only_for_concepts_with_one():
    for logvar in (False, True):
        with pytest.raises(Fail) as caught:
            expect_close(np.array([np.nan]), np.array([1.0]), "f(x)", logvar=logvar)
        assert caught.value.misconception == "numeric.nonfinite"
        assert ("logvar" in caught.value.message) is logvar
        assert "overflows" not in caught.value.message   # exp(50) fits in float32: never claim it overflows
