"""The gradebook's write rate: attempts recorded per second, one transaction each, SQLite beside PostgreSQL.

    PYTHONPATH=. python bench/bench_gradebook.py [--attempts 400] [--writers 2] [--postgres URL]

Each attempt is a full exercises grading (8 concepts, 12 checks each, with
feedback) recorded the way `vaegrade batch` records it: one transaction per
attempt. Measured with one writer, then with --writers processes writing at
once (several batches or CI jobs on one gradebook), and the class read that
exports and reports do (every learner's latest attempt, typed). Without
--postgres a throwaway server is started from the machine's binaries with
its durable defaults (fsync on, synchronous_commit on); SQLite runs in WAL
mode with synchronous=NORMAL, the gradebook's own setting.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from grader.course import manifest  # noqa: E402
from grader.grading.results import CheckResult, ConceptResult, GradingResult, Status  # noqa: E402
from grader.store import open_gradebook  # noqa: E402


def fake(i: int) -> GradingResult:
    concepts = []
    for c in manifest.load():
        checks = []
        for k in range(12):
            ok = (i * 7 + k) % 5 != 0
            checks.append(CheckResult(c.id, f"check {k} of {c.id}", c.functions[k % len(c.functions)], c.points / 12,
                                      c.points / 12 if ok else 0.0, Status.PASSED if ok else Status.FAILED,
                                      "" if ok else f"{c.functions[0]} on a (3, 5) batch is off. The learner's slip, "
                                      "named the way a tutor would name it, with the numbers it gave.",
                                      None if ok else f"{c.id}.slip", k == 0, ""))
        concepts.append(ConceptResult(c.id, c.title, c.section, c.points, checks))
    return GradingResult(concepts, i, "bench", f"subs/l{i}", 1.5, extra={"learner": f"l{i}"})


def _write(target, start: int, count: int, barrier) -> None:
    results = [fake(i) for i in range(start, start + count)]
    with open_gradebook(target) as book:
        if barrier is not None:
            barrier.wait(timeout=120)
        for i, r in zip(range(start, start + count), results):
            book.record_exercises(f"l{i:05d}", r, f"h{i}")


def write_rate(target, attempts: int, writers: int) -> float:
    """Attempts per second recorded by `writers` processes at once (each its own share)."""
    with open_gradebook(target):
        pass
    if writers == 1:
        results = [fake(i) for i in range(attempts)]
        with open_gradebook(target) as book:
            t0 = time.perf_counter()
            for i, r in enumerate(results):
                book.record_exercises(f"l{i:05d}", r, f"h{i}")
            return attempts / (time.perf_counter() - t0)
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(writers + 1)
    share = attempts // writers
    procs = [ctx.Process(target=_write, args=(target, 100_000 + w * share, share, barrier)) for w in range(writers)]
    for p in procs:
        p.start()
    barrier.wait(timeout=120)
    t0 = time.perf_counter()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    if any(p.exitcode for p in procs):
        raise SystemExit("a writer failed")
    return share * writers / elapsed


def read_time(target) -> float:
    with open_gradebook(target) as book:
        t0 = time.perf_counter()
        latest = book.latest_per_learner("exercises")
        elapsed = time.perf_counter() - t0
    assert latest
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attempts", type=int, default=400)
    parser.add_argument("--writers", type=int, default=2)
    parser.add_argument("--postgres", default=None, help="an existing server's URL (a database the bench may fill)")
    args = parser.parse_args()

    server = None
    targets = {}
    tmp = Path(tempfile.mkdtemp(prefix="bench-gradebook-"))
    targets["SQLite"] = [tmp / "one.sqlite", tmp / "many.sqlite"]
    if args.postgres:
        import psycopg

        with psycopg.connect(args.postgres, autocommit=True) as conn:
            for table in ("quiz_answers", "check_results", "concept_results", "problems", "attempts",
                          "schema_version"):
                conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
        targets["PostgreSQL"] = [args.postgres, None]
    else:
        import postgres_server

        try:
            server = postgres_server.start(durable=True)
            targets["PostgreSQL"] = [server.create_database("one"), server.create_database("many")]
        except postgres_server.Unavailable as exc:
            print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
    checks = sum(len(c.checks) for c in fake(0).concepts)
    print(f"{args.attempts} attempts of {len(fake(0).concepts)} concepts and {checks} checks each; "
          f"{os.cpu_count()} cores; load {open('/proc/loadavg').read().split()[0]}")
    print(f"{'engine':<12} {'1 writer':>14} {f'{args.writers} writers':>14} {'class read':>16}")
    try:
        for name, (one, many) in targets.items():
            single = write_rate(one, args.attempts, 1)
            if many is None:   # one given database: reuse it after the single-writer run
                with open_gradebook(one) as book:
                    book.engine.execute("DELETE FROM attempts")
                many = one
            multi = write_rate(many, args.attempts, args.writers)
            read = read_time(many)
            print(f"{name:<12} {single:>10.0f} /s {multi:>10.0f} /s {read * 1000:>10.0f} ms "
                  f"({args.attempts} learners' latest, typed)")
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
