"""Grading one submission: stage its files, run every concept's checks against a sandboxed child."""

from __future__ import annotations

import ast
import hashlib
import hmac
import math
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import greenlet
import numpy as np

import grader
from grader import safetext
from grader.course import manifest, tinyvae
from grader.checks import Fail, Opaque, Raised, T, TensorValue, checks_for, fold_repeats
from grader.settings import (MAX_SOURCE_BYTES, MAX_SUBMISSION_BYTES, MAX_TRANSCRIPT_BYTES, PASS_FRACTION,
                             POINT_DECIMALS, Limits)
from grader.grading.results import CheckResult, ConceptResult, GradingResult, Status
from grader.sandbox import protocol
from grader.sandbox.protocol import decode_array, encode_array
from grader.sandbox.session import Failure, SandboxError, Zygote
from grader.grading import notebook as notebook_intake
from grader.grading.intake import content_hash

MAX_FILE_BYTES = MAX_SOURCE_BYTES
MAX_NOTEBOOK_BYTES = MAX_SUBMISSION_BYTES   #: a notebook carries its outputs (plots): larger than a .py file
GRADIENT_MISMATCH = "torch.gradient_mismatch"   #: gradients that are not those of the returned value
GRADER_FAULT = "The grader failed here, not your code: this check could not be run"


class SubmissionError(Exception):
    """The submission cannot be graded at all (not a folder, unreadable)."""


# --- plain data in and out -------------------------------------------------------


def encode_arg(value):
    if isinstance(value, T):
        arr = np.asarray(value.value, dtype=value.dtype)
        return ("t",) + encode_array(arr)[1:] + (value.grad,)
    if isinstance(value, np.ndarray):
        return encode_array(value)
    if isinstance(value, (list, tuple)):
        return ("list" if isinstance(value, list) else "tuple", [encode_arg(v) for v in value])
    if value is None:
        return ("none",)
    if isinstance(value, (bool, int, float, str)):
        return (type(value).__name__, value)
    raise TypeError(f"cannot pass {type(value).__name__} to a submission")


def clean_text(text, limit: int = 2000) -> str:
    """Text from the sandbox, safe to show anywhere: no controls, escapes or bidi tricks, bounded."""
    return safetext.inert(text, limit)


def decode_result(enc, depth: int = 0):
    """Plain tagged data from the child -> numbers, arrays, TensorValue, Opaque. Never objects."""
    if not isinstance(enc, tuple) or not enc or not isinstance(enc[0], str) or depth > 8:
        raise protocol.ProtocolError("malformed value")
    try:
        return _decode(enc, depth)
    except protocol.ProtocolError:
        raise
    except (TypeError, ValueError, IndexError, KeyError, OverflowError) as exc:
        raise protocol.ProtocolError(f"malformed value ({type(exc).__name__})") from None


def _decode(enc, depth: int):
    tag = enc[0]
    if tag == "none":
        return None
    if tag in ("bool", "int", "float"):
        kind = {"bool": bool, "int": int, "float": float}[tag]
        if type(enc[1]) is not kind:
            raise protocol.ProtocolError("malformed scalar")
        return enc[1]
    if tag == "nd":
        return decode_array(enc)
    if tag == "t":
        return TensorValue(decode_array(enc), bool(enc[4]), bool(enc[5]))
    if tag in ("list", "tuple"):
        if not isinstance(enc[1], list):
            raise protocol.ProtocolError("malformed sequence")
        items = [decode_result(e, depth + 1) for e in enc[1]]
        return items if tag == "list" else tuple(items)
    if tag == "stack":   # a repeated call's tensors, stacked: one decode, then a view per call
        count, inner = enc[1], enc[2]
        if type(count) is not int or not isinstance(inner, tuple) or not inner or inner[0] != "t":
            raise protocol.ProtocolError("malformed stack")
        stacked = decode_result(inner, depth + 1)
        if stacked.array.ndim < 1 or stacked.array.shape[0] != count:
            raise protocol.ProtocolError("a stack of the wrong length")
        return [TensorValue(row, stacked.requires_grad, stacked.has_grad_fn) for row in stacked.array]
    if tag == "other":
        return Opaque(clean_text(enc[1], 80), clean_text(enc[2], 200))
    raise protocol.ProtocolError(f"unknown tag {tag!r}")


# --- what the checks see -----------------------------------------------------------


def _exception_id(raised) -> str:
    """The misconception id of a learner exception: the stub's NotImplementedError is told apart."""
    return "code.not_implemented" if getattr(raised, "type_name", "") == "NotImplementedError" else "code.exception"


