"""`vaegrade batch`: a class of folders and archives, bad inputs reported, reruns, and SIGKILL mid-run."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.course import manifest
from grader.cli import cli
from grader.store.gradebook import Gradebook

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
FULL = sum(c.points for c in manifest.load())
LOOP = "def reconstruction_mse(x, x_hat):\n    while True:\n        pass\n"


def solution_files(tag: str = "") -> dict[str, str]:
    return {p.name: p.read_text() + (f"\n# {tag}\n" if tag else "") for p in sorted(SOLUTIONS.glob("*.py"))}


def write_folder(path: Path, files: dict[str, str]) -> None:
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)


def make_class(subs: Path) -> None:
    """alice: folder, full marks; bob: zip with a nested folder, one slip; carol: tar.gz of the stubs
    plus a PDF; eve: an infinite loop in mse; then four submissions that cannot be graded."""
    write_folder(subs / "alice", solution_files())
    bob = solution_files()
    bob["mse.py"] = bob["mse.py"].replace("np.mean((x - x_hat) ** 2)", "np.sum((x - x_hat) ** 2)")
    with zipfile.ZipFile(subs / "bob.zip", "w") as zf:
        for name, text in bob.items():
            zf.writestr(f"bob-submission/{name}", text)
    with tarfile.open(subs / "carol.tar.gz", "w:gz") as tf:
        for p in sorted(EXERCISES.glob("*.py")):
            tf.add(p, arcname=p.name)
        info = tarfile.TarInfo("report.pdf")
        info.size = 4
        tf.addfile(info, io.BytesIO(b"%PDF"))
    write_folder(subs / "eve", {**solution_files(), "mse.py": LOOP})
    (subs / "mallory.zip").write_bytes(b"PK\x03\x04 not a zip at all" * 20)
    with tarfile.open(subs / "trudy.tar.gz", "w:gz") as tf:
        info = tarfile.TarInfo("../../escaped.py")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    (subs / "oscar").mkdir()
    write_folder(subs / "peggy", {"notes.txt": "I did not get to the code"})


GOOD = ["alice", "bob", "carol", "eve"]
BAD = {"mallory": "corrupt", "trudy": "leads out", "oscar": "empty", "peggy": "no Python file"}


def batch(subs: Path, out: Path, *args: str):
    return CliRunner().invoke(cli, ["batch", str(subs), "--out", str(out), "-j", "2", "--time-limit", "2", *args])


def read_rows(out: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO((out / "grades.csv").read_text())))


def attempts(out: Path) -> dict[str, int]:
    with Gradebook(out / "gradebook.sqlite") as book:
        return dict(book.db.execute("SELECT learner, COUNT(*) FROM attempts WHERE kind = 'exercises' GROUP BY learner"))


@pytest.fixture(scope="module")
def first(tmp_path_factory):
    base = tmp_path_factory.mktemp("class")
    make_class(base / "subs")
    result = batch(base / "subs", base / "out")
    return base, result


def test_first_run_grades_everyone_and_reports_bad_inputs(first):
    base, result = first
    assert result.exit_code == 1, result.output   # some submissions could not be graded
    assert "8 submissions: 4 graded, 0 unchanged" in result.stdout and "4 could not be graded" in result.stdout
    for learner, words in BAD.items():
        assert f"could not grade {learner}:" in result.stdout and words in result.stdout
    assert "ETA" in result.stderr and "/s" in result.stderr   # the progress bar
    assert not (base / "escaped.py").exists() and not (base / "subs" / "escaped.py").exists()


def test_grades_csv_has_one_row_per_learner(first):
    base, _ = first
    rows = {r["learner"]: r for r in read_rows(base / "out")}
    assert sorted(rows) == sorted(GOOD + list(BAD))
    alice, bob, carol, eve = (rows[k] for k in GOOD)
    assert (alice["exercises_total"], alice["exercises_max"], alice["exercises_passed"]) == (f"{FULL:g}", f"{FULL:g}", "true")
    assert float(bob["mse"]) < 10 and bob["sigma"] == "10" and bob["exercises_passed"] == "true"
    assert carol["exercises_total"] == "0" and carol["exercises_passed"] == "false"
    assert eve["mse"] == "0" and eve["kl"] == "10"   # the loop stopped by the time limit; the rest graded
    for learner, words in BAD.items():
        assert rows[learner]["exercises_total"] == "" and words in rows[learner]["problem"]
    assert all(r["quiz_score"] == "" and r["lesson_complete"] == "false" for r in rows.values())


def test_results_json_per_graded_learner(first):
    base, _ = first
    results = base / "out" / "results"
    assert sorted(os.listdir(results)) == sorted(f"{k}.json" for k in GOOD)
    eve = json.loads((results / "eve.json").read_text())
    assert eve["max_score"] == FULL and set(eve["concepts"]) == {c.id for c in manifest.load()}
    assert "time limit" in eve["concepts"]["mse"]["note"]
    assert all({"name", "score", "max_score", "status", "output"} <= set(t) for t in eve["tests"])
    carol = json.loads((results / "carol.json").read_text())
    assert carol["extra_data"]["ignored_files"] == ["report.pdf"] and carol["extra_data"]["learner"] == "carol"
    bob = json.loads((results / "bob.json").read_text())
    assert any("mse" in t["tags"] and t["status"] == "failed" for t in bob["tests"])


def test_every_attempt_is_in_the_gradebook_with_its_checks(first):
    base, _ = first
    with Gradebook(base / "out" / "gradebook.sqlite") as book:
        [alice] = book.attempts("alice", "exercises")
        assert len(alice.content_hash) == 64 and alice.seed is not None and alice.grader_version
        checks = book.latest("alice", "exercises").result.checks
        assert {c.concept for c in checks} == {c.id for c in manifest.load()}
        assert all(c.status == "passed" for c in checks)
        reasons = {learner: reason for learner, _, reason in book.problems()}
        assert set(reasons) == set(BAD)


def test_rerun_skips_unchanged_and_force_regrades(first, tmp_path):
    base, _ = first
    out, subs = tmp_path / "out", tmp_path / "subs"
    shutil.copytree(base / "out", out)
    shutil.copytree(base / "subs", subs)
    with Gradebook(out / "gradebook.sqlite") as book:
        problems_before = len(book.problems())
    again = batch(subs, out)
    assert "0 graded, 4 unchanged since graded" in again.stdout, again.output
    assert attempts(out) == dict.fromkeys(GOOD, 1)
    with Gradebook(out / "gradebook.sqlite") as book:
        assert len(book.problems()) == problems_before   # the same problems are not reported twice
    (subs / "alice" / "sigma.py").write_text((EXERCISES / "sigma.py").read_text())   # alice changes one file
    changed = batch(subs, out)
    assert "1 graded, 3 unchanged" in changed.stdout, changed.output
    assert {r["learner"]: r["sigma"] for r in read_rows(out)}["alice"] == "0"
    forced = batch(subs, out, "--force")
    assert "4 graded, 0 unchanged" in forced.stdout, forced.output
    assert attempts(out) == {"alice": 3, "bob": 2, "carol": 2, "eve": 2}
    rows = read_rows(out)
    assert len(rows) == len({r["learner"] for r in rows}) == len(GOOD) + len(BAD)


def test_a_fixed_submission_clears_its_problem(first, tmp_path):
    base, _ = first
    out, subs = tmp_path / "out", tmp_path / "subs"
    shutil.copytree(base / "out", out)
    subs.mkdir()
    write_folder(subs / "oscar", {"mse.py": (SOLUTIONS / "mse.py").read_text()})
    result = batch(subs, out)
    assert result.exit_code == 0, result.output
    oscar = {r["learner"]: r for r in read_rows(out)}["oscar"]
    assert oscar["mse"] == "10" and oscar["problem"] == ""


# --- bad arguments: exit 2, a message, no traceback ----------------------------------------------------


def test_missing_submissions_folder_is_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["batch", str(tmp_path / "nope"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_output_that_is_a_file_is_exit_2(tmp_path):
    (tmp_path / "subs").mkdir()
    (tmp_path / "out").write_text("")
    result = CliRunner().invoke(cli, ["batch", str(tmp_path / "subs"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output


def test_two_batches_on_one_output_folder_are_refused(tmp_path):
    from grader.verbs.batch import BatchError, _lock

    (tmp_path / "subs").mkdir()
    (tmp_path / "out").mkdir()
    held = _lock(tmp_path / "out")
    try:
        with pytest.raises(BatchError, match="another"):
            _lock(tmp_path / "out")
        result = CliRunner().invoke(cli, ["batch", str(tmp_path / "subs"), "--out", str(tmp_path / "out")])
        assert result.exit_code == 2 and "another" in result.output
    finally:
        held.close()


def test_not_a_gradebook_is_exit_2(tmp_path):
    (tmp_path / "subs").mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "gradebook.sqlite").write_bytes(b"this is not a database" * 100)
    result = CliRunner().invoke(cli, ["batch", str(tmp_path / "subs"), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "gradebook" in result.output and "Traceback" not in result.output


# --- nothing lost: SIGKILL mid-run, then run again ----------------------------------------------------------


def _children(pid: int) -> list[int]:
    """Every process below `pid`: worker processes, their warm sandboxes and those sandboxes' children."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            tids = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{current}/task/{tid}/children") as f:
                    kids = [int(p) for p in f.read().split()]
            except OSError:
                continue
            found += kids
            todo += kids
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1].split()[0] != "Z"
    except OSError:
        return False


