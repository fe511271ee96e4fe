"""Mutation adequacy of the hidden checks, CI-sized: a bounded sample of mutants of the reference
solutions (every operator at least once) is graded through the sandbox; none may survive. The full
run is `vaegrade dev mutants` (bench/bench_mutants.py prints its figures)."""

from __future__ import annotations

import ast
from collections import Counter

import pytest
from concept_helpers import ROOT

from grader.checks import mutants
from grader.verbs import mutants as mutant_grading

ALL = mutants.all_mutants(ROOT / "solutions")


def test_every_operator_makes_mutants_that_compile():
    made = Counter(m.operator for m in ALL)
    assert set(made) == set(mutants.OPERATORS), set(mutants.OPERATORS) - set(made)
    for m in ALL:
        ast.parse(m.source)
    keys = [(m.concept, m.key) for m in ALL]
    assert len(keys) == len(set(keys)), "mutant keys must be unique (the equivalents file refers to them)"


def test_the_slips_the_audit_found_are_among_the_mutants():
    keys = {m.key for m in ALL}
    assert "reconstruction_mse|shape_size|if x.shape != x_hat.shape: => if x.size != x_hat.size:" in keys
    assert any(k.startswith("is_collapsed|reduction|") and "np.mean(kl) < threshold" in k for k in keys)
    assert any(k.startswith("reparameterize|noise|") and "rand_like(mu) - 0.5" in k for k in keys)


def test_equivalents_file_is_reviewed_and_current():
    listed = mutants.load_equivalents()
    assert listed
    known = {(m.concept, m.key) for m in ALL}
    for (concept, key), reason in listed.items():
        assert (concept, key) in known, f"stale entry in equivalent_mutants.toml: {concept}: {key}"
        assert len(reason) > 20 and reason.endswith("."), f"{key}: give a one-line reason"


def test_sample_holds_every_operator_and_is_reproducible():
    chosen = mutants.sample(ALL, 20)
    assert {m.operator for m in chosen} == {m.operator for m in ALL}
    assert [m.key for m in chosen] == [m.key for m in mutants.sample(ALL, 20)]


@pytest.mark.parametrize("seeds", [[1, 2]])
def test_a_sample_of_mutants_is_killed_on_every_seed(zygote, seeds):
    chosen = mutants.sample(ALL, 40)
    summary = mutant_grading.grade_mutants(chosen, seeds, zygote=zygote)
    assert not summary.survivors, [(o.mutant.concept, o.mutant.key) for o in summary.survivors]
    assert not summary.stale, [(o.mutant.concept, o.mutant.key) for o in summary.stale]
    table = summary.table()
    assert table["total"]["mutants"] == len(chosen)
    assert table["total"]["killed"] + table["total"]["equivalent"] == len(chosen)


def test_dev_mutants_command_prints_the_table_and_refuses_unknown_concepts():
    from click.testing import CliRunner

    from grader.cli import cli

    result = CliRunner().invoke(cli, ["dev", "mutants", "sigma", "--seeds", "1"])
    assert result.exit_code == 0, result.output
    assert "concept        mutants  killed survived equivalent" in result.output
    assert "sigma" in result.output and "total" in result.output
    assert CliRunner().invoke(cli, ["dev", "mutants", "nope"]).exit_code == 2
