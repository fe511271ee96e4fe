"""Hidden checks for `elbo`: vae_loss(x, x_hat, mu, logvar, beta=1.0) -> (total, recon, kl).

The β-weighted VAE loss with an MSE reconstruction term. MSE stands for a Gaussian decoder's
negative log-likelihood only up to a fixed observation variance and scale, so the feedback never
calls this loss "the ELBO" itself.

recon = mean of (x_hat - x)**2 over every element; kl = the batch mean of the
per-example sums of -0.5 * (1 + logvar - mu**2 - exp(logvar)) (the sum, for
1-D input); total = recon + beta * kl. Values are compared with trusted numpy
code, gradients with their analytic forms, and the loss must train the
lesson's TinyVAE (grader/tinyvae.py) to a reconstruction error of the lesson's
order (or, equivalently, give the reference's values and gradients along its training run).
"""

from __future__ import annotations

import itertools

import numpy as np

from grader.course import tinyvae
from grader.checks import (Fail, Raised, T, TensorValue, a_n, as_array, check, close, count, describe,
                           expect_close)
from grader.sandbox.protocol import encode_array

F = "vae_loss"
X = [0.10, 0.90, 0.85, 0.12]          # the lesson's vae-loss-ledger.py
X_HAT = [0.12, 0.84, 0.80, 0.14]
MU = [0.40, -0.20]
LOGVAR = [-0.70, 0.10]
TRAIN_STEPS = 120
TRAIN_THRESHOLD = 0.02                # the reference reaches about 0.003-0.012 after 120 steps
KL_THRESHOLD = 4.0                    # the reference's posteriors end at KL 0.5-0.85 (the lesson: 0.74);
                                      # with no KL gradient they drift to 13-28
NAMES = ("total", "recon", "kl")
MSE_CAVEAT = ("(The lesson's loss uses plain MSE as its reconstruction term; MSE is proportional to a "
              "Gaussian decoder's negative log-likelihood only for a fixed observation variance, so MSE "
              "and the ELBO are not the same thing: the scale of MSE against KL is a modelling choice.)")


def _f64(*arrays):
    return [np.asarray(a, dtype=np.float64) for a in arrays]


def kl_terms(mu, logvar) -> np.ndarray:
    mu, logvar = _f64(mu, logvar)
    return -0.5 * (1 + logvar - mu ** 2 - np.exp(logvar))


def reduce_kl(terms: np.ndarray) -> float:
    return float(terms.sum(axis=-1).mean()) if terms.ndim == 2 else float(terms.sum())


def reference(x, x_hat, mu, logvar, beta=1.0) -> tuple[float, float, float]:
    x, x_hat = _f64(x, x_hat)
    recon = float(np.mean((x_hat - x) ** 2))
    kl = reduce_kl(kl_terms(mu, logvar))
    return recon + beta * kl, recon, kl


def recon_mistakes(x, x_hat) -> dict:
    x, x_hat = _f64(x, x_hat)
    sq = (x_hat - x) ** 2
    found = {
        "elbo.recon_sum": (sq.sum(), "recon is the sum of squared errors: MSE is the mean over all elements."),
        "elbo.recon_abs": (np.abs(x_hat - x).mean(), "recon is the mean absolute error: square the differences."),
        "elbo.recon_rmse": (np.sqrt(sq.mean()), "recon is the root of the MSE: the loss has no square root."),
    }
    found["elbo.recon_gaussian_nll"] = (
        0.5 * sq.sum() + 0.5 * sq.size * np.log(2 * np.pi),
        "recon is a unit-variance Gaussian negative log-likelihood, ½·Σ(x - x_hat)² + ½·N·log 2π: the "
        "exercise asks for the mean squared error. " + MSE_CAVEAT)
    found["elbo.recon_half_mse"] = (
        0.5 * sq.mean(), "recon is half the mean squared error (the ½ of a Gaussian log-likelihood): "
        "the exercise's recon is the plain MSE. " + MSE_CAVEAT)
    if x.ndim == 2:
        found["elbo.recon_batch_divisor"] = (sq.sum() / x.shape[0], "recon divides by the batch size only: "
                                             "the mean runs over every element, batches included.")
    return found


