"""HTML reports: what a learner and staff read, built from fabricated gradebooks (no grading runs)."""

from __future__ import annotations

import fnmatch
import hashlib
import html
import json
import re
import sys
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from markupsafe import escape

sys.path.insert(0, str(Path(__file__).resolve().parent))  # report_fixtures sits beside this file

from grader import safetext
from grader.outputs import report
from grader.verbs import report as report_verb
from grader.outputs import charts
from grader.course import manifest
from grader.cli import cli
from grader.store.gradebook import Gradebook
from report_fixtures import answers_with, build_class, key, make_result, record_quiz

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = "<script>alert(1)</script>\"'../../x"
SIGMA_FEEDBACK = ("logvar_to_sigma of a (2, 3) batch is off. This is exp(logvar), the variance; "
                  "σ is exp(0.5·logvar).")
KL_FEEDBACK = "kl_to_standard_normal on the lesson's example is off. It has the wrong sign."


def esc(text: str) -> str:
    """What Jinja's autoescape writes for `text`."""
    return str(escape(text))


def snapshot(path, learner: str | None = None) -> report.Snapshot:
    with report_verb.open_gradebook(path) as book:
        return report_verb.load_snapshot(book, learner)


def count(page: str, pattern: str) -> int:
    return len(re.findall(pattern, page))


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> Path:
    """A small class whose numbers are known: three learners, one hostile id, one who never graded."""
    path = tmp_path_factory.mktemp("class") / "gradebook.sqlite"
    k = key()
    with Gradebook(path) as gb:
        # ada: three attempts, improving; quiz failed once, then passed with one miss.
        gb.record_exercises("ada", make_result(zero=("vq", "elbo", "kl")), "a1")
        gb.record_exercises("ada", make_result({"sigma": ("sigma.variance", SIGMA_FEEDBACK)}, zero=("vq",)), "a2")
        gb.record_exercises("ada", make_result({"sigma": ("sigma.variance", SIGMA_FEEDBACK)}), "a3")
        record_quiz(gb, "ada", answers_with({"mse": k["mse"][1][0], "kl": None, "vq-lookup": k["vq-lookup"][1][1]}))
        record_quiz(gb, "ada", answers_with({"mse": k["mse"][1][0]}))
        # bob: one attempt that fails (sigma and kl misconceptions, two concepts at zero); quiz 7/10.
        gb.record_exercises("bob", make_result({"sigma": ("sigma.variance", SIGMA_FEEDBACK),
                                                "kl": ("kl.sign", KL_FEEDBACK)}, zero=("vq", "elbo")), "b1")
        record_quiz(gb, "bob", answers_with({"mse": k["mse"][1][0], "kl": k["kl"][1][0],
                                             "vq-lookup": k["vq-lookup"][1][0]}))
        # the hostile id: everything right, but its feedback echoes markup.
        gb.record_exercises(HOSTILE, make_result({"mse": ("mse.rmse", "<img src=x onerror=alert(2)> is off.")}),
                            "h1")
        gb.record_problem("carl", "carl.zip: a path in the archive leaves the folder (../../etc/passwd)")
    return path


# --- the learner's report --------------------------------------------------------------------


def test_learner_report_shows_concepts_feedback_sections_quiz_and_history(book):
    view = report.learner_report("ada", snapshot(book, "ada"))
    page = report.render_learner(view)
    assert view.exercises.score == 78 and view.exercises.passed and view.exercises.attempts == 3
    assert view.quiz.score == 9 and view.quiz.passed and view.quiz.attempts == 2
    assert view.complete
    for c in manifest.load():
        assert esc(c.title) in page
    sigma = next(c for c in view.concepts if c.id == "sigma")
    assert sigma.status == "partial" and sigma.score == 8
    assert [f.feedback for f in sigma.failures] == [SIGMA_FEEDBACK]
    assert esc(SIGMA_FEEDBACK) in page
    assert "Reread <cite>“A VAE learns distributions over codes”</cite>" in page
    # The quiz: only the latest attempt's miss, with the option chosen and the explanation.
    q = report.quiz_questions()["mse"]
    chosen = key()["mse"][1][0]
    assert [m.number for m in view.quiz.missed] == [q.number]
    assert esc(q.options[chosen]) in page and esc(q.explanation) in page
    assert esc(q.why_not[chosen]) in page
    assert "Lesson complete" in page
    # History: one point per attempt, in each chart.
    assert count(page, r'<svg class="history" id="history"') == 1
    history = page[page.index('id="history"'):page.index('id="quiz-history"')]
    assert count(history, r'<circle class="point') == 3
    assert count(page[page.index('id="quiz-history"'):], r'<circle class="point') == 2
    assert "attempt 3, " in page and "3 graded attempts; 50/80, 68/80, 78/80" in page
    # What to do next names the unfinished concept, the mistake it shows and the command that shows it.
    assert any("logvar to sigma" in s.text and "This is exp(logvar), the variance" in s.text
               and s.command == "vaegrade grade -v --concept sigma" for s in view.next_steps)
    # A missed question shows the right option's text and why it is right.
    assert q.answer and q.answer != q.options[chosen] and esc(q.answer) in page


