#!/usr/bin/env python
"""Benchmark of grading speed: every speed and memory target side by side with a verdict; asserts nothing.

    python bench/bench_batch.py            # N = 40 synthetic submissions, a few minutes
    python bench/bench_batch.py --n 12 --skip-modes --rounds 2 --repeats 3   # a quick run, 2-3 minutes
    python bench/bench_batch.py --n 200 --keep /tmp/bench

Generates N submissions (about 60% correct = copies of solutions/, 30% wrong =
one small mutation or a missing file, 10% adversarial = an infinite loop, an
exit at import, a memory bomb, an output flood, os._exit) as folders, .zip and
.tar.gz, then measures, side by side on this machine:

- `vaegrade batch` at -j 1 and -j 2: submissions/s end to end (interpreter and
  zygote start included) and in steady state (from the first recorded attempt
  to the last, polled from the gradebook), median and p95 per-submission
  latency, and the peak memory of the -j 2 batch as PSS summed over its whole
  process tree (sampled from /proc/<pid>/smaps_rollup);
- worker threads against worker processes at -j 2 (grader.verbs.batch's `mode`);
- the in-process floor: the same checks on the correct and wrong submissions
  with no isolation at all (the sandbox child's own handlers called in this
  process, values encoded and decoded the same way, everything pre-imported),
  against the same submissions graded in the sandbox with a warm zygote, one
  after the other: the isolation overhead is their ratio;
- `vaegrade grade` of one submission and `vaegrade check CONCEPT`, wall time including
  interpreter start (`python -m grader` in a minimal course);
- the warm re-check after a save (bench/bench_watch.py run as its own process);
- the naive baseline: one `pytest` process per submission (a generated test
  file importing the submission's modules, equivalent asserts, the TinyVAE
  trained with torch.optim.Adam), two at a time.

It ends with a table: each figure, its target and whether this run met it.
"""

from __future__ import annotations

import os

# One BLAS thread, as the grader runs: the floor then measures the checks' work, not BLAS threads
# spinning on small arrays (which would inflate the floor's CPU time and flatter the ratio).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
EXERCISES = REPO / "exercises"

MUTATIONS = [  # (file, text in the solution, replacement): a slip the lesson warns about
    ("mse.py", "np.mean((x - x_hat) ** 2)", "np.sum((x - x_hat) ** 2)"),
    ("sigma.py", "np.exp(0.5 * logvar)", "np.exp(logvar)"),
    ("kl.py", "- mu**2", "+ mu**2"),
    ("reparam.py", "torch.exp(0.5 * logvar)", "torch.exp(logvar)"),
    ("elbo.py", "recon + beta * kl", "recon + kl"),
    ("collapse.py", "np.all(kl < threshold)", "np.any(kl < threshold)"),
    ("vq.py", "np.argmin(distances, axis=-1)", "np.argmax(distances, axis=-1)"),
    ("latent_budget.py", "return height // downsample, width // downsample", "return height // downsample, width"),
    ("vq.py", None, None),          # file missing
    ("kl.py", "stub", None),        # the untouched stub
]

ADVERSARIAL = {  # kind -> (file replaced, its source)
    "infinite_loop": ("mse.py", "def reconstruction_mse(x, x_hat):\n    while True:\n        pass\n"),
    "exit_at_import": ("sigma.py", "import sys\nsys.exit(0)\n"),
    "memory_bomb": ("kl.py", "def kl_to_standard_normal(mu, logvar):\n    hog = []\n    while True:\n"
                            "        hog.append(bytearray(64 * 2**20))\n\n"
                            "def kl_per_dimension(mu, logvar):\n    return kl_to_standard_normal(mu, logvar)\n"),
    "print_flood": ("vq.py", None),   # the solution, printing 20 MB per call
    "os_exit": ("collapse.py", "import os\n\ndef is_collapsed(kl_per_dim, threshold=1e-3):\n    os._exit(0)\n\n"
                               "def active_dimensions(kl_per_dim, threshold=1e-3):\n    os._exit(0)\n"),
}
FLOOD = ("\nimport builtins as _b\n_real = squared_distances\n\ndef squared_distances(z_e, codebook):\n"
         "    for _ in range(20):\n        _b.print('x' * 1_000_000)\n    return _real(z_e, codebook)\n")


# --- the synthetic class ----------------------------------------------------------------------------