class Submission:
    """The learner's code for one concept, as the checks call it. Lives in the trusted process."""

    def __init__(self, state: "ConceptRun", concept: manifest.Concept, public: bool,
                 rng: np.random.Generator | None = None):
        self._state, self.concept, self.public = state, concept, public
        # Directions and steps of the finite-difference checks on reported gradients: drawn here,
        # from the run's seed, so the submission cannot know them in advance.
        self.rng = rng if rng is not None else np.random.default_rng(secrets.randbits(63))
        self.mismatch: Fail | None = None   #: reported gradients that are not those of the returned value
        self._answers: dict[bytes, list] = {}   #: replies sent ahead (see `ahead`), by request

    # The checks' API -----------------------------------------------------------
    def ahead(self, func: str, calls: list[tuple], kwargs: dict | list[dict] | None = None) -> None:
        """Make these calls of `func` now, together, in one round trip: `call` and `outcome` with the
        same arguments then take their answers from here instead of a round trip each.

        For a check whose inputs are all drawn before its first call; each item of `calls` is one
        call's positional arguments, `kwargs` the keyword arguments of every one (or a list, one
        dict per call). The check goes
        on exactly as before (a call it makes with other arguments still has its own round trip);
        the only difference is that every call here runs, even one after a comparison that fails.
        """
        each = kwargs if isinstance(kwargs, list) else [kwargs or {}] * len(calls)
        messages = [self._message(func, args, kw) for args, kw in zip(calls, each)]
        for message, reply in zip(messages, self._state.request_many(messages)):
            self._answers.setdefault(protocol.dumps(message), []).append(reply)

    def _message(self, func: str, args, kwargs: dict) -> tuple:
        return ("call", self.concept.file, func, [encode_arg(a) for a in args],
                {k: encode_arg(v) for k, v in kwargs.items()}, {})

    def call(self, func: str, *args, **kwargs):
        """Call the learner's function; its value, or Fail with feedback on why there is none."""
        reply = self._request(self._message(func, args, kwargs), func)
        if isinstance(reply, Raised):
            raise Fail(self._raised_feedback(func, reply), _exception_id(reply))
        return decode_result(reply[1])

    def outcome(self, func: str, *args, **kwargs):
        """Like call, but a learner exception is returned as Raised instead of failing.

        An untouched stub (NotImplementedError) still fails, and is told it is a stub: no check
        expects that exception, so a message about the exception it did expect would mislead.
        """
        reply = self._request(self._message(func, args, kwargs), func)
        if isinstance(reply, Raised) and reply.type_name == "NotImplementedError":
            raise Fail(self._raised_feedback(func, reply), _exception_id(reply))
        return reply if isinstance(reply, Raised) else decode_result(reply[1])

    def repeat(self, func: str, times: int, *args, **kwargs) -> list:
        """Call the function `times` times in one round trip (sampling checks)."""
        reply = self._request(("call", self.concept.file, func, [encode_arg(a) for a in args],
                               {k: encode_arg(v) for k, v in kwargs.items()}, {"repeat": times}), func)
        if isinstance(reply, Raised):
            raise Fail(self._raised_feedback(func, reply), _exception_id(reply))
        return decode_result(reply[1])

    def grad(self, func: str, args: list, kwargs: dict, weights: list, verify: bool = True):
        """Call, then backpropagate sum(weights[i] * output[i]); (value, gradients of the T(grad=True) args).

        A gradient that does not reach an input comes back as None; when no graph exists at
        all, Fail says so. The gradients are computed inside the sandbox, by code the submission
        can rewrite, so with `verify` (the default) they are cross-checked here: the directional
        derivative they claim, along a random direction drawn here, must match a central finite
        difference of the learner's own values (two more calls). Pass verify=False only where the
        gradient is by design not the derivative of the value (a straight-through estimator) or
        the function is random.
        """
        weights = [None if w is None else encode_array(np.asarray(w, dtype=np.float64)) for w in weights]
        reply = self._request(("call", self.concept.file, func, [encode_arg(a) for a in args],
                               {k: encode_arg(v) for k, v in kwargs.items()}, {"backward": weights}), func)
        if isinstance(reply, Raised):
            raise Fail(self._raised_feedback(func, reply), _exception_id(reply))
        value, grads = decode_result(reply[1]), reply[2].get("grads")
        if not isinstance(grads, tuple) or not grads or not isinstance(grads[0], str):
            raise protocol.ProtocolError("missing gradients")
        if grads[0] == "ok" and not (len(grads) == 2 and isinstance(grads[1], list)):
            raise protocol.ProtocolError("malformed gradients")
        if grads[0] in ("no_graph", "raised"):
            grads = (grads[0],) + tuple(clean_text(g, 500) for g in grads[1:3])
        if grads[0] == "no_graph":
            raise Fail(f"{func} returned a value with no gradient path: {grads[1]}. Stay in torch "
                       "operations (no .detach(), .item(), .numpy() or np.* on tensors) so gradients "
                       "reach mu and logvar.", "torch.no_grad_path")
        if grads[0] == "raised":
            raise Fail(f"backpropagating through {func} raised {grads[1]}: {grads[2]}", "torch.no_grad_path")
        decoded = [decode_result(g) for g in grads[1]]
        if verify:
            self._hold_mismatch(lambda: self._verify_gradients(func, args, kwargs, weights, value, decoded))
        return value, decoded

    def _hold_mismatch(self, verify) -> None:
        """Run a gradient cross-check; a mismatch is held, not raised at once (see `mismatch`).

        A check that compares the gradients with trusted analytic ones names the learner's
        actual slip; the mismatch only decides the verdict of a check that would otherwise pass.
        """
        try:
            verify()
        except Fail as fail:
            if self.mismatch is None:
                self.mismatch = fail

    # Finite-difference cross-check of reported gradients -------------------------------------
    def _objective(self, func: str, args: list, kwargs: dict, weights: list, value=None) -> tuple[float, float]:
        """(sum_i w_i . output_i, sum_i |w_i| . |output_i|) of the learner's function at args."""
        if value is None:
            value = self.call(func, *args, **kwargs)
        outputs = value if isinstance(value, (tuple, list)) else (value,)
        total = scale = 0.0
        for out, w in zip(outputs, weights):
            if w is None:
                continue
            out = out.array if isinstance(out, TensorValue) else out
            w = decode_array(w)
            try:
                out = np.asarray(out, dtype=np.float64)
                total += float(np.sum(w * out))
                scale += float(np.sum(np.abs(w) * np.abs(out)))
            except (TypeError, ValueError):
                raise Fail(f"{func} did not return numbers, so its gradients cannot be checked.",
                           "code.wrong_type") from None
        return total, scale

    def _verify_gradients(self, func: str, args: list, kwargs: dict, weights: list, value, grads: list) -> None:
        targets = [i for i, a in enumerate(args) if isinstance(a, T) and a.grad and i < len(grads)
                   and grads[i] is not None]
        if not targets:
            return
        claimed = {}
        for i in targets:
            g = grads[i].array if isinstance(grads[i], TensorValue) else grads[i]
            x = np.asarray(args[i].value, dtype=np.float64)
            if not isinstance(g, np.ndarray) or g.shape != x.shape:
                raise Fail(f"the gradient {func} reports for argument {i + 1} has the wrong shape.",
                           GRADIENT_MISMATCH)
            claimed[i] = g.astype(np.float64)
        with np.errstate(all="ignore"):
            if not all(np.all(np.isfinite(g)) for g in claimed.values()):
                return  # a NaN gradient fails the check's own comparison
            direction = {i: self.rng.standard_normal(np.shape(args[i].value)) for i in targets}
            norm = np.sqrt(sum(float(np.sum(d * d)) for d in direction.values())) or 1.0
            biggest = max(float(np.max(np.abs(args[i].value), initial=0.0)) for i in targets)
            h = 1e-3 * (1.0 + biggest)
            def shifted(sign: float) -> list:
                out = []
                for i, a in enumerate(args):
                    if isinstance(a, T):
                        v = np.asarray(a.value, dtype=np.float64)
                        if i in direction:
                            v = v + sign * h * direction[i] / norm
                        out.append(T(v, a.grad, "float64"))
                    else:
                        out.append(a)
                return out
            plus, _ = self._objective(func, shifted(+1.0), kwargs, weights)
            minus, _ = self._objective(func, shifted(-1.0), kwargs, weights)
            _, scale = self._objective(func, args, kwargs, weights, value)
            measured = (plus - minus) / (2 * h)
            reported = sum(float(np.sum(claimed[i] * direction[i])) for i in targets) / norm
            tolerance = 2e-3 * (abs(measured) + abs(reported)) + 1e-5 * scale / h + 1e-9
            if np.isfinite(measured) and np.isfinite(reported) and abs(measured - reported) <= tolerance:
                return
            if not np.isfinite(measured):
                return  # the value itself is not finite near this point: the check's comparison decides
        raise Fail(f"the gradients backpropagation gives for {func} do not match how its value changes: along a "
                   f"random direction its value changes at a rate of {measured:.6g}, while the gradients say "
                   f"{reported:.6g}. A .detach() trick or a hand-written backward gives the gradients of something "
                   "else: they must be those of the value the function returns.", GRADIENT_MISMATCH)

    def train_vae(self, func: str, payload: dict):
        """Train the lesson's TinyVAE with the learner's loss; (trained weights, [(step, loss), ...]).

        The network's forward and backward passes and the Adam updates run here, in trusted numpy;
        each step the child only evaluates the learner's loss on this step's (x, x_hat, mu, logvar)
        and its gradients with respect to x_hat, mu and logvar. A submission that replaces the
        training loop inside its own process therefore changes nothing: the model is trained by
        the loss function that is graded, or not at all.
        """
        steps = int(payload["steps"])
        # The first step and three drawn at random: there, the reported gradients are cross-checked
        # against finite differences of the loss's own values (see grad).
        verified = {1} | {int(s) for s in self.rng.integers(2, max(3, steps + 1), size=3)}
        return tinyvae.train(
            lambda x, x_hat, mu, logvar, beta, step: self._loss_and_grads(func, x, x_hat, mu, logvar, beta, step,
                                                                          step in verified),
            decode_array(payload["patches"]), [decode_array(w) for w in payload["weights"]],
            steps=int(payload["steps"]), lr=float(payload["lr"]), beta=float(payload["beta"]),
            seed=int(payload["seed"]))

    def _loss_and_grads(self, func, x, x_hat, mu, logvar, beta, step, verify: bool = False):
        """One evaluation of the learner's loss in the sandbox: (total, (dL/dx_hat, dL/dmu, dL/dlogvar))."""
        args = self._loss_args(x, x_hat, mu, logvar)
        reply = self._request(self._loss_message(func, args, beta), func)
        value, found = self._read_loss(func, reply, x_hat, mu, logvar, f"at step {step}")
        if verify:
            before = self.mismatch
            self._hold_mismatch(lambda: self._verify_gradients(
                func, args, {"beta": beta}, [encode_array(np.ones(()))], (TensorValue(np.asarray(value), True, True),),
                [None] + [TensorValue(g, False, False) for g in found]))
            if self.mismatch is not before:
                self.mismatch = Fail(f"{self.mismatch.message} (while training the TinyVAE, step {step})",
                                     self.mismatch.misconception)
        return value, found

    def losses_at(self, func: str, points: list[tuple], beta: float) -> list[tuple[float, tuple]]:
        """The learner's loss and its gradients at several (x, x_hat, mu, logvar), in one round trip.

        Each answer is read as one training step's (see train_vae): [(total, (dL/dx_hat, dL/dmu,
        dL/dlogvar)), ...]. The points travel together because all of them are drawn here before
        the first is evaluated; the submission cannot tell which step of which run each one is.
        """
        messages = [self._loss_message(func, self._loss_args(*point), beta) for point in points]
        replies = [self._interpret(reply, func) for reply in self._state.request_many(messages)]
        return [self._read_loss(func, reply, point[1], point[2], point[3], "on the training run")
                for reply, point in zip(replies, points)]

    @staticmethod
    def _loss_args(x, x_hat, mu, logvar) -> list:
        return [T(x), T(x_hat, grad=True), T(mu, grad=True), T(logvar, grad=True)]

    def _loss_message(self, func: str, args: list, beta: float) -> tuple:
        return ("call", self.concept.file, func, [encode_arg(a) for a in args], {"beta": encode_arg(beta)},
                {"backward": [encode_array(np.ones(()))]})

    def _read_loss(self, func, reply, x_hat, mu, logvar, when: str) -> tuple[float, tuple]:
        """A training step's answer: the total as a float and the gradients as float64 arrays; Fail if unusable."""
        def problem(message: str) -> Fail:
            raised = Raised("LossProblem", message, None, ("LossProblem",))
            return Fail(self._raised_feedback(func, raised, during="training the TinyVAE"), _exception_id(raised))

        if isinstance(reply, Raised):
            raise Fail(self._raised_feedback(func, reply, during="training the TinyVAE"), _exception_id(reply))
        out = decode_result(reply[1])
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise problem(f"{func} must return a tuple (total, recon, kl)")
        total, grads = out[0], reply[2].get("grads")
        if not isinstance(grads, tuple) or not grads or not isinstance(grads[0], str):
            raise protocol.ProtocolError("missing gradients")
        if grads[0] == "raised" and len(grads) > 2:
            raise Fail(f"backpropagating through {func} raised {clean_text(grads[1], 100)} while training the "
                       f"TinyVAE: {clean_text(grads[2], 500)}", "torch.no_grad_path")
        if not isinstance(total, TensorValue) or not total.requires_grad or total.array.size != 1 \
                or grads[0] != "ok":
            raise problem("the total loss is not a one-element torch tensor connected to the model, "
                          "so backpropagation cannot train the VAE")
        value = float(total.array.reshape(()))
        if not np.isfinite(value):
            raise problem(f"the loss became {value} {when}")
        if not isinstance(grads[1], list) or len(grads[1]) != 4:
            raise protocol.ProtocolError("malformed gradients")
        found = []
        for enc, like in zip(grads[1][1:], (x_hat, mu, logvar)):
            g = decode_result(enc)
            g = g.array if isinstance(g, TensorValue) else g
            if g is None:
                found.append(np.zeros_like(like))
            elif isinstance(g, np.ndarray) and g.shape == like.shape:
                found.append(g.astype(np.float64))
            else:
                raise protocol.ProtocolError("a gradient of the wrong shape")
        return value, tuple(found)

    # Plumbing -------------------------------------------------------------------
    def _request(self, msg, func: str):
        if self._answers:
            sent = self._answers.get(protocol.dumps(msg))
            if sent:
                return self._interpret(sent.pop(0), func)
        return self._interpret(self._state.request(msg), func)

    def _interpret(self, reply, func: str):
        """A normalised reply: the ok tuple, Raised for a learner exception, else Fail with the reason."""
        kind = reply[0]
        if kind == "ok":
            if len(reply) != 3 or not isinstance(reply[2], dict):
                raise protocol.ProtocolError("malformed reply")
            return reply
        if kind == "raised":
            if len(reply) != 5 or not isinstance(reply[4], (tuple, list)):
                raise protocol.ProtocolError("malformed exception report")
            return Raised(clean_text(reply[1], 100), clean_text(reply[2], 500),
                          reply[3] if type(reply[3]) is int else None,
                          tuple(clean_text(b, 100) for b in reply[4][:64]))
        if kind == "missing_function":
            where = "any code cell of " if self._state.origin is not None else ""
            raise Fail(f"{func} is not defined in {where}{self._state.shown_file}.", "code.missing_function")
        raise Fail(self._state.fatal_message(reply), self._state.fatal_id(reply))

    def _raised_feedback(self, func: str, raised: Raised, during: str = "") -> str:
        where = f" ({self._state.where(raised.line)})" if raised.line else ""
        when = f" while {during}" if during else ""
        if raised.type_name == "NotImplementedError":
            return f"{func} is not implemented yet: it still raises NotImplementedError{where}. Replace the TODO."
        return f"{func} raised {raised.type_name}{where}{when}: {raised.message}"


