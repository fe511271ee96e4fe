"""The course is found like git finds a repository: from any folder inside it, or as told."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.course.content import content_dir
from grader.settings import COURSE_MARKER

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def course(tmp_path) -> Path:
    """A learner's course: the marker, and exercises/ holding the stubs with mse solved."""
    root = tmp_path / "course"
    shutil.copytree(ROOT / "exercises", root / "exercises")
    shutil.copy(ROOT / "solutions" / "mse.py", root / "exercises" / "mse.py")
    (root / COURSE_MARKER).write_text("[course]\n", encoding="utf-8")
    (root / "exercises" / "notes" / "deeper").mkdir(parents=True)
    return root


def _check(*args, env=None):
    return CliRunner().invoke(cli, [*args], env=env or {})


@pytest.mark.parametrize("where", ["exercises", "exercises/notes/deeper", "."])
def test_check_from_inside_the_course_grades_its_exercises(course, monkeypatch, where):
    monkeypatch.chdir(course / where)
    monkeypatch.delenv("VAEGRADE_COURSE", raising=False)
    result = _check("check", "mse")
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output and "public checks pass" in result.output
    assert "not implemented yet" not in result.output       # the course's solved mse, not a bundled stub


def test_outside_a_course_grade_and_check_say_so_and_exit_2(tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    monkeypatch.delenv("VAEGRADE_COURSE", raising=False)
    for args in (["check", "mse"], ["grade", "--no-record"], ["watch", "mse"]):
        result = _check(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "not inside a vae-grader course" in result.output and "--course" in result.output
        assert "Traceback" not in result.output
    assert not (outside / ".vaegrade").exists()              # nothing recorded in a stray gradebook


def test_course_option_and_environment_variable_override(course, tmp_path, monkeypatch):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    monkeypatch.chdir(outside)
    monkeypatch.delenv("VAEGRADE_COURSE", raising=False)
    result = _check("--course", str(course), "check", "mse")
    assert result.exit_code == 0 and "public checks pass" in result.output, result.output
    result = _check("check", "mse", env={"VAEGRADE_COURSE": str(course)})
    assert result.exit_code == 0 and "public checks pass" in result.output, result.output
    result = _check("--course", str(outside), "check", "mse")
    assert result.exit_code == 2 and "is not a vae-grader course" in result.output


def test_the_installed_stubs_are_graded_only_when_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VAEGRADE_COURSE", raising=False)
    assert _check("check", "mse").exit_code == 2                       # never a silent fallback to them
    named = _check("check", "mse", "--dir", str(content_dir("exercises")))
    assert named.exit_code == 1 and "not implemented yet" in named.output