def kl_mistakes(mu, logvar) -> dict:
    mu, logvar = _f64(mu, logvar)
    terms = kl_terms(mu, logvar)
    found = {}
    if terms.ndim == 2:  # first: with a batch of 2, the batch sum is also twice the mean
        found["elbo.kl_batch_sum"] = (float(terms.sum()), "kl sums over the batch too: take the batch MEAN "
                                      "of the per-example sums, or the KL weight grows with the batch size.")
    found.update({
        "elbo.kl_sign": (-reduce_kl(terms), "kl has the wrong sign: KL = -0.5·Σ(1 + logvar - mu² - "
                         "exp(logvar)) is never negative; mind the minus in front."),
        "elbo.kl_std_not_var": (reduce_kl(-0.5 * (1 + logvar - mu ** 2 - np.exp(0.5 * logvar))),
                                "kl uses exp(0.5·logvar), the standard deviation; the KL formula needs "
                                "exp(logvar), the variance σ²."),
        "elbo.kl_no_half": (2 * reduce_kl(terms), "kl is twice the right value: the formula has a factor -0.5."),
        "elbo.kl_mean_over_latent": (float(terms.mean()), "kl averages over the latent dimensions: sum "
                                     "over the latent axis (then average over the batch)."),
        "elbo.kl_logvar_sign": (reduce_kl(-0.5 * (1 - logvar - mu ** 2 - np.exp(logvar))),
                                "kl subtracts logvar: the formula is 1 + logvar - mu² - exp(logvar)."),
    })
    return found


def total_mistakes(x, x_hat, mu, logvar, beta, combining_only: bool = False) -> dict:
    total, recon, kl = reference(x, x_hat, mu, logvar, beta)
    found = {
        "elbo.beta_ignored": (recon + kl, "total is recon + kl: beta must weight the KL term "
                              f"(total = recon + β·kl, here β = {beta:g})."),
        "elbo.beta_on_recon": (beta * recon + kl, "total is β·recon + kl: beta weights the KL term, "
                               "not the reconstruction."),
        "elbo.total_minus": (recon - beta * kl, "total is recon - β·kl: the VAE loss ADDS the KL "
                             "penalty, total = recon + β·kl."),
    }
    if combining_only:
        return found
    for mid, (wrong, message) in recon_mistakes(x, x_hat).items():
        found.setdefault(mid, (wrong + beta * kl, "In total: " + message))
    for mid, (wrong, message) in kl_mistakes(mu, logvar).items():
        found.setdefault(mid, (recon + beta * wrong, "In total: " + message))
    return found


def unpack(got, what: str) -> tuple:
    if isinstance(got, (tuple, list)) and len(got) == 3:
        return tuple(got)
    raise Fail(f"{what} should return a tuple (total, recon, kl) of three numbers, but it returned "
               f"{describe(got) if not isinstance(got, (tuple, list)) else f'{len(got)} values'}.",
               "elbo.return_shape")


def loss_call(x, x_hat, mu, logvar, beta=None, dtype: str = "float32") -> tuple[list, dict]:
    """The arguments expect_loss passes to vae_loss (for sending several calls ahead)."""
    return [T(np.asarray(a), dtype=dtype) for a in (x, x_hat, mu, logvar)], ({} if beta is None else
                                                                             {"beta": float(beta)})


def ahead_losses(sub, cases: list[tuple]) -> None:
    """Send expect_loss's calls for these (x, x_hat, mu, logvar, beta) ahead, in one round trip."""
    calls = [loss_call(*case) for case in cases]
    sub.ahead(F, [args for args, _ in calls], [kwargs for _, kwargs in calls])


