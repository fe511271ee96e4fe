"""Hidden checks for `reparam`: reparameterize(mu, logvar, epsilon=None) -> torch.Tensor.

z = mu + exp(0.5 * logvar) * epsilon. Values are checked with a given epsilon,
gradients analytically (dz/dmu = 1, dz/dlogvar = 0.5 * sigma * epsilon), and
the epsilon=None path by the distribution of many samples drawn in one round
trip: the standardised noise (z - mu) / sigma must look like fresh, independent
N(0, 1) draws, with bounds at 8 standard errors and a Kolmogorov-Smirnov bound
(a correct solution fails them with probability below 1e-9 per grading).
"""

from __future__ import annotations

import numpy as np

import math

from grader.checks import Fail, T, TensorValue, a_n, as_array, check, describe, expect_close, nonfinite_message

F = "reparameterize"
MU = [0.40, -0.20]                   # the lesson's reparameterized-sample.py
LOGVAR = [-0.70, 0.10]
EPS = [0.50, -1.00]
# How far from its sampling distribution's centre a statistic may fall. At 8 standard errors a
# correct sampler fails one t statistic (199 degrees of freedom) with probability 1.0e-13, one
# chi-square spread bound about as rarely; with about 110 elements tested per grading (200 to 400 calls each) the same
# correct code loses these points with probability near 1e-11, far below 1e-9.
Z_SIGMAS = 8.0


def reference(mu, logvar, eps) -> np.ndarray:
    mu, logvar, eps = (np.asarray(a, dtype=np.float64) for a in (mu, logvar, eps))
    return mu + np.exp(0.5 * logvar) * eps


def mistakes(mu, logvar, eps) -> dict:
    """What the usual slips return for these inputs, and how a tutor names each one."""
    mu, logvar, eps = (np.asarray(a, dtype=np.float64) for a in (mu, logvar, eps))
    sigma = np.exp(0.5 * logvar)
    return {
        "reparam.variance_not_std": (mu + np.exp(logvar) * eps, "It uses exp(logvar), the variance, "
                                     "as the scale; σ is exp(0.5·logvar), the standard deviation."),
        "reparam.inverse_sigma": (mu + np.exp(-0.5 * logvar) * eps, "It uses exp(-0.5·logvar) = 1/σ: "
                                  "the scale is exp(+0.5·logvar)."),
        "reparam.logvar_as_scale": (mu + logvar * eps, "It multiplies epsilon by logvar itself: "
                                    "logvar is a log-variance, so σ = exp(0.5·logvar)."),
        "reparam.epsilon_ignored": (mu, "It equals mu: the noise term σ·ε is missing, so nothing is sampled."),
        "reparam.product": (mu * sigma * eps, "It equals mu·σ·ε: the sample is mu PLUS σ·ε, "
                            "a shift by the mean and a scale by σ."),
        "reparam.sigma_plus_eps": (mu + sigma + eps, "It adds σ and ε: the noise is σ TIMES ε."),
        "reparam.sign": (mu - sigma * eps, "It subtracts σ·ε: z = mu + σ·ε."),
    }


def expect_z(sub, mu, logvar, eps, what: str, *, show: bool = False, dtype: str = "float32",
             need_tensor: bool = True) -> np.ndarray:
    """Call with a given epsilon and compare z; returns the learner's z as float64."""
    args = (T(np.asarray(mu), dtype=dtype), T(np.asarray(logvar), dtype=dtype), T(np.asarray(eps), dtype=dtype))
    got = sub.call(F, *args)
    try:
        expect_close(got, reference(mu, logvar, eps), what, mistakes=mistakes(mu, logvar, eps), show=show,
                     logvar=True)
    except Fail as fail:
        if fail.misconception is None:  # an unnamed mismatch: is the given epsilon being used at all?
            again = sub.call(F, *args)
            if not np.array_equal(as_array(again, what), as_array(got, what)):
                raise Fail(f"{what} changes from call to call with the same epsilon: use the epsilon "
                           "passed in, and draw fresh noise only when epsilon is None.",
                           "reparam.ignores_epsilon") from None
        raise
    if need_tensor and not isinstance(got, TensorValue):
        raise Fail(f"{what} has the right values but is {describe(got)}, not a torch tensor: stay in "
                   "torch (no .numpy(), .tolist() or numpy functions) so the sample stays in the "
                   "autograd graph.", "torch.not_a_tensor")
    return as_array(got, what)


