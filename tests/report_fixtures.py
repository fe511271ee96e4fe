"""Fabricated gradebooks for the report tests and bench/bench_report.py (no grading runs)."""

from __future__ import annotations

import random
from pathlib import Path

from grader.course import manifest
from grader.store.gradebook import Gradebook
from grader.outputs.report import quiz_questions
from grader.grading.quiz import QuestionResult, QuizResult
from grader.grading.results import CheckResult, ConceptResult, GradingResult, Status

# Per concept: (check name, function, weight, misconception id, feedback when it fails).
MISTAKES = {
    "mse": ("mse.sum_not_mean", "reconstruction_mse of a (3, 5) batch is off. It equals the sum of squared "
            "errors: MSE divides by the number of elements N (the 1/N in L_recon)."),
    "sigma": ("sigma.variance", "logvar_to_sigma of a (2, 3) batch is off. This is exp(logvar), the variance; "
              "σ is exp(0.5·logvar)."),
    "kl": ("kl.sign", "kl_to_standard_normal on the lesson's example is off. It has the wrong sign: the KL "
           "is -0.5 * sum(1 + logvar - mu**2 - exp(logvar))."),
    "reparam": ("reparam.detached", "the gradient of z with respect to mu is off. It is zero: the sample "
                "was detached from mu and logvar."),
    "elbo": ("elbo.beta_on_recon", "vae_loss total is off. β multiplies the reconstruction term; it "
             "weighs the KL."),
    "collapse": ("collapse.le_threshold", "is_collapsed at the threshold is off. It uses <= where the lesson "
                 "says strictly below."),
    "vq": ("vq.argmax", "nearest_code on the lesson's codebook is off. It picks the farthest code (argmax)."),
    "latent_budget": ("latent_budget.linear", "spatial_reduction(512, 512, 8) is off. It divides one side "
                      "only: positions shrink by downsample**2."),
}


def fake_result(skill: float, rng: random.Random, *, submission: str = "sub", seed: int = 1,
                fail_everything: bool = False) -> GradingResult:
    """A GradingResult where each check passes with probability `skill` (four checks per concept)."""
    concepts = []
    for c in manifest.load():
        mid, message = MISTAKES.get(c.id, (None, "does not match the right value."))
        weights = [4, 2, 2, 2]
        checks = []
        for i, w in enumerate(weights):
            ok = (not fail_everything) and rng.random() < skill
            points = c.points * w / sum(weights)
            fn = c.functions[i % len(c.functions)]
            if ok:
                checks.append(CheckResult(c.id, f"check {i + 1} of {c.id}", fn, points, points, Status.PASSED,
                                          public=i == 0))
            elif i == 1:
                checks.append(CheckResult(c.id, f"check {i + 1} of {c.id}", fn, points, 0.0, Status.FAILED,
                                          message, mid))
            elif i == 2:
                checks.append(CheckResult(c.id, f"check {i + 1} of {c.id}", fn, points, 0.0, Status.FAILED,
                                          f"{fn} returned the wrong shape.", "shape"))
            else:
                checks.append(CheckResult(c.id, f"check {i + 1} of {c.id}", fn, points, 0.0, Status.FAILED,
                                          f"{fn} does not match the right value."))
        concepts.append(ConceptResult(c.id, c.title, c.section, c.points, checks))
    return GradingResult(concepts, seed=seed, grader_version="test", submission=submission)


def quiz_answers(skill: float, rng: random.Random) -> list[tuple[str, str | None, bool]]:
    """(question id, canonical option id, correct) for every quiz question, right with probability skill."""
    out = []
    for q in _keyed_questions():
        qid, answer, wrong = q
        if rng.random() < skill:
            out.append((qid, answer, True))
        elif rng.random() < 0.1:
            out.append((qid, None, False))
        else:
            # The first distractor is the most tempting one, so item analysis has a clear winner.
            out.append((qid, wrong[0] if rng.random() < 0.6 else rng.choice(wrong), False))
    return out