def _more_output(kept: str, text: str, total: int, limit: int) -> str:
    """What a check's calls printed so far, with this call's `text` (of `total` characters) added:
    made safe, at most `limit` characters kept, and a note of how many were cut."""
    if not text and not total:
        return kept
    text = clean_text(text, limit)
    more = (kept + text)[:limit]
    dropped = max(0, total - len(text)) + len(kept) + len(text) - len(more)
    return more + (f"\n... ({dropped} more characters cut)" if dropped > 0 else "")


def _normalise(reply) -> tuple:
    """A child's reply in a shape the trusted side can rely on (a forged one becomes a failure)."""
    kind = reply[0]
    if kind in ("ok", "raised", "missing_function"):
        return reply
    if kind == "missing_file":
        return ("missing_file",)
    if kind == "limit" and len(reply) == 2 and reply[1] in ("time", "memory"):
        return reply
    if kind == "import_error" and len(reply) >= 3:
        line = reply[3] if len(reply) > 3 and type(reply[3]) is int else None
        return ("import_error", clean_text(reply[1], 100), clean_text(reply[2], 500), line)
    return ("failure", "protocol", "sent a reply the grader does not understand")


class Lane:
    """The sandboxed child that a submission's concepts share, one concept after another.

    A fork of the warm parent per concept costs more than most concepts' checks, so a child that
    served one concept serves the next, with its CPU budget renewed, unless the concept ended in a
    fatal event (a limit, a crash or exit, an import error, the grader's own failure) or left a
    thread running or memory held (see `Child.left_clean`): then the next concept gets a fresh
    child, as it would after any event that could cost it points. The concepts come in manifest
    order, whatever the command or the machine, so the same files always meet the same state.
    """

    def __init__(self, zygote: Zygote, root: str, limits: Limits):
        self.zygote, self.root, self.limits = zygote, root, limits
        self.idle = None     #: the child the last concept left clean
        self.forks = 0       #: children started for this submission

    def child(self, fresh: bool = False):
        """(child, inherited) for a concept starting now: the idle child with its CPU budget renewed
        (inherited), or a new one (always, with `fresh`)."""
        child, self.idle = self.idle, None
        if child is not None:
            if not fresh and child.alive and child.renew_cpu(self.limits.cpu_seconds):
                return child, True
            child.kill()
        self.forks += 1
        return self.zygote.spawn(self.root, self.limits), False

    def give_back(self, child, keep: bool) -> None:
        if child is None:
            return
        if keep and child.alive and child.left_clean(self.limits.memory_mb):
            child, self.idle = self.idle, child
        if child is not None:
            child.kill()

    def close(self) -> None:
        child, self.idle = self.idle, None
        if child is not None:
            child.kill()


