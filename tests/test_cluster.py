"""`vaegrade batch --scheduler`: a class graded on a real Dask LocalCluster of worker processes on loopback.

Same grades as a local batch; a worker SIGKILLed mid-task loses nothing and records
nothing twice; the client SIGKILLed and rerun finishes exactly once; a scheduler that
goes away ends the run with a message and a consistent gradebook; Ctrl-C stops it;
a worker whose sandbox cannot hold a required layer refuses its tasks.
"""

from __future__ import annotations

import re

import csv
import dataclasses
import io
import json
import os
import pickle
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from nbformat import v4

try:
    import distributed
except ImportError:
    if os.environ.get("CI"):
        raise   # CI installs the `cluster` extra: these tests must run there
    pytest.skip("distributed is not installed (pip install '.[cluster]')", allow_module_level=True)

from grader.cli import cli
from grader.course import manifest
from grader.grading import cluster as dask_grading
from grader.grading import intake, quiz
from grader.grading.runner import derive_seed, grade_submission
from grader.grading.work import Outcome, Settings, make_task
from grader.sandbox.doctor import REQUIRED
from grader.settings import Limits
from grader.store.gradebook import Gradebook
from grader.verbs.batch import run_batch

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS, EXERCISES = ROOT / "solutions", ROOT / "exercises"
FULL = sum(c.points for c in manifest.load())
LOOP = "def reconstruction_mse(x, x_hat):\n    while True:\n        pass\n"


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    return env


