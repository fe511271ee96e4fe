"""The mse checks: the reference earns full marks, the stub nothing, each slip loses points and is
named, and correct code in other styles earns full marks."""

from __future__ import annotations

from pathlib import Path

import pytest
from concept_helpers import assert_loses_points_and_names, concept_graders

ROOT = Path(__file__).resolve().parent.parent
CONCEPT, FILE = "mse", "mse.py"


grade, grade_source = concept_graders(CONCEPT)


# A correct function in which one expression at a time is replaced by a slip.
TEMPLATE = """
import numpy as np

def reconstruction_mse(x, x_hat):
    x = np.asarray(x, dtype=float)
    x_hat = np.asarray(x_hat, dtype=float)
    {shape_check}
    return {value}
"""
RIGHT = {
    "shape_check": 'if x.shape != x_hat.shape: raise ValueError("shapes differ")',
    "value": "float(np.mean((x - x_hat) ** 2))",
}


def source_with(**slips) -> str:
    return TEMPLATE.format(**{**RIGHT, **slips})


WRONG = {
    "sum_not_mean": (source_with(value="float(np.sum((x - x_hat) ** 2))"), "mse.sum_not_mean", "1/N"),
    "absolute_error": (source_with(value="float(np.mean(np.abs(x - x_hat)))"), "mse.abs_error",
                       "mean absolute error"),
    "root_mean_square": (source_with(value="float(np.sqrt(np.mean((x - x_hat) ** 2)))"), "mse.rmse",
                         "no square root"),
    "not_squared": (source_with(value="float(np.mean(x - x_hat))"), "mse.not_squared", "cancel"),
    "divides_by_batch_size": (source_with(value="float(np.sum((x - x_hat) ** 2) / len(x))"),
                              "mse.batch_size_divisor", "batch size"),
    "per_example": (source_with(value="np.mean((x - x_hat) ** 2, axis=-1)"), "mse.per_example",
                    "one value per example"),
    "silent_broadcasting": (source_with(shape_check="pass"), "mse.silent_broadcast", "broadcast"),
}


@pytest.mark.parametrize("name", WRONG)
def test_wrong_implementation_loses_points_and_is_named(tmp_path, zygote, name):
    source, misconception, text = WRONG[name]
    assert_loses_points_and_names(grade_source(tmp_path, zygote, source), misconception, text)


def test_hard_coded_lesson_answer_earns_nothing(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, """
        def reconstruction_mse(x, x_hat):
            if len(x) != len(x_hat):
                raise ValueError("shapes differ")
            return 0.001725
        """)
    assert result.score == 0


def test_a_function_answering_zero_earns_nothing_whatever_the_seed(tmp_path, zygote):
    # 0.0 is right only for identical inputs; no check may draw two inputs so close that 0.0 passes
    # (with uniform draws, one seed in a few hundred did: 235 among them).
    (tmp_path / FILE).write_text("def reconstruction_mse(x, x_hat):\n    return 0.0\n")
    earned = {seed: grade(tmp_path, zygote, seed).score for seed in [235, *range(120)]}
    assert not any(earned.values()), {seed: score for seed, score in earned.items() if score}


CORRECT = {
    "torch_mse_loss": """
        import torch
        import torch.nn.functional as F

        def reconstruction_mse(x, x_hat):
            x, x_hat = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(x_hat, dtype=torch.float64)
            if x.shape != x_hat.shape:
                raise ValueError(f"{tuple(x.shape)} vs {tuple(x_hat.shape)}")
            return F.mse_loss(x_hat, x).item()
        """,
    "plain_python_loops": """
        def _flat(v):
            v = v.tolist() if hasattr(v, "tolist") else v
            if isinstance(v, (list, tuple)):
                return [("row", len(v))] + [item for row in v for item in _flat(row)]
            return [v]

        def reconstruction_mse(x, x_hat):
            a, b = _flat(x), _flat(x_hat)
            shape_a = [t for t in a if isinstance(t, tuple)]
            shape_b = [t for t in b if isinstance(t, tuple)]
            if shape_a != shape_b:
                raise ValueError("x and x_hat must have the same shape")
            values = [(p - q) ** 2 for p, q in zip(a, b) if not isinstance(p, tuple)]
            return sum(values) / len(values)
        """,
    "float32_numpy_scalar": """
        import numpy as np

        def reconstruction_mse(x, x_hat):
            x, x_hat = np.asarray(x, np.float32), np.asarray(x_hat, np.float32)
            if x.shape != x_hat.shape:
                raise ValueError("shape mismatch")
            return np.square(x - x_hat).mean()          # np.float32
        """,
    "torch_tensor_result": """
        import torch

        def reconstruction_mse(x, x_hat):
            x, x_hat = torch.as_tensor(x), torch.as_tensor(x_hat)
            if x.shape != x_hat.shape:
                raise ValueError("shape mismatch")
            return ((x - x_hat) ** 2).mean()            # a 0-d tensor
        """,
}


@pytest.mark.parametrize("name", CORRECT)
@pytest.mark.parametrize("seed", [5, 6])
def test_correct_styles_get_full_marks(tmp_path, zygote, name, seed):
    result = grade_source(tmp_path, zygote, CORRECT[name], seed)
    assert result.score == result.max_score, [(c.name, c.feedback) for c in result.failed_checks]