def expect_loss(sub, x, x_hat, mu, logvar, beta=None, *, what: str, show: bool = False,
                dtype: str = "float32", tensors: bool = False) -> tuple:
    """Call vae_loss (beta omitted when None, i.e. its default 1.0) and compare all three values."""
    args, kwargs = loss_call(x, x_hat, mu, logvar, beta, dtype)
    b = 1.0 if beta is None else float(beta)
    got = unpack(sub.call(F, *args, **kwargs), what)
    expected = reference(x, x_hat, mu, logvar, b)
    values = [as_array(g, f"{what}: {n}") for g, n in zip(got, NAMES)]
    if not all(close(v, e) for v, e in zip(values, expected)):
        for perm in itertools.permutations(range(3)):
            if perm != (0, 1, 2) and all(close(values[i], expected[p]) for i, p in enumerate(perm)):
                distinct = len({round(e, 12) for e in expected}) == 3
                order = f" ({', '.join(NAMES[p] for p in perm)})" if distinct else " in another order"
                raise Fail(f"{what} returns the three values{order}: the order is (total, recon, kl).",
                           "elbo.order")
    expect_close(got[1], expected[1], f"{what}: recon", mistakes=recon_mistakes(x, x_hat), show=show, scalar=True,
                 logvar=True)
    kl_slips = kl_mistakes(mu, logvar)
    if abs(b - 1.0) > 1e-3:
        kl_slips["elbo.beta_on_kl"] = (b * expected[2], "The kl returned already includes β: return the raw "
                                       "KL and apply beta only in total.")
    expect_close(got[2], expected[2], f"{what}: kl", mistakes=kl_slips, show=show, scalar=True, logvar=True)
    if beta is None and not close(values[0], expected[0]) and values[0].ndim == 0 and expected[2] > 1e-3:
        implied = (float(values[0]) - expected[1]) / expected[2]
        if np.isfinite(implied) and implied >= 0 and abs(implied - 1) > 1e-3:  # recon and kl are right
            raise Fail(f"{what}: total weights the KL by about {implied:.3g} when beta is not given; the "
                       "default is beta=1.0 (recon + kl, the unweighted MSE-plus-KL loss).", "elbo.default_beta")
    # recon and kl are right by now: only a slip in how total combines them can remain.
    expect_close(got[0], expected[0], f"{what}: total", mistakes=total_mistakes(x, x_hat, mu, logvar, b,
                                                                           combining_only=True),
                 show=show, scalar=True, logvar=True)
    if tensors:
        for g, n in zip(got, NAMES):
            if not isinstance(g, TensorValue):
                raise Fail(f"{what}: {n} has the right value but is {describe(g)}, not a torch tensor: "
                           "a float or numpy value cannot be backpropagated, so it cannot train a model. "
                           "Stay in torch (no .item(), no numpy).", "torch.not_a_tensor")
            if g.array.ndim != 0:
                raise Fail(f"{what}: {n} is a tensor of shape {g.array.shape}; it should be 0-dim "
                           "(a scalar tensor).", "shape")
    return got


def draw(rng, batch: int | None, n: int, latent: int):
    lead = () if batch is None else (batch,)
    x = rng.uniform(0, 1, lead + (n,))
    x_hat = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1)
    return x, x_hat, rng.normal(0, 1, lead + (latent,)), rng.uniform(-2, 1, lead + (latent,))


def analytic_grads(x, x_hat, mu, logvar, beta) -> dict:
    """d total / d (x_hat, mu, logvar)."""
    x, x_hat, mu, logvar = _f64(x, x_hat, mu, logvar)
    b = mu.shape[0] if mu.ndim == 2 else 1
    return {"x_hat": 2 * (x_hat - x) / x.size, "mu": beta * mu / b,
            "logvar": beta * 0.5 * (np.exp(logvar) - 1) / b}


def gradients(sub, x, x_hat, mu, logvar, beta, weights, what: str,
              need=("x_hat", "mu", "logvar"), verify: bool = True) -> dict:
    args = [T(np.asarray(x)), T(np.asarray(x_hat), grad=True), T(np.asarray(mu), grad=True),
            T(np.asarray(logvar), grad=True)]
    _, grads = sub.grad(F, args, {"beta": float(beta)}, weights, verify=verify)
    out = dict(zip(("x_hat", "mu", "logvar"), grads[1:]))
    missing = [k for k in need if out[k] is None]
    if missing:
        raise Fail(f"{what}: no gradient reached {' or '.join(missing)}. A .item(), .detach(), float() or "
                   "numpy step cuts the graph: keep every term in torch operations.", "torch.no_grad_path")
    return out


@check("matches the lesson's ledger (beta=0.1: recon 0.0017, KL 0.2009, total 0.0218)", function=F,
       public=True, weight=2)
def lesson_ledger(sub, rng):
    expect_loss(sub, X, X_HAT, MU, LOGVAR, 0.1, what="vae_loss on the lesson's ledger with beta=0.1", show=True)
    # A twin with fresh values: hard-coded ledger numbers earn nothing.
    expect_loss(sub, *draw(rng, None, 4, 2), 0.1, what="vae_loss on a second 4-value patch")