class ConceptRun:
    """The sandboxed child serving one concept's checks, with its time budget."""

    def __init__(self, lane: Lane, concept: manifest.Concept,
                 origin: notebook_intake.Extracted | None = None, fresh: bool = False):
        self.lane, self.root, self.concept, self.limits = lane, lane.root, concept, lane.limits
        self.fresh = fresh            #: start in a new child, never one another concept used
        self.inherited = False        #: the first child had served another concept before this one
        self.origin = origin   #: the notebook this concept's file was extracted from, if any
        self.deadline = None  # starts once the first child exists: a cold warm parent is not the learner's time
        self.child = None
        self.fatal = None  # a reply that makes every further call pointless (missing file, import error, limit)
        self.sandbox_error: SandboxError | None = None  # the sandbox could not start: the grader's failure
        self.output = ""      #: what the learner's code printed during calls made outside `side_by_side`
        self.outputs: list[str] = []     #: what it printed during each body's calls (see `side_by_side`)
        self.seconds: list[float] = []   #: each body's own time, with its share of the round trips
        self._checks: set = set()        #: the greenlets of the bodies running side by side
        self.transcript: list[tuple] = []   #: (call, its answer) for every call, in the order they ran
        self.replayable = True   #: every call ran in one child, each answer came back (see `same_in`)
        self.transcript_bytes = 0   #: its calls' and answers' frames, in bytes (at most MAX_TRANSCRIPT_BYTES)
        self.frame_bytes = 0   #: bytes of every frame this run exchanged with its children

    def request(self, msg):
        """The learner's reply to one call (normalised).

        From a check running side by side with others (see `side_by_side`) the call waits for
        theirs, and all of them go to the child together."""
        if greenlet.getcurrent() in self._checks:
            return greenlet.getcurrent().parent.switch([msg])[0]
        (reply, text, total), = self._exchange([msg])
        self.output = _more_output(self.output, text, total, self.limits.output_chars)
        return reply

    def request_many(self, msgs: list) -> list:
        """Several calls in one round trip: their normalised replies, in order.

        After a reply that ends the concept (a limit, an import error) every later call has that reply."""
        if greenlet.getcurrent() in self._checks:
            return greenlet.getcurrent().parent.switch(list(msgs))
        answers = self._exchange(list(msgs))
        for _, text, total in answers:
            self.output = _more_output(self.output, text, total, self.limits.output_chars)
        return [reply for reply, _, _ in answers]

    def side_by_side(self, bodies: list) -> list:
        """Run the checks' bodies side by side; each body's return value, in order.

        Each body runs as a greenlet until it needs the learner's code; when every body is waiting
        or done, the calls of the waiting ones go to the child in one request, in body order, and
        each body goes on with its replies. A round trip to the child costs far more than a call,
        so a concept whose checks make two or three calls each needs two or three round trips
        instead of one per call. Nothing else changes for a check: its calls run in its order, its
        output is its own (`outputs`), and an exception the grader cannot hand to one call (the
        sandbox could not start, an unreadable answer) is raised in every waiting check.
        """
        lets = [greenlet.greenlet(body) for body in bodies]
        results, waiting = [None] * len(lets), {}
        self.outputs, self.seconds = [""] * len(lets), [0.0] * len(lets)
        self._checks = set(lets)

        def resume(i, replies=None, error=None):
            started = time.monotonic()
            if error is not None:
                got = lets[i].throw(error)
            else:
                got = lets[i].switch() if replies is None else lets[i].switch(replies)
            self.seconds[i] += time.monotonic() - started
            if lets[i].dead:
                results[i] = got
            else:
                waiting[i] = got

        try:
            for i in range(len(lets)):
                resume(i)
            while waiting:
                order, asked = sorted(waiting), dict(waiting)
                waiting.clear()
                started = time.monotonic()
                for _ in range(len(order)):   # as many tries as the calls would have had alone
                    try:
                        answers, error = self._exchange([m for i in order for m in asked[i]]), None
                        break
                    except protocol.ProtocolError as exc:
                        answers, error = None, exc
                        break
                    except SandboxError as exc:   # a child died before it was set up: try another
                        answers, error = None, exc
                        if self.sandbox_error is not None:   # no process can start at all
                            break
                share = (time.monotonic() - started) / len(order)
                at = 0
                for i in order:
                    self.seconds[i] += share
                    if error is not None:
                        resume(i, error=error)
                        continue
                    mine, at = answers[at:at + len(asked[i])], at + len(asked[i])
                    for _, text, total in mine:
                        self.outputs[i] = _more_output(self.outputs[i], text, total, self.limits.output_chars)
                    resume(i, [reply for reply, _, _ in mine])
        finally:
            self._checks = set()
        return results

    def _exchange(self, msgs: list) -> list[tuple]:
        """Send calls to the child: [(normalised reply, output, output total)] in order, one per call.

        One call travels alone; several travel as one "calls" request. If the child dies or garbles
        that answer, each call is sent again on its own (in a fresh child when needed), so a crash is
        the reply of the call that caused it, as if every call had been sent alone. After a reply
        that ends the concept, every later call has that reply.
        """
        moved = self.frame_bytes
        try:
            answers = self._answers(msgs)
        except BaseException:
            self.replayable = False
            raise
        if any(reply[0] == "failure" for reply, _, _ in answers):
            self.replayable = False
        if self.replayable:
            self.transcript += zip(msgs, answers)
            self.transcript_bytes += self.frame_bytes - moved
            if self.transcript_bytes > MAX_TRANSCRIPT_BYTES:   # a submission answering with floods
                self.replayable = False
        if not self.replayable:
            self.transcript = []
        return answers

    def same_in(self, fresh: "ConceptRun") -> bool:
        """Whether every call of this run, made again in `fresh` (a new child) in the same order and
        in one request, gets the same answer, output included.

        The checks are a function of their inputs (drawn from the seed) and of the answers, so
        when every answer is the same, grading the concept again in `fresh` would make the same
        calls and reach the same result, call by call: this run's result is the fresh child's.
        False when the run cannot be replayed (a child died, an answer was unreadable).
        """
        if not self.replayable or not self.transcript:
            return False
        try:
            again = fresh._exchange([msg for msg, _ in self.transcript])
        except (SandboxError, protocol.ProtocolError):
            return False
        return fresh.replayable and again == [answer for _, answer in self.transcript]

    def _answers(self, msgs: list) -> list[tuple]:
        answers = []
        while len(answers) < len(msgs):
            rest = msgs[len(answers):]
            if self.fatal is not None or len(rest) == 1:
                answers += [self._request(m) for m in rest]
                break
            reply, text, total = self._request(("calls", rest))
            if reply[0] != "ok":
                if self.fatal is not None:
                    continue   # a limit: every call left gets it (above)
                answers += [self._request(m) for m in rest]   # no answer (a crash): each call alone
                break
            inner = reply[2].get("replies") if len(reply) == 3 and isinstance(reply[2], dict) else None
            printed = reply[2].get("outputs") if inner is not None else None
            if not (isinstance(inner, list) and 1 <= len(inner) <= len(rest) and all(
                    isinstance(r, tuple) and r and isinstance(r[0], str) for r in inner)
                    and isinstance(printed, list) and len(printed) == len(inner) and all(
                    isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) and type(p[1]) is int
                    for p in printed)):
                raise protocol.ProtocolError("malformed answer to several calls")
            for n, (r, (said, count)) in enumerate(zip(inner, printed)):
                r = _normalise(r)
                if n == 0 and (text or total):   # printed outside any call: the first call's
                    said, count = text + said, total + count
                answers.append((r, said, count))
                if r[0] in ("missing_file", "import_error", "limit"):
                    self.fatal = r
        return answers

    def _request(self, msg) -> tuple:
        """One frame to the child and its answer: (normalised reply, output, output total)."""
        if self.fatal is not None:
            return self.fatal, "", 0
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.fatal = ("limit", "time")
            return self.fatal, "", 0
        if self.sandbox_error is not None:   # no process could be started: every further check alike
            raise self.sandbox_error
        if self.child is None or not self.child.alive:
            self.replayable = self.replayable and self.child is None   # calls in two children: not one run
            try:
                first = self.child is None
                self.child, inherited = self.lane.child(fresh=self.fresh or not first)
                if first:
                    self.inherited = inherited
            except SandboxError as exc:
                self.sandbox_error = exc
                raise
        if self.deadline is None:
            self.deadline = time.monotonic() + self.limits.concept_seconds
        moved = self.child.bytes_moved
        got = self.child.request(msg, self.deadline)
        self.frame_bytes += self.child.bytes_moved - moved
        if isinstance(got, Failure):
            reply = ("limit", "time") if got.kind == "timeout" else ("failure", got.kind, got.detail)
            if got.kind == "timeout":
                self.fatal = reply
            return reply, "", 0
        reply, text, total = got
        reply = _normalise(reply)
        if reply[0] in ("missing_file", "import_error", "limit"):
            self.fatal = reply
        return reply, text, total

    @property
    def shown_file(self) -> str:
        """The file the learner wrote: the concept's file, or the notebook it was taken from."""
        return self.origin.name if self.origin is not None else self.concept.file

    def where(self, line: int | None) -> str:
        """'line 3 of mse.py', or 'cell 7, line 3 of vae.ipynb' for a notebook; '' without a line."""
        if not line:
            return ""
        return self.origin.where(line) if self.origin is not None else f"line {line} of {self.concept.file}"

    def fatal_message(self, reply) -> str:
        kind, file = reply[0], self.shown_file
        if kind == "missing_file":
            return f"{file} is missing from the submission, so {self.concept.title} scores zero."
        if kind == "import_error":
            line = reply[3] if len(reply) > 3 else None
            where = f" at {self.where(line)}" if line else ""
            return f"{file} could not be imported: {reply[1]}{where}: {reply[2]}"
        if kind == "limit" and reply[1] == "time":
            return (f"Stopped: the {self.limits.concept_seconds:g} s time limit for {self.concept.id} was "
                    "reached (an infinite loop, or very slow code?).")
        if kind == "limit" and reply[1] == "memory":
            return f"Stopped: the {self.limits.memory_mb} MB memory limit was exceeded."
        if kind == "failure":
            return f"Your code's process stopped answering: {reply[2]}."
        return f"The grader could not run this check ({kind})."

    def fatal_id(self, reply) -> str:
        return {"missing_file": "code.missing_file", "import_error": "code.import_error",
                "limit": f"limit.{reply[1]}" if len(reply) > 1 else "limit"}.get(reply[0], "code.crash")

    def close(self, keep: bool = False) -> None:
        """Done with the child: kill it, or with `keep` hand it back to the lane if nothing fatal happened."""
        child, self.child = self.child, None
        usable = self.sandbox_error is None and (self.fatal is None or self.fatal[0] == "missing_file")
        self.lane.give_back(child, keep and usable)


