"""The latent_budget checks: the reference earns full marks, the stub nothing, each slip loses points
and is named, and correct code in other styles earns full marks."""

from __future__ import annotations

from pathlib import Path

import pytest
from concept_helpers import assert_loses_points_and_names, concept_graders

from grader.grading.runner import grade_submission

ROOT = Path(__file__).resolve().parent.parent
CONCEPT, FILE = "latent_budget", "latent_budget.py"


grade, grade_source = concept_graders(CONCEPT)


# A correct pair of functions in which one expression at a time is replaced by a slip.
TEMPLATE = """
def _validate(height, width, downsample):
    {validate}

def latent_grid(height, width, downsample):
    _validate(height, width, downsample)
    return {grid}

def spatial_reduction(height, width, downsample):
    _validate(height, width, downsample)
    latent_height, latent_width = height // downsample, width // downsample
    return {reduction}
"""
RIGHT = {
    "validate": ("if min(height, width, downsample) <= 0 or height % downsample or width % downsample:\n"
                 "        raise ValueError('sizes must be positive multiples of downsample')"),
    "grid": "(height // downsample, width // downsample)",
    "reduction": "(height * width) // (latent_height * latent_width)",
}
NO_DIVISIBILITY = ("if min(height, width, downsample) <= 0:\n"
                   "        raise ValueError('sizes must be positive')")


ONLY_DOWNSAMPLE = ("if downsample <= 0 or height % downsample or width % downsample:\n"
                   "        raise ValueError('bad downsample')")


def source_with(**slips) -> str:
    return TEMPLATE.format(**{**RIGHT, **slips})


WRONG = {
    "one_axis_reduction": (source_with(reduction="downsample"), "latent_budget.one_axis", "downsample²"),
    "one_axis_grid": (source_with(grid="(height // downsample, width)"), "latent_budget.one_axis",
                      "each spatial axis"),
    "swapped_axes": (source_with(grid="(width // downsample, height // downsample)"),
                     "latent_budget.swapped_axes", "swapped"),
    "rounds_instead_of_raising": (source_with(validate=NO_DIVISIBILITY,
                                              grid="(round(height / downsample), round(width / downsample))"),
                                  "latent_budget.rounds_instead_of_raising", "instead of raising ValueError"),
    "floors_instead_of_raising": (source_with(validate=NO_DIVISIBILITY),
                                  "latent_budget.rounds_instead_of_raising", "silently drops pixels"),
    "float_division": (source_with(grid="(height / downsample, width / downsample)",
                                   reduction="(height * width) / (latent_height * latent_width)"),
                       "latent_budget.float_division", "integer division //"),
    "sizes_not_validated": (source_with(validate=ONLY_DOWNSAMPLE), "latent_budget.no_validation",
                            "must be positive"),
    "zero_division": (source_with(validate=("if height % downsample or width % downsample:\n"
                                            "        raise ValueError('not divisible')")),
                      "latent_budget.zero_division", "ZeroDivisionError"),
    "latent_positions": (source_with(reduction="latent_height * latent_width"),
                         "latent_budget.latent_positions", "number of latent positions"),
    "doubled_not_squared": (source_with(reduction="2 * downsample"), "latent_budget.doubled_not_squared",
                            "don't add"),
}


@pytest.mark.parametrize("name", WRONG)
def test_wrong_implementation_loses_points_and_is_named(tmp_path, zygote, name):
    source, misconception, text = WRONG[name]
    assert_loses_points_and_names(grade_source(tmp_path, zygote, source), misconception, text)


def test_hard_coded_lesson_answers_earn_nothing(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, """
        def latent_grid(height, width, downsample):
            return (64, 64)

        def spatial_reduction(height, width, downsample):
            return 64
        """)
    assert result.score == 0


def test_always_raising_earns_nothing(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, """
        def latent_grid(height, width, downsample):
            raise ValueError("no")

        def spatial_reduction(height, width, downsample):
            raise ValueError("no")
        """)
    assert result.score == 0


def test_a_missing_function_fails_only_its_own_checks(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, """
        def latent_grid(height, width, downsample):
            if min(height, width, downsample) <= 0 or height % downsample or width % downsample:
                raise ValueError("sizes must be positive multiples of downsample")
            return height // downsample, width // downsample
        """)
    assert {c.function for c in result.failed_checks} == {"spatial_reduction"}
    assert all("spatial_reduction is not defined" in c.feedback for c in result.failed_checks)
    assert all(c.status.value == "passed" for c in result.checks if c.function == "latent_grid")
    assert 0 < result.score < result.max_score


def test_public_checks_cover_every_function_and_pass_for_the_reference(zygote):
    result = grade_submission(ROOT / "solutions", concepts=[CONCEPT], seed=3, zygote=zygote,
                              public_only=True).concepts[0]
    assert {c.function for c in result.checks} == {"spatial_reduction", "latent_grid"}
    assert all(c.public for c in result.checks) and result.score == result.max_score


CORRECT = {
    "divmod_and_list": """
        def latent_grid(height, width, downsample):
            if downsample <= 0 or height <= 0 or width <= 0:
                raise ValueError("arguments must be positive")
            lh, rh = divmod(height, downsample)
            lw, rw = divmod(width, downsample)
            if rh or rw:
                raise ValueError("downsample must divide height and width")
            return [lh, lw]

        def spatial_reduction(height, width, downsample):
            lh, lw = latent_grid(height, width, downsample)
            return height * width // (lh * lw)
        """,
    "numpy_ints": """
        import numpy as np

        def latent_grid(height, width, downsample):
            size = np.array([height, width], dtype=np.int64)
            if downsample < 1 or np.any(size < 1) or np.any(size % downsample):
                raise ValueError(f"cannot downsample {height}x{width} by {downsample}")
            latent = size // downsample
            return latent[0], latent[1]                       # np.int64 values

        def spatial_reduction(height, width, downsample):
            latent_grid(height, width, downsample)
            return np.int64(downsample) ** 2                  # both axes shrink
        """,
    "float_math_converted_back": """
        import math

        def latent_grid(height, width, downsample):
            for name, value in (("height", height), ("width", width), ("downsample", downsample)):
                if value <= 0:
                    raise ValueError(f"{name} must be positive")
            if height % downsample != 0 or width % downsample != 0:
                raise ValueError("not divisible")
            return int(height / downsample), int(width / downsample)

        def spatial_reduction(height, width, downsample):
            h, w = latent_grid(height, width, downsample)
            return int(math.prod((height, width)) / (h * w))
        """,
}


@pytest.mark.parametrize("name", CORRECT)
@pytest.mark.parametrize("seed", [5, 6])
def test_correct_styles_get_full_marks(tmp_path, zygote, name, seed):
    result = grade_source(tmp_path, zygote, CORRECT[name], seed)
    assert result.score == result.max_score, [(c.name, c.feedback) for c in result.failed_checks]
