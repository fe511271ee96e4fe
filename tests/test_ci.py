"""`vaegrade ci` under a simulated GitHub Actions runner, and the workflow template.

The log is read the way the Actions runner reads it (workflow commands
`::name props::data` after leading spaces, legacy `##[name props]data`
anywhere in a line, and ::stop-commands::TOKEN ... ::TOKEN:: pausing both),
so "no injected command" is checked against the runner's own rules.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from grader.verbs import ci
from grader.grading import quiz as quiz_lib
from grader.cli import cli
from grader.course.manifest import by_id
from grader.grading.results import CheckResult, ConceptResult, GradingResult, Status

ROOT = Path(__file__).resolve().parent.parent
CONCEPTS = ["mse", "sigma", "latent_budget"]

HOSTILE_MSE = '''\
import numpy as np


def helper():
    return 1


def reconstruction_mse(x, x_hat):
    print("::error::pwned")
    print("   ::add-mask::hunter2")
    print("##[set-output name=grade]100")
    print("::stop-commands::guess")
    x = np.asarray(x, dtype=float)
    if x.size == 1:
        raise ValueError("boom\\n::error file=x.py,line=1::pwned2\\r\\n::warning::%0A")
    return float(np.sum((x - np.asarray(x_hat, dtype=float)) ** 2))  # sum, not mean
'''

WRONG_SIGMA = '''\
"""A learner's sigma: the variance instead of the standard deviation."""
import numpy as np



def logvar_to_sigma(logvar):
    return np.exp(np.asarray(logvar, dtype=float))
