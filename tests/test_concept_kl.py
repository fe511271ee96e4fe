"""The kl checks: the reference earns full marks, the stub nothing, each slip loses points and is
named, and correct code in other styles earns full marks."""

from __future__ import annotations

from pathlib import Path

import pytest
from concept_helpers import assert_loses_points_and_names, concept_graders

from grader.grading.runner import grade_submission

ROOT = Path(__file__).resolve().parent.parent
CONCEPT, FILE = "kl", "kl.py"


grade, grade_source = concept_graders(CONCEPT)


# A correct pair of functions in which one line at a time is replaced by a slip.
TEMPLATE = """
import numpy as np

def _terms(mu, logvar):
    mu = np.asarray(mu, dtype=float)
    logvar = np.asarray(logvar, dtype=float)
    if mu.shape != logvar.shape:
        raise ValueError("shapes differ")
    return {terms}

def kl_to_standard_normal(mu, logvar):
    t = _terms(mu, logvar)
    value = {total}
    return {clip_total}

def kl_per_dimension(mu, logvar):
    t = _terms(mu, logvar)
    per_dim = {per_dim}
    return {clip_per_dim}
"""
RIGHT = {
    "terms": "-0.5 * (1 + logvar - mu**2 - np.exp(logvar))",
    "total": "t.sum(axis=-1).mean() if t.ndim == 2 else t.sum()",
    "clip_total": "max(0.0, float(value))",
    "per_dim": "t.mean(axis=0) if t.ndim == 2 else t",
    "clip_per_dim": "np.maximum(per_dim, 0.0) + 0.0",
}


def source_with(**slips) -> str:
    return TEMPLATE.format(**{**RIGHT, **slips})


WRONG = {
    "plus_sign": (source_with(terms="0.5 * (1 + logvar - mu**2 - np.exp(logvar))", clip_total="float(value)",
                              clip_per_dim="per_dim"),
                  "kl.wrong_sign", "minus sign"),
    "plus_sign_clipped": (source_with(terms="0.5 * (1 + logvar - mu**2 - np.exp(logvar))"),
                          "kl.wrong_sign", "hides a wrong sign"),
    "sigma_in_variance_term": (source_with(terms="-0.5 * (1 + logvar - mu**2 - np.exp(0.5 * logvar))"),
                               "kl.sigma_not_variance", "exp(0.5·logvar)"),
    "batch_sum": (source_with(total="t.sum()"), "kl.batch_sum", "batch mean"),
    "mean_over_latent": (source_with(total="t.mean(axis=-1).mean()"), "kl.mean_over_latent",
                         "averages over the latent dimensions"),
    "per_example_vector": (source_with(total="t.sum(axis=-1)", clip_total="np.maximum(value, 0.0) + 0.0"),
                           "kl.per_example", "one KL per example"),
    "forgot_the_one": (source_with(terms="-0.5 * (logvar - mu**2 - np.exp(logvar))"), "kl.forgot_one",
                       "The 1 inside the bracket"),
    "logvar_squared": (source_with(terms="-0.5 * (1 + logvar - mu**2 - logvar**2)"), "kl.logvar_squared",
                       "logvar²"),
    "no_half": (source_with(terms="-(1 + logvar - mu**2 - np.exp(logvar))"), "kl.missing_half", "½"),
    "not_clipped_total": (source_with(clip_total="float(value)"), "kl.negative", "clip it at zero"),
    "negative_zero_total": ("""
import numpy as np

def kl_to_standard_normal(mu, logvar):
    mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
    if mu.shape != logvar.shape:
        raise ValueError("shapes differ")
    inner = np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=-1)
    return float(-0.5 * np.mean(inner))

def kl_per_dimension(mu, logvar):
    mu, logvar = np.atleast_2d(mu), np.atleast_2d(logvar)
    if mu.shape != logvar.shape:
        raise ValueError("shapes differ")
    return np.maximum(-0.5 * (1 + logvar - mu**2 - np.exp(logvar)).mean(axis=0), 0.0) + 0.0
""", "kl.negative_zero", "-0.0"),
    "negative_zero_per_dim": (source_with(clip_per_dim="per_dim"), "kl.negative_zero", "-0.0"),
    "per_dim_batch_sum": (source_with(per_dim="t.sum(axis=0) if t.ndim == 2 else t"), "kl.batch_sum",
                          "average it over the batch"),
    "per_dim_not_reduced": (source_with(per_dim="t"), "kl.per_dim_not_reduced", "(batch, latent) table"),
    "silent_broadcasting": (source_with().replace('raise ValueError("shapes differ")', "pass"),
                            "kl.silent_broadcast", "broadcast"),
}


@pytest.mark.parametrize("name", WRONG)
def test_wrong_implementation_loses_points_and_is_named(tmp_path, zygote, name):
    source, misconception, text = WRONG[name]
    assert_loses_points_and_names(grade_source(tmp_path, zygote, source), misconception, text)


def test_a_slip_in_one_function_keeps_the_other_functions_points(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, WRONG["per_dim_batch_sum"][0])
    assert {c.function for c in result.failed_checks} == {"kl_per_dimension"}
    assert 0 < result.score < result.max_score