@pytest.fixture(scope="module")
def cluster():
    """Two single-thread worker processes (each with its nanny) and a scheduler, on loopback."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as local:
        with distributed.Client(local, set_as_default=False) as client:
            yield local.scheduler_address, client


def solution_files(tag: str = "") -> dict[str, str]:
    return {p.name: p.read_text() + (f"\n# {tag}\n" if tag else "") for p in sorted(SOLUTIONS.glob("*.py"))}


def write_folder(path: Path, files: dict[str, str]) -> None:
    path.mkdir(parents=True)
    for name, text in files.items():
        (path / name).write_text(text)


def answers(learner: str, right: int) -> str:
    staff = quiz.load_quiz()
    chosen = {}
    for i, q in enumerate(staff.questions):
        option = staff.answer(q) if i < right else next(o.id for o in q.options if o.id != staff.answer(q))
        chosen[q.id] = quiz.letter_of(staff, learner, q, option)
    return json.dumps({"quiz": staff.id, "learner": learner, "answers": chosen})


def make_class(subs: Path) -> None:
    """alice: folder, full marks, quiz answers; bob: zip, one slip; eve: an infinite loop in mse;
    oscar: only quiz answers; mallory: not a zip; nora: a notebook missing one concept."""
    write_folder(subs / "alice", {**solution_files(), "quiz_answers.json": answers("alice", 9)})
    bob = solution_files()
    bob["mse.py"] = bob["mse.py"].replace("np.mean((x - x_hat) ** 2)", "np.sum((x - x_hat) ** 2)")
    with zipfile.ZipFile(subs / "bob.zip", "w") as zf:
        for name, text in bob.items():
            zf.writestr(f"bob-submission/{name}", text)
    write_folder(subs / "eve", {**solution_files(), "mse.py": LOOP})
    write_folder(subs / "oscar", {"quiz_answers.json": answers("oscar", 4)})
    (subs / "mallory.zip").write_bytes(b"PK\x03\x04 not a zip at all" * 20)
    cells = [v4.new_code_cell(text) for text in solution_files().values()]   # nora: a notebook on its own
    cells[0] = v4.new_code_cell("print('my notes')")                         # without the first concept
    nbformat.write(v4.new_notebook(cells=[v4.new_markdown_cell("# VAE")] + cells), subs / "nora.ipynb")


def same_class(subs: Path, learners: list[str]) -> None:
    subs.mkdir()
    for i, learner in enumerate(learners):
        files = solution_files(learner)
        if i % 2:
            with zipfile.ZipFile(subs / f"{learner}.zip", "w") as zf:
                for name, text in files.items():
                    zf.writestr(name, text)
        else:
            write_folder(subs / learner, files)


def rows(out: Path) -> dict[str, dict]:
    return {r["learner"]: r for r in csv.DictReader(io.StringIO((out / "grades.csv").read_text()))}


def attempts(out: Path, kind: str = "exercises") -> dict[str, int]:
    with Gradebook(out / "gradebook.sqlite") as book:
        return dict(book.db.execute("SELECT learner, COUNT(*) FROM attempts WHERE kind = ? GROUP BY learner", (kind,)))


def count(gradebook: Path) -> int:
    try:
        db = sqlite3.connect(f"file:{gradebook}?mode=ro", uri=True, timeout=1)
        try:
            return db.execute("SELECT COUNT(*) FROM attempts WHERE kind = 'exercises'").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def consistent(gradebook: Path) -> None:
    with sqlite3.connect(gradebook) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        orphans = db.execute("SELECT COUNT(*) FROM check_results WHERE attempt_seq NOT IN (SELECT seq FROM attempts)")
        assert orphans.fetchone()[0] == 0


def start_batch(subs: Path, out: Path, scheduler: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "grader", "batch", str(subs), "--out", str(out),
                             "--scheduler", scheduler, "--time-limit", "10", *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env(), cwd=ROOT)


def wait_for_attempts(out: Path, proc: subprocess.Popen, n: int, seconds: float = 240) -> int:
    deadline = time.monotonic() + seconds
    while (seen := count(out / "gradebook.sqlite")) < n:
        assert proc.poll() is None, f"the batch ended before {n} attempts: {proc.communicate()}"
        assert time.monotonic() < deadline, "the batch made no progress"
        time.sleep(0.05)
    return seen


# --- plain data on the wire -----------------------------------------------------------------------------


def test_tasks_and_results_are_plain_picklable_data(tmp_path):
    write_folder(tmp_path / "sub", solution_files())
    (tmp_path / "work").mkdir()
    prepared = intake.prepare(intake.Entry("ada", tmp_path / "sub", "folder"), tmp_path / "work")
    task = make_task("ada", prepared, course_key=b"k", limits=Limits(), pass_fraction=0.75)
    assert set(task.files) == set(prepared.files) and all(isinstance(v, bytes) for v in task.files.values())
    assert task.seed == derive_seed(b"k", prepared.content_hash) and task.seed_source == "course-key"
    assert not any(isinstance(v, Path) for v in vars(task).values())
    assert pickle.loads(pickle.dumps(task)) == task
    result = grade_submission(prepared.folder, seed=task.seed, concepts=["mse"])
    back = pickle.loads(pickle.dumps(Outcome("ada", "graded", result=result, content_hash=task.content_hash)))
    assert back.result.to_gradescope_dict() == result.to_gradescope_dict()
    # A notebook's seed is the one `vaegrade grade` derives: from the concept files extracted from it.
    book = tmp_path / "nb.ipynb"
    nbformat.write(v4.new_notebook(cells=[v4.new_code_cell(t) for t in solution_files().values()]), book)
    (tmp_path / "work2").mkdir()
    prepared = intake.prepare(intake.Entry("nb", book, "notebook"), tmp_path / "work2")
    task = make_task("nb", prepared, course_key=b"k", limits=Limits(), pass_fraction=0.75)
    assert list(task.files) == ["nb.ipynb"]
    assert task.seed == grade_submission(book, course_key=b"k", concepts=["mse"]).seed


# --- a class on the cluster ---------------------------------------------------------------------------------


def test_a_class_graded_on_the_cluster_matches_a_local_batch(cluster, tmp_path):
    address, _ = cluster
    subs = tmp_path / "subs"
    subs.mkdir()
    make_class(subs)
    base = ["batch", str(subs), "--time-limit", "2"]
    on_cluster = CliRunner().invoke(cli, base + ["--out", str(tmp_path / "dask"), "--scheduler", address])
    local = CliRunner().invoke(cli, base + ["--out", str(tmp_path / "local"), "-j", "2"])
    assert on_cluster.exit_code == local.exit_code == 1, on_cluster.output + local.output
    assert "6 submissions: 4 graded, 0 unchanged" in on_cluster.stdout and f"on {address}" in on_cluster.stdout
    assert "could not grade mallory" in on_cluster.stdout and "only quiz answers" in on_cluster.stdout
    assert "quiz: 2 new answers files graded" in on_cluster.stdout
    assert "ETA" in on_cluster.stderr   # the same progress bar
    ignore = {"graded_at", "submitted_at", "counted_attempt"}   # when, and the attempts' own ids
    strip_ids = lambda text: re.sub(r"attempt [0-9a-f]{32}", "attempt <id>", text)  # noqa: E731
    remote, here = rows(tmp_path / "dask"), rows(tmp_path / "local")
    assert sorted(remote) == ["alice", "bob", "eve", "mallory", "nora", "oscar"]
    for learner in remote:
        assert {k: strip_ids(v) for k, v in remote[learner].items() if k not in ignore} == \
               {k: strip_ids(v) for k, v in here[learner].items() if k not in ignore}, learner
    assert remote["alice"]["exercises_total"] == f"{FULL:g}" and remote["alice"]["quiz_score"] == "9"
    assert remote["eve"]["mse"] == "0" and float(remote["bob"]["mse"]) < 10
    assert remote["nora"]["exercises_total"] == f"{FULL - 10:g}"
    for learner in ("alice", "bob", "eve", "nora"):
        a = json.loads((tmp_path / "dask" / "results" / f"{learner}.json").read_text())
        b = json.loads((tmp_path / "local" / "results" / f"{learner}.json").read_text())
        assert a["tests"] == b["tests"] and a["extra_data"]["seed"] == b["extra_data"]["seed"]
        assert a["extra_data"]["submission"] == b["extra_data"]["submission"]
    graded = {"alice": 1, "bob": 1, "eve": 1, "nora": 1}
    assert attempts(tmp_path / "dask") == graded
    again = CliRunner().invoke(cli, base + ["--out", str(tmp_path / "dask"), "--scheduler", address])
    assert "0 graded, 4 unchanged" in again.stdout, again.output
    assert attempts(tmp_path / "dask") == graded
    assert attempts(tmp_path / "dask", "quiz") == {"alice": 1, "oscar": 1}
    _, client = cluster
    reports = client.run(dask_grading.worker_report)   # the doctor, as each worker's own sandbox sees it
    assert len(reports) == 2 and all("landlock" in r and "verdict:" in r for r in reports.values())


def _worker_children(pid: int) -> list[int]:
    found = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1].split()[0] != "Z"
    except OSError:
        return False


def _executing(dask_worker) -> list[str]:
    return [str(ts.key) for ts in dask_worker.state.executing]


def test_a_worker_killed_mid_task_loses_nothing_and_records_nothing_twice(cluster, tmp_path):
    address, client = cluster
    learners = [f"learner{i}" for i in range(6)]
    same_class(tmp_path / "subs", learners)
    out = tmp_path / "out"
    got: dict = {}
    runner = threading.Thread(target=lambda: got.update(summary=run_batch(
        tmp_path / "subs", out, progress=None, scheduler=address, course_key=b"course")), daemon=True)
    runner.start()
    deadline = time.monotonic() + 240
    victim = None
    while victim is None:
        assert runner.is_alive() and time.monotonic() < deadline, "no task started"
        if count(out / "gradebook.sqlite") >= 1:   # sandboxes warm, tasks flowing
            running = client.run(_executing)   # grading right now, not merely queued on the worker
            busy = [w for w, keys in running.items() if any(k.startswith("vaegrade-") for k in keys)]
            if busy:
                victim = busy[0]
        time.sleep(0.05)
    pid = client.run(os.getpid, workers=[victim])[victim]
    sandboxes = _worker_children(pid)
    os.kill(pid, signal.SIGKILL)
    runner.join(300)
    assert not runner.is_alive(), "the batch did not finish after a worker was killed"
    summary = got["summary"]
    assert summary.exit_code == 0, summary.failed
    assert summary.graded == len(learners) and not summary.failed
    assert attempts(out) == dict.fromkeys(learners, 1)   # every learner exactly once
    assert all(r["exercises_total"] == f"{FULL:g}" for r in rows(out).values())
    consistent(out / "gradebook.sqlite")
    stop = time.monotonic() + 20   # the dead worker's warm sandbox went with it
    while any(_alive(p) for p in sandboxes) and time.monotonic() < stop:
        time.sleep(0.1)
    assert sandboxes and not any(_alive(p) for p in sandboxes)
    client.wait_for_workers(2, timeout=120)   # the nanny restarted it, for the tests after this one
    assert victim not in client.scheduler_info()["workers"]   # a new worker took its place


def test_the_client_killed_and_rerun_finishes_exactly_once(cluster, tmp_path):
    address, _ = cluster
    learners = [f"learner{i}" for i in range(6)]
    subs, out = tmp_path / "subs", tmp_path / "out"
    same_class(subs, learners)
    proc = start_batch(subs, out, address, "-q")
    first = wait_for_attempts(out, proc, 2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    first = count(out / "gradebook.sqlite")
    assert 2 <= first < len(learners)
    consistent(out / "gradebook.sqlite")
    final = subprocess.run([sys.executable, "-m", "grader", "batch", str(subs), "--out", str(out), "-q",
                            "--scheduler", address, "--time-limit", "10"],
                           capture_output=True, text=True, timeout=300, env=_env(), cwd=ROOT)
    assert final.returncode == 0, final.stdout + final.stderr
    assert f"{len(learners) - first} graded, {first} unchanged" in final.stdout
    assert attempts(out) == dict.fromkeys(learners, 1)
    assert sorted(rows(out)) == learners and all(r["exercises_total"] == f"{FULL:g}" for r in rows(out).values())
    assert sorted(os.listdir(out / "results")) == [f"{k}.json" for k in learners]


def test_ctrl_c_stops_a_cluster_batch_promptly(cluster, tmp_path):
    address, _ = cluster
    learners = [f"learner{i}" for i in range(8)]
    subs, out = tmp_path / "subs", tmp_path / "out"
    same_class(subs, learners)
    proc = start_batch(subs, out, address)
    wait_for_attempts(out, proc, 1)
    os.kill(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stdout + stderr
    assert "Interrupted" in stdout and "Traceback" not in stdout + stderr
    consistent(out / "gradebook.sqlite")
    assert set(attempts(out).values()) == {1}


# --- a scheduler that goes away ---------------------------------------------------------------------------


def test_a_scheduler_that_goes_away_ends_the_run_with_a_message(tmp_path):
    file = tmp_path / "scheduler.json"
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(), cwd=tmp_path)]
    try:
        deadline = time.monotonic() + 60
        while not file.exists() or not file.read_text().strip():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.1)
        time.sleep(0.2)
        address = json.loads(file.read_text())["address"]
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads",
                                       "1", "--no-dashboard", "--no-nanny"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(), cwd=tmp_path))
        learners = [f"learner{i}" for i in range(6)]
        subs, out = tmp_path / "subs", tmp_path / "out"
        same_class(subs, learners)
        proc = start_batch(subs, out, address)
        wait_for_attempts(out, proc, 1)
        procs[0].kill()
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 1, stdout + stderr
        assert "lost the Dask scheduler" in stdout and "Traceback" not in stdout + stderr
        assert "not reached" in stdout
        consistent(out / "gradebook.sqlite")
        graded = attempts(out)
        assert set(graded.values()) == {1} and len(graded) < len(learners)
        assert sorted(rows(out)) == sorted(graded)   # the exports were rebuilt from what was recorded
    finally:
        for p in procs:
            p.kill()
            p.wait()


def test_an_unreachable_scheduler_is_exit_2(tmp_path, monkeypatch):
    monkeypatch.setattr(dask_grading, "CONNECT_SECONDS", 2)
    (tmp_path / "subs").mkdir()
    result = CliRunner().invoke(cli, ["batch", str(tmp_path / "subs"), "--out", str(tmp_path / "out"),
                                      "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2 and "cannot use the Dask scheduler" in result.output, result.output
    assert "Traceback" not in result.output
    for address, words in (("local:0", "local:N"), ("foo", "not a Dask scheduler address")):
        bad = CliRunner().invoke(cli, ["batch", str(tmp_path / "subs"), "--out", str(tmp_path / "out"),
                                       "--scheduler", address])
        assert bad.exit_code == 2 and words in bad.output and "Traceback" not in bad.output, bad.output


def test_a_scheduler_without_workers_is_exit_2(tmp_path, monkeypatch):
    monkeypatch.setattr(dask_grading, "WORKER_WAIT_SECONDS", 1)
    (tmp_path / "subs").mkdir()
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=None) as empty:
        result = CliRunner().invoke(cli, ["batch", str(tmp_path / "subs"), "--out", str(tmp_path / "out"),
                                          "--scheduler", empty.scheduler_address])
    assert result.exit_code == 2 and "no worker joined" in result.output, result.output


# --- a worker that cannot hold the sandbox ------------------------------------------------------------------


def test_a_worker_missing_a_required_layer_refuses_work(tmp_path, monkeypatch):
    """A worker on a kernel without Landlock (emulated: $VAEGRADE_LANDLOCK_ABI_MAX=0) refuses every task, with
    the reason; so does one required to hold a layer this sandbox does not use (namespaces)."""
    write_folder(tmp_path / "subs" / "ada", solution_files())
    (tmp_path / "work").mkdir()
    settings = Settings(limits=Limits(), pass_fraction=0.75, force=False, done={}, work_root=tmp_path / "work")
    entries = intake.discover(tmp_path / "subs").entries
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as local:
        for env, required, missing in (("0", REQUIRED, "landlock"), ("", REQUIRED + ("namespaces",), "namespaces")):
            monkeypatch.setenv("VAEGRADE_LANDLOCK_ABI_MAX", env)   # the worker's warm sandbox inherits it
            executor = dask_grading.DaskExecutor(local.scheduler_address, settings, required=required)
            try:
                [outcome] = list(executor.outcomes(entries))
            finally:
                executor.close(False)
            assert outcome.status == "failed" and outcome.result is None
            assert "refuses work" in outcome.reason and f"cannot hold {missing}" in outcome.reason, outcome.reason
        # A worker running other checks than the client's (another grader version) refuses too.
        with distributed.Client(local, set_as_default=False) as client:
            client.register_plugin(dask_grading.SandboxPlugin(), name=dask_grading.PLUGIN)
            prepared = intake.prepare(entries[0], tmp_path / "work")
            task = make_task("ada", prepared, course_key=None, limits=Limits(), pass_fraction=0.75)
            with pytest.raises(dask_grading.SandboxRefused, match="runs vae-grader"):
                client.submit(dask_grading.grade_remote, dataclasses.replace(task, grader_version="0.0.0")).result()
            graded = client.submit(dask_grading.grade_remote, task).result()
            assert graded.status == "graded" and graded.result.score == FULL
