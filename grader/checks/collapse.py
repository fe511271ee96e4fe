"""Hidden checks for `collapse`: is_collapsed(kl_per_dim, threshold=1e-3) -> bool and
active_dimensions(kl_per_dim, threshold=1e-3) -> list[int]."""

from __future__ import annotations

import numpy as np

from grader.checks import Fail, TensorValue, check, count, describe, expect_raises

COLLAPSED, ACTIVE = "is_collapsed", "active_dimensions"
DEFAULT = 1e-3
SECTION = "(lesson: \"Watch for posterior collapse\")"
CAVEAT = ("(The monitor only raises a suspicion: low KL alone isn't proof of collapse; pair it with "
          "reconstruction quality, samples, and whether outputs change when z changes.)")
USING, SUSPECTED = [0.31, 0.18], [0.0003, 0.0001]   # the lesson's monitor


def _kl(kl_per_dim) -> np.ndarray:
    return np.asarray(kl_per_dim, dtype=np.float64)


def reference_collapsed(kl_per_dim, threshold=DEFAULT) -> bool:
    return bool(np.all(_kl(kl_per_dim) < threshold))


def reference_active(kl_per_dim, threshold=DEFAULT) -> list[int]:
    return [int(i) for i in np.flatnonzero(_kl(kl_per_dim) >= threshold)]


def collapsed_mistakes(kl_per_dim, threshold) -> dict:
    """What each usual slip answers for this input (only the ones that differ from the right answer)."""
    kl = _kl(kl_per_dim)
    found = {
        "collapse.le_not_lt": (bool(np.all(kl <= threshold)), "A dimension whose KL equals the threshold "
                               "counts as collapsed here: collapse means strictly below the threshold, "
                               "use <, not <=. " + SECTION),
        "collapse.ignores_threshold": (bool(np.all(kl < DEFAULT)), "The answer is the one for the default "
                                       "threshold 1e-3: use the threshold argument you were given."),
        "collapse.any_not_all": (bool(np.any(kl < threshold)), "It reports collapse while some dimension "
                                 "still has KL at or above the threshold: a run is collapsed only when "
                                 "every dimension is below it (np.all, not np.any or the mean). " + SECTION),
        "collapse.total_kl": (bool(kl.sum() < threshold), "It compares the total KL with the threshold: "
                              "the monitor checks each dimension's KL on its own. " + SECTION),
        "collapse.mean_kl": (bool(kl.mean() < threshold), "It compares the mean KL over the dimensions with "
                             "the threshold: one busy dimension is enough to rule collapse out, so every "
                             "dimension's KL must be below it (np.all(kl < threshold)). " + SECTION),
    }
    right = reference_collapsed(kl, threshold)
    return {k: v for k, v in found.items() if v[0] != right}


def active_mistakes(kl_per_dim, threshold) -> dict:
    kl = _kl(kl_per_dim)
    active = np.flatnonzero(kl >= threshold)
    found = {
        "collapse.gt_not_ge": ([int(i) for i in np.flatnonzero(kl > threshold)], "A dimension whose KL "
                               "equals the threshold is left out: active means KL at least the threshold "
                               "(>=), the exact complement of collapsed (<). " + SECTION),
        "collapse.returns_collapsed": ([int(i) for i in np.flatnonzero(kl < threshold)], "These are the "
                                       "collapsed dimensions (KL below the threshold); active_dimensions "
                                       "lists the ones with KL at least the threshold."),
        "collapse.ignores_threshold": (reference_active(kl, DEFAULT), "These are the active dimensions for "
                                       "the default threshold 1e-3: use the threshold argument you were "
                                       "given."),
        "collapse.one_based": ([int(i) + 1 for i in active], "The indices are off by one: Python indices "
                               "start at 0."),
        "collapse.sorted_by_kl": ([int(i) for i in active[np.argsort(-kl[active], kind="stable")]],
                                  "The indices are ordered by KL: return them in increasing index order."),
    }
    right = reference_active(kl, threshold)
    return {k: v for k, v in found.items() if v[0] != right}