def _write_submission(root: Path, learner: str, files: dict[str, str], fmt: str) -> None:
    if fmt == "folder":
        folder = root / learner
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text)
    elif fmt == "zip":
        with zipfile.ZipFile(root / f"{learner}.zip", "w", zipfile.ZIP_DEFLATED) as zf:
            for name, text in files.items():
                zf.writestr(f"{learner}/{name}", text)   # one nested top folder, unwrapped by the grader
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for name, text in files.items():
                (Path(tmp) / name).write_text(text)
            with tarfile.open(root / f"{learner}.tar.gz", "w:gz") as tf:
                for name in files:
                    tf.add(Path(tmp) / name, arcname=name)


def make_class(root: Path, n: int) -> dict[str, str]:
    """N submissions in root; returns learner -> kind ("correct", "wrong:...", "adversarial:...")."""
    root.mkdir(parents=True)
    solution = {p.name: p.read_text() for p in sorted(SOLUTIONS.glob("*.py"))}
    n_adv = max(1, round(n * 0.10)) if n >= 5 else 0
    n_wrong = round(n * 0.30)
    kinds = {}
    for i in range(n):
        learner = f"learner{i:04d}"
        files = {name: text + f"\n# {learner}\n" for name, text in solution.items()}
        if i % 10 == 9 and len([k for k in kinds.values() if k.startswith("adv")]) < n_adv:
            kind = list(ADVERSARIAL)[len([k for k in kinds.values() if k.startswith("adv")]) % len(ADVERSARIAL)]
            name, source = ADVERSARIAL[kind]
            files[name] = files[name] + FLOOD if source is None else source
            kinds[learner] = f"adversarial:{kind}"
        elif i % 10 in (2, 5, 8) and len([k for k in kinds.values() if k.startswith("wrong")]) < n_wrong:
            name, old, new = MUTATIONS[len([k for k in kinds.values() if k.startswith("wrong")]) % len(MUTATIONS)]
            if old is None:
                del files[name]
            elif old == "stub":
                files[name] = (EXERCISES / name).read_text()
            else:
                assert old in files[name], (name, old)
                files[name] = files[name].replace(old, new)
            kinds[learner] = f"wrong:{name}"
        else:
            kinds[learner] = "correct"
        _write_submission(root, learner, files, ("folder", "folder", "zip", "tar")[i % 4])
    return kinds


