"""The Gradescope autograder, run in a simulated /autograder tree (source/, submission/, results/,
submission_metadata.json): the quiz graded there, one top folder or an uploaded zip unwrapped, the
learner and the hand-in time from the metadata, lateness by the course policy (an extension
included), nothing written outside results/, and a results.json holding only Gradescope's fields."""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.course import manifest
from grader.grading import quiz as quiz_lib
from grader.verbs import gradescope

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "tests" / "schemas" / "gradescope_results.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
FAST = ("mse.py", "sigma.py", "latent_budget.py")
LEARNER = "alice@example.com"


def answers_text(learner: str, right: int) -> str:
    """A quiz answers file in the learner's own letters with `right` of 10 right."""
    quiz = quiz_lib.load_quiz(ROOT / "quizzes" / "mastery.toml")
    chosen = {}
    for i, q in enumerate(quiz.questions):
        good = quiz.answer(q)
        chosen[q.id] = good if i < right else next(o.id for o in q.options if o.id != good)
    return json.dumps(quiz_lib.answers_file_dict(quiz_lib.grade(quiz, chosen, learner=learner)))


def metadata(created_at: str, due: str = "2026-12-01T23:00:00.000000-07:00", email: str = LEARNER) -> dict:
    return {"id": 123456, "created_at": created_at,
            "assignment": {"due_date": due, "group_size": None, "group_submission": False, "id": 25828,
                           "course_id": 1234, "late_due_date": None, "release_date": "2026-11-01T00:00:00-07:00",
                           "title": "Autoencoders and VAEs", "total_points": "90.0"},
            "submission_method": "upload",
            "users": [{"email": email, "id": 1234, "name": "Alice Example"}],
            "previous_submissions": []}


@pytest.fixture
def course(tmp_path):
    """A course folder with a policy: 10% off per started late day (max 50%), one extension."""
    folder = tmp_path / "course"
    folder.mkdir()
    (folder / "vaegrade.toml").write_text('[course]\nlesson = "Autoencoders and VAEs"\n')
    (folder / "policy.toml").write_text(
        '[policy]\ndue = "2026-12-02T06:00:00Z"\nattempt = "best_before_due"\n'
        'late = {per_day = 0.1, max = 0.5}\nextensions = "extensions.csv"\n')
    (folder / "extensions.csv").write_text("learner,due\nbob@example.com,2026-12-05T06:00:00Z\n")
    return folder


def autograder_tree(tmp_path: Path, meta: dict | None) -> Path:
    home = tmp_path / "autograder"
    for sub in ("source", "submission", "results"):
        (home / sub).mkdir(parents=True)
    if meta is not None:
        (home / "submission_metadata.json").write_text(json.dumps(meta))
    return home


def snapshot(home: Path) -> dict[str, float]:
    return {str(p.relative_to(home)): p.stat().st_mtime_ns for p in home.rglob("*")}


def run(home: Path, course: Path | None, **kwargs) -> dict:
    before = snapshot(home)
    outcome = gradescope.main(root=home, course=course, env={}, **kwargs)
    assert outcome.exit_code == 0
    after = snapshot(home)
    changed = {k for k in set(after) | set(before) if after.get(k) != before.get(k)}
    assert changed <= {"results", "results/results.json"}, changed   # nothing else under /autograder
    assert not any(".vaegrade" in k for k in after)
    data = json.loads((home / "results" / "results.json").read_text())
    VALIDATOR.validate(data)   # strict: only Gradescope's fields at the top level
    assert "concepts" not in data and "passed" not in data and "max_score" not in data
    return data


