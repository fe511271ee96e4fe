"""`vaegrade similarity`: groups of learners with the same code under cosmetic changes, and an export
for MOSS, JPlag or Dolos (one folder per learner holding their files, plus the stubs as base code).

OUT/similarity.json and OUT/similarity.md list the groups (grader.grading.similarity says how a
group is told from answers that coincide by chance); OUT/similarity/submissions/<learner>/ holds
each learner's graded files and OUT/similarity/base/ the stubs, the layout these tools take:

    moss -l python -b similarity/base/*.py -d similarity/submissions/*/*.py
    java -jar jplag.jar -l python3 -bc similarity/base similarity/submissions
    dolos run -l python similarity/submissions/*/*.py
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

from grader import safetext
from grader.course import manifest
from grader.course.content import content_dir
from grader.grading import intake
from grader.grading import similarity
from grader.verbs.workspace import Outcome, VerbError


def _folder(name: str) -> Path | None:
    try:
        return content_dir(name)
    except FileNotFoundError:
        return None


def collect(submissions: Path) -> tuple[dict[str, dict[str, bytes]], list[str]]:
    """learner -> {concept file: bytes} for every submission that can be read; problems listed."""
    found = intake.discover(submissions)
    expected = {c.file for c in manifest.load()}
    files, problems = {}, [f"{learner}: {reason}" for learner, reason in found.problems]
    with tempfile.TemporaryDirectory(prefix="vaegrade-similarity-") as tmp:
        for i, entry in enumerate(found.entries):
            work = Path(tmp) / str(i)
            work.mkdir()
            try:
                prepared = intake.prepare(entry, work)
            except intake.BadSubmission as exc:
                problems.append(f"{entry.learner}: {exc}")
                continue
            files[entry.learner] = {name: (prepared.folder / name).read_bytes()
                                    for name in prepared.files if name in expected}
    return files, problems


def markdown(report: similarity.Report) -> str:
    lines = ["# Similar submissions", "", f"{report.learners} learners compared. Rule: {report.rule}.", ""]
    flagged = report.flagged
    lines.append(f"## Flagged ({len(flagged)})" if flagged else "## Flagged: none")
    lines.append("")
    for g in flagged:
        lines.append(f"- **{g.scope}**: {', '.join(g.learners)} ({g.why})")
    expected = [g for g in report.groups if not g.flagged]
    if expected:
        lines += ["", f"## Expected to coincide ({len(expected)})", ""]
        lines += [f"- {g.scope}: {len(g.learners)} learners ({g.why})" for g in expected]
    lines += ["", "Identical code is a reason to look, never a verdict: read both submissions and talk "
              "to the learners before concluding anything."]
    return "\n".join(lines) + "\n"


def export_tree(files: dict[str, dict[str, bytes]], dest: Path) -> None:
    """One folder per learner with their files, and the stubs as base code (MOSS, JPlag, Dolos)."""
    if dest.exists():
        shutil.rmtree(dest)
    for learner, theirs in files.items():
        folder = dest / "submissions" / safetext.file_stem(learner)
        folder.mkdir(parents=True)
        for name, data in theirs.items():
            (folder / name).write_bytes(data)
    stubs = _folder("exercises")
    (dest / "base").mkdir(parents=True)
    if stubs is not None:
        for concept in manifest.load():
            if (stubs / concept.file).is_file():
                shutil.copyfile(stubs / concept.file, dest / "base" / concept.file)


def main(*, submissions: Path, out: Path, min_nodes: int = similarity.MIN_NODES) -> Outcome:
    """Compare every submission in SUBMISSIONS; write the groups and the tool export to OUT."""
    if not Path(submissions).is_dir():
        raise VerbError(f"{submissions} is not a folder of submissions")
    try:
        files, problems = collect(Path(submissions))
        report = similarity.analyse(files, reference=_folder("solutions"), stubs=_folder("exercises"),
                                    min_nodes=min_nodes)
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "similarity.json").write_text(json.dumps(
            {"learners": report.learners, "rule": report.rule, "groups": [asdict(g) for g in report.groups],
             "not_compared": problems}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        (out / "similarity.md").write_text(markdown(report), encoding="utf-8")
        export_tree(files, out / "similarity")
    except OSError as exc:
        raise VerbError(f"cannot read or write ({exc.filename or ''}: {exc.strerror or exc})") from None
    text = [f"{report.learners} learners compared: {len(report.flagged)} flagged groups, "
            f"{len(report.groups) - len(report.flagged)} groups expected to coincide. "
            f"See {out / 'similarity.md'}; MOSS/JPlag/Dolos layout in {out / 'similarity'}/."]
    text += [f"  flagged {g.scope}: {', '.join(g.learners)}" for g in report.flagged[:20]]
    text += [f"  not compared: {p}" for p in problems[:20]]
    return Outcome("\n".join(text), 0)
