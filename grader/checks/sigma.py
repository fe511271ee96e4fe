"""Hidden checks for `sigma`: logvar_to_sigma(logvar) -> np.ndarray (σ = exp(½·logvar))."""

from __future__ import annotations

import numpy as np

from grader.checks import Fail, as_array, check, close, expect_close

F = "logvar_to_sigma"
LOGVAR = [-0.70, 0.10]                # the lesson's encoder output
SECTION = "(lesson: \"A VAE learns distributions over codes\")"


def reference(logvar) -> np.ndarray:
    return np.exp(0.5 * np.asarray(logvar, dtype=np.float64))


def mistakes(logvar) -> dict:
    """What the usual slips return for this logvar, and how a tutor names each one."""
    lv = np.asarray(logvar, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return {
            "sigma.variance": (np.exp(lv), "This is exp(logvar), the variance σ²; σ is exp(0.5·logvar). "
                               "logvar = log σ², so half of it is log σ. " + SECTION),
            "sigma.sqrt_logvar": (np.sqrt(lv), "This is sqrt(logvar): logvar is a logarithm, so undo it "
                                  "with exp, σ = exp(0.5·logvar) (and sqrt of a negative logvar is NaN). "
                                  + SECTION),
            "sigma.inverse": (np.exp(-0.5 * lv), "This is exp(-0.5·logvar) = 1/σ: drop the minus sign, "
                              "σ = exp(+0.5·logvar). " + SECTION),
            "sigma.log_sigma": (0.5 * lv, "This is 0.5·logvar = log σ: you still need to exponentiate, "
                                "σ = exp(0.5·logvar). " + SECTION),
            "sigma.identity": (lv, "This is logvar unchanged: σ = exp(0.5·logvar). " + SECTION),
            "sigma.exp_logvar_half_sq": (np.exp(lv) ** 2, "This is exp(logvar)², the variance squared: "
                                         "σ = exp(0.5·logvar). " + SECTION),
        }


def _same_with_nans(arr: np.ndarray, wrong: np.ndarray) -> bool:
    """True when arr equals `wrong` where `wrong` is finite and is NaN/inf exactly where `wrong` is."""
    wrong = np.asarray(wrong, dtype=np.float64)
    if arr.shape != wrong.shape:
        return False
    finite = np.isfinite(wrong)
    if not np.array_equal(np.isfinite(arr), finite):
        return False
    return bool(np.allclose(arr[finite], wrong[finite], rtol=1e-4, atol=1e-6))


def expect_sigma(sub, logvar, what: str, show: bool = False) -> np.ndarray:
    got = sub.call(F, logvar)
    arr = as_array(got, what)
    found = mistakes(logvar)
    if not np.all(np.isfinite(arr)):
        # A NaN is the signature of some mistakes (sqrt of a negative logvar): name it first.
        for mistake_id, (wrong, message) in found.items():
            if not np.all(np.isfinite(wrong)) and _same_with_nans(arr, wrong):
                raise Fail(f"{what} is off. {message}", mistake_id)
    clamp_fits(arr, logvar, found, what)
    expect_close(got, reference(logvar), what, mistakes=found, show=show, logvar=True)
    return arr


def clamp_fits(arr: np.ndarray, logvar, found: dict, what: str) -> None:
    """Name a clamp of logvar: the values are exp(0.5·clip(logvar, lo, hi)) for the bounds they imply."""
    lv = np.asarray(logvar, dtype=np.float64)
    if arr.shape != lv.shape or not np.all(np.isfinite(arr)) or not np.all(arr > 0) or not np.any(np.abs(lv) > 5):
        return
    if close(arr, reference(lv)) or any(close(arr, wrong) for wrong, _ in found.values()):
        return
    lo, hi = 2 * np.log(arr.min()), 2 * np.log(arr.max())
    if close(arr, reference(np.clip(lv, lo, hi))):
        raise Fail(f"{what} is off where logvar is large: the values stop at σ = exp(0.5·{hi:.3g}) (and "
                   f"exp(0.5·{lo:.3g})), so logvar was clamped. exp(0.5·logvar) is finite over [-50, 50] "
                   "without a clamp; the lesson says to inspect the logvar range before adding an explicit "
                   "clamp. " + SECTION, "sigma.clamped")


@check("matches the lesson's worked example ([-0.70, 0.10] → [0.705, 1.051])", function=F, public=True,
       weight=2)
def lesson_example(sub, rng):
    expect_sigma(sub, LOGVAR, "logvar_to_sigma([-0.70, 0.10])", show=True)
    # A twin with fresh values: a hard-coded [0.705, 1.051] earns nothing.
    expect_sigma(sub, rng.uniform(-2, 2, 2), "logvar_to_sigma on a second 2-value logvar")


@check("random 1-D logvar vectors", function=F, weight=2)
def random_vectors(sub, rng):
    for _ in range(3):
        n = int(rng.integers(1, 30))
        expect_sigma(sub, rng.normal(0, 2, n), f"logvar_to_sigma of {n} values")


@check("a (batch, latent) logvar keeps its shape", function=F, weight=2)
def batches(sub, rng):
    b, d = int(rng.integers(2, 9)), int(rng.integers(2, 9))
    expect_sigma(sub, rng.normal(0, 1.5, (b, d)), f"logvar_to_sigma of a ({b}, {d}) batch")


@check("nested Python lists are accepted", function=F)
def nested_lists(sub, rng):
    expect_sigma(sub, rng.normal(0, 1, (3, 4)).tolist(), "logvar_to_sigma of a nested list")
    expect_sigma(sub, rng.normal(0, 1, 5).tolist(), "logvar_to_sigma of a list")


@check("a single number (0-d input)", function=F)
def zero_dim(sub, rng):
    value = float(rng.uniform(-3, 3))
    expect_sigma(sub, value, "logvar_to_sigma of a single float")
    expect_sigma(sub, np.array(float(rng.uniform(-3, 3))), "logvar_to_sigma of a 0-d array")


@check("logvar = 0 gives σ = 1 (unit variance)", function=F)
def unit(sub, rng):
    n = int(rng.integers(1, 10))
    expect_sigma(sub, np.zeros(n), f"logvar_to_sigma of {n} zeros")
    expect_sigma(sub, rng.normal(0, 1, n), f"logvar_to_sigma of {n} values")


@check("negative logvar gives σ below 1, still positive", function=F)
def negative(sub, rng):
    lv = -rng.uniform(0.1, 8, int(rng.integers(2, 12)))
    what = "logvar_to_sigma of negative logvars"
    got = as_array(sub.call(F, lv), what)
    known = any(close(got, wrong) for wrong, _ in mistakes(lv).values())
    if got.shape == lv.shape and np.all(np.isfinite(got)) and np.any(got <= 0) and not known:
        raise Fail(f"{what} returned a σ that is not positive: a standard deviation is always > 0, and "
                   "exp(0.5·logvar) is for every logvar (a linear stand-in such as 1 + 0.5·logvar is not). "
                   + SECTION, "sigma.not_positive")
    expect_sigma(sub, lv, what)


@check("finite and exact for logvar in [-50, 50]", function=F, weight=2)
def extremes(sub, rng):
    lv = np.concatenate([[-50.0, 50.0], rng.uniform(-50, 50, 8)])
    rng.shuffle(lv)
    what = "logvar_to_sigma over logvar in [-50, 50]"
    got = as_array(sub.call(F, lv), what)
    expected = reference(lv)
    moderate = np.abs(lv) <= 5
    if (got.shape == expected.shape and np.all(np.isfinite(got))
            and not np.allclose(got, expected, rtol=1e-4, atol=1e-6)
            and np.allclose(got[moderate], expected[moderate], rtol=1e-4, atol=1e-6)
            and not any(np.allclose(got, w, rtol=1e-4, atol=1e-6) for w, _ in mistakes(lv).values())):
        raise Fail(f"{what} is right for moderate logvar but wrong at the extremes: did you clamp "
                   "logvar? exp(0.5·logvar) is finite over [-50, 50] without a clamp; the lesson says "
                   "to inspect the logvar range before adding an explicit clamp.", "sigma.clamped")
    expect_sigma(sub, lv, what)


@check("tiny and large values stay accurate", function=F)
def wide_range(sub, rng):
    expect_sigma(sub, rng.uniform(-1e-6, 1e-6, 6), "logvar_to_sigma of logvars near zero")
    expect_sigma(sub, rng.uniform(20, 40, 4), "logvar_to_sigma of large logvars")


@check("elementwise: each entry depends only on its own logvar", function=F)
def elementwise(sub, rng):
    lv = rng.normal(0, 2, 6)
    expect_sigma(sub, lv, "logvar_to_sigma")
    expect_sigma(sub, lv[rng.permutation(6)], "logvar_to_sigma of the same values reordered")
    expect_sigma(sub, lv[:1], "logvar_to_sigma of one of them alone")


@check("float32 input", function=F)
def float32_input(sub, rng):
    lv = rng.normal(0, 3, (4, 3)).astype(np.float32)
    expect_sigma(sub, lv, "logvar_to_sigma of a float32 array")


# Each SPEC clause of this concept, and the checks that enforce it.
CLAUSES = {
    "σ = exp(½·logvar), elementwise [[-0.70, 0.10] → [0.705, 1.051]]":
        ["lesson_example", "random_vectors", "elementwise", "unit", "wide_range", "float32_input"],
    "same shape as the input (a 0-d input may give a numpy scalar)": ["batches", "nested_lists", "zero_dim"],
    "every value positive": ["negative"],
    "logvar in [-50, 50] gives finite results": ["extremes"],
}
