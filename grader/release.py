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
import os
import shutil
import stat
import tempfile
import tomllib
import zipfile
from pathlib import Path

import grader
from grader.content import content_dir

PACKAGE = Path(grader.__file__).resolve().parent
CHECKOUT = PACKAGE.parent if (PACKAGE.parent / "pyproject.toml").is_file() else None
WORKFLOW = Path(".github") / "workflows" / "grade.yml"
TORCH_PIN = "torch==2.13.0"
TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
CONTENT = {"exercises": "grader._content.exercises", "solutions": "grader._content.solutions",
           "quizzes": "grader._content.quizzes", "site": "grader._content.site"}
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "_content", "BUNDLE.toml", ".*")


class ReleaseError(Exception):
    """A bundle cannot be built (OUT exists, content missing): exit status 2."""


# --- public checks, replayed ---------------------------------------------------------------
#
# A learner's copy must not hold the hidden checks, nor the reference computations the
# checks use to know the right values (those are the solutions in another form). So at
# release time every public check runs once against the reference solutions, with a fixed
# seed, through a Submission that records each request and the reference's reply; the
# learner's copy replays those requests against the learner's code and compares the replies.

RELEASE_SEED = 20240917


def _encode(value):
    """Check arguments and replies as tagged JSON (arrays keep their dtype and shape)."""
    import numpy as np

    from grader.checks import Opaque, T, TensorValue
    from grader.runner import Raised

    if isinstance(value, T):
        return {"T": _encode(np.asarray(value.value, dtype=value.dtype)), "grad": value.grad, "dtype": value.dtype}
    if isinstance(value, TensorValue):
        return {"tensor": _encode(value.array), "requires_grad": value.requires_grad, "grad_fn": value.has_grad_fn}
    if isinstance(value, Raised):
        return {"raised": value.type_name, "bases": list(value.bases)}
    if isinstance(value, Opaque):
        return {"opaque": value.type_name}
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": str(value.dtype), "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"tuple": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {"dict": {k: _encode(v) for k, v in value.items()}}
    return value


