"""Mutation adequacy of the hidden checks: small deliberate slips in each reference solution.

A mutant is the reference solution with one change (an operator swapped, a comparison
loosened, a reduction or an axis changed, a constant perturbed, one validation removed, a
detach or a clamp inserted, ...). Each mutant is graded like a submission, through the
sandbox, on several seeds. It is *killed* when it loses points on every seed; otherwise it
*survived*, unless `equivalent_mutants.toml` lists it with the reason it behaves exactly like
the reference on everything the SPEC grades.

Only the standard library's `ast` is used to make mutants, so the mutants are plain source
files a person can read (`Mutant.source`).
"""

from __future__ import annotations

import ast
import copy
import difflib
import random
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from grader.course import manifest

EQUIVALENTS_PATH = Path(__file__).with_name("equivalent_mutants.toml")

# Operator families (every one appears in the sample a CI-sized run grades).
OPERATORS = (
    "arith", "compare", "reduction", "axis", "keepdims", "constant", "sign", "validation",
    "shape_size", "pow_abs", "arg_swap", "detach", "no_grad", "clamp", "early_return", "rounding",
    "operand", "noise",
)

_BINOPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult,
           ast.FloorDiv: ast.Div, ast.Pow: ast.Mult, ast.Mod: ast.FloorDiv}
_CMPOPS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
           ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In}
_REDUCTIONS = {"mean": ("sum", "max"), "sum": ("mean", "max"), "max": ("min", "mean"),
               "min": ("max",), "all": ("any",), "any": ("all",), "maximum": ("minimum",),
               "minimum": ("maximum",), "prod": ("sum",)}
_ARGS = {"argmin": "argmax", "argmax": "argmin"}
_AXIS_KEYWORDS = ("axis", "dim")
_AXIS_VALUES = (-1, 0, 1)
_ROUNDED_WRAPPERS = ("float", "int", "bool")


@dataclass(frozen=True)
class Mutant:
    concept: str
    file: str
    key: str              #: stable id: "<function>|<operator>|<line before> => <line after>[#n]"
    operator: str
    line: int
    source: str


def _unparse(node) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 80 else text[:77] + "..."