# --- staging and the main loop ---------------------------------------------------------


@dataclass
class Staged:
    """The files of a submission, copied (or extracted from its notebook) into the staging folder."""

    files: list[str]                            #: every staged concept file, sorted
    notebook: notebook_intake.Extracted | None = None
    from_notebook: frozenset[str] = frozenset()   #: the staged files written from the notebook
    notes: list[str] = field(default_factory=list)


def stage(src: Path, dest: Path) -> Staged:
    """Copy the submission's top-level .py files (regular files only, never links) into dest.

    `src` is a folder or a Jupyter notebook (.ipynb). A notebook (given, or at the top of the
    folder) supplies every concept file the folder does not hold: its definitions are taken
    from its code cells without running anything (grader.grading.notebook).
    """
    src = Path(src)
    if src.suffix.lower() == notebook_intake.NOTEBOOK_SUFFIX and not src.is_dir():
        if src.is_symlink() or not src.is_file():
            raise SubmissionError(f"{src} is not a notebook file")
        copied, notebooks = [], [src]
    elif not src.is_dir():
        raise SubmissionError(f"{src} is not a folder (or a Jupyter notebook, .ipynb)")
    else:
        copied, notebooks = [], []
        try:
            entries = sorted(os.scandir(src), key=lambda e: e.name)
        except OSError as exc:
            raise SubmissionError(f"cannot read {src}: {exc.strerror}") from None
        for entry in entries:
            if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                continue
            if entry.name.lower().endswith(notebook_intake.NOTEBOOK_SUFFIX):
                notebooks.append(Path(entry.path))
                continue
            if not entry.name.endswith(".py") or entry.stat(follow_symlinks=False).st_size > MAX_FILE_BYTES:
                continue
            shutil.copyfile(entry.path, dest / entry.name, follow_symlinks=False)
            copied.append(entry.name)
    staged = Staged(copied)
    if notebooks:
        try:
            extracted = notebook_intake.extract_file(notebooks[0], MAX_NOTEBOOK_BYTES)
        except notebook_intake.NotebookError as exc:
            if src.is_dir():
                staged.notes.append(f"{notebooks[0].name} was not graded: {exc}")
                return staged
            raise SubmissionError(str(exc)) from None
        written = notebook_intake.write_concept_files(extracted, dest, set(copied))
        staged = Staged(sorted(copied + written), extracted, frozenset(written), extracted.notes())
        staged.notes += [f"{nb.name} was not graded: only one notebook per submission ({notebooks[0].name} was)"
                         for nb in notebooks[1:]]
    return staged


