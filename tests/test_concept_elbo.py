"""The elbo checks: the reference earns full marks, the stub nothing, each slip loses points and is
named, correct code in other styles earns full marks, and the TinyVAE check tells a loss that trains
from one that does not."""

from __future__ import annotations

from pathlib import Path

import pytest
from concept_helpers import assert_loses_points_and_names, concept_graders

from grader.checks import elbo

ROOT = Path(__file__).resolve().parent.parent
CONCEPT, FILE = "elbo", "elbo.py"
TRAINING_CHECK = "trains the lesson's TinyVAE (reconstruction error of the lesson's order)"


grade, grade_source = concept_graders(CONCEPT)


def check_named(result, name):
    return next(c for c in result.checks if c.name == name)


def test_reference_values_match_the_lessons_ledger():
    total, recon, kl = elbo.reference(elbo.X, elbo.X_HAT, elbo.MU, elbo.LOGVAR, 0.1)
    assert round(recon, 6) == 0.001725 and round(kl, 4) == 0.2009 and round(total, 4) == 0.0218


# Each wrong loss is the reference with one slip.
BODY = """
    import torch
    def vae_loss(x, x_hat, mu, logvar, beta=1.0):
        if beta < 0:
            raise ValueError("beta must be non-negative")
        recon = {recon}
        terms = {terms}
        kl = {kl}
        return {ret}
    """
OK = dict(recon="torch.mean((x_hat - x) ** 2)", terms="-0.5 * (1 + logvar - mu ** 2 - logvar.exp())",
          kl="terms.sum(-1).mean() if terms.dim() == 2 else terms.sum()", ret="recon + beta * kl, recon, kl")


def variant(**changes) -> str:
    return BODY.format(**{**OK, **changes})


WRONG = {
    "recon_sum": (variant(recon="torch.sum((x_hat - x) ** 2)"), "elbo.recon_sum", "the mean over all elements"),
    "kl_batch_sum": (variant(kl="terms.sum()"), "elbo.kl_batch_sum", "batch MEAN"),
    "kl_sign": (variant(terms="0.5 * (1 + logvar - mu ** 2 - logvar.exp())"), "elbo.kl_sign", "wrong sign"),
    "beta_ignored": (variant(ret="recon + kl, recon, kl"), "elbo.beta_ignored", "beta must weight the KL"),
    "beta_on_recon": (variant(ret="beta * recon + kl, recon, kl"), "elbo.beta_on_recon", "not the reconstruction"),
    "kl_with_sigma": (variant(terms="-0.5 * (1 + logvar - mu ** 2 - (0.5 * logvar).exp())"),
                      "elbo.kl_std_not_var", "exp(logvar), the variance"),
    "tuple_order": (variant(ret="recon, kl, recon + beta * kl"), "elbo.order", "(total, recon, kl)"),
    "floats_not_tensors": (variant(ret="(recon + beta * kl).item(), recon.item(), kl.item()"),
                           "torch.no_grad_path", "Stay in torch"),
    "kl_via_numpy": ("""
        import numpy as np
        import torch
        def vae_loss(x, x_hat, mu, logvar, beta=1.0):
            if beta < 0:
                raise ValueError("negative beta")
            recon = torch.mean((x_hat - x) ** 2)
            m, lv = mu.detach().numpy(), logvar.detach().numpy()
            kl = torch.tensor(float(np.mean(np.atleast_2d(-0.5 * (1 + lv - m ** 2 - np.exp(lv))).sum(-1))))
            return recon + beta * kl, recon, kl
        """, "torch.no_grad_path", "no gradient reached mu or logvar"),
    "no_beta_check": ("""
        import torch
        def vae_loss(x, x_hat, mu, logvar, beta=1.0):
            recon = torch.mean((x_hat - x) ** 2)
            terms = -0.5 * (1 + logvar - mu ** 2 - logvar.exp())
            kl = terms.sum(-1).mean() if terms.dim() == 2 else terms.sum()
            return recon + beta * kl, recon, kl
        """, "elbo.negative_beta", "raise ValueError"),
    "zero_beta_rejected": (variant().replace("beta < 0", "beta <= 0"), "elbo.beta_zero_rejected",
                           "zero is a valid weight"),
    "default_beta_not_one": (variant().replace("beta=1.0", "beta=0.1"), "elbo.default_beta", "default is beta=1.0"),
    "kl_mean_over_latent": (variant(kl="terms.mean()"), "elbo.kl_mean_over_latent", "sum over the latent axis"),
}


@pytest.mark.parametrize("name", WRONG)
def test_wrong_implementation_loses_points_and_is_named(tmp_path, zygote, name):
    source, misconception, text = WRONG[name]
    assert_loses_points_and_names(grade_source(tmp_path, zygote, source), misconception, text)


