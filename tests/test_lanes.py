"""Concepts sharing a sandboxed child: a clean concept hands its child on, anything that could cost
the next concept points gives it a fresh one, and no concept ever loses a point to another's code."""

from __future__ import annotations

import resource
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

from concept_helpers import reference_with
from grader.course import manifest
from grader.grading import runner
from grader.grading.runner import ConceptRun, Lane, encode_arg, grade_submission
from grader.settings import Limits

REPO = Path(__file__).resolve().parent.parent
CONCEPTS = {c.id: c for c in manifest.load()}
MSE_CALL = ("call", "mse.py", "reconstruction_mse", [encode_arg(np.array([0.1, 0.9])), encode_arg(np.array([0.2, 0.8]))],
            {}, {})
SIGMA_CALL = ("call", "sigma.py", "logvar_to_sigma", [encode_arg(np.array([0.0, 2.0]))], {}, {})


def _concept_in(lane: Lane, concept: str, call) -> ConceptRun:
    run = ConceptRun(lane, CONCEPTS[concept])
    assert run.request(call)[0] in ("ok", "raised", "import_error")
    return run


@pytest.fixture
def lane(tmp_path, zygote):
    lanes = []

    def make(**replaced):
        made = Lane(zygote, str(reference_with(tmp_path, **replaced)), Limits(concept_seconds=10, memory_mb=256))
        lanes.append(made)
        return made

    yield make
    for made in lanes:
        made.close()


def test_a_clean_concept_hands_its_child_to_the_next(lane):
    shared = lane()
    first = _concept_in(shared, "mse", MSE_CALL)
    pid = first.child.pid
    first.close(keep=True)
    second = _concept_in(shared, "sigma", SIGMA_CALL)
    assert second.child.pid == pid and second.inherited and shared.forks == 1
    second.close(keep=True)


def test_the_next_concept_gets_a_full_cpu_budget(lane):
    shared = lane()
    first = _concept_in(shared, "mse", MSE_CALL)
    pid = first.child.pid
    first.close(keep=True)
    _, hard = resource.prlimit(pid, resource.RLIMIT_CPU)
    second = _concept_in(shared, "sigma", SIGMA_CALL)
    soft, hard_after = resource.prlimit(pid, resource.RLIMIT_CPU)
    assert second.child.pid == pid
    assert soft >= Limits().cpu_seconds and soft >= shared.limits.cpu_seconds and hard_after == hard
    second.close()


@pytest.mark.parametrize("mse_source, why", [
    ("import numpy\nraise RuntimeError('broken at import')\n", "an import error"),
    ("import threading, time\nthreading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
     "def reconstruction_mse(x, x_hat):\n    return 0.0\n", "a thread left running"),
    ("HOARD = bytearray(100 * 2**20)\nHOARD[::4096] = b'x' * len(HOARD[::4096])\n"
     "def reconstruction_mse(x, x_hat):\n    return 0.0\n", "memory left held"),
])
def test_anything_that_could_cost_the_next_concept_gives_it_a_fresh_child(lane, mse_source, why):
    shared = lane(mse=mse_source)
    first = _concept_in(shared, "mse", MSE_CALL)
    pid = first.child.pid
    first.close(keep=True)
    second = _concept_in(shared, "sigma", SIGMA_CALL)
    assert second.child.pid != pid and not second.inherited, why
    assert shared.forks == 2
    second.close()


def test_a_time_limit_kills_the_child_and_the_next_concept_starts_fresh(lane):
    shared = lane(mse="def reconstruction_mse(x, x_hat):\n    while True:\n        pass\n")
    shared.limits = Limits(concept_seconds=0.5, memory_mb=256)
    first = ConceptRun(shared, CONCEPTS["mse"])
    assert first.request(MSE_CALL) == ("limit", "time")
    first.close(keep=True)
    second = _concept_in(shared, "sigma", SIGMA_CALL)
    assert not second.inherited and shared.forks == 2
    second.close()