def test_loose_files_with_a_quiz_file_late_by_the_policy(tmp_path, course):
    home = autograder_tree(tmp_path, metadata("2026-12-03T10:00:00.000000-07:00"))   # 1 d 11 h late
    for name in FAST:
        (home / "submission" / name).write_text((ROOT / "solutions" / name).read_text())
    (home / "submission" / "quiz_answers.json").write_text(answers_text(LEARNER, 9))
    data = run(home, course)
    extra = data["extra_data"]
    assert extra["learner"]["id"] == LEARNER and extra["learner"]["users"][0]["name"] == "Alice Example"
    assert extra["quiz"]["score"] == 9 and extra["quiz"]["passed"] is True
    quiz_tests = [t for t in data["tests"] if t["name"].startswith("quiz:")]
    assert len(quiz_tests) == 10 and sum(t["score"] for t in quiz_tests) == 9
    assert extra["exercises"]["score"] == 30.0
    assert extra["lateness"]["penalty"] == pytest.approx(0.2)   # two started days at 10% each
    assert extra["lateness"]["submitted_at"].startswith("2026-12-03T10:00:00")
    assert data["score"] == pytest.approx(round((30 + 9) * 0.8, 2))
    assert "late" in data["output"] and "39 becomes 31.2" in data["output"]
    # per-check points add up exactly to each concept's points
    for concept in manifest.load():
        points = [t["max_score"] for t in data["tests"] if t["name"].startswith(concept.id + ":")]
        assert round(math.fsum(points), 6) == concept.points, concept.id
        assert all(round(p, 4) == p for p in points)


def test_an_extension_in_the_policy_makes_it_on_time(tmp_path, course):
    home = autograder_tree(tmp_path, metadata("2026-12-03T10:00:00-07:00", email="bob@example.com"))
    (home / "submission" / "mse.py").write_text((ROOT / "solutions" / "mse.py").read_text())
    data = run(home, course)
    late = data["extra_data"]["lateness"]
    assert late["penalty"] == 0 and late["extension"] is True and late["due"].startswith("2026-12-05")
    assert data["score"] == 10.0


def test_gradescopes_own_extension_date_counts_when_the_policy_has_none(tmp_path):
    meta = metadata("2026-12-03T10:00:00-07:00")
    meta["users"][0]["assignment"] = {"due_date": "2026-12-04T23:00:00-07:00"}
    home = autograder_tree(tmp_path, meta)
    (home / "submission" / "mse.py").write_text((ROOT / "solutions" / "mse.py").read_text())
    data = run(home, None)
    assert data["extra_data"]["lateness"]["late_seconds"] == 0
    assert data["extra_data"]["lateness"]["due"].startswith("2026-12-04T23:00")


def test_a_zip_with_one_top_folder_and_an_exercises_folder_is_unwrapped(tmp_path, course):
    home = autograder_tree(tmp_path, metadata("2026-12-01T10:00:00-07:00"))
    with zipfile.ZipFile(home / "submission" / "alice-final.zip", "w") as zf:
        for name in FAST:
            zf.writestr(f"alice/exercises/{name}", (ROOT / "solutions" / name).read_text())
        zf.writestr("alice/quiz_answers.json", answers_text(LEARNER, 10))
        zf.writestr("alice/README.md", "notes")
        zf.writestr("__MACOSX/alice/._mse.py", "junk")
    data = run(home, course)
    assert data["extra_data"]["exercises"]["score"] == 30.0
    assert data["extra_data"]["quiz"]["score"] == 10
    assert data["extra_data"]["lateness"]["penalty"] == 0
    assert sorted(data["extra_data"]["files"]) == sorted(FAST)


def test_a_single_top_folder_upload_is_unwrapped(tmp_path):
    home = autograder_tree(tmp_path, metadata("2026-12-01T10:00:00-07:00"))
    (home / "submission" / "my-work" / "inner").mkdir(parents=True)
    (home / "submission" / "my-work" / "inner" / "mse.py").write_text((ROOT / "solutions" / "mse.py").read_text())
    data = run(home, None)
    assert data["extra_data"]["exercises"]["concept_scores"]["mse"] == 10.0


