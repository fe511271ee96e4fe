"""`vaegrade quiz` and `vaegrade status` driven through click's CliRunner: the interactive session
(invalid input, interruption and resume), answers files, bad input (exit 2, no traceback), records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.grading import quiz as engine
from grader.cli import cli
from grader.store.gradebook import Gradebook
from grader.course.quizdata import load_staff

ROOT = Path(__file__).resolve().parent.parent
STAFF = ROOT / "quizzes" / "mastery.toml"
LEARNER_COPY = ROOT / "quizzes" / "mastery.learner.json"
ADA = "ada@example.org"


@pytest.fixture(scope="module")
def staff():
    return load_staff(STAFF)


@pytest.fixture
def run(tmp_path, monkeypatch):
    """Invoke vaegrade in an empty working folder as learner ADA."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VAEGRADE_LEARNER", ADA)

    def invoke(*args, input=None):
        result = CliRunner().invoke(cli, list(args), input=input)
        assert "Traceback" not in result.output, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
        return result
    return invoke


def _letters(quiz, learner, right=10):
    """The learner's letters for: the first `right` questions right, the rest a distractor."""
    out = []
    for i, q in enumerate(quiz.questions):
        answer = quiz.answer(q)
        option = answer if i < right else next(o.id for o in q.options if o.id != answer)
        out.append(engine.letter_of(quiz, learner, q, option))
    return out


def _attempts(path=Path(".vaegrade/gradebook.sqlite"), learner=ADA):
    with Gradebook(path) as book:
        return [(a, [(q.id, q.chosen, q.correct) for q in a.result.questions])
                for a in book.attempts(learner, "quiz", results=True)]


# --- interactive ---------------------------------------------------------------------------
def test_interactive_quiz_reasks_invalid_input_then_reviews_and_records(run, staff):
    letters = _letters(staff, ADA, right=8)
    result = run("quiz", input="x\n\nE\nAB\n" + "\n".join(letters) + "\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Please answer A, B, C or D") == 4
    assert result.output.count("Question 1 of 10") == 1 and "Question 10 of 10" in result.output
    assert "Score: 8 / 10  PASSED" in result.output
    # the review repeats the two missed questions in ADA's own order, with their feedback
    review = result.output[result.output.index("Score: 8 / 10"):]
    for q in staff.questions[8:]:
        assert f"Why not {letters[q.number - 1]}:" in review
        assert f"Reread: \"{q.section}\"" in review
    assert "Recorded in .vaegrade/gradebook.sqlite" in result.output
    [(attempt, answers)] = _attempts()
    assert (attempt.score, attempt.passed) == (8, True)
    assert [c for _, c, _ in answers] == [engine.option_of(staff, ADA, q, letter)
                                         for q, letter in zip(staff.questions, letters)]
    assert not Path(".vaegrade/quiz-progress.json").exists()
    saved = json.loads(Path("quiz_answers.json").read_text())
    assert saved["learner"] == ADA and list(saved["answers"].values()) == letters
    regraded = run("quiz", "--answers", "quiz_answers.json", "--format", "json", "--no-record")
    assert json.loads(regraded.stdout)["score"] == 8


def test_an_interrupted_quiz_resumes_with_the_answers_kept(run, staff):
    letters = _letters(staff, ADA, right=7)
    first = run("quiz", input="\n".join(letters[:3]) + "\n")          # then the input ends (EOF)
    assert first.exit_code == 130
    assert "stopped after 3 of 10 answers" in first.output and "Run `vaegrade quiz` again" in first.output
    progress = json.loads(Path(".vaegrade/quiz-progress.json").read_text())
    assert progress["answers"] == {q.id: staff.answer(q) for q in staff.questions[:3]}
    assert not Path(".vaegrade/gradebook.sqlite").exists() or _attempts() == []

    second = run("quiz", input="y\n" + "\n".join(letters[3:5]) + "\nq\n")   # q stops too
    assert second.exit_code == 130 and "You answered 3 of 10 questions earlier" in second.output
    assert "Question 1 of 10" not in second.output and "Question 4 of 10" in second.output
    assert "stopped after 5 of 10 answers" in second.output

    third = run("quiz", input="\n" + "\n".join(letters[5:]) + "\n")        # Enter accepts resuming
    assert third.exit_code == 1 and "Score: 7 / 10  NOT PASSED" in third.output
    assert "a pass needs more than 75%: 8 of 10" in third.output
    [(attempt, answers)] = _attempts()
    assert [ok for _, _, ok in answers] == [True] * 7 + [False] * 3