# --- measuring a batch ---------------------------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return found


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler(threading.Thread):
    """Polls the batch's process tree (summed PSS) and its gradebook (attempt count) while it runs."""

    def __init__(self, pid: int, gradebook: Path, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.gradebook, self.interval = pid, gradebook, interval
        self.peak_kb, self.peak_procs = 0, 0
        self.arrivals: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        db, last = None, 0
        while not self.stop.is_set():
            tree = _descendants(self.pid)
            total = sum(_pss_kb(p) for p in tree)
            if total > self.peak_kb:
                self.peak_kb, self.peak_procs = total, len(tree)
            try:
                if db is None and self.gradebook.exists():
                    db = sqlite3.connect(f"file:{self.gradebook}?mode=ro", uri=True, timeout=1)
                if db is not None:
                    count = db.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
                    if count != last:
                        self.arrivals.append((time.monotonic(), count))
                        last = count
            except sqlite3.Error:
                pass
            self.stop.wait(self.interval)
        if db is not None:
            db.close()


def _steady_rate(arrivals: list[tuple[float, int]]) -> float | None:
    if len(arrivals) < 2:
        return None
    (t0, c0), (t1, c1) = arrivals[0], arrivals[-1]
    return (c1 - c0) / (t1 - t0) if t1 > t0 else None


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _proc_cpu(pid: int) -> float:
    """CPU seconds of a live process and of the children it has reaped."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def _latencies(gradebook: Path) -> list[float]:
    from grader.store import open_gradebook

    with open_gradebook(gradebook, create=False) as book:
        return [a.result.duration for a in book.attempts(kind="exercises", results=True) if a.result is not None]


def _scores(gradebook: Path) -> dict[str, tuple[float, float]]:
    from grader.store import open_gradebook

    with open_gradebook(gradebook, create=False) as book:
        return {a.learner: (a.score, a.max_score) for a in book.attempts()}


def run_batch(subs: Path, out: Path, *, jobs: int, time_limit: float, memory_limit: int,
              mode: str | None = None) -> dict:
    """One batch as its own process (the CLI, or the library with a worker mode), measured from outside."""
    if mode is None:
        cmd = [sys.executable, "-m", "grader", "batch", str(subs), "--out", str(out), "-j", str(jobs),
               "-q", "--time-limit", str(time_limit), "--memory-limit", str(memory_limit)]
    else:
        code = ("import sys; from pathlib import Path; from grader.verbs.batch import run_batch; "
                "from grader.settings import Limits; "
                f"s = run_batch(Path({str(subs)!r}), Path({str(out)!r}), jobs={jobs}, progress=None, "
                f"limits=Limits(concept_seconds={time_limit}, memory_mb={memory_limit}), mode={mode!r}); "
                "print(s.graded)")
        cmd = [sys.executable, "-c", code]
    started, cpu0 = time.monotonic(), _children_cpu()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = Sampler(proc.pid, out / "gradebook.sqlite")
    sampler.start()
    stdout, stderr = proc.communicate()
    wall = time.monotonic() - started
    cpu = _children_cpu() - cpu0   # the whole tree: the batch reaps its zygotes, they reap their children
    sampler.stop.set()
    sampler.join()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"batch failed ({proc.returncode}):\n{stdout}\n{stderr}")
    lat = sorted(_latencies(out / "gradebook.sqlite"))
    return {"wall": wall, "graded": len(lat), "rate": len(lat) / wall, "steady": _steady_rate(sampler.arrivals),
            "cpu_per_sub": cpu / max(1, len(lat)),
            "median": statistics.median(lat), "p95": lat[min(len(lat) - 1, int(round(0.95 * (len(lat) - 1))))],
            "peak_mb": sampler.peak_kb / 1024, "peak_procs": sampler.peak_procs, "stdout": stdout}


# --- the floor: same checks, no isolation ---------------------------------------------------------------------


def prepared_folders(subs: Path, kinds: dict[str, str], work: Path) -> list[Path]:
    """The correct and wrong submissions, unpacked (what the batch grades); adversarial ones left out."""
    from grader.grading import intake as archives

    folders = []
    for entry in archives.discover(subs).entries:
        if kinds[entry.learner].startswith("adversarial"):
            continue
        dest = work / entry.learner
        dest.mkdir(parents=True)
        folders.append(archives.prepare(entry, dest).folder)
    return folders


def isolation_overhead(folders: list[Path], rounds: int) -> dict:
    """Mean seconds per submission: sandboxed (warm zygote, sequential) and in-process, interleaved rounds."""
    import torch

    torch.set_num_threads(1)   # what every sandbox child runs with
    from grader.grading import runner
    from grader.sandbox import child
    from grader.sandbox.session import Zygote

    class InProcessRun(runner.ConceptRun):
        """A _ConceptRun whose 'child' is the sandbox harness called directly in this process."""

        def _request(self, msg):
            if self.fatal is not None:
                return self.fatal, "", 0
            if self.child is None:   # a 'child' per concept: the concept's module imported anew
                child._MODULES, self.child = child._Modules(self.root), True
            if msg[0] == "calls":    # the harness's own loop, without the sandbox's size accounting
                replies = []
                for call in msg[1]:
                    replies.append(child._call(call))
                    if replies[-1][0] in ("missing_file", "import_error", "limit"):
                        break
                return ("ok", ("none",), {"replies": replies, "outputs": [("", 0)] * len(replies)}), "", 0
            reply = runner._normalise(child.HANDLERS[msg[0]](msg))
            if reply[0] in ("missing_file", "import_error", "limit"):
                self.fatal = reply
            return reply, "", 0

        def close(self, keep: bool = False) -> None:
            pass

    sandboxed = runner.ConceptRun
    zygote = Zygote()
    figures: dict[str, list[tuple[float, float]]] = {"isolated": [], "floor": []}
    try:
        for phase in ("warm-up", *range(rounds)):
            for which in ("isolated", "floor"):
                runner.ConceptRun = sandboxed if which == "isolated" else InProcessRun
                started, cpu0, zcpu0 = time.perf_counter(), time.process_time(), _proc_cpu(zygote.pid)
                todo = folders if phase != "warm-up" else folders[:2]
                for folder in todo:
                    runner.grade_submission(folder, zygote=zygote if which == "isolated" else object(), seed=1)
                wall = (time.perf_counter() - started) / len(todo)
                cpu = (time.process_time() - cpu0 + _proc_cpu(zygote.pid) - zcpu0) / len(todo)
                if phase != "warm-up":
                    figures[which].append((wall, cpu))
    finally:
        runner.ConceptRun = sandboxed
        zygote.close()
    return {k: min(v[0] for v in got) for k, got in figures.items()} | {
        f"{k}_cpu": min(v[1] for v in got) for k, got in figures.items()}


# --- vaegrade grade, and the naive baseline ----------------------------------------------------------------------


def _course_copy(dest: Path, exercises: Path) -> Path:
    """A minimal course (the marker file and an exercises/ folder) where the CLI finds its workspace."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "vaegrade.toml", dest / "vaegrade.toml")
    if not (dest / "exercises").exists():
        shutil.copytree(exercises, dest / "exercises")
    return dest


def _cli_walls(args: list[str], cwd: Path, repeats: int) -> list[float]:
    """Wall seconds of `python -m grader ARGS` (the console script's work: interpreter start included)."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    walls = []
    for _ in range(repeats):
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        walls.append(time.monotonic() - started)
    return walls


def single_grade(folder: Path, work: Path, repeats: int = 5) -> list[float]:
    course = _course_copy(work / "course-grade", folder)
    return _cli_walls(["grade", str(folder), "--format", "json", "--no-record"], course, repeats)


def single_check(concept: str, work: Path, repeats: int = 5) -> list[float]:
    course = _course_copy(work / "course-check", SOLUTIONS)
    return _cli_walls(["check", concept], course, repeats)


def warm_recheck(concept: str, saves: int) -> dict:
    """bench/bench_watch.py in its own process: the median save-to-answer time of `vaegrade watch`."""
    got = subprocess.run([sys.executable, str(REPO / "bench" / "bench_watch.py"), "--saves", str(saves),
                          "--concept", concept], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(REPO)))
    import re

    m = re.search(r"median (\d+) ms", got.stdout)
    return {"median": int(m.group(1)) / 1000 if m else None, "text": (got.stdout + got.stderr).strip()}


NAIVE_TEST = '''\
import sys
sys.path.insert(0, {folder!r})
import numpy as np
import pytest
import torch

rng = np.random.default_rng(0)


def test_mse():
    from mse import reconstruction_mse as f
    assert f([0.10, 0.90, 0.85, 0.12], [0.12, 0.84, 0.80, 0.14]) == pytest.approx(0.001725, rel=1e-4)
    for _ in range(5):
        x, y = rng.uniform(size=(4, 7)), rng.uniform(size=(4, 7))
        assert f(x, y) == pytest.approx(np.mean((x - y) ** 2), rel=1e-4)
    with pytest.raises(ValueError):
        f(np.zeros(4), np.zeros((4, 1)))


def test_sigma():
    from sigma import logvar_to_sigma as f
    assert np.allclose(f([-0.70, 0.10]), [0.7047, 1.0513], rtol=1e-3)
    lv = rng.uniform(-50, 50, (3, 5))
    assert np.allclose(f(lv), np.exp(0.5 * lv), rtol=1e-4)


def kl_ref(mu, lv):
    t = -0.5 * (1 + lv - mu ** 2 - np.exp(lv))
    return t.sum(-1).mean() if t.ndim == 2 else t.sum()


def test_kl():
    from kl import kl_per_dimension, kl_to_standard_normal as f
    assert f(np.array([0.4, -0.2]), np.array([-0.7, 0.1])) == pytest.approx(0.2009, abs=1e-4)
    assert f(np.array([2.0, -1.5]), np.array([-1.5, 1.2])) == pytest.approx(4.0466, abs=1e-4)
    for _ in range(5):
        mu, lv = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
        assert f(mu, lv) == pytest.approx(kl_ref(mu, lv), rel=1e-4)
        assert np.sum(kl_per_dimension(mu, lv)) == pytest.approx(kl_ref(mu, lv), rel=1e-4)
    with pytest.raises(ValueError):
        f(np.zeros(2), np.zeros(3))


def test_reparam():
    from reparam import reparameterize as f
    mu = torch.tensor([0.4, -0.2], requires_grad=True)
    lv = torch.tensor([-0.7, 0.1], requires_grad=True)
    z = f(mu, lv, torch.tensor([0.5, -1.0]))
    assert np.allclose(z.detach().numpy(), [0.752, -1.251], atol=1e-3)
    z.sum().backward()
    assert np.allclose(mu.grad.numpy(), 1.0)
    samples = torch.stack([f(torch.zeros(1000), torch.zeros(1000)) for _ in range(5)])
    assert abs(float(samples.mean())) < 0.1 and abs(float(samples.std()) - 1) < 0.1


def test_elbo():
    from elbo import vae_loss
    x, xh = torch.tensor([0.10, 0.90, 0.85, 0.12]), torch.tensor([0.12, 0.84, 0.80, 0.14])
    total, recon, kl = vae_loss(x, xh, torch.tensor([0.4, -0.2]), torch.tensor([-0.7, 0.1]), beta=0.1)
    assert float(recon) == pytest.approx(0.001725, rel=1e-3) and float(kl) == pytest.approx(0.2009, abs=1e-4)
    with pytest.raises(ValueError):
        vae_loss(x, xh, torch.zeros(2), torch.zeros(2), beta=-1.0)
    torch.manual_seed(0)
    data = torch.rand(64, 25)
    enc, mu_l, lv_l = torch.nn.Linear(25, 12), torch.nn.Linear(12, 2), torch.nn.Linear(12, 2)
    dec1, dec2 = torch.nn.Linear(2, 12), torch.nn.Linear(12, 25)
    params = [p for m in (enc, mu_l, lv_l, dec1, dec2) for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=0.03)
    for _ in range(120):
        h = torch.tanh(enc(data))
        mu, lv = mu_l(h), lv_l(h)
        z = mu + torch.exp(0.5 * lv) * torch.randn_like(mu)
        total, recon, kl = vae_loss(data, torch.sigmoid(dec2(torch.tanh(dec1(z)))), mu, lv, beta=0.02)
        opt.zero_grad()
        total.backward()
        opt.step()
    assert float(recon) < 0.2


def test_collapse():
    from collapse import active_dimensions, is_collapsed
    assert is_collapsed([0.31, 0.18]) is False and bool(is_collapsed([0.0003, 0.0001])) is True
    assert list(active_dimensions([0.31, 0.0001, 0.18])) == [0, 2]
    with pytest.raises(ValueError):
        is_collapsed([])


def test_vq():
    from vq import nearest_code, quantize_straight_through, squared_distances
    z, cb = np.array([0.72, -0.10]), np.array([[-0.80, 0.20], [0.65, -0.05], [0.10, 0.90]])
    assert np.allclose(squared_distances(z, cb), [2.4004, 0.0074, 1.3844], atol=1e-4)
    assert nearest_code(z, cb)[0] == 1
    ze = torch.tensor(rng.normal(size=(5, 2)), dtype=torch.float32, requires_grad=True)
    zq, idx = quantize_straight_through(ze, torch.tensor(cb, dtype=torch.float32))
    zq.sum().backward()
    assert np.allclose(ze.grad.numpy(), 1.0)


def test_latent_budget():
    from latent_budget import latent_grid, spatial_reduction
    assert tuple(latent_grid(512, 512, 8)) == (64, 64) and spatial_reduction(512, 512, 8) == 64
    with pytest.raises(ValueError):
        latent_grid(510, 512, 8)
'''


def naive_baseline(folders: list[Path], work: Path, *, workers: int, timeout: float) -> dict:
    """One pytest process per submission, `workers` at a time."""
    work.mkdir(parents=True)
    tests = []
    for folder in folders:
        test = work / folder.parent.name / "test_submission.py"
        test.parent.mkdir()
        test.write_text(NAIVE_TEST.format(folder=str(folder)))
        tests.append(test)

    def limit():   # keep a memory bomb from taking the machine down (the sandbox has its own limit)
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))

    def one(test: Path) -> float:
        started = time.monotonic()
        try:
            subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test)],
                           cwd=test.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           timeout=timeout, preexec_fn=limit)
        except subprocess.TimeoutExpired:
            pass
        return time.monotonic() - started

    started, cpu0 = time.monotonic(), _children_cpu()
    with ThreadPoolExecutor(workers) as pool:
        each = list(pool.map(one, tests))
    wall = time.monotonic() - started
    return {"wall": wall, "rate": len(tests) / wall, "median": statistics.median(each),
            "cpu_per_sub": (_children_cpu() - cpu0) / len(tests)}


# --- the report ---------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=40, help="synthetic submissions (default 40)")
    parser.add_argument("--time-limit", type=float, default=2.0,
                        help="per-concept time limit for the batch runs, seconds (default 2)")
    parser.add_argument("--memory-limit", type=int, default=256,
                        help="memory limit of each sandboxed process for the batch runs, MB (default 256; the "
                             "memory bomb fills it, so it bounds the peak)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the floor/isolated comparison")
    parser.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it")
    parser.add_argument("--skip-naive", action="store_true", help="skip the pytest baseline (the slowest part)")
    parser.add_argument("--skip-modes", action="store_true", help="skip the threads-vs-processes comparison")
    parser.add_argument("--repeats", type=int, default=5, help="runs of `vaegrade grade` and `vaegrade check`")
    parser.add_argument("--concept", default="mse", help="concept for `vaegrade check` and the warm re-check")
    parser.add_argument("--saves", type=int, default=10, help="saves timed by the warm re-check")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="vaegrade-bench-"))
    if args.keep and work.exists():
        shutil.rmtree(work)
    subs = work / "submissions"
    kinds = make_class(subs, args.n)
    counts = {k: sum(v.split(":")[0] == k for v in kinds.values()) for k in ("correct", "wrong", "adversarial")}
    print(f"{args.n} submissions: {counts['correct']} correct, {counts['wrong']} wrong, "
          f"{counts['adversarial']} adversarial ({', '.join(v.split(':')[1] for v in kinds.values() if v.startswith('adv'))}); "
          f"cores: {os.cpu_count()}; per-concept time limit {args.time_limit:g} s, memory limit "
          f"{args.memory_limit} MB; load average {_load()}")
    print(f"work folder: {work}")
    try:
        limits = dict(time_limit=args.time_limit, memory_limit=args.memory_limit)
        j1 = run_batch(subs, work / "out-j1", jobs=1, **limits)
        j2 = run_batch(subs, work / "out-j2", jobs=2, **limits)
        rows = [("vaegrade batch -j 1", j1), ("vaegrade batch -j 2", j2)]
        if not args.skip_modes:
            rows.append(("library, -j 2, threads", run_batch(subs, work / "out-threads", jobs=2, mode="threads",
                                                              **limits)))
            rows.append(("library, -j 2, processes", run_batch(subs, work / "out-processes", jobs=2,
                                                                mode="processes", **limits)))
        print(f"\n{'':27} {'wall s':>7} {'subs/s':>7} {'steady/s':>9} {'median s':>9} {'p95 s':>7} "
              f"{'CPU s/sub':>10} {'peak PSS MB':>12}")
        for name, r in rows:
            steady = f"{r['steady']:.2f}" if r["steady"] else "-"
            print(f"{name:27} {r['wall']:7.2f} {r['rate']:7.2f} {steady:>9} {r['median']:9.3f} {r['p95']:7.3f} "
                  f"{r['cpu_per_sub']:10.3f} {r['peak_mb']:8.0f} ({r['peak_procs']} procs)")

        scores = _scores(work / "out-j2" / "gradebook.sqlite")
        full = [k for k, v in kinds.items() if v == "correct" and scores[k][0] == scores[k][1]]
        print(f"sanity: {len(full)} of {counts['correct']} correct submissions got full marks; "
              f"wrong ones scored {_mean(scores, kinds, 'wrong'):.1f} on average, adversarial ones "
              f"{_mean(scores, kinds, 'adversarial'):.1f} (of {next(iter(scores.values()))[1]:g})")

        folders = prepared_folders(subs, kinds, work / "prepared")
        over = isolation_overhead(folders, args.rounds)
        ratio = over["isolated"] / over["floor"]
        print(f"\nin-process floor (no isolation, {len(folders)} correct+wrong submissions): "
              f"{over['floor']:.3f} s per submission")
        print(f"sandboxed, warm zygote, one at a time (same submissions):  {over['isolated']:.3f} s per submission")
        print(f"isolation overhead: {ratio:.2f}x the floor in wall time ({(ratio - 1) * 100:+.0f}%); in CPU time "
              f"{over['isolated_cpu']:.3f} s against {over['floor_cpu']:.3f} s: "
              f"{over['isolated_cpu'] / over['floor_cpu']:.2f}x")

        correct = next(f for f in folders if kinds[f.parent.name] == "correct")
        walls = single_grade(correct, work, args.repeats)
        print(f"\nvaegrade grade, one correct submission, wall incl. interpreter start: "
              f"median {statistics.median(walls):.2f} s (runs: {', '.join(f'{w:.2f}' for w in walls)})")
        check_walls = single_check(args.concept, work, args.repeats)
        print(f"vaegrade check {args.concept}, wall incl. interpreter start: median "
              f"{statistics.median(check_walls):.2f} s (runs: {', '.join(f'{w:.2f}' for w in check_walls)})")
        warm = warm_recheck(args.concept, args.saves)
        print(f"warm re-check after a save (bench/bench_watch.py):\n  " + warm["text"].replace("\n", "\n  "))

        naive = None
        if not args.skip_naive:
            every = [archives_folder for archives_folder in _all_prepared(subs, work / "prepared-all")]
            naive = naive_baseline(every, work / "naive", workers=2, timeout=8 * args.time_limit + 10)
            print(f"\nnaive baseline (one pytest process per submission, 2 at a time): {naive['wall']:.1f} s, "
                  f"{naive['rate']:.2f} subs/s, median {naive['median']:.2f} s per process, "
                  f"{naive['cpu_per_sub']:.2f} CPU s per submission")
            print(f"batch -j 2 vs naive: {j2['rate'] / naive['rate']:.1f}x end to end"
                  + (f", {j2['steady'] / naive['rate']:.1f}x steady state" if j2["steady"] else ""))

        cpu_ratio = over["isolated_cpu"] / over["floor_cpu"]
        steady2 = j2["steady"] or j2["rate"]
        table = [
            ("in-process floor, CPU s/sub", f"{over['floor_cpu']:.3f}", "(reference)", None),
            ("sandboxed (warm zygote), CPU s/sub", f"{over['isolated_cpu']:.3f}", "", None),
            ("isolation overhead, CPU", f"{cpu_ratio:.2f}x", "<= 1.25x", cpu_ratio <= 1.25),
            ("isolation overhead, wall", f"{over['isolated'] / over['floor']:.2f}x", "(info)", None),
            ("batch -j 1, steady subs/s", f"{(j1['steady'] or j1['rate']):.2f}", "(info)", None),
            ("batch -j 1, end-to-end subs/s", f"{j1['rate']:.2f}", "(info)", None),
            ("batch -j 2, steady subs/s", f"{steady2:.2f}", ">= 12", steady2 >= 12),
            ("batch -j 2, end-to-end subs/s", f"{j2['rate']:.2f}", "(info)", None),
        ]
        if naive is not None:
            table += [("naive pytest baseline, subs/s", f"{naive['rate']:.2f}", "(reference)", None),
                      ("batch -j 2 steady / naive", f"{steady2 / naive['rate']:.1f}x", ">= 15x",
                       steady2 / naive["rate"] >= 15)]
        table += [
            ("batch -j 2 peak PSS, whole tree", f"{j2['peak_mb']:.0f} MB", "< 1024 MB", j2["peak_mb"] < 1024),
            ("vaegrade grade (1 sub), wall median", f"{statistics.median(walls):.2f} s", "<= 1.5 s",
             statistics.median(walls) <= 1.5),
            (f"vaegrade check {args.concept}, wall median", f"{statistics.median(check_walls):.2f} s", "<= 1.2 s",
             statistics.median(check_walls) <= 1.2),
            ("warm re-check after a save, median",
             f"{warm['median']:.3f} s" if warm["median"] is not None else "failed", "< 0.3 s",
             warm["median"] is not None and warm["median"] < 0.3),
        ]
        print(f"\n{'figure':40} {'measured':>12} {'target':>12}  verdict")
        for name, value, target, ok in table:
            verdict = "" if ok is None else ("met" if ok else "MISSED")
            print(f"{name:40} {value:>12} {target:>12}  {verdict}")
        print(f"\nload average at the end: {_load()} on {os.cpu_count()} cores (other work on this machine "
              "slows every figure above)")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _mean(scores: dict, kinds: dict, kind: str) -> float:
    got = [scores[k][0] for k, v in kinds.items() if v.startswith(kind)]
    return sum(got) / len(got) if got else float("nan")


def _all_prepared(subs: Path, work: Path) -> list[Path]:
    from grader.grading import intake as archives

    folders = []
    for entry in archives.discover(subs).entries:
        dest = work / entry.learner
        dest.mkdir(parents=True)
        folders.append(archives.prepare(entry, dest).folder)
    return folders


if __name__ == "__main__":
    main()