def test_no_exercise_file_gives_a_clear_visible_message(tmp_path):
    home = autograder_tree(tmp_path, metadata("2026-12-01T10:00:00-07:00"))
    (home / "submission" / "report.pdf").write_bytes(b"%PDF-1.4")
    (home / "submission" / "notes.txt").write_text("hello")
    data = run(home, None)
    assert data["score"] == 0 and data["visibility"] == "visible"
    assert "mse.py" in data["output"] and "report.pdf" in data["output"]


def test_hidden_visibility_is_configurable_and_the_top_level_follows_it(tmp_path):
    home = autograder_tree(tmp_path, metadata("2026-12-01T10:00:00-07:00"))
    (home / "submission" / "mse.py").write_text((ROOT / "solutions" / "mse.py").read_text())
    data = run(home, None)
    hidden = [t for t in data["tests"] if t["visibility"] != "visible"]
    assert hidden and {t["visibility"] for t in hidden} == {"after_due_date"}
    assert data["visibility"] == "after_due_date"   # the total tells the hidden outcome: shown with it
    receipt = data["tests"][0]
    assert receipt["visibility"] == "visible" and "after the due date" in receipt["output"]
    assert str(data["score"]) not in receipt["output"]
    data = run(home, None, hidden_visibility="visible")
    assert data["visibility"] == "visible" and {t["visibility"] for t in data["tests"]} == {"visible"}


def test_missing_metadata_still_grades_without_a_penalty(tmp_path, course):
    home = autograder_tree(tmp_path, None)
    (home / "submission" / "mse.py").write_text((ROOT / "solutions" / "mse.py").read_text())
    data = run(home, course)
    assert data["score"] == 10.0 and data["extra_data"]["lateness"]["penalty"] == 0


def test_the_cli_command_exits_0_and_a_bad_policy_exits_2(tmp_path, course):
    home = autograder_tree(tmp_path, metadata("2026-12-01T10:00:00-07:00"))
    (home / "submission" / "mse.py").write_text((ROOT / "solutions" / "mse.py").read_text())
    env = {"VAEGRADE_COURSE_KEY": "k"}
    result = CliRunner().invoke(cli, ["--course", str(course), "gradescope", "--root", str(home)], env=env)
    assert result.exit_code == 0, result.output
    first = json.loads((home / "results" / "results.json").read_text())
    result = CliRunner().invoke(cli, ["--course", str(course), "gradescope", "--root", str(home)], env=env)
    again = json.loads((home / "results" / "results.json").read_text())
    assert first["extra_data"]["seed"] == again["extra_data"]["seed"]   # same files, same inputs
    (course / "policy.toml").write_text('[policy]\ndue = "2026-12-02 06:00"\n')
    result = CliRunner().invoke(cli, ["--course", str(course), "gradescope", "--root", str(home)])
    assert result.exit_code == 2 and "timezone" in result.output and "Traceback" not in result.output


def test_a_notebook_in_a_zip_with_a_quiz_file_late_with_an_extension(tmp_path, course):
    # What a Jupyter learner uploads: one zip holding a folder with the notebook and the answers file.
    import zipfile

    from test_notebook import messy_notebook

    (course / "extensions.csv").write_text(f"learner,due\n{LEARNER},2026-12-05T23:00:00-07:00\n")
    home = autograder_tree(tmp_path, metadata("2026-12-03T10:00:00.000000-07:00"))   # late, but extended
    notebook = messy_notebook(tmp_path / "vae.ipynb", tmp_path / "ran")
    with zipfile.ZipFile(home / "submission" / "work.zip", "w") as zf:
        zf.write(notebook, "my-work/vae.ipynb")
        zf.writestr("my-work/quiz_answers.json", answers_text(LEARNER, 9))
    data = run(home, course)
    extra = data["extra_data"]
    assert extra["exercises"]["score"] == extra["exercises"]["max_score"] == 80.0   # every concept from the notebook
    assert extra["quiz"]["score"] == 9 and extra["lateness"]["penalty"] == 0
    assert not (tmp_path / "ran").exists()   # no top-level statement of the notebook ran
