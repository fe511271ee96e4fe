"""The course content is consistent (what `vaegrade dev check` proves), and its checker catches drift."""

from __future__ import annotations

import shutil
from pathlib import Path

from click.testing import CliRunner

from grader.verbs import dev as devcheck
from grader.course import manifest
from grader.cli import cli

ROOT = Path(__file__).resolve().parent.parent


def test_dev_check_passes_on_the_repository():
    result = CliRunner().invoke(cli, ["dev", "check"])
    assert result.exit_code == 0, result.output
    assert "content is consistent" in result.output


def test_static_check_names_the_manifest_key_to_change(tmp_path):
    exercises, solutions = tmp_path / "exercises", tmp_path / "solutions"
    shutil.copytree(ROOT / "exercises", exercises)
    shutil.copytree(ROOT / "solutions", solutions)
    (exercises / "kl.py").unlink()
    (solutions / "extra.py").write_text("def f(): pass\n")
    stub = exercises / "sigma.py"
    stub.write_text(stub.read_text().replace("raise NotImplementedError", "return None").replace("TODO", "todo"))
    problems = "\n".join(devcheck.static_problems(exercises, solutions))
    assert "id='kl': no stub" in problems
    assert "extra.py: not declared in concepts.toml" in problems
    assert "sigma.py: stub logvar_to_sigma must raise NotImplementedError" in problems
    assert "sigma.py: a stub needs a TODO" in problems


def test_every_concept_has_points_a_section_and_hints():
    for concept in manifest.load():
        assert concept.points > 0 and concept.section and concept.hints and concept.functions


# --- the stubs teach without giving the answer away -----------------------------------------------

import ast  # noqa: E402
import doctest  # noqa: E402
import importlib.util  # noqa: E402
import re  # noqa: E402

import pytest  # noqa: E402

CONCEPTS = manifest.load()


