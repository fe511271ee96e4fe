#!/usr/bin/env python
"""Benchmark of grading on a Dask cluster against a local batch: prints figures, asserts nothing.

    python bench/bench_cluster.py              # N = 40 mixed submissions, three rounds, about 5 minutes
    python bench/bench_cluster.py --n 80 --rounds 3

The class is bench/bench_batch.py's (about 60% correct, 30% wrong, 10% adversarial;
folders, .zip and .tar.gz). Side by side on this machine, alternating so that other
load hits both alike:

- `vaegrade batch -j 2` (two threads, each with its warm sandbox);
- `vaegrade batch --scheduler local:2` (an in-process LocalCluster of two
  single-thread worker processes on loopback, each with its warm sandbox; intake
  and the gradebook on the client, the submission's bytes shipped to the worker).

Throughput end to end (interpreter, cluster and sandbox start included) and in
steady state (first recorded attempt to the last), and the CPU seconds per
submission of the whole process tree. The distribution overhead (target: under
15%) is given in CPU (what distribution adds, robust to other load on the
machine) and in steady-state throughput (what staff see, noisy on a shared machine). Then what bounds a larger
cluster: the client's intake (unpack, hash, read the bytes) and its gradebook
writes, both single-threaded on the client, measured per submission here.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_batch  # noqa: E402  (the class generator and the outside measurement)

TARGET = 0.15


class TreeSampler(bench_batch.Sampler):
    """Also the CPU of the batch's whole process tree at each new attempt, for steady-state CPU per submission.

    Each live process counts its own CPU and that of the children it has reaped (utime, stime, cutime,
    cstime), so a sandbox child that came and went is counted once, in its zygote.
    """

    def run(self) -> None:
        db, last = None, 0
        self.cpu_marks: list[tuple[int, float]] = []
        while not self.stop.is_set():
            try:
                if db is None and self.gradebook.exists():
                    db = sqlite3.connect(f"file:{self.gradebook}?mode=ro", uri=True, timeout=1)
                count = db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] if db is not None else 0
            except sqlite3.Error:
                count = last
            if count != last:
                cpu = 0.0
                for pid in bench_batch._descendants(self.pid):
                    try:
                        cpu += bench_batch._proc_cpu(pid)
                    except (OSError, IndexError, ValueError):
                        pass
                self.arrivals.append((time.monotonic(), count))
                self.cpu_marks.append((count, cpu))
                last = count
            self.stop.wait(self.interval)
        if db is not None:
            db.close()

    def steady_cpu(self) -> float | None:
        if len(self.cpu_marks) < 2 or self.cpu_marks[-1][0] <= self.cpu_marks[0][0]:
            return None
        (c0, cpu0), (c1, cpu1) = self.cpu_marks[0], self.cpu_marks[-1]
        return (cpu1 - cpu0) / (c1 - c0)


def batch(subs: Path, out: Path, *, scheduler: str | None, time_limit: float, memory_limit: int) -> dict:
    """One `vaegrade batch` process, measured from outside (bench_batch's Sampler polls its gradebook)."""
    cmd = [sys.executable, "-m", "grader", "batch", str(subs), "--out", str(out), "-q",
           "--time-limit", str(time_limit), "--memory-limit", str(memory_limit)]
    cmd += ["--scheduler", scheduler] if scheduler else ["-j", "2"]
    started, cpu0 = time.monotonic(), bench_batch._children_cpu()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    sampler = TreeSampler(proc.pid, out / "gradebook.sqlite")
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.monotonic() - started
    cpu = bench_batch._children_cpu() - cpu0   # the whole tree: every level reaps its children
    sampler.stop.set()
    sampler.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"batch failed ({proc.returncode}):\n{stdout}\n{stderr}")
    graded = len(bench_batch._latencies(out / "gradebook.sqlite"))
    return {"wall": wall, "graded": graded, "rate": graded / wall, "steady": bench_batch._steady_rate(sampler.arrivals),
            "cpu": cpu / max(1, graded), "steady_cpu": sampler.steady_cpu(), "scores": bench_batch._scores(out / "gradebook.sqlite")}


def client_costs(subs: Path, work: Path, records: int) -> dict:
    """Seconds per submission of the client's own work: intake (to a Task) and one gradebook write."""
    from grader.grading import cluster, intake
    from grader.grading.runner import grade_submission
    from grader.grading.work import make_task
    from grader.sandbox.session import Zygote
    from grader.settings import Limits
    from grader.store.gradebook import Gradebook

    entries = intake.discover(subs).entries
    work.mkdir(parents=True)

    def stage(i_entry) -> int:
        i, entry = i_entry
        folder = work / f"w{i}"
        folder.mkdir()
        prepared = intake.prepare(entry, folder)
        task = make_task(entry.learner, prepared, course_key=b"bench", limits=Limits(), pass_fraction=0.75)
        shutil.rmtree(folder)
        return sum(len(b) for b in task.files.values())

    started = time.perf_counter()
    payload = sum(map(stage, enumerate(entries)))
    intake_s = (time.perf_counter() - started) / len(entries)
    started = time.perf_counter()
    with ThreadPoolExecutor(cluster.INTAKE_THREADS) as pool:   # as the executor runs it
        list(pool.map(stage, enumerate(entries, start=len(entries))))
    intake_threads_s = (time.perf_counter() - started) / len(entries)
    correct = next(e for e in entries if e.kind == "folder")
    with Zygote() as zygote:
        result = grade_submission(correct.path, seed=1, zygote=zygote)
    with Gradebook(work / "gradebook.sqlite") as book:
        started = time.perf_counter()
        for i in range(records):
            book.record_exercises(f"learner{i:06d}", result, f"{i:064x}")
        record_s = (time.perf_counter() - started) / records
    return {"intake": intake_s, "intake_threads": intake_threads_s, "record": record_s,
            "payload_kb": payload / len(entries) / 1024}


