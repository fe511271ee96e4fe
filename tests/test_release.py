"""Release bundles: the learner's copy holds no solution, no hidden check, no plaintext key, and
installs and runs; the autograder bundle holds everything; the Gradescope zip follows its format."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from grader.course import manifest
from grader.checks import checks_for
from grader.cli import cli

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "tests" / "schemas" / "gradescope_results.schema.json").read_text())


def _texts(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_bytes().decode("utf-8", "replace")
            for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def bundles(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("release")
    runner = CliRunner()
    for kind, name in (("student", "student"), ("autograder", "autograder"), ("gradescope", "autograder.zip")):
        result = runner.invoke(cli, ["release", kind, str(tmp / name)])
        assert result.exit_code == 0, result.output
    return tmp


def _build_wheel(project: Path, out: Path) -> Path:
    """A pure-Python wheel of `project`, laid out exactly as its pyproject.toml declares.

    Written here rather than by setuptools so the test needs no build backend and no network:
    a fresh virtual environment may hold a setuptools too old to build wheels (no bdist_wheel)
    and pip would fetch a newer one. Packages, package-dir, package-data and the console script
    come from the bundle's own pyproject.toml, so a file it forgets to declare is missing here too.
    """
    import base64
    import hashlib

    meta = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    name, version = meta["project"]["name"], meta["project"]["version"]
    setup = meta["tool"]["setuptools"]
    dirs, data = setup.get("package-dir", {}), setup.get("package-data", {})
    files: dict[str, bytes] = {}
    for pkg in setup["packages"]:
        src = project / dirs.get(pkg, pkg.replace(".", "/"))
        dest = pkg.replace(".", "/")
        assert src.is_dir(), f"{pkg}: {src} is missing"
        chosen = {p for p in src.glob("*.py")} | {p for pattern in data.get(pkg, []) for p in src.glob(pattern)}
        for path in sorted(chosen):
            if path.is_file():
                files[f"{dest}/{path.relative_to(src).as_posix()}"] = path.read_bytes()
    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    files[f"{dist}/METADATA"] = (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                 + "".join(f"Requires-Dist: {d}\n" for d in meta["project"]["dependencies"])).encode()
    files[f"{dist}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: vae-grader tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    files[f"{dist}/entry_points.txt"] = ("[console_scripts]\n" + "".join(
        f"{k} = {v}\n" for k, v in meta["project"]["scripts"].items())).encode()
    record = [f"{path},sha256={base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b'=').decode()},{len(body)}"
              for path, body in files.items()]
    files[f"{dist}/RECORD"] = ("\n".join(record + [f"{dist}/RECORD,,"]) + "\n").encode()
    wheel = out / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, body in files.items():
            zf.writestr(path, body)
    return wheel


@pytest.fixture(scope="module")
def installed(bundles, tmp_path_factory):
    """The student bundle pip-installed into a fresh venv (torch and numpy from this machine).

    The venv does not see the system's site-packages (whose setuptools may be old), only this
    interpreter's installed packages, appended after its own through a path file, so the bundle
    it installs is the `grader` it imports. Nothing is built or fetched: pip installs a wheel.
    """
    import sysconfig

    tmp = tmp_path_factory.mktemp("venv")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    here = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(site, "zz_running_interpreter.pth").write_text("".join(f"{p}\n" for p in sorted(here)))
    wheel = _build_wheel(bundles / "student", tmp)
    got = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                          "--no-index", "--ignore-installed", "--disable-pip-version-check", str(wheel)],
                         capture_output=True, text=True)
    assert got.returncode == 0, got.stdout + got.stderr
    imported = subprocess.run([str(python), "-c", "import grader; print(grader.__file__)"], check=True,
                              capture_output=True, text=True, cwd=tmp, env={"PATH": os.environ.get("PATH", "")}).stdout
    assert imported.startswith(str(venv)), imported   # the installed bundle, not this checkout
    return venv


def _run(venv: Path, *args, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VAEGRADE_", "GITHUB_", "PYTHON"))}
    return subprocess.run([str(venv / "bin" / "vaegrade"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


# --- what the learner's copy must not hold ------------------------------------------------------


def test_student_bundle_holds_no_solution(bundles):
    # What learners may see anyway: the stubs (their TODO hints), the manifest's hints and the grader's
    # own non-check code. A solution line found in the bundle and in none of those is a leak.
    public = [p.read_text() for p in (ROOT / "exercises").glob("*.py")]
    public += [p.read_text() for p in (ROOT / "grader").rglob("*.py") if "checks" not in p.parts]
    public.append((ROOT / "grader" / "course" / "concepts.toml").read_text())
    public_text = "\n".join(public)
    distinctive = set()
    for path in (ROOT / "solutions").glob("*.py"):
        for line in path.read_text().splitlines():
            s = line.strip()
            if len(s) >= 12 and s not in public_text and not s.startswith(("#", "import ", "from ", '"""')):
                distinctive.add(s)
    assert len(distinctive) > 40
    texts = _texts(bundles / "student")
    assert not (bundles / "student" / "solutions").exists()
    leaks = {(name, s) for name, text in texts.items() for s in distinctive if s in text}
    assert not leaks, sorted(leaks)[:5]
    # The autograder bundle does hold them: the search above can find a leak.
    autograder = "\n".join(_texts(bundles / "autograder").values())
    assert all(s in autograder for s in distinctive)


