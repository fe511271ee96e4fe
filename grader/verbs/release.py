"""Release bundles (like `otter assign`): what learners get, what staff and CI keep, a Gradescope autograder.

- **student**: the stubs, the grader package with only the *public* checks
  (each checks module is rewritten so the hidden checks, and the helpers
  only they use, are gone), the key-less learner copy of the quiz, the
  report templates, the CI workflow, a learner README and its own
  pyproject.toml (``pip install ./OUT``). No solutions/, no staff quiz.
- **autograder**: everything (hidden checks, solutions, the quiz key), with
  its own pyproject.toml; staff keep it on a protected branch or in storage
  CI fetches from.
- **gradescope**: a zip in Gradescope's autograder format: ``setup.sh`` and
  ``run_autograder`` at the root, the autograder bundle beside them.

Each bundle carries grader/BUNDLE.toml naming its kind, so `vaegrade ci`
refuses to grade with a learner's copy.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import stat
import tempfile
import tomllib
import zipfile
from pathlib import Path

import grader
from grader.course import manifest
from grader.course.content import content_dir
from grader.course.quizdata import LEARNER_FILE, STAFF_FILE, QuizDataError, build_learner_copy
from grader.checks.replay import RELEASE_SEED
from grader.grading.recording import RecordingError, record_public_checks
from grader.sandbox.session import SandboxError
from grader.settings import COURSE_MARKER, TORCH_PIN
from grader.verbs.workspace import Outcome, VerbError

PACKAGE = Path(grader.__file__).resolve().parent
CHECKOUT = PACKAGE.parent if (PACKAGE.parent / "pyproject.toml").is_file() else None
WORKFLOW = Path(".github") / "workflows" / "grade.yml"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
CONTENT = {"exercises": "grader._content.exercises", "solutions": "grader._content.solutions",
           "quizzes": "grader._content.quizzes", "site": "grader._content.site"}
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "_content", "BUNDLE.toml", ".*")


class ReleaseError(Exception):
    """A bundle cannot be built (OUT exists, content missing): exit status 2."""


REPLAY_MODULE = '''"""Public checks for `{id}` (learner copy): the lesson's worked examples.

Built by `vaegrade release student`: the checks replay the inputs of the public checks and
compare your replies with the reference's, recorded when the course was released. The
hidden checks, which decide the grade, are not in this copy.
"""

from grader.checks.replay import replay_checks

CHECKS = replay_checks("{id}")
'''


# --- shared pieces ---------------------------------------------------------------------------


def _dependencies() -> list[str]:
    """The runtime dependencies, read from the one place they are declared."""
    if CHECKOUT is not None:
        return list(tomllib.loads((CHECKOUT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["dependencies"])
    return [r for r in importlib.metadata.requires("vae-grader") or [] if "extra ==" not in r]


def _toml_list(items) -> str:
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def _pyproject(root: Path, kind: str, description: str) -> str:
    """pyproject.toml for a bundle, listing the packages and data files it actually holds."""
    packages, data, dirs = [], {}, {}
    for init in sorted((root / "grader").rglob("__init__.py")):
        pkg = init.parent.relative_to(root).as_posix().replace("/", ".")
        packages.append(pkg)
        files = [p.name for p in init.parent.iterdir() if p.is_file() and p.suffix not in (".py", ".pyc")]
        if files:
            data[pkg] = sorted(files)
    for folder, pkg in CONTENT.items():
        if (root / folder).is_dir():
            packages.append(pkg)
            dirs[pkg] = folder
            data[pkg] = sorted(p.relative_to(root / folder).as_posix() for p in (root / folder).rglob("*")
                               if p.is_file() and "__pycache__" not in p.parts)
    lines = [
        "[build-system]", 'requires = ["setuptools>=68"]', 'build-backend = "setuptools.build_meta"', "",
        "[project]", 'name = "vae-grader"', f'version = "{grader.__version__}+{kind}"',
        f'description = "{description}"', 'readme = "README.md"', 'requires-python = ">=3.11"',
        f"dependencies = {_toml_list(_dependencies())}", "",
        "[project.scripts]", 'vaegrade = "grader.cli:main"', "",
        "[tool.setuptools]", f"packages = {_toml_list(packages)}", "",
        "[tool.setuptools.package-dir]", *[f'"{pkg}" = "{folder}"' for pkg, folder in dirs.items()], "",
        "[tool.setuptools.package-data]", *[f'"{pkg}" = {_toml_list(files)}' for pkg, files in data.items()],
    ]
    return "\n".join(lines) + "\n"


def _prepare(out: Path, force: bool) -> Path:
    out = Path(out)
    if out.exists():
        if not force:
            raise ReleaseError(f"{out} already exists (use --force to replace it)")
        shutil.rmtree(out) if out.is_dir() and not out.is_symlink() else out.unlink()
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def _content(name: str) -> Path:
    try:
        return content_dir(name)
    except FileNotFoundError as exc:
        raise ReleaseError(str(exc)) from None


def _copy_common(root: Path, kind: str) -> None:
    shutil.copytree(PACKAGE, root / "grader", ignore=_SKIP)
    (root / "grader" / "BUNDLE.toml").write_text(
        f'# Written by `vaegrade release {kind}`.\nkind = "{kind}"\nversion = "{grader.__version__}"\n',
        encoding="utf-8")
    shutil.copytree(_content("exercises"), root / "exercises", ignore=_SKIP)
    (root / COURSE_MARKER).write_text(  # `vaegrade` finds the course from any folder inside it
        f'# A vae-grader course ({kind} bundle): `vaegrade` finds it from any folder inside.\n'
        '[course]\nlesson = "Autoencoders and VAEs"\n', encoding="utf-8")
    site = _content("site")
    shutil.copytree(site, root / "site", ignore=_SKIP)
    if CHECKOUT is not None and (CHECKOUT / WORKFLOW).is_file():
        (root / WORKFLOW).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CHECKOUT / WORKFLOW, root / WORKFLOW)


def _staff_quiz() -> Path:

    path = _content("quizzes") / STAFF_FILE
    if not path.is_file():
        raise ReleaseError(f"the staff quiz {path} is missing: build releases from the course repository")
    return path


# --- the starter notebook ------------------------------------------------------------------

NOTEBOOK_FILE = "vae.ipynb"

NOTEBOOK_INTRO = """\
# Autoencoders and VAEs: exercises

