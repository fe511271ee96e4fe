"""The hidden checks: one module per concept (grader/checks/<concept id>.py).

A check is a plain function ``def _(sub, rng)`` written like a pytest test and
registered with ``@check(...)``: it calls the learner's functions through
``sub`` (which runs them in the sandbox and hands back plain numbers and
arrays), computes the expected values itself with trusted numpy code, and
fails by raising ``Fail`` (usually through ``expect_close``/``expect_raises``)
with feedback a tutor would give. Inputs are drawn from ``rng`` at grading
time, so no submission can know them in advance.

Each module also holds ``CLAUSES``: the SPEC's clauses for its concept, each mapped to the
checks that enforce it (``vaegrade dev check`` fails when a clause has none). A misconception id
given to ``Fail`` must be declared in concepts.toml ``[[misconceptions]]`` (id, label, lesson
section). Random inputs sit beside fixed boundary inputs (values either side of a threshold,
mismatched shapes that keep the size, exact ties, large values), so a wrong implementation
loses points on every seed; ``vaegrade dev mutants`` measures that.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np

from grader.settings import ABSOLUTE_TOLERANCE, RELATIVE_TOLERANCE


class Fail(Exception):
    """A failed check: `message` is the feedback, `misconception` the id of a recognised mistake."""

    def __init__(self, message: str, misconception: str | None = None):
        super().__init__(message)
        self.message, self.misconception = message, misconception


@dataclass(frozen=True)
class Check:
    name: str                 #: what the check verifies, in words ("matches the lesson's ledger")
    function: str             #: the learner's function it exercises (a missing one fails only these)
    weight: float             #: share of the concept's points, relative to its other checks
    public: bool              #: also run by `vaegrade check` (worked examples only)
    run: Callable


def check(name: str, *, function: str, weight: float = 1.0, public: bool = False):
    """Register the decorated function as a check of the module's concept."""

    def register(fn: Callable) -> Callable:
        module = sys.modules[fn.__module__]
        module.__dict__.setdefault("CHECKS", []).append(Check(name, function, weight, public, fn))
        return fn

    return register


def checks_for(concept_id: str) -> list[Check]:
    return list(importlib.import_module(f"grader.checks.{concept_id}").CHECKS)


# --- inputs -------------------------------------------------------------------


@dataclass(frozen=True)
class T:
    """An argument passed to the learner as a torch tensor (float32 unless said)."""

    value: np.ndarray
    grad: bool = False
    dtype: str = "float32"


@dataclass(frozen=True)
class TensorValue:
    """A torch tensor the learner returned, as plain data."""

    array: np.ndarray
    requires_grad: bool
    has_grad_fn: bool


@dataclass(frozen=True)
class Opaque:
    """Something the learner returned that is not a number, an array or a tensor."""

    type_name: str
    text: str


@dataclass
class Raised:
    """The learner's function raised: type name, message, line, and the names of its bases."""

    type_name: str
    message: str
    line: int | None
    bases: tuple[str, ...]

    def is_a(self, exc_type: type[BaseException]) -> bool:
        return exc_type.__name__ in self.bases


# --- comparing ------------------------------------------------------------------


def as_array(value, what: str) -> np.ndarray:
    """A learner's value as a float64 array; Fail if it is not numeric."""
    if isinstance(value, TensorValue):
        value = value.array
    if isinstance(value, bool) or value is None or isinstance(value, Opaque):
        raise Fail(f"{what} should be numbers, but it returned {describe(value)}.")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Fail(f"{what} should be numbers, but it returned {describe(value)}.") from None
    return arr


def describe(value) -> str:
    if isinstance(value, Opaque):
        return f"a {value.type_name} ({value.text})" if value.text else f"a {value.type_name}"
    if value is None:
        return "None (did you forget a return statement?)"
    if isinstance(value, TensorValue):
        return f"a tensor of shape {value.array.shape}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    return f"a {type(value).__name__} ({value!r})"[:200]


def close(got, expected, rtol: float = RELATIVE_TOLERANCE, atol: float = ABSOLUTE_TOLERANCE) -> bool:
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if got.shape != expected.shape or not np.all(np.isfinite(got)):
        return False
    if np.all(np.isfinite(expected)):   # np.allclose's own test, without its general-purpose overhead
        with np.errstate(over="ignore", invalid="ignore"):
            return bool(np.all(np.abs(got - expected) <= atol + rtol * np.abs(expected)))
    return bool(np.allclose(got, expected, rtol=rtol, atol=atol))


def fmt(x) -> str:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0:
        return f"{float(arr):.6g}"
    if arr.size > 8:
        return f"array of shape {arr.shape}"
    return np.array2string(arr, precision=4, separator=", ", suppress_small=False)


class Either:
    """Several values one mistake can give (e.g. unclipped and clipped at zero, the way the reference clips)."""

    def __init__(self, *values):
        self.values = values


def matches(arr, wrong) -> bool:
    """True when `arr` equals the value a mistake gives (any of them, for Either)."""
    candidates = wrong.values if isinstance(wrong, Either) else (wrong,)
    for value in candidates:
        try:
            if close(arr, value):
                return True
        except (TypeError, ValueError):
            continue
    return False


