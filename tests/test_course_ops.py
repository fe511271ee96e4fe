"""Running a course: a batch graded under a policy (due date, late penalty, an extension, best
before the due date), hand-in times from the archive or from the LMS's CSV, and the exports every
consumer takes (grades.csv, Canvas, Moodle), checked against their importers' rules."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import cli
from grader.course import manifest
from grader.grading import quiz as quiz_lib

ROOT = Path(__file__).resolve().parent.parent
DUE = datetime(2026, 12, 2, 6, 0, tzinfo=timezone.utc)
MSE = (ROOT / "solutions" / "mse.py").read_text()
SIGMA = (ROOT / "solutions" / "sigma.py").read_text()
TOTAL = sum(c.points for c in manifest.load())


def answers(learner: str, right: int) -> str:
    quiz = quiz_lib.load_quiz(ROOT / "quizzes" / "mastery.toml")
    chosen = {q.id: quiz.answer(q) if i < right else next(o.id for o in q.options if o.id != quiz.answer(q))
              for i, q in enumerate(quiz.questions)}
    return json.dumps(quiz_lib.answers_file_dict(quiz_lib.grade(quiz, chosen, learner=learner)))


def at(path: Path, moment: datetime) -> None:
    os.utime(path, (moment.timestamp(), moment.timestamp()))


def zip_of(path: Path, files: dict[str, str], moment: datetime) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            # a member date far in the past: it must not count as the hand-in time
            zf.writestr(zipfile.ZipInfo(f"work/{name}", date_time=(2020, 1, 1, 0, 0, 0)), text)
    at(path, moment)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    base = tmp_path_factory.mktemp("course")
    folder = base / "course"
    folder.mkdir()
    (folder / "vaegrade.toml").write_text('[course]\nlesson = "Autoencoders and VAEs"\n')
    (folder / "policy.toml").write_text(
        '[policy]\ndue = "2026-12-02T06:00:00Z"\nattempt = "best_before_due"\n'
        'late = [{after = "PT0S", penalty = 0.1}, {after = "P1D", penalty = 0.5}]\nextensions = "ext.csv"\n')
    (folder / "ext.csv").write_text("learner,due\ncarol,2026-12-09T06:00:00Z\n")
    subs, out = base / "subs", base / "out"
    subs.mkdir()
    # first hand-in: alice on time with mse only, bob on time with both, carol (extension) late by the due date
    zip_of(subs / "alice.zip", {"mse.py": MSE}, DUE.replace(hour=1))
    zip_of(subs / "bob.zip", {"mse.py": MSE, "sigma.py": SIGMA, "quiz_answers.json": answers("bob", 9)},
           DUE.replace(hour=2))
    zip_of(subs / "carol.zip", {"mse.py": MSE, "quiz_answers.json": "{not json"}, DUE.replace(day=4))
    zip_of(subs / "-dave.zip", {"mse.py": MSE}, DUE.replace(day=3, hour=12))   # 30 h late: 50% off
    runner = CliRunner()
    first = runner.invoke(cli, ["--course", str(folder), "batch", str(subs), "--out", str(out), "-q"])
    # second hand-in: alice improves, but late (12 h): best before the due date keeps the first
    zip_of(subs / "alice.zip", {"mse.py": MSE, "sigma.py": SIGMA}, DUE.replace(hour=18))
    # the out folder inside SUBMISSIONS is not a learner
    inner = subs / "zz-out"
    second = runner.invoke(cli, ["--course", str(folder), "batch", str(subs), "--out", str(out), "-q"])
    third = runner.invoke(cli, ["--course", str(folder), "batch", str(subs), "--out", str(inner), "-q"])
    return {"course": folder, "subs": subs, "out": out, "first": first, "second": second, "third": third}


def rows(path: Path, encoding: str = "utf-8") -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding=encoding))))


def grades(out: Path) -> dict[str, dict]:
    return {r["learner"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}


def test_the_batch_lists_a_rejected_quiz_answers_file(course):
    first = course["first"]
    assert "rejected a file of carol: quiz answers" in first.output, first.output


def test_out_inside_submissions_is_skipped_with_a_message(course):
    third = course["third"]
    assert third.exit_code in (0, 1), third.output
    assert "zz-out (the --out folder of this batch: not a submission)" in third.output
    assert "zz-out" not in grades(course["subs"] / "zz-out")
    same = CliRunner().invoke(cli, ["batch", str(course["subs"]), "--out", str(course["subs"])])
    assert same.exit_code == 2 and "submissions folder itself" in same.output


def test_grades_csv_says_which_attempt_counts_and_why(course):
    got = grades(course["out"])
    alice, bob, carol, dave = got["alice"], got["bob"], got["carol"], got["'-dave"]   # shown, never a formula
    # alice: two attempts; the on-time one counts under best_before_due
    assert alice["exercises_total"] == "10" and alice["late_penalty"] == "0"
    assert alice["submitted_at"] == "2026-12-02T01:00:00+00:00"   # the archive's time, not the zip members'
    assert "best of 1 attempts handed in by the due date" in alice["counted_reason"]
    assert alice["counted_attempt"] and alice["policy"].startswith("attempt=best_before_due")
    assert bob["exercises_total"] == "20" and bob["quiz_score"] == "9" and bob["lesson_complete"] == "false"
    assert carol["late_penalty"] == "0" and "extension" in carol["counted_reason"]
    assert dave["late_penalty"] == "0.5" and dave["exercises_final"] == "5" and "1 d 6 h late" in dave["counted_reason"]


def test_a_submitted_at_csv_from_the_lms_overrides_the_file_time(course, tmp_path):
    stamps = tmp_path / "handed_in.csv"
    stamps.write_text("learner,submitted_at\nalice,2026-12-01T09:00:00-05:00\n")
    subs = tmp_path / "subs"
    subs.mkdir()
    zip_of(subs / "alice.zip", {"mse.py": MSE}, DUE.replace(day=20))
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["--course", str(course["course"]), "batch", str(subs), "--out", str(out),
                                      "-q", "--submitted-at", str(stamps)])
    assert result.exit_code == 0, result.output
    alice = grades(out)["alice"]
    assert alice["submitted_at"] == "2026-12-01T14:00:00+00:00" and alice["late_penalty"] == "0"
    assert not (out / "grades.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    result = CliRunner().invoke(cli, ["--course", str(course["course"]), "batch", str(subs), "--out", str(out),
                                      "-q", "--submitted-at", str(stamps), "--excel"])
    assert result.exit_code == 0 and (out / "grades.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert (out / "quiz_items.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    stamps.write_text("learner,submitted_at\nalice,yesterday\n")
    result = CliRunner().invoke(cli, ["--course", str(course["course"]), "batch", str(subs), "--out", str(out),
                                      "-q", "--submitted-at", str(stamps)])
    assert result.exit_code == 2 and "line 2" in result.output and "Traceback" not in result.output


def canvas_import_problems(table: list[list[str]]) -> list[str]:
    """Canvas's gradebook importer, as its rules read: the identity header, a Points Possible row,
    every student row matched by ID, SIS User ID or SIS Login ID, scores numeric or blank."""
    problems = []
    header = table[0]
    if header[:5] != ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]:
        problems.append("identity header")
    if table[1][0] != "Points Possible":
        problems.append("no Points Possible row")
    keys = set()
    for row in table[2:]:
        key = next((v for v in (row[1], row[2], row[3]) if v), "")
        if not key or key.startswith("'"):
            problems.append(f"row {row} cannot be matched")
        if key in keys:
            problems.append(f"two rows for {key}")
        keys.add(key)
        for cell in row[5:]:
            if cell:
                try:
                    float(cell)
                except ValueError:
                    problems.append(f"{cell!r} is not a score")
    return problems


def test_canvas_export_matches_logins_exactly_with_the_counted_grade(course, tmp_path):
    out = tmp_path / "canvas.csv"
    result = CliRunner().invoke(cli, ["--course", str(course["course"]), "export", "lms", "--out",
                                      str(course["out"]), str(out)])
    assert result.exit_code == 0, result.output
    table = rows(out)
    assert canvas_import_problems(table) == []
    people = {r[3]: r for r in table[2:]}
    assert people["-dave"][0] == "'-dave"           # display name neutralised ...
    assert people["-dave"][3] == "-dave"            # ... the login exactly as Canvas holds it
    assert people["-dave"][5] == "5"                # 10 points, 50% off
    assert people["alice"][5:] == ["10", "", "0"]
    assert people["bob"][5:] == ["20", "9", "0"]
    why = {r[0]: r for r in rows(tmp_path / "canvas.counted.csv")[1:]}
    assert why["-dave"][3] == "0.5" and "1 d 6 h late" in why["-dave"][4]


def moodle_import_problems(table: list[list[str]], map_from: str) -> list[str]:
    """Moodle's CSV grade import: one header row, the 'map from' column present and unique on every
    row, grades numeric with a '.' decimal point or blank (left unchanged)."""
    problems = []
    header = table[0]
    if len(set(header)) != len(header):
        problems.append("duplicate header")
    if map_from not in header:
        return ["no identity column " + map_from]
    col = header.index(map_from)
    seen = set()
    for row in table[1:]:
        if len(row) != len(header):
            problems.append("ragged row")
        if not row[col] or row[col] in seen:
            problems.append(f"identity {row[col]!r} missing or repeated")
        seen.add(row[col])
        for cell in row[5:]:
            if cell and not cell.replace(".", "", 1).isdigit():
                problems.append(f"{cell!r} is not a grade")
    return problems


def test_moodle_export_with_a_roster_and_excel_encoding(course, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("learner,Email address,Username,ID number,First name,Last name\n"
                      "alice,alice@uni.example,alice,1001,Zoë,Ørsted\n-dave,dave@uni.example,-dave,1004,=Dave,D\n",
                      encoding="utf-8")
    out = tmp_path / "moodle.csv"
    result = CliRunner().invoke(cli, ["--course", str(course["course"]), "export", "moodle", "--out",
                                      str(course["out"]), str(out), "--roster", str(roster), "--excel"])
    assert result.exit_code == 0, result.output
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")                        # the byte order mark Excel needs
    table = rows(out, "utf-8-sig")
    assert table[0] == ["Email address", "Username", "ID number", "First name", "Last name",
                        "VAE exercises", "VAE mastery quiz", "VAE lesson complete"]
    assert moodle_import_problems(table, "Username") == []
    people = {r[1]: r for r in table[1:]}
    assert people["alice"][:5] == ["alice@uni.example", "alice", "1001", "Zoë", "Ørsted"]
    assert people["-dave"][1] == "-dave" and people["-dave"][3] == "'=Dave"
    assert people["bob"][1] == "bob" and people["bob"][0] == ""   # not on the roster: the learner id as Username
    assert (tmp_path / "moodle.counted.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_the_class_report_shows_the_counted_attempts(course, tmp_path):
    page = tmp_path / "class.html"
    result = CliRunner().invoke(cli, ["--course", str(course["course"]), "report", "--class", str(course["out"]),
                                      "--out", str(page)])
    assert result.exit_code == 0, result.output
    text = page.read_text(encoding="utf-8")
    assert "the attempt the course policy counts (attempt=best_before_due" in text
    # alice's later, better attempt was late: the roster shows the counted one (10), not the latest (20)
    grid = text[text.index('<th scope="row" data-sort="alice">'):]
    assert grid.split("</th>", 1)[1].lstrip().startswith('<td class="num" data-sort="10.0000">10</td>')  # total
    roster = text[text.index('<td data-sort="alice">'):]
    roster = roster[:roster.index("</tr>")]
    assert ">10 / 80<" in roster and ">20 / 80<" not in roster