@check("the ledger's three betas (0, 0.1, 1): beta weights only the KL term", function=F, public=True)
def ledger_betas(sub, rng):
    inputs = draw(rng, None, 6, 3)
    betas = (0.0, float(rng.uniform(0.05, 0.5)), float(rng.uniform(2, 5)))
    ahead_losses(sub, [(X, X_HAT, MU, LOGVAR, beta) for beta in (0.1, 1.0, 0.0)]
                 + [(*inputs, beta) for beta in betas])
    for beta in (0.1, 1.0, 0.0):     # beta = 0 last: it hides every slip in the KL term
        expect_loss(sub, X, X_HAT, MU, LOGVAR, beta, what=f"vae_loss on the lesson's ledger with beta={beta:g}",
                    show=True)
    for beta in betas:
        expect_loss(sub, *inputs, beta, what=f"vae_loss with beta={beta:.3g}")


@check("beta defaults to 1.0", function=F)
def default_beta(sub, rng):
    inputs = draw(rng, int(rng.integers(2, 6)), 8, 2)
    expect_loss(sub, *inputs, None, what="vae_loss without beta (default 1.0)")
    expect_loss(sub, *inputs, float(rng.uniform(0.01, 0.3)), what="vae_loss with a small beta")


@check("random single examples (1-D: KL is the plain sum)", function=F)
def single_examples(sub, rng):
    for _ in range(2):
        n, latent = int(rng.integers(2, 30)), int(rng.integers(1, 6))
        expect_loss(sub, *draw(rng, None, n, latent), float(rng.uniform(0, 2)),
                    what=f"vae_loss of one {n}-value patch with {a_n(latent)}-d latent")


@check("random batches: recon over every element, KL batch mean of per-example sums", function=F, weight=2)
def batches(sub, rng):
    for _ in range(2):
        b, n, latent = int(rng.integers(3, 9)), int(rng.integers(4, 26)), int(rng.integers(2, 6))
        expect_loss(sub, *draw(rng, b, n, latent), float(rng.uniform(0.01, 1.5)),
                    what=f"vae_loss of a batch of {count(b, 'patch', 'patches')}")


@check("returns three 0-dim torch tensors", function=F)
def returns_tensors(sub, rng):
    expect_loss(sub, *draw(rng, int(rng.integers(2, 6)), 9, 2), 0.5, what="vae_loss", tensors=True)


@check("a negative beta raises ValueError (beta = 0 is fine)", function=F)
def negative_beta(sub, rng):
    inputs = draw(rng, 3, 5, 2)
    got = sub.outcome(F, *[T(a) for a in inputs], beta=0.0)
    if isinstance(got, Raised):
        raise Fail(f"vae_loss raised {got.type_name} for beta=0.0: zero is a valid weight (a plain "
                   "autoencoder objective); only a negative beta is an error.", "elbo.beta_zero_rejected")
    expect_loss(sub, *inputs, 0.0, what="vae_loss with beta=0")
    for beta in (-1.0, -float(rng.uniform(0.01, 0.5))):
        got = sub.outcome(F, *[T(a) for a in inputs], beta=beta)
        if not isinstance(got, Raised):
            raise Fail(f"vae_loss with beta={beta:.3g} returned a result instead of raising: a negative "
                       "beta rewards a large KL. It is a bug, not a trade-off: raise ValueError.",
                       "elbo.negative_beta")
        if not got.is_a(ValueError):
            raise Fail(f"vae_loss with beta={beta:.3g} raised {got.type_name}: {got.message}. It should "
                       "raise ValueError.", "elbo.negative_beta")


@check("logvar from -50 to 50 stays finite; a tiny KL stays tiny", function=F)
def extremes(sub, rng):
    x, x_hat, mu, _ = draw(rng, 2, 6, 4)
    lv = rng.permutation([-50.0, 50.0, -20.0, 20.0, 0.0, -5.0, 5.0, -50.0]).reshape(2, 4)
    expect_loss_or_clamped(sub, x, x_hat, mu, lv, 0.1, "vae_loss with logvar between -50 and 50", "float32")
    tiny_mu, tiny_lv = rng.normal(0, 1e-4, (2, 4)), rng.normal(0, 1e-4, (2, 4))
    expect_loss(sub, x, x, tiny_mu, tiny_lv, 1.0, what="vae_loss of a perfect reconstruction with a "
                "posterior almost equal to the prior", dtype="float64")


