"""Each concept's SPEC clauses map to the checks that enforce them; `vaegrade dev check` refuses a clause
with none."""

from __future__ import annotations

import importlib

import pytest

from grader.course import manifest
from grader.verbs import dev as devcheck
from grader.checks import checks_for


@pytest.mark.parametrize("concept_id", [c.id for c in manifest.load()])
def test_every_clause_is_enforced_by_a_real_check(concept_id):
    assert devcheck.clause_problems(concept_id, checks_for(concept_id)) == []
    assert len(importlib.import_module(f"grader.checks.{concept_id}").CLAUSES) >= 3


def test_a_clause_without_checks_or_with_an_unknown_check_is_a_problem(monkeypatch):
    module = importlib.import_module("grader.checks.mse")
    monkeypatch.setattr(module, "CLAUSES", {**module.CLAUSES, "an orphan clause": [],
                                            "a clause naming a ghost": ["no_such_check"]})
    problems = devcheck.clause_problems("mse", checks_for("mse"))
    assert any("'an orphan clause' has no check" in p for p in problems)
    assert any("'no_such_check', which is not a check" in p for p in problems)
    monkeypatch.delattr(module, "CLAUSES")
    assert "no CLAUSES table" in devcheck.clause_problems("mse", checks_for("mse"))[0]


def test_misconceptions_are_declared_once_and_all_used():
    assert devcheck.misconception_problems() == []
    assert len(manifest.misconceptions()) >= 100
    for m in manifest.misconceptions():
        assert m.concept is None or m.section == manifest.by_id(m.concept).section


def test_an_undeclared_or_unused_misconception_is_a_problem(monkeypatch):
    real = manifest.misconceptions()
    extra = manifest.Misconception("mse.ghost", "never reported", "Compress one photo patch")
    monkeypatch.setattr(manifest, "misconceptions", lambda: tuple(m for m in real if m.id != "mse.rmse") + (extra,))
    problems = devcheck.misconception_problems()
    assert any("'mse.rmse' is not declared" in p for p in problems)
    assert any("'mse.ghost' is never reported" in p for p in problems)
