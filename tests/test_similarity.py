"""Similarity for staff: identical code under renamed variables, new comments and layout is grouped;
one-line canonical answers, the reference itself and untouched stubs are not flagged; the export
has the one-folder-per-learner layout MOSS, JPlag and Dolos take."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from click.testing import CliRunner

from grader.cli import cli
from grader.grading.similarity import normalise

ROOT = Path(__file__).resolve().parent.parent

LONG_KL = '''import numpy as np


def kl_per_dimension(mu, logvar):
    mu = np.asarray(mu, dtype=float)
    logvar = np.asarray(logvar, dtype=float)
    if mu.shape != logvar.shape:
        raise ValueError("shapes differ")
    terms = -0.5 * (1.0 + logvar - mu ** 2 - np.exp(logvar))
    if terms.ndim == 2:
        terms = terms.mean(axis=0)
    return np.abs(terms) + 0.0


def kl_to_standard_normal(mu, logvar):
    total = float(np.sum(kl_per_dimension(mu, logvar)))
    return max(total, 0.0) + 0.0
'''


def disguise(source: str) -> str:
    """The same code with other names, comments, docstrings and layout."""
    renamed = (source.replace("terms", "per_dim_kl").replace("total", "s")
               .replace("(mu, logvar)", "(m, lv)").replace("mu =", "m =").replace("logvar =", "lv =")
               .replace("np.asarray(mu", "np.asarray(m").replace("np.asarray(logvar", "np.asarray(lv")
               .replace("mu.shape != logvar.shape", "m.shape != lv.shape")
               .replace("+ logvar -", "+ lv -").replace("mu ** 2", "m**2").replace("np.exp(logvar)", "np.exp( lv )")
               .replace("kl_per_dimension(mu, logvar)", "kl_per_dimension(m, lv)"))
    return '"""My KL."""\n# written by me\n' + renamed.replace("    return", "    # done\n    return")


def test_normalising_ignores_names_comments_docstrings_and_layout():
    assert normalise(LONG_KL)[0] == normalise(disguise(LONG_KL))[0]
    assert normalise(LONG_KL)[0] != normalise(LONG_KL.replace("-0.5", "0.5"))[0]
    assert normalise("def f(:\n") is None


def class_of(subs: Path) -> None:
    sigma_canonical = "import numpy as np\n\ndef logvar_to_sigma(LV):\n    return np.exp(0.5 * np.asarray(LV))\n"
    for learner in ("ann", "ben", "cat", "dan"):
        (subs / learner).mkdir(parents=True)
        (subs / learner / "sigma.py").write_text(sigma_canonical.replace("LV", f"x_{learner}"))   # one-liners
        (subs / learner / "mse.py").write_text((ROOT / "exercises" / "mse.py").read_text())           # untouched
    (subs / "ann" / "kl.py").write_text(LONG_KL)
    (subs / "ben" / "kl.py").write_text(disguise(LONG_KL))
    (subs / "cat" / "kl.py").write_text((ROOT / "solutions" / "kl.py").read_text())
    (subs / "dan" / "kl.py").write_text((ROOT / "solutions" / "kl.py").read_text())
    with zipfile.ZipFile(subs / "eve.zip", "w") as zf:   # an archive with a top folder: the same as ann
        zf.writestr("eve/kl.py", LONG_KL.replace("shapes differ", "mismatch"))


def test_flagged_groups_and_expected_ones(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    class_of(subs)
    result = CliRunner().invoke(cli, ["similarity", str(subs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads((out / "similarity.json").read_text())
    assert data["learners"] == 5 and "AST nodes" in data["rule"]
    flagged = [g for g in data["groups"] if g["flagged"]]
    assert [(g["scope"], g["learners"]) for g in flagged if g["scope"] == "kl"] == [("kl", ["ann", "ben", "eve"])]
    expected = {(g["scope"], tuple(g["learners"])): g["why"] for g in data["groups"] if not g["flagged"]}
    assert "reference solution" in expected[("kl", ("cat", "dan"))]
    assert "stub" in expected[("mse", ("ann", "ben", "cat", "dan"))]
    assert "by chance" in expected[("sigma", ("ann", "ben", "cat", "dan"))]
    assert "flagged kl: ann, ben, eve" in result.output
    text = (out / "similarity.md").read_text()
    assert "never a verdict" in text and "coincide" in text


def test_the_export_has_one_folder_per_learner_and_the_base_code(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    class_of(subs)
    CliRunner().invoke(cli, ["similarity", str(subs), "--out", str(out)])
    tree = out / "similarity"
    assert sorted(p.name for p in (tree / "submissions").iterdir()) == ["ann", "ben", "cat", "dan", "eve"]
    assert sorted(p.name for p in (tree / "submissions" / "eve").iterdir()) == ["kl.py"]
    assert (tree / "submissions" / "ann" / "kl.py").read_text() == LONG_KL
    assert (tree / "base" / "kl.py").read_text() == (ROOT / "exercises" / "kl.py").read_text()
    assert all(p.suffix == ".py" for p in tree.rglob("*") if p.is_file())


def test_not_a_folder_exits_2(tmp_path):
    result = CliRunner().invoke(cli, ["similarity", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2


def test_the_class_report_lists_the_flagged_groups(tmp_path):
    from grader.store.gradebook import Gradebook
    from grader.verbs import report

    subs, out = tmp_path / "subs", tmp_path / "out"
    class_of(subs)
    CliRunner().invoke(cli, ["similarity", str(subs), "--out", str(out)])
    Gradebook(out / "gradebook.sqlite").close()
    with Gradebook(out / "gradebook.sqlite") as book:
        book.record_problem("ann", "nothing graded")   # the class page needs someone
    page = report.write_class_report(outdir=out).page.read_text(encoding="utf-8")
    assert "Similar submissions" in page and "<strong>ben</strong>" in page and "never a verdict" in page
