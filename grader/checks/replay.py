"""The public checks of a learner's copy, replayed from what the reference solutions answered.

A learner's copy must not hold the hidden checks, nor the reference computations the
checks use to know the right values (those are the solutions in another form). So at
release time every public check runs once against the reference solutions, with a fixed
seed, and each request with the reference's reply is recorded (grader.grading.recording);
the learner's copy replays those requests against the learner's code and compares the
replies. This module is the replaying side and the recording's file format.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from grader.checks import Check, Fail, Opaque, Raised, T, TensorValue, close, describe, fmt
from grader.course import manifest

RELEASE_SEED = 20240917
CHECKS_DIR = Path(__file__).resolve().parent


def encode(value):
    """Check arguments and replies as tagged JSON (arrays keep their dtype and shape)."""
    if isinstance(value, T):
        return {"T": encode(np.asarray(value.value, dtype=value.dtype)), "grad": value.grad, "dtype": value.dtype}
    if isinstance(value, TensorValue):
        return {"tensor": encode(value.array), "requires_grad": value.requires_grad, "grad_fn": value.has_grad_fn}
    if isinstance(value, Raised):
        return {"raised": value.type_name, "bases": list(value.bases)}
    if isinstance(value, Opaque):
        return {"opaque": value.type_name}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"dict": {k: encode(v) for k, v in value.items()}}
    return value


def decode(data):
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "array" in data:
        return np.array(data["array"], dtype=data["dtype"]).reshape(data["shape"])
    if "T" in data:
        return T(decode(data["T"]), grad=data["grad"], dtype=data["dtype"])
    if "tensor" in data:
        return TensorValue(decode(data["tensor"]), data["requires_grad"], data["grad_fn"])
    if "raised" in data:
        return Raised(data["raised"], "", None, tuple(data["bases"]))
    if "opaque" in data:
        return Opaque(data["opaque"], "")
    if "tuple" in data:
        return tuple(decode(v) for v in data["tuple"])
    return {k: decode(v) for k, v in data["dict"].items()}


def _same(got, expected) -> bool:
    if isinstance(expected, Raised):
        return isinstance(got, Raised) and expected.type_name in got.bases
    if isinstance(got, (Raised, Opaque)) or got is None or expected is None:
        return got is None and expected is None
    if isinstance(expected, (tuple, list)) and not isinstance(got, (np.ndarray, TensorValue)):
        return (isinstance(got, (tuple, list)) and len(got) == len(expected)
                and all(_same(g, e) for g, e in zip(got, expected)))
    if isinstance(expected, bool):
        return isinstance(got, bool) and got == expected
    if isinstance(expected, int) and not isinstance(got, (float, np.ndarray, TensorValue)):
        return isinstance(got, int) and not isinstance(got, bool) and got == expected
    try:
        got = got.array if isinstance(got, TensorValue) else got
        expected = expected.array if isinstance(expected, TensorValue) else expected
        return not isinstance(got, bool) and close(np.asarray(got, dtype=np.float64), expected)
    except (TypeError, ValueError):
        return False


def _show(value) -> str:
    if isinstance(value, Raised):
        return f"raises {value.type_name}"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_show(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    try:
        return fmt(value.array if hasattr(value, "array") else value)
    except (TypeError, ValueError):
        return describe(value)


def _replay_step(sub, step: dict, hint: str) -> None:
    func, args, kwargs = step["function"], decode(step["args"]), decode(step["kwargs"])
    call = f"{func}({', '.join([_show(a.value if hasattr(a, 'value') else a) for a in args] + [f'{k}={_show(v)}' for k, v in kwargs.items()])})"
    expected = decode(step["reply"])
    if step["kind"] == "grad":
        got = sub.grad(func, args, kwargs, decode(step["weights"]))
        if not _same(got, expected):
            raise Fail(f"{call}: the value or the gradients differ from the reference's "
                       f"(gradients {_show(got[1])}, expected {_show(expected[1])}).{hint}")
        return
    got = sub.outcome(func, *args, **kwargs)
    if isinstance(got, Raised) and not isinstance(expected, Raised):
        raise Fail(sub._raised_feedback(func, got), "code.exception")
    if not _same(got, expected):
        if isinstance(expected, Raised):
            raise Fail(f"{call} should raise {expected.type_name}, but it {_show(got)}.{hint}")
        raise Fail(f"{call} returned {_show(got)}; the right value is {_show(expected)}.{hint}")


def replay_checks(concept_id: str) -> list:
    """The public checks of a learner's copy, from grader/checks/<id>.public.json."""
    data = json.loads((CHECKS_DIR / f"{concept_id}.public.json").read_text(encoding="utf-8"))
    concept = manifest.by_id(concept_id)
    hint = f" Hint: {concept.hints[0]}" if concept.hints else ""

    def make(entry):
        def run(sub, rng):
            for step in entry["steps"]:
                _replay_step(sub, step, hint)
        return Check(entry["name"], entry["function"], entry["weight"], True, run)

    return [make(entry) for entry in data["checks"]]