def _decode(data):
    import numpy as np

    from grader.checks import Opaque, T, TensorValue
    from grader.runner import Raised

    if isinstance(data, list):
        return [_decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if "array" in data:
        return np.array(data["array"], dtype=data["dtype"]).reshape(data["shape"])
    if "T" in data:
        return T(_decode(data["T"]), grad=data["grad"], dtype=data["dtype"])
    if "tensor" in data:
        return TensorValue(_decode(data["tensor"]), data["requires_grad"], data["grad_fn"])
    if "raised" in data:
        return Raised(data["raised"], "", None, tuple(data["bases"]))
    if "opaque" in data:
        return Opaque(data["opaque"], "")
    if "tuple" in data:
        return tuple(_decode(v) for v in data["tuple"])
    return {k: _decode(v) for k, v in data["dict"].items()}


def record_public_checks(solutions: Path) -> dict[str, list[dict]]:
    """Run every public check against the reference solutions; the requests and replies, per concept."""
    import numpy as np

    from grader import manifest
    from grader.checks import Fail, checks_for
    from grader.config import Limits
    from grader.runner import Raised, Submission, _ConceptRun, stage
    from grader.sandbox.session import Zygote

    class Recorder(Submission):
        def __init__(self, *args):
            super().__init__(*args)
            self.steps = []

        def call(self, func, *args, **kwargs):
            got = self._record("call", func, args, kwargs, super().outcome(func, *args, **kwargs))
            if isinstance(got, Raised):
                raise Fail(self._raised_feedback(func, got), "code.exception")
            return got

        def outcome(self, func, *args, **kwargs):
            return self._record("call", func, args, kwargs, super().outcome(func, *args, **kwargs))

        def grad(self, func, args, kwargs, weights):
            got = super().grad(func, args, kwargs, weights)
            self.steps.append({"kind": "grad", "function": func, "args": _encode(list(args)),
                               "kwargs": _encode(dict(kwargs)), "weights": _encode(list(weights)),
                               "reply": _encode(got)})
            return got

        def repeat(self, func, times, *args, **kwargs):
            raise ReleaseError(f"public check of {self.concept.id} samples at random (sub.repeat): "
                               "a learner's copy cannot replay it")

        def train_vae(self, func, payload):
            raise ReleaseError(f"public check of {self.concept.id} trains the TinyVAE: a learner's copy "
                               "cannot replay it")

        def _record(self, kind, func, args, kwargs, got):
            self.steps.append({"kind": kind, "function": func, "args": _encode(list(args)),
                               "kwargs": _encode(dict(kwargs)), "reply": _encode(got)})
            return got

    recorded = {}
    with tempfile.TemporaryDirectory(prefix="vaegrade-release-") as staging:
        os.chmod(staging, 0o755)
        stage(solutions, Path(staging))
        zygote = Zygote()
        try:
            for index, concept in enumerate(manifest.load()):
                run = _ConceptRun(zygote, staging, concept, Limits())
                recorded[concept.id] = []
                try:
                    for number, chk in enumerate(checks_for(concept.id)):
                        if not chk.public:
                            continue
                        sub = Recorder(run, concept, True)
                        try:
                            chk.run(sub, np.random.default_rng([RELEASE_SEED, index, number]))
                        except Fail as fail:
                            raise ReleaseError(f"the reference solution fails the public check "
                                               f"{concept.id}: {chk.name}: {fail.message}") from None
                        recorded[concept.id].append({"name": chk.name, "function": chk.function,
                                                     "weight": chk.weight, "steps": sub.steps})
                finally:
                    run.close()
        finally:
            zygote.close()
    return recorded


def _same(got, expected) -> bool:
    import numpy as np

    from grader.checks import Opaque, TensorValue, close
    from grader.runner import Raised

    if isinstance(expected, Raised):
        return isinstance(got, Raised) and expected.type_name in got.bases
    if isinstance(got, (Raised, Opaque)) or got is None or expected is None:
        return got is None and expected is None
    if isinstance(expected, (tuple, list)) and not isinstance(got, (np.ndarray, TensorValue)):
        return (isinstance(got, (tuple, list)) and len(got) == len(expected)
                and all(_same(g, e) for g, e in zip(got, expected)))
    if isinstance(expected, bool):
        return isinstance(got, bool) and got == expected
    if isinstance(expected, int) and not isinstance(got, (float, np.ndarray, TensorValue)):
        return isinstance(got, int) and not isinstance(got, bool) and got == expected
    try:
        got = got.array if isinstance(got, TensorValue) else got
        expected = expected.array if isinstance(expected, TensorValue) else expected
        return not isinstance(got, bool) and close(np.asarray(got, dtype=np.float64), expected)
    except (TypeError, ValueError):
        return False


def _show(value) -> str:
    from grader.checks import describe, fmt
    from grader.runner import Raised

    if isinstance(value, Raised):
        return f"raises {value.type_name}"
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_show(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    try:
        return fmt(value.array if hasattr(value, "array") else value)
    except (TypeError, ValueError):
        return describe(value)


def _replay_step(sub, step: dict, hint: str) -> None:
    from grader.checks import Fail
    from grader.runner import Raised

    func, args, kwargs = step["function"], _decode(step["args"]), _decode(step["kwargs"])
    call = f"{func}({', '.join([_show(a.value if hasattr(a, 'value') else a) for a in args] + [f'{k}={_show(v)}' for k, v in kwargs.items()])})"
    expected = _decode(step["reply"])
    if step["kind"] == "grad":
        got = sub.grad(func, args, kwargs, _decode(step["weights"]))
        if not _same(got, expected):
            raise Fail(f"{call}: the value or the gradients differ from the reference's "
                       f"(gradients {_show(got[1])}, expected {_show(expected[1])}).{hint}")
        return
    got = sub.outcome(func, *args, **kwargs)
    if isinstance(got, Raised) and not isinstance(expected, Raised):
        raise Fail(sub._raised_feedback(func, got), "code.exception")
    if not _same(got, expected):
        if isinstance(expected, Raised):
            raise Fail(f"{call} should raise {expected.type_name}, but it {_show(got)}.{hint}")
        raise Fail(f"{call} returned {_show(got)}; the right value is {_show(expected)}.{hint}")


def replay_checks(concept_id: str) -> list:
    """The public checks of a learner's copy, from grader/checks/<id>.public.json."""
    import json

    from grader import manifest
    from grader.checks import Check

    data = json.loads((PACKAGE / "checks" / f"{concept_id}.public.json").read_text(encoding="utf-8"))
    concept = manifest.by_id(concept_id)
    hint = f" Hint: {concept.hints[0]}" if concept.hints else ""

    def make(entry):
        def run(sub, rng):
            for step in entry["steps"]:
                _replay_step(sub, step, hint)
        return Check(entry["name"], entry["function"], entry["weight"], True, run)

    return [make(entry) for entry in data["checks"]]


REPLAY_MODULE = '''"""Public checks for `{id}` (learner copy): the lesson's worked examples.

Built by `vaegrade release student`: the checks replay the inputs of the public checks and
compare your replies with the reference's, recorded when the course was released. The
hidden checks, which decide the grade, are not in this copy.
"""

from grader.release import replay_checks

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
    site = _content("site")
    shutil.copytree(site, root / "site", ignore=_SKIP)
    if CHECKOUT is not None and (CHECKOUT / WORKFLOW).is_file():
        (root / WORKFLOW).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(CHECKOUT / WORKFLOW, root / WORKFLOW)


def _staff_quiz() -> Path:
    from grader.quizdata import STAFF_FILE

    path = _content("quizzes") / STAFF_FILE
    if not path.is_file():
        raise ReleaseError(f"the staff quiz {path} is missing: build releases from the course repository")
    return path


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

AUTOGRADER_README = """\
# vae-grader: autograder bundle (STAFF ONLY)

This bundle holds the hidden checks, the reference solutions and the quiz's
answer key. Never publish it where learners can read it. CI installs it to
grade pull requests (`pip install . && vaegrade ci`); see the course
repository's README, "CI and pull requests", for where to keep it.
"""


def build_student(out: Path, *, force: bool = False) -> Path:
    from grader.quizdata import LEARNER_FILE, build_learner_copy

    out = _prepare(out, force)
    staff_quiz = _staff_quiz()
    with tempfile.TemporaryDirectory(prefix="vaegrade-release-", dir=out.parent) as tmp:
        root = Path(tmp) / "bundle"
        _copy_common(root, "student")
        import json

        # Staff-only: the reviewed equivalent mutants quote lines of the reference solutions.
        (root / "grader" / "checks" / "equivalent_mutants.toml").unlink(missing_ok=True)
        for concept_id, checks in record_public_checks(_content("solutions")).items():
            folder = root / "grader" / "checks"
            (folder / f"{concept_id}.py").write_text(REPLAY_MODULE.format(id=concept_id), encoding="utf-8")
            (folder / f"{concept_id}.public.json").write_text(
                json.dumps({"concept": concept_id, "seed": RELEASE_SEED, "checks": checks}, indent=1) + "\n",
                encoding="utf-8")
        build_learner_copy(staff_quiz, root / "quizzes" / LEARNER_FILE)
        (root / "README.md").write_text(STUDENT_README.format(torch=TORCH_PIN, index=TORCH_INDEX), encoding="utf-8")
        (root / ".gitignore").write_text("__pycache__/\n*.egg-info/\nbuild/\n.vaegrade/\nvaegrade-results/\n",
                                         encoding="utf-8")
        (root / "pyproject.toml").write_text(_pyproject(
            root, "student", "Exercises, public checks and the mastery quiz for the lesson 'Autoencoders and VAEs'."),
            encoding="utf-8")
        root.rename(out)
    return out


def build_autograder(out: Path, *, force: bool = False) -> Path:
    from grader.quizdata import LEARNER_FILE, build_learner_copy

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
{{"score": 0.0, "output": "The autograder could not grade this submission (vaegrade exit status $status). Check that you uploaded the exercise files (mse.py, sigma.py, ...) and contact course staff if this persists.", "visibility": "visible", "stdout_visibility": "hidden", "tests": []}}
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
    from grader.quizdata import QuizDataError
    from grader.sandbox.session import SandboxError

    build = {"student": build_student, "autograder": build_autograder, "gradescope": build_gradescope}[kind]
    try:
        path = build(out, force=force)
    except (QuizDataError, SandboxError) as exc:
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