def _as_bool(got, what: str) -> bool:
    if isinstance(got, bool):
        return got
    arr = got.array if isinstance(got, TensorValue) else got
    if isinstance(arr, np.ndarray) and arr.dtype == np.bool_ and arr.size == 1:
        return bool(arr.reshape(()))
    raise Fail(f"{what} should return True or False, but it returned {describe(got)}.", "collapse.not_bool")


def _as_indices(got, what: str, kl: np.ndarray, threshold: float) -> list[int]:
    if isinstance(got, TensorValue):
        got = got.array
    if isinstance(got, np.ndarray):
        if got.dtype == np.bool_:
            got = got.tolist()
        elif got.ndim == 1 and got.dtype.kind in "iu":
            return [int(i) for i in got]
    if isinstance(got, int) and not isinstance(got, bool):
        if got == len(reference_active(kl, threshold)):
            raise Fail(f"{what} returned how many dimensions are active ({got}): return their indices, "
                       "as a list.", "collapse.count_not_indices")
    if isinstance(got, (list, tuple)):
        if got and all(isinstance(i, bool) for i in got):
            raise Fail(f"{what} returned a True/False mask: return the indices of the active "
                       "dimensions, e.g. [int(i) for i in np.flatnonzero(kl >= threshold)].",
                       "collapse.mask_not_indices")
        if all(isinstance(i, int) and not isinstance(i, bool) for i in got):
            return list(got)
    raise Fail(f"{what} should return a list of int indices, but it returned {describe(got)}.",
               "collapse.not_indices")


def _threshold_kwargs(threshold):
    return {} if threshold is None else {"threshold": threshold}


def expect_collapsed(sub, kl, what: str, threshold=None, show: bool = False) -> None:
    got = _as_bool(sub.call(COLLAPSED, kl, **_threshold_kwargs(threshold)), what)
    thr = DEFAULT if threshold is None else threshold
    right = reference_collapsed(kl, thr)
    if got == right:
        return
    found = collapsed_mistakes(kl, thr)      # every slip listed here answers `got` on this input
    if len(found) == 1:
        mistake_id, (_, message) = next(iter(found.items()))
        raise Fail(f"{what} returned {got}. {message} {CAVEAT}", mistake_id)
    if found:
        either = " Or: ".join(message for _, message in found.values())
        raise Fail(f"{what} returned {got}, which fits {len(found)} different slips on this input. "
                   f"Either: {either} {CAVEAT}")
    detail = f" The right answer is {right}." if show else ""
    raise Fail(f"{what} returned {got}, which is not the right answer.{detail}")


def expect_active(sub, kl, what: str, threshold=None, show: bool = False) -> None:
    thr = DEFAULT if threshold is None else threshold
    got = _as_indices(sub.call(ACTIVE, kl, **_threshold_kwargs(threshold)), what, _kl(kl), thr)
    right = reference_active(kl, thr)
    if got == right:
        return
    found = [(mid, message) for mid, (wrong, message) in active_mistakes(kl, thr).items() if got == wrong]
    if len(found) == 1:
        raise Fail(f"{what} is off. {found[0][1]}", found[0][0])
    if found:
        raise Fail(f"{what} is off, in a way that fits {len(found)} different slips on this input. Either: "
                   + " Or: ".join(message for _, message in found))
    if sorted(got) == right:
        raise Fail(f"{what} has the right indices in the wrong order: return them in increasing order.",
                   "collapse.unsorted")
    detail = f" It returned {got}; the right answer is {right}." if show else ""
    raise Fail(f"{what} does not list the right dimensions.{detail}")


def expect_empty_refused(sub, func: str, empty) -> None:
    """func must raise ValueError on an empty KL vector."""
    expect_raises(sub, ValueError, func, empty, what=f"{func} of an empty KL vector", returned=(
        "With no dimensions there is nothing to judge (and np.all of an empty array is True, so an "
        "empty run would look collapsed). Raise ValueError.", "collapse.empty_not_refused"))