def test_failing_learner_gets_fix_steps_and_the_quiz_line(book):
    view = report.learner_report("bob", snapshot(book, "bob"))
    page = report.render_learner(view)
    assert view.exercises.score == 56 and not view.exercises.passed
    assert view.quiz.score == 7 and not view.quiz.passed
    assert not view.complete and "Lesson not complete yet" in page
    statuses = {c.id: c.status for c in view.concepts}
    assert statuses["vq"] == statuses["elbo"] == "failed" and statuses["kl"] == "partial"
    assert statuses["mse"] == "passed"
    # The biggest gaps come first in the steps (the stubs, with the worked examples to start from),
    # then the recognised mistakes, with the command that shows them; every unfinished concept is there.
    first = view.next_steps[0]
    assert first.text.startswith(("The β-weighted VAE loss", "VQ-VAE")) and "not started yet" in first.text
    assert first.command in ("vaegrade check elbo", "vaegrade check vq")
    sigma = next(s for s in view.next_steps if s.text.startswith("logvar to sigma"))
    assert "the variance" in sigma.text and "Reread" in sigma.text
    assert sigma.command == "vaegrade grade -v --concept sigma"
    unfinished = {c.id for c in view.concepts if c.status != "passed"}
    assert {s.command.rsplit(" ", 1)[-1] for s in view.next_steps if s.command != "vaegrade quiz"
            and s.command != "vaegrade grade"} == unfinished
    assert any(s.command == "vaegrade quiz" and "retake" in s.text for s in view.next_steps)
    assert len(view.quiz.missed) == 3 and "3 quiz" not in page
    assert "7 / 10, not passed" in page and "more than 75%" in page


def test_exactly_75_percent_does_not_pass(tmp_path):
    path = tmp_path / "gradebook.sqlite"
    with Gradebook(path) as gb:
        gb.record_exercises("eve", make_result(zero=("vq", "elbo")), "e1")   # 60 / 80 = 75%
    view = report.learner_report("eve", snapshot(path, "eve"))
    assert view.exercises.score == 60 and not view.exercises.passed
    assert "not passed" in report.render_learner(view)


def test_learner_without_attempts_renders_a_start_page(book):
    view = report.learner_report("nobody", snapshot(book, "nobody"))
    page = report.render_learner(view)
    assert view.exercises is None and view.quiz is None and view.history is None
    assert all(c.status == "not graded" for c in view.concepts) and len(view.concepts) == 8
    assert "Nothing graded yet" in page and "No attempts recorded yet" in page
    assert [s.command for s in view.next_steps] == ["vaegrade check", "vaegrade grade", "vaegrade quiz"]
    assert '<svg class="history"' not in page


def test_problem_without_attempt_is_reported_to_the_learner(book):
    page = report.render_learner(report.learner_report("carl", snapshot(book, "carl")))
    assert "Could not be graded" in page and "../../etc/passwd" in page


def test_hostile_id_and_feedback_are_escaped(book):
    page = report.render_learner(report.learner_report(HOSTILE, snapshot(book, HOSTILE)))
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;../../x" in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert count(page, r"<script") == 0          # a learner page runs no script at all


@pytest.mark.parametrize("learner", [HOSTILE, "../../etc/passwd", "..", ".hidden", "Ada Lovelace", "con",
                                     "a/b\\c", "é" * 100, "", "ada", "ada-2.1_x"])