@pytest.mark.parametrize("name", ["kl_sign", "beta_ignored", "beta_on_recon", "kl_batch_sum"])
def test_losses_that_do_not_train_fail_the_tinyvae_check(tmp_path, zygote, name):
    result = grade_source(tmp_path, zygote, WRONG[name][0])
    training = check_named(result, TRAINING_CHECK)
    # The failure names the real cause, found on a batch shaped like training's, not a list of guesses.
    assert training.score == 0 and training.misconception == WRONG[name][1], training.feedback
    assert "reconstruction error is 0.0" in training.feedback and "The cause:" in training.feedback


@pytest.mark.parametrize("name", ["kl_via_numpy", "recon_sum", "tuple_order"])
def test_a_kl_that_does_not_regularise_is_caught_by_training(tmp_path, zygote, name):
    # These reconstruct well, but the KL never pulls the posteriors towards the prior.
    result = grade_source(tmp_path, zygote, WRONG[name][0])
    training = check_named(result, TRAINING_CHECK)
    assert training.score == 0 and training.misconception == WRONG[name][1], training.feedback
    assert "posteriors sit far from the prior" in training.feedback
    assert result.score <= 0.75 * result.max_score


def test_a_loss_without_a_graph_cannot_train(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, WRONG["floats_not_tensors"][0])
    training = check_named(result, TRAINING_CHECK)
    assert training.score == 0 and "backpropagation cannot train the VAE" in training.feedback
    assert result.score <= 0.75 * result.max_score


def test_hard_coded_ledger_earns_nothing(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, """
        import torch
        def vae_loss(x, x_hat, mu, logvar, beta=1.0):
            if beta < 0:
                raise ValueError("negative beta")
            recon, kl = torch.tensor(0.001725), torch.tensor(0.2009)
            return recon + beta * kl, recon, kl
        """)
    assert result.score == 0, [(c.name, c.feedback) for c in result.checks if c.score]


def test_ledger_feedback_shows_the_lessons_numbers(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, WRONG["kl_sign"][0])
    public = [c for c in result.checks if c.public]
    assert public and all(c.misconception == "elbo.kl_sign" for c in public)
    assert "never negative" in public[0].feedback


CORRECT = {
    "lesson_loss_terms": """
        import torch.nn.functional as F
        def vae_loss(x, x_hat, mu, logvar, beta=1.0):
            if beta < 0:
                raise ValueError(f"beta must be >= 0, got {beta}")
            recon = F.mse_loss(x_hat, x)
            kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
            kl = kl.mean() if kl.dim() == 1 else kl
            return recon + beta * kl, recon, kl
        """,
    "float64_and_a_loop_over_the_batch": """
        import torch
        def vae_loss(x, x_hat, mu, logvar, beta=1.0):
            if beta < 0:
                raise ValueError("beta must not be negative")
            recon = ((x_hat.double() - x.double()) ** 2).sum() / x.numel()
            rows = mu.reshape(-1, mu.shape[-1]).double(), logvar.reshape(-1, logvar.shape[-1]).double()
            per_example = [-0.5 * torch.sum(1 + lv - m * m - torch.exp(lv)) for m, lv in zip(*rows)]
            kl = torch.stack(per_example).mean()
            return recon + beta * kl, recon, kl
        """,
    "torch_distributions": """
        import torch
        from torch.distributions import Normal, kl_divergence
        def vae_loss(x, x_hat, mu, logvar, beta=1.0):
            if beta < 0:
                raise ValueError("negative beta")
            recon = torch.nn.MSELoss()(x_hat, x)
            q = Normal(mu, torch.exp(0.5 * logvar))
            p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
            kl = kl_divergence(q, p).sum(dim=-1)
            if kl.dim() == 1:
                kl = kl.mean()
            return recon + beta * kl, recon, kl
        """,
    "atleast_2d_and_list_result": """
        import torch
        def vae_loss(x, x_hat, mu, logvar, beta=1.0):
            if not beta >= 0:
                raise ValueError("beta must be non-negative")
            recon = (x_hat - x).pow(2).mean()
            mu2, lv2 = torch.atleast_2d(mu), torch.atleast_2d(logvar)
            kl = 0.5 * (mu2 ** 2 + lv2.exp() - 1 - lv2).sum(dim=1).mean()
            return [recon + kl * beta, recon, kl]
        """,
}


@pytest.mark.parametrize("name", CORRECT)
@pytest.mark.parametrize("seed", [5, 6])
def test_correct_styles_get_full_marks(tmp_path, zygote, name, seed):
    result = grade_source(tmp_path, zygote, CORRECT[name], seed)
    assert result.score == result.max_score, [(c.name, c.feedback) for c in result.failed_checks]


def test_training_check_carries_real_weight():
    training = next(c for c in elbo.CHECKS if c.function == "vae_loss" and c.name == TRAINING_CHECK)
    assert training.weight >= 3 and len(elbo.CHECKS) >= 10
