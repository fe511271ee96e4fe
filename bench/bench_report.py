"""Report rendering speed for a class of N learners (default 1,000): prints figures, asserts nothing.

    python bench/bench_report.py [N] [--attempts 2] [--repeat 5]

Builds a fabricated gradebook (N learners, `attempts` exercise attempts and one
quiz attempt each: the shape `vaegrade batch` writes), then times the class
overview (read the gradebook + compute + render, the target is under 1 s for
1,000 learners) and, separately, all N per-learner pages.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from grader import report  # noqa: E402
from report_fixtures import build_class  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("learners", nargs="?", type=int, default=1000)
    parser.add_argument("--attempts", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        t0 = time.perf_counter()
        build_class(out / "gradebook.sqlite", [f"learner{i:05d}" for i in range(args.learners)],
                    attempts=args.attempts)
        built = time.perf_counter() - t0
        size = (out / "gradebook.sqlite").stat().st_size + sum(
            p.stat().st_size for p in out.glob("gradebook.sqlite-*"))
        print(f"gradebook: {args.learners} learners x ({args.attempts} exercise attempts + 1 quiz), "
              f"{size / 1e6:.1f} MB, built in {built:.1f} s")

        report.environment().get_template("class.html")   # template compilation is a one-off per process
        report.environment().get_template("learner.html")
        phases = {"read": [], "compute": [], "render": [], "total": []}
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            with report.open_gradebook(out / "gradebook.sqlite") as book:
                snap = report.load_snapshot(book)
            t1 = time.perf_counter()
            view = report.class_report(snap)
            t2 = time.perf_counter()
            page = report.render_class(view)
            t3 = time.perf_counter()
            for key, value in zip(phases, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
                phases[key].append(value)
        print(f"class report ({len(page) / 1e3:.0f} kB of HTML), median of {args.repeat}: "
              f"{statistics.median(phases['total']):.3f} s  (target < 1 s)")
        print("  read gradebook {:.3f} s, compute {:.3f} s, render {:.3f} s".format(
            *(statistics.median(phases[k]) for k in ("read", "compute", "render"))))

        t0 = time.perf_counter()
        made = report.write_class_report(outdir=out)
        whole = time.perf_counter() - t0
        print(f"`vaegrade report --class` end to end (overview + {made.learner_pages} learner pages written): "
              f"{whole:.2f} s, {1e3 * whole / max(made.learner_pages, 1):.2f} ms per learner")


if __name__ == "__main__":
    main()