def test_safe_names_stay_in_their_folder(learner):
    name = safetext.file_stem(learner)
    assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name) and len(name) <= 72
    assert name == learner or name.endswith(hashlib.sha256(learner.encode()).hexdigest()[:16])
    if learner in ("ada", "ada-2.1_x"):
        assert name == learner
    assert safetext.file_stem("Ada") != safetext.file_stem("ada")   # case-insensitive file systems


def test_results_json_renders_without_a_gradebook(tmp_path):
    result = make_result({"kl": ("kl.sign", KL_FEEDBACK)}, submission="exercises").to_gradescope_dict()
    view = report.learner_report_from_results(result, learner="me")
    page = report.render_learner(view)
    assert view.exercises.score == 78 and view.quiz is None and view.learner == "me"
    assert esc(KL_FEEDBACK) in page and count(page, r'<circle class="point') == 1
    with pytest.raises(report.ReportError, match="results.json"):
        report.learner_report_from_results({"tests": []})


def test_concept_note_and_unknown_concepts_are_shown():
    result = make_result(zero=("vq",), note={"vq": "vq.py is missing from the submission."}).to_gradescope_dict()
    result["concepts"]["extra"] = {"title": "From a newer grader", "section": "", "score": 1, "max_score": 2,
                                   "passed": False}
    view = report.learner_report_from_results(result)
    page = report.render_learner(view)
    assert "vq.py is missing from the submission." in page
    assert [c.id for c in view.concepts][-1] == "extra" and "From a newer grader" in page


def test_quiz_record_graded_with_the_learner_copy(tmp_path):
    """A quiz attempt graded with the learner copy is shown as a local check."""
    path = tmp_path / "gradebook.sqlite"
    answers = answers_with({"kl": None})
    with Gradebook(path) as gb:
        record_quiz(gb, "zoe", answers, graded_with="learner copy")
    view = report.learner_report("zoe", snapshot(path, "zoe"))
    page = report.render_learner(view)
    assert [m.chosen for m in view.quiz.missed] == ["no answer"]
    assert "learner copy: a local check" in page
    assert "Take the ten-question" not in page


# --- the class overview ----------------------------------------------------------------------


def test_class_report_numbers(book):
    view = report.class_report(snapshot(book))
    assert view.learners == 4 and view.graded == 3 and view.ex_passed == 2
    assert view.quiz_taken == 2 and view.quiz_passed == 1 and view.complete == 1
    assert sum(b.value for b in view.histogram.bars) == 3 and len(view.histogram.bars) == 20
    rates = {r.id: (r.passed, r.graded) for r in view.concepts}
    assert rates["sigma"] == (1, 3) and rates["kl"] == (2, 3) and rates["mse"] == (2, 3) and rates["vq"] == (2, 3)
    top = view.misconceptions[0]
    assert (top.id, top.learners, top.concept) == ("sigma.variance", 2, "sigma")
    # the label is the manifest's declaration of the id (else the id itself), never parsed from feedback
    assert top.label == report.declared_misconceptions().get("sigma.variance", "sigma.variance")
    # Item analysis over the latest quiz attempts: ada missed mse, bob missed mse, kl and vq.
    items = {it.id: it for it in view.quiz_items}
    assert len(items) == 10
    assert (items["mse"].correct, items["mse"].answered, items["mse"].wrong_count) == (0, 2, 2)
    assert items["mse"].wrong_text == report.quiz_questions()["mse"].options[key()["mse"][1][0]]
    assert items["bottleneck"].percent == 100 and items["bottleneck"].wrong_text == ""
    assert view.most_missed[0].id == "mse"
    roster = {r.learner: r for r in view.roster}
    assert roster["carl"].ex_score is None and "path in the archive" in roster["carl"].problem
    assert roster["ada"].complete and not roster["bob"].complete and roster["ada"].attempts == 5


