"""Golden cases in Exercism's style: each folder under tests/golden/ holds a submission and the
expected outputs of `vaegrade grade` with a pinned seed, so any change to what a learner or a
tool reads shows up in review as a diff of those files.

    tests/golden/<case>/submission/   the learner's files
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
from pathlib import Path

import pytest

from grader.grading.runner import grade_submission
from grader.outputs import text as formats

GOLDEN = Path(__file__).resolve().parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if (p / "submission").is_dir())
UPDATE = os.environ.get("VAEGRADE_UPDATE_GOLDEN") == "1"


def normalise_table(text: str) -> str:
    """What varies from run to run (time taken) is blanked; everything else must match."""
    return re.sub(r", \d+\.\d s$", ", <seconds> s", text, flags=re.M)


def normalise_results(data: dict) -> dict:
    data = dict(data, execution_time="<seconds>")
    data["extra_data"] = dict(data["extra_data"], submission="<submission>")
    return data


def test_there_are_golden_cases():
    assert len(CASES) >= 3


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case, zygote):
    folder = GOLDEN / case
    seed = int((folder / "seed").read_text())
    result = grade_submission(folder / "submission", seed=seed, zygote=zygote, parallel=2)
    table = normalise_table(formats.to_table(result, verbose=True, width=100)) + "\n"
    results = json.dumps(normalise_results(result.to_gradescope_dict()), indent=2, sort_keys=True) + "\n"
    if UPDATE:
        (folder / "table.txt").write_text(table)
        (folder / "results.json").write_text(results)
    assert table == (folder / "table.txt").read_text()
    assert results == (folder / "results.json").read_text()
