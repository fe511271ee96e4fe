"""Hidden checks for `kl`: kl_to_standard_normal(mu, logvar) -> float, kl_per_dimension(mu, logvar) -> array.

KL(N(μ, diag σ²) ‖ N(0, I)) = −½ Σⱼ (1 + logvarⱼ − μⱼ² − exp(logvarⱼ)); for a (batch, latent) input
the total is the batch mean of the per-example sums, and the per-dimension values are averaged
over the batch.
"""

from __future__ import annotations

import numpy as np

from grader.checks import Either, Fail, a_n, as_array, check, close, expect_close, expect_raises

TOTAL, PER_DIM = "kl_to_standard_normal", "kl_per_dimension"
SECTION = "(lesson: \"Keep posteriors near a sampleable prior\")"
# The lesson's three posteriors: (mu, logvar, KL).
LESSON = [([0.0, 0.0], [0.0, 0.0], 0.0),
          ([0.4, -0.2], [-0.7, 0.1], 0.2009),
          ([2.0, -1.5], [-1.5, 1.2], 4.0466)]


def terms(mu, logvar, variance=np.exp) -> np.ndarray:
    mu, logvar = np.asarray(mu, dtype=np.float64), np.asarray(logvar, dtype=np.float64)
    return -0.5 * (1.0 + logvar - mu**2 - variance(logvar))


def reduce_total(t: np.ndarray) -> float:
    return float(t.sum(axis=-1).mean()) if t.ndim == 2 else float(t.sum())


def reduce_per_dim(t: np.ndarray) -> np.ndarray:
    return t.mean(axis=0) if t.ndim == 2 else t


def reference_total(mu, logvar) -> float:
    return max(reduce_total(terms(mu, logvar)), 0.0) + 0.0


def reference_per_dim(mu, logvar) -> np.ndarray:
    return np.maximum(reduce_per_dim(terms(mu, logvar)), 0.0) + 0.0


def _slips(mu, logvar) -> dict:
    """Elementwise terms as each usual slip computes them, with the tutor's words."""
    mu, lv = np.asarray(mu, dtype=np.float64), np.asarray(logvar, dtype=np.float64)
    with np.errstate(all="ignore"):
        return {
            "kl.wrong_sign": (0.5 * (1 + lv - mu**2 - np.exp(lv)),
                              "It has the wrong sign: KL = −½ Σ (1 + logvar − μ² − exp(logvar)), with the "
                              "minus sign in front (KL is never negative). " + SECTION),
            "kl.sigma_not_variance": (terms(mu, lv, lambda v: np.exp(0.5 * v)),
                                      "The last term uses exp(0.5·logvar) = σ; the formula needs the "
                                      "variance σ² = exp(logvar). " + SECTION),
            "kl.forgot_one": (-0.5 * (lv - mu**2 - np.exp(lv)),
                              "The 1 inside the bracket is missing: −½ Σ (1 + logvar − μ² − exp(logvar)). "
                              "Without it the KL of N(0, I) to itself is not zero. " + SECTION),
            "kl.logvar_squared": (-0.5 * (1 + lv - mu**2 - lv**2),
                                  "The variance term is logvar²; the variance is exp(logvar), not the "
                                  "square of the log-variance. " + SECTION),
            "kl.missing_half": (-(1 + lv - mu**2 - np.exp(lv)),
                                "It is twice the KL: the ½ in front of the sum is missing. " + SECTION),
            "kl.mu_not_squared": (-0.5 * (1 + lv - mu - np.exp(lv)),
                                  "μ enters squared: the term is μ², not μ. " + SECTION),
            "kl.sigma_for_logvar": (-0.5 * (1 + np.exp(0.5 * lv) - mu**2 - np.exp(lv)),
                                    "The second term is logvar itself (log σ²), not σ. " + SECTION),
        }


def _clipped(value):
    """A slip's value as-is, and clipped at zero the way the reference clips (the stub's advice)."""
    return Either(value, np.maximum(value, 0.0) + 0.0)


