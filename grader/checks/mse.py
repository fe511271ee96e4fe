"""Hidden checks for `mse`: reconstruction_mse(x, x_hat) -> float."""

from __future__ import annotations

import numpy as np

from grader.checks import Fail, Raised, as_array, check, close, count, expect_close, expect_raises

F = "reconstruction_mse"
X = [0.10, 0.90, 0.85, 0.12]          # the lesson's ledger
X_HAT = [0.12, 0.84, 0.80, 0.14]


def reference(x, x_hat) -> float:
    x, x_hat = np.asarray(x, dtype=np.float64), np.asarray(x_hat, dtype=np.float64)
    return float(np.mean((x - x_hat) ** 2))


def mistakes(x, x_hat) -> dict:
    """What the usual slips would return for these inputs, and how a tutor names each one."""
    x, x_hat = np.asarray(x, dtype=np.float64), np.asarray(x_hat, dtype=np.float64)
    sq = (x - x_hat) ** 2
    found = {
        "mse.sum_not_mean": (sq.sum(), "It equals the sum of squared errors: MSE divides by the number "
                             "of elements N (the 1/N in L_recon)."),
        "mse.abs_error": (np.abs(x - x_hat).mean(), "It equals the mean absolute error: square the "
                          "differences, don't take their absolute value."),
        "mse.rmse": (np.sqrt(sq.mean()), "It equals the root of the MSE: the lesson's loss has no square root."),
        "mse.not_squared": ((x - x_hat).mean(), "It equals the mean of the plain differences: square "
                            "them first, or positive and negative errors cancel."),
    }
    if x.ndim == 2:
        found["mse.batch_size_divisor"] = (sq.sum() / x.shape[0], "It divides by the batch size only: "
                                           "the mean runs over every element, batches included.")
        found["mse.per_example"] = (sq.mean(axis=1), "It returns one value per example: average over "
                                    "the batch too, to a single number.")
    return found


def expect_value_error(sub, x, x_hat, what: str) -> None:
    """Mismatched shapes must raise ValueError; a returned number means silent broadcasting."""
    expect_raises(sub, ValueError, F, x, x_hat, what=what, returned=(
        "Compare x.shape with x_hat.shape first: numpy broadcasts mismatched shapes into a plausible "
        "but meaningless number.", "mse.silent_broadcast"))


def expect_accepted(sub, x, x_hat, what: str) -> None:
    """The positive control of a shape check: matching shapes must give the right MSE.

    Without it a function that always raises ValueError would earn the shape checks. Its
    failure is worded about the shape check itself: the arithmetic has checks of its own,
    which already say what is wrong with the value.
    """
    got = sub.outcome(F, x, x_hat)
    if isinstance(got, Raised):
        raise Fail(f"{what}: {F} raised {got.type_name} ({got.message}) although the shapes match; it must "
                   "raise ValueError only when x and x_hat differ in shape.", "code.exception")
    try:
        expect_mse(sub, x, x_hat, what)
    except Fail:
        raise Fail(f"The mismatched shapes raise ValueError as they should, but this check also needs the right "
                   f"MSE for {what} (shapes that match), and that value is off: the checks on values say "
                   "why. The shape check counts once they pass.") from None


def expect_mse(sub, x, x_hat, what: str, show: bool = False) -> None:
    got = sub.call(F, x, x_hat)
    sq = (np.asarray(x, dtype=np.float64) - np.asarray(x_hat, dtype=np.float64)) ** 2
    if sq.ndim == 2:
        arr = as_array(got, what)
        if arr.shape == (sq.shape[0],) and sq.shape[0] > 1 and close(arr, sq.mean(axis=1)):
            # expect_close(scalar=True) would only say "not a single number": name the slip.
            raise Fail(f"{what} returned one value per example (shape {arr.shape}): average over the "
                       "batch too, to a single number.", "mse.per_example")
    expect_close(got, reference(x, x_hat), what, mistakes=mistakes(x, x_hat), show=show, scalar=True)


@check("matches the lesson's worked example (0.001725)", function=F, public=True, weight=2)
def lesson_example(sub, rng):
    expect_mse(sub, X, X_HAT, "reconstruction_mse on the lesson's patch", show=True)
    # A twin with fresh values: a hard-coded 0.001725 earns nothing.
    x = rng.uniform(0, 1, 4)
    expect_mse(sub, x, x + rng.normal(0, 0.1, 4), "reconstruction_mse on a second 4-value patch")


@check("random 1-D patches", function=F)
def random_vectors(sub, rng):
    for _ in range(3):
        n = int(rng.integers(1, 40))
        x = rng.uniform(0, 1, n)
        expect_mse(sub, x, np.clip(x + rng.normal(0, 0.2, n), 0, 1), f"reconstruction_mse of {count(n, 'value')}")