def recon_grad_mistakes(x, x_hat, want) -> dict:
    """∂recon/∂x_hat as each recon slip makes it (named after the slip's value)."""
    x, x_hat = _f64(x, x_hat)
    diff = x_hat - x
    rmse = float(np.sqrt(np.mean(diff ** 2)))
    return {
        "elbo.recon_abs": (np.sign(diff) / x.size, "It is sign(x_hat - x)/N, the gradient of the mean "
                           "absolute error: recon squares the differences."),
        "elbo.recon_rmse": (diff / (x.size * rmse), "It is the gradient of the root of the MSE: the loss "
                            "has no square root."),
        "elbo.recon_half_mse": (want / 2, "It is half the MSE's gradient: recon is the plain MSE. " + MSE_CAVEAT),
        "elbo.recon_gaussian_nll": (diff, "It is x_hat - x, the gradient of ½·Σ(x - x_hat)², a unit-variance "
                                    "Gaussian negative log-likelihood: recon is the mean squared error. "
                                    + MSE_CAVEAT),
        "torch.no_grad_path": (np.zeros_like(want), "It is zero: recon's value is there but its graph is "
                               "cut (a .detach(), .item() or a constant), so the decoder cannot learn."),
    }


@check("gradient of total with respect to x_hat", function=F)
def grad_x_hat(sub, rng):
    b, n = int(rng.integers(2, 7)), int(rng.integers(5, 26))
    x, x_hat, mu, lv = draw(rng, b, n, 2)
    beta = float(rng.uniform(0.05, 1.0))
    got = gradients(sub, x, x_hat, mu, lv, beta, [1.0, None, None], "backpropagating total",
                    need=("x_hat",))["x_hat"]
    want = analytic_grads(x, x_hat, mu, lv, beta)["x_hat"]
    expect_close(got, want, "∂total/∂x_hat", show=False, mistakes={
        "elbo.recon_sum": (want * x.size, "It is 2·(x_hat - x): the gradient of a SUM of squared errors; "
                           "the mean divides by the number of elements."),
        "elbo.recon_batch_divisor": (want * n, "It is the gradient of a loss divided by the batch size "
                                     "only: the mean runs over every element."),
        "elbo.beta_on_recon": (want * beta, "It is scaled by β: beta weights only the KL term."),
        **recon_grad_mistakes(x, x_hat, want),
    })


@check("gradients of total with respect to mu and logvar", function=F, weight=2)
def grad_latent(sub, rng):
    b, latent = int(rng.integers(2, 7)), int(rng.integers(2, 5))
    x, x_hat, mu, lv = draw(rng, b, 9, latent)
    beta = float(rng.uniform(0.2, 0.8))
    got = gradients(sub, x, x_hat, mu, lv, beta, [1.0, None, None], "backpropagating total",
                    need=("mu", "logvar"))
    want = analytic_grads(x, x_hat, mu, lv, beta)
    expect_close(got["mu"], want["mu"], "∂total/∂mu", show=False, mistakes={
        "elbo.kl_sign": (-want["mu"], "It has the wrong sign: the KL term pulls mu towards 0."),
        "elbo.kl_batch_sum": (want["mu"] * b, "It is the gradient of a batch SUM of KL: average the "
                              "per-example sums over the batch."),
        "elbo.beta_ignored": (want["mu"] / beta, "It ignores β: the KL gradient is scaled by beta."),
        "elbo.kl_mean_over_latent": (want["mu"] / latent, "It averages KL over the latent dimensions: sum them."),
        "elbo.kl_no_half": (2 * want["mu"], "It is twice the right gradient: the KL formula has a factor -0.5."),
        "torch.no_grad_path": (np.zeros_like(want["mu"]), "It is zero: the KL term's graph is cut, so it "
                               "cannot pull the posteriors towards the prior."),
    })
    half_sigma = -0.5 * (1 - 0.5 * np.exp(0.5 * lv)) * beta / b
    expect_close(got["logvar"], want["logvar"], "∂total/∂logvar", show=False, mistakes={
        "elbo.kl_sign": (-want["logvar"], "It has the wrong sign: KL = -0.5·Σ(1 + logvar - mu² - exp(logvar))."),
        "elbo.kl_std_not_var": (half_sigma, "It is the gradient of a KL written with exp(0.5·logvar): "
                                "the formula uses exp(logvar), the variance."),
        "elbo.kl_batch_sum": (want["logvar"] * b, "It is the gradient of a batch SUM of KL: average the "
                              "per-example sums over the batch."),
        "elbo.beta_ignored": (want["logvar"] / beta, "It ignores β: the KL gradient is scaled by beta."),
        "elbo.kl_no_half": (2 * want["logvar"], "It is twice the right gradient: the KL formula has a factor -0.5."),
        "elbo.kl_logvar_sign": (beta * 0.5 * (1 + np.exp(lv)) / b, "It is the gradient of a KL that subtracts "
                                "logvar: the formula is 1 + logvar - mu² - exp(logvar)."),
    })


