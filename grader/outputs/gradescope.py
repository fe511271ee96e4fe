"""The results.json that the Gradescope autograder writes: only the fields of Gradescope's spec.

Gradescope's "Autograder Specifications" (Output format) define the top level (score,
execution_time, output, output_format, test_output_format, test_name_format, visibility,
stdout_visibility, extra_data, tests, leaderboard) and each test (score, max_score, status,
name, name_format, number, output, output_format, tags, visibility, extra_data). Everything of
ours (the exercise total and verdict, the quiz, lateness, the learner, the seed) goes in
`extra_data`; `vaegrade grade --format json` keeps its own `concepts` instead.

Visibility: public checks are always visible; the hidden checks and the quiz questions get the
course's `hidden_visibility` (default "after_due_date", so learners cannot probe the hidden
checks by resubmitting before the deadline). The top-level `visibility` is the same setting,
because the top-level `score` and `output` tell the hidden checks' outcome: the total is shown
exactly when the hidden feedback is.
"""

from __future__ import annotations

from grader.grading.results import GradingResult, Status

SPEC_TOP_LEVEL = ("score", "execution_time", "output", "output_format", "test_output_format",
                  "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard")
SPEC_TEST = ("score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
             "tags", "visibility", "extra_data")
WHEN = {"after_due_date": "after the due date", "after_published": "when staff publish the grades",
        "hidden": "to course staff only", "visible": "now"}


def _check_test(c, number: int, hidden_visibility: str) -> dict:
    return {
        "name": f"{c.concept}: {c.name}",
        "number": str(number),
        "score": c.score,
        "max_score": c.max_score,
        "status": "passed" if c.status is Status.PASSED else "failed",
        "output": c.feedback + (f"\n\nYour code printed:\n{c.output}" if c.output else ""),
        "visibility": "visible" if c.public else hidden_visibility,
        "tags": [c.concept] + ([c.misconception] if c.misconception else []),
    }


def _quiz_tests(quiz: dict, start: int, hidden_visibility: str) -> list[dict]:
    tests = []
    for i, q in enumerate(quiz.get("questions", [])):
        tests.append({"name": f"quiz: question {q.get('number', i + 1)}", "number": str(start + i),
                      "score": 1.0 if q["correct"] else 0.0, "max_score": 1.0,
                      "status": "passed" if q["correct"] else "failed",
                      "output": "" if q["correct"] else q.get("feedback", ""),
                      "visibility": hidden_visibility, "tags": ["quiz"]})
    return tests


def results(result: GradingResult | None, *, quiz: dict | None = None, lateness=None, learner: dict | None = None,
            hidden_visibility: str = "after_due_date", files: list[str] = (), ignored: list[str] = (),
            problem: str = "") -> dict:
    """Gradescope's results.json for one submission.

    `quiz` is the graded quiz as a small dict (score, max_score, passed, note, questions), `lateness`
    a grader.course.policy.Lateness, `problem` why nothing could be graded (then `result` may be None).
    The score is the exercise points plus one point per right quiz answer, after the late penalty.
    """
    penalty = lateness.penalty if lateness is not None else 0.0
    extra: dict = {"learner": learner or {}, "files": list(files), "ignored_files": list(ignored)}
    if lateness is not None:
        extra["lateness"] = {"submitted_at": lateness.submitted_at.isoformat() if lateness.submitted_at else None,
                             "due": lateness.due.isoformat() if lateness.due else None,
                             "late_seconds": int(lateness.late_by.total_seconds()),
                             "penalty": penalty, "extension": lateness.extended,
                             "summary": lateness.describe()}
    if result is None:
        extra["problem"] = problem
        return {"score": 0.0, "output": problem, "visibility": "visible", "stdout_visibility": "hidden",
                "tests": [], "extra_data": extra}
    tests = [_check_test(c, i + 1, hidden_visibility) for i, c in enumerate(result.checks)]
    raw = result.score
    quiz_right = 0.0
    if quiz is not None:
        tests += _quiz_tests(quiz, len(tests) + 1, hidden_visibility)
        quiz_right = float(quiz["score"])
    total_raw = round(raw + quiz_right, 2)
    score = round(total_raw * (1.0 - penalty), 2)
    lesson_complete = bool(result.passed and quiz is not None and quiz["passed"])
    lines = [f"Exercises: {raw:g} / {result.max_score:g} points, "
             f"{'passed' if result.passed else 'not passed'} (a pass needs more than {result.pass_fraction:.0%})."]
    if quiz is None:
        lines.append("Quiz: no answers file (quiz_answers.json) in this submission, so the lesson is not complete.")
    else:
        lines.append(f"Quiz: {quiz['score']:g} / {quiz['max_score']:g} right, "
                     f"{'passed' if quiz['passed'] else 'not passed'}." + (f" {quiz['note']}" if quiz.get("note") else ""))
    lines.append("Lesson complete." if lesson_complete else "Lesson not complete yet (exercises and quiz must both pass).")
    if lateness is not None and lateness.due is not None:
        lines.append(f"Handed in {lateness.describe()}" + (f": {total_raw:g} becomes {score:g}." if penalty else "."))
    if problem:
        lines.append(problem)
    if result.errors:
        lines.append(f"The grader failed on {len(result.errors)} checks (not your code): ask course staff to rerun it.")
    extra.update({
        "exercises": {"score": raw, "max_score": result.max_score, "passed": result.passed,
                      "concept_scores": {c.id: c.score for c in result.concepts}},
        "quiz": quiz, "lesson_complete": lesson_complete, "score_before_penalty": total_raw,
        "max_score": round(result.max_score + (float(quiz["max_score"]) if quiz else 0.0), 2),
        "hidden_visibility": hidden_visibility,
        "seed": result.seed, "seed_source": result.seed_source, "grader_version": result.grader_version,
        "content_hash": result.content_hash, "public_only": result.public_only,
        "not_graded": [f"{c.concept}: {c.name}" for c in result.errors],
    })
    hidden = sum(1 for t in tests if t["visibility"] != "visible")
    receipt = [f"Graded: {', '.join(files) or 'no exercise file'}"
               + ("; quiz answers graded." if quiz is not None else "; no quiz answers file.")]
    if ignored:
        receipt.append(f"Not graded (only the exercise .py files and quiz_answers.json count): {', '.join(ignored[:10])}"
                       + (f" and {len(ignored) - 10} more" if len(ignored) > 10 else "") + ".")
    if lateness is not None and lateness.due is not None:
        receipt.append(f"Handed in {lateness.describe()}.")
    if hidden and hidden_visibility != "visible":
        receipt.append(f"Your score, and the results of {hidden} hidden checks and quiz questions, are shown "
                       f"{WHEN[hidden_visibility]}; the public checks below are shown now.")
    tests.insert(0, {"name": "submission received", "number": "0", "score": 0.0, "max_score": 0.0,
                     "status": "passed", "output": "\n".join(receipt), "visibility": "visible", "tags": ["receipt"]})
    return {
        "score": score,
        "execution_time": round(result.duration, 3),
        "output": "\n".join(lines),
        "visibility": hidden_visibility,
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": extra,
    }