def test_several_calls_travel_in_one_request_and_stop_at_the_end_of_the_concept(lane):
    shared = lane(mse="""
        import numpy as np
        def reconstruction_mse(x, x_hat):
            if len(x) == 3:
                raise ValueError("three")
            if len(x) == 5:
                hog = [bytearray(2**20) for _ in range(10**6)]
            return float(np.mean((np.asarray(x) - np.asarray(x_hat)) ** 2))
        """)
    run = ConceptRun(shared, CONCEPTS["mse"])
    calls = [("call", "mse.py", "reconstruction_mse", [encode_arg(np.zeros(n)), encode_arg(np.ones(n))], {}, {})
             for n in (2, 3, 4, 5, 6)]
    replies = run.request_many(calls)
    # the memory limit ends the concept: the call after it is not made, and has the limit for reply
    assert [r[0] for r in replies] == ["ok", "raised", "ok", "limit", "limit"]
    assert replies[0][1] == ("float", 1.0) and replies[1][1] == "ValueError"
    assert run.fatal == ("limit", "memory")
    run.close(keep=True)
    assert shared.idle is None


def test_a_concept_never_loses_points_to_what_another_concept_did_to_their_process(tmp_path, zygote):
    # mse.py is right, but breaks numpy for every later import: sigma's correct code would give
    # wrong values in the child they share. Graded again alone, sigma keeps every point.
    sub = reference_with(tmp_path, mse=(REPO / "solutions" / "mse.py").read_text()
                  + "\nimport numpy as _np\n_np.exp = lambda value, *args, **kwargs: value\n")
    result = grade_submission(sub, zygote=zygote, seed=3, concepts=["mse", "sigma", "kl"])
    assert {c.id: c.score for c in result.concepts} == {c.id: c.max_score for c in result.concepts}


@pytest.mark.parametrize("wrong", ["sigma", "elbo"])
def test_a_wrong_concept_in_a_shared_child_is_confirmed_alone_without_grading_it_twice(
        tmp_path, zygote, monkeypatch, wrong):
    # The slip loses points in the child mse's concept used first. A fresh child gives every one of
    # its calls the same answer, so that result stands: the checks ran once, and it is the result
    # grading the concept again alone gives.
    slips = {"sigma": ("np.exp(0.5 * logvar)", "np.exp(logvar)"), "elbo": ("recon + beta * kl", "recon + kl")}
    old, new = slips[wrong]
    source = (REPO / "solutions" / f"{wrong}.py").read_text()
    assert old in source
    sub = reference_with(tmp_path, **{wrong: source.replace(old, new)})
    runs = []
    original = runner._grade_concept_once
    monkeypatch.setattr(runner, "_grade_concept_once", lambda *a, **k: runs.append(a[1].id) or original(*a, **k))
    confirmed = grade_submission(sub, zygote=zygote, seed=9, concepts=["mse", wrong])
    assert runs == ["mse", wrong]
    monkeypatch.setattr(runner, "_stands_alone", lambda lane, run: False)   # always graded again, alone
    again = grade_submission(sub, zygote=zygote, seed=9, concepts=["mse", wrong])
    assert runs == ["mse", wrong, "mse", wrong, wrong]
    concept = confirmed.concepts[1]
    assert concept.score < concept.max_score
    assert [(c.name, c.status, c.score, c.feedback, c.output) for c in concept.checks] == [
        (c.name, c.status, c.score, c.feedback, c.output) for c in again.concepts[1].checks]


def test_a_concept_answering_with_floods_keeps_no_transcript_and_is_graded_again_alone(
        tmp_path, zygote, monkeypatch):
    # What a run keeps to confirm its result in a fresh child is bounded: past the bound the
    # transcript is dropped (the trusted process holds nothing more) and the concept that lost
    # points in a shared child is graded again alone, as it always could be.
    monkeypatch.setattr(runner, "MAX_TRANSCRIPT_BYTES", 3 * 2**20)
    sub = reference_with(tmp_path, sigma="""
        import numpy as np
        def logvar_to_sigma(logvar):
            return np.zeros(2**17)   # 1 MB an answer, and the wrong shape
        """)
    runs, kept = [], []
    original, stands = runner._grade_concept_once, runner._stands_alone
    monkeypatch.setattr(runner, "_grade_concept_once", lambda *a, **k: runs.append(a[1].id) or original(*a, **k))
    monkeypatch.setattr(runner, "_stands_alone", lambda lane, run: kept.append(
        (run.replayable, len(run.transcript), run.transcript_bytes)) or stands(lane, run))
    result = grade_submission(sub, zygote=zygote, seed=4, concepts=["mse", "sigma"])
    assert runs == ["mse", "sigma", "sigma"]
    (replayable, held, weight), = kept
    assert not replayable and held == 0 and weight > 3 * 2**20
    assert result.concepts[1].score == 0 and result.concepts[0].score == result.concepts[0].max_score