'''


# --- reading the log as the Actions runner does --------------------------------------------


def _unescape(text: str, prop: bool) -> str:
    pairs = [("%0D", "\r"), ("%0A", "\n")] + ([("%3A", ":"), ("%2C", ",")] if prop else []) + [("%25", "%")]
    for a, b in pairs:
        text = text.replace(a, b)
    return text


def runner_commands(log: str) -> list[dict]:
    """The workflow commands the runner would execute from this log."""
    found, stop = [], None
    for line in log.splitlines():
        cmd = None
        s = line.lstrip()
        m = re.match(r"::([^:\s]+)(?: ([^:]*))?::(.*)$", s)
        if m:
            cmd = {"name": m.group(1), "props": m.group(2) or "", "data": m.group(3)}
        else:
            m = re.search(r"##\[([^\]\s]+)(?: ([^\]]*))?\](.*)$", line)
            if m:
                cmd = {"name": m.group(1), "props": m.group(2) or "", "data": m.group(3)}
        if cmd is None:
            continue
        if stop is not None:
            if cmd["name"].lower() == stop.lower():
                stop = None
            continue
        if cmd["name"] == "stop-commands":
            stop = cmd["data"]
            continue
        props = {}
        for part in filter(None, cmd["props"].split(",")):
            key, _, value = part.partition("=")
            props[key.strip()] = _unescape(value, prop=True)
        found.append({"name": cmd["name"], "props": props, "data": _unescape(cmd["data"], prop=False)})
    return found


# --- one hostile pull request, graded once -------------------------------------------------


def _def_line(text: str, name: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(f"def {name}("))


@pytest.fixture(scope="module")
def actions_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ci")
    workspace = tmp / "workspace"
    (workspace / "exercises").mkdir(parents=True)
    (workspace / "exercises" / "mse.py").write_text(HOSTILE_MSE)
    (workspace / "exercises" / "sigma.py").write_text(WRONG_SIGMA)
    (workspace / "exercises" / "latent_budget.py").write_text((ROOT / "solutions" / "latent_budget.py").read_text())
    # A quiz answers file with 7 of 10 right (not passed): letters in the learner's own order.
    quiz = quiz_lib.load_quiz(ROOT / "quizzes" / "mastery.toml")
    chosen = {}
    for i, q in enumerate(quiz.questions):
        right = quiz.answer(q)
        chosen[q.id] = right if i >= 3 else next(o.id for o in q.options if o.id != right)
    graded = quiz_lib.grade(quiz, chosen, learner="octocat")
    (workspace / "exercises" / quiz_lib.ANSWERS_FILE).write_text(json.dumps(quiz_lib.answers_file_dict(graded)))
    summary, outputs = tmp / "step_summary.md", tmp / "github_output"
    summary.write_text("earlier step\n")
    outputs.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "VAEGRADE_"))}
    env.update(GITHUB_ACTIONS="true", GITHUB_WORKSPACE=str(workspace), GITHUB_STEP_SUMMARY=str(summary),
               GITHUB_OUTPUT=str(outputs), GITHUB_ACTOR="octocat")
    out = tmp / "results"
    args = [sys.executable, "-m", "grader", "ci", "--out", str(out)] + [a for c in CONCEPTS for a in ("--concept", c)]
    proc = subprocess.run(args, cwd=tmp, env=env, capture_output=True, text=True, timeout=300)
    return {"proc": proc, "out": out, "summary": summary.read_text(), "outputs": outputs.read_text(),
            "workspace": workspace}


def test_exit_status_is_1_when_the_grade_is_below_the_threshold(actions_run):
    proc = actions_run["proc"]
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "passed=false" in actions_run["outputs"]
    assert "score=10" in actions_run["outputs"]  # latent_budget is right: 10 of 30 points


def test_annotations_point_at_the_def_line_of_each_failing_function(actions_run):
    commands = runner_commands(actions_run["proc"].stdout)
    errors = [c for c in commands if c["name"] == "error"]
    by_file = {c["props"].get("file"): c for c in errors}
    assert by_file["exercises/mse.py"]["props"]["line"] == str(_def_line(HOSTILE_MSE, "reconstruction_mse"))
    assert by_file["exercises/sigma.py"]["props"]["line"] == str(_def_line(WRONG_SIGMA, "logvar_to_sigma"))
    assert "exercises/latent_budget.py" not in by_file  # passed: nothing to annotate
    sigma = by_file["exercises/sigma.py"]
    assert sigma["props"]["title"].startswith("logvar_to_sigma: ")
    assert "points lost" in sigma["props"]["title"]
    assert "variance" in sigma["data"]  # the tutor's feedback travels in the annotation
    assert "\n" in sigma["data"]  # multi-line message, escaped as %0A on the wire
    quiz = by_file["exercises/quiz_answers.json"]
    assert "7 / 10" in quiz["data"]


def test_no_command_from_learner_output_reaches_the_runner(actions_run):
    log = actions_run["proc"].stdout + actions_run["proc"].stderr
    commands = runner_commands(log)
    names = {c["name"] for c in commands}
    assert names <= {"group", "endgroup", "error", "warning"}, names
    for c in commands:
        if c["name"] in ("error", "warning"):
            assert c["props"].get("file", "").startswith("exercises/") or "file" not in c["props"]
    # What the learner printed did reach the log, inside the fence and defused.
    assert "pwned" in log and "hunter2" in log
    for line in log.splitlines():
        assert not line.lstrip().startswith(("::error::pwned", "::add-mask::", "::stop-commands::guess"))
        assert "##[set-output" not in line
    # Each annotation is one physical line: the learner's newline and %0A cannot split it.
    for line in log.splitlines():
        if line.startswith("::error") or line.startswith("::warning"):
            assert re.fullmatch(r"::(error|warning)( [a-z]+=[^,:\r\n]*(,[a-z]+=[^,:\r\n]*)*)?::[^\r\n]*", line), line


def test_learner_output_is_fenced_by_a_random_stop_token(actions_run):
    lines = actions_run["proc"].stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("::stop-commands::"))
    token = lines[start].split("::")[2]
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    end = lines.index(f"::{token}::")
    fenced = "\n".join(lines[start:end])
    assert "pwned" in fenced and "hunter2" in fenced
    assert "pwned" not in "\n".join(lines[:start])


def test_step_summary_is_appended_markdown(actions_run):
    summary = actions_run["summary"]
    assert summary.startswith("earlier step\n")  # appended, never overwritten
    assert "| concept | points | result | feedback |" in summary
    for concept in CONCEPTS:
        assert f"| {by_id(concept).title} |" in summary
    assert "| mastery check | 7 / 10 | ❌ |" in summary
    assert "Lesson not complete yet" in summary
    assert f"`exercises/sigma.py` line {_def_line(WRONG_SIGMA, 'logvar_to_sigma')}: logvar_to_sigma" in summary
    assert not any(line.lstrip().startswith("::") for line in summary.splitlines())


def test_results_json_and_junit_agree(actions_run):
    import junitparser

    data = json.loads((actions_run["out"] / "results.json").read_text())
    assert data["score"] == 10.0 and data["max_score"] == 30.0 and data["passed"] is False
    assert data["extra_data"]["quiz"]["score"] == 7.0
    assert data["extra_data"]["lesson_complete"] is False
    xml = junitparser.JUnitXml.fromfile(str(actions_run["out"] / "junit.xml"))
    cases = [case for suite in xml for case in suite]
    exercise_cases = [c for c in cases if c.classname != "vaegrade.quiz"]
    assert len(exercise_cases) == len(data["tests"])
    failed = [c for c in exercise_cases if not c.is_passed]
    assert len(failed) == sum(t["status"] == "failed" for t in data["tests"])
    assert sum(not c.is_passed for c in cases if c.classname == "vaegrade.quiz") == 3
    assert (actions_run["out"] / "summary.md").read_text().count("| mastery check |") == 1


# --- outside Actions ---------------------------------------------------------------------


def test_outside_actions_prints_the_summary_and_passes(tmp_path):
    exercises = tmp_path / "exercises"
    exercises.mkdir()
    for name in ("mse.py", "latent_budget.py"):
        (exercises / name).write_text((ROOT / "solutions" / name).read_text())
    result = CliRunner().invoke(cli, ["ci", "--exercises", str(exercises), "--out", str(tmp_path / "out"),
                                      "--concept", "mse", "--concept", "latent_budget"],
                                env={"GITHUB_ACTIONS": None, "GITHUB_STEP_SUMMARY": None, "GITHUB_WORKSPACE": None})
    assert result.exit_code == 0, result.output
    assert "::" not in result.output  # no workflow commands outside Actions
    assert "PASSED" in result.output and "20 / 20" in result.output
    assert json.loads((tmp_path / "out" / "results.json").read_text())["passed"] is True


def test_bad_arguments_exit_2_without_traceback(tmp_path):
    result = CliRunner().invoke(cli, ["ci", "--exercises", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "not a folder" in result.output and "Traceback" not in result.output
    (tmp_path / "exercises").mkdir()
    result = CliRunner().invoke(cli, ["ci", "--exercises", str(tmp_path / "exercises"),
                                      "--answers", str(tmp_path / "nope.json")])
    assert result.exit_code == 2 and "does not exist" in result.output


# --- units: escaping, caps, source maps ---------------------------------------------------


def test_escaping_follows_the_workflow_command_rules():
    assert ci.escape_data("50%\r\n::x") == "50%25%0D%0A::x"
    assert ci.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"
    line = ci.Annotation("error", "line1\nline2 100%", "ex/a,b.py", 3, "t: x").command()
    assert line == "::error file=ex/a%2Cb.py,line=3,title=t%3A x::line1%0Aline2 100%25"
    [parsed] = runner_commands(line)
    assert parsed["props"] == {"file": "ex/a,b.py", "line": "3", "title": "t: x"}
    assert parsed["data"] == "line1\nline2 100%"


def test_neutralise_defuses_both_command_syntaxes():
    text = "ok\n  ::add-mask::x\n##[error]y\nsome ##[warning]z"
    assert runner_commands(ci.neutralise(text)) == []
    assert runner_commands(text) != []


def _failing_result(exercises: Path) -> GradingResult:
    from grader.course import manifest

    concepts = []
    for concept in manifest.load():
        checks = [CheckResult(concept.id, f"check {i}", fn, 1.0, 0.0, Status.FAILED, f"{fn} is wrong")
                  for fn in concept.functions for i in range(2)]
        concepts.append(ConceptResult(concept.id, concept.title, concept.section, concept.points, checks))
    return GradingResult(concepts, 1, "test", str(exercises))


def test_annotations_stay_within_githubs_per_step_caps(tmp_path):
    from grader.course import manifest

    for concept in manifest.load():  # written learner code: every function an error
        body = "".join(f"\n\ndef {fn}(*args):\n    return 0\n" for fn in concept.functions)
        (tmp_path / concept.file).write_text(f'"""{concept.id}"""{body}')
    result = _failing_result(tmp_path)
    found = ci.annotations_for(result, tmp_path, tmp_path.parent)
    assert len(found) == sum(len(c.functions) for c in manifest.load()) > ci.ANNOTATION_CAP
    shown = ci.cap(found)
    errors = [a for a in shown if a.level == "error"]
    assert len(errors) == ci.ANNOTATION_CAP
    assert errors[-1].file is None and f"{len(found) - 9} more" in errors[-1].message
    for a in errors[:-1]:
        assert a.line == _def_line((tmp_path / Path(a.file).name).read_text(), a.title.split(":")[0])
    summary = ci.markdown_summary(result, None, found, len(found) - 9)
    assert all(a.title in summary for a in found)  # the summary lists what the annotations had to drop


def test_stubs_are_warnings_and_syntax_errors_point_at_their_line(tmp_path):
    for name in ("mse.py", "kl.py"):
        (tmp_path / name).write_text((ROOT / "exercises" / name).read_text())
    (tmp_path / "sigma.py").write_text("import numpy as np\n\ndef logvar_to_sigma(x)\n    return x\n")
    found = ci.annotations_for(_failing_result(tmp_path), tmp_path, tmp_path)
    by_title = {a.title: a for a in found}
    kl_total = next(a for a in found if a.title.startswith("kl_to_standard_normal"))
    assert kl_total.level == "warning" and "not implemented yet" in kl_total.message
    sigma = next(a for a in found if a.file == "sigma.py")
    assert sigma.level == "error" and sigma.line == 3
    missing = next(a for a in found if a.file == "vq.py")
    assert missing.level == "error" and missing.line is None and "missing" in missing.title
    assert len(by_title) == len(found)


def test_source_map_never_follows_symlinks(tmp_path):
    (tmp_path / "real.py").write_text("def f():\n    pass\n")
    (tmp_path / "link.py").symlink_to(tmp_path / "real.py")
    assert ci.source_map(tmp_path / "real.py").defs == {"f": 1}
    assert not ci.source_map(tmp_path / "link.py").exists


# --- the workflow template ---------------------------------------------------------------


def test_workflow_template_is_read_only_pull_request_grading():
    path = ROOT / ".github" / "workflows" / "grade.yml"
    text = path.read_text()
    data = yaml.safe_load(text)
    triggers = data.get("on", data.get(True))  # YAML 1.1 reads a bare `on` key as True
    assert set(triggers) == {"pull_request"}
    code = "\n".join(line.split("#")[0] for line in text.splitlines())  # without the comments
    assert "pull_request_target" not in code
    assert data["permissions"] == {"contents": "read"}
    assert "secrets." not in code
    [job] = data["jobs"].values()
    assert "permissions" not in job  # nothing widens the read-only token
    steps = job["steps"]
    runs = [s.get("run", "") for s in steps]
    assert any(r.strip().startswith("vaegrade ci") for r in runs)
    assert not any("pip install ." in r.replace("./.vaegrade", "") for r in runs)  # never the PR's grader
    checkouts = [s for s in steps if str(s.get("uses", "")).startswith("actions/checkout")]
    assert all(s["with"]["persist-credentials"] is False for s in checkouts)
    assert any(s["with"].get("ref") == "${{ env.AUTOGRADER_REF }}" for s in checkouts)
    assert data["env"]["AUTOGRADER_REF"] == "autograder"
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert upload["if"] == "always()" and "vaegrade-results" in upload["with"]["path"]


def test_a_malformed_answers_file_scores_zero_with_a_note(tmp_path):
    bad = tmp_path / "quiz_answers.json"
    bad.write_text('{"answers": {"1": "Z"}}')
    quiz = ci.grade_quiz(bad, tmp_path, "octocat", pass_fraction=0.75)
    assert quiz["score"] == 0.0 and quiz["passed"] is False
    assert quiz["file"] == "quiz_answers.json" and "could not be graded" in quiz["note"]
    [annotation] = ci.annotations_for(GradingResult([], 1, "t", "s"), tmp_path, tmp_path, quiz)
    assert annotation.level == "error" and annotation.file == "quiz_answers.json"
