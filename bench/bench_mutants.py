"""Mutation adequacy of the hidden checks, in full: prints figures, asserts nothing.

    python bench/bench_mutants.py [CONCEPT ...] [--seeds 3]

Grades every mutant of every reference solution through the sandbox on seeds 1..N and prints,
per concept and in total, mutants / killed / survived / equivalent, the survivors (a hole in the
checks, or an equivalent mutant to list with its reason in grader/checks/equivalent_mutants.toml),
mutants per operator, and the time taken.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.verbs import mutants  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("concepts", nargs="*")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    started = time.monotonic()
    summary = mutants.grade_all(args.concepts or None, seeds=args.seeds, solutions=ROOT / "solutions")
    elapsed = time.monotonic() - started
    print(mutants.format_table(summary, list(range(1, args.seeds + 1))))
    ops = Counter(o.mutant.operator for o in summary.outcomes)
    print("per operator: " + ", ".join(f"{k} {v}" for k, v in sorted(ops.items())))
    for o in summary.survivors:
        print(f"SURVIVED {o.mutant.concept}: {o.mutant.key} (scores {o.scores})")
    for o in summary.stale:
        print(f"STALE EQUIVALENT {o.mutant.concept}: {o.mutant.key}")
    print(f"{len(summary.outcomes)} mutants x {args.seeds} seeds in {elapsed:.1f} s")


if __name__ == "__main__":
    main()
