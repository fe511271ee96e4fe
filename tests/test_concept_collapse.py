"""The collapse checks: the reference earns full marks, the stub nothing, each slip loses points and
is named, and correct code in other styles earns full marks."""

from __future__ import annotations

from pathlib import Path

import pytest
from concept_helpers import assert_loses_points_and_names, concept_graders

from grader.grading.runner import grade_submission

ROOT = Path(__file__).resolve().parent.parent
CONCEPT, FILE = "collapse", "collapse.py"


grade, grade_source = concept_graders(CONCEPT)


# A correct monitor in which one expression at a time is replaced by a slip.
TEMPLATE = """
import numpy as np

def _kl(kl_per_dim):
    kl = np.asarray(kl_per_dim, dtype=float)
    {empty_check}
    return kl

def is_collapsed(kl_per_dim, threshold=1e-3):
    kl = _kl(kl_per_dim)
    return bool({collapsed})

def active_dimensions(kl_per_dim, threshold=1e-3):
    kl = _kl(kl_per_dim)
    return {active}
"""
RIGHT = {
    "empty_check": 'if kl.size == 0: raise ValueError("no dimensions")',
    "collapsed": "np.all(kl < threshold)",
    "active": "[int(i) for i in np.flatnonzero(kl >= threshold)]",
}


def source_with(**slips) -> str:
    return TEMPLATE.format(**{**RIGHT, **slips})


WRONG = {
    "le_instead_of_lt": (source_with(collapsed="np.all(kl <= threshold)"), "collapse.le_not_lt",
                         "use <, not <="),
    "any_instead_of_all": (source_with(collapsed="np.any(kl < threshold)"), "collapse.any_not_all",
                           "every dimension"),
    "total_kl": (source_with(collapsed="kl.sum() < threshold"), "collapse.total_kl", "total KL"),
    "ignores_threshold": (source_with(collapsed="np.all(kl < 1e-3)",
                                      active="list(np.flatnonzero(kl >= 1e-3))"),
                          "collapse.ignores_threshold", "threshold argument"),
    "returns_collapsed_dims": (source_with(active="[int(i) for i in np.flatnonzero(kl < threshold)]"),
                               "collapse.returns_collapsed", "collapsed dimensions"),
    "gt_instead_of_ge": (source_with(active="[int(i) for i in np.flatnonzero(kl > threshold)]"),
                         "collapse.gt_not_ge", "at least the threshold"),
    "mask_instead_of_indices": (source_with(active="[bool(v >= threshold) for v in kl]"),
                                "collapse.mask_not_indices", "mask"),
    "one_based": (source_with(active="[int(i) + 1 for i in np.flatnonzero(kl >= threshold)]"),
                  "collapse.one_based", "off by one"),
    "sorted_by_kl": (source_with(active="[int(i) for i in np.argsort(-kl) if kl[i] >= threshold]"),
                     "collapse.sorted_by_kl", "increasing index order"),
    "empty_accepted": (source_with(empty_check="pass"), "collapse.empty_not_refused", "Raise ValueError"),
    "count_instead_of_indices": (source_with(active="int(np.sum(kl >= threshold))"),
                                 "collapse.count_not_indices", "indices"),
}


@pytest.mark.parametrize("name", WRONG)
def test_wrong_implementation_loses_points_and_is_named(tmp_path, zygote, name):
    source, misconception, text = WRONG[name]
    assert_loses_points_and_names(grade_source(tmp_path, zygote, source), misconception, text)


def test_hard_coded_lesson_answers_earn_nothing(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, """
        def is_collapsed(kl_per_dim, threshold=1e-3):
            return list(kl_per_dim) == [0.0003, 0.0001]

        def active_dimensions(kl_per_dim, threshold=1e-3):
            return [0, 1] if list(kl_per_dim) == [0.31, 0.18] else []
        """)
    assert result.score < 0.4 * result.max_score
    assert all(c.status.value == "failed" for c in result.checks if c.public)


def test_a_missing_function_fails_only_its_own_checks(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, """
        import numpy as np

        def is_collapsed(kl_per_dim, threshold=1e-3):
            kl = np.asarray(kl_per_dim, dtype=float)
            if kl.size == 0:
                raise ValueError("empty")
            return bool(np.all(kl < threshold))
        """)
    assert {c.function for c in result.failed_checks} == {"active_dimensions"}
    assert all("active_dimensions is not defined" in c.feedback for c in result.failed_checks)
    assert all(c.status.value == "passed" for c in result.checks if c.function == "is_collapsed")
    assert 0 < result.score < result.max_score


def test_public_checks_cover_every_function_and_pass_for_the_reference(zygote):
    result = grade_submission(ROOT / "solutions", concepts=[CONCEPT], seed=3, zygote=zygote,
                              public_only=True).concepts[0]
    assert {c.function for c in result.checks} == {"active_dimensions", "is_collapsed"}
    assert all(c.public for c in result.checks) and result.score == result.max_score


CORRECT = {
    "torch": """
        import torch

        def _kl(kl_per_dim):
            kl = torch.as_tensor(kl_per_dim, dtype=torch.float64)
            if kl.numel() == 0:
                raise ValueError("empty KL vector")
            return kl

        def is_collapsed(kl_per_dim, threshold=1e-3):
            return torch.all(_kl(kl_per_dim) < threshold)          # a 0-d bool tensor

        def active_dimensions(kl_per_dim, threshold=1e-3):
            return torch.nonzero(_kl(kl_per_dim) >= threshold).flatten().tolist()
        """,
    "plain_python_loops": """
        def is_collapsed(kl_per_dim, threshold=1e-3):
            values = list(kl_per_dim)
            if not values:
                raise ValueError("no latent dimensions")
            for v in values:
                if not v < threshold:
                    return False
            return True

        def active_dimensions(kl_per_dim, threshold=1e-3):
            values = list(kl_per_dim)
            if len(values) == 0:
                raise ValueError("no latent dimensions")
            active = []
            for i, v in enumerate(values):
                if v >= threshold:
                    active.append(i)
            return active
        """,
    "numpy_scalars_and_arrays": """
        import numpy as np

        def is_collapsed(kl_per_dim, threshold=1e-3):
            kl = np.asarray(kl_per_dim)
            if kl.size == 0:
                raise ValueError("empty")
            return (kl < threshold).all()                          # np.bool_

        def active_dimensions(kl_per_dim, threshold=1e-3):
            kl = np.asarray(kl_per_dim)
            if not len(kl):
                raise ValueError("empty")
            return np.where(kl >= threshold)[0]                    # an int64 array
        """,
    "float32": """
        import numpy as np

        def _kl(kl_per_dim):
            kl = np.array(kl_per_dim, dtype=np.float32)
            if kl.shape == (0,):
                raise ValueError("empty")
            return kl

        def is_collapsed(kl_per_dim, threshold=1e-3):
            return not np.any(_kl(kl_per_dim) >= threshold)

        def active_dimensions(kl_per_dim, threshold=1e-3):
            return sorted(int(i) for i, v in enumerate(_kl(kl_per_dim)) if v >= threshold)
        """,
}


@pytest.mark.parametrize("name", CORRECT)
@pytest.mark.parametrize("seed", [5, 6])
def test_correct_styles_get_full_marks(tmp_path, zygote, name, seed):
    result = grade_source(tmp_path, zygote, CORRECT[name], seed)
    assert result.score == result.max_score, [(c.name, c.feedback) for c in result.failed_checks]
