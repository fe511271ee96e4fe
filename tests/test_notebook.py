"""Notebook submissions: definitions from code cells (nothing else runs), graded everywhere a folder is."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

nbformat = pytest.importorskip("nbformat")
from nbformat import v4  # noqa: E402

from grader.cli import cli  # noqa: E402
from grader.course import manifest  # noqa: E402
from grader.grading import notebook  # noqa: E402
from grader.grading.runner import grade_submission  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TOTAL = sum(c.points for c in manifest.load())


def messy_notebook(path: Path, marker: Path) -> Path:
    """The reference solutions as a learner's working notebook: magics, shell lines, prints, a training
    loop and a cell that is not Python, around one code cell per concept file."""
    cells = [v4.new_markdown_cell("# My VAE exercises"),
             v4.new_code_cell("%matplotlib inline\n!pip install x\nimport numpy as np\nimport torch\n"
                              "import matplotlib.pyplot as plt  # plots only: not in the grading environment\n"
                              "BETA = 0.1\nprint('setup done')")]
    for c in manifest.load():
        cells.append(v4.new_markdown_cell(f"## {c.title}"))
        cells.append(v4.new_code_cell((ROOT / "solutions" / c.file).read_text(encoding="utf-8")))
        cells.append(v4.new_code_cell(f"print({c.functions[0]}.__name__)"))
    cells += [
        v4.new_code_cell(f"open({str(marker)!r}, 'w').write('ran')\nfor step in range(10**9):\n"
                         "    print('training', step)"),
        v4.new_code_cell("reconstruction_mse?\nthis is not python"),
        v4.new_code_cell("import os; os._exit(0)"),
        v4.new_code_cell("import sys\nsys.exit(3)"),
    ]
    nbformat.write(v4.new_notebook(cells=cells), path)
    return path


def test_extraction_keeps_definitions_and_maps_lines_to_cells():
    nb = v4.new_notebook(cells=[
        v4.new_markdown_cell("intro"),
        v4.new_code_cell("from __future__ import annotations\n%time x = 1\nimport numpy as np\nLIMIT = 3"),
        v4.new_code_cell("print('hi'); import math\n!ls\n\ndef f(x: np.ndarray) -> float:\n    return x + 1"),
        v4.new_code_cell("f(2)\nresult = f(3)\nclass C:\n    pass\nfrom grader.verbs.jupyter import check\ncheck()"),
        v4.new_code_cell("def broken(:\n    pass"),
    ])
    got = notebook.extract(nbformat.writes(nb), "vae.ipynb")
    lines = got.source.splitlines()
    assert lines[0] == "from __future__ import annotations"
    assert "print" not in got.source and "f(2)" not in got.source and "result" not in got.source
    assert "%time" not in got.source and "!ls" not in got.source
    assert "LIMIT = 3" in lines and "    import math" in lines and "class C:" in lines
    assert "grader" not in got.source                   # the notebook's own call of the checks is not graded
    assert got.functions == {"f": 3}
    assert got.skipped == [(5, "it does not parse as Python at line 1")]
    assert got.notes() == ["vae.ipynb: cell 5 was not graded (it does not parse as Python at line 1)"]
    body = lines.index("    return x + 1") + 1
    assert got.where(body) == "cell 3, line 5 of vae.ipynb"
    compile(got.source, "extracted", "exec")


def test_a_messy_notebook_of_the_reference_solutions_grades_full_marks(tmp_path):
    marker = tmp_path / "top-level-code-ran"
    path = messy_notebook(tmp_path / "vae.ipynb", marker)
    result = CliRunner().invoke(cli, ["grade", str(path), "--format", "json", "--no-record"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["score"] == data["max_score"] == TOTAL
    assert not marker.exists()                          # no top-level statement ran
    assert data["extra_data"]["notebook"]["functions"]["reconstruction_mse"] == 4
    assert any("was not graded" in n for n in data["extra_data"]["notes"])


def test_feedback_names_the_cell(tmp_path, zygote):
    stub = (ROOT / "exercises" / "mse.py").read_text(encoding="utf-8")
    nb = v4.new_notebook(cells=[v4.new_markdown_cell("# mse"), v4.new_code_cell("import numpy as np"),
                                v4.new_code_cell(stub)])
    nbformat.write(nb, tmp_path / "work.ipynb")
    result = grade_submission(tmp_path / "work.ipynb", concepts=["mse", "kl"], zygote=zygote)
    mse, kl = result.concepts
    line = next(i for i, t in enumerate(stub.splitlines(), 1) if "raise NotImplementedError" in t)
    assert all(f"(cell 3, line {line} of work.ipynb)" in c.feedback and "not implemented yet" in c.feedback
               for c in mse.checks)
    assert all("is not defined in any code cell of work.ipynb" in c.feedback for c in kl.checks)


def test_a_folder_with_a_notebook_and_some_files(tmp_path, zygote):
    """The .py files a folder holds are graded; the notebook supplies the concepts they do not."""
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(ROOT / "exercises" / "mse.py", sub / "mse.py")             # a stub .py file wins over the notebook
    messy_notebook(sub / "vae.ipynb", tmp_path / "marker")
    result = grade_submission(sub, concepts=["mse", "sigma"], zygote=zygote)
    by_id = {c.id: c for c in result.concepts}
    assert by_id["mse"].score == 0 and by_id["sigma"].score == by_id["sigma"].max_score


def test_batch_and_ci_take_notebooks(tmp_path):
    subs = tmp_path / "subs"
    subs.mkdir()
    messy_notebook(subs / "nora.ipynb", tmp_path / "m1")                   # a bare notebook
    (subs / "olga").mkdir()
    messy_notebook(subs / "olga" / "analysis.ipynb", tmp_path / "m2")     # a folder holding one
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["batch", str(subs), "--out", str(out), "-j", "1", "-q"])
    assert result.exit_code == 0, result.output
    for learner in ("nora", "olga"):
        data = json.loads((out / "results" / f"{learner}.json").read_text(encoding="utf-8"))
        assert data["score"] == TOTAL, (learner, data["extra_data"])
    ci_out = tmp_path / "ci"
    result = CliRunner().invoke(cli, ["ci", "--exercises", str(subs / "nora.ipynb"), "--out", str(ci_out),
                                      "--concept", "mse"], env={"GITHUB_ACTIONS": "", "GITHUB_WORKSPACE": ""})
    assert result.exit_code == 0, result.output
    assert json.loads((ci_out / "results.json").read_text(encoding="utf-8"))["score"] == 10


def test_not_a_notebook_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json", encoding="utf-8")
    result = CliRunner().invoke(cli, ["grade", str(bad), "--no-record"])
    assert result.exit_code == 2 and "not a readable Jupyter notebook" in result.output
    assert "Traceback" not in result.output