def split_points(total: float, weights: list[float], decimals: int = POINT_DECIMALS) -> list[float]:
    """`total` shared in proportion to `weights`, rounded to `decimals`, summing to `total` exactly.

    Largest-remainder rounding: each share is floored to the unit (10**-decimals), and the units
    left over go to the shares that lost most in the flooring (ties: the earlier check).
    """
    if not weights:
        return []
    scale = 10 ** decimals
    units = round(total * scale)
    weight_sum = sum(weights)
    if weight_sum <= 0:
        weights, weight_sum = [1.0] * len(weights), float(len(weights))
    exact = [units * w / weight_sum for w in weights]
    floors = [math.floor(e) for e in exact]
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[: units - sum(floors)]:
        floors[i] += 1
    return [f / scale for f in floors]


def def_lines(path: Path) -> dict[str, int]:
    """Top-level function name -> line of its `def`, read with ast (never imported); {} if unparsable."""
    try:
        tree = ast.parse(path.read_bytes())
    except (SyntaxError, ValueError, OSError, RecursionError, MemoryError):
        return {}
    return {n.name: n.lineno for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}


def derive_seed(course_key: bytes, digest: str) -> int:
    """The grading seed of these files in this course: the same files, the same inputs, the same grade.

    A keyed hash (HMAC-SHA256) of the submission's content hash under the course's secret key:
    a submission cannot compute its inputs in advance without the key.
    """
    return int.from_bytes(hmac.new(course_key, digest.encode(), hashlib.sha256).digest()[:8], "big") >> 1