def total_mistakes(mu, logvar) -> dict:
    t = terms(mu, logvar)
    found = {}
    if t.ndim == 2:
        found["kl.batch_sum"] = (float(t.sum()), "It is the batch sum of the per-example KL: average "
                                 "the per-example sums over the batch (batch mean), don't add them up.")
    found.update({mid: (reduce_total(w), msg) for mid, (w, msg) in _slips(mu, logvar).items()})
    found["kl.wrong_sign"] = (found["kl.wrong_sign"][0], found["kl.wrong_sign"][1] + " (Clipping at zero "
                              "hides a wrong sign: the clipped value is 0 whatever mu and logvar are.)")
    if t.ndim == 2:
        found["kl.mean_over_latent"] = (float(t.mean()), "It averages over the latent dimensions: sum "
                                        "over latent dimensions, then average over the batch.")
        found["kl.mean_over_latent_sum_batch"] = (float(t.mean(axis=1).sum()), "It averages over the "
                                                  "latent dimensions and sums over the batch: it should "
                                                  "be the other way round.")
    else:
        found["kl.mean_over_latent"] = (float(t.mean()), "It averages over the latent dimensions: the "
                                        "KL of a diagonal Gaussian is the sum over dimensions.")
    return {mid: (_clipped(w), msg) for mid, (w, msg) in found.items()}


def per_dim_mistakes(mu, logvar) -> dict:
    t = terms(mu, logvar)
    found = {}
    if t.ndim == 2:
        found["kl.batch_sum"] = (t.sum(axis=0), "Each dimension's value is summed over the batch: "
                                 "average it over the batch instead (the batch mean).")
    found.update({mid: (reduce_per_dim(w), msg) for mid, (w, msg) in _slips(mu, logvar).items()})
    if t.ndim == 2:
        found["kl.per_dim_over_latent"] = (t.mean(axis=0) / t.shape[1], "Each value is divided by the "
                                           "number of latent dimensions: the per-dimension values must "
                                           "add up to the total KL.")
    else:
        found["kl.per_dim_over_latent"] = (t / t.shape[-1], "Each value is divided by the number of "
                                           "latent dimensions: the per-dimension values must add up to "
                                           "the total KL.")
    return {mid: (_clipped(w), msg) for mid, (w, msg) in found.items()}


CLAMPED = ("It is right for moderate logvar but wrong where logvar is large: did you clamp logvar? The "
           "KL formula is finite for logvar in [-50, 50] without a clamp; the lesson says to inspect the "
           "logvar range before adding an explicit clamp. " + SECTION)


def moderate(logvar) -> np.ndarray:
    """The same logvar with its extreme entries (|logvar| > 5) replaced by moderate ones."""
    lv = np.array(logvar, dtype=np.float64)
    big = np.abs(lv) > 5
    lv[big] = np.sign(lv[big]) * 2.0
    return lv


def expect_total(sub, mu, logvar, what: str, show: bool = False) -> float:
    got = sub.call(TOTAL, mu, logvar)
    expected = reference_total(mu, logvar)
    arr = as_array(got, what)
    t = terms(mu, logvar)
    if t.ndim == 2 and arr.shape == (t.shape[0],):
        if close(arr, np.maximum(t.sum(axis=1), 0.0)) or close(arr, t.sum(axis=1)):
            raise Fail(f"{what} returned one KL per example (shape {arr.shape}): average the "
                       "per-example sums over the batch to return a single number.", "kl.per_example")
    if arr.ndim == 1 and arr.size > 1 and close(arr, reference_per_dim(mu, logvar)):
        raise Fail(f"{what} returned the per-dimension values: kl_to_standard_normal sums them "
                   "to a single number.", "kl.per_dim_not_summed")
    expect_close(got, expected, what, mistakes=total_mistakes(mu, logvar), show=show, scalar=True,
                 logvar=True)
    value = float(arr)
    if value < 0:
        raise Fail(f"{what} is negative ({value:.3g}): round-off can make a KL near zero slightly "
                   "negative; clip it at zero, KL is never negative.", "kl.negative")
    if np.signbit(value):
        raise Fail(f"{what} is -0.0: −½·0 gives negative zero. Clip at zero and add 0.0 (or use "
                   "max(0.0, value)) so you return 0.0.", "kl.negative_zero")
    return value


