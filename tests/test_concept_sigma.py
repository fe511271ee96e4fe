"""The sigma checks: the reference earns full marks, the stub nothing, each slip loses points and is
named, and correct code in other styles earns full marks."""

from __future__ import annotations

from pathlib import Path

import pytest
from concept_helpers import assert_loses_points_and_names, concept_graders

from grader.grading.results import Status

ROOT = Path(__file__).resolve().parent.parent
CONCEPT, FILE = "sigma", "sigma.py"


grade, grade_source = concept_graders(CONCEPT)


WRONG = {
    "variance": ("""
        import numpy as np
        def logvar_to_sigma(logvar):
            return np.exp(np.asarray(logvar, dtype=float))
        """, "sigma.variance", "exp(logvar), the variance"),
    "sqrt_of_logvar": ("""
        import numpy as np
        def logvar_to_sigma(logvar):
            return np.sqrt(np.asarray(logvar, dtype=float))
        """, "sigma.sqrt_logvar", "sqrt(logvar)"),
    "minus_sign": ("""
        import numpy as np
        def logvar_to_sigma(logvar):
            return np.exp(-0.5 * np.asarray(logvar, dtype=float))
        """, "sigma.inverse", "1/σ"),
    "no_exp": ("""
        import numpy as np
        def logvar_to_sigma(logvar):
            return 0.5 * np.asarray(logvar, dtype=float)
        """, "sigma.log_sigma", "still need to exponentiate"),
    "clamped": ("""
        import numpy as np
        def logvar_to_sigma(logvar):
            return np.exp(0.5 * np.clip(np.asarray(logvar, dtype=float), -10, 10))
        """, "sigma.clamped", "clamp"),
    "flattened": ("""
        import numpy as np
        def logvar_to_sigma(logvar):
            return np.exp(0.5 * np.asarray(logvar, dtype=float)).ravel()
        """, "shape", "it should have shape"),
}


@pytest.mark.parametrize("name", WRONG)
def test_wrong_implementation_loses_points_and_is_named(tmp_path, zygote, name):
    source, misconception, text = WRONG[name]
    assert_loses_points_and_names(grade_source(tmp_path, zygote, source), misconception, text)


def test_hard_coded_lesson_answer_earns_nothing(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, """
        import numpy as np
        def logvar_to_sigma(logvar):
            return np.array([0.70469, 1.05127])
        """)
    assert result.score == 0


def test_variance_feedback_points_to_the_lesson(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, WRONG["variance"][0])
    public = [c for c in result.checks if c.public]
    assert public and all(c.status is Status.FAILED for c in public)
    assert "exp(0.5·logvar)" in public[0].feedback


CORRECT = {
    "torch_float64": """
        import torch
        def logvar_to_sigma(logvar):
            return torch.exp(0.5 * torch.as_tensor(logvar, dtype=torch.float64))
        """,
    "torch_float32_returns_tensor": """
        import torch
        def logvar_to_sigma(logvar):
            return (torch.as_tensor(logvar, dtype=torch.float32) / 2).exp()
        """,
    "float32_numpy": """
        import numpy as np
        def logvar_to_sigma(logvar):
            return np.exp(np.asarray(logvar, dtype=np.float32) / 2)
        """,
    "sqrt_of_variance": """
        import numpy as np
        def logvar_to_sigma(logvar):
            return np.sqrt(np.exp(np.asarray(logvar, dtype=np.float64)))
        """,
    "plain_python_lists": """
        import math
        def logvar_to_sigma(logvar):
            if hasattr(logvar, "tolist"):
                logvar = logvar.tolist()
            if isinstance(logvar, list):
                return [logvar_to_sigma(v) for v in logvar]
            return math.exp(logvar / 2)
        """,
}


@pytest.mark.parametrize("name", CORRECT)
@pytest.mark.parametrize("seed", [5, 6])
def test_correct_styles_get_full_marks(tmp_path, zygote, name, seed):
    result = grade_source(tmp_path, zygote, CORRECT[name], seed)
    assert result.score == result.max_score, [(c.name, c.feedback) for c in result.failed_checks]
