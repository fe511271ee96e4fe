"""The public checks from a Jupyter cell: a real notebook run by a real kernel (nbclient + ipykernel)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient", reason="the test extra installs nbclient and ipykernel")
pytest.importorskip("ipykernel", reason="the test extra installs nbclient and ipykernel")
from nbformat import v4  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def run_notebook(path: Path, monkeypatch) -> nbformat.NotebookNode:
    """Execute every cell of the saved notebook at `path` in a python3 kernel started in its folder."""
    nb = nbformat.read(path, as_version=4)
    # the kernel (and the sandbox it starts) import this checkout's grader
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])))
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


def html_of(cell) -> str:
    return "".join(o.get("data", {}).get("text/html", "") for o in cell.outputs if o.output_type == "execute_result")


def test_a_learner_checks_the_notebook_from_its_last_cell(tmp_path, monkeypatch):
    mse = (ROOT / "solutions" / "mse.py").read_text(encoding="utf-8")
    sigma_stub = (ROOT / "exercises" / "sigma.py").read_text(encoding="utf-8")
    nb = v4.new_notebook(cells=[
        v4.new_markdown_cell("# Autoencoders and VAEs"),
        v4.new_code_cell("%load_ext autoreload\n%autoreload 2\nimport numpy as np"),
        v4.new_code_cell(mse),
        v4.new_code_cell("print(reconstruction_mse([0.10, 0.90, 0.85, 0.12], [0.12, 0.84, 0.80, 0.14]))"),
        v4.new_code_cell(sigma_stub),
        v4.new_code_cell("from grader.verbs.jupyter import check\ncheck('vae.ipynb', ['mse', 'sigma'])"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    path = tmp_path / "vae.ipynb"
    nbformat.write(nb, path)

    done = run_notebook(path, monkeypatch)
    assert "0.001725" in "".join(o.get("text", "") for o in done.cells[3].outputs)   # the kernel ran the cells
    html = html_of(done.cells[-1])
    assert "vaegrade check <code>vae.ipynb</code>: 1 of 2 public checks pass" in html, html
    assert "<code>mse</code>" in html and "<code>sigma</code>" in html
    line = next(i for i, t in enumerate(sigma_stub.splitlines(), 1) if "raise NotImplementedError" in t)
    assert f"cell 5, line {line} of vae.ipynb" in html and "not implemented yet" in html
    text = "".join(o.get("data", {}).get("text/plain", "") for o in done.cells[-1].outputs)
    assert "1 of 2 public checks pass" in text                           # the plain-text fallback


def test_a_bad_path_renders_a_message_not_a_traceback(tmp_path):
    from grader.verbs.jupyter import check

    view = check(tmp_path / "missing.ipynb")
    assert view.result is None and "missing.ipynb" in view.error
    assert "vaegrade check" in view._repr_html_() and "Traceback" not in view._repr_html_()