def kl_vector(rng, n: int, threshold: float = DEFAULT, active_fraction: float = 0.5) -> np.ndarray:
    """n per-dimension KL values, each well away from the threshold (no accidental ties)."""
    active = rng.random(n) < active_fraction
    factor = np.where(active, rng.uniform(1.5, 500, n), rng.uniform(0.0, 0.7, n))
    return threshold * factor


# --- is_collapsed ------------------------------------------------------------------


@check("matches the lesson's monitor ([0.31, 0.18] → False; [0.0003, 0.0001] → True)", function=COLLAPSED,
       public=True, weight=2)
def lesson_collapsed(sub, rng):
    expect_collapsed(sub, USING, "is_collapsed([0.31, 0.18])", show=True)
    expect_collapsed(sub, SUSPECTED, "is_collapsed([0.0003, 0.0001])", show=True)
    # Fresh twins, one of each kind: hard-coded answers earn nothing.
    expect_collapsed(sub, kl_vector(rng, 2, active_fraction=0.0), "is_collapsed of another quiet run")
    expect_collapsed(sub, kl_vector(rng, 3, active_fraction=1.0), "is_collapsed of another busy run")


@check("random runs, numpy arrays and lists", function=COLLAPSED, weight=2)
def collapsed_random(sub, rng):
    runs = []
    for fraction in (0.0, 0.2, 1.0):
        n = int(rng.integers(1, 16))
        runs.append((n, kl_vector(rng, n, active_fraction=fraction)))
    sub.ahead(COLLAPSED, [(values,) for _, kl in runs for values in (kl, kl.tolist())])
    for n, kl in runs:
        expect_collapsed(sub, kl, f"is_collapsed of {count(n, 'per-dimension KL value')}")
        expect_collapsed(sub, kl.tolist(), f"is_collapsed of {count(n, 'value')} as a list")


@check("strictly below: a dimension exactly at the threshold is not collapsed", function=COLLAPSED, weight=2)
def collapsed_tie(sub, rng):
    n = int(rng.integers(1, 6))
    expect_collapsed(sub, [DEFAULT] * n, f"is_collapsed of {count(n, 'value')} all exactly 1e-3")
    expect_collapsed(sub, kl_vector(rng, n, active_fraction=0.0), f"is_collapsed of {count(n, 'tiny value')}")


@check("one active dimension is enough to rule out collapse", function=COLLAPSED)
def collapsed_one_active(sub, rng):
    n = int(rng.integers(3, 10))
    kl = kl_vector(rng, n, active_fraction=0.0)
    kl[int(rng.integers(n))] = float(rng.uniform(0.05, 2.0))
    expect_collapsed(sub, kl, f"is_collapsed with one active dimension among {n}")
    small = np.full(n, DEFAULT * 0.6)   # each below, but together above the threshold
    expect_collapsed(sub, small, f"is_collapsed of {count(n, 'value')} of 0.0006 each")


@check("honours the threshold argument", function=COLLAPSED, weight=2)
def collapsed_threshold(sub, rng):
    thr = float(2.0 ** -int(rng.integers(1, 4)))           # 0.5, 0.25 or 0.125: exact in float32 too
    n = int(rng.integers(2, 6))
    below = thr * rng.uniform(0.1, 0.9 / n, n)               # quiet for thr, busy for 1e-3
    expect_collapsed(sub, below, f"is_collapsed of {count(n, 'value')} with threshold={thr}", threshold=thr)
    expect_collapsed(sub, [thr] * n, f"is_collapsed of {count(n, 'value')} equal to threshold={thr}", threshold=thr)
    got = _as_bool(sub.call(COLLAPSED, below, thr), "is_collapsed with the threshold passed positionally")
    if got is not True:
        raise Fail("is_collapsed(kl, threshold) with the threshold passed positionally gave False for "
                   "values all below it: use the threshold argument you were given.",
                   "collapse.ignores_threshold")


@check("zeros, and large KL values", function=COLLAPSED)
def collapsed_extremes(sub, rng):
    n = int(rng.integers(1, 8))
    expect_collapsed(sub, np.zeros(n), f"is_collapsed of {count(n, 'zero')}")
    expect_collapsed(sub, rng.uniform(10, 1e6, n), f"is_collapsed of {count(n, 'large KL value')}")


