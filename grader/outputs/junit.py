"""JUnit XML for CI dashboards: one <testsuite> per concept (and one for the quiz), one <testcase> per check.

Written so that every reader agrees on it (junitparser, Jenkins, the GitHub reporter actions):

- every count (`tests`, `failures`, `errors`, `skipped`) is computed from the cases it sums,
  the root's from its suites, quiz included;
- a case's name is the check's own name, the same whether it passes or fails (CI history and
  flaky-test tracking key on it); its points are in the suite's <properties>
  (`points: <case name>` = `score/max_score`), where Jenkins' schema allows properties;
- each case has `file` (the concept's file in exercises/, or the quiz answers file) and `line`
  (the line of the function's `def` in the submitted file, else 1), which the reporter actions
  use to annotate;
- `time` is the check's measured wall time, or absent when it was not measured.
A check the grader could not run (Status.ERROR) is an <error>, never a <failure>.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from grader import safetext
from grader.course import manifest
from grader.grading.results import GradingResult, Status

#: Text safe inside an XML 1.0 document: characters XML forbids even escaped (most controls, lone
#: surrogates, U+FFFE/U+FFFF) and bidi or escape tricks shown as U+FFFD.
clean = safetext.xml


def _seconds(value: float) -> str:
    return f"{max(0.0, value):.3f}"


def _suite(parent: ET.Element, name: str, file: str, cases: list[dict], properties: list[tuple[str, str]]) -> dict:
    counts = {"tests": len(cases), "failures": sum(c["outcome"] == "failure" for c in cases),
              "errors": sum(c["outcome"] == "error" for c in cases), "skipped": 0}
    attrs = {"name": clean(name), **{k: str(v) for k, v in counts.items()}, "file": clean(file)}
    times = [c["seconds"] for c in cases]
    if cases and all(t is not None for t in times):
        attrs["time"] = _seconds(sum(times))
    suite = ET.SubElement(parent, "testsuite", attrs)
    props = ET.SubElement(suite, "properties")
    for key, value in properties + [(f"points: {c['name']}", c["points"]) for c in cases if c.get("points")]:
        ET.SubElement(props, "property", name=clean(key), value=clean(value))
    for c in cases:
        attrs = {"name": clean(c["name"]), "classname": clean(c["classname"]), "file": clean(c["file"]),
                 "line": str(max(1, int(c["line"] or 1)))}
        if c["seconds"] is not None:
            attrs["time"] = _seconds(c["seconds"])
        case = ET.SubElement(suite, "testcase", attrs)
        if c["outcome"] in ("failure", "error"):
            message, body, kind = c["detail"]
            element = ET.SubElement(case, c["outcome"], message=clean(message[:500]), type=clean(kind))
            element.text = clean(body)
        if c.get("output"):
            ET.SubElement(case, "system-out").text = clean(c["output"])
    return counts


def to_junit_xml(result: GradingResult, quiz: dict | None = None, *, files: dict[str, str] | None = None) -> str:
    """The grading (and an optional graded quiz, as `ci` reports it) as a JUnit XML document.

    `files` maps a concept id to the path of its file as the reader should show it (e.g. relative
    to the repository root); by default `exercises/<file>`.
    """
    root = ET.Element("testsuites", name="vaegrade")
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for concept in result.concepts:
        spec = manifest.by_id(concept.id)
        file = (files or {}).get(concept.id) or f"exercises/{spec.file}"
        cases = []
        for c in concept.checks:
            outcome, detail = "passed", None
            if c.status is Status.ERROR:
                outcome, detail = "error", (c.feedback or "the grader could not run this check", c.feedback, "grader")
            elif c.status is not Status.PASSED:
                body = c.feedback + (f"\nreread: \"{concept.section}\"" if concept.section else "")
                outcome, detail = "failure", (c.feedback or "failed", body, c.misconception or "check")
            cases.append({"classname": f"vaegrade.{concept.id}.{c.function}", "name": c.name,
                          "file": file, "line": concept.lines.get(c.function, 1), "seconds": c.seconds,
                          "outcome": outcome, "detail": detail, "output": c.output,
                          "points": f"{c.score:g}/{c.max_score:g}"})
        counts = _suite(root, f"{concept.id}: {concept.title}", file, cases,
                        [("concept", concept.id), ("score", f"{concept.score:g}"),
                         ("max_score", f"{concept.max_score:g}")])
        for key in totals:
            totals[key] += counts[key]
    if quiz is not None:
        file = quiz.get("file") or "quiz_answers.json"
        cases = [{"classname": "vaegrade.quiz", "name": f"question {q.get('number', q['id'])}",
                  "file": file, "line": 1, "seconds": None, "output": "",
                  "outcome": "passed" if q["correct"] else "failure",
                  "detail": None if q["correct"] else ("wrong or missing answer", q.get("feedback", ""), "quiz"),
                  "points": f"{1 if q['correct'] else 0}/1"} for q in quiz.get("questions", [])]
        counts = _suite(root, "quiz: mastery check", file, cases,
                        [("score", f"{quiz.get('score', 0):g}"), ("max_score", f"{quiz.get('max_score', 0):g}")])
        for key in totals:
            totals[key] += counts[key]
    root.set("tests", str(totals["tests"]))
    root.set("failures", str(totals["failures"]))
    root.set("errors", str(totals["errors"]))
    root.set("time", _seconds(result.duration))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