def test_declining_to_resume_or_restart_starts_over(run, staff):
    letters = _letters(staff, ADA)
    assert run("quiz", input="\n".join(letters[:4]) + "\n").exit_code == 130
    declined = run("quiz", input="n\n" + "\n".join(_letters(staff, ADA, right=0)) + "\n")
    assert declined.exit_code == 1 and "Question 1 of 10" in declined.output and "Score: 0 / 10" in declined.output
    assert run("quiz", input="\n".join(letters[:4]) + "\n").exit_code == 130
    restarted = run("quiz", "--restart", input="\n".join(letters) + "\n")
    assert restarted.exit_code == 0 and "earlier" not in restarted.output and "Score: 10 / 10" in restarted.output


def test_the_interactive_quiz_runs_on_the_learner_copy(run, staff):
    result = run("quiz", "--quiz", str(LEARNER_COPY), input="\n".join(_letters(staff, ADA)) + "\n")
    assert result.exit_code == 0 and "Score: 10 / 10" in result.output
    assert "Checked with the learner copy" in result.output
    [(attempt, _)] = _attempts()
    assert attempt.result.graded_with == "learner copy" and attempt.result.authoritative is False


# --- answers files -----------------------------------------------------------------------------
def _write(name, data) -> str:
    Path(name).write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return name


@pytest.mark.parametrize("right, code", [(10, 0), (8, 0), (7, 1), (0, 1)])
def test_answers_file_graded_as_json(run, staff, right, code):
    letters = _letters(staff, ADA, right)
    path = _write("a.json", {"learner": ADA, "answers": {q.id: l for q, l in zip(staff.questions, letters)}})
    result = run("quiz", "--answers", path, "--format", "json")
    assert result.exit_code == code, result.output
    data = json.loads(result.stdout)
    assert (data["score"], data["max_score"], data["passed"]) == (right, 10, code == 0)
    assert [q["correct"] for q in data["questions"]] == [i < right for i in range(10)]
    assert data["graded_with"] == "staff key" and data["authoritative"] is True
    assert "answer" not in json.dumps(data["questions"])     # the output names choices, never the key
    assert _attempts()[-1][0].score == right


def test_answers_file_as_text_lines_and_with_the_learner_copy(run, staff):
    letters = _letters(staff, ADA, 9)
    path = _write("answers.txt", "".join(f"{i}: {l}  # question {i}\n" for i, l in enumerate(letters, start=1)))
    staff_run = run("quiz", "--answers", path, "--no-record")
    assert staff_run.exit_code == 0 and "Score: 9 / 10  PASSED" in staff_run.output
    assert not Path(".vaegrade/gradebook.sqlite").exists()
    copy_run = run("quiz", "--answers", path, "--key", str(LEARNER_COPY), "--format", "json", "--no-record")
    assert json.loads(copy_run.stdout)["score"] == 9 and json.loads(copy_run.stdout)["graded_with"] == "learner copy"


def test_canonical_answers_and_partial_files(run, staff):
    canonical = {q.id: staff.answer(q) for q in staff.questions[:9]}
    path = _write("c.json", {"answers": canonical})
    assert run("quiz", "--answers", path, "--canonical", "--partial", "--no-record").exit_code == 0
    missing = run("quiz", "--answers", path, "--canonical", "--no-record")
    assert missing.exit_code == 2 and "missing answers for 10 (latent-budget)" in missing.output


def _valid_letters(staff):
    return {q.id: l for q, l in zip(staff.questions, _letters(staff, ADA))}