def draw(rng, shape, lv_range=(-1.5, 1.5)):
    return (rng.uniform(-2, 2, shape), rng.uniform(*lv_range, shape), rng.standard_normal(shape))


def grad_mistakes(mu, logvar, eps, w) -> dict:
    mu, logvar, eps, w = (np.asarray(a, dtype=np.float64) for a in (mu, logvar, eps, w))
    sigma = np.exp(0.5 * logvar)
    return {
        "reparam.inverse_sigma": (-0.5 * eps * w / sigma, "It is the gradient of mu + exp(-0.5·logvar)·ε: "
                                  "the scale is σ = exp(+0.5·logvar), so ∂z/∂logvar = ½σε."),
        "reparam.product": (0.5 * mu * sigma * eps * w, "It is the gradient of mu·σ·ε: z = mu + σ·ε, "
                            "so ∂z/∂logvar = ½σε."),
        "reparam.variance_not_std": (np.exp(logvar) * eps * w, "It is exp(logvar)·ε, the gradient of "
                                     "mu + exp(logvar)·ε: σ is exp(0.5·logvar), so ∂z/∂logvar = ½σε."),
        "reparam.grad_missing_half": (sigma * eps * w, "It is σ·ε; the chain rule through "
                                      "exp(0.5·logvar) brings a factor ½: ∂z/∂logvar = ½σε."),
        "reparam.sigma_plus_eps": (0.5 * sigma * w, "It is ½σ without ε, the gradient of mu + σ + ε: the "
                                   "noise is σ TIMES ε."),
        "reparam.sign": (-0.5 * sigma * eps * w, "It is -½σε, the gradient of mu - σ·ε: z = mu + σ·ε."),
        "reparam.logvar_as_scale": (eps * w, "It is ε, the gradient of mu + logvar·ε: the scale is "
                                    "σ = exp(0.5·logvar)."),
    }


def mu_grad_mistakes(logvar, eps, w) -> dict:
    logvar, eps, w = (np.asarray(a, dtype=np.float64) for a in (logvar, eps, w))
    return {
        "reparam.product": (np.exp(0.5 * logvar) * eps * w, "It is σ·ε, the gradient of mu·σ·ε: "
                            "z = mu + σ·ε, so ∂z/∂mu = 1."),
        "reparam.sign": (-w, "It is -1: z = mu + σ·ε, so ∂z/∂mu = +1."),
    }


def gradients(sub, mu, logvar, eps, w, what: str, need=("mu", "logvar")):
    """(z, dmu, dlogvar) after backpropagating sum(w * z); Fail with teaching feedback when a path is cut."""
    value, grads = sub.grad(F, [T(mu, grad=True), T(logvar, grad=True), T(eps)], {}, [w])
    d_mu, d_lv = grads[0], grads[1]
    if d_mu is None and d_lv is None:
        raise Fail(f"{what}: no gradient reached mu or logvar. Stay in torch operations (no .detach(), "
                   ".numpy() or torch.tensor(...) copies) so the sample keeps its graph.", "torch.no_grad_path")
    if d_mu is None and "mu" in need:
        raise Fail(f"{what}: no gradient reached mu (was it detached or copied?). ∂z/∂mu is 1: "
                   "the reparameterization trick exists to keep this path.", "reparam.mu_detached")
    if d_lv is None and "logvar" in need:
        raise Fail(f"{what}: no gradient reached logvar (was σ computed from a detached or numpy "
                   "copy?). ∂z/∂logvar = ½σε must flow back to the encoder.", "reparam.logvar_detached")
    return value, d_mu, d_lv


