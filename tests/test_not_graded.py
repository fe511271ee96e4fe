"""A grader failure is never a learner's score.

Under a process cap (a container's --pids-limit, a non-root user's RLIMIT_NPROC), one learner
taking every free task slot makes the warm parent's fork fail, or a classmate's child die
before it is set up. Neither may be recorded as that classmate's score: the check is an
ERROR, the concept is retried, and a submission still holding errors is reported as not
graded (Gradescope JSON without a score, `grade` exit 2, `ci` exit 2, no gradebook attempt,
a batch problem instead of a row of zeros).

The cap is simulated by fault injection in the warm parent only (root ignores RLIMIT_NPROC,
so the suite cannot rely on it): a sitecustomize on the sandbox's PYTHONPATH replaces
os.fork there, following a plan written to a file the test controls.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.course import manifest
from grader.grading.results import Status
from grader.grading.runner import grade_submission
from grader.outputs.junit import to_junit_xml
from grader.outputs.text import to_markdown
from grader.sandbox import session
from grader.sandbox.session import Zygote

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = ROOT / "solutions"
FULL = sum(c.points for c in manifest.load())

SITECUSTOMIZE = '''
import fcntl, os, sys
_PLAN = {plan!r}
_real_fork = os.fork


def _count():
    with open(os.path.join(_PLAN, "count"), "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        n = int(f.read() or 0)
        f.seek(0)
        f.truncate()
        f.write(str(n + 1))
    return n


def _fork():
    if not (sys.argv and sys.argv[0].endswith(os.path.join("sandbox", "zygote.py"))):
        return _real_fork()
    with open(os.path.join(_PLAN, "mode")) as f:
        mode, _, limit = f.read().strip().partition(":")
    n = _count()
    if mode == "fork-fails" and (not limit or n < int(limit)):
        raise BlockingIOError(11, "Resource temporarily unavailable")
    pid = _real_fork()
    if pid == 0 and mode == "child-dies" and (not limit or n < int(limit)):
        os._exit(0)   # a child that could not set itself up under the cap
    return pid


os.fork = _fork
'''


@pytest.fixture
def capped(tmp_path, monkeypatch):
    """Set the plan (mode[:how many forks]); the sandbox started afterwards follows it."""
    plan = tmp_path / "plan"
    plan.mkdir()
    (plan / "sitecustomize.py").write_text(SITECUSTOMIZE.format(plan=str(plan)))
    monkeypatch.setenv("PYTHONPATH", f"{plan}{os.pathsep}{ROOT}")
    monkeypatch.setattr(session, "SPAWN_BACKOFF", 0.05)

    def set_mode(mode: str) -> Path:
        (plan / "mode").write_text(mode)
        (plan / "count").write_text("0")
        return plan

    return set_mode


def forks(plan: Path) -> int:
    return int((plan / "count").read_text() or 0)


def test_a_correct_submission_is_not_graded_while_no_process_can_start(capped):
    plan = capped("fork-fails")
    with Zygote() as zygote:
        result = grade_submission(SOLUTIONS, zygote=zygote)
    assert not result.graded and result.errors
    assert all(c.status is Status.ERROR and c.score == 0 for c in result.checks)
    assert all(c.note.startswith("The grader failed here, not your code") for c in result.concepts)
    # every concept was tried, then tried again, each time with a second fork after a pause
    assert forks(plan) >= 2 * 2 * len(manifest.load())
    data = result.to_gradescope_dict()
    assert data["score"] == 0 and data["passed"] is False and data["output"].startswith("NOT GRADED")
    assert len(data["extra_data"]["not_graded"]) == len(result.checks)
    junit = ET.fromstring(to_junit_xml(result))
    assert junit.get("errors") == str(len(result.checks)) and junit.get("failures") == "0"
    assert not junit.findall(".//failure") and len(junit.findall(".//error")) == len(result.checks)
    assert "not graded" in to_markdown(result)


def test_a_child_that_dies_before_it_is_set_up_is_retried_and_the_grade_is_full(capped):
    plan = capped("child-dies:3")
    with Zygote() as zygote:
        result = grade_submission(SOLUTIONS, zygote=zygote)
    assert result.graded and result.score == FULL, [(c.name, c.feedback) for c in result.checks if c.score == 0]
    assert forks(plan) > 3


def test_a_fork_that_fails_once_is_waited_for_and_the_grade_is_full(capped):
    plan = capped("fork-fails:2")
    with Zygote() as zygote:
        result = grade_submission(SOLUTIONS, zygote=zygote)
    assert result.graded and result.score == FULL
    assert forks(plan) > 2


def test_grade_exits_2_prints_not_graded_and_records_nothing(capped, tmp_path):
    capped("fork-fails")
    book = tmp_path / "book.sqlite"
    env = {**os.environ, "VAEGRADE_LEARNER": "ada"}
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(SOLUTIONS), "--format", "json",
                           "--gradebook", str(book)], capture_output=True, env=env, timeout=600)
    assert proc.returncode == 2, proc.stderr.decode()[-2000:]
    assert b"Traceback" not in proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    assert data["score"] == 0 and data["passed"] is False and data["extra_data"]["not_graded"]
    assert b"nothing was recorded" in proc.stderr
    if book.exists():
        assert sqlite3.connect(book).execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 0


def test_ci_exits_2_and_says_not_graded(capped, tmp_path):
    capped("fork-fails")
    proc = subprocess.run([sys.executable, "-m", "grader", "ci", "--exercises", str(SOLUTIONS), "--out",
                           str(tmp_path / "res"), "--concept", "mse"], capture_output=True,
                          env={**os.environ, "GITHUB_ACTIONS": ""}, timeout=600)
    assert proc.returncode == 2 and b"NOT GRADED" in proc.stdout, proc.stdout[-2000:]
    data = json.loads((tmp_path / "res" / "results.json").read_text())
    assert data["score"] == 0 and data["extra_data"]["not_graded"]


def test_a_batch_reports_the_classmate_as_not_graded_never_as_a_score(capped, tmp_path):
    capped("fork-fails")
    subs = tmp_path / "subs"
    (subs / "good").mkdir(parents=True)
    for p in SOLUTIONS.glob("*.py"):
        (subs / "good" / p.name).write_text(p.read_text())
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["batch", str(subs), "--out", str(out), "-j", "1"])
    assert result.exit_code == 1, result.output
    assert "could not grade good" in result.output and "rerun to retry" in result.output
    rows = {r["learner"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}
    assert rows["good"]["exercises_total"] == "" and rows["good"]["results_file"] == ""
    assert "could not be graded" in rows["good"]["problem"] or "sandbox" in rows["good"]["problem"]
    assert not list((out / "results").glob("*.json"))
    db = sqlite3.connect(out / "gradebook.sqlite")
    assert db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 0


def test_the_gradescope_autograder_records_no_score_when_the_grader_failed(capped, tmp_path):
    from grader.verbs.release import RUN_AUTOGRADER, TORCH_INDEX, TORCH_PIN

    capped("fork-fails")
    home = tmp_path / "autograder"
    (home / "submission").mkdir(parents=True)
    for name in ("mse.py", "sigma.py"):
        (home / "submission" / name).write_text((SOLUTIONS / name).read_text())
    script = home / "run_autograder"
    run = RUN_AUTOGRADER.format(torch=TORCH_PIN, index=TORCH_INDEX)
    script.write_text(run.replace("/autograder", str(home)).replace(f"export PATH={home}/venv/bin:$PATH", ""))
    script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAEGRADE_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    proc = subprocess.run([str(script)], cwd=home, env=env, timeout=600, capture_output=True)
    assert proc.returncode != 0 and b"not graded" in proc.stderr, proc.stderr[-2000:]
    assert not (home / "results" / "results.json").exists()   # Gradescope: "autograder failed", no score
