"""Recording the public checks against the reference solutions, for a learner's copy to replay."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from grader.checks import Fail, Raised, checks_for
from grader.checks.replay import RELEASE_SEED, encode
from grader.course import manifest
from grader.grading.runner import ConceptRun, Lane, Submission, stage
from grader.sandbox.session import Zygote
from grader.settings import Limits


class RecordingError(Exception):
    """A public check cannot be recorded (the reference fails it, or it cannot be replayed)."""


def record_public_checks(solutions: Path) -> dict[str, list[dict]]:
    """Run every public check against the reference solutions; the requests and replies, per concept."""
    class Recorder(Submission):
        def __init__(self, *args):
            super().__init__(*args)
            self.steps = []

        def call(self, func, *args, **kwargs):
            got = self._record("call", func, args, kwargs, super().outcome(func, *args, **kwargs))
            if isinstance(got, Raised):
                raise Fail(self._raised_feedback(func, got), "code.exception")
            return got

        def outcome(self, func, *args, **kwargs):
            return self._record("call", func, args, kwargs, super().outcome(func, *args, **kwargs))

        def grad(self, func, args, kwargs, weights):
            got = super().grad(func, args, kwargs, weights)
            self.steps.append({"kind": "grad", "function": func, "args": encode(list(args)),
                               "kwargs": encode(dict(kwargs)), "weights": encode(list(weights)),
                               "reply": encode(got)})
            return got

        def repeat(self, func, times, *args, **kwargs):
            raise RecordingError(f"public check of {self.concept.id} samples at random (sub.repeat): "
                               "a learner's copy cannot replay it")

        def train_vae(self, func, payload):
            raise RecordingError(f"public check of {self.concept.id} trains the TinyVAE: a learner's copy "
                               "cannot replay it")

        def _record(self, kind, func, args, kwargs, got):
            self.steps.append({"kind": kind, "function": func, "args": encode(list(args)),
                               "kwargs": encode(dict(kwargs)), "reply": encode(got)})
            return got

    recorded = {}
    with tempfile.TemporaryDirectory(prefix="vaegrade-release-") as staging:
        os.chmod(staging, 0o755)
        stage(solutions, Path(staging))
        zygote = Zygote()
        try:
            for index, concept in enumerate(manifest.load()):
                run = ConceptRun(Lane(zygote, staging, Limits()), concept)
                recorded[concept.id] = []
                try:
                    for number, chk in enumerate(checks_for(concept.id)):
                        if not chk.public:
                            continue
                        sub = Recorder(run, concept, True)
                        try:
                            chk.run(sub, np.random.default_rng([RELEASE_SEED, index, number]))
                        except Fail as fail:
                            raise RecordingError(f"the reference solution fails the public check "
                                               f"{concept.id}: {chk.name}: {fail.message}") from None
                        recorded[concept.id].append({"name": chk.name, "function": chk.function,
                                                     "weight": chk.weight, "steps": sub.steps})
                finally:
                    run.close()
        finally:
            zygote.close()
    return recorded