def expect_per_dim(sub, mu, logvar, what: str, show: bool = False) -> np.ndarray:
    got = sub.call(PER_DIM, mu, logvar)
    expected = reference_per_dim(mu, logvar)
    arr = as_array(got, what)
    t = terms(mu, logvar)
    if t.ndim == 2 and arr.shape == t.shape and (close(arr, t) or close(arr, np.maximum(t, 0.0))):
        raise Fail(f"{what} returned the full (batch, latent) table of terms: average each "
                   "dimension over the batch to get shape (latent,).", "kl.per_dim_not_reduced")
    if arr.ndim == 0 and close(arr, reference_total(mu, logvar)):
        raise Fail(f"{what} returned the total KL: kl_per_dimension keeps one value per latent "
                   "dimension (don't sum over the latent axis).", "kl.per_dim_summed")
    expect_close(got, expected, what, mistakes=per_dim_mistakes(mu, logvar), show=show, logvar=True)
    if np.any(arr < 0):
        raise Fail(f"{what} has a negative entry: each dimension's KL is never negative; clip the "
                   "round-off at zero with np.maximum(..., 0.0).", "kl.negative")
    if np.any(np.signbit(arr)):
        raise Fail(f"{what} has a -0.0 entry: −½·0 gives negative zero. Clip at zero and add 0.0 "
                   "so every entry is +0.0 or positive.", "kl.negative_zero")
    return arr


def expect_shape_error(sub, func: str, mu, logvar, what: str) -> None:
    """Mismatched shapes must raise ValueError; a returned value is silent broadcasting."""
    expect_raises(sub, ValueError, func, mu, logvar, what=what, returned=(
        "Compare mu.shape with logvar.shape first: numpy broadcasts mismatched shapes silently into a "
        "plausible but meaningless number.", "kl.silent_broadcast"))


def roundoff_logvar(rng, shape) -> np.ndarray:
    """logvar values within 2e-9 of zero whose KL term -0.5*(1 + lv - exp(lv)) rounds to a negative number
    in float64: an unclipped KL of these (with mu = 0) comes out slightly below zero."""
    candidates = rng.uniform(-2e-9, 2e-9, 20000)
    negative = candidates[terms(np.zeros_like(candidates), candidates) < 0]
    return rng.choice(negative, size=shape)


def posterior(rng, shape, mu_scale=1.0, lv_scale=1.0):
    return rng.normal(0, mu_scale, shape), rng.normal(0, lv_scale, shape)


# --- kl_to_standard_normal -------------------------------------------------------


@check("matches the lesson's three posteriors (0.0, 0.2009, 4.0466)", function=TOTAL, public=True, weight=2)
def lesson_examples(sub, rng):
    # The informative posteriors first: at the prior (KL 0) many slips give the right answer too.
    for mu, lv, _ in (LESSON[1], LESSON[2], LESSON[0]):
        expect_total(sub, mu, lv, f"kl_to_standard_normal(mu={mu}, logvar={lv})", show=True)
    # A twin with fresh values: hard-coded answers earn nothing.
    mu, lv = posterior(rng, 2)
    expect_total(sub, mu, lv, "kl_to_standard_normal of a second 2-dimensional posterior")


@check("random 1-D posteriors (sum over latent dimensions)", function=TOTAL, weight=2)
def total_random(sub, rng):
    for _ in range(3):
        d = int(rng.integers(1, 20))
        mu, lv = posterior(rng, d, 1.5, 1.5)
        expect_total(sub, mu, lv, f"kl_to_standard_normal of {a_n(d)}-dimensional posterior")