def _load(folder: str, concept):
    path = ROOT / folder / concept.file
    spec = importlib.util.spec_from_file_location(f"_{folder}_{concept.id}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _docstrings(folder: str, concept) -> dict[str, str]:
    tree = ast.parse((ROOT / folder / concept.file).read_text(encoding="utf-8"))
    return {n.name: ast.get_docstring(n, clean=False) or "" for n in tree.body
            if isinstance(n, ast.FunctionDef) and n.name in concept.functions}


def _doctest(module) -> doctest.TestResults:
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner(verbose=False)
    for test in finder.find(module):
        runner.run(test, out=lambda s: None)
    return runner.summarize(verbose=False)


@pytest.mark.parametrize("concept", CONCEPTS, ids=[c.id for c in CONCEPTS])
def test_every_reference_solution_passes_its_doctests(concept):
    """`python -m doctest solutions/X.py` passes: the examples show real expected outputs."""
    results = _doctest(_load("solutions", concept))
    assert results.failed == 0, results
    assert results.attempted >= 2 * len(concept.functions)


@pytest.mark.parametrize("concept", CONCEPTS, ids=[c.id for c in CONCEPTS])
def test_the_stub_shows_the_same_examples_and_fails_them(concept):
    stub, solution = _docstrings("exercises", concept), _docstrings("solutions", concept)
    assert stub == solution   # the learner reads the examples the reference passes
    for name, doc in stub.items():
        assert ">>> " in doc and re.search(r">>> .*\n {4}[^ .>\n]", doc), f"{name}: an example without expected output"
    results = _doctest(_load("exercises", concept))
    assert results.failed > 0   # an unimplemented stub cannot pass its own examples


# Answer lines a docstring must not hand over (the idea, yes; the line the check tests, no).
GIVEAWAYS = {
    "sigma": [r"exp\(\s*0?\.5\s*\*\s*logvar\s*\)", r"exp\(\s*logvar\s*/\s*2"],
    "reparam": [r"exp\(\s*0?\.5\s*\*\s*logvar\s*\)", r"mu\s*\+\s*\w+\s*\*\s*eps", r"sqrt\(\s*exp"],
    "kl": [r"1\s*\+\s*logvar", r"-\s*0?\.5\s*\*\s*(np\.)?sum", r"exp\(\s*logvar\s*\)\s*\)"],
    "vq": [r"z_e\s*\+\s*\(", r"\(\s*\w+\s*-\s*z_e\s*\)\s*\.detach", r"\.detach\(\)\s*\+", r"argmin\("],
}


@pytest.mark.parametrize("concept_id", sorted(GIVEAWAYS))
def test_stub_docstrings_describe_the_idea_not_the_answer_line(concept_id):
    concept = manifest.by_id(concept_id)
    text = (ROOT / "exercises" / concept.file).read_text(encoding="utf-8")
    for pattern in GIVEAWAYS[concept_id]:
        assert not re.search(pattern, text), (concept_id, pattern)
    # and no statement of the reference solution appears in the stub
    body = "\n".join(line.strip() for line in text.splitlines())
    for line in (ROOT / "solutions" / concept.file).read_text(encoding="utf-8").splitlines():
        s = line.strip()
        if re.match(r"(return |\w+ = |z_q|kl =|value =)", s) and len(s) > 12:
            assert s not in body, (concept_id, s)


def test_the_straight_through_docstring_names_both_halves_of_the_idea():
    doc = _docstrings("exercises", manifest.by_id("vq"))["quantize_straight_through"]
    flat = " ".join(doc.split())
    assert "its value is the nearest codebook vector" in flat
    assert "gradient of z_q with respect to z_e is that of the identity" in flat


def test_the_elbo_stub_is_the_beta_weighted_loss_with_the_lessons_caveat():
    text = " ".join((ROOT / "exercises" / "elbo.py").read_text(encoding="utf-8").split())
    assert "beta-weighted VAE loss with an MSE reconstruction term" in text
    assert "only after choosing a fixed observation variance" in text and "not the ELBO itself" in text
    # never "the ELBO" (or "the negative ELBO") as a name for this loss
    assert not re.search(r"(is|:) the (negative )?ELBO\b(?! itself)", text)
    assert "negative ELBO loss" not in text


def test_the_collapse_stub_says_low_kl_alone_is_a_suspicion_not_a_proof():
    text = " ".join((ROOT / "exercises" / "collapse.py").read_text(encoding="utf-8").split())
    assert "low KL alone isn't a proof" in text and "a suspicion of posterior collapse, not a proof" in text


def test_the_latent_budget_stub_promises_only_the_errors_the_spec_asks_for():
    # SPEC: a size not divisible by downsample, or a non-positive argument, raises ValueError.
    for name, doc in _docstrings("exercises", manifest.by_id("latent_budget")).items():
        raises = doc.split("Raises:")[1].split("\n\n")[0]
        assert "integer" not in raises and "type" not in raises, (name, raises)
    grid = _docstrings("exercises", manifest.by_id("latent_budget"))["latent_grid"]
    assert "zero or negative" in grid and "not divisible" in grid


def test_dev_check_reads_the_course_it_runs_in_not_the_installed_copy(tmp_path, monkeypatch):
    # An author edits the course's own files: `dev check` must see the edit wherever the grader is installed.
    course = tmp_path / "course"
    for name in ("exercises", "solutions", "quizzes"):
        shutil.copytree(ROOT / name, course / name)
    (course / "vaegrade.toml").write_text("[course]\n")
    stub = course / "exercises" / "mse.py"
    stub.write_text(stub.read_text().replace("TODO", "DONE"))   # a stub without its TODO is a content problem
    monkeypatch.chdir(course)
    result = CliRunner().invoke(cli, ["dev", "check"])
    assert result.exit_code == 1, result.output
    assert str(course / "exercises" / "mse.py") in result.output and "TODO" in result.output
