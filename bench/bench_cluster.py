#!/usr/bin/env python
"""Benchmark of grading on a Dask cluster against a local batch: prints figures, asserts nothing.

    python bench/bench_cluster.py              # N = 40 mixed submissions, two rounds, a few minutes
    python bench/bench_cluster.py --n 80 --rounds 3

The class is bench/bench_batch.py's (about 60% correct, 30% wrong, 10% adversarial;
folders, .zip and .tar.gz). Side by side on this machine, alternating so that other
load hits both alike:

- `vaegrade batch -j 2` (two threads, each with its warm sandbox);
- `vaegrade batch --scheduler local:2` (an in-process LocalCluster of two
  single-thread worker processes on loopback, each with its warm sandbox; intake
  and the gradebook on the client, the submission's bytes shipped to the worker).

Throughput end to end (interpreter, cluster and sandbox start included) and in
steady state (first recorded attempt to the last); the distribution overhead is
1 - cluster/local in steady state (target: under 15%). Then what bounds a larger
cluster: the client's intake (unpack, hash, read the bytes) and its gradebook
writes, both single-threaded on the client, measured per submission here.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import bench_batch  # noqa: E402  (the class generator and the outside measurement)

TARGET = 0.15


def batch(subs: Path, out: Path, *, scheduler: str | None, time_limit: float, memory_limit: int) -> dict:
    """One `vaegrade batch` process, measured from outside (bench_batch's Sampler polls its gradebook)."""
    cmd = [sys.executable, "-m", "grader", "batch", str(subs), "--out", str(out), "-q",
           "--time-limit", str(time_limit), "--memory-limit", str(memory_limit)]
    cmd += ["--scheduler", scheduler] if scheduler else ["-j", "2"]
    started = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
    sampler = bench_batch.Sampler(proc.pid, out / "gradebook.sqlite")
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.monotonic() - started
    sampler.stop.set()
    sampler.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"batch failed ({proc.returncode}):\n{stdout}\n{stderr}")
    graded = len(bench_batch._latencies(out / "gradebook.sqlite"))
    return {"wall": wall, "graded": graded, "rate": graded / wall, "steady": bench_batch._steady_rate(sampler.arrivals),
            "scores": bench_batch._scores(out / "gradebook.sqlite")}


def client_costs(subs: Path, work: Path, records: int) -> dict:
    """Seconds per submission of the client's own work: intake (to a Task) and one gradebook write."""
    from grader.grading import intake
    from grader.grading.runner import grade_submission
    from grader.grading.work import make_task
    from grader.sandbox.session import Zygote
    from grader.settings import Limits
    from grader.store.gradebook import Gradebook

    entries = intake.discover(subs).entries
    work.mkdir(parents=True)
    started = time.perf_counter()
    payload = 0
    for i, entry in enumerate(entries):
        folder = work / f"w{i}"
        folder.mkdir()
        prepared = intake.prepare(entry, folder)
        task = make_task(entry.learner, prepared, course_key=b"bench", limits=Limits(), pass_fraction=0.75)
        payload += sum(len(b) for b in task.files.values())
        shutil.rmtree(folder)
    intake_s = (time.perf_counter() - started) / len(entries)
    correct = next(e for e in entries if e.kind == "folder")
    with Zygote() as zygote:
        result = grade_submission(correct.path, seed=1, zygote=zygote)
    with Gradebook(work / "gradebook.sqlite") as book:
        started = time.perf_counter()
        for i in range(records):
            book.record_exercises(f"learner{i:06d}", result, f"{i:064x}")
        record_s = (time.perf_counter() - started) / records
    return {"intake": intake_s, "record": record_s, "payload_kb": payload / len(entries) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40, help="synthetic submissions (default 40)")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of each (default 2)")
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
        print(f"\n{'':18} {'wall s':>8} {'subs/s':>8} {'steady/s':>9}   (median of {args.rounds} rounds)")
        med = {}
        for name, results in runs.items():
            med[name] = {k: statistics.median(x[k] for x in results) for k in ("wall", "rate")}
            steadies = [x["steady"] for x in results if x["steady"]]
            med[name]["steady"] = statistics.median(steadies) if steadies else None
            print(f"{name:18} {med[name]['wall']:8.2f} {med[name]['rate']:8.2f} "
                  f"{med[name]['steady'] or float('nan'):9.2f}")
        local, dask = med["local -j 2"], med["local:2 cluster"]
        same = all(x["scores"] == runs["local -j 2"][0]["scores"] for rs in runs.values() for x in rs)
        print(f"identical scores in every run, local and cluster: {same}")
        end_to_end = 1 - dask["rate"] / local["rate"]
        print(f"\ndistribution overhead, end to end (cluster and sandbox start included): {end_to_end:+.1%}")
        if local["steady"] and dask["steady"]:
            steady = 1 - dask["steady"] / local["steady"]
            print(f"distribution overhead, steady state: {steady:+.1%} "
                  f"(target under {TARGET:.0%}: {'met' if steady < TARGET else 'NOT met'})")
        per_core = (dask["steady"] or dask["rate"]) / 2
        costs = client_costs(subs, work / "client", args.records)
        client_rate = 1 / (costs["intake"] + costs["record"])
        print(f"\nper-core throughput on the cluster: {per_core:.2f} submissions/s per single-thread worker")
        print(f"client, per submission: intake {costs['intake'] * 1000:.1f} ms (unpack, hash, read "
              f"{costs['payload_kb']:.0f} KB of bytes), gradebook write {costs['record'] * 1000:.1f} ms (SQLite)")
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