@check("a (batch, latent) input gives the batch mean of per-example sums", function=TOTAL, weight=2)
def total_batch(sub, rng):
    b, d = int(rng.integers(3, 9)), int(rng.integers(2, 8))  # not 2: a batch sum and a missing ½ coincide there
    mu, lv = posterior(rng, (b, d))
    expect_total(sub, mu, lv, f"kl_to_standard_normal of a ({b}, {d}) batch")
    expect_total(sub, mu[:1], lv[:1], f"kl_to_standard_normal of a (1, {d}) batch")


@check("nested Python lists are accepted", function=TOTAL)
def total_lists(sub, rng):
    mu, lv = posterior(rng, (3, 4))
    expect_total(sub, mu.tolist(), lv.tolist(), "kl_to_standard_normal of nested lists")


@check("exactly 0.0 at the prior (never -0.0), and never negative near it", function=TOTAL, weight=2)
def total_zero(sub, rng):
    d = int(rng.integers(1, 8))
    cases = [(np.zeros(d), np.zeros(d), f"kl_to_standard_normal at mu = 0, logvar = 0 ({d} dims)"),
             (np.zeros((3, d)), np.zeros((3, d)), "kl_to_standard_normal of a batch at the prior"),
             (np.zeros(d), roundoff_logvar(rng, d), "kl_to_standard_normal with logvar within 2e-9 of zero"),
             (np.zeros((4, d)), roundoff_logvar(rng, (4, d)),
              "kl_to_standard_normal of a batch with logvar within 2e-9 of zero")]
    mu, lv = posterior(rng, d)
    cases.append((mu, lv, f"kl_to_standard_normal of {a_n(d)}-dimensional posterior"))
    sub.ahead(TOTAL, [(m, v) for m, v, _ in cases])
    for m, v, what in cases:
        expect_total(sub, m, v, what)


@check("finite and exact for logvar in [-50, 50]", function=TOTAL)
def total_extremes(sub, rng):
    lv = np.concatenate([[-50.0, 50.0], rng.uniform(-50, 50, 4)])
    mu = rng.normal(0, 2, lv.shape)
    what = "kl_to_standard_normal with logvar in [-50, 50]"
    try:
        expect_total(sub, mu, lv, what)
    except Fail as fail:
        if fail.misconception is None:
            got = as_array(sub.call(TOTAL, mu, moderate(lv)), what)
            if got.ndim == 0 and close(got, reference_total(mu, moderate(lv))):
                raise Fail(f"{what} is off. {CLAMPED}", "kl.clamped") from None
        raise
    expect_total(sub, np.stack([mu, -mu]), np.stack([lv, lv[::-1]]),
                 "kl_to_standard_normal of a batch with logvar in [-50, 50]")


@check("mismatched mu and logvar shapes raise ValueError", function=TOTAL, weight=2)
def total_shapes(sub, rng):
    d = int(rng.integers(2, 7))
    mu, lv = posterior(rng, (3, d))
    # A correct value first: a function that always raises ValueError earns nothing.
    expect_total(sub, mu, lv, f"kl_to_standard_normal of a (3, {d}) batch")
    expect_shape_error(sub, TOTAL, mu[0], lv[0, :-1],
                       f"mu of shape ({d},) and logvar of shape ({d - 1},)")
    expect_shape_error(sub, TOTAL, mu, lv[0],
                       f"mu of shape (3, {d}) and logvar of shape ({d},) would broadcast silently")


# --- kl_per_dimension ------------------------------------------------------------


@check("per-dimension values of the lesson's posterior (they sum to 0.2009)", function=PER_DIM, public=True,
       weight=2)
