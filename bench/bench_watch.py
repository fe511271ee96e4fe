"""Save-to-answer latency of `vaegrade watch` with a warm sandbox: prints figures, asserts nothing.

    python bench/bench_watch.py [--saves 20] [--concept mse]

Starts `python -m grader watch CONCEPT` in a temporary copy of the course, waits for its
first screen (the sandbox is then warm), and saves the concept's file `saves` times,
alternating the stub and the reference solution so that every save changes the verdict.
Each figure is the time from the write to the end of the screen it produced (the
"Waiting for a save" line) as read through a pipe, so it includes the file watcher's
debounce, staging, the public checks in a fresh sandboxed child and the rendering.
The target is a median under 0.3 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 0.3
END_OF_SCREEN = "Waiting for a save"


def read_screen(proc: subprocess.Popen, timeout: float = 60) -> str:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("watch exited: " + "".join(lines))
        lines.append(line)
        if END_OF_SCREEN in line:
            return "".join(lines)
    raise TimeoutError("no screen in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=20)
    parser.add_argument("--concept", default="mse")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from grader.course import manifest

    file = manifest.by_id(args.concept).file
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        shutil.copytree(ROOT / "exercises", course / "exercises")
        shutil.copy(ROOT / "vaegrade.toml", course / "vaegrade.toml")
        versions = [(ROOT / "solutions" / file).read_bytes(), (ROOT / "exercises" / file).read_bytes()]
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", COLUMNS="120")
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "grader", "watch", args.concept], cwd=course, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            read_screen(proc)
            startup = time.perf_counter() - t0
            latencies = []
            for i in range(args.saves):
                time.sleep(0.3)   # a person does not save twice within the watcher's debounce
                started = time.perf_counter()
                (course / "exercises" / file).write_bytes(versions[i % 2])
                screen = read_screen(proc)
                latencies.append(time.perf_counter() - started)
                if "saved" not in screen:
                    raise RuntimeError(f"unexpected screen: {screen}")
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()

    median = statistics.median(latencies)
    p90 = sorted(latencies)[max(0, int(round(0.9 * len(latencies))) - 1)]
    print(f"vaegrade watch {args.concept}: start-up to the first screen {startup:.2f} s (cold sandbox)")
    print(f"save to answer over {len(latencies)} saves: median {median * 1000:.0f} ms, "
          f"p90 {p90 * 1000:.0f} ms, min {min(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    print(f"target: median under {TARGET_SECONDS * 1000:.0f} ms: {'met' if median < TARGET_SECONDS else 'NOT met'} "
          f"(machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