def _messages(tree: ast.AST) -> set[int]:
    """ids of the nodes inside error messages (raise statements, f-strings): changing them changes no value."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Raise, ast.JoinedStr)):
            inside.update(id(n) for n in ast.walk(node))
    return inside


def _function_of(tree: ast.Module) -> dict[int, str]:
    """Line number -> the name of the top-level function it sits in."""
    owner = {}
    for fn in tree.body:
        if isinstance(fn, ast.FunctionDef):
            for node in ast.walk(fn):
                if hasattr(node, "lineno"):
                    owner[node.lineno] = fn.name
    return owner


def _uses_torch(tree: ast.Module) -> bool:
    return any(isinstance(n, (ast.Import, ast.ImportFrom)) and "torch" in ast.unparse(n) for n in tree.body)


def _call_name(node: ast.Call) -> str | None:
    f = node.func
    if isinstance(f, ast.Attribute):
        return f.attr
    if isinstance(f, ast.Name):
        return f.id
    return None


def _set_call_name(node: ast.Call, name: str) -> None:
    if isinstance(node.func, ast.Attribute):
        node.func.attr = name
    else:
        node.func.id = name


def _clip(expr: ast.expr, torch: bool) -> ast.expr:
    text = "torch.clamp(__x__, -10.0, 10.0)" if torch else "np.clip(__x__, -10.0, 10.0)"
    return _substitute(text, expr)


def _substitute(template: str, expr: ast.expr) -> ast.expr:
    new = ast.parse(template, mode="eval").body

    class Put(ast.NodeTransformer):
        def visit_Name(self, n):
            return copy.deepcopy(expr) if n.id == "__x__" else n

    return Put().visit(new)


def _node_changes(node: ast.AST, torch: bool) -> Iterator[tuple[ast.AST, str, str, Callable]]:
    """Every single-point change of one node: (node, operator, after-text, apply(node) -> replacement)."""
    if isinstance(node, ast.BinOp):
        if type(node.op) in _BINOPS:
            new_op = _BINOPS[type(node.op)]

            def swap(n, new_op=new_op):
                n.op = new_op()
                return n
            yield node, "arith", type(new_op()).__name__, swap
        if isinstance(node.op, ast.Pow) and isinstance(node.right, ast.Constant) and node.right.value == 2:
            yield node, "pow_abs", "abs(...)", lambda n: ast.Call(ast.Name("abs", ast.Load()), [n.left], [])
        yield node, "operand", "left operand", lambda n: n.left
        yield node, "operand", "right operand", lambda n: n.right
    elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _CMPOPS:
        new_op = _CMPOPS[type(node.ops[0])]

        def cswap(n, new_op=new_op):
            n.ops = [new_op()]
            return n
        yield node, "compare", type(new_op()).__name__, cswap
        sides = [node.left, node.comparators[0]]
        if all(isinstance(x, ast.Attribute) and x.attr == "shape" for x in sides):
            # Both shapes compared by size, or by length: a check that keeps (4,) vs (4, 1) alike.
            size = "__x__.numel()" if torch else "__x__.size"
            for label, template in (("both .size", size), ("both len()", "len(__x__)")):
                def both(n, template=template):
                    n.left = _substitute(template, n.left.value)
                    n.comparators = [_substitute(template, n.comparators[0].value)]
                    return n
                yield node, "shape_size", label, both
    elif isinstance(node, ast.Call):
        name = _call_name(node)
        for other in _REDUCTIONS.get(name, ()):
            def rename(n, other=other):
                _set_call_name(n, other)
                return n
            yield node, "reduction", other, rename
        if name in ("all", "any") and len(node.args) == 1 and isinstance(node.args[0], ast.Compare) \
                and len(node.args[0].ops) == 1:
            # The rule applied to an aggregate instead of to every element: mean(kl) < t, ...
            for agg in ("mean", "max", "min", "sum", "median"):
                def aggregate(n, agg=agg):
                    cmp = copy.deepcopy(n.args[0])
                    cmp.left = _substitute(f"np.{agg}(__x__)", cmp.left)
                    return cmp
                yield node, "reduction", f"{agg} compared", aggregate
        if name == "randn_like":
            for template in ("torch.rand_like(__x__)", "(torch.rand_like(__x__) - 0.5) * 12 ** 0.5",
                             "torch.randn_like(__x__).sign()", "torch.randn_like(__x__[..., :1]).expand_as(__x__)",
                             "torch.randn_like(__x__).flatten()[:1].expand_as(__x__)",
                             "torch.distributions.Laplace(0.0, 0.5 ** 0.5).sample(__x__.shape)"):
                def noise(n, template=template):
                    return _substitute(template, n.args[0])
                yield node, "noise", template.replace("__x__", "x"), noise
        if name in _ARGS:
            def argswap(n, other=_ARGS[name]):
                _set_call_name(n, other)
                return n
            yield node, "arg_swap", _ARGS[name], argswap
        for i, kw in enumerate(node.keywords):
            if kw.arg in _AXIS_KEYWORDS and isinstance(kw.value, (ast.Constant, ast.UnaryOp)):
                try:
                    current = ast.literal_eval(kw.value)
                except ValueError:
                    continue
                for value in _AXIS_VALUES:
                    if value != current:
                        def set_axis(n, i=i, value=value):
                            n.keywords[i].value = ast.Constant(value)
                            return n
                        yield node, "axis", f"{kw.arg}={value}", set_axis

                def drop_axis(n, i=i):
                    del n.keywords[i]
                    return n
                yield node, "axis", f"no {kw.arg}", drop_axis
        if name in _REDUCTIONS and any(kw.arg in _AXIS_KEYWORDS for kw in node.keywords):
            word = "keepdim" if any(kw.arg == "dim" for kw in node.keywords) else "keepdims"

            def keep(n, word=word):
                n.keywords.append(ast.keyword(word, ast.Constant(True)))
                return n
            yield node, "keepdims", f"{word}=True", keep
        if name in _ROUNDED_WRAPPERS and len(node.args) == 1:
            yield node, "operand", f"no {name}()", lambda n: n.args[0]
    elif isinstance(node, ast.Attribute) and node.attr == "shape" and isinstance(node.ctx, ast.Load):
        yield node, "shape_size", ".size", lambda n: _substitute("__x__.size", n.value) if not torch else \
            _substitute("__x__.numel()", n.value)
        yield node, "shape_size", "len()", lambda n: _substitute("len(__x__)", n.value)
    elif isinstance(node, ast.Constant) and type(node.value) in (int, float) and not isinstance(node.value, bool):
        v = node.value
        bumped = 1 if v != 1 else 2
        if isinstance(v, float):
            bumped = float(bumped)
        yield node, "constant", repr(bumped), lambda n, b=bumped: ast.Constant(b)
        if v != 0:
            yield node, "sign", repr(-v), lambda n: ast.Constant(-n.value)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        yield node, "sign", "drop unary minus", lambda n: n.operand


def _statement_sites(tree: ast.Module, torch: bool):
    """Changes to statements, as (function, operator, label, where, index, change): validations removed,
    early returns, and clamps, torch.no_grad(), detach() or rounding inserted."""
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef):
            continue
        for parent in ast.walk(fn):
            for attr in ("body", "orelse"):
                block = getattr(parent, attr, None)
                if not isinstance(block, list):
                    continue
                for i, stmt in enumerate(block):
                    # Each validation removed on its own: `if <bad input>: raise ...` becomes `pass`.
                    if isinstance(stmt, ast.If) and any(isinstance(s, ast.Raise) for s in stmt.body):
                        yield fn.name, "validation", f"no `if {_unparse(stmt.test)}: raise`", block, i, \
                            lambda s: ast.Pass()
        params = [a.arg for a in fn.args.args]
        # Early return: the first argument handed back unchanged.
        if params:
            yield fn.name, "early_return", f"return {params[0]}", fn.body, 0, \
                lambda s, p=params[0]: [ast.Return(ast.Name(p, ast.Load())), s]
        # Clamp each numeric argument on entry.
        for p in params:
            if p in ("beta", "threshold", "epsilon"):
                continue
            clip = ast.Assign([ast.Name(p, ast.Store())], _clip(ast.Name(p, ast.Load()), torch))
            yield fn.name, "clamp", f"clamp {p} to [-10, 10]", fn.body, 0, lambda s, c=clip: [c, s]
        if torch:  # applied in mutants_of: the whole body wrapped in torch.no_grad()
            yield fn.name, "no_grad", "whole body under torch.no_grad()", fn, None, None
        for node in ast.walk(fn):
            if isinstance(node, ast.Return) and node.value is not None:
                elts = node.value.elts if isinstance(node.value, ast.Tuple) else [node.value]
                for j in range(len(elts)):
                    what = f"element {j}" if isinstance(node.value, ast.Tuple) else "value"
                    if torch:
                        yield fn.name, "detach", f"return {what} detached", node, j, \
                            lambda e: _substitute("__x__.detach()", e)
                    rounding = "torch.round(__x__ * 100.0) / 100.0" if torch else "np.round(__x__, 2)"
                    yield fn.name, "rounding", f"return {what} rounded to 2 decimals", node, j, \
                        lambda e, r=rounding: _substitute(r, e)


def mutants_of(concept: str, source: str, file: str) -> list[Mutant]:
    tree = ast.parse(source)
    torch = _uses_torch(tree)
    owner = _function_of(tree)
    found: list[Mutant] = []
    seen: Counter = Counter()

    original = ast.unparse(tree).splitlines()

    def add(fn: str, operator: str, before: str | None, after: str, line: int, new_tree: ast.Module) -> None:
        ast.fix_missing_locations(new_tree)
        try:
            text = ast.unparse(new_tree)
            compile(text, file, "exec")
        except (SyntaxError, ValueError, TypeError):
            return
        if before is None:  # an expression changed in place: the key is the changed line, before and after
            removed, added = [], []
            for d in difflib.unified_diff(original, text.splitlines(), lineterm="", n=0):
                if d.startswith("-") and not d.startswith("---"):
                    removed.append(d[1:].strip())
                elif d.startswith("+") and not d.startswith("+++"):
                    added.append(d[1:].strip())
            if removed == added:
                return      # no visible change
            before, after = " / ".join(removed), " / ".join(added)
        key = f"{fn}|{operator}|{before} => {after}"
        seen[key] += 1
        if seen[key] > 1:
            key += f"#{seen[key]}"
        found.append(Mutant(concept, file, key, operator, line, text))

    # Expression-level changes: locate the node by its position in a walk of a fresh copy.
    nodes = list(ast.walk(tree))
    messages = _messages(tree)
    for index, node in enumerate(nodes):
        fn = owner.get(getattr(node, "lineno", -1))
        if fn is None or id(node) in messages:
            continue
        for _, operator, after, apply in _node_changes(node, torch):
            new_tree = copy.deepcopy(tree)
            target = list(ast.walk(new_tree))[index]
            replacement = apply(target)
            if replacement is not target:
                if not _replace(new_tree, target, replacement):
                    continue
            add(fn, operator, None, after, node.lineno, new_tree)

    # Statement-level changes.
    for fn_name, operator, label, where, i, change in _statement_sites(tree, torch):
        new_tree = copy.deepcopy(tree)
        fn_new = next(f for f in new_tree.body if isinstance(f, ast.FunctionDef) and f.name == fn_name)
        fn_old = next(f for f in tree.body if isinstance(f, ast.FunctionDef) and f.name == fn_name)
        if operator == "no_grad":
            fn_new.body = [ast.With([ast.withitem(_substitute("torch.no_grad()", ast.Name("x", ast.Load())))],
                                    fn_new.body)]
        elif operator in ("detach", "rounding"):
            old_nodes, new_nodes = list(ast.walk(fn_old)), list(ast.walk(fn_new))
            ret = new_nodes[old_nodes.index(where)]
            if isinstance(ret.value, ast.Tuple):
                ret.value.elts[i] = change(ret.value.elts[i])
            else:
                ret.value = change(ret.value)
        else:
            old_nodes, new_nodes = list(ast.walk(fn_old)), list(ast.walk(fn_new))
            block_owner = next(p for p in old_nodes if getattr(p, "body", None) is where
                               or getattr(p, "orelse", None) is where)
            new_owner = new_nodes[old_nodes.index(block_owner)]
            attr = "body" if getattr(block_owner, "body", None) is where else "orelse"
            block = getattr(new_owner, attr)
            out = change(block[i])
            block[i:i + 1] = out if isinstance(out, list) else [out]
        add(fn_name, operator, fn_name, label, getattr(fn_old, "lineno", 0), new_tree)
    return found


def _replace(tree: ast.AST, target: ast.AST, replacement: ast.AST) -> bool:
    for parent in ast.walk(tree):
        for name, value in ast.iter_fields(parent):
            if value is target:
                setattr(parent, name, replacement)
                return True
            if isinstance(value, list):
                for i, item in enumerate(value):
                    if item is target:
                        value[i] = replacement
                        return True
    return False


# --- the catalogue and the run ---------------------------------------------------------------


def all_mutants(solutions: Path, concepts: list[str] | None = None) -> list[Mutant]:
    out = []
    for concept in manifest.load():
        if concepts and concept.id not in concepts:
            continue
        path = solutions / concept.file
        out += mutants_of(concept.id, path.read_text(encoding="utf-8"), concept.file)
    return out


def sample(mutants: list[Mutant], n: int, seed: int = 0) -> list[Mutant]:
    """A bounded, reproducible sample holding at least one mutant of every operator present."""
    rng = random.Random(seed)
    by_operator: dict[str, list[Mutant]] = {}
    for m in mutants:
        by_operator.setdefault(m.operator, []).append(m)
    picked = {id(rng.choice(group)): None for group in by_operator.values()}
    chosen = [m for m in mutants if id(m) in picked]
    rest = [m for m in mutants if id(m) not in picked]
    rng.shuffle(rest)
    chosen += rest[:max(0, n - len(chosen))]
    return sorted(chosen, key=mutants.index)


def load_equivalents(path: Path = EQUIVALENTS_PATH) -> dict[tuple[str, str], str]:
    """(concept, key) -> the reviewed reason the mutant cannot be told from the reference."""
    if not path.is_file():
        return {}
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return {(e["concept"], e["key"]): e["reason"] for e in data.get("equivalent", [])}