@check("an empty input raises ValueError", function=COLLAPSED)
def collapsed_empty(sub, rng):
    expect_collapsed(sub, kl_vector(rng, 4, active_fraction=0.0), "is_collapsed of 4 quiet dimensions")
    expect_empty_refused(sub, COLLAPSED, np.zeros(0))
    expect_empty_refused(sub, COLLAPSED, [])


# --- active_dimensions ---------------------------------------------------------------


@check("matches the lesson's monitor ([0.31, 0.18] → [0, 1]; [0.0003, 0.0001] → [])", function=ACTIVE,
       public=True, weight=2)
def lesson_active(sub, rng):
    expect_active(sub, USING, "active_dimensions([0.31, 0.18])", show=True)
    expect_active(sub, SUSPECTED, "active_dimensions([0.0003, 0.0001])", show=True)
    kl = kl_vector(rng, 5)
    kl[[0, 3]] = [0.4, 0.0001]
    expect_active(sub, kl, "active_dimensions of another 5-dimensional run")


@check("random runs: sorted indices of the active dimensions", function=ACTIVE, weight=2)
def active_random(sub, rng):
    for _ in range(3):
        n = int(rng.integers(2, 20))
        kl = kl_vector(rng, n, active_fraction=float(rng.uniform(0.2, 0.8)))
        kl[int(rng.integers(n))] = DEFAULT * 0.1            # at least one quiet dimension
        expect_active(sub, kl, f"active_dimensions of {count(n, 'per-dimension KL value')}")
    expect_active(sub, kl.tolist(), f"active_dimensions of {count(n, 'value')} as a list")


@check("a dimension exactly at the threshold is active (>=)", function=ACTIVE, weight=2)
def active_tie(sub, rng):
    n = int(rng.integers(3, 8))
    kl = kl_vector(rng, n)
    kl[int(rng.integers(n))] = DEFAULT
    expect_active(sub, kl, f"active_dimensions of {count(n, 'value')}, one exactly 1e-3")


@check("honours the threshold argument", function=ACTIVE, weight=2)
def active_threshold(sub, rng):
    thr = float(2.0 ** -int(rng.integers(1, 4)))
    n = int(rng.integers(4, 10))
    kl = kl_vector(rng, n, threshold=thr)
    kl[0], kl[-1] = thr, thr * 0.01                          # a tie, and a value above 1e-3 but quiet
    expect_active(sub, kl, f"active_dimensions of {count(n, 'value')} with threshold={thr}", threshold=thr)


@check("all active, none active, and an empty input raises ValueError", function=ACTIVE)
def active_edges(sub, rng):
    n = int(rng.integers(1, 8))
    expect_active(sub, np.zeros(n), f"active_dimensions of {count(n, 'zero')}")
    expect_active(sub, rng.uniform(0.01, 5, n), f"active_dimensions of {n} busy dimensions")
    expect_empty_refused(sub, ACTIVE, np.zeros(0))



# --- boundaries: values just either side of the threshold ------------------------------------


def boundary_runs(thr: float, n: int) -> list[tuple[np.ndarray, str]]:
    """Runs at the edges of the rule, each telling one slip apart from the others."""
    below, above = thr * (1 - 1e-3), thr * (1 + 1e-3)      # float32 keeps them on their side
    return [
        (np.full(n, below), f"{n} values just below the threshold"),
        (np.array([below] * (n - 1) + [above]), f"{n} values just below the threshold but one just above"),
        # The mean of these is below the threshold, yet one dimension is clearly busy.
        (np.array([thr * 0.1] * (n - 1) + [thr * 1.5]), f"{n} quiet values and one busy one whose mean is "
                                                          "below the threshold"),
        (np.array([thr] + [below] * (n - 1)), f"{n} values below the threshold, one exactly at it"),
        (np.array([thr * 0.6] * n), f"{n} values each below the threshold whose sum is above it"),
    ]


