"""The grade command's contract (SPEC "The grade command"), and per-concept failure isolation."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from grader.course import manifest
from grader.cli import cli
from grader.grading.runner import grade_submission

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
STATUSES = {"passed", "failed"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


def _grade_json(*args):
    result = CliRunner().invoke(cli, ["grade", *args, "--format", "json"])
    return result, (json.loads(result.output) if result.output.strip().startswith("{") else None)


def test_solutions_json_is_full_marks_and_follows_the_contract():
    result, data = _grade_json(str(SOLUTIONS))
    assert result.exit_code == 0, result.output
    assert data["score"] == data["max_score"] == sum(c.points for c in manifest.load())
    assert data["passed"] is True
    assert set(data["concepts"]) == {c.id for c in manifest.load()}
    for cid, concept in data["concepts"].items():
        assert concept["passed"] is True and concept["score"] == concept["max_score"], cid
    assert len(data["tests"]) >= 10 * len(manifest.load())
    for test in data["tests"]:
        assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(test)
        assert test["status"] in STATUSES and test["visibility"] in VISIBILITIES
        assert test["score"] == test["max_score"] > 0
    assert isinstance(data["extra_data"]["seed"], int)


def test_stubs_score_zero_and_exit_1():
    result, data = _grade_json(str(EXERCISES))
    assert result.exit_code == 1, result.output
    assert data["score"] == 0 and data["passed"] is False
    assert set(data["concepts"]) == {c.id for c in manifest.load()}
    assert all(t["status"] == "failed" and t["score"] == 0 for t in data["tests"])
    assert all("NotImplementedError" in t["output"] for t in data["tests"])


def test_unreadable_input_exits_2_without_traceback(tmp_path):
    result = CliRunner().invoke(cli, ["grade", str(tmp_path / "nope"), "--format", "json"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "is not a folder" in result.output
    result = CliRunner().invoke(cli, ["grade", str(SOLUTIONS), "--concept", "nonsense"])
    assert result.exit_code == 2 and "unknown concept" in result.output


def test_empty_folder_scores_zero_everywhere_with_a_message(tmp_path, zygote):
    result = grade_submission(tmp_path, zygote=zygote)
    assert result.score == 0 and not result.passed
    assert [c.id for c in result.concepts] == [c.id for c in manifest.load()]
    for concept in result.concepts:
        assert "is missing from the submission" in concept.note
        assert all(r.misconception == "code.missing_file" for r in concept.checks)


def test_a_broken_file_costs_only_its_own_concept(tmp_path, zygote):
    shutil.copy(SOLUTIONS / "sigma.py", tmp_path / "sigma.py")
    (tmp_path / "mse.py").write_text("def reconstruction_mse(x, x_hat)\n    return 0\n")
    result = grade_submission(tmp_path, zygote=zygote, concepts=["mse", "sigma"])
    mse, sigma = result.concepts
    assert mse.score == 0 and "could not be imported: SyntaxError at line 1" in mse.note
    assert sigma.score == sigma.max_score


def test_a_missing_function_fails_only_its_checks(tmp_path, zygote):
    source = (SOLUTIONS / "kl.py").read_text()
    head = source.split("def kl_per_dimension")[0]
    (tmp_path / "kl.py").write_text(head)
    result = grade_submission(tmp_path, zygote=zygote, concepts=["kl"])
    (kl,) = result.concepts
    assert 0 < kl.score < kl.max_score
    for r in kl.checks:
        if r.function == "kl_per_dimension":
            assert r.status.value == "failed" and "kl_per_dimension is not defined in kl.py" in r.feedback
        else:
            assert r.status.value == "passed", r.feedback


def test_symlinks_in_a_submission_are_not_followed(tmp_path, zygote):
    (tmp_path / "mse.py").symlink_to(SOLUTIONS / "mse.py")
    result = grade_submission(tmp_path, zygote=zygote, concepts=["mse"])
    assert result.score == 0 and "missing" in result.concepts[0].note


def test_the_seed_reproduces_a_run(tmp_path, zygote):
    # Wrong only for some random inputs (batches): the outcome depends on the inputs drawn.
    (tmp_path / "mse.py").write_text(
        "import numpy as np\n"
        "def reconstruction_mse(x, x_hat):\n"
        "    x, x_hat = np.asarray(x, float), np.asarray(x_hat, float)\n"
        "    if x.shape != x_hat.shape: raise ValueError('shape')\n"
        "    return float(((x - x_hat) ** 2).sum() / len(x))\n")
    first = grade_submission(tmp_path, zygote=zygote, concepts=["mse"], seed=1234)
    again = grade_submission(tmp_path, zygote=zygote, concepts=["mse"], seed=1234)
    assert first.seed == again.seed == 1234
    assert [(c.name, c.status, c.feedback) for c in first.checks] == \
           [(c.name, c.status, c.feedback) for c in again.checks]
    assert 0 < first.score < first.max_score


def test_public_check_runs_only_worked_examples():
    result = CliRunner().invoke(cli, ["check", "mse", "--dir", str(SOLUTIONS)])
    assert result.exit_code == 0, result.output
    assert "worked example" in result.output and "batch" not in result.output
    result = CliRunner().invoke(cli, ["check", "mse", "--dir", str(EXERCISES)])
    assert result.exit_code == 1 and "not implemented yet" in result.output
