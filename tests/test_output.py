"""What a person reads in the terminal: wrapped to its width, said once, stubs told they are stubs, one Next."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))  # report_fixtures sits beside this file

from grader.checks import a_n, count  # noqa: E402
from grader.cli import cli  # noqa: E402
from grader.grading.runner import grade_submission  # noqa: E402
from grader.grading.results import GradingResult
from grader.outputs import nextsteps, text  # noqa: E402
from grader.settings import COURSE_MARKER  # noqa: E402
from report_fixtures import make_result  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def test_the_table_wraps_to_the_width_between_words_and_says_each_message_once():
    result = make_result({"sigma": ("sigma.variance", "logvar_to_sigma of a (2, 3) batch is off. This is "
                                    "exp(logvar), the variance; σ is exp(0.5·logvar).")}, zero=("elbo",))
    for width in (60, 80, 120):
        table = text.to_table(result, verbose=True, width=width)
        for line in table.splitlines():
            assert len(line) <= width or " " not in line.strip(), (width, line)
        flowing = " ".join(table.split())    # wrapped only between words: each message reads whole again
        assert all(" ".join(c.feedback.split()) in flowing for c in result.checks if c.feedback)
        elbo = table[table.index("elbo "):table.index("collapse ")]
        assert elbo.count("is not implemented yet") == 1 and "(x4)" in elbo
        assert all(f"✗ check {i} of elbo" in elbo for i in (1, 2, 3, 4))   # -v names every failed check
    short = text.to_table(result, width=80)
    assert "check 1 of elbo" not in short and short.count("is not implemented yet") == 1


def test_next_lists_every_unfinished_concept_most_points_lost_first_with_one_command_each():
    result = make_result({"sigma": ("sigma.variance", "logvar_to_sigma of x is off. This is exp(logvar), the "
                                    "variance.")}, zero=("vq", "kl"))
    standings = [nextsteps.from_result(c) for c in result.concepts]
    todo = nextsteps.to_fix(standings)
    assert [s.id for s in todo] == ["kl", "vq", "sigma"]
    assert [s.command for s in todo] == ["vaegrade check kl", "vaegrade check vq", "vaegrade grade -v --concept sigma"]
    assert "This is exp(logvar), the variance." in todo[2].advice()
    table = text.to_table(result, width=100)
    block = table[table.index("Next"):]
    assert [line.strip() for line in block.splitlines() if line.strip().startswith("vaegrade")] == \
        [s.command for s in todo]
    # status reads the same record and gives the same order and commands
    from_record = nextsteps.standings(GradingResult.from_results_json(result.to_gradescope_dict()), __import__(
        "grader.course.manifest", fromlist=["load"]).load())
    assert [(s.id, s.command) for s in nextsteps.to_fix(from_record)] == [(s.id, s.command) for s in todo]


def test_status_next_names_every_unfinished_concept(tmp_path, monkeypatch):
    course = tmp_path / "course"
    shutil.copytree(ROOT / "exercises", course / "exercises")
    for c in ("mse", "sigma", "kl", "reparam", "collapse", "latent_budget"):
        shutil.copy(ROOT / "solutions" / f"{c}.py", course / "exercises" / f"{c}.py")
    (course / COURSE_MARKER).write_text("[course]\n", encoding="utf-8")
    monkeypatch.chdir(course / "exercises")
    monkeypatch.setenv("VAEGRADE_LEARNER", "ada")
    monkeypatch.setenv("COLUMNS", "100")
    graded = CliRunner().invoke(cli, ["grade"])
    assert graded.exit_code == 1, graded.output
    status = CliRunner().invoke(cli, ["status"])
    commands = [line.strip() for line in status.output.splitlines() if line.strip().startswith("vaegrade check")]
    assert commands == ["vaegrade check elbo", "vaegrade check vq"]        # 0/10 each, in the manifest's order
    grade_commands = [line.strip() for line in graded.output[graded.output.index("Next"):].splitlines()
                      if line.strip().startswith("vaegrade")]
    assert grade_commands == commands


def test_a_stub_is_told_it_is_a_stub_and_a_shape_check_talks_about_shapes(tmp_path, zygote):
    shutil.copy(ROOT / "exercises" / "elbo.py", tmp_path / "elbo.py")
    mse = (ROOT / "solutions" / "mse.py").read_text(encoding="utf-8")
    assert "np.mean((x - x_hat) ** 2)" in mse
    (tmp_path / "mse.py").write_text(mse.replace("np.mean((x - x_hat) ** 2)", "np.sum((x - x_hat) ** 2)"),
                                     encoding="utf-8")
    result = grade_submission(tmp_path, concepts=["mse", "elbo"], zygote=zygote)
    mse_result, elbo = result.concepts
    assert all("not implemented yet" in c.feedback for c in elbo.checks), [c.feedback for c in elbo.checks]
    assert not any("zero is a valid weight" in c.feedback for c in elbo.checks)
    shape = next(c for c in mse_result.checks if c.name.startswith("(4,) against (4, 1)"))
    assert shape.status.value == "failed" and "shapes" in shape.feedback and "sum" not in shape.feedback


def test_grammar_of_numbers():
    assert [a_n(n) for n in (1, 8, 11, 18, 80, 100, 800)] == ["a 1", "an 8", "an 11", "an 18", "an 80", "a 100",
                                                               "an 800"]
    assert count(1, "value") == "1 value" and count(3, "value") == "3 values" and \
        count(2, "patch", "patches") == "2 patches"