def test_student_bundle_holds_no_hidden_check(bundles):
    texts = _texts(bundles / "student")
    hidden = [(c.name, c.run.__name__) for concept in manifest.load() for c in checks_for(concept.id) if not c.public]
    assert len(hidden) > 50
    for name, _ in hidden:
        assert not any(name in text for text in texts.values()), name
    for concept in manifest.load():
        module = texts[f"grader/checks/{concept.id}.py"]
        assert "@check" not in module and "def " not in module  # only the replay of recorded public checks
        recorded = json.loads(texts[f"grader/checks/{concept.id}.public.json"])
        assert [c["name"] for c in recorded["checks"]] == [c.name for c in checks_for(concept.id) if c.public]


def test_student_bundle_holds_no_plaintext_key(bundles):
    import tomllib as toml

    staff = toml.loads((ROOT / "quizzes" / "mastery.toml").read_text())
    texts = _texts(bundles / "student")
    assert "quizzes/mastery.toml" not in texts
    assert not any("answer = " in text for name, text in texts.items() if name.startswith("quizzes/"))
    for q in staff["questions"]:
        secret_bits = [q["explanation"][:60]] + [o["why_not"][:60] for o in q["options"] if "why_not" in o]
        for bit in secret_bits:
            assert not any(bit in text for text in texts.values()), bit
    learner = json.loads(texts["quizzes/mastery.learner.json"])
    for q in learner["questions"]:
        assert not {"answer", "explanation", "correct"} & set(q)
        assert all(set(o) == {"id", "text", "feedback"} for o in q["options"])


def test_student_bundle_is_a_course_repository(bundles):
    root = bundles / "student"
    assert (root / ".github" / "workflows" / "grade.yml").read_text() == \
        (ROOT / ".github" / "workflows" / "grade.yml").read_text()
    assert tomllib.loads((root / "grader" / "BUNDLE.toml").read_text())["kind"] == "student"
    readme = (root / "README.md").read_text()
    assert "pip install torch==2.13.0" in readme and "vaegrade check" in readme and "vaegrade quiz" in readme
    assert sorted(p.name for p in (root / "exercises").glob("*.py")) == sorted(c.file for c in manifest.load())