def cluster_threads() -> int:
    from grader.grading import cluster

    return cluster.INTAKE_THREADS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40, help="synthetic submissions (default 40)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of each (default 3)")
    parser.add_argument("--time-limit", type=float, default=2.0, help="per-concept time limit, s (default 2)")
    parser.add_argument("--memory-limit", type=int, default=256, help="sandbox memory limit, MB (default 256)")
    parser.add_argument("--records", type=int, default=200, help="gradebook writes timed (default 200)")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="vaegrade-bench-cluster-"))
    if args.keep and work.exists():
        shutil.rmtree(work)
    subs = work / "submissions"
    kinds = bench_batch.make_class(subs, args.n)
    print(f"{args.n} submissions ({sum(v == 'correct' for v in kinds.values())} correct, "
          f"{sum(v.startswith('wrong') for v in kinds.values())} wrong, "
          f"{sum(v.startswith('adv') for v in kinds.values())} adversarial); per-concept time limit "
          f"{args.time_limit:g} s; load average {bench_batch._load()}")
    limits = dict(time_limit=args.time_limit, memory_limit=args.memory_limit)
    runs: dict[str, list[dict]] = {"local -j 2": [], "local:2 cluster": []}
    try:
        for r in range(args.rounds):
            runs["local -j 2"].append(batch(subs, work / f"local-{r}", scheduler=None, **limits))
            runs["local:2 cluster"].append(batch(subs, work / f"cluster-{r}", scheduler="local:2", **limits))
        print(f"\n{'':18} {'wall s':>8} {'subs/s':>8} {'steady/s':>9} {'CPU s/sub':>10} {'steady CPU':>11}   "
              f"(median of {args.rounds} alternating rounds; steady range in brackets)")
        med = {}
        for name, results in runs.items():
            med[name] = {k: statistics.median(x[k] for x in results) for k in ("wall", "rate", "cpu")}
            for key in ("steady", "steady_cpu"):
                found = [x[key] for x in results if x[key]]
                med[name][key] = statistics.median(found) if found else None
            steadies = sorted(x["steady"] for x in results if x["steady"])
            spread = f"[{steadies[0]:.2f}-{steadies[-1]:.2f}]" if steadies else ""
            print(f"{name:18} {med[name]['wall']:8.2f} {med[name]['rate']:8.2f} "
                  f"{med[name]['steady'] or float('nan'):9.2f} {med[name]['cpu']:10.3f} "
                  f"{med[name]['steady_cpu'] or float('nan'):11.3f}   {spread}")
        local, dask = med["local -j 2"], med["local:2 cluster"]
        same = all(x["scores"] == runs["local -j 2"][0]["scores"] for rs in runs.values() for x in rs)
        print(f"identical scores in every run, local and cluster: {same}")
        end_to_end = 1 - dask["rate"] / local["rate"]
        if local["steady_cpu"] and dask["steady_cpu"]:
            cpu = dask["steady_cpu"] / local["steady_cpu"] - 1
            print(f"\ndistribution overhead in CPU per submission, steady state (what distribution adds per "
                  f"submission: scheduler, nannies, worker event loops, shipping bytes): {cpu:+.1%} "
                  f"(target under {TARGET:.0%}: {'met' if cpu < TARGET else 'NOT met'})")
        print(f"CPU per submission including the start (worker processes importing Python, Dask and the "
              f"grader, warming their sandboxes), spread over {args.n}: {dask['cpu'] / local['cpu'] - 1:+.1%}")
        if local["steady"] and dask["steady"]:
            steady = 1 - dask["steady"] / local["steady"]
            print(f"distribution overhead in steady-state throughput: {steady:+.1%} "
                  f"(target under {TARGET:.0%}: {'met' if steady < TARGET else 'NOT met'}; on a loaded machine "
                  "this swings with the other load, see the ranges)")
        print(f"end to end, cluster start and sandbox warm-up included: {end_to_end:+.1%} "
              f"(a fixed cost of a few seconds per run, not per submission)")
        per_core = (dask["steady"] or dask["rate"]) / 2
        costs = client_costs(subs, work / "client", args.records)
        client_rate = 1 / (costs["intake_threads"] + costs["record"])
        print(f"\nper-core throughput on the cluster: {per_core:.2f} submissions/s per single-thread worker")
        print(f"client, per submission: intake {costs['intake'] * 1000:.1f} ms on one thread (unpack, hash, read "
              f"{costs['payload_kb']:.0f} KB of bytes), {costs['intake_threads'] * 1000:.1f} ms on the executor's "
              f"{cluster_threads()} intake threads; gradebook write {costs['record'] * 1000:.1f} ms (SQLite, "
              "on the client's main thread)")
        print(f"the client alone can feed about {client_rate:.0f} submissions/s, so about "
              f"{client_rate / per_core:.0f} such workers before it, not the cluster, is the bound")
        for n in (2, 8, 32, 128):
            print(f"  predicted with {n:3d} workers: {min(n * per_core, client_rate):7.1f} submissions/s "
                  f"({100_000 / min(n * per_core, client_rate) / 60:6.1f} min for 100,000)")
        print(f"\nload average at the end: {bench_batch._load()} (other work on this machine slows every figure)")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