def grade_submission(path: str | os.PathLike, *, seed: int | None = None, course_key: bytes | None = None,
                     limits: Limits = Limits(), concepts: list[str] | None = None, public_only: bool = False,
                     zygote: Zygote | None = None, pass_fraction: float = PASS_FRACTION) -> GradingResult:
    """Grade the submission folder at `path` with the hidden (or only the public) checks.

    The inputs come from `seed` when given ("given"); else from the course key and the files'
    content hash ("course-key": the same files always get the same grade); else from a fresh
    random seed ("random"). The concepts are graded one after another, in manifest order, in one
    lane (see Lane): which concepts share a child depends on the files alone, never on the command
    or the machine, so `grade`, `batch`, CI and Gradescope give the same files the same grade.
    """
    started = time.monotonic()
    selected = [c for c in manifest.load() if concepts is None or c.id in concepts]
    own_zygote = zygote is None
    with tempfile.TemporaryDirectory(prefix="vaegrade-") as staging:
        os.chmod(staging, 0o755)
        staged = stage(Path(path), Path(staging))
        digest = content_hash(Path(staging), staged.files)
        lines = {name: def_lines(Path(staging) / name) for name in staged.files}
        if seed is not None:
            seed, seed_source = int(seed), "given"
        elif course_key:
            seed, seed_source = derive_seed(course_key, digest), "course-key"
        else:
            seed, seed_source = secrets.randbits(63), "random"
        zygote = zygote or Zygote()
        jobs = [(i, concept) for i, concept in enumerate(manifest.load()) if concept in selected]
        lane = Lane(zygote, staging, limits)
        try:
            results = [_grade_concept(lane, concept, index, seed, public_only, staged) for index, concept in jobs]
        finally:   # Ctrl-C included: the lane's child is killed at once
            lane.close()
            if own_zygote:
                zygote.close()
    for concept_result, concept in zip(results, [c for _, c in jobs]):
        concept_result.lines = lines.get(concept.file, {})
    result = GradingResult(results, seed, grader.__version__, str(path), time.monotonic() - started,
                           pass_fraction, public_only, content_hash=digest, seed_source=seed_source)
    if staged.notebook is not None:
        result.extra["notebook"] = {"name": staged.notebook.name, "functions": staged.notebook.functions,
                                    "skipped": [list(s) for s in staged.notebook.skipped]}
    if staged.notes:
        result.extra["notes"] = staged.notes
    return result