The eight exercises of the lesson, one section per lesson section, in the lesson's order.
Each code cell holds one function to write: its docstring says what to compute and shows
the lesson's worked example with its expected output; replace the `TODO` and the
`raise NotImplementedError` with your code. Run the first cell (the imports) before the others.

The same functions live in `exercises/*.py`; `vaegrade check` runs the public checks there.
"""


def _stub_parts(path: Path) -> tuple[list[str], dict[str, str], str]:
    """A stub's import lines, each function's source by name, and the first paragraph of its docstring."""
    import ast

    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    tree = ast.parse(source, filename=str(path))
    imports = [ast.get_source_segment(source, n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    functions = {n.name: "\n".join(lines[n.lineno - 1:n.end_lineno]) for n in tree.body if isinstance(n, ast.FunctionDef)}
    summary = (ast.get_docstring(tree) or "").split("\n\n")[0].strip()
    return imports, functions, summary


def starter_notebook(exercises: Path):
    """The stubs as a Jupyter notebook: markdown from the lesson's section titles, one code cell per function."""
    import nbformat
    from nbformat import v4


    cells, imports = [v4.new_markdown_cell(NOTEBOOK_INTRO)], []
    sections = []
    for concept in manifest.load():
        path = Path(exercises) / concept.file
        if not path.is_file():
            raise ReleaseError(f"no stub {path} for the starter notebook")
        stub_imports, functions, summary = _stub_parts(path)
        imports += [i for i in stub_imports if i not in imports]
        missing = [f for f in concept.functions if f not in functions]
        if missing:
            raise ReleaseError(f"{path}: no function {', '.join(missing)} for the starter notebook")
        # what the stub says it is ("...": the beta-weighted VAE loss ...), else the manifest's title
        what = " ".join(summary.split()).partition('": ')[2].rstrip(".") or concept.title
        sections.append(v4.new_markdown_cell(f"## {concept.section}\n\n**{what[:1].upper() + what[1:]}** "
                                             f"(`vaegrade check {concept.id}` runs on `exercises/{concept.file}`)"))
        sections += [v4.new_code_cell(functions[name]) for name in concept.functions]
    cells.append(v4.new_code_cell("\n".join(imports)))
    notebook = v4.new_notebook(cells=cells + sections, metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
    })
    nbformat.validate(notebook)
    return notebook