def per_dim_lesson(sub, rng):
    mu, lv, _ = LESSON[1]
    expect_per_dim(sub, mu, lv, "kl_per_dimension(mu=[0.4, -0.2], logvar=[-0.7, 0.1])", show=True)
    mu, lv = posterior(rng, 2)
    expect_per_dim(sub, mu, lv, "kl_per_dimension of a second 2-dimensional posterior")


@check("random 1-D posteriors", function=PER_DIM)
def per_dim_random(sub, rng):
    for _ in range(2):
        d = int(rng.integers(1, 20))
        mu, lv = posterior(rng, d, 1.5, 1.5)
        expect_per_dim(sub, mu, lv, f"kl_per_dimension of {a_n(d)}-dimensional posterior")


@check("a (batch, latent) input is averaged over the batch", function=PER_DIM, weight=2)
def per_dim_batch(sub, rng):
    b, d = int(rng.integers(3, 9)), int(rng.integers(2, 8))
    mu, lv = posterior(rng, (b, d))
    expect_per_dim(sub, mu, lv, f"kl_per_dimension of a ({b}, {d}) batch")


@check("the per-dimension values sum to kl_to_standard_normal", function=PER_DIM)
def per_dim_sums(sub, rng):
    b, d = int(rng.integers(3, 6)), int(rng.integers(2, 6))
    mu, lv = posterior(rng, (b, d))
    per_dim = expect_per_dim(sub, mu, lv, f"kl_per_dimension of a ({b}, {d}) batch")
    # Checked against the reference total, not the learner's own kl_to_standard_normal: checks are
    # per function, so a missing or wrong total never costs kl_per_dimension its points.
    expect_close(per_dim.sum(), reference_total(mu, lv), "the sum of kl_per_dimension", scalar=True,
                 show=False)
    mu, lv = posterior(rng, d, 2.0, 2.0)
    per_dim = expect_per_dim(sub, mu, lv, f"kl_per_dimension of {a_n(d)}-dimensional posterior")
    expect_close(per_dim.sum(), reference_total(mu, lv), "the sum of kl_per_dimension", scalar=True,
                 show=False)


@check("zero at the prior: no -0.0 and no negative entries", function=PER_DIM, weight=2)
def per_dim_zero(sub, rng):
    d = int(rng.integers(2, 8))
    cases = [(np.zeros(d), np.zeros(d), f"kl_per_dimension at mu = 0, logvar = 0 ({d} dims)"),
             (np.zeros((2, d)), np.zeros((2, d)), "kl_per_dimension of a batch at the prior"),
             (np.zeros(d), roundoff_logvar(rng, d), "kl_per_dimension with logvar within 2e-9 of zero"),
             (np.zeros((3, d)), roundoff_logvar(rng, (3, d)),
              "kl_per_dimension of a batch with logvar within 2e-9 of zero")]
    mu, lv = posterior(rng, d)
    cases.append((mu, lv, f"kl_per_dimension of {a_n(d)}-dimensional posterior"))
    sub.ahead(PER_DIM, [(m, v) for m, v, _ in cases])
    for m, v, what in cases:
        expect_per_dim(sub, m, v, what)


@check("finite and exact for logvar in [-50, 50]", function=PER_DIM)
def per_dim_extremes(sub, rng):
    lv = np.concatenate([[-50.0, 50.0], rng.uniform(-50, 50, 4)])
    mu = rng.normal(0, 2, lv.shape)
    what = "kl_per_dimension with logvar in [-50, 50]"
    try:
        expect_per_dim(sub, mu, lv, what)
    except Fail as fail:
        got = as_array(sub.call(PER_DIM, mu, lv), what)
        calm = np.abs(lv) <= 5
        expected = reference_per_dim(mu, lv)
        if fail.misconception is None and got.shape == expected.shape and np.all(np.isfinite(got)) \
                and close(got[calm], expected[calm]):
            raise Fail(f"{what} is off. {CLAMPED}", "kl.clamped") from None
        raise