@check("matches the lesson's worked example (z = [0.752, -1.251])", function=F, public=True, weight=2)
def lesson_example(sub, rng):
    expect_z(sub, MU, LOGVAR, EPS, "reparameterize on the lesson's mu, logvar and epsilon", show=True)
    # A twin with fresh values: a hard-coded [0.752, -1.251] earns nothing.
    expect_z(sub, *draw(rng, 2), "reparameterize on a second 2-D latent")


@check("random latent vectors with a given epsilon", function=F)
def random_vectors(sub, rng):
    for _ in range(3):
        d = int(rng.integers(1, 17))
        expect_z(sub, *draw(rng, d), f"reparameterize of {a_n(d)}-dimensional latent")


@check("a batch of latents (batch, latent) with a given epsilon", function=F, weight=2)
def batches(sub, rng):
    b, d = int(rng.integers(2, 9)), int(rng.integers(2, 9))
    expect_z(sub, *draw(rng, (b, d)), f"reparameterize of a ({b}, {d}) batch")


@check("float64 tensors and epsilon = 0 (z = mu) or 1 (z = mu + sigma)", function=F)
def special_noise(sub, rng):
    mu, lv, eps = draw(rng, 6)
    expect_z(sub, mu, lv, eps, "reparameterize of float64 tensors", dtype="float64")
    expect_z(sub, mu, lv, np.zeros(6), "reparameterize with epsilon = 0 (should give mu)")
    expect_z(sub, mu, lv, np.ones(6), "reparameterize with epsilon = 1 (should give mu + σ)")


@check("large and tiny logvar (-50 to 50) stay finite", function=F)
def extremes(sub, rng):
    mu, _, eps = draw(rng, 8)
    lv = rng.permutation([-50.0, 50.0, -30.0, 30.0, -10.0, 10.0, 0.0, -50.0])
    what = "reparameterize with logvar between -50 and 50"
    try:
        expect_z(sub, mu, lv, eps, what, show=False)
    except Fail as fail:
        z = as_array(sub.call(F, T(mu), T(lv), T(eps)), what)
        calm = np.abs(lv) <= 5
        want = reference(mu, lv, eps)
        if fail.misconception is None and z.shape == want.shape and np.all(np.isfinite(z)) \
                and np.allclose(z[calm], want[calm], rtol=1e-4, atol=1e-6):
            raise Fail(f"{what} is right for moderate logvar but wrong where logvar is large: did you clamp "
                       "logvar? z = mu + exp(0.5·logvar)·ε is finite for logvar in [-50, 50] without a clamp; "
                       "the lesson says to inspect the logvar range before adding an explicit clamp.",
                       "reparam.clamped") from None
        raise
    big = rng.choice([-1, 1], 8) * rng.uniform(20, 500, 8)
    expect_z(sub, big, rng.uniform(-1, 1, 8), eps, "reparameterize with |mu| between 20 and 500")


@check("dz/dmu is the identity", function=F, weight=2)
def grad_mu(sub, rng):
    shape = (int(rng.integers(2, 6)), int(rng.integers(2, 6)))
    mu, lv, eps = draw(rng, shape)
    w = rng.standard_normal(shape)
    _, d_mu, _ = gradients(sub, mu, lv, eps, w, "backpropagating through reparameterize", need=("mu",))
    expect_close(d_mu, w, "the gradient reaching mu", show=False, mistakes=mu_grad_mistakes(lv, eps, w))


@check("dz/dlogvar is 0.5 * sigma * epsilon", function=F, weight=2)
def grad_logvar(sub, rng):
    d = int(rng.integers(2, 12))
    mu, lv, eps = draw(rng, d)
    w = rng.standard_normal(d)
    _, _, d_lv = gradients(sub, mu, lv, eps, w, "backpropagating through reparameterize", need=("logvar",))
    expect_close(d_lv, 0.5 * np.exp(0.5 * lv) * eps * w, "the gradient reaching logvar", show=False,
                 mistakes=grad_mistakes(mu, lv, eps, w))