def test_class_report_files_links_and_escaping(book, tmp_path):
    outdir = tmp_path / "batch"
    outdir.mkdir()
    (outdir / "gradebook.sqlite").write_bytes(book.read_bytes())
    made = report_verb.write_class_report(outdir=outdir)
    page = made.page.read_text(encoding="utf-8")
    assert made.page == outdir / "class-report.html" and made.learner_pages == 4
    written = sorted(p.relative_to(outdir).as_posix() for p in outdir.rglob("*.html"))
    assert all(p == "class-report.html" or re.fullmatch(r"reports/[a-z0-9][a-z0-9._-]*\.html", p) for p in written)
    for href in re.findall(r'<a href="(reports/[^"]+)"', page):
        assert (outdir / html.unescape(href)).is_file()
    assert count(page, r'<a href="reports/') == 4
    assert "<script>alert(1)" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert count(page, r"<script>") == 1       # the roster's own sorting script, nothing else
    assert count(page, r'<rect class="bar') == 20 + 8 + 10
    ada = (outdir / "reports" / "ada.html").read_text(encoding="utf-8")
    assert '<a href="../class-report.html">' in ada
    # A report never creates or alters a gradebook.
    assert (outdir / "gradebook.sqlite").read_bytes() == book.read_bytes()


def test_class_of_one_learner(tmp_path):
    build_class(tmp_path / "gradebook.sqlite", ["solo"], attempts=1)
    made = report_verb.write_class_report(outdir=tmp_path)
    page = made.page.read_text(encoding="utf-8")
    view = report.class_report(snapshot(tmp_path / "gradebook.sqlite"))
    assert view.learners == 1 and sum(b.value for b in view.histogram.bars) == 1
    assert "1 learner" in page and count(page, r'<a href="reports/solo.html">') == 1
    assert view.median == view.mean


def test_class_without_any_attempt(tmp_path):
    Gradebook(tmp_path / "gradebook.sqlite").close()
    page = report_verb.write_class_report(outdir=tmp_path).page.read_text(encoding="utf-8")
    assert "holds no graded attempt yet" in page and "<svg" not in page and "<script>" not in page


def test_class_without_quiz_attempts(tmp_path):
    build_class(tmp_path / "gradebook.sqlite", ["a", "b"], attempts=1, quiz=False)
    view = report.class_report(snapshot(tmp_path / "gradebook.sqlite"))
    assert view.quiz_chart is None and view.quiz_items == []
    assert "No quiz attempt recorded yet" in report.render_class(view)


# --- the command line ------------------------------------------------------------------------


def test_cli_class_and_learner(book, tmp_path, monkeypatch):
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "gradebook.sqlite").write_bytes(book.read_bytes())
    run = CliRunner().invoke(cli, ["report", "--class", str(outdir)])
    assert run.exit_code == 0, run.output
    assert "class report:" in run.output and (outdir / "class-report.html").is_file()
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    out = tmp_path / "bob.html"
    run = CliRunner().invoke(cli, ["report", "--gradebook", str(book), "--learner", "bob", "--out", str(out),
                                   "--open"])
    assert run.exit_code == 0, run.output
    assert out.is_file() and opened == [out.resolve().as_uri()]
    monkeypatch.setattr("webbrowser.open", lambda url: False)
    run = CliRunner().invoke(cli, ["report", "--class", str(outdir), "--learner", "ada", "--out", str(out),
                                   "--open"])
    assert run.exit_code == 0 and "No web browser is available here" in run.output
    assert "ada" in out.read_text(encoding="utf-8")


def test_cli_results_file(tmp_path):
    results = tmp_path / "results.json"
    results.write_text(json.dumps(make_result().to_gradescope_dict()))
    run = CliRunner().invoke(cli, ["report", "--results", str(results), "--out", str(tmp_path / "r.html")])
    assert run.exit_code == 0, run.output
    assert "80 / 80" in (tmp_path / "r.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("args, message", [
    (["--gradebook", "{tmp}/missing.sqlite"], "no gradebook at"),
    (["--class", "{tmp}"], "no gradebook.sqlite in"),
    (["--results", "{tmp}/bad.json"], "is not JSON"),
    (["--results", "{tmp}/list.json"], "not a vae-grader results.json"),
    (["--results", "{tmp}/missing.json"], "cannot read"),
    (["--results", "{tmp}/list.json", "--class", "{tmp}"], "does not go with --class"),
    (["--gradebook", "{tmp}/notadb.sqlite"], "is not a vae-grader gradebook"),
    (["--gradebook", "{book}"], "holds 3 learners: choose one with --learner"),
])
def test_cli_bad_input_exits_2_without_traceback(args, message, tmp_path, book, monkeypatch):
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "notadb.sqlite").write_text("hello")
    monkeypatch.setenv("VAEGRADE_LEARNER", "someone-else")
    args = [a.format(tmp=tmp_path, book=book) for a in args]
    run = CliRunner().invoke(cli, ["report", *args, "--out", str(tmp_path / "r.html")])
    assert run.exit_code == 2, run.output
    assert message in run.output and "Traceback" not in run.output