@check("a batch of patches (mean over every element)", function=F, weight=2)
def batches(sub, rng):
    b, n = int(rng.integers(2, 9)), int(rng.integers(3, 30))
    x = rng.uniform(0, 1, (b, n))
    expect_mse(sub, x, rng.uniform(0, 1, (b, n)), f"reconstruction_mse of a ({b}, {n}) batch")


@check("nested Python lists are accepted", function=F)
def nested_lists(sub, rng):
    x = rng.uniform(0, 1, (3, 5))
    x_hat = rng.uniform(0, 1, (3, 5))
    expect_mse(sub, x.tolist(), x_hat.tolist(), "reconstruction_mse of nested lists")


@check("identical inputs give exactly zero", function=F)
def perfect(sub, rng):
    x = rng.uniform(0, 1, (int(rng.integers(1, 6)), 7))
    expect_mse(sub, x, x.copy(), "reconstruction_mse of a perfect reconstruction")
    # A positive control on fresh values: zero for equal inputs alone says nothing (MAE is zero too).
    expect_mse(sub, x, np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1), "reconstruction_mse of a near-perfect reconstruction")


@check("symmetric in x and x_hat", function=F)
def symmetric(sub, rng):
    x, x_hat = rng.normal(0, 1, 12), rng.normal(0, 1, 12)
    expect_mse(sub, x_hat, x, "reconstruction_mse with the arguments swapped")
    expect_mse(sub, x, x_hat, "reconstruction_mse")


@check("large and tiny values", function=F)
def extremes(sub, rng):
    x = rng.normal(0, 1e3, 16)
    expect_mse(sub, x, x + rng.normal(0, 1e2, 16), "reconstruction_mse of large values")
    x = rng.uniform(0, 1e-4, 16)
    expect_mse(sub, x, x + 1e-5, "reconstruction_mse of tiny differences")


@check("single element", function=F)
def single(sub, rng):
    # Far enough apart that the MSE (at least 0.01) is no rounding of 0: a function returning 0.0
    # would otherwise pass when two uniform draws fall within 0.001 of each other.
    a, b = float(rng.uniform(0, 0.45)), float(rng.uniform(0.55, 1))
    if rng.random() < 0.5:
        a, b = b, a
    expect_mse(sub, [a], [b], "reconstruction_mse of one value")


@check("(4,) against (4, 1) raises ValueError (no silent broadcasting)", function=F, weight=2)
def no_broadcast(sub, rng):
    x = rng.uniform(0, 1, 4)
    expect_value_error(sub, x, x.reshape(4, 1),
                       "x of shape (4,) and x_hat of shape (4, 1) would broadcast to a (4, 4) grid")
    expect_accepted(sub, x, x[::-1].copy(), "two 4-value patches")  # a raise-always function earns nothing


@check("different lengths raise ValueError", function=F)
def mismatched(sub, rng):
    n = int(rng.integers(2, 10))
    x = rng.uniform(0, 1, (3, n))
    expect_value_error(sub, x, rng.uniform(0, 1, (3, n + 1)),
                       f"x of shape (3, {n}) and x_hat of shape (3, {n + 1})")
    expect_value_error(sub, x, rng.uniform(0, 1, (1, n)),
                       f"x of shape (3, {n}) and x_hat of shape (1, {n})")
    expect_accepted(sub, x, x * 0.9, f"two (3, {n}) batches")


@check("shapes that differ but hold as many values raise ValueError, either way round", function=F, weight=2)
def same_size_mismatch(sub, rng):
    x = rng.uniform(0, 1, 6)
    x_hat = np.clip(x + rng.normal(0, 0.1, 6), 0, 1)
    # Each pair has the same number of elements: comparing sizes or lengths is not enough.
    pairs = [(rng.uniform(0, 1, a), rng.uniform(0, 1, b), a, b)
             for a, b in (((6,), (1, 6)), ((1, 6), (6,)), ((6, 1), (6,)), ((2, 3), (3, 2)), ((6,), (2, 3)),
                          ((1, 6), (6, 1)))]
    sub.ahead(F, [(x, x_hat)] + [(p, q) for p, q, _, _ in pairs])
    expect_mse(sub, x, x_hat, "reconstruction_mse of two 6-value patches")
    for p, q, a, b in pairs:
        expect_value_error(sub, p, q, f"x of shape {a} and x_hat of shape {b} (the same number of values)")


# Each SPEC clause of this concept, and the checks that enforce it (`vaegrade dev check` fails
# when a clause has none).
CLAUSES = {
    "mean of squared differences over all elements, a real scalar [0.001725]":
        ["lesson_example", "random_vectors", "single", "extremes", "symmetric", "perfect"],
    "any shape, batches included": ["batches", "nested_lists"],
    "different shapes raise ValueError, (4,) against (4, 1) included (no silent broadcasting)":
        ["no_broadcast", "mismatched", "same_size_mismatch"],
}