BAD = {
    "empty file": (lambda s: "", "the file is empty"),
    "blank lines only": (lambda s: "\n \n", "the file is empty"),
    "malformed json": (lambda s: '{"answers": {"kl": "A",}', "not valid JSON"),
    "a json list": (lambda s: '["A", "B"]', "expected a JSON object"),
    "answers not an object": (lambda s: json.dumps({"answers": ["A"] * 10}), '"answers" must be an object'),
    "unknown question id": (lambda s: json.dumps({"answers": {**_valid_letters(s), "gan": "A"}}),
                            "unknown question 'gan'"),
    "missing answers": (lambda s: json.dumps({"answers": {k: v for k, v in _valid_letters(s).items() if k != "kl"}}),
                        "missing answers for 6 (kl)"),
    "letter out of range": (lambda s: json.dumps({"answers": {**_valid_letters(s), "kl": "E"}}),
                            "'E' is not one of A, B, C or D"),
    "two letters": (lambda s: json.dumps({"answers": {**_valid_letters(s), "mse": "AB"}}), "'AB' is not one of"),
    "a number as answer": (lambda s: json.dumps({"answers": {**_valid_letters(s), "mse": 2}}), "2 is not one of"),
    "canonical id out of range": (lambda s: json.dumps({"letters": "canonical", "answers": {
        q.id: "e" if q.id == "kl" else "a" for q in s.questions}}), "'e' is not one of a, b, c, d"),
    "duplicate json keys": (lambda s: json.dumps({"answers": _valid_letters(s)})[:-2] + ', "kl": "B"}}',
                            "duplicate answers for question 6 (kl)"),
    "id and number for one question": (lambda s: json.dumps({"answers": {**_valid_letters(s), "1": "A"}}),
                                       "duplicate answers for question 1 (bottleneck)"),
    "duplicate top-level keys": (lambda s: '{"answers": {}, "answers": {}}', "duplicate answers for answers"),
    "another quiz": (lambda s: json.dumps({"quiz": "gan-mastery", "answers": _valid_letters(s)}),
                     "answers for quiz 'gan-mastery'"),
    "bad letters mode": (lambda s: json.dumps({"letters": "mine", "answers": _valid_letters(s)}),
                         '"letters" must be "shuffled" or "canonical"'),
    "not utf-8": (lambda s: b"\xff\xfe\x00A", "not UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_answers_files_exit_2_with_a_clear_message(run, staff, case):
    make, message = BAD[case]
    content = make(staff)
    path = Path("answers.json")
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    result = run("quiz", "--answers", str(path))
    assert result.exit_code == 2, result.output
    assert message in result.output, result.output
    assert not Path(".vaegrade/gradebook.sqlite").exists()


@pytest.mark.parametrize("text, message", [
    ("1: A\nthis line has no separator\n", "line 2: expected `QUESTION: LETTER`"),
    ("1: A\n1: B\n", "duplicate answers for question 1"),
    ("11: A\n", "unknown question '11'"),
    ("1: F\n", "'F' is not one of A, B, C or D"),
])
def test_bad_text_answers_exit_2(run, text, message):
    result = run("quiz", "--answers", _write("answers.txt", text))
    assert result.exit_code == 2 and message in result.output, result.output


def test_bad_quiz_data_exits_2(run, staff):
    broken = STAFF.read_text(encoding="utf-8").replace('answer = "c"', 'answer = "e"', 1)
    _write("broken.toml", broken)
    answers = _write("a.json", {"answers": _valid_letters(staff)})
    for args in (["--answers", answers], []):
        result = run("quiz", "--quiz", "broken.toml", *args, input="A\n")
        assert result.exit_code == 2 and "is not valid" in result.output and "answer 'e'" in result.output
    _write("not.toml", "[quiz\n")
    assert run("quiz", "--quiz", "not.toml", "--answers", answers).exit_code == 2
    _write("copy.json", "{}")
    result = run("quiz", "--quiz", "copy.json", "--answers", answers)
    assert result.exit_code == 2 and "format must be" in result.output
    assert run("quiz", "--answers", "nowhere.json").exit_code == 2


# --- status and grade records ---------------------------------------------------------------
def test_status_before_anything_is_graded(run):
    result = run("status")
    assert result.exit_code == 1
    assert "not graded yet — run `vaegrade grade`" in result.output and "not taken yet" in result.output
    assert "Take the mastery quiz: `vaegrade quiz`." in result.output
    data = json.loads(run("status", "--format", "json").stdout)
    assert data["complete"] is False and data["learner"] == ADA and data["concepts"]["kl"]["score"] is None
    assert not Path(".vaegrade").exists()


def test_grade_then_quiz_completes_the_lesson(run, staff):
    graded = run("grade", str(ROOT / "solutions"), "--format", "json")
    assert graded.exit_code == 0 and json.loads(graded.stdout)["passed"] is True
    half = run("status")
    assert half.exit_code == 1 and "not complete yet" in half.output and "kl                 10 / 10  pass" in half.output
    path = _write("a.json", {"learner": ADA, "answers": _valid_letters(staff)})
    assert run("quiz", "--answers", path).exit_code == 0
    done = run("status", "--format", "json")
    assert done.exit_code == 0
    data = json.loads(done.stdout)
    assert data["complete"] is True and data["quiz"]["score"] == 10 and data["exercises"]["score"] == 80
    assert "Lesson complete" in run("status").output
    # another learner's status is their own
    assert json.loads(run("status", "--learner", "grace", "--format", "json").stdout)["quiz"] is None
    # a partial grading (one concept) is not recorded: it would overstate the total
    assert run("grade", str(ROOT / "solutions"), "--concept", "mse", "--format", "json").exit_code == 0
    with Gradebook(".vaegrade/gradebook.sqlite") as book:
        assert len(book.attempts(ADA, "exercises")) == 1


def test_an_unreadable_gradebook_exits_2(run):
    Path("gb.sqlite").write_bytes(b"this is not a database" * 100)
    result = run("status", "--gradebook", "gb.sqlite")
    assert result.exit_code == 2 and "cannot read the gradebook" in result.output


def test_dev_quiz_copy_rebuilds_the_learner_copy(run):
    result = run("dev", "quiz-copy", "--src", str(STAFF), "copy.json")
    assert result.exit_code == 0
    assert Path("copy.json").read_text(encoding="utf-8") == LEARNER_COPY.read_text(encoding="utf-8")
    _write("bad.toml", "[quiz]\n")
    assert run("dev", "quiz-copy", "--src", "bad.toml", "x.json").exit_code == 2


def test_batch_helper_finds_and_grades_a_submissions_answers_file(tmp_path, staff):
    sub = tmp_path / "student-7"
    sub.mkdir()
    assert engine.grade_submission_quiz(sub, "student-7", quiz=staff, pass_fraction=0.75) is None
    letters = _letters(staff, ADA, 8)
    (sub / engine.ANSWERS_FILE).write_text(json.dumps(
        {"learner": ADA, "answers": {q.id: l for q, l in zip(staff.questions[:9], letters)}}))
    result = engine.grade_submission_quiz(sub, "student-7", quiz=staff, pass_fraction=0.75)
    assert (result.learner, result.score, result.passed) == ("student-7", 8, True)   # partial: 10th blank
    (sub / engine.ANSWERS_FILE).unlink()
    (sub / engine.ANSWERS_FILE).symlink_to(tmp_path / "elsewhere.json")
    assert engine.grade_submission_quiz(sub, "student-7", quiz=staff, pass_fraction=0.75) is None


def test_batch_grades_and_records_each_submissions_quiz(tmp_path, staff):
    from grader.verbs.batch import GRADEBOOK, run_batch

    subs = tmp_path / "subs"
    for name, answers in (("ada", {"learner": ADA, "answers": {q.id: l for q, l in zip(
            staff.questions, _letters(staff, ADA, 9))}}), ("bob", "{broken"), ("cy", None)):
        (subs / name).mkdir(parents=True)
        (subs / name / "mse.py").write_text((ROOT / "solutions" / "mse.py").read_text())
        if answers is not None:
            (subs / name / engine.ANSWERS_FILE).write_text(answers if isinstance(answers, str) else json.dumps(answers))
    out = tmp_path / "out"
    for _ in range(2):   # a rerun records nothing twice
        run_batch(subs, out, jobs=1, progress=None)
    with Gradebook(out / GRADEBOOK) as book:
        [ada] = book.attempts("ada", "quiz", results=True)
        assert (ada.score, ada.passed, ada.result.graded_with) == (9, True, "staff key")
        assert [q.correct for q in ada.result.questions] == [True] * 9 + [False]
        assert book.attempts("bob", "quiz") == [] and book.attempts("cy", "quiz") == []
        bob = [reason for learner, _, reason in book.problems() if learner == "bob"]
        assert len(bob) == 1 and "quiz answers:" in bob[0] and "not valid JSON" in bob[0]
    import csv

    rows = list(csv.DictReader((out / "quiz_items.csv").open()))
    assert [r["learner"] for r in rows] == ["ada"] * 10
    assert [r["correct"] for r in rows] == ["true"] * 9 + ["false"]
    assert rows[0]["question"] == "bottleneck" and rows[0]["number"] == "1" and rows[0]["chosen"] == staff.answer(staff.questions[0])
    assert rows[-1]["chosen"] != staff.answer(staff.questions[-1])
    grades = {r["learner"]: r for r in csv.DictReader((out / "grades.csv").open())}
    assert (grades["ada"]["quiz_score"], grades["ada"]["quiz_passed"]) == ("9", "true")


def test_an_unwritable_folder_still_lets_the_quiz_run(run, staff, monkeypatch):
    Path(".vaegrade").write_text("a file where the state folder should be")
    result = run("quiz", "--no-record", "--save-answers", ".vaegrade/x/answers.json",
                 input="\n".join(_letters(staff, ADA)) + "\n")
    assert result.exit_code == 0 and "Score: 10 / 10" in result.output
    assert "cannot save progress" in result.output and "cannot save your answers" in result.output
    unreadable = run("quiz", "--answers", ".vaegrade/nothing.json")
    assert unreadable.exit_code == 2