@check("gradients on the lesson's example and a batch", function=F)
def grad_lesson_and_batch(sub, rng):
    _, d_mu, d_lv = gradients(sub, MU, LOGVAR, EPS, np.ones(2), "backpropagating through reparameterize")
    expect_close(d_mu, np.ones(2), "∂z/∂mu on the lesson's example",
                 mistakes=mu_grad_mistakes(LOGVAR, EPS, np.ones(2)))
    expect_close(d_lv, 0.5 * np.exp(0.5 * np.asarray(LOGVAR)) * np.asarray(EPS), "∂z/∂logvar on the "
                 "lesson's example", mistakes=grad_mistakes(MU, LOGVAR, EPS, np.ones(2)))
    shape = (int(rng.integers(2, 7)), 3)
    mu, lv, eps = draw(rng, shape)
    w = rng.standard_normal(shape)
    _, d_mu, d_lv = gradients(sub, mu, lv, eps, w, "backpropagating through a batch")
    expect_close(d_mu, w, "∂z/∂mu on a batch", show=False)
    expect_close(d_lv, 0.5 * np.exp(0.5 * lv) * eps * w, "∂z/∂logvar on a batch", show=False,
                 mistakes=grad_mistakes(mu, lv, eps, w))


# --- epsilon = None: judged by the distribution of the samples ---------------------------

CALLS = 400


def chi2_bounds(k: int, z: float = Z_SIGMAS) -> tuple[float, float]:
    """Wilson-Hilferty bounds of a chi-square with k degrees of freedom, z standard errors out."""
    c = 2.0 / (9.0 * k)
    return k * max(1 - c - z * np.sqrt(c), 0.0) ** 3, k * (1 - c + z * np.sqrt(c)) ** 3


def samples(sub, mu, lv, what: str) -> np.ndarray:
    """(CALLS, *shape) samples from CALLS calls with epsilon omitted, in one round trip."""
    got = sub.repeat(F, CALLS, T(mu), T(lv))
    if not isinstance(got, list) or len(got) != CALLS:
        raise Fail(f"{what}: could not collect the samples.")
    arrays = [as_array(g, what) for g in got]
    for arr in arrays:
        if arr.shape != np.shape(mu):
            raise Fail(f"{what} has shape {arr.shape}; it should have the shape of mu, {np.shape(mu)}.", "shape")
    out = np.stack(arrays)
    if not np.all(np.isfinite(out)):
        raise Fail(nonfinite_message(what, logvar=True), "numeric.nonfinite")
    return out


def judge_distribution(z: np.ndarray, mu, lv, what: str) -> None:
    """Fail unless (z - mu) / sigma looks like independent N(0, 1) draws, naming the likely slip."""
    with np.errstate(all="ignore"):  # constant or degenerate samples: let the tests below name them
        _judge_distribution(z, mu, lv, what)


