"""JUnit XML that every reader agrees on: junitparser, Jenkins' schema (tests/schemas/junit-jenkins.xsd)
and a parse the way the GitHub reporter actions read it (dorny/test-reporter, mikepenz/action-junit-report)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import junitparser
import pytest
import xmlschema

from grader.course import manifest
from grader.grading.results import CheckResult, ConceptResult, GradingResult, Status
from grader.grading.runner import grade_submission
from grader.outputs.junit import to_junit_xml

ROOT = Path(__file__).resolve().parent.parent
XSD = ROOT / "tests" / "schemas" / "junit-jenkins.xsd"
WRONG_SIGMA = '"""A learner\'s sigma."""\n\nimport numpy as np\n\n\n\ndef logvar_to_sigma(logvar):\n' \
              '    return np.exp(np.asarray(logvar, dtype=float))   # the variance, not sigma\n'
QUIZ = {"file": "quiz_answers.json", "score": 8.0, "max_score": 10.0,
        "questions": [{"id": f"q{i}", "number": i + 1, "correct": i >= 2, "feedback": "reread"} for i in range(10)]}


@pytest.fixture(scope="module")
def graded(tmp_path_factory, zygote):
    folder = tmp_path_factory.mktemp("sub")
    (folder / "sigma.py").write_text(WRONG_SIGMA)
    (folder / "mse.py").write_text((ROOT / "solutions" / "mse.py").read_text())
    return grade_submission(folder, seed=7, zygote=zygote, concepts=["sigma", "mse", "vq"])


@pytest.fixture(scope="module")
def document(graded, tmp_path_factory):
    path = tmp_path_factory.mktemp("junit") / "junit.xml"
    path.write_text(to_junit_xml(graded, QUIZ), encoding="utf-8")
    return path


def test_totals_are_computed_from_the_cases_quiz_included(graded, document):
    xml = junitparser.JUnitXml.fromfile(str(document))
    cases = [case for suite in xml for case in suite]
    assert len(cases) == len(graded.checks) + 10
    failed = [c for c in cases if not c.is_passed]
    root = ET.parse(document).getroot()
    assert int(root.get("tests")) == len(cases)
    assert int(root.get("failures")) == len(failed) and int(root.get("errors")) == 0
    for suite in xml:
        mine = list(suite)
        assert suite.tests == len(mine) and suite.failures == sum(not c.is_passed for c in mine)
    xml.update_statistics()   # junitparser's own count agrees with the document's
    assert (xml.tests, xml.failures) == (len(cases), len(failed))


def test_names_are_stable_and_points_live_in_properties(graded):
    passing = GradingResult([ConceptResult(c.id, c.title, c.section, c.max_score, [
        CheckResult(k.concept, k.name, k.function, k.max_score, k.max_score, Status.PASSED) for k in c.checks])
        for c in graded.concepts], 7, "x", "sub")
    names = lambda doc: [(c.get("classname"), c.get("name")) for c in ET.fromstring(doc).iter("testcase")]
    assert names(to_junit_xml(graded)) == names(to_junit_xml(passing))
    assert not any("points" in n for _, n in names(to_junit_xml(graded)))
    suite = ET.fromstring(to_junit_xml(graded)).find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.find("properties")}
    first = suite.find("testcase").get("name")
    assert props[f"points: {first}"].count("/") == 1 and props["concept"] == graded.concepts[0].id


def test_file_and_line_point_at_the_def_of_the_checked_function(graded, document):
    root = ET.parse(document).getroot()
    sigma = [c for c in root.iter("testcase") if c.get("classname").startswith("vaegrade.sigma.")]
    assert sigma and {c.get("file") for c in sigma} == {"exercises/sigma.py"}
    assert {c.get("line") for c in sigma} == {"7"}   # `def logvar_to_sigma` is on line 7 of the file
    vq = [c for c in root.iter("testcase") if c.get("classname").startswith("vaegrade.vq.")]
    assert {c.get("file") for c in vq} == {"exercises/vq.py"} and {c.get("line") for c in vq} == {"1"}  # missing
    quiz = [c for c in root.iter("testcase") if c.get("classname") == "vaegrade.quiz"]
    assert {c.get("file") for c in quiz} == {"quiz_answers.json"}


def test_times_are_measured_or_absent(graded, document):
    cases = list(ET.parse(document).getroot().iter("testcase"))
    measured = [c for c in cases if c.get("classname") != "vaegrade.quiz"]
    assert all(c.get("time") is not None for c in measured)
    assert sum(float(c.get("time")) for c in measured) > 0   # real wall time, not "0"
    assert all(c.get("time") is None for c in cases if c.get("classname") == "vaegrade.quiz")
    unmeasured = GradingResult([ConceptResult("mse", "t", "s", 10, [
        CheckResult("mse", "a", "reconstruction_mse", 10, 10, Status.PASSED)])], 1, "x", "s")
    doc = ET.fromstring(to_junit_xml(unmeasured))
    assert doc.find("testsuite/testcase").get("time") is None and doc.find("testsuite").get("time") is None


def test_a_check_the_grader_could_not_run_is_an_error_not_a_failure():
    result = GradingResult([ConceptResult("mse", "t", "s", 10, [
        CheckResult("mse", "a", "reconstruction_mse", 5, 0, Status.ERROR, "sandbox down"),
        CheckResult("mse", "b", "reconstruction_mse", 5, 0, Status.FAILED, "wrong")])], 1, "x", "s")
    root = ET.fromstring(to_junit_xml(result))
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("2", "1", "1")
    assert root.find("testsuite/testcase/error") is not None


def test_the_document_follows_jenkins_schema(document):
    schema = xmlschema.XMLSchema(str(XSD))
    schema.validate(str(document))
    # Without our one extension (file and line on testcase) the rules are Jenkins' own: the rest
    # of the document must follow them unchanged.
    text = XSD.read_text()
    strict_text = "\n".join(line for line in text.splitlines() if "<!-- EXTENSION -->" not in line)
    assert text.count("<!-- EXTENSION -->") == 2 and len(strict_text.splitlines()) == len(text.splitlines()) - 2
    strict = xmlschema.XMLSchema(strict_text)
    tree = ET.parse(document)
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        strict.validate(tree)
    for case in tree.getroot().iter("testcase"):
        case.attrib.pop("file"), case.attrib.pop("line")
    strict.validate(tree)


def reporter_annotations(path: Path) -> list[dict]:
    """What a GitHub JUnit reporter action builds from the file: per failing testcase, its suite
    and case name, classname, `file` and `line` (the case's, else the suite's file and line 1),
    and the failure's message; the title names the case."""
    found = []
    for suite in ET.parse(path).getroot().iter("testsuite"):
        for case in suite.iter("testcase"):
            failure = case.find("failure")
            if failure is None:
                failure = case.find("error")
            if failure is None:
                continue
            found.append({"suite": suite.get("name"), "title": f"{case.get('classname')}.{case.get('name')}",
                          "file": case.get("file") or suite.get("file"), "line": int(case.get("line") or 1),
                          "message": failure.get("message") or (failure.text or "").strip()})
    return found


def test_reporter_actions_annotate_the_right_file_and_line(document):
    found = reporter_annotations(document)
    files = {manifest.by_id(c.id).file for c in manifest.load()}
    for a in found:
        assert a["file"] == "quiz_answers.json" or Path(a["file"]).name in files, a
        assert a["message"]
    sigma = [a for a in found if a["file"] == "exercises/sigma.py"]
    assert sigma and {a["line"] for a in sigma} == {7}
    assert any("variance" in a["message"] or "exp" in a["message"] for a in sigma)
