"""The reparam checks: the reference earns full marks, the stub nothing, each slip loses points and is
named, and correct code in other styles earns full marks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from concept_helpers import assert_loses_points_and_names, concept_graders

from grader.checks import reparam

ROOT = Path(__file__).resolve().parent.parent
CONCEPT, FILE = "reparam", "reparam.py"


grade, grade_source = concept_graders(CONCEPT)


WRONG = {
    "variance_as_scale": ("""
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            eps = torch.randn_like(mu) if epsilon is None else epsilon
            return mu + torch.exp(logvar) * eps
        """, "reparam.variance_not_std", "exp(logvar), the variance"),
    "inverse_sigma": ("""
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            eps = torch.randn_like(mu) if epsilon is None else epsilon
            return mu + torch.exp(-0.5 * logvar) * eps
        """, "reparam.inverse_sigma", "1/σ"),
    "epsilon_ignored": ("""
        def reparameterize(mu, logvar, epsilon=None):
            return mu * 1.0
        """, "reparam.epsilon_ignored", "nothing is sampled"),
    "product": ("""
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            eps = torch.randn_like(mu) if epsilon is None else epsilon
            return mu * torch.exp(0.5 * logvar) * eps
        """, "reparam.product", "mu PLUS σ·ε"),
    "numpy_path": ("""
        import numpy as np
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            m, lv = mu.detach().numpy(), logvar.detach().numpy()
            eps = np.random.standard_normal(m.shape) if epsilon is None else epsilon.numpy()
            return torch.tensor(m + np.exp(0.5 * lv) * eps)
        """, "torch.no_grad_path", "no gradient path"),
    "logvar_detached": ("""
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            eps = torch.randn_like(mu) if epsilon is None else epsilon
            return mu + torch.exp(0.5 * logvar.detach()) * eps
        """, "reparam.logvar_detached", "no gradient reached logvar"),
    "fixed_seed_every_call": ("""
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            if epsilon is None:
                torch.manual_seed(0)
                epsilon = torch.randn(mu.shape)
            return mu + torch.exp(0.5 * logvar) * epsilon
        """, "reparam.same_noise", "same sample on every call"),
    "one_noise_for_all_elements": ("""
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            if epsilon is None:
                epsilon = torch.randn(1)
            return mu + torch.exp(0.5 * logvar) * epsilon
        """, "reparam.shared_noise", "share the same noise"),
    "one_noise_row_for_the_batch": ("""
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            if epsilon is None:
                epsilon = torch.randn(mu.shape[-1])
            return mu + torch.exp(0.5 * logvar) * epsilon
        """, "reparam.shared_noise", "one row reused across the batch"),
    "uniform_noise": ("""
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            eps = torch.rand_like(mu) if epsilon is None else epsilon
            return mu + torch.exp(0.5 * logvar) * eps
        """, "reparam.uniform_noise", "torch.rand's uniform draws"),
    "centred_uniform_noise": ("""
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            eps = torch.rand_like(mu) - 0.5 if epsilon is None else epsilon
            return mu + torch.exp(0.5 * logvar) * eps
        """, "reparam.uniform_noise", "standard normal"),
    "noise_shifted": ("""
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            eps = torch.randn_like(mu) + 0.5 if epsilon is None else epsilon
            return mu + torch.exp(0.5 * logvar) * eps
        """, "reparam.mean", "not centred on mu"),
    "noise_too_wide": ("""
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            eps = 2 * torch.randn_like(mu) if epsilon is None else epsilon
            return mu + torch.exp(0.5 * logvar) * eps
        """, "reparam.spread", "spread of the samples"),
    "ignores_given_epsilon": ("""
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        """, "reparam.ignores_epsilon", "use the epsilon passed in"),
}


@pytest.mark.parametrize("name", WRONG)
def test_wrong_implementation_loses_points_and_is_named(tmp_path, zygote, name):
    source, misconception, text = WRONG[name]
    assert_loses_points_and_names(grade_source(tmp_path, zygote, source), misconception, text)


def test_variance_slip_fails_the_public_example_with_the_lessons_words(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, WRONG["variance_as_scale"][0])
    public = [c for c in result.checks if c.public]
    assert public and all(c.misconception == "reparam.variance_not_std" for c in public)
    assert "σ is exp(0.5·logvar)" in public[0].feedback


def test_hard_coded_lesson_answer_earns_nothing(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, """
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            return torch.tensor([0.752, -1.251])
        """)
    assert result.score == 0


def test_numpy_path_keeps_value_points_but_loses_every_gradient_check(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, WRONG["numpy_path"][0])
    failed = {c.name for c in result.failed_checks}
    assert any("dz/dmu" in name for name in failed) and any("dz/dlogvar" in name for name in failed)
    assert 0 < result.score < result.max_score * 0.75


CORRECT = {
    "torch_float64_inside": """
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            eps = torch.randn_like(mu) if epsilon is None else epsilon
            z = mu.double() + torch.exp(logvar.double() / 2) * eps.double()
            return z.to(mu.dtype)
        """,
    "sqrt_of_variance_and_normal_": """
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            if epsilon is None:
                epsilon = torch.empty_like(mu).normal_()
            return mu + torch.sqrt(torch.exp(logvar)) * epsilon
        """,
    "distributions_rsample": """
        import torch
        from torch.distributions import Normal
        def reparameterize(mu, logvar, epsilon=None):
            std = torch.exp(0.5 * logvar)
            if epsilon is None:
                return Normal(mu, std).rsample()
            return mu + std * torch.as_tensor(epsilon, dtype=mu.dtype)
        """,
    "elementwise_loop": """
        import torch
        def reparameterize(mu, logvar, epsilon=None):
            if epsilon is None:
                epsilon = torch.randn(mu.shape)
            parts = [m + torch.exp(0.5 * l) * e for m, l, e in
                     zip(mu.reshape(-1), logvar.reshape(-1), epsilon.reshape(-1))]
            return torch.stack(parts).reshape(mu.shape)
        """,
}


@pytest.mark.parametrize("name", CORRECT)
@pytest.mark.parametrize("seed", [5, 6])
def test_correct_styles_get_full_marks(tmp_path, zygote, name, seed):
    result = grade_source(tmp_path, zygote, CORRECT[name], seed)
    assert result.score == result.max_score, [(c.name, c.feedback) for c in result.failed_checks]


# --- the statistics behind the epsilon=None checks (trusted side, no sandbox) ---------------


def test_distribution_judge_accepts_true_normal_samples_across_many_draws():
    rng = np.random.default_rng(0)
    mu, lv = rng.uniform(-2, 2, (4, 8)), rng.uniform(-2, 2, (4, 8))
    for _ in range(200):
        z = mu + np.exp(0.5 * lv) * rng.standard_normal((reparam.CALLS, 4, 8))
        reparam.judge_distribution(z, mu, lv, "samples")


def test_chi2_bounds_bracket_the_mean_and_exclude_a_doubled_variance():
    lo, hi = reparam.chi2_bounds(reparam.CALLS)
    assert lo < reparam.CALLS < hi
    assert 2 * reparam.CALLS > hi and 0.5 * reparam.CALLS < lo


@pytest.mark.parametrize("name", ["fixed_seed_every_call", "one_noise_for_all_elements", "uniform_noise"])
def test_broken_sampling_alone_is_not_a_pass(tmp_path, zygote, name):
    # Sampling with epsilon=None is half of the concept: getting it wrong keeps the score at or below 75%.
    result = grade_source(tmp_path, zygote, WRONG[name][0])
    assert result.score <= 0.75 * result.max_score


def test_normal_cdf_is_within_its_stated_error_of_the_exact_one():
    import math

    v = np.concatenate([np.linspace(-9, 9, 20001), [0.0, -1e-12, 1e-12, 38.0, -38.0]])
    exact = np.array([0.5 * math.erfc(-x / math.sqrt(2.0)) for x in v])
    assert np.max(np.abs(reparam.normal_cdf(v) - exact)) <= reparam.CDF_ERROR
    assert np.all(np.diff(reparam.normal_cdf(np.linspace(-6, 6, 5001))) >= 0)   # a CDF never decreases


def test_ks_distance_separates_normal_from_scaled_uniform_draws():
    rng = np.random.default_rng(1)
    n = reparam.NORMAL_CALLS * reparam.NORMAL_SIZE
    bound = reparam.ks_bound(n)
    assert reparam.ks_distance(rng.standard_normal(n)) <= bound
    assert reparam.ks_distance(rng.uniform(-3 ** 0.5, 3 ** 0.5, n)) > 4 * bound