def name_mistake(arr, mistakes: dict | None, what: str, right=None) -> None:
    """Fail naming the mistake `arr` is the value of; when several mistakes give this value, say each.

    A mistake whose value equals the right one on these inputs can't be told apart and is skipped.
    """
    found = []
    for mistake_id, (wrong, message) in (mistakes or {}).items():
        if right is not None and matches(np.asarray(right, dtype=np.float64), wrong):
            continue
        if matches(arr, wrong):
            found.append((mistake_id, message))
    if len(found) == 1:
        raise Fail(f"{what} is off. {found[0][1]}", found[0][0])
    if found:
        # Two slips coincide on these inputs: say both, and name neither (the class report counts
        # only unambiguous diagnoses).
        either = " Or: ".join(message for _, message in found)
        raise Fail(f"{what} is off, in a way that fits {len(found)} different slips on these inputs. "
                   f"Either: {either}")


def nonfinite_message(what: str, logvar: bool = False) -> str:
    if not logvar:
        return f"{what} contains NaN or infinity."
    return (f"{what} contains NaN or infinity. Results must be finite for logvar in [-50, 50]: exp(logvar) "
            "itself fits even in float32 (exp(50) is about 5e21), so look for a square of it, a sqrt or "
            "log of a negative number, or a division by zero.")


def expect_close(got, expected, what: str, *, mistakes: dict | None = None, show: bool = True,
                 scalar: bool = False, logvar: bool = False, atol: float = ABSOLUTE_TOLERANCE) -> None:
    """Fail unless `got` matches `expected` (shape and values, within the SPEC tolerance).

    `mistakes` maps a misconception id to (the value that mistake would give, or Either(values),
    feedback): when the learner's value matches exactly one, the feedback names it. `show=False`
    keeps the expected value out of the feedback (hidden random inputs). `logvar=True` says the
    inputs hold a log-variance, for the feedback on NaN or infinity. `atol` widens the absolute
    tolerance where a float32 computation rounds at a larger scale than the value it gives.
    """
    arr = as_array(got, what)
    expected = np.asarray(expected, dtype=np.float64)
    if scalar and arr.ndim != 0:
        raise Fail(f"{what} should be a single number, but it returned {describe(got)}.")
    if not np.all(np.isfinite(arr)):
        raise Fail(nonfinite_message(what, logvar), "numeric.nonfinite")
    if arr.shape != expected.shape and arr.size == expected.size and not scalar:
        raise Fail(f"{what} has shape {arr.shape}; it should have shape {expected.shape}.", "shape")
    if close(arr, expected, atol=atol):
        return
    name_mistake(arr, mistakes, what, expected)
    if arr.shape != expected.shape:
        raise Fail(f"{what} has shape {arr.shape}; it should have shape {expected.shape}.", "shape")
    detail = f" It returned {fmt(arr)}; the right value is {fmt(expected)}." if show else ""
    raise Fail(f"{what} does not match the right value.{detail}")


def a_n(number) -> str:
    """'a 5', 'an 8', 'an 18', 'an 11', 'a 100': the article a number takes when read aloud."""
    digits = str(number)
    an = digits.startswith("8") or (len(digits) % 3 == 2 and digits.startswith(("11", "18")))
    return f"{'an' if an else 'a'} {digits}"


def count(number, noun: str, plural: str | None = None) -> str:
    """'1 value', '3 values', '2 patches': a number with its noun in the right number."""
    return f"{number} {noun if number == 1 else (plural or noun + 's')}"


def expect_raises(sub, exc_type: type[BaseException], func: str, *args, what: str,
                  returned: tuple[str, str] | None = None, raised: dict | None = None, **kwargs) -> None:
    """Fail unless the learner's function raises exc_type (or a subclass) for these arguments.

    `returned` = (hint, misconception id) names the slip when a value comes back instead;
    `raised` maps another exception's name to (message, misconception id).
    """
    got = sub.outcome(func, *args, **kwargs)
    if isinstance(got, Raised):
        if got.is_a(exc_type):
            return
        if got.type_name == "NotImplementedError":
            raise Fail(f"{func} is not implemented yet: it still raises NotImplementedError.", "code.not_implemented")
        if raised and got.type_name in raised:
            raise Fail(*raised[got.type_name])
        raise Fail(f"{what}: {func} should raise {exc_type.__name__}, but it raised "
                   f"{got.type_name}: {got.message}")
    hint, mistake = returned or ("", None)
    raise Fail(f"{what}: {func} returned {describe(got)} instead of raising {exc_type.__name__}."
               + (f" {hint}" if hint else ""), mistake)


# --- one message per slip ------------------------------------------------------------------

REPEAT_PREFIX = "The same slip as in"


def fold_repeats(failed: list[tuple[str, str, str | None]]) -> list[str]:
    """Feedback for a concept's failed checks, (name, feedback, misconception) each, in order, with a
    slip that several checks report explained once: the first says how many checks it fails, the
    others point back to it instead of repeating the paragraph. Code problems (an exception, a
    missing function) are short and stay as they are."""
    def explanation(feedback: str) -> str:
        what, sep, rest = feedback.partition(" is off. ")
        return rest if sep else feedback

    groups: dict[tuple, list[int]] = {}
    for i, (_, feedback, mistake) in enumerate(failed):
        if mistake and mistake.startswith(("code.", "limit", "grader.")):
            continue
        groups.setdefault((mistake, explanation(feedback)), []).append(i)
    out = [feedback for _, feedback, _ in failed]
    for members in groups.values():
        if len(members) < 2:
            continue
        first = members[0]
        out[first] = f"{failed[first][1]} (This same slip fails {len(members)} checks of this concept.)"
        for i in members[1:]:
            what, sep, _ = failed[i][1].partition(" is off. ")
            out[i] = (f"{what} is off: " if sep else "") + f"{REPEAT_PREFIX} “{failed[first][0]}” (above)."
    return out