def _judge_distribution(z: np.ndarray, mu, lv, what: str) -> None:
    mu, lv = np.asarray(mu, dtype=np.float64), np.asarray(lv, dtype=np.float64)
    sigma = np.exp(0.5 * lv)
    n = z.shape[0]
    flat = (z - mu).reshape(n, -1)
    e = flat / sigma.reshape(-1)
    if np.all(np.ptp(flat, axis=0) == 0):
        if np.allclose(flat, 0.0, atol=1e-6):
            raise Fail(f"{what} always returns mu: with epsilon=None, draw ε = torch.randn_like(mu) "
                       "and add σ·ε.", "reparam.epsilon_ignored")
        raise Fail(f"{what} returns the same sample on every call: draw fresh noise each call (do not "
                   "reset a seed such as torch.manual_seed inside the function).", "reparam.same_noise")
    if np.abs(e).max() <= 1.0 + 1e-6:  # 400 standard normal draws per element would exceed 1 many times
        if np.allclose(np.abs(e), 1.0, atol=1e-4):
            raise Fail(f"{what}: every noise value is -1 or +1 (a random sign): ε must be standard normal, "
                       "torch.randn_like(mu).", "reparam.not_normal")
        raise Fail(f"{what}: the noise is bounded, like torch.rand's uniform draws: ε must be standard "
                   "normal, torch.randn_like(mu).", "reparam.uniform_noise")
    # Mean: a t statistic per element, (average of z - mu) / (sample sd / sqrt(n)).
    sample_sd = flat.std(axis=0, ddof=1)
    t = np.abs(flat.mean(axis=0)) / (sample_sd / np.sqrt(n) + 1e-300)
    if np.any(t > Z_SIGMAS):
        centred_on_zero = np.abs(z.reshape(n, -1).mean(axis=0)) <= Z_SIGMAS * sample_sd / np.sqrt(n) + 1e-9
        if np.all(centred_on_zero) and np.any(np.abs(mu) > 0.5):
            raise Fail(f"{what}: the samples are centred on 0, not on mu. z = mu + σ·ε: add mu, "
                       "don't multiply by it.", "reparam.product")
        raise Fail(f"{what}: the samples are not centred on mu (their average over {n} calls is off "
                   "by more than 8 standard errors). z = mu + σ·ε with ε ~ N(0, I).", "reparam.mean")
    # Spread: with mu known, the sum of squared standardised deviations is chi-square with n dof.
    lo, hi = chi2_bounds(n)
    ss = (e ** 2).sum(axis=0)
    if np.any((ss < lo) | (ss > hi)):
        ratio = sample_sd / sigma.reshape(-1)
        if np.allclose(np.log(sample_sd / np.exp(lv).reshape(-1)), 0.0, atol=0.3):
            raise Fail(f"{what}: the samples spread like exp(logvar), the variance; σ is "
                       "exp(0.5·logvar), the standard deviation.", "reparam.variance_not_std")
        if np.allclose(np.log(sample_sd * sigma.reshape(-1)), 0.0, atol=0.3):
            raise Fail(f"{what}: the samples spread like exp(-0.5·logvar) = 1/σ; the scale is "
                       "σ = exp(+0.5·logvar).", "reparam.inverse_sigma")
        if 0.8 <= float(np.mean(e ** 2)) <= 1.25:
            # Right variance on average, wrong per-element spread statistics: heavy or light tails.
            raise Fail(f"{what}: the noise has about the right variance but is not normally distributed "
                       "(its tails are too heavy or too light for N(0, 1) draws): draw ε = "
                       "torch.randn_like(mu).", "reparam.not_normal")
        raise Fail(f"{what}: the spread of the samples around mu is not σ = exp(0.5·logvar) "
                   f"(measured/expected standard deviation ranges from {ratio.min():.2f} to "
                   f"{ratio.max():.2f}). z = mu + exp(0.5·logvar)·ε with ε = torch.randn_like(mu).",
                   "reparam.spread")
    # Freshness: no two calls may give the same sample.
    rows = np.round(flat, 6) + 0.0   # + 0.0: -0.0 and 0.0 are the same value
    if len({row.tobytes() for row in rows}) < n:
        raise Fail(f"{what} returned the very same sample on two calls: the noise must be fresh on "
                   "every call (no fixed seed, no cached ε).", "reparam.same_noise")
    # Independence across elements: under independence, each correlation is about N(0, 1/n).
    if e.shape[1] > 1:
        r = np.corrcoef(e, rowvar=False)
        off = np.abs(r[~np.eye(r.shape[0], dtype=bool)])
        if np.any(off > 0.6):  # about 12 standard errors for n = 400
            raise Fail(f"{what}: several latent elements share the same noise. Every element needs "
                       "its own ε: torch.randn_like(mu) draws one per element (not one number, and "
                       "not one row reused across the batch).", "reparam.shared_noise")


@check("epsilon=None: samples have mean mu and standard deviation sigma", function=F, weight=3)
def sampled_distribution(sub, rng):
    shape = (4, 8)
    mu = rng.uniform(-2, 2, shape)
    lv = rng.choice([-1, 1], shape) * rng.uniform(1.0, 2.0, shape)  # |logvar| >= 1 tells σ from σ²
    judge_distribution(samples(sub, mu, lv, "reparameterize(mu, logvar)"), mu, lv,
                       "reparameterize(mu, logvar) without epsilon")


