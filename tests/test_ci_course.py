"""`vaegrade ci` under a course policy: the hand-in time from GitHub's event record (never the
commit's own date), lateness in results.json and the summary, and GitHub Classroom's payload as
its autograding-grading-reporter action reads it."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.course import policy as policies
from grader.verbs import ci

ROOT = Path(__file__).resolve().parent.parent
DUE = datetime(2026, 12, 2, 6, 0, tzinfo=timezone.utc)


def event(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(data))
    return path


def test_the_event_time_is_githubs_not_the_commits(tmp_path):
    pr = {"pull_request": {"updated_at": "2026-12-03T06:00:00Z", "head": {"sha": "x"}},
          "repository": {"pushed_at": "2020-01-01T00:00:00Z"}}
    assert ci.event_time({"GITHUB_EVENT_PATH": str(event(tmp_path, pr))}) == \
        (DUE + timedelta(days=1), "pull_request.updated_at")
    push = {"head_commit": {"timestamp": "2000-01-01T00:00:00Z"},   # the committer date: the learner's to set
            "repository": {"pushed_at": int((DUE + timedelta(hours=2)).timestamp())}}
    assert ci.event_time({"GITHUB_EVENT_PATH": str(event(tmp_path, push))}) == \
        (DUE + timedelta(hours=2), "repository.pushed_at")
    when, source = ci.event_time({"GITHUB_ACTIONS": "true"})
    assert source == "time of the CI run" and abs(when - datetime.now(timezone.utc)) < timedelta(minutes=5)
    assert ci.event_time({}) == (None, "")


def classroom_reporter(payload_b64: str) -> tuple[float, float, bool]:
    """What autograding-grading-reporter does with one runner: decode base64 JSON, sum the tests'
    scores against max_score ("Points X/Y"), fail the step when status is fail or error."""
    results = json.loads(base64.b64decode(payload_b64).decode("utf-8"))
    assert results["version"] == 1 and results["status"] in ("pass", "fail", "error")
    assert all(t["status"] in ("pass", "fail", "error") and isinstance(t["name"], str) for t in results["tests"])
    total = sum(t["score"] for t in results["tests"])
    return total, results["max_score"], results["status"] != "pass"


def test_ci_applies_the_policy_and_writes_the_classroom_payload(tmp_path):
    exercises = tmp_path / "exercises"
    exercises.mkdir()
    (exercises / "mse.py").write_text((ROOT / "solutions" / "mse.py").read_text())
    policy_dir = tmp_path / "policy"
    policy_dir.mkdir()
    (policy_dir / "policy.toml").write_text('[policy]\ndue = "2026-12-02T06:00:00Z"\nlate = {per_day = 0.1}\n'
                                            'extensions = "ext.csv"\n')
    (policy_dir / "ext.csv").write_text("learner,due\nlucky,2026-12-09T00:00:00Z\n")
    outputs = tmp_path / "github_output"
    outputs.write_text("")
    env = {"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octocat", "GITHUB_OUTPUT": str(outputs),
           "GITHUB_EVENT_PATH": str(event(tmp_path, {"pull_request": {"updated_at": "2026-12-03T07:00:00Z"}}))}
    out = tmp_path / "out"
    got = ci.main(exercises=exercises, out=out, concepts=["mse", "sigma"], env=env, echo=lambda *_: None,
                  policy=policies.load(policy_dir))
    data = json.loads((out / "results.json").read_text())
    assert data["extra_data"]["submitted_at"] == "2026-12-03T07:00:00+00:00"
    assert data["extra_data"]["late_penalty"] == pytest.approx(0.2)
    assert "late" in (out / "summary.md").read_text()
    lines = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    total, max_score, fails = classroom_reporter(lines["result"])
    assert (total, max_score, fails) == (10.0, 20.0, True) and got.exit_code == 1
    assert json.loads((out / "classroom.json").read_text()) == json.loads(base64.b64decode(lines["result"]))
    # the same run for a learner with an extension: on time
    env["GITHUB_ACTOR"] = "lucky"
    ci.main(exercises=exercises, out=out, concepts=["mse"], env=env, echo=lambda *_: None,
            policy=policies.load(policy_dir))
    assert json.loads((out / "results.json").read_text())["extra_data"]["late_penalty"] == 0


def test_a_bad_policy_file_exits_2(tmp_path):
    (tmp_path / "exercises").mkdir()
    bad = tmp_path / "policy.toml"
    bad.write_text('[policy]\ndue = "soon"\n')
    result = CliRunner().invoke(cli, ["ci", "--exercises", str(tmp_path / "exercises"), "--out",
                                      str(tmp_path / "out"), "--policy", str(bad)])
    assert result.exit_code == 2 and "due" in result.output and "Traceback" not in result.output
