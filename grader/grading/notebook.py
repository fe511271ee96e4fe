"""A Jupyter notebook as a submission: its definitions, taken from code cells without running anything.

Each code cell is read as text: lines starting with `%` or `!` (magics, shell lines) are
dropped, the rest is parsed with ast, and only imports, `def`/`class` statements and
simple constant assignments (`BETA = 0.1`) are kept; training loops, prints and every
other top-level statement are left out, so nothing a notebook does at the top level runs
during grading. A cell that does not parse is skipped and said so. Imports are kept
each in a `try` (a module only the notebook's plots use must not sink every function), except
the grader's own. The kept definitions form one module; each line of it remembers the cell it came from, so feedback can say
"cell 7, line 3" rather than a line of a file the learner never saw.
"""

from __future__ import annotations

import ast
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from grader.course import manifest

NOTEBOOK_SUFFIX = ".ipynb"


class NotebookError(Exception):
    """The file is not a notebook that can be read (not JSON, not nbformat 4)."""


@dataclass(frozen=True)
class Span:
    """Lines `start`..`end` of the extracted module are lines `cell_line`.. of cell `cell`."""

    start: int
    end: int
    cell: int        #: 1-based position of the cell in the notebook (markdown cells count)
    cell_line: int


@dataclass
class Extracted:
    """What a notebook contributes: one module of definitions and where each line came from."""

    name: str                                                   #: the notebook's file name
    source: str                                                 #: the kept definitions, as one module
    spans: list[Span] = field(default_factory=list)
    functions: dict[str, int] = field(default_factory=dict)     #: top-level def name -> its cell
    skipped: list[tuple[int, str]] = field(default_factory=list)  #: (cell, why) for cells left out

    def where(self, line: int | None) -> str:
        """'cell 7, line 3 of vae.ipynb' for a line of the extracted module ('vae.ipynb' if unknown)."""
        for span in self.spans:
            if line is not None and span.start <= line <= span.end:
                return f"cell {span.cell}, line {span.cell_line + line - span.start} of {self.name}"
        return self.name

    def notes(self) -> list[str]:
        return [f"{self.name}: cell {cell} was not graded ({why})" for cell, why in self.skipped]


def _cells(text: str) -> list[tuple[str, str]]:
    """(cell type, source) of every cell, read with nbformat when installed, else as plain JSON."""
    try:
        import nbformat
    except ImportError:  # the notebook format is plain JSON: read it without the library
        nbformat = None
    try:
        if nbformat is not None:
            with warnings.catch_warnings():   # a missing cell id or an old minor version is no one's fault
                warnings.simplefilter("ignore")
                nb = nbformat.reads(text, as_version=4)
            return [(c.get("cell_type", ""), c.get("source", "")) for c in nb.cells]
        data = json.loads(text)
    except Exception as exc:  # nbformat raises its own reader errors, json its own
        raise NotebookError(f"not a readable Jupyter notebook ({type(exc).__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise NotebookError("not a Jupyter notebook (no list of cells)")
    out = []
    for c in data["cells"]:
        source = c.get("source", "") if isinstance(c, dict) else ""
        out.append((c.get("cell_type", "") if isinstance(c, dict) else "",
                    "".join(source) if isinstance(source, list) else str(source)))
    return out


def _constant(node: ast.AST) -> bool:
    """A value with no side effects: a literal, a tuple/list of them, or a negative number."""
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def _grader_import(node: ast.stmt) -> bool:
    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
    return any(n.split(".")[0] in ("grader", "vaegrade") for n in names)


def _future(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"


def _kept(node: ast.stmt) -> bool:
    if _future(node):
        return False   # only legal at the top of a module: the extracted module gets one there instead
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return True
    if isinstance(node, ast.Assign):
        return all(isinstance(t, ast.Name) for t in node.targets) and _constant(node.value)
    if isinstance(node, ast.AnnAssign):
        return isinstance(node.target, ast.Name) and node.value is not None and _constant(node.value)
    return False


def extract(text: str, name: str = "notebook.ipynb") -> Extracted:
    """The definitions of the notebook whose JSON text is `text` (see the module docstring)."""
    found = Extracted(name, "")
    out: list[str] = []
    futures: set[str] = set()
    for number, (kind, source) in enumerate(_cells(text), start=1):
        if kind != "code" or not source.strip():
            continue
        lines = source.splitlines()
        kept_text = [("" if line.lstrip().startswith(("%", "!")) else line) for line in lines]
        try:
            tree = ast.parse("\n".join(kept_text))
        except (SyntaxError, ValueError) as exc:
            line = getattr(exc, "lineno", None)
            found.skipped.append((number, f"it does not parse as Python{f' at line {line}' if line else ''}"))
            continue
        starts = [min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])]) for n in tree.body]
        for i, node in enumerate(tree.body):
            if _future(node):
                futures.update(alias.name for alias in node.names)
            if not _kept(node):
                continue
            first = starts[i]
            shares = (i > 0 and tree.body[i - 1].end_lineno >= first) or \
                     (i + 1 < len(tree.body) and starts[i + 1] <= node.end_lineno)
            # a statement sharing its line with another (`print(x); import os`) is kept alone
            chunk = ast.unparse(node).splitlines() if shares else kept_text[first - 1:node.end_lineno]
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                if _grader_import(node):
                    continue   # `from grader.verbs.jupyter import check`: the grader's, not the learner's code
                # a module only the notebook's plots need (matplotlib) must not sink every function
                chunk = ["try:", *(f"    {line.strip()}" for line in chunk), "except Exception:", "    pass"]
                for _ in chunk:
                    out.append(_)
                    found.spans.append(Span(len(out), len(out), number, first))
                continue
            start = len(out) + 1
            out += chunk
            found.spans.append(Span(start, len(out), number, first))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.functions[node.name] = number
    if futures:   # one line above everything: every span moves down by one
        out.insert(0, f"from __future__ import {', '.join(sorted(futures))}")
        found.spans = [Span(sp.start + 1, sp.end + 1, sp.cell, sp.cell_line) for sp in found.spans]
    found.source = "\n".join(out) + "\n" if out else ""
    return found


def extract_file(path: Path, max_bytes: int) -> Extracted:
    """extract() of the notebook at `path` (a regular file, never a link, at most `max_bytes`)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise NotebookError(f"cannot read {path.name} ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise NotebookError(f"{path.name} is larger than {max_bytes // 2**20} MB: not graded")
    return extract(data.decode("utf-8", "replace"), path.name)


def write_concept_files(extracted: Extracted, dest: Path, present: set[str]) -> list[str]:
    """Write the notebook's module as each concept file not in `present`; the names written.

    Every concept file gets the same module (all the notebook's definitions), so a helper a
    function calls is there whichever concept is graded.
    """
    written = []
    for concept in manifest.load():
        if concept.file in present or concept.file in written:
            continue
        (dest / concept.file).write_text(extracted.source, encoding="utf-8")
        written.append(concept.file)
    return written