def _count(gradebook: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{gradebook}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def _start(subs: Path, out: Path, jobs: int = 1) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grader", "batch", str(subs), "--out", str(out), "-j", str(jobs),
                             "-q", "--time-limit", "10"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill_after(subs: Path, out: Path, attempts_seen: int, jobs: int = 1) -> int:
    """Start a batch, SIGKILL it once the gradebook holds `attempts_seen` attempts; every process it
    started (worker processes, warm sandboxes, their children) must die too."""
    proc = _start(subs, out, jobs)
    deadline = time.monotonic() + 120
    workers: set[int] = set()
    while _count(out / "gradebook.sqlite") < attempts_seen:
        assert proc.poll() is None, "the batch finished before it could be killed"
        assert time.monotonic() < deadline
        workers.update(_children(proc.pid))
        time.sleep(0.01)
    workers.update(_children(proc.pid))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert workers, "the batch had started no sandbox"
    stop = time.monotonic() + 15
    while any(_alive(p) for p in workers) and time.monotonic() < stop:
        time.sleep(0.05)
    assert not any(_alive(p) for p in workers), "a sandbox process outlived the killed batch"
    return _count(out / "gradebook.sqlite")


def test_sigkill_mid_batch_then_rerun_loses_nothing(tmp_path):
    subs, out = tmp_path / "subs", tmp_path / "out"
    learners = [f"learner{i}" for i in range(7)]
    subs.mkdir()
    for i, learner in enumerate(learners):
        files = solution_files(learner)
        if i % 3 == 1:
            with zipfile.ZipFile(subs / f"{learner}.zip", "w") as zf:
                for name, text in files.items():
                    zf.writestr(name, text)
        else:
            write_folder(subs / learner, files)

    first = _kill_after(subs, out, 2)
    assert 2 <= first < len(learners)
    second = _kill_after(subs, out, first + 2)   # killed again, further on
    assert first + 2 <= second < len(learners)
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        orphans = db.execute("SELECT COUNT(*) FROM check_results WHERE attempt_seq NOT IN (SELECT seq FROM attempts)")
        assert orphans.fetchone()[0] == 0   # no half-written attempt

    final = subprocess.run([sys.executable, "-m", "grader", "batch", str(subs), "--out", str(out), "-j", "2", "-q",
                            "--time-limit", "10"], capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stdout + final.stderr
    assert f"{len(learners) - second} graded, {second} unchanged" in final.stdout
    rows = read_rows(out)
    assert sorted(r["learner"] for r in rows) == learners   # everyone exactly once
    assert all(r["exercises_total"] == f"{FULL:g}" for r in rows)
    assert attempts(out) == dict.fromkeys(learners, 1)       # and graded exactly once
    assert sorted(os.listdir(out / "results")) == [f"{k}.json" for k in learners]
    for name in os.listdir(out / "results"):
        json.loads((out / "results" / name).read_text())    # whole files only
    assert not (out / ".tmp").exists()
    assert sorted(p for p in os.listdir(out) if not p.startswith("gradebook.sqlite")) == [
        ".lock", "grades.csv", "quiz_items.csv", "results"]


def test_sigkill_of_a_batch_with_worker_processes_takes_every_process_it_started(tmp_path):
    # Two workers are processes, each with a warm sandbox: all of them end with the killed batch.
    subs, out = tmp_path / "subs", tmp_path / "out"
    learners = [f"learner{i}" for i in range(10)]
    for learner in learners:
        write_folder(subs / learner, solution_files(learner))
    seen = _kill_after(subs, out, 2, jobs=2)
    assert 2 <= seen < len(learners)
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