def test_a_correct_loss_is_checked_along_the_reference_run_without_training_round_trips(tmp_path, zygote,
                                                                                        monkeypatch):
    trained = []
    original = runner.Submission.train_vae
    monkeypatch.setattr(runner.Submission, "train_vae",
                        lambda self, *a, **k: trained.append(1) or original(self, *a, **k))
    sub = reference_with(tmp_path)
    good = grade_submission(sub, zygote=zygote, seed=5, concepts=["elbo"])
    assert good.score == good.max_score and trained == []
    # A loss that ignores beta gives other values along the run: the training itself decides, and fails.
    (sub / "elbo.py").write_text((REPO / "solutions" / "elbo.py").read_text().replace("recon + beta * kl",
                                                                                     "recon + kl"))
    bad = grade_submission(sub, zygote=zygote, seed=5, concepts=["elbo"])
    training = next(c for c in bad.checks if "TinyVAE" in c.name)
    assert trained and training.score == 0


def test_the_same_files_get_the_same_grade_from_grade_and_from_batch(tmp_path, zygote, monkeypatch):
    # sigma.py returns the variance, but mse.py rewires numpy so that in a process they share, sigma's
    # numbers come out right. Which concepts share a child is fixed by the manifest, not by the verb or
    # the machine's cores: the learner's `vaegrade grade` and the staff's batch give one grade.
    from grader.verbs.batch import run_batch
    from grader.store import open_gradebook

    sub = reference_with(tmp_path, mse=(REPO / "solutions" / "mse.py").read_text() + textwrap.dedent("""
        import numpy as _np
        _exp = _np.exp
        _np.exp = lambda value, *args, **kwargs: _exp(0.5 * _np.asarray(value), *args, **kwargs)
        """), sigma="""
        import numpy as np
        def logvar_to_sigma(logvar):
            return np.exp(np.asarray(logvar, dtype=float))
        """)
    from grader.verbs import grade as grade_verb
    from grader.verbs.workspace import Workspace

    key = "a course key"
    monkeypatch.setenv("VAEGRADE_COURSE_KEY", key)
    graded = grade_verb.run(Workspace(None), sub, what="grade", zygote=zygote)   # what `vaegrade grade` runs
    classroom = tmp_path / "class"
    shutil.copytree(sub, classroom / "learner")
    run_batch(classroom, tmp_path / "out", jobs=1, progress=None, course_key=key.encode())
    with open_gradebook(tmp_path / "out" / "gradebook.sqlite", create=False) as book:
        batched = next(a for a in book.attempts(kind="exercises", results=True)).result
    assert [(c.id, c.score) for c in graded.concepts] == [(c.id, c.score) for c in batched.concepts]
    assert [(c.name, c.feedback) for c in graded.checks] == [(c.name, c.feedback) for c in batched.checks]


def test_calls_sent_ahead_answer_later_calls_without_a_round_trip_each(lane, monkeypatch):
    from grader.checks import Fail
    from grader.sandbox import session

    trips = []
    original = session.Child.request
    monkeypatch.setattr(session.Child, "request", lambda self, msg, deadline: trips.append(msg[0])
                        or original(self, msg, deadline))
    run = ConceptRun(lane(mse="""
        import numpy as np
        def reconstruction_mse(x, x_hat):
            print("called with", len(x))
            if len(x) == 3:
                raise ValueError("three")
            return float(np.mean((np.asarray(x) - np.asarray(x_hat)) ** 2))
        """), CONCEPTS["mse"])
    sub = runner.Submission(run, CONCEPTS["mse"], public=False)
    pairs = [(np.zeros(n), np.ones(n)) for n in (2, 3, 4)]
    sub.ahead("reconstruction_mse", pairs)
    assert trips == ["calls"] and run.output.count("called with") == 3
    assert sub.call("reconstruction_mse", *pairs[2]) == 1.0 and sub.call("reconstruction_mse", *pairs[0]) == 1.0
    assert sub.outcome("reconstruction_mse", *pairs[1]).type_name == "ValueError"
    with pytest.raises(Fail):
        sub.call("reconstruction_mse", *pairs[1])   # each answer is used once: this one is a round trip
    assert sub.call("reconstruction_mse", np.zeros(5), np.ones(5)) == 1.0
    assert trips == ["calls", "call", "call"]
    run.close()
