"""`vaegrade dev check`: the course content is consistent with the manifest.

Every manifest entry has a stub, a solution and checks; each stub defines the
functions with a TODO and scores zero; each solution scores full marks; no
file sits in exercises/ or solutions/ without a manifest entry; the quiz data
validates. Problems name the manifest key (or file) to change.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from pathlib import Path
from typing import Callable

from grader.course import manifest
from grader.grading import quiz
from grader.grading import runner
from grader.grading.runner import grade_submission
from grader.sandbox.session import Zygote
import grader.checks as checks_package
from grader.checks import checks_for
from grader.course.content import content_dir
from grader.verbs.workspace import Outcome, Workspace

MIN_CHECKS = 10


def _defined_functions(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def _raises_not_implemented(fn: ast.FunctionDef) -> bool:
    return any(isinstance(n, ast.Raise) and "NotImplementedError" in ast.unparse(n.exc or ast.Constant(None))
               for n in ast.walk(fn))


def clause_problems(concept_id: str, checks) -> list[str]:
    """Every SPEC clause of the concept (the module's CLAUSES table) is enforced by at least one check."""
    import importlib

    where = f"grader/checks/{concept_id}.py"
    clauses = getattr(importlib.import_module(f"grader.checks.{concept_id}"), "CLAUSES", None)
    if not clauses:
        return [f"{where}: no CLAUSES table mapping the SPEC's clauses to the checks that enforce them"]
    names = {c.run.__name__ for c in checks}
    problems = []
    for clause, enforced_by in clauses.items():
        if not enforced_by:
            problems.append(f"{where}: the clause {clause!r} has no check enforcing it")
        for name in enforced_by:
            if name not in names:
                problems.append(f"{where}: the clause {clause!r} names {name!r}, which is not a check")
    return problems


_MISCONCEPTION_LITERAL = r'"((?:{prefixes})\.[a-z_0-9]+|shape)"'


def misconception_problems() -> list[str]:
    """Every misconception id a check can report is declared in concepts.toml, once, and every declared
    one is reported somewhere (a label nobody can be given is dead)."""
    declared = [m.id for m in manifest.misconceptions()]
    problems = [f"concepts.toml [[misconceptions]]: id {mid!r} is declared {n} times"
                for mid, n in Counter(declared).items() if n > 1]
    prefixes = "|".join([c.id for c in manifest.load()] + ["numeric", "torch"])
    pattern = re.compile(_MISCONCEPTION_LITERAL.format(prefixes=prefixes))
    used: dict[str, str] = {}
    folder = Path(checks_package.__file__).parent
    # the checks, and the submission proxy (which names a no-gradient path or a gradient mismatch)
    for path in sorted(folder.glob("*.py")) + [Path(runner.__file__)]:
        if path.name == "mutants.py":
            continue
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            used.setdefault(match.group(1), f"grader/{path.parent.name}/{path.name}")
    for mid, where in sorted(used.items()):
        if mid not in declared:
            problems.append(f"{where}: misconception {mid!r} is not declared in concepts.toml [[misconceptions]]")
    for mid in declared:
        if mid not in used:
            problems.append(f"concepts.toml [[misconceptions]]: {mid!r} is never reported by a check")
    for m in manifest.misconceptions():
        if not m.label.strip():
            problems.append(f"concepts.toml [[misconceptions]]: {m.id!r} needs a label")
        sections = {c.section for c in manifest.load()}
        if m.concept and m.section not in sections:
            problems.append(f"concepts.toml [[misconceptions]]: {m.id!r} names section {m.section!r}, not a "
                            "section of any concept")
    return problems


def static_problems(exercises: Path, solutions: Path) -> list[str]:
    """What can be seen without running anything."""
    problems = []
    concepts = manifest.load()
    for key, counts in (("id", Counter(c.id for c in concepts)), ("file", Counter(c.file for c in concepts))):
        problems += [f"concepts.toml: {key} {v!r} is declared {n} times" for v, n in counts.items() if n > 1]
    for concept in concepts:
        where = f"concepts.toml [[concepts]] id={concept.id!r}"
        for folder, kind in ((exercises, "stub"), (solutions, "solution")):
            path = folder / concept.file
            if not path.is_file():
                problems.append(f"{where}: no {kind} {path} (file = {concept.file!r})")
                continue
            try:
                defined = _defined_functions(path)
            except SyntaxError as exc:
                problems.append(f"{path}: syntax error at line {exc.lineno}")
                continue
            for fn in concept.functions:
                if fn not in defined:
                    problems.append(f"{where}: function {fn!r} is not defined in {path}")
                elif kind == "stub" and not _raises_not_implemented(defined[fn]):
                    problems.append(f"{path}: stub {fn} must raise NotImplementedError")
            if kind == "stub" and "TODO" not in path.read_text(encoding="utf-8"):
                problems.append(f"{path}: a stub needs a TODO telling the learner what to write")
        try:
            checks = checks_for(concept.id)
        except ModuleNotFoundError:
            problems.append(f"{where}: no checks module grader/checks/{concept.id}.py")
            continue
        if len(checks) < MIN_CHECKS:
            problems.append(f"grader/checks/{concept.id}.py: {len(checks)} checks, at least {MIN_CHECKS} expected")
        if not any(c.public for c in checks):
            problems.append(f"grader/checks/{concept.id}.py: no public check (worked example) for `vaegrade check`")
        problems += clause_problems(concept.id, checks)
        for c in checks:
            if c.function not in concept.functions:
                problems.append(f"grader/checks/{concept.id}.py: check {c.name!r} names function "
                                f"{c.function!r}, not in {where} functions")
    problems += misconception_problems()
    declared = {c.file for c in concepts}
    for folder in (exercises, solutions):
        problems += [f"{folder / p.name}: not declared in concepts.toml (add a [[concepts]] entry or remove it)"
                     for p in sorted(folder.glob("*.py")) if p.name not in declared and p.name != "__init__.py"]
    return problems


def quiz_problems(quizzes: Path | None = None) -> list[str]:
    validate = getattr(quiz, "validate", None)
    if validate is None:
        return []
    path = (quizzes or content_dir("quizzes")) / "mastery.toml"
    if not path.is_file():
        return []  # a learner's copy ships only the key-less quiz
    return [f"{path}: {p}" for p in validate(path)]


def graded_problems(exercises: Path, solutions: Path, zygote=None) -> list[str]:
    """Stubs score zero and solutions full marks, graded for real (in the sandbox)."""
    import importlib.util

    problems = []
    gradable = [c.id for c in manifest.load() if importlib.util.find_spec(c.module) is not None]
    own = zygote is None
    zygote = zygote or Zygote()
    try:
        sol = grade_submission(solutions, zygote=zygote, concepts=gradable)
        stub = grade_submission(exercises, zygote=zygote, concepts=gradable)
    finally:
        if own:
            zygote.close()
    for c in sol.concepts:
        for r in c.failed_checks:
            problems.append(f"solutions/{manifest.by_id(c.id).file}: fails check {r.name!r}: {r.feedback} "
                            f"(seed {sol.seed})")
    for c in stub.concepts:
        if c.score:
            problems.append(f"exercises/{manifest.by_id(c.id).file}: a stub scores {c.score} (must be 0)")
    return problems


def run(echo: Callable[[str], None] = lambda s: None, zygote=None, course: Path | None = None) -> list[str]:
    exercises, solutions = content("exercises", course), content("solutions", course)
    echo(f"manifest: {len(manifest.load())} concepts; stubs in {exercises}, solutions in {solutions}")
    problems = static_problems(exercises, solutions) + quiz_problems(content("quizzes", course))
    echo("grading the solutions and the stubs in the sandbox ...")
    problems += graded_problems(exercises, solutions, zygote)
    return problems


def content(name: str, course: Path | None) -> Path:
    """The course's own content folder (the working tree an author edits), else the installed copy."""
    if course is not None and (course / name).is_dir():
        return course / name
    return content_dir(name)


def main(*, echo: Callable[[str], None] = lambda s: None, workspace: Workspace | None = None) -> Outcome:
    """`vaegrade dev check`: exit 0 when the content is consistent, 1 with the problems listed.

    Inside a course it checks that course's files (what its author is editing), not the copy
    installed with the grader."""
    problems = run(echo=echo, course=workspace.course if workspace is not None else None)
    if problems:
        return Outcome("", 1, tuple(f"problem: {p}" for p in problems))
    return Outcome("content is consistent", 0)