def test_student_bundle_has_a_starter_notebook(bundles):
    import ast

    import nbformat

    path = bundles / "student" / "vae.ipynb"
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    markdown = [c.source for c in notebook.cells if c.cell_type == "markdown"]
    code = [c.source for c in notebook.cells if c.cell_type == "code"]
    assert markdown[0].startswith("# Autoencoders and VAEs") and "TODO" in markdown[0]
    # one section per concept, titled with the lesson's section, in the lesson's order
    concepts = manifest.load()
    assert [m.splitlines()[0] for m in markdown[1:]] == [f"## {c.section}" for c in concepts]
    assert "beta-weighted VAE loss with an MSE reconstruction term" in markdown[1 + [c.id for c in concepts].index("elbo")]
    # the imports first, then one code cell per stub function, exactly the stub's source
    assert code[0] == "import numpy as np\nimport torch"
    functions = [(c, name) for c in concepts for name in c.functions]
    assert len(code) == 1 + len(functions)
    for (concept, name), cell in zip(functions, code[1:]):
        tree = ast.parse(cell)
        assert [n.name for n in tree.body] == [name]
        assert cell in (ROOT / "exercises" / concept.file).read_text(encoding="utf-8")
        assert "TODO" in cell
    # run in order, the cells define every function, each still a stub
    namespace: dict = {}
    for cell in code:
        exec(compile(cell, str(path), "exec"), namespace)
    for _, name in functions:
        with pytest.raises(NotImplementedError):
            namespace[name](*[None] * namespace[name].__code__.co_argcount)
    assert "vae.ipynb" in (bundles / "student" / "README.md").read_text()


# --- what a learner does with it ----------------------------------------------------------------