@check("recon and kl each backpropagate on their own", function=F)
def terms_backpropagate(sub, rng):
    x, x_hat, mu, lv = draw(rng, None, 8, 3)
    beta = float(rng.uniform(0.1, 1.0))
    want = analytic_grads(x, x_hat, mu, lv, 1.0)
    got = gradients(sub, x, x_hat, mu, lv, beta, [None, None, 1.0], "backpropagating kl",
                    need=("mu", "logvar"))
    expect_close(got["mu"], want["mu"], "∂kl/∂mu", show=False, mistakes={
        "elbo.kl_sign": (-want["mu"], "kl has the wrong sign: it should grow as mu moves away from 0."),
        "elbo.beta_on_kl": (want["mu"] * beta, "The kl returned already includes β: return the raw "
                            "KL and apply beta only in total."),
        "elbo.kl_mean_over_latent": (want["mu"] / mu.size, "kl averages over the latent dimensions: sum them."),
        "elbo.kl_no_half": (2 * want["mu"], "kl's gradient is twice the right one: the formula has a factor -0.5."),
        "torch.no_grad_path": (np.zeros_like(want["mu"]), "It is zero: kl's graph is cut, so it cannot pull "
                               "the posteriors towards the prior."),
    })
    expect_close(got["logvar"], want["logvar"], "∂kl/∂logvar", show=False, mistakes={
        "elbo.kl_std_not_var": (-0.5 * (1 - 0.5 * np.exp(0.5 * lv)), "It is the gradient of a KL written with "
                                "exp(0.5·logvar): the formula uses exp(logvar), the variance."),
        "elbo.kl_sign": (-want["logvar"], "kl has the wrong sign."),
        "elbo.kl_no_half": (2 * want["logvar"], "kl's gradient is twice the right one: the formula has a factor -0.5."),
        "elbo.kl_logvar_sign": (0.5 * (1 + np.exp(lv)), "It is the gradient of a kl that subtracts logvar: the "
                                "formula is 1 + logvar - mu² - exp(logvar)."),
    })
    got = sub.grad(F, [T(x), T(x_hat, grad=True), T(mu), T(lv)], {"beta": beta}, [None, 1.0, None])[1][1]
    if got is None:
        raise Fail("backpropagating recon: no gradient reached x_hat. Keep recon in torch operations.",
                   "torch.no_grad_path")
    expect_close(got, want["x_hat"], "∂recon/∂x_hat", show=False, mistakes={
        "elbo.recon_sum": (want["x_hat"] * x.size, "It is the gradient of a SUM of squared errors: "
                           "MSE divides by the number of elements."),
        **recon_grad_mistakes(x, x_hat, want["x_hat"]),
    })


# --- the lesson's TinyVAE, trained with the learner's loss ----------------------------------


@check("trains the lesson's TinyVAE (reconstruction error of the lesson's order)", function=F, weight=3)
def trains_tinyvae(sub, rng):
    patches = tinyvae.make_patches(rng)
    weights = tinyvae.init_weights(rng)
    payload = {"patches": encode_array(patches), "weights": [encode_array(w) for w in weights],
               "steps": TRAIN_STEPS, "lr": tinyvae.LR, "beta": tinyvae.BETA,
               "seed": int(rng.integers(0, 2 ** 31 - 1))}
    if follows_the_reference(sub, patches, weights, payload["seed"]):
        return
    trained, _history = sub.train_vae(F, payload)
    if not isinstance(trained, list) or len(trained) != len(weights) or any(
            not isinstance(t, np.ndarray) or t.shape != w.shape for t, w in zip(trained, weights)):
        raise Fail("training the TinyVAE did not give back its weights.")
    # Judged here, by a numpy forward pass, on noise the child never saw; averaged over 4 draws.
    with np.errstate(all="ignore"):  # a diverged model overflows; it fails below without warnings
        errors = [tinyvae.reconstruction_error(trained, patches, rng.standard_normal((len(patches), 2)))
                  for _ in range(4)]
    error = float(np.mean(errors))
    if not np.isfinite(error):
        raise Fail("after training with your vae_loss, the TinyVAE's reconstructions are not finite.",
                   "numeric.nonfinite")
    if error >= TRAIN_THRESHOLD:
        cause, mistake = diagnose(sub, rng, patches)
        raise Fail(f"after {TRAIN_STEPS} Adam steps (lr {tinyvae.LR}, beta {tinyvae.BETA}) with your vae_loss, "
                   f"the TinyVAE's reconstruction error is {error:.4f}; the lesson's loss reaches about 0.01 "
                   f"(below {TRAIN_THRESHOLD} is needed). {cause}", mistake or "elbo.does_not_train")
    with np.errstate(all="ignore"):
        kl = posterior_kl(trained, patches)
    if not kl < KL_THRESHOLD:
        cause, mistake = diagnose(sub, rng, patches)
        if mistake:
            raise Fail(f"after {TRAIN_STEPS} Adam steps with your vae_loss, the TinyVAE's posteriors sit far "
                       f"from the prior: KL = {kl:.2f} (the lesson's run ends near 0.74). {cause}", mistake)
        raise Fail(f"after {TRAIN_STEPS} Adam steps with your vae_loss, the TinyVAE reconstructs well but its "
                   f"posteriors sit far from the prior: KL = {kl:.2f} (the lesson's run ends near 0.74). The "
                   "KL term is not pulling them in: check that kl is computed from mu and logvar in torch "
                   "(so its gradient flows), that beta multiplies it, and that recon is a mean, not a sum.",
                   "elbo.kl_not_trained")


