"""The workflow template: current action majors pinned by full commit SHA (the version in a comment)
with Dependabot proposing updates, pip's cache for the torch wheel, the JUnit file shown in the job,
and the structural rules actionlint checks that can be checked here (actionlint itself runs in this
repository's own CI, .github/workflows/lint-workflows.yml: its wheel downloads the binary at build
time, which this test suite does not do)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[\w.-]+/[\w.-]+)@(?P<sha>[0-9a-f]{40})\s+#\s+v(?P<version>\d+\.\d+\.\d+)\s*$")
#: the oldest major of each action still current (on Node 24, not Node 20)
MIN_MAJOR = {"actions/checkout": 5, "actions/setup-python": 6, "actions/upload-artifact": 5}
STEP_KEYS = {"id", "if", "name", "uses", "run", "with", "env", "shell", "working-directory",
             "continue-on-error", "timeout-minutes"}
JOB_KEYS = {"name", "runs-on", "timeout-minutes", "steps", "permissions", "env", "if", "needs", "strategy",
            "concurrency", "defaults", "outputs", "environment", "container", "services", "continue-on-error"}


def workflows() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


@pytest.mark.parametrize("path", workflows(), ids=lambda p: p.name)
def test_every_action_is_pinned_by_sha_with_its_version(path):
    uses = [line for line in path.read_text().splitlines() if re.match(r"^\s*(-\s+)?uses:", line)]
    assert uses
    for line in uses:
        if "docker://" in line:
            assert re.search(r"docker://[\w./-]+:\d+\.\d+\.\d+", line), line   # a release, never :latest
            continue
        match = PINNED.match(line)
        assert match, f"not pinned by a full commit SHA with `# vX.Y.Z`: {line.strip()}"
        major = int(match["version"].split(".")[0])
        assert major >= MIN_MAJOR.get(match["action"], 0), line


@pytest.mark.parametrize("path", workflows(), ids=lambda p: p.name)
def test_structure_follows_the_workflow_syntax(path):
    text = path.read_text()
    data = yaml.safe_load(text)
    assert data.get("on", data.get(True)) and data["jobs"] and data["permissions"] == {"contents": "read"}
    assert text.count("${{") == text.count("}}")
    for expr in re.findall(r"\$\{\{(.*?)\}\}", text):
        assert expr.strip() and expr.count("(") == expr.count(")"), expr
    for job in data["jobs"].values():
        assert set(job) <= JOB_KEYS and "runs-on" in job and job.get("timeout-minutes")
        for step in job["steps"]:
            assert set(step) <= STEP_KEYS, step
            assert ("uses" in step) != ("run" in step), step   # exactly one of them
            if "shell" in step:
                assert step["shell"] in ("bash", "sh", "python", "pwsh")


def test_grade_workflow_caches_pip_and_shows_the_junit_file():
    data = yaml.safe_load((WORKFLOWS / "grade.yml").read_text())
    [job] = data["jobs"].values()
    steps = job["steps"]
    setup = next(s for s in steps if str(s.get("uses", "")).startswith("actions/setup-python"))
    assert setup["with"]["cache"] == "pip"
    assert setup["with"]["cache-dependency-path"] == ".github/workflows/grade.yml"
    assert "torch==" in data["env"]["TORCH"]   # the cache key file pins torch
    shown = [s for s in steps if "junit.xml" in s.get("run", "") and "GITHUB_STEP_SUMMARY" in s.get("run", "")]
    assert shown and shown[0]["if"] == "always()"
    grade = next(s for s in steps if s.get("run", "").strip().startswith("vaegrade ci"))
    assert "--policy" in grade["run"]


def test_the_junit_summary_step_runs(tmp_path, monkeypatch):
    """The step's own Python, run against a junit.xml like vaegrade writes."""
    data = yaml.safe_load((WORKFLOWS / "grade.yml").read_text())
    [job] = data["jobs"].values()
    step = next(s for s in job["steps"] if "junit.xml" in s.get("run", "") and s.get("shell") == "python")
    (tmp_path / "vaegrade-results").mkdir()
    (tmp_path / "vaegrade-results" / "junit.xml").write_text(
        '<testsuites><testsuite name="mse: a|b" tests="2" failures="1" errors="0"/></testsuites>')
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("RUNNER_TEMP", str(tmp_path))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    exec(compile(step["run"], "step", "exec"), {})
    assert "| mse: a/b | 2 | 1 | 0 |" in summary.read_text()


def test_dependabot_updates_the_actions():
    config = yaml.safe_load((ROOT / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    ecosystems = {u["package-ecosystem"]: u for u in config["updates"]}
    assert ecosystems["github-actions"]["directory"] == "/" and ecosystems["github-actions"]["schedule"]["interval"]


def test_actionlint_runs_in_ci():
    data = yaml.safe_load((WORKFLOWS / "lint-workflows.yml").read_text())
    steps = [s for job in data["jobs"].values() for s in job["steps"]]
    assert any(str(s.get("uses", "")).startswith("docker://rhysd/actionlint:") for s in steps)