def write_starter_notebook(exercises: Path, dest: Path) -> Path | None:
    """Write the starter notebook to `dest`; None when nbformat is not installed (the notebook extra)."""
    try:
        import nbformat
    except ImportError:
        return None
    notebook = starter_notebook(exercises)
    dest.write_text(nbformat.writes(notebook) + "\n", encoding="utf-8")
    return dest


# --- the three bundles -----------------------------------------------------------------------

STUDENT_README = """\
# Autoencoders and VAEs: exercises and mastery quiz

Implement the eight functions in `exercises/` (each file's docstring says what
to compute, with the lesson's worked example), then take the ten-question
mastery quiz. The lesson is complete when both score **above 75%**.

## Install (once)

```bash
pip install {torch} --index-url {index} && pip install .
```

## Check your work

```bash
vaegrade check                                  # the lesson's worked examples, against exercises/
vaegrade quiz                                   # the quiz; your answers go to exercises/quiz_answers.json
vaegrade quiz --answers exercises/quiz_answers.json   # re-check a saved answers file
```

`vaegrade check` runs only the public checks (so does `vaegrade grade` in
this copy, which holds no other). Your grade comes from the hidden checks (fresh random inputs, batches, edge cases), which run when you
open a pull request: its "grade" check shows a summary, and the lines of any
failing function are annotated in the "Files changed" tab. This copy of the
quiz has no answer key in plain text; the attempt that counts is the one CI
grades with the staff key.
"""

NOTEBOOK_README = """
## Working in Jupyter

`{notebook}` holds the same exercises as a notebook: one section per lesson section, one
code cell per function, with the same docstrings and worked examples as `exercises/`.
Save it (Ctrl-S), then check it from a cell:

```python
from grader.verbs.jupyter import check
check("{notebook}")
```

or from a terminal: `vaegrade check --dir {notebook}`, `vaegrade watch --dir {notebook}`.
Only its imports, functions, classes and constants are graded; nothing else in it runs.
"""

AUTOGRADER_README = """\
# vae-grader: autograder bundle (STAFF ONLY)

This bundle holds the hidden checks, the reference solutions and the quiz's
answer key. Never publish it where learners can read it. CI installs it to
grade pull requests (`pip install . && vaegrade ci`); see the course
repository's README, "CI and pull requests", for where to keep it.
"""


def build_student(out: Path, *, force: bool = False) -> Path:

    out = _prepare(out, force)
    staff_quiz = _staff_quiz()
    with tempfile.TemporaryDirectory(prefix="vaegrade-release-", dir=out.parent) as tmp:
        root = Path(tmp) / "bundle"
        _copy_common(root, "student")

        for concept_id, checks in record_public_checks(_content("solutions")).items():
            folder = root / "grader" / "checks"
            (folder / f"{concept_id}.py").write_text(REPLAY_MODULE.format(id=concept_id), encoding="utf-8")
            (folder / f"{concept_id}.public.json").write_text(
                json.dumps({"concept": concept_id, "seed": RELEASE_SEED, "checks": checks}, indent=1) + "\n",
                encoding="utf-8")
        build_learner_copy(staff_quiz, root / "quizzes" / LEARNER_FILE)
        notebook = write_starter_notebook(root / "exercises", root / NOTEBOOK_FILE)
        readme = STUDENT_README.format(torch=TORCH_PIN, index=TORCH_INDEX)
        if notebook is not None:
            readme += NOTEBOOK_README.format(notebook=NOTEBOOK_FILE)
        (root / "README.md").write_text(readme, encoding="utf-8")
        (root / ".gitignore").write_text("__pycache__/\n*.egg-info/\nbuild/\n.vaegrade/\nvaegrade-results/\n",
                                         encoding="utf-8")
        (root / "pyproject.toml").write_text(_pyproject(
            root, "student", "Exercises, public checks and the mastery quiz for the lesson 'Autoencoders and VAEs'."),
            encoding="utf-8")
        root.rename(out)
    return out


def build_autograder(out: Path, *, force: bool = False) -> Path:

    out = _prepare(out, force)
    staff_quiz = _staff_quiz()
    with tempfile.TemporaryDirectory(prefix="vaegrade-release-", dir=out.parent) as tmp:
        root = Path(tmp) / "bundle"
        _copy_common(root, "autograder")
        shutil.copytree(_content("solutions"), root / "solutions", ignore=_SKIP)
        shutil.copytree(staff_quiz.parent, root / "quizzes", ignore=_SKIP)
        build_learner_copy(staff_quiz, root / "quizzes" / LEARNER_FILE)
        (root / "README.md").write_text(AUTOGRADER_README, encoding="utf-8")
        (root / "pyproject.toml").write_text(_pyproject(
            root, "autograder", "vae-grader autograder: hidden checks, solutions and the quiz key (staff only)."),
            encoding="utf-8")
        root.rename(out)
    return out


SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq python3 python3-venv python3-pip
PY=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    apt-get install -y -qq python3.11 python3.11-venv   # vae-grader needs Python 3.11 or newer
    PY=python3.11
fi
"$PY" -m venv /autograder/venv
/autograder/venv/bin/pip install --quiet --upgrade pip
/autograder/venv/bin/pip install --quiet {torch} --index-url {index}
/autograder/venv/bin/pip install --quiet /autograder/source/autograder
/autograder/venv/bin/vaegrade --version
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission (working directory /autograder). The learner's
# files are in /autograder/submission, as uploaded or in an exercises/ folder; the score goes
# to /autograder/results/results.json in Gradescope's format (`vaegrade grade --format json`).
set -uo pipefail
export PATH=/autograder/venv/bin:$PATH
SUBMISSION=/autograder/submission
if [ -d "$SUBMISSION/exercises" ]; then SUBMISSION="$SUBMISSION/exercises"; fi
WORK=$(mktemp -d /tmp/vaegrade-submission.XXXXXX)
cp -R "$SUBMISSION"/. "$WORK"/ 2>/dev/null || true   # a copy: the grader never touches the original
mkdir -p /autograder/results
vaegrade grade "$WORK" --format json > /autograder/results/results.json.tmp
status=$?
if [ "$status" -le 1 ] && [ -s /autograder/results/results.json.tmp ]; then
    mv /autograder/results/results.json.tmp /autograder/results/results.json
else
    rm -f /autograder/results/results.json.tmp
    cat > /autograder/results/results.json <<EOF
{{"score": 0.0, "output": "The autograder could not grade this submission (vaegrade exit status $status). Check that you uploaded the exercise files (mse.py, sigma.py, ...) or your notebook (.ipynb) and contact course staff if this persists.", "visibility": "visible", "stdout_visibility": "hidden", "tests": []}}
EOF
fi
exit 0
"""


def build_gradescope(out: Path, *, force: bool = False) -> Path:
    out = Path(out)
    if out.suffix != ".zip":
        raise ReleaseError(f"{out}: a Gradescope autograder is a .zip file")
    out = _prepare(out, force)
    with tempfile.TemporaryDirectory(prefix="vaegrade-release-") as tmp:
        bundle = build_autograder(Path(tmp) / "autograder")
        partial = out.with_name(f".{out.name}.partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
                info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
                info.external_attr = (stat.S_IFREG | 0o755) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, text.format(torch=TORCH_PIN, index=TORCH_INDEX))
            for path in sorted(bundle.rglob("*")):
                if path.is_file():
                    zf.write(path, Path("autograder") / path.relative_to(bundle))
        os.replace(partial, out)
    return out


def main(*, kind: str, out: Path, force: bool = False) -> str:
    """Build one bundle; returns what to tell the person who asked for it."""
    build = {"student": build_student, "autograder": build_autograder, "gradescope": build_gradescope}[kind]
    try:
        path = build(out, force=force)
    except (QuizDataError, SandboxError, RecordingError) as exc:
        raise ReleaseError(f"cannot build the {kind} bundle: {exc}") from None
    except OSError as exc:
        raise ReleaseError(f"cannot write {exc.filename or out}: {exc.strerror}") from None
    files = sum(1 for p in path.rglob("*") if p.is_file()) if path.is_dir() else len(zipfile.ZipFile(path).namelist())
    advice = {
        "student": "give it to learners (it holds no solution, no hidden check, no plaintext key): "
                   "`pip install ./OUT` then `vaegrade check`",
        "autograder": "STAFF ONLY: keep it where CI fetches it (see README, \"CI and pull requests\")",
        "gradescope": "upload it as the autograder of a Gradescope programming assignment",
    }[kind]
    return f"{kind} bundle: {path} ({files} files); {advice.replace('./OUT', str(path))}"


def run(*, kind: str, out: Path, force: bool = False) -> Outcome:
    try:
        return Outcome(main(kind=kind, out=out, force=force), 0)
    except ReleaseError as exc:
        raise VerbError(str(exc)) from None