@check("nested lists, and mismatched shapes raise ValueError", function=PER_DIM, weight=2)
def per_dim_shapes(sub, rng):
    d = int(rng.integers(2, 7))
    mu, lv = posterior(rng, (2, d))
    expect_per_dim(sub, mu.tolist(), lv.tolist(), f"kl_per_dimension of nested lists (2, {d})")
    expect_shape_error(sub, PER_DIM, mu[0], lv[0, :-1],
                       f"mu of shape ({d},) and logvar of shape ({d - 1},)")
    expect_shape_error(sub, PER_DIM, mu, lv[:1],
                       f"mu of shape (2, {d}) and logvar of shape (1, {d}) would broadcast silently")


@check("large mu and mismatched shapes that hold as many values", function=TOTAL)
def total_large_mu_and_same_size(sub, rng):
    d = int(rng.integers(2, 6))
    mu = rng.choice([-1, 1], d) * rng.uniform(20, 500, d)           # far beyond any usual clamp range
    lv = rng.normal(0, 1, d)
    pairs = [(rng.normal(0, 1, a), rng.normal(0, 1, b), a, b)
             for a, b in (((d,), (1, d)), ((1, d), (d,)), ((d, 1), (d,)), ((2, 3), (3, 2)))]
    sub.ahead(TOTAL, [(mu, lv)] + [(p, q) for p, q, _, _ in pairs])
    expect_total(sub, mu, lv, f"kl_to_standard_normal with |mu| between 20 and 500 ({d} dims)")
    for p, q, a, b in pairs:
        expect_shape_error(sub, TOTAL, p, q, f"mu of shape {a} and logvar of shape {b} (the same number of values)")


@check("large mu and mismatched shapes that hold as many values", function=PER_DIM)
def per_dim_large_mu_and_same_size(sub, rng):
    d = int(rng.integers(2, 6))
    mu = rng.choice([-1, 1], (3, d)) * rng.uniform(20, 500, (3, d))
    lv = rng.normal(0, 1, (3, d))
    pairs = [(rng.normal(0, 1, a), rng.normal(0, 1, b), a, b)
             for a, b in (((d,), (1, d)), ((1, d), (d,)), ((d, 1), (d,)), ((2, 3), (3, 2)))]
    sub.ahead(PER_DIM, [(mu, lv)] + [(p, q) for p, q, _, _ in pairs])
    expect_per_dim(sub, mu, lv, f"kl_per_dimension with |mu| between 20 and 500 (a (3, {d}) batch)")
    for p, q, a, b in pairs:
        expect_shape_error(sub, PER_DIM, p, q, f"mu of shape {a} and logvar of shape {b} (the same number of values)")


# Each SPEC clause of this concept, and the checks that enforce it.
CLAUSES = {
    "kl_to_standard_normal of 1-D input: −½ Σ (1 + logvar − μ² − exp(logvar)) [0.0, 0.2009, 4.0466]":
        ["lesson_examples", "total_random", "total_large_mu_and_same_size"],
    "kl_to_standard_normal of 2-D input: the batch mean of the per-example sums": ["total_batch", "total_lists"],
    "kl_to_standard_normal is never negative and never −0.0": ["total_zero"],
    "kl_to_standard_normal: logvar in [-50, 50] gives finite results": ["total_extremes"],
    "kl_to_standard_normal: shapes of μ and logvar must match (ValueError)":
        ["total_shapes", "total_large_mu_and_same_size"],
    "kl_per_dimension: each dimension's KL, shape (latent,), averaged over a batch":
        ["per_dim_lesson", "per_dim_random", "per_dim_batch"],
    "kl_per_dimension sums to kl_to_standard_normal": ["per_dim_sums"],
    "kl_per_dimension is never negative and never −0.0": ["per_dim_zero"],
    "kl_per_dimension: logvar in [-50, 50] gives finite results": ["per_dim_extremes"],
    "kl_per_dimension: shapes of μ and logvar must match (ValueError)":
        ["per_dim_shapes", "per_dim_large_mu_and_same_size"],
}