def _keyed_questions() -> list[tuple[str, str, list[str]]]:
    import tomllib

    from grader.course.content import content_dir

    data = tomllib.loads((content_dir("quizzes") / "mastery.toml").read_text(encoding="utf-8"))
    out = []
    for q in data["questions"]:
        ids = [o["id"] for o in q["options"]]
        out.append((q["id"], q["answer"], [i for i in ids if i != q["answer"]]))
    assert [q[0] for q in out] == list(quiz_questions())
    return out


def quiz_result(learner: str, answers, graded_with: str = "staff key") -> QuizResult:
    """A QuizResult from (question id, canonical option id, correct) triples."""
    questions = quiz_questions()
    return QuizResult("vae-mastery", learner, learner, [
        QuestionResult(qid, questions[qid].number if qid in questions else i + 1,
                       questions[qid].section if qid in questions else "", chosen, None, ok)
        for i, (qid, chosen, ok) in enumerate(answers)], graded_with)


def record_quiz(gb: Gradebook, learner: str, answers, graded_with: str = "staff key") -> None:
    gb.record_quiz(quiz_result(learner, answers, graded_with), grader_version="test")


def build_class(path: Path, learners: list[str], *, seed: int = 0, attempts: int = 2, quiz: bool = True) -> Path:
    """A gradebook where each learner has `attempts` exercise attempts (improving) and one quiz attempt."""
    rng = random.Random(seed)
    with Gradebook(path) as gb:
        for i, lid in enumerate(learners):
            skill = rng.uniform(0.2, 1.0)
            for a in range(attempts):
                step = min(1.0, skill + 0.15 * a)
                gb.record_exercises(lid, fake_result(step, rng, submission=lid, seed=i * 10 + a), f"h{i}-{a}")
            if quiz:
                record_quiz(gb, lid, quiz_answers(skill, rng))
    return Path(path)


def make_result(failing: dict[str, tuple[str | None, str]] | None = None, *, zero: tuple[str, ...] = (),
                submission: str = "sub", note: dict[str, str] | None = None) -> GradingResult:
    """A deterministic GradingResult: every check passes except, per concept in `failing`, its second
    check (worth 2 of 10 points) which fails with (misconception id, feedback); concepts in `zero` fail
    every check."""
    failing, note = failing or {}, note or {}
    concepts = []
    for c in manifest.load():
        checks = []
        for i, w in enumerate([4, 2, 2, 2]):
            points = c.points * w / 10
            fn = c.functions[i % len(c.functions)]
            name = f"check {i + 1} of {c.id}"
            if c.id in zero:
                checks.append(CheckResult(c.id, name, fn, points, 0.0, Status.FAILED,
                                          f"{fn} is not implemented yet: it still raises NotImplementedError.",
                                          "code.not_implemented"))
            elif i == 1 and c.id in failing:
                mid, feedback = failing[c.id]
                checks.append(CheckResult(c.id, name, fn, points, 0.0, Status.FAILED, feedback, mid))
            else:
                checks.append(CheckResult(c.id, name, fn, points, points, Status.PASSED))
        concepts.append(ConceptResult(c.id, c.title, c.section, c.points, checks, note.get(c.id, "")))
    return GradingResult(concepts, seed=7, grader_version="test", submission=submission)


def answers_with(wrong: dict[str, str | None] | None = None) -> list[tuple[str, str | None, bool]]:
    """Every question right except those in `wrong` (question id -> chosen option id, None for blank)."""
    wrong = wrong or {}
    return [(qid, wrong[qid], False) if qid in wrong else (qid, answer, True)
            for qid, answer, _ in _keyed_questions()]


def key() -> dict[str, tuple[str, list[str]]]:
    """question id -> (right option id, wrong option ids)."""
    return {qid: (answer, wrong) for qid, answer, wrong in _keyed_questions()}
