"""Submissions that are the same code under cosmetic changes, for staff to look at (never a verdict).

Each concept file is parsed (never run) and normalised: comments and formatting vanish with the
parse, docstrings are dropped, string literals (messages) are blanked, and every name a function binds (its arguments and locals) is
renamed to a positional placeholder (`_0`, `_1`, ... in order of first appearance), so renaming
variables, reformatting or rewording comments changes nothing. Module-level names (imports,
function names fixed by the exercise, numpy's functions) are kept. Two learners share a group
when their normalised files are equal; "whole" compares all eight files at once.

One-line canonical answers coincide naturally (`return np.exp(0.5 * logvar)` is what most
correct learners write), so a group is *flagged* only when its shared code is unlikely by
chance: it differs from the reference solution and from the untouched stub after the same
normalisation, and it is long: at least MIN_NODES AST nodes after normalisation (the reference
solutions measure 32 to 378; a one-line answer in its file is 20 to 40). Other groups are listed
as "expected", with why.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from grader.course import manifest
from grader.settings import MAX_SOURCE_BYTES, SIMILAR_MIN_NODES

MIN_NODES = SIMILAR_MIN_NODES   #: a shared file shorter than this (after normalisation) is too short to mean anything


class _Normaliser(ast.NodeTransformer):
    def __init__(self):
        self.scopes: list[dict[str, str]] = []

    def _strip_docstring(self, body: list) -> list:
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                and isinstance(body[0].value.value, str):
            body = body[1:]
        return body or [ast.Pass()]

    def visit_Module(self, node):
        node.body = self._strip_docstring(node.body)
        self.generic_visit(node)
        return node

    def visit_FunctionDef(self, node):
        names: dict[str, str] = {}
        for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs + \
                [x for x in (node.args.vararg, node.args.kwarg) if x is not None]:
            names.setdefault(a.arg, f"_{len(names)}")
        for sub in ast.walk(node):   # locals: names stored anywhere in the function
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
                names.setdefault(sub.id, f"_{len(names)}")
        self.scopes.append(names)
        node.body = self._strip_docstring(node.body)
        node.returns = None
        self.generic_visit(node)
        self.scopes.pop()
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_arg(self, node):
        if self.scopes and node.arg in self.scopes[-1]:
            node.arg = self.scopes[-1][node.arg]
        node.annotation = None
        return node

    def visit_Constant(self, node):
        if isinstance(node.value, str):   # messages and labels are cosmetic too
            node.value = ""
        return node

    def visit_JoinedStr(self, node):
        return ast.Constant("")

    def visit_Name(self, node):
        for scope in reversed(self.scopes):
            if node.id in scope:
                node.id = scope[node.id]
                break
        return node


def normalise(source: bytes | str) -> tuple[str, int] | None:
    """(normal form, AST node count) of a Python file; None when it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    tree = _Normaliser().visit(tree)
    return ast.dump(tree, annotate_fields=False, include_attributes=False), sum(1 for _ in ast.walk(tree))


def digest(form: str) -> str:
    return hashlib.sha256(form.encode()).hexdigest()[:16]


@dataclass
class Group:
    scope: str                 #: a concept id, or "whole"
    learners: list[str]
    nodes: int                 #: size of the shared normalised code
    flagged: bool
    why: str                   #: why it is flagged, or why it is expected


@dataclass
class Report:
    groups: list[Group] = field(default_factory=list)
    learners: int = 0
    rule: str = ""

    @property
    def flagged(self) -> list[Group]:
        return [g for g in self.groups if g.flagged]


def _baseline(folder: Path | None, file: str) -> tuple[str, int] | None:
    if folder is None or not (folder / file).is_file():
        return None
    return normalise((folder / file).read_bytes())


def analyse(files: dict[str, dict[str, bytes]], *, reference: Path | None = None, stubs: Path | None = None,
            min_nodes: int = MIN_NODES) -> Report:
    """Groups of learners with identical normalised code; `files` is learner -> {file name: bytes}."""
    report = Report(learners=len(files), rule=(
        f"flagged when the shared code differs from the reference solution and the stub after "
        f"normalisation and has at least {min_nodes} AST nodes; shorter or canonical answers "
        f"coincide naturally"))
    whole: dict[str, list[str]] = {}
    whole_nodes: dict[str, int] = {}
    whole_flaggable: dict[str, bool] = {}
    for concept in manifest.load():
        ref, stub = _baseline(reference, concept.file), _baseline(stubs, concept.file)
        by_form: dict[str, list[str]] = {}
        sizes: dict[str, int] = {}
        for learner, their in files.items():
            data = their.get(concept.file)
            if data is None or len(data) > MAX_SOURCE_BYTES:
                continue
            normal = normalise(data)
            if normal is None:
                continue
            by_form.setdefault(normal[0], []).append(learner)
            sizes[normal[0]] = normal[1]
        for form, learners in by_form.items():
            for learner in learners:
                whole.setdefault(learner, []).append(f"{concept.file}:{digest(form)}")
            if len(learners) < 2:
                continue
            nodes = sizes[form]
            if stub is not None and form == stub[0]:
                flagged, why = False, "the untouched stub"
            elif ref is not None and form == ref[0]:
                flagged, why = False, "the reference solution itself (the canonical answer)"
            elif nodes < min_nodes:
                flagged, why = False, (f"short ({nodes} AST nodes; the reference has "
                                       f"{ref[1] if ref else '?'}): likely to coincide by chance")
            else:
                flagged, why = True, (f"{nodes} AST nodes identical after normalisation (the reference has "
                                      f"{ref[1] if ref else '?'})")
            report.groups.append(Group(concept.id, sorted(learners), nodes, flagged, why))
            for learner in learners:
                whole_flaggable[learner] = whole_flaggable.get(learner, False) or flagged
        for learner in files:
            whole_nodes[learner] = whole_nodes.get(learner, 0) + next(
                (sizes[f] for f, ls in by_form.items() if learner in ls), 0)
    by_whole: dict[str, list[str]] = {}
    for learner, parts in whole.items():
        by_whole.setdefault("|".join(sorted(parts)), []).append(learner)
    for key, learners in by_whole.items():
        if len(learners) >= 2:
            flagged = any(whole_flaggable.get(l) for l in learners)
            report.groups.append(Group("whole", sorted(learners), whole_nodes.get(learners[0], 0), flagged,
                                       "every file identical after normalisation" + (
                                           "" if flagged else ", but no file is unlikely by chance")))
    report.groups.sort(key=lambda g: (not g.flagged, g.scope != "whole", -g.nodes, g.learners))
    return report
