"""JUnit XML for CI dashboards: one <testsuite> per concept (and one for the quiz), one <testcase> per check."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from grader import safetext
from grader.grading.results import GradingResult, Status

#: Text safe inside an XML 1.0 document: characters XML forbids even escaped (most controls, lone
#: surrogates, U+FFFE/U+FFFF) and bidi or escape tricks shown as U+FFFD.
clean = safetext.xml


def _suite(parent: ET.Element, name: str, cases: list[dict], time: float) -> None:
    errors = sum(c["failure"] is not None and c.get("error", False) for c in cases)
    failures = sum(c["failure"] is not None for c in cases) - errors
    suite = ET.SubElement(parent, "testsuite", name=clean(name), tests=str(len(cases)),
                          failures=str(failures), errors=str(errors), skipped="0", time=f"{time:.3f}")
    for c in cases:
        case = ET.SubElement(suite, "testcase", classname=clean(c["classname"]), name=clean(c["name"]),
                             time="0")
        if c["failure"] is not None:
            message, body, kind = c["failure"]
            # A check the grader could not run is an <error> (not graded), never the learner's <failure>.
            failure = ET.SubElement(case, "error" if c.get("error") else "failure",
                                    message=clean(message, 500), type=clean(kind))
            failure.text = clean(body)
        if c.get("output"):
            ET.SubElement(case, "system-out").text = clean(c["output"])


def to_junit_xml(result: GradingResult, quiz: dict | None = None) -> str:
    """The grading (and an optional graded quiz, as `ci` reports it) as a JUnit XML document."""
    root = ET.Element("testsuites", name="vaegrade", tests=str(len(result.checks)),
                      failures=str(sum(c.status is Status.FAILED for c in result.checks)),
                      errors=str(len(result.errors)),
                      time=f"{result.duration:.3f}")
    per_concept = result.duration / max(1, len(result.concepts))
    for concept in result.concepts:
        cases = []
        for c in concept.checks:
            failure = None
            if c.status is not Status.PASSED:
                body = c.feedback + (f"\nreread: \"{concept.section}\"" if concept.section else "")
                failure = (c.feedback or "failed", body, c.misconception or "check")
            cases.append({"classname": f"vaegrade.{concept.id}.{c.function}",
                          "name": f"{c.name} ({c.score:g} / {c.max_score:g} points)",
                          "failure": failure, "output": c.output, "error": c.status is Status.ERROR})
        _suite(root, f"{concept.id}: {concept.title}", cases, per_concept)
    if quiz is not None:
        cases = [{"classname": "vaegrade.quiz", "name": f"question {q['id']}",
                  "failure": None if q["correct"] else ("wrong or missing answer", q.get("feedback", ""), "quiz"),
                  } for q in quiz.get("questions", [])]
        _suite(root, "quiz: mastery check", cases, 0.0)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