def test_learner_installs_and_checks(installed, bundles, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(bundles / "student", course)
    got = _run(installed, "check", cwd=course)
    assert got.returncode == 1 and "0 of" in got.stdout, got.stdout + got.stderr
    assert "not implemented yet" in got.stdout
    for path in (ROOT / "solutions").glob("*.py"):
        shutil.copy(path, course / "exercises" / path.name)
    (course / "exercises" / "sigma.py").write_text(  # one slip: the variance instead of sigma
        "import numpy as np\n\ndef logvar_to_sigma(logvar):\n    return np.exp(np.asarray(logvar, dtype=float))\n")
    got = _run(installed, "check", cwd=course)
    assert got.returncode == 1, got.stdout + got.stderr
    public = sum(c.public for concept in manifest.load() for c in checks_for(concept.id))
    assert f"{public - 1} of {public} public checks pass" in got.stdout
    assert "the right value is [0.7047, 1.0513]" in got.stdout


def test_learner_takes_the_quiz_from_a_file(installed, bundles, tmp_path):
    from grader.grading import quiz as engine

    staff = engine.load_quiz(ROOT / "quizzes" / "mastery.toml")
    chosen = {q.id: staff.answer(q) for q in staff.questions}
    answers = tmp_path / "quiz_answers.json"
    answers.write_text(json.dumps(engine.answers_file_dict(engine.grade(staff, chosen, learner="ada"))))
    got = _run(installed, "quiz", "--answers", str(answers), "--format", "json", "--no-record", cwd=tmp_path)
    assert got.returncode == 0, got.stdout + got.stderr
    data = json.loads(got.stdout)
    assert data["score"] == 10 and data["graded_with"] == "learner copy" and data["authoritative"] is False


def test_learner_copy_refuses_to_grade_ci(installed, bundles, tmp_path):
    got = _run(installed, "ci", "--exercises", str(bundles / "student" / "exercises"), "--out", str(tmp_path),
               cwd=tmp_path)
    assert got.returncode == 2 and "learner's copy" in got.stderr


# --- what staff keep -----------------------------------------------------------------------------


def test_autograder_bundle_holds_everything(bundles):
    root = bundles / "autograder"
    assert tomllib.loads((root / "grader" / "BUNDLE.toml").read_text())["kind"] == "autograder"
    assert sorted(p.name for p in (root / "solutions").glob("*.py")) == sorted(c.file for c in manifest.load())
    assert (root / "quizzes" / "mastery.toml").read_bytes() == (ROOT / "quizzes" / "mastery.toml").read_bytes()
    for concept in manifest.load():
        assert (root / "grader" / "checks" / f"{concept.id}.py").read_bytes() == \
            (ROOT / "grader" / "checks" / f"{concept.id}.py").read_bytes()
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["vaegrade"] == "grader.cli:main"
    assert "grader._content.solutions" in project["tool"]["setuptools"]["packages"]


def test_gradescope_zip_follows_the_autograder_format(bundles, tmp_path):
    with zipfile.ZipFile(bundles / "autograder.zip") as zf:
        names = zf.namelist()
        for script in ("setup.sh", "run_autograder"):
            assert script in names  # at the root of the archive, not in a folder
            assert stat.S_IMODE(zf.getinfo(script).external_attr >> 16) & 0o111
        assert "autograder/pyproject.toml" in names and "autograder/solutions/mse.py" in names
        setup = zf.read("setup.sh").decode()
        run = zf.read("run_autograder").decode()
        zf.extractall(tmp_path / "source")
    assert setup.startswith("#!/usr/bin/env bash") and "torch==2.13.0" in setup
    assert "pip install --quiet /autograder/source/autograder" in setup
    assert run.startswith("#!/usr/bin/env bash")
    assert "vaegrade --course /autograder/source/autograder gradescope --root /autograder" in run
    assert "/autograder/results/results.json" in run
    assert "autograder/gradescope.key" in names   # the same files get the same grade on resubmission
    # Run it the way Gradescope does, with /autograder moved under tmp and this machine's vaegrade.
    home = tmp_path / "autograder"
    (home / "submission").mkdir(parents=True)
    for name in ("mse.py", "latent_budget.py"):   # in one top folder, as a zip of a folder unpacks
        (home / "submission" / "work").mkdir(exist_ok=True)
        shutil.copy(ROOT / "solutions" / name, home / "submission" / "work" / name)
    (home / "submission_metadata.json").write_text(json.dumps(
        {"created_at": "2026-12-01T10:00:00-07:00", "users": [{"email": "a@example.com", "name": "A", "id": 1}],
         "assignment": {"due_date": "2026-12-02T10:00:00-07:00"}}))
    script = home / "run_autograder"
    script.write_text(run.replace("/autograder/source/autograder", "@SOURCE@").replace("/autograder", str(home))
                      .replace("@SOURCE@", str(tmp_path / "source" / "autograder"))
                      .replace(f"export PATH={home}/venv/bin:$PATH", ""))
    script.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAEGRADE_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    proc = subprocess.run([str(script)], cwd=home, env=env, check=True, timeout=300, capture_output=True, text=True)
    results = json.loads((home / "results" / "results.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(results)
    assert "extra_data" in results, proc.stdout + proc.stderr
    assert results["extra_data"]["exercises"]["concept_scores"]["mse"] == 10.0
    assert results["score"] == 20.0 and results["extra_data"]["exercises"]["passed"] is False
    assert results["extra_data"]["learner"]["id"] == "a@example.com"
    assert sorted(p.name for p in home.iterdir()) == ["results", "run_autograder", "submission",
                                                      "submission_metadata.json"]   # no .vaegrade state
    # An unusable submission still leaves a results.json that Gradescope accepts.
    shutil.rmtree(home / "submission")
    (home / "submission").write_text("not a folder")
    subprocess.run([str(script)], cwd=home, env=env, check=True, timeout=300, capture_output=True)
    results = json.loads((home / "results" / "results.json").read_text())
    jsonschema.Draft202012Validator(SCHEMA).validate(results)
    assert results["score"] == 0.0


def test_release_refuses_to_overwrite(bundles):
    result = CliRunner().invoke(cli, ["release", "student", str(bundles / "student")])
    assert result.exit_code == 2 and "already exists" in result.output
    result = CliRunner().invoke(cli, ["release", "gradescope", str(bundles / "x.tar")])
    assert result.exit_code == 2 and ".zip" in result.output