@check("epsilon=None: fresh noise on every call and for every element", function=F, weight=2)
def fresh_noise(sub, rng):
    d = int(rng.integers(6, 13))
    mu = rng.uniform(-1, 1, d)
    lv = rng.uniform(-1, 1, d)
    z = samples(sub, mu, lv, "reparameterize(mu, logvar)")
    judge_distribution(z, mu, lv, f"reparameterize of {a_n(d)}-dimensional latent without epsilon")


@check("epsilon=None: the sample still carries gradients to mu and logvar", function=F)
def sampled_gradients(sub, rng):
    shape = (int(rng.integers(2, 6)), int(rng.integers(2, 6)))
    mu, lv, _ = draw(rng, shape)
    w = rng.standard_normal(shape)
    value, grads = sub.grad(F, [T(mu, grad=True), T(lv, grad=True)], {}, [w], verify=False)  # a fresh sample per call
    z = as_array(value, "reparameterize(mu, logvar)")
    if z.shape != shape:
        raise Fail(f"reparameterize(mu, logvar) has shape {z.shape}; it should have the shape of mu, {shape}.",
                   "shape")
    if grads[0] is None or grads[1] is None:
        raise Fail("without epsilon, no gradient reached "
                   f"{'mu' if grads[0] is None else 'logvar'}: draw ε with torch.randn_like(mu) and keep "
                   "z = mu + exp(0.5·logvar)·ε in torch.", "torch.no_grad_path")
    with np.errstate(all="ignore"):
        expect_close(grads[0], w, "∂z/∂mu without epsilon", show=False, mistakes={
            "reparam.product": (z / mu * w, "It is σ·ε, the gradient of mu·σ·ε: z = mu + σ·ε, so "
                                "∂z/∂mu = 1."),
        })
    # σ·ε = z - mu, so ∂z/∂logvar = ½(z - mu), whatever noise was drawn.
    expect_close(grads[1], 0.5 * (z - mu) * w, "∂z/∂logvar without epsilon", show=False, mistakes={
        "reparam.variance_not_std": ((z - mu) * w, "It is σ²·ε-shaped: with σ = exp(0.5·logvar), "
                                     "∂z/∂logvar = ½σε = ½(z - mu)."),
        "reparam.inverse_sigma": (-0.5 * (z - mu) * w, "It is -½(z - mu), the gradient of mu + "
                                  "exp(-0.5·logvar)·ε: the scale is σ = exp(+0.5·logvar)."),
        "reparam.sigma_plus_eps": (0.5 * np.exp(0.5 * lv) * w, "It is ½σ without ε, the gradient of "
                                   "mu + σ + ε: the noise is σ TIMES ε."),
        "reparam.logvar_as_scale": (np.divide(z - mu, lv, out=np.zeros_like(lv), where=lv != 0) * w,
                                    "It is ε, the gradient of mu + logvar·ε: the scale is σ = exp(0.5·logvar)."),
    })


# The noise's whole distribution, not only its first two moments: a Kolmogorov-Smirnov distance to
# N(0, 1) over NORMAL_CALLS x NORMAL_SIZE standardised draws. By the Dvoretzky-Kiefer-Wolfowitz
# inequality (Massart's constant), a correct torch.randn_like exceeds the bound with probability at
# most 2·exp(-2·n·bound²) = FALSE_FAILURE, whatever the seed: the same correct code never loses these
# points. Uniform noise scaled to unit variance sits 0.058 from N(0, 1), Laplace 0.062, Student t(5) 0.039, a random
# sign 0.34: all far above the bound (0.0096 for 128,000 draws).
NORMAL_CALLS, NORMAL_SIZE = 500, 256
FALSE_FAILURE = 1e-10


def ks_bound(n: int, p: float = FALSE_FAILURE) -> float:
    return math.sqrt(math.log(2.0 / p) / (2.0 * n))


