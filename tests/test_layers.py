"""The package's layers, checked from its source: imports point down, never up, never in a circle.

Layers, bottom to top (a module may import its own layer and the layers below):
    0  grader/__init__.py, settings.py, safetext.py     facts written once, text made safe
    1  course/ (what is graded), sandbox/ (isolation)
    2  checks/                                           the hidden checks and their API
    3  grading/                                          one submission in, one typed result out
    4  store/ (the gradebook), outputs/ (renderers)      neither imports the other
    5  verbs/                                            one main(*, ...) per command
    6  cli.py, __main__.py                               the only click module
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "grader"

RANK = {"settings": 0, "safetext": 0, "course": 1, "sandbox": 1, "checks": 2, "grading": 3,
        "store": 4, "outputs": 4, "verbs": 5, "cli": 6, "__main__": 6}

# Imports of our own package inside a function, each with the reason it cannot be at the top.
LAZY_ALLOWED = {
    # `vaegrade --help` and every command start in a fraction of a second: the CLI imports a
    # command's verb (and with it numpy and torch) only when that command runs.
    ("grader.cli", "grader.verbs"),
    # The warm parent imports the child harness after it has confined itself, so nothing the
    # harness imports is loaded before the confinement is in place.
    ("grader.sandbox.zygote", "grader.sandbox"),
}


def layer_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "settings"  # grader/__init__ is the bottom layer


def own_modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        name = ".".join(rel.parts)
        mods[name.removesuffix(".__init__")] = path
    return mods


def imports(path: Path, module: str) -> list[tuple[str, bool, int]]:
    """(imported grader module, inside a function?, line) for every import of our package."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((a.name, in_function, child.lineno) for a in child.names if a.name.split(".")[0] == "grader")
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:  # relative import: resolve against this module's package
                    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                    base = ".".join(package[: len(package) - child.level + 1] + ([base] if base else []))
                if base.split(".")[0] == "grader":
                    for a in child.names:
                        sub = f"{base}.{a.name}"
                        found.append((sub if sub in MODULES else base, in_function, child.lineno))
            visit(child, nested)

    visit(tree, False)
    return found


MODULES = own_modules()


def violations(modules: dict[str, Path] = MODULES) -> list[str]:
    problems, graph = [], {m: set() for m in modules}
    for module, path in modules.items():
        here = layer_of(module)
        for target, lazy, line in imports(path, module):
            there = layer_of(target)
            where = f"{path.name}:{line}"
            if RANK.get(there, 0) > RANK.get(here, 0):
                problems.append(f"{where}: {module} ({here}) imports {target} ({there}), a layer above")
            elif RANK.get(there, 0) == RANK.get(here, 0) and here != there and here not in ("cli", "__main__"):
                problems.append(f"{where}: {module} ({here}) imports {target} ({there}), a side layer")
            if lazy and not any(module.startswith(a) and target.startswith(b) for a, b in LAZY_ALLOWED):
                problems.append(f"{where}: {module} imports {target} inside a function")
            if not lazy and target in graph and target != module:
                graph[module].add(target)
    problems += [f"import cycle: {' -> '.join(c)}" for c in cycles(graph)]
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def walk(node, stack):
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                found.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                walk(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            walk(node, [node])
    return found


def test_imports_point_down_the_layers():
    assert violations() == []


def test_every_module_has_a_layer():
    assert {layer_of(m) for m in MODULES} - set(RANK) - {"settings"} == set()


@pytest.mark.parametrize("source, expected", [
    ("from grader.verbs import batch\n", "a layer above"),                  # grading -> verbs
    ("from grader.store import gradebook\n", "a layer above"),              # grading -> store
    ("def f():\n    from grader.checks import Fail\n", "inside a function"),
])
def test_the_rule_fails_on_an_upward_or_hidden_import(tmp_path, source, expected):
    bad = tmp_path / "grader" / "grading" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text(source)
    problems = violations({**MODULES, "grader.grading.bad": bad})
    assert any(expected in p and "grader.grading.bad" in p for p in problems), problems


def test_the_rule_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
