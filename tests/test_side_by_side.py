"""A concept's checks run side by side, their calls batched into few round trips: every check still
gets the verdict, feedback and printed output it gets when each call travels alone."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pytest

from concept_helpers import CALLS_ANSWER_REWRITES, reference_with
from grader.course import manifest
from grader.grading import runner
from grader.grading.runner import ConceptRun, Lane, encode_arg, grade_submission
from grader.sandbox import child
from grader.settings import Limits

REPO = Path(__file__).resolve().parent.parent
CONCEPTS = {c.id: c for c in manifest.load()}


def _one_at_a_time(self, bodies):
    """side_by_side as it would be with no batching: each body runs alone, each call its own round trip."""
    results, self.outputs, self.seconds = [], [], []
    for body in bodies:
        self.output = ""
        results.append(body())
        self.outputs.append(self.output)
        self.seconds.append(0.0)
    return results


def _verdicts(result):
    return [(c.concept, c.name, c.status, c.score, c.feedback, c.misconception, c.output) for c in result.checks]


def _frames(monkeypatch) -> list:
    """Every frame sent to a child from now on (its first element: "call", "calls", ...)."""
    sent = []
    real = ConceptRun._request

    def counting(self, msg):
        sent.append(msg)
        return real(self, msg)

    monkeypatch.setattr(ConceptRun, "_request", counting)
    return sent


def test_the_reference_is_graded_in_a_few_round_trips_per_concept(tmp_path, zygote, monkeypatch):
    sent = _frames(monkeypatch)
    result = grade_submission(REPO / "solutions", zygote=zygote, seed=7)
    assert result.score == result.max_score
    calls = sum(len(m[1]) if m[0] == "calls" else 1 for m in sent)
    per_concept = len(sent) / len(result.concepts)
    assert calls > 150 and per_concept <= 8, (len(sent), calls)


# Learner code whose answers and prints depend only on its inputs (so the order of calls cannot
# matter), with the mistakes that end a call in every way: an exception, a crash of the process,
# a value too large to send, a print.
SLIPS = {
    "sigma": """
        import numpy as np
        def logvar_to_sigma(logvar):
            lv = np.asarray(logvar, dtype=np.float64)
            print("sigma of", lv.shape)
            if lv.ndim == 0:
                raise ValueError("a single number")
            return np.exp(lv)          # the variance, not sigma
        """,
    "mse": """
        import os
        import numpy as np
        def reconstruction_mse(x, x_hat):
            x, x_hat = np.asarray(x, dtype=float), np.asarray(x_hat, dtype=float)
            print("mse of", x.shape, x_hat.shape)
            if x.shape != x_hat.shape:
                raise ValueError("shapes differ")
            if x.size == 1:
                os._exit(3)            # the process ends during this call
            return float(np.mean((x - x_hat) ** 2))
        """,
    "latent_budget": """
        import numpy as np
        def latent_grid(height, width, downsample):
            print("grid", height, width, downsample)
            if downsample % 2 == 0:
                return np.zeros(3_000_000)   # 24 MB once encoded: more than any answer may hold
            return height // downsample, width // downsample

        def spatial_reduction(height, width, downsample):
            return downsample ** 2
        """,
}


@pytest.mark.parametrize("seed", [3, 8])
def test_side_by_side_gives_every_check_what_it_gets_alone(tmp_path, zygote, monkeypatch, seed):
    folder = reference_with(tmp_path, **SLIPS)
    batched = grade_submission(folder, zygote=zygote, seed=seed)
    monkeypatch.setattr(ConceptRun, "side_by_side", _one_at_a_time)
    alone = grade_submission(folder, zygote=zygote, seed=seed)
    assert _verdicts(batched) == _verdicts(alone)
    assert batched.score < batched.max_score
    printed = [c for c in batched.checks if c.output]
    assert {c.concept for c in printed} >= {"mse", "sigma", "latent_budget"}


def test_what_a_call_prints_is_shown_with_the_check_that_made_it(tmp_path, zygote):
    folder = reference_with(tmp_path, mse="""
        import numpy as np
        def reconstruction_mse(x, x_hat):
            x, x_hat = np.asarray(x, dtype=float), np.asarray(x_hat, dtype=float)
            print(f"<{x.size}>")
            return float(np.mean((x - x_hat) ** 2))
        """)
    result = grade_submission(folder, zygote=zygote, seed=5, concepts=["mse"])
    lesson = next(c for c in result.checks if "0.001725" in c.name)
    assert lesson.output.splitlines()[0] == "<4>"   # the lesson's four pixels, printed by its first call
    sizes = [line for c in result.checks for line in c.output.splitlines()]
    assert len(sizes) >= len(result.checks)


def test_several_large_answers_are_split_across_round_trips(tmp_path, zygote):
    """Each answer fits the reply limit alone but not all together: every call still gets its own."""
    folder = reference_with(tmp_path, mse="""
        import numpy as np
        def reconstruction_mse(x, x_hat):
            return np.full(750_000, float(len(x)))   # 6 MB each
        """)
    lane = Lane(zygote, str(folder), Limits(concept_seconds=30))
    run = ConceptRun(lane, CONCEPTS["mse"])
    try:
        calls = [("call", "mse.py", "reconstruction_mse", [encode_arg(np.zeros(n)), encode_arg(np.ones(n))], {}, {})
                 for n in (1, 2, 3, 4, 5)]
        replies = run.request_many(calls)
        assert [r[0] for r in replies] == ["ok"] * 5
        values = [runner.decode_result(r[1]) for r in replies]
        assert [(v.shape, float(v[0])) for v in values] == [((750_000,), float(n)) for n in (1, 2, 3, 4, 5)]
    finally:
        run.close()
        lane.close()


def test_the_harness_stops_an_answer_before_it_outgrows_the_reply_limit(tmp_path, monkeypatch):
    (tmp_path / "big.py").write_text("import numpy as np\n\ndef f(n):\n    print('n =', n)\n    return np.zeros(n // 8)\n")
    monkeypatch.setattr(child, "_MODULES", child._Modules(str(tmp_path)))
    monkeypatch.setattr(child, "_CAPTURE", child._BoundedText(100))
    monkeypatch.setattr(child, "_MAX_REPLY", 200_000)
    monkeypatch.setattr(child, "_REPLY_SLACK", 10_000)
    monkeypatch.setattr("sys.stdout", child._CAPTURE)
    calls = [("call", "big.py", "f", [("int", n)], {}, {}) for n in (80_000, 90_000, 70_000, 500_000, 10)]
    answer = child._calls(("calls", calls))
    replies, outputs = answer[2]["replies"], answer[2]["outputs"]
    assert len(replies) == 2 and len(outputs) == 2   # the third would pass 190 kB: sent in the next request
    assert outputs == [("n = 80000\n", 10), ("n = 90000\n", 10)]
    rest = child._calls(("calls", calls[2:]))[2]["replies"]
    assert [r[0] for r in rest] == ["ok"] * 3 and rest[0][1][2] == (8750,)
    assert rest[1][1][0] == "other" and "too large" in rest[1][1][1]   # too large even alone, as a single call
    assert rest[2][1][2] == (1,)


@pytest.mark.parametrize("patch", sorted(CALLS_ANSWER_REWRITES))
def test_a_rewritten_answer_to_several_calls_is_refused_or_read_as_honest(tmp_path, zygote, patch):
    mse = (REPO / "solutions" / "mse.py").read_text() + "\nimport sys\nchild = sys.modules['grader.sandbox.child']\n"
    folder = reference_with(tmp_path, mse=mse + textwrap.dedent(CALLS_ANSWER_REWRITES[patch]))
    lane = Lane(zygote, str(folder), Limits(concept_seconds=10))
    first = ConceptRun(lane, CONCEPTS["mse"])
    second = None
    try:
        assert first.request(("call", "mse.py", "reconstruction_mse", [encode_arg(np.zeros(2)),
                                                                       encode_arg(np.ones(2))], {}, {}))[0] == "ok"
        first.close(keep=True)
        second = ConceptRun(lane, CONCEPTS["sigma"])
        calls = [("call", "sigma.py", "logvar_to_sigma", [encode_arg(np.full(n, 2.0))], {}, {}) for n in (1, 2, 3)]
        if patch == "one answer at a time":
            replies = second.request_many(calls)
            assert second.inherited and [runner.decode_result(r[1]).shape for r in replies] == [(1,), (2,), (3,)]
        else:
            with pytest.raises(runner.protocol.ProtocolError):
                second.request_many(calls)
    finally:
        (second or first).close()
        lane.close()
