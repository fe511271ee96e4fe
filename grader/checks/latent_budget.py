"""Hidden checks for `latent_budget`: latent_grid(height, width, downsample) -> (int, int) and
spatial_reduction(height, width, downsample) -> int."""

from __future__ import annotations

import numpy as np

from grader.checks import Fail, TensorValue, check, describe, expect_raises

GRID, REDUCTION = "latent_grid", "spatial_reduction"
SECTION = "(lesson: \"Latent models reduce the expensive space\")"
FLOAT_DIVISION = ("latent_budget.float_division",
                  "returned floats: use integer division // (512 // 8 is 64; 512 / 8 is 64.0).")


def reference_grid(height: int, width: int, downsample: int) -> tuple[int, int]:
    return height // downsample, width // downsample


def reference_reduction(height: int, width: int, downsample: int) -> int:
    lh, lw = reference_grid(height, width, downsample)
    return (height * width) // (lh * lw)


def grid_mistakes(h: int, w: int, d: int) -> dict:
    right = reference_grid(h, w, d)
    found = {
        "latent_budget.swapped_axes": ((w // d, h // d), "Height and width are swapped: return "
                                       "(height // downsample, width // downsample), in that order."),
        "latent_budget.one_axis": ((h // d, w), "Only the height was downsampled: the factor applies to "
                                   "each spatial axis, height and width. " + SECTION),
        "latent_budget.one_axis_width": ((h, w // d), "Only the width was downsampled: the factor applies "
                                         "to each spatial axis, height and width. " + SECTION),
        "latent_budget.multiplied": ((h * d, w * d), "The sizes were multiplied by the factor: "
                                     "downsampling divides them."),
        "latent_budget.squared_per_axis": ((h // (d * d), w // (d * d)), "Each axis was divided by "
                                           "downsample²: each axis shrinks by downsample once; it is the "
                                           "number of positions that shrinks by downsample². " + SECTION),
    }
    return {k: v for k, v in found.items() if v[0] != right}


def reduction_mistakes(h: int, w: int, d: int) -> dict:
    right = reference_reduction(h, w, d)
    lh, lw = reference_grid(h, w, d)
    found = {
        "latent_budget.one_axis": (d, "This is the factor of one axis: both height and width shrink by "
                                   "the factor, so the number of positions shrinks by downsample² (64 for "
                                   "a factor of 8). " + SECTION),
        "latent_budget.doubled_not_squared": (2 * d, "This is 2·downsample: the two axes' factors "
                                              "multiply, giving downsample², they don't add. " + SECTION),
        "latent_budget.latent_positions": (lh * lw, "This is the number of latent positions; the "
                                           "reduction is pixel positions divided by latent positions."),
        "latent_budget.pixel_positions": (h * w, "This is the number of pixel positions; the reduction "
                                          "is pixel positions divided by latent positions."),
        "latent_budget.one_axis_positions": ((h * w) // d, "This divides the pixel positions by the "
                                             "factor once: the reduction is pixel positions over latent "
                                             "positions, downsample² when both axes shrink."),
    }
    return {k: v for k, v in found.items() if v[0] != right}


def _as_int(value, what: str) -> int:
    if isinstance(value, TensorValue):
        value = value.array
    if isinstance(value, np.ndarray) and value.size == 1 and value.ndim <= 1:
        value = value.reshape(()).item()
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float):
        raise Fail(f"{what} {FLOAT_DIVISION[1]}", FLOAT_DIVISION[0])
    raise Fail(f"{what} should be an int, but it returned {describe(value)}.", "latent_budget.not_int")


def _as_grid(value, what: str) -> tuple[int, int]:
    if isinstance(value, TensorValue):
        value = value.array
    if isinstance(value, np.ndarray) and value.shape == (2,):
        value = value.tolist()
    if isinstance(value, (tuple, list)) and len(value) == 2:
        if any(isinstance(v, float) for v in value):
            raise Fail(f"{what} {FLOAT_DIVISION[1]}", FLOAT_DIVISION[0])
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return tuple(value)
    raise Fail(f"{what} should return a tuple of two ints (latent_height, latent_width), but it "
               f"returned {describe(value)}.", "latent_budget.not_grid")


def expect_grid(sub, h: int, w: int, d: int, show: bool = False, what: str | None = None) -> None:
    what = what or f"latent_grid({h}, {w}, {d})"
    got = _as_grid(sub.call(GRID, h, w, d), what)
    right = reference_grid(h, w, d)
    if got == right:
        return
    for mistake_id, (wrong, message) in grid_mistakes(h, w, d).items():
        if got == tuple(wrong):
            raise Fail(f"{what} returned {got}. {message}", mistake_id)
    raise Fail(f"{what} returned {got}, which is not the latent grid (height // downsample, "
               f"width // downsample).{f' The right answer is {right}.' if show else ''}")


def expect_reduction(sub, h: int, w: int, d: int, show: bool = False, what: str | None = None) -> None:
    what = what or f"spatial_reduction({h}, {w}, {d})"
    got = _as_int(sub.call(REDUCTION, h, w, d), what)
    right = reference_reduction(h, w, d)
    if got == right:
        return
    for mistake_id, (wrong, message) in reduction_mistakes(h, w, d).items():
        if got == wrong:
            raise Fail(f"{what} returned {got}. {message}", mistake_id)
    raise Fail(f"{what} returned {got}, which is not pixel positions over latent positions."
               f"{f' The right answer is {right}.' if show else ''}")


def expect_value_error(sub, func: str, h, w, d, why: str, returned_id: str) -> None:
    """func(h, w, d) must raise ValueError; name the slip when it returns a value instead."""
    what = f"{func}({h}, {w}, {d})"
    hint = f"{why}."
    if returned_id == "latent_budget.rounds_instead_of_raising":
        hint += " Rounding (or flooring) silently drops pixels; refuse the size instead."
    expect_raises(sub, ValueError, func, h, w, d, what=what, returned=(hint, returned_id), raised={
        "ZeroDivisionError": (f"{what} raised ZeroDivisionError: check that every argument is positive "
                              "first, and raise ValueError with a clear message.", "latent_budget.zero_division")})


def sizes(rng, d: int, low: int = 1, high: int = 64) -> tuple[int, int]:
    """A random non-square (height, width), both multiples of d."""
    kh = int(rng.integers(low, high))
    kw = kh + int(rng.integers(1, 16))
    return (kh * d, kw * d) if rng.random() < 0.5 else (kw * d, kh * d)


# --- latent_grid ---------------------------------------------------------------------


@check("matches the lesson (512, 512, 8 → (64, 64))", function=GRID, public=True, weight=2)
def lesson_grid(sub, rng):
    expect_grid(sub, 512, 512, 8, show=True)
    d = int(rng.choice([2, 4, 16]))
    # A fresh twin (its sizes stay out of public feedback): a hard-coded (64, 64) earns nothing.
    expect_grid(sub, *sizes(rng, d), d, what="latent_grid of a second, non-square image")


@check("random non-square images (height first, width second)", function=GRID, weight=2)
def grid_random(sub, rng):
    for _ in range(3):
        d = int(rng.integers(2, 17))
        expect_grid(sub, *sizes(rng, d), d)


@check("downsample 1 keeps the grid; downsample equal to the size gives 1", function=GRID)
def grid_edges(sub, rng):
    h, w = sizes(rng, 1, 2, 300)
    expect_grid(sub, h, w, 1)
    d = int(rng.integers(2, 64))
    expect_grid(sub, d, d * int(rng.integers(2, 9)), d)


@check("large images", function=GRID)
def grid_large(sub, rng):
    d = int(2 ** rng.integers(3, 6))
    expect_grid(sub, *sizes(rng, d, 64, 512), d)


@check("a size the factor does not divide raises ValueError", function=GRID, weight=2)
def grid_not_divisible(sub, rng):
    d = int(rng.integers(3, 17))
    h, w = sizes(rng, d)
    r = int(rng.integers(1, d))
    sub.ahead(GRID, [(h, w, d), (h + r, w, d), (h, w + r, d)])
    expect_grid(sub, h, w, d)                     # a raise-always stub earns nothing
    expect_value_error(sub, GRID, h + r, w, d, f"height {h + r} is not divisible by {d}",
                       "latent_budget.rounds_instead_of_raising")
    expect_value_error(sub, GRID, h, w + r, d, f"width {w + r} is not divisible by {d}",
                       "latent_budget.rounds_instead_of_raising")


@check("zero or negative arguments raise ValueError", function=GRID, weight=2)
def grid_non_positive(sub, rng):
    d = int(rng.integers(2, 9))
    h, w = sizes(rng, d)
    sub.ahead(GRID, [(h, w, d), (h, w, 0), (h, w, -d), (-h, w, d), (h, 0, d)])
    expect_grid(sub, h, w, d)
    expect_value_error(sub, GRID, h, w, 0, "downsample must be positive", "latent_budget.no_validation")
    expect_value_error(sub, GRID, h, w, -d, "downsample must be positive", "latent_budget.no_validation")
    expect_value_error(sub, GRID, -h, w, d, "height must be positive", "latent_budget.no_validation")
    expect_value_error(sub, GRID, h, 0, d, "width must be positive", "latent_budget.no_validation")


# --- spatial_reduction ---------------------------------------------------------------


@check("matches the lesson (512, 512, 8 → 64)", function=REDUCTION, public=True, weight=2)
def lesson_reduction(sub, rng):
    expect_reduction(sub, 512, 512, 8, show=True)
    d = int(rng.choice([2, 4, 16]))
    expect_reduction(sub, *sizes(rng, d), d, what="spatial_reduction of a second, non-square image")


@check("random non-square images: both axes shrink, downsample²", function=REDUCTION, weight=2)
def reduction_random(sub, rng):
    for _ in range(3):
        d = int(rng.integers(2, 17))
        expect_reduction(sub, *sizes(rng, d), d)


@check("downsample 1 gives 1; downsample equal to the size gives every pixel", function=REDUCTION)
def reduction_edges(sub, rng):
    h, w = sizes(rng, 1, 2, 300)
    expect_reduction(sub, h, w, 1)
    d = int(rng.integers(2, 64))
    expect_reduction(sub, d, d, d)
    expect_reduction(sub, d * 3, d, d)


@check("a size the factor does not divide raises ValueError", function=REDUCTION, weight=2)
def reduction_not_divisible(sub, rng):
    d = int(rng.integers(3, 17))
    h, w = sizes(rng, d)
    r = int(rng.integers(1, d))
    sub.ahead(REDUCTION, [(h, w, d), (h + r, w + r, d), (h, w + r, d)])
    expect_reduction(sub, h, w, d)
    expect_value_error(sub, REDUCTION, h + r, w + r, d, f"{h + r} and {w + r} are not divisible by {d}",
                       "latent_budget.rounds_instead_of_raising")
    expect_value_error(sub, REDUCTION, h, w + r, d, f"width {w + r} is not divisible by {d}",
                       "latent_budget.rounds_instead_of_raising")


@check("zero or negative arguments raise ValueError", function=REDUCTION, weight=2)
def reduction_non_positive(sub, rng):
    d = int(rng.integers(2, 9))
    h, w = sizes(rng, d)
    sub.ahead(REDUCTION, [(h, w, d), (h, w, 0), (-h, -w, d), (h, w, -d)])
    expect_reduction(sub, h, w, d)
    expect_value_error(sub, REDUCTION, h, w, 0, "downsample must be positive", "latent_budget.no_validation")
    expect_value_error(sub, REDUCTION, -h, -w, d, "height and width must be positive",
                       "latent_budget.no_validation")
    expect_value_error(sub, REDUCTION, h, w, -d, "downsample must be positive", "latent_budget.no_validation")


def each_argument_refused(sub, func: str, h: int, w: int, d: int) -> None:
    """Each argument's validation on its own: zero and negative, one argument at a time."""
    refused = []
    for bad in (0, -1):
        for position, name in enumerate(("height", "width", "downsample")):
            args = [h, w, d]
            args[position] = bad * args[position] if bad else 0
            refused.append((args, name))
    r = int(rng_offset(d))
    sub.ahead(func, [tuple(args) for args, _ in refused] + [(h + r, w, d), (h, w + r, d)])
    for args, name in refused:
        expect_value_error(sub, func, *args, f"{name} must be positive", "latent_budget.no_validation")
    expect_value_error(sub, func, h + r, w, d, f"height {h + r} is not divisible by {d}",
                       "latent_budget.rounds_instead_of_raising")
    expect_value_error(sub, func, h, w + r, d, f"width {w + r} is not divisible by {d}",
                       "latent_budget.rounds_instead_of_raising")


def rng_offset(d: int) -> int:
    return max(1, d // 2)


@check("each argument is validated on its own (zero, negative, not divisible)", function=GRID, weight=2)
def grid_each_argument(sub, rng):
    d = int(rng.integers(3, 9))
    h, w = sizes(rng, d)
    expect_grid(sub, h, w, d)
    each_argument_refused(sub, GRID, h, w, d)


@check("each argument is validated on its own (zero, negative, not divisible)", function=REDUCTION, weight=2)
def reduction_each_argument(sub, rng):
    d = int(rng.integers(3, 9))
    h, w = sizes(rng, d)
    expect_reduction(sub, h, w, d)
    each_argument_refused(sub, REDUCTION, h, w, d)


# Each SPEC clause of this concept, and the checks that enforce it.
CLAUSES = {
    "latent_grid = (height // downsample, width // downsample) [512, 512, 8 → (64, 64)]":
        ["lesson_grid", "grid_random", "grid_edges", "grid_large"],
    "latent_grid: a size not divisible by downsample raises ValueError":
        ["grid_not_divisible", "grid_each_argument"],
    "latent_grid: any non-positive argument raises ValueError": ["grid_non_positive", "grid_each_argument"],
    "spatial_reduction = pixel positions over latent positions [→ 64]":
        ["lesson_reduction", "reduction_random", "reduction_edges"],
    "spatial_reduction raises ValueError on the same inputs as latent_grid":
        ["reduction_not_divisible", "reduction_non_positive", "reduction_each_argument"],
}