# Abramowitz & Stegun 7.1.26: erfc(a) = poly(t)·exp(-a²) with t = 1/(1 + p·a), a >= 0, to within 1.5e-7;
# so the normal CDF below is within CDF_ERROR of the exact one, and a KS distance within CDF_ERROR too.
_AS_P = 0.3275911
_AS_COEFFS = (1.061405429, -1.453152027, 1.421413741, -0.284496736, 0.254829592)
CDF_ERROR = 0.75e-7


def normal_cdf(v: np.ndarray) -> np.ndarray:
    """Φ(v) of N(0, 1), vectorised (within CDF_ERROR; 128,000 values in about a millisecond)."""
    v = np.asarray(v, dtype=np.float64)
    a = np.abs(v) / math.sqrt(2.0)
    t = 1.0 / (1.0 + _AS_P * a)
    poly = np.zeros_like(t)
    for c in _AS_COEFFS:
        poly = (poly + c) * t
    tail = 0.5 * poly * np.exp(-a * a)   # P(N(0, 1) > |v|)
    return np.where(v < 0, tail, 1.0 - tail)


def ks_distance(e: np.ndarray) -> float:
    """The Kolmogorov-Smirnov distance between the empirical distribution of `e` and N(0, 1)."""
    x = np.sort(np.ravel(e))
    n = x.size
    cdf = normal_cdf(x)
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - cdf), np.max(cdf - (i - 1) / n)))


@check("epsilon=None: the noise is standard normal (not only mean 0 and variance 1)", function=F, weight=2)
def normal_noise(sub, rng):
    mu = rng.uniform(-2, 2, NORMAL_SIZE)
    lv = rng.uniform(-1.5, 1.5, NORMAL_SIZE)
    what = "reparameterize(mu, logvar) without epsilon"
    got = sub.repeat(F, NORMAL_CALLS, T(mu), T(lv))
    if not isinstance(got, list) or len(got) != NORMAL_CALLS:
        raise Fail(f"{what}: could not collect the samples.")
    z = np.stack([as_array(g, what).reshape(-1) if as_array(g, what).size == NORMAL_SIZE
                  else np.full(NORMAL_SIZE, np.nan) for g in got])
    if not np.all(np.isfinite(z)):
        raise Fail(f"{what} should give one finite value per element of mu.")
    e = (z - mu) / np.exp(0.5 * lv)
    judge_distribution(z[:CALLS], mu, lv, what)        # mean, spread and freshness first, named
    distance, bound = ks_distance(e), ks_bound(e.size)
    if distance > bound + CDF_ERROR:   # the CDF's own error never fails a correct draw
        raise Fail(f"{what}: the noise has mean 0 and variance 1 but is not normally distributed (its "
                   f"distribution is {distance:.3f} from N(0, 1) by the Kolmogorov-Smirnov distance; draws "
                   f"of a normal stay within {bound:.3f}). Scaled uniform or random-sign noise has the right "
                   "two moments and the wrong shape: draw ε = torch.randn_like(mu).", "reparam.not_normal")


# Each SPEC clause of this concept, and the checks that enforce it.
CLAUSES = {
    "z = μ + exp(½·logvar) ⊙ ε as a torch tensor, with a given ε [z = [0.752, −1.251]]":
        ["lesson_example", "random_vectors", "batches", "special_noise"],
    "logvar in [-50, 50] gives finite results": ["extremes"],
    "∂z/∂μ = 1": ["grad_mu", "grad_lesson_and_batch"],
    "∂z/∂logvar = ½σε": ["grad_logvar", "grad_lesson_and_batch"],
    "ε = None: samples have mean μ and standard deviation σ": ["sampled_distribution"],
    "ε = None: ε is drawn like torch.randn_like (standard normal, not only its two moments)": ["normal_noise"],
    "ε = None: fresh noise per call and per element": ["fresh_noise", "sampled_distribution"],
    "ε = None: gradients reach μ and logvar": ["sampled_gradients"],
}
