"""Golden cases in Exercism's style: each folder under tests/golden/ holds a submission and the
expected outputs of `vaegrade grade` with a pinned seed, so any change to what a learner or a
tool reads shows up in review as a diff of those files.

    tests/golden/<case>/case.toml     where the submission starts from: `base` (solutions/ or exercises/,
                                      optional), `keep` (only these files of the base)
    tests/golden/<case>/submission/   the learner's own files, over the base (optional)
    tests/golden/<case>/seed          the pinned seed
    tests/golden/<case>/table.txt     the terminal table (`grade -v`)
    tests/golden/<case>/results.json  Gradescope's results.json (`grade --format json`)

After a deliberate change, rewrite the expected files with
`VAEGRADE_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tomllib
from pathlib import Path

import pytest

from grader.grading.runner import grade_submission
from grader.outputs import text as formats

GOLDEN = Path(__file__).resolve().parent / "golden"
ROOT = GOLDEN.parent.parent
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "case.toml").is_file())
UPDATE = os.environ.get("VAEGRADE_UPDATE_GOLDEN") == "1"


def normalise_table(text: str) -> str:
    """What varies from run to run (time taken) is blanked; everything else must match."""
    return re.sub(r", \d+\.\d s$", ", <seconds> s", text, flags=re.M)


def normalise_results(data: dict) -> dict:
    data = dict(data, execution_time="<seconds>")
    data["extra_data"] = dict(data["extra_data"], submission="<submission>")
    return data


def test_there_are_golden_cases():
    assert len(CASES) >= 4


def build_submission(folder: Path, dest: Path) -> Path:
    """The case's submission: the chosen files of its base folder, then its own files over them."""
    case = tomllib.loads((folder / "case.toml").read_text())
    dest.mkdir()
    if case.get("base"):
        base = ROOT / case["base"]
        for name in case.get("keep") or sorted(p.name for p in base.glob("*.py")):
            shutil.copyfile(base / name, dest / name)
    if (folder / "submission").is_dir():
        for path in (folder / "submission").iterdir():
            shutil.copyfile(path, dest / path.name)
    return dest


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case, zygote, tmp_path):
    folder = GOLDEN / case
    seed = int((folder / "seed").read_text())
    submission = build_submission(folder, tmp_path / "submission")
    result = grade_submission(submission, seed=seed, zygote=zygote)
    table = normalise_table(formats.to_table(result, verbose=True, width=100)) + "\n"
    results = json.dumps(normalise_results(result.to_gradescope_dict()), indent=2, sort_keys=True) + "\n"
    if UPDATE:
        (folder / "table.txt").write_text(table)
        (folder / "results.json").write_text(results)
    assert table == (folder / "table.txt").read_text()
    assert results == (folder / "results.json").read_text()