TRAJECTORY_POINTS = 8   # steps of the reference's training run at which the learner's loss is compared


def follows_the_reference(sub, patches, weights, seed: int) -> bool:
    """Whether the learner's loss would train the TinyVAE exactly as the lesson's loss does.

    The SPEC's equivalent evidence, and much the faster: the model is trained here with the
    reference loss, and at TRAJECTORY_POINTS of its steps (the first, and others drawn from the
    seed, which the submission cannot know) the learner's loss and its gradients with respect to
    x_hat, mu and logvar must match the reference's, all evaluated in one round trip. The same
    values and gradients give the same Adam updates, so the same trained model. Anything less
    (a mismatch, an exception, no graph) is decided by training with the learner's own loss, as
    before, whose failure says what went wrong.
    """
    picks = np.random.default_rng([seed, 0x7A]).choice(np.arange(2, TRAIN_STEPS + 1), TRAJECTORY_POINTS - 1,
                                                       replace=False)
    chosen, points, wanted = {1} | {int(p) for p in picks}, [], []

    def reference_step(x, x_hat, mu, logvar, beta, step):
        want = analytic_grads(x, x_hat, mu, logvar, beta)
        if step in chosen:   # the learner's loss sees float32 tensors: compare on the same numbers
            point = tuple(np.asarray(a, dtype=np.float32).astype(np.float64) for a in (x, x_hat, mu, logvar))
            points.append(point)
            wanted.append((reference(*point, beta)[0], analytic_grads(*point, beta)))
        return reference(x, x_hat, mu, logvar, beta)[0], (want["x_hat"], want["mu"], want["logvar"])

    tinyvae.train(reference_step, patches, weights, steps=TRAIN_STEPS, lr=tinyvae.LR, beta=tinyvae.BETA, seed=seed)
    try:
        got = sub.losses_at(F, points, tinyvae.BETA)
    except Fail:
        return False
    return all(close(value, total) and all(close(g, want[k]) for g, k in zip(grads, ("x_hat", "mu", "logvar")))
               for (value, grads), (total, want) in zip(got, wanted))


GENERIC_CAUSE = ("Check that total = recon + beta * kl with a positive KL, that beta multiplies only the KL, "
                 "and that recon is the mean squared error.")