def expect_collapsed_runs(sub, runs: list[tuple[np.ndarray, str]], threshold=None) -> None:
    """Judge several runs together: a slip is named when its answers match the learner's on every run
    (one run alone often fits several slips; the set tells them apart)."""
    thr = DEFAULT if threshold is None else threshold
    suffix = "" if threshold is None else f" (threshold={threshold:g})"
    sub.ahead(COLLAPSED, [(kl,) for kl, _ in runs], _threshold_kwargs(threshold))
    got = [_as_bool(sub.call(COLLAPSED, kl, **_threshold_kwargs(threshold)), f"is_collapsed of {label}{suffix}")
           for kl, label in runs]
    right = [reference_collapsed(kl, thr) for kl, _ in runs]
    if got == right:
        return
    every = {}
    for kl, _ in runs:
        for mid, (_, message) in collapsed_mistakes(kl, thr).items():
            every[mid] = message
    fits = [mid for mid in every
            if all(collapsed_mistakes(kl, thr).get(mid, (r,))[0] == g for (kl, _), g, r in zip(runs, got, right))]
    first = next(i for i, (g, r) in enumerate(zip(got, right)) if g != r)
    what = f"is_collapsed of {runs[first][1]}{suffix} returned {got[first]}"
    if len(fits) == 1:
        raise Fail(f"{what}. {every[fits[0]]} {CAVEAT}", fits[0])
    if fits:
        raise Fail(f"{what}, which fits {len(fits)} different slips. Either: "
                   + " Or: ".join(every[m] for m in fits) + f" {CAVEAT}")
    expect_collapsed(sub, runs[first][0], f"is_collapsed of {runs[first][1]}{suffix}", threshold=threshold)


@check("values just either side of the threshold (every dimension below, or one at or above)",
       function=COLLAPSED, weight=2)
def collapsed_boundaries(sub, rng):
    n = int(rng.integers(3, 7))
    runs = [(kl[rng.permutation(n)], label) for kl, label in boundary_runs(DEFAULT, n)]
    runs.append((np.array([DEFAULT * 50] + [DEFAULT * 0.01] * (n - 1)), f"{n} values, one busy, the rest quiet"))
    expect_collapsed_runs(sub, runs)
    thr = float(rng.choice([20.0, 50.0, 200.0]))             # a threshold far from the default
    expect_collapsed_runs(sub, boundary_runs(thr, n), threshold=thr)


@check("values just either side of the threshold are split correctly", function=ACTIVE, weight=2)
def active_boundaries(sub, rng):
    n = int(rng.integers(3, 7))
    cases = [(kl[rng.permutation(n)], label, thr)
             for thr in (None, float(rng.choice([20.0, 50.0, 200.0])))
             for kl, label in boundary_runs(DEFAULT if thr is None else thr, n)]
    for thr in dict.fromkeys(case[2] for case in cases):   # in the order the checks use them
        sub.ahead(ACTIVE, [(kl,) for kl, _, t in cases if t == thr], _threshold_kwargs(thr))
    for kl, label, thr in cases:
        expect_active(sub, kl, f"active_dimensions of {label}" + ("" if thr is None else f" (threshold={thr:g})"),
                      threshold=thr)


# Each SPEC clause of this concept, and the checks that enforce it.
CLAUSES = {
    "is_collapsed: True exactly when every dimension's KL is below the threshold [[0.31, 0.18] → False; "
    "[0.0003, 0.0001] → True]":
        ["lesson_collapsed", "collapsed_random", "collapsed_one_active", "collapsed_extremes",
         "collapsed_boundaries"],
    "is_collapsed: strictly below (a dimension at the threshold is not collapsed)":
        ["collapsed_tie", "collapsed_boundaries"],
    "is_collapsed honours its threshold argument": ["collapsed_threshold", "collapsed_boundaries"],
    "is_collapsed: an empty input raises ValueError": ["collapsed_empty"],
    "active_dimensions: sorted indices whose KL is at least the threshold":
        ["lesson_active", "active_random", "active_boundaries"],
    "active_dimensions: a dimension at the threshold is active (>=)": ["active_tie", "active_boundaries"],
    "active_dimensions honours its threshold argument": ["active_threshold", "active_boundaries"],
    "active_dimensions: an empty input raises ValueError": ["active_edges"],
}