def test_cli_learner_without_gradebook_gets_a_start_page(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VAEGRADE_LEARNER", "new@example.org")
    run = CliRunner().invoke(cli, ["report"])
    assert run.exit_code == 0, run.output
    page = (tmp_path / "progress-report.html").read_text(encoding="utf-8")
    assert "new@example.org" in page and "Nothing graded yet" in page
    assert not (tmp_path / ".vaegrade").exists()   # reading never creates a gradebook


# --- templates, environment, charts -----------------------------------------------------------


def test_one_environment_autoescapes_and_refuses_undefined_names():
    import jinja2

    env = report.environment()
    assert env is report.environment() and env.undefined is jinja2.StrictUndefined
    assert env.from_string("{{ x }}").render(x="<b>") == "&lt;b&gt;"
    with pytest.raises(jinja2.UndefinedError):
        env.get_template("learner.html").render(generated_at="now")


def test_every_site_file_ships_in_the_package():
    """pyproject's package-data for grader._content.site covers every file in site/ (non-editable installs)."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = data["tool"]["setuptools"]["package-data"]["grader._content.site"]
    files = [p.relative_to(ROOT / "site").as_posix() for p in (ROOT / "site").rglob("*") if p.is_file()]
    assert {"base.html", "learner.html", "class.html", "charts.html", "style.css"} <= set(files)
    for f in files:
        assert any(fnmatch.fnmatch(f, pat) and f.count("/") == pat.count("/") for pat in patterns), f
    for name in ("learner.html", "class.html"):
        assert (ROOT / "site" / name).read_text(encoding="utf-8").startswith('{% extends "base.html" %}')


def test_histogram_bins_and_pass_line():
    h = charts.histogram([0, 4.9, 5, 74.99, 75, 100, 100], threshold=0.75, title="t", desc="d")
    counts = [b.value for b in h.bars]
    assert len(counts) == 20 and sum(counts) == 7
    # Right-closed bins: 5% is in the first, exactly 75% below the pass line, 100% in the last.
    assert counts[0] == 3 and counts[14] == 2 and counts[15] == 0 and counts[19] == 2
    assert [b.good for b in h.bars].index(True) == 15 and h.bars[14].label == "over 70–75%"
    left, _, right, bottom = h.plot
    assert h.threshold_x == pytest.approx(left + 0.75 * (right - left), abs=0.01)
    tallest = max(h.bars, key=lambda b: b.height)
    assert tallest.y + tallest.height == pytest.approx(bottom)
    assert all(b.height == 0 for b in h.bars if b.value == 0)


def test_hbars_and_history_geometry():
    hb = charts.hbars([("a", 100, "100%"), ("b", 50, "50%"), ("c", 75, "75%")], threshold=0.75, title="t",
                      desc="d")
    full, half, line = hb.bars
    assert half.width == pytest.approx(full.width / 2) and full.good and not line.good   # 75% is not above
    line_chart = charts.history([("t1", 10, 80), ("t2", 70, 80)], threshold=0.75, title="t", desc="d")
    p1, p2 = line_chart.points
    assert p1.y > line_chart.threshold_y > p2.y and not p1.good and p2.good
    assert line_chart.path.startswith(f"M{p1.x},{p1.y}")


def test_a_corrupt_record_does_not_stop_the_class_report(tmp_path):
    path = build_class(tmp_path / "gradebook.sqlite", ["a", "b"], attempts=1)
    with Gradebook(path) as gb:
        gb.db.execute("UPDATE attempts SET extra_json = '{broken' WHERE learner = 'b' AND kind = 'exercises'")
    snap = snapshot(path)
    assert snap.exercises["b"] is None and snap.exercises["a"].concepts
    view = report.class_report(snap)
    assert view.graded == 2 and {r.graded for r in view.concepts} == {1}
    page = report.render_learner(report.learner_report("b", snap))
    assert page.count("not graded") >= 8


def test_misconception_labels_come_from_the_manifest_not_feedback(tmp_path, monkeypatch):
    path = tmp_path / "gradebook.sqlite"
    with Gradebook(path) as gb:
        gb.record_exercises("a", make_result({"sigma": ("sigma.variance", "anything at all is off. Not a label.")}),
                            None)
        gb.record_exercises("b", make_result({"kl": ("kl.undeclared", KL_FEEDBACK)}), None)
    monkeypatch.setattr(report, "declared_misconceptions", lambda: {"sigma.variance": "Uses the variance as σ"})
    labels = {m.id: m.label for m in report.class_report(snapshot(path)).misconceptions}
    assert labels == {"sigma.variance": "Uses the variance as σ", "kl.undeclared": "kl.undeclared"}


def test_declared_misconceptions_are_read_from_the_manifest(monkeypatch):
    from grader.course import manifest as course

    declared = course.misconceptions()
    assert report.misconception_label("sigma.variance") == next(m.label for m in declared if m.id == "sigma.variance")
    monkeypatch.setattr(course, "misconceptions", lambda: (*declared, course.Misconception("extra.slip", "A slip", "s")))
    report.declared_misconceptions.cache_clear()
    try:
        assert report.misconception_label("extra.slip") == "A slip"
        assert report.misconception_label("never.declared") == "never.declared"
    finally:
        report.declared_misconceptions.cache_clear()


def test_generic_misconceptions_are_counted_per_concept(tmp_path):
    path = tmp_path / "gradebook.sqlite"
    with Gradebook(path) as gb:
        gb.record_exercises("a", make_result({"kl": ("shape", "kl_per_dimension has shape (1, 3); it should "
                                                      "have shape (3,)."), "vq": ("shape", "x")}), None)
        gb.record_exercises("b", make_result({"kl": ("shape", "kl_per_dimension has shape (1, 3); it should "
                                                      "have shape (3,).")}), None)
    rows = [(m.concept, m.id, m.learners, m.label) for m in report.class_report(snapshot(path)).misconceptions]
    label = {m.id: m.label for m in manifest.misconceptions()}["shape"]
    assert rows == [("kl", "shape", 2, label), ("vq", "shape", 1, label)]


def test_code_that_did_not_run_is_counted_apart_from_misconceptions(tmp_path):
    path = tmp_path / "gradebook.sqlite"
    stub = "reconstruction_mse is not implemented yet: it still raises NotImplementedError (line 32 of mse.py)."
    with Gradebook(path) as gb:
        gb.record_exercises("a", make_result({"mse": ("code.not_implemented", stub),
                                              "kl": ("limit.time", "stopped")}), None)
        gb.record_exercises("b", make_result({"mse": ("code.not_implemented", stub),
                                              "sigma": ("sigma.variance", SIGMA_FEEDBACK)}), None)
    view = report.class_report(snapshot(path))
    assert [(m.id, m.learners) for m in view.misconceptions] == [("sigma.variance", 1)]
    assert [(c.id, c.learners, c.concepts) for c in view.code_problems] == [
        ("code.not_implemented", 2, ["mse"]), ("limit.time", 1, ["kl"])]
    page = report.render_class(view)
    assert "Still the stub: raises NotImplementedError" in page and "Stopped by the time limit" in page


def test_identical_feedback_is_shown_once_per_concept():
    result = make_result(zero=("mse",)).to_gradescope_dict()
    mse = next(c for c in report.learner_report_from_results(result).concepts if c.id == "mse")
    assert len(mse.failures) == 1 and mse.failures[0].check == "check 1 of mse" and mse.failures[0].count == 4
    page = report.render_learner(report.learner_report_from_results(result))
    assert page.count("is not implemented yet: it still raises NotImplementedError") == 1 and "(×4)" in page


# --- the class view staff use in a meeting ----------------------------------------------------


def test_misconceptions_count_only_unambiguous_diagnoses_and_stubs_apart(tmp_path):
    path = tmp_path / "gradebook.sqlite"
    stub = "vae_loss is not implemented yet: it still raises NotImplementedError (line 40 of elbo.py)."
    with Gradebook(path) as gb:
        gb.record_exercises("a", make_result({"sigma": ("sigma.variance", SIGMA_FEEDBACK)}), None)
        gb.record_exercises("b", make_result({"sigma": ("sigma.variance", "x")}, zero=()), None)
        result = make_result({"sigma": ("sigma.variance", "x")})
        extra = result.concepts[1].checks[0]   # a second, different diagnosis in the same concept
        extra.status, extra.score, extra.misconception, extra.feedback = report_status_failed(), 0.0, "sigma.sqrt", "y"
        gb.record_exercises("c", result, None)
        gb.record_exercises("d", make_result({"elbo": ("code.exception", stub)}), None)
    view = report.class_report(snapshot(path))
    assert [(m.id, m.learners) for m in view.misconceptions] == [("sigma.variance", 2)]
    assert view.ambiguous == 1 and view.stubs == 1
    assert not any(m.concept == "elbo" for m in view.misconceptions)
    page = report.render_class(view)
    assert "two or more diagnoses are not counted" in page and "untouched stubs are counted apart" in page


def report_status_failed():
    from grader.grading.results import Status

    return Status.FAILED


def test_most_missed_keeps_ties_and_each_question_has_its_a_to_d_breakdown(tmp_path):
    path = tmp_path / "gradebook.sqlite"
    k = key()
    qids = list(k)
    with Gradebook(path) as gb:
        # four questions missed by exactly one of two learners: a four-way tie for "missed most"
        record_quiz(gb, "a", answers_with({qids[0]: k[qids[0]][1][0], qids[1]: k[qids[1]][1][0]}))
        record_quiz(gb, "b", answers_with({qids[2]: k[qids[2]][1][0], qids[3]: None}))
        gb.record_exercises("a", make_result(), None)
    view = report.class_report(snapshot(path))
    assert sorted(it.id for it in view.most_missed) == sorted(qids[:4])
    item = next(it for it in view.quiz_items if it.id == qids[0])
    letters = [(letter, n, right) for letter, _text, n, right in item.responses]
    assert [l for l, _, _ in letters] == ["A", "B", "C", "D"][:len(letters)]
    assert sum(n for _, n, _ in letters) == 2 and [right for _, _, right in letters].count(True) == 1
    right_letter = next(l for l, n, right in letters if right)
    assert dict((l, n) for l, n, _ in letters)[right_letter] == 1
    blank = next(it for it in view.quiz_items if it.id == qids[3])
    assert blank.blank == 1 and sum(n for _, _, n, _ in blank.responses) == 1
    page = report.render_class(view)
    assert page.count('class="responses"') == 10 and "blank 1" in page


def test_roster_separates_attempts_and_the_grid_has_every_concept(book):
    view = report.class_report(snapshot(book))
    roster = {r.learner: r for r in view.roster}
    assert roster["ada"].ex_attempts == 3 and roster["ada"].quiz_attempts == 2
    assert roster["carl"].last == ""   # only a reported problem: never a "last graded" time
    assert [c.id for c in view.grid_concepts] == [c.id for c in manifest.load()]
    grid = {row.learner: row for row in view.grid}
    assert set(grid) == {"ada", "bob", HOSTILE} and len(grid["bob"].cells) == 8
    states = {cell.state for row in view.grid for cell in row.cells}
    assert states <= {"passed", "partial", "failed", "none"} and "passed" in states
    page = report.render_class(view)
    assert 'id="grid"' in page and page.count("<table class=\"data grid\" id=\"grid\" data-sortable>") == 1


def test_class_report_for_an_unknown_learner_is_an_error(tmp_path):
    build_class(tmp_path / "gradebook.sqlite", ["alice", "bob"], attempts=1)
    result = CliRunner().invoke(cli, ["report", "--class", str(tmp_path), "--learner", "alcie",
                                      "--out", str(tmp_path / "x.html")])
    assert result.exit_code == 2 and "alcie" in result.output and "alice" in result.output
    assert not (tmp_path / "x.html").exists()
    result = CliRunner().invoke(cli, ["report", "--class", str(tmp_path), "--learner", "alice",
                                      "--out", str(tmp_path / "x.html")])
    assert result.exit_code == 0 and (tmp_path / "x.html").is_file()


def test_the_histograms_pass_line_label_has_a_band_of_its_own():
    chart = charts.histogram([72.0] * 30 + [76.0] * 29, threshold=0.75, title="t", desc="d")
    left, top, right, bottom = chart.plot
    assert min(bar.y for bar in chart.bars) >= top          # no bar reaches into the label's band
    assert top - 4 - 12 >= 15                                # a bar's count (12 px) stays below the label line