def diagnose(sub, rng, patches) -> tuple[str, str | None]:
    """The likely cause of a failed training run: the learner's loss on a batch shaped like training's.

    The values are compared on a batch of the training's size (not 2, where a batch sum and a
    missing ½ coincide), with the training's beta; a named slip there is the real cause.
    """
    b, latent = len(patches), 2
    x = np.asarray(patches, dtype=np.float64)
    x_hat = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1)
    mu, lv = rng.normal(0, 1, (b, latent)), rng.uniform(-2, 1, (b, latent))
    try:
        expect_loss(sub, x, x_hat, mu, lv, tinyvae.BETA, what="your vae_loss on a training batch")
        # The gradients are compared with the analytic ones here, so a finite-difference cross-check
        # would only hide which term is wrong.
        grads = gradients(sub, x, x_hat, mu, lv, tinyvae.BETA, [1.0, None, None], "backpropagating total",
                          verify=False)
        want = analytic_grads(x, x_hat, mu, lv, tinyvae.BETA)
        if close(as_array(grads["x_hat"], "∂total/∂x_hat"), want["x_hat"]) and not any(
                close(as_array(grads[k], f"∂total/∂{k}"), want[k]) for k in ("mu", "logvar")) and all(
                np.allclose(as_array(grads[k], k), 0.0, atol=1e-9) for k in ("mu", "logvar")):
            raise Fail("the KL term's value is right, but no gradient flows from it to mu and logvar "
                       "(∂total/∂mu and ∂total/∂logvar are zero), so training never pulls the posteriors "
                       "toward the prior: compute kl in torch from mu and logvar, without .detach().",
                       "elbo.kl_not_trained")
        for name in ("x_hat", "mu", "logvar"):
            expect_close(grads[name], want[name], f"∂total/∂{name} on a training batch", show=False)
    except Fail as fail:
        if fail.misconception and not fail.misconception.startswith("code."):
            return f"The cause: {fail.message}", fail.misconception
        return f"{GENERIC_CAUSE} (On a training batch: {fail.message})", None
    return GENERIC_CAUSE, None


def posterior_kl(weights, patches) -> float:
    """Trusted numpy: the batch-mean KL of the trained encoder's posteriors on the patches."""
    w = [np.asarray(a, dtype=np.float64) for a in weights]
    hidden = np.tanh(np.asarray(patches, dtype=np.float64) @ w[0].T + w[1])
    mu, logvar = hidden @ w[2].T + w[3], np.clip(hidden @ w[4].T + w[5], -50, 50)
    return reduce_kl(kl_terms(mu, logvar))


@check("values far beyond the unit range (pixels and mu) give the exact loss", function=F)
def large_values(sub, rng):
    b, n, latent = 3, 6, 3
    x = rng.uniform(-100, 100, (b, n))
    x_hat = x + rng.normal(0, 30, (b, n))
    mu = rng.choice([-1, 1], (b, latent)) * rng.uniform(20, 200, (b, latent))
    lv = rng.uniform(-2, 1, (b, latent))
    expect_loss(sub, x, x_hat, mu, lv, 0.1, what="vae_loss with pixels in [-100, 100] and |mu| up to 200",
                dtype="float64")
    lv = rng.permutation([-50.0, 50.0, -30.0, 30.0, -12.0, 12.0]).reshape(2, 3)
    x, x_hat, mu, _ = draw(rng, 2, 5, 3)
    expect_loss_or_clamped(sub, x, x_hat, mu, lv, 0.5, "vae_loss with logvar between -50 and 50", "float64")


def expect_loss_or_clamped(sub, x, x_hat, mu, lv, beta, what: str, dtype: str) -> None:
    """expect_loss on extreme logvar; an unnamed mismatch that vanishes for moderate logvar is a clamp."""
    try:
        expect_loss(sub, x, x_hat, mu, lv, beta, what=what, dtype=dtype)
    except Fail as fail:
        if fail.misconception is None:
            calm = np.where(np.abs(lv) > 5, np.sign(lv) * 2.0, lv)
            try:
                expect_loss(sub, x, x_hat, mu, calm, beta, what=what, dtype=dtype)
            except Fail:
                raise fail from None
            raise Fail(f"{what} is right for moderate logvar but wrong where logvar is large: did you clamp "
                       "logvar? The loss is finite for logvar in [-50, 50] without a clamp; the lesson says to "
                       "inspect the logvar range before adding an explicit clamp.", "elbo.clamped") from None
        raise


# Each SPEC clause of this concept, and the checks that enforce it.
CLAUSES = {
    "recon = MSE over all elements, kl = batch mean of per-example KL sums (the sum for 1-D), "
    "total = recon + β·kl [β=0.1 → 0.0017, 0.2009, 0.0218]":
        ["lesson_ledger", "ledger_betas", "single_examples", "batches", "large_values"],
    "β defaults to 1.0": ["default_beta"],
    "returns (total, recon, kl) as 0-dim torch tensors": ["returns_tensors"],
    "the three values backpropagate": ["grad_x_hat", "grad_latent", "terms_backpropagate"],
    "a negative β raises ValueError (β = 0 is valid)": ["negative_beta"],
    "logvar in [-50, 50] gives finite results": ["extremes", "large_values"],
    "used as the loss, it trains the lesson's TinyVAE": ["trains_tinyvae"],
}