def _grade_concept(lane, concept, index, seed, public_only, staged=None) -> ConceptResult:
    """One concept's checks, in the child its lane offers.

    Tried once more in a fresh child, whose result stands: a concept the grader itself failed on
    (Status.ERROR), and a concept that lost points in a child another concept had used first,
    unless a fresh child gives every one of its calls the same answer (then grading it again
    there would reach the same result, call by call: see ConceptRun.same_in). So whatever another
    concept's code did to their shared process (patched a library, the harness), a concept never
    loses a point to it: a result from a shared child stands only when it has every point, or is
    the result of a fresh child.
    """
    result, run = _grade_concept_once(lane, concept, index, seed, public_only, staged)
    if result.errors:
        result, _ = _grade_concept_once(lane, concept, index, seed, public_only, staged, fresh=True)
    elif run.inherited and result.score < result.max_score and not _stands_alone(lane, run):
        result, _ = _grade_concept_once(lane, concept, index, seed, public_only, staged, fresh=True)
    return result


def _stands_alone(lane: Lane, run: ConceptRun) -> bool:
    """Whether a fresh child gives every call of `run` the same answer (see ConceptRun.same_in): the
    result graded in a shared child is then the one grading it again alone would give. Costs one
    fork and one round trip with the learner's calls, not the checks' work a second time."""
    fresh = ConceptRun(lane, run.concept, run.origin, fresh=True)
    same = False
    try:
        same = run.same_in(fresh)
    finally:
        fresh.close(keep=same)
    return same


def _grade_concept_once(lane: Lane, concept, index, seed, public_only, staged=None,
                        fresh: bool = False) -> tuple[ConceptResult, ConceptRun]:
    """(the concept's result, the run that graded it)."""
    checks = [c for c in checks_for(concept.id) if c.public or not public_only]
    shares = split_points(concept.points, [c.weight for c in checks])
    origin = staged.notebook if staged is not None and concept.file in staged.from_notebook else None
    run = ConceptRun(lane, concept, origin, fresh=fresh)

    def body(number: int, chk):
        def verdict() -> tuple:
            rng = np.random.default_rng([seed, index, number])
            sub = Submission(run, concept, public_only, np.random.default_rng([seed, index, number, 0xFD]))
            try:
                chk.run(sub, rng)
                if sub.mismatch is not None:   # the check's own comparisons passed; the gradients did not
                    raise sub.mismatch
                return Status.PASSED, "", None
            except Fail as fail:
                return Status.FAILED, fail.message, fail.misconception
            except protocol.ProtocolError as exc:
                return Status.FAILED, f"Your code sent back something unreadable ({exc}).", "code.protocol"
            except SandboxError as exc:  # the sandbox could not start: the grader's fault, not the learner's
                return Status.ERROR, f"{GRADER_FAULT} ({exc}).", None
            except Exception as exc:  # the grader's own bug: never the learner's failure
                return Status.ERROR, f"{GRADER_FAULT} ({type(exc).__name__}).", None
        return verdict

    results = []
    try:
        verdicts = run.side_by_side([body(number, chk) for number, chk in enumerate(checks)])
        for number, (chk, (status, feedback, mistake)) in enumerate(zip(checks, verdicts)):
            points = shares[number]
            results.append(CheckResult(concept.id, chk.name, chk.function, points,
                                       points if status is Status.PASSED else 0.0, status, feedback,
                                       mistake, chk.public, run.outputs[number], round(run.seconds[number], 4)))
    finally:
        run.close(keep=not any(r.status is Status.ERROR for r in results))
    failed = [r for r in results if r.status is Status.FAILED]
    for r, feedback in zip(failed, fold_repeats([(r.name, r.feedback, r.misconception) for r in failed])):
        r.feedback = feedback
    note = run.fatal_message(run.fatal) if run.fatal else ""
    if any(r.status is Status.ERROR for r in results):
        note = GRADER_FAULT + "."
    elif run.fatal and run.fatal[0] == "limit":
        # A concept stopped by a limit scores zero: checks passed before the stop do not count.
        for r in results:
            if r.status is Status.PASSED:
                r.status, r.score, r.misconception = Status.FAILED, 0.0, run.fatal_id(run.fatal)
                r.feedback = f"Not counted: {note}"
    return ConceptResult(concept.id, concept.title, concept.section, concept.points, results, note), run


__all__ = ["grade_submission", "SubmissionError", "SandboxError", "Submission", "stage"]
