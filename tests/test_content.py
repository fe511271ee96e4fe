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