def test_hard_coded_lesson_answers_earn_nothing(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, """
        def kl_to_standard_normal(mu, logvar):
            return {0.4: 0.2009, 2.0: 4.0466}.get(list(mu)[0], 0.0)

        def kl_per_dimension(mu, logvar):
            return [0.1, 0.1009]
        """)
    assert result.score == 0


def test_a_missing_function_fails_only_its_own_checks(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, """
        import numpy as np

        def kl_per_dimension(mu, logvar):
            mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
            if mu.shape != logvar.shape:
                raise ValueError("shapes differ")
            t = -0.5 * (1 + logvar - mu**2 - np.exp(logvar))
            return np.maximum(t.mean(axis=0) if t.ndim == 2 else t, 0.0) + 0.0
        """)
    assert {c.function for c in result.failed_checks} == {"kl_to_standard_normal"}
    assert all("kl_to_standard_normal is not defined" in c.feedback for c in result.failed_checks)
    assert all(c.status.value == "passed" for c in result.checks if c.function == "kl_per_dimension")
    assert 0 < result.score < result.max_score


def test_public_checks_cover_every_function_and_pass_for_the_reference(zygote):
    result = grade_submission(ROOT / "solutions", concepts=[CONCEPT], seed=3, zygote=zygote,
                              public_only=True).concepts[0]
    assert {c.function for c in result.checks} == {"kl_to_standard_normal", "kl_per_dimension"}
    assert all(c.public for c in result.checks) and result.score == result.max_score


CORRECT = {
    "lesson_style_with_batches": """
        import numpy as np

        def kl_to_standard_normal(mu, logvar):
            mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
            if mu.shape != logvar.shape:
                raise ValueError("mu and logvar differ in shape")
            value = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=-1)
            return max(0.0, float(np.mean(value)))  # Remove negative zero from roundoff.

        def kl_per_dimension(mu, logvar):
            mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
            if mu.shape != logvar.shape:
                raise ValueError("mu and logvar differ in shape")
            terms = -0.5 * (1 + logvar - mu**2 - np.exp(logvar))
            return np.clip(terms.reshape(-1, mu.shape[-1]).mean(axis=0), 0.0, None) + 0.0
        """,
    "torch_float32": """
        import torch

        def _terms(mu, logvar):
            mu = torch.as_tensor(mu, dtype=torch.float32)
            logvar = torch.as_tensor(logvar, dtype=torch.float32)
            if mu.shape != logvar.shape:
                raise ValueError(f"{tuple(mu.shape)} != {tuple(logvar.shape)}")
            return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())

        def kl_to_standard_normal(mu, logvar):
            t = _terms(mu, logvar)
            total = t.sum(-1).mean() if t.dim() == 2 else t.sum()
            return total.clamp(min=0.0).item() + 0.0

        def kl_per_dimension(mu, logvar):
            t = _terms(mu, logvar)
            per_dim = t.mean(0) if t.dim() == 2 else t
            return per_dim.clamp(min=0.0) + 0.0
        """,
    "plain_python_loops": """
        import math

        def _rows(mu, logvar):
            mu = mu.tolist() if hasattr(mu, "tolist") else list(mu)
            logvar = logvar.tolist() if hasattr(logvar, "tolist") else list(logvar)
            if not isinstance(mu[0], list):
                mu, logvar = [mu], [logvar]
            if len(mu) != len(logvar) or any(not isinstance(b, list) or len(a) != len(b)
                                             for a, b in zip(mu, logvar)):
                raise ValueError("mu and logvar must have the same shape")
            return mu, logvar

        def kl_per_dimension(mu, logvar):
            mu, logvar = _rows(mu, logvar)
            out = []
            for j in range(len(mu[0])):
                total = 0.0
                for m, lv in zip(mu, logvar):
                    total += -0.5 * (1 + lv[j] - m[j] ** 2 - math.exp(lv[j]))
                out.append(max(0.0, total / len(mu)))
            return out

        def kl_to_standard_normal(mu, logvar):
            return max(0.0, sum(kl_per_dimension(mu, logvar)))
        """,
    "float32_numpy_scalar": """
        import numpy as np

        def _check(mu, logvar):
            mu, logvar = np.asarray(mu, np.float32), np.asarray(logvar, np.float32)
            if mu.shape != logvar.shape:
                raise ValueError("shape mismatch")
            return mu, logvar

        def kl_per_dimension(mu, logvar):
            mu, logvar = _check(mu, logvar)
            per = 0.5 * (np.exp(logvar) + mu * mu - 1 - logvar)
            per = np.atleast_2d(per).mean(axis=0)
            return np.where(per > 0, per, np.float32(0.0))

        def kl_to_standard_normal(mu, logvar):
            return np.float32(kl_per_dimension(mu, logvar).sum())
        """,
}


@pytest.mark.parametrize("name", CORRECT)
@pytest.mark.parametrize("seed", [5, 6])
def test_correct_styles_get_full_marks(tmp_path, zygote, name, seed):
    result = grade_source(tmp_path, zygote, CORRECT[name], seed)
    assert result.score == result.max_score, [(c.name, c.feedback) for c in result.failed_checks]
