"""The attack suite: submissions that would fool a naive grader (pytest run in the submission's own
process) and earn nothing here.

Every attack is a small submission written to tmp_path. Its trick sits in mse.py, the concept it
targets, around an implementation that is WRONG (mean absolute error instead of mean squared
error) unless the trick worked: most attacks switch to a correct MSE only when the trick
succeeded, so any point earned is proof that it did. Each submission also holds an honest, correct
sigma.py, which must keep its full marks: the rest of the submission carries on. For every
attack the grader must finish with a valid result (every concept present, JSON-serialisable), and
no process of the submission may survive grading.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import grader
from concept_helpers import CALLS_ANSWER_REWRITES
from grader.course import manifest
from grader.checks import checks_for
from grader.settings import Limits
from grader.grading.results import GradingResult
from grader.checks import Raised
from grader.grading.runner import grade_submission
from grader.sandbox.session import Zygote

PACKAGE = Path(grader.__file__).resolve().parent
REPO = PACKAGE.parent
LIMITS = Limits(concept_seconds=2.0, memory_mb=512, output_chars=2000)
MARKER = "vaegrade-attack-marker-7d1e"
CONCEPTS = [c.id for c in manifest.load()]

HONEST_SIGMA = """
import numpy as np

def logvar_to_sigma(logvar):
    return np.exp(0.5 * np.asarray(logvar, dtype=np.float64))
"""

# The two halves of every attacking mse.py: a right and a wrong MSE.
BASE = """
import numpy as np

def _right(x, x_hat):
    x, x_hat = np.asarray(x, dtype=np.float64), np.asarray(x_hat, dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError("shapes differ")
    return float(np.mean((x - x_hat) ** 2))

def _wrong(x, x_hat):
    x, x_hat = np.asarray(x, dtype=np.float64), np.asarray(x_hat, dtype=np.float64)
    if x.shape != x_hat.shape:
        raise ValueError("shapes differ")
    return float(np.mean(np.abs(x - x_hat)))  # mean ABSOLUTE error: wrong on purpose
"""


def gated(setup: str, worked: str = "TRICK") -> str:
    """An mse.py that runs `setup` at import, then answers right only if `worked` is truthy."""
    return BASE + textwrap.dedent(setup) + f"""
def reconstruction_mse(x, x_hat):
    if {worked}:
        return _right(x, x_hat)
    return _wrong(x, x_hat)
"""


def in_function(body: str) -> str:
    """An mse.py whose function runs `body` (which may use x, x_hat), then answers wrong."""
    body = textwrap.indent(textwrap.dedent(body), "    ")
    return BASE + f"""
def reconstruction_mse(x, x_hat):
{body}
    return _wrong(x, x_hat)
"""


def attempt(code: str) -> str:
    """`code` in a try block: TRICK becomes True only if it ran to the end without an error."""
    return "TRICK = False\ntry:\n" + textwrap.indent(textwrap.dedent(code), "    ") + \
        "\n    TRICK = True\nexcept BaseException:\n    pass\n"


def honest_mse_source() -> str:
    return BASE + "\ndef reconstruction_mse(x, x_hat):\n    return _right(x, x_hat)\n"


# Files that a write attack aims at; none may exist (or change) after grading.
def _forbidden_files(tmp: Path) -> list[Path]:
    return [tmp / "cwd" / "results.json", tmp / "sub" / "results.json", Path("/tmp") / f"{MARKER}.json",
            PACKAGE / f"{MARKER}.json", REPO / f"{MARKER}.json", Path.home() / f"{MARKER}.json"]


GRADER_FILES = [PACKAGE / "checks" / "mse.py"]


def _digest(paths) -> dict:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


# --- the attacks -----------------------------------------------------------------------------

FAKE_GRADESCOPE = json.dumps({"score": 80, "max_score": 80, "output": "All tests passed",
                              "tests": [{"name": "mse", "score": 10, "max_score": 10, "status": "passed"}]})

# Forged replies written onto the protocol socket from inside the learner's function: `build`
# fills `replies`, each sent as a frame (pickled with its memo, so shared objects stay shared).
FORGE_ON_SOCKET = """
import os, pickle, stat, struct
for fd in range(3, 1024):
    try:
        if stat.S_ISSOCK(os.fstat(fd).st_mode):
            break
    except OSError:
        pass
{build}
for reply in replies:
    body = pickle.dumps(reply, protocol=5)
    try:
        os.write(fd, struct.pack("!Q", len(body)) + body)
    except OSError:
        pass
"""

def forge(build: str) -> str:
    return in_function(FORGE_ON_SOCKET.format(build=textwrap.dedent(build)))


ATTACKS: dict[str, str] = {
    # Early exits: a naive grader that runs pytest in-process stops with status 0 and "no failures".
    "sys_exit_at_import": "import sys\nsys.exit(0)\n" + honest_mse_source(),
    "os_exit_at_import": "import os\nos._exit(0)\n" + honest_mse_source(),
    "sys_exit_in_function": in_function("import sys\nsys.exit(0)"),
    "os_exit_in_function": in_function("import os\nos._exit(0)"),
    "raise_systemexit_in_function": in_function("raise SystemExit(0)"),
    "raise_keyboardinterrupt_in_function": in_function("raise KeyboardInterrupt"),
    # Fake results on stdout, with terminal escapes that would repaint a staff terminal.
    "print_fake_gradescope_json": f"print({FAKE_GRADESCOPE!r})\n" + in_function(
        f"print({FAKE_GRADESCOPE!r})\nprint('===== 10 passed in 0.01s =====')"),
    "print_ansi_fake_pass": in_function(
        "print('\\x1b[2J\\x1b[H\\x1b[32mvaegrade: 80 / 80 PASSED\\x1b[0m\\x07')\n"
        "raise ValueError('\\x1b[2J\\x1b[32m all checks passed \\u202e')"),
    # Result files written where a grader or Gradescope might pick them up.
    "write_results_json_cwd": gated(attempt(f"""
        for path in ("results.json", "__SUB__/results.json", "__CWD__/results.json"):
            try:
                open(path, "w").write({FAKE_GRADESCOPE!r})
            except OSError:
                pass
        open("results.json", "w").write({FAKE_GRADESCOPE!r})
    """)),
    "write_results_json_everywhere": gated(attempt(f"""
        import os, pathlib
        for d in ("/tmp", {str(PACKAGE)!r}, {str(REPO)!r}, os.path.expanduser("~"), "/autograder/results"):
            try:
                pathlib.Path(d, "{MARKER}.json").write_text({FAKE_GRADESCOPE!r})
            except OSError:
                pass
        fd = os.open("/tmp/{MARKER}.json", os.O_WRONLY | os.O_CREAT, 0o644)
    """)),
    "overwrite_grader_checks": gated(attempt(f"""
        import os
        path = {str(PACKAGE / "checks" / "mse.py")!r}
        try:
            os.truncate(path, 0)
        except OSError:
            pass
        with open(path, "r+") as f:
            f.write("CHECKS = []\\n")
    """)),
    "atexit_fake_results": gated(attempt(f"""
        import atexit
        atexit.register(lambda: open("/tmp/{MARKER}.json", "w").write({FAKE_GRADESCOPE!r}))
        atexit.register(print, {FAKE_GRADESCOPE!r})
    """), worked="False"),
    # Monkeypatching what a naive grader compares with.
    "patch_numpy_comparisons": gated(attempt("""
        import sys, numpy
        np_mod = sys.modules["numpy"]
        np_mod.allclose = lambda *a, **k: True
        np_mod.isclose = lambda *a, **k: np.True_
        np_mod.array_equal = lambda *a, **k: True
        np_mod.testing.assert_allclose = lambda *a, **k: None
        np_mod.isfinite = lambda *a, **k: np.True_
    """), worked="False"),
    "patch_torch_comparisons": gated(attempt("""
        import sys, torch
        t = sys.modules["torch"]
        t.allclose = lambda *a, **k: True
        t.testing.assert_close = lambda *a, **k: None
        t.Tensor.__eq__ = lambda self, other: torch.tensor(True)
    """), worked="False"),
    "patch_math_and_builtins": gated(attempt("""
        import math, builtins
        math.isclose = lambda *a, **k: True
        builtins.abs = lambda v: 0.0
        builtins.isinstance = lambda *a: True
        builtins.round = lambda *a, **k: 0
    """), worked="False"),
    "patch_pytest": gated(attempt("""
        import sys, types
        class _Approx:
            def __eq__(self, other): return True
            def __ne__(self, other): return False
        fake = types.ModuleType("pytest")
        fake.approx = lambda *a, **k: _Approx()
        fake.fail = fake.skip = lambda *a, **k: None
        sys.modules["pytest"] = fake
        import pytest
        pytest.approx = fake.approx
    """), worked="False"),
    "patch_grader_via_sys_modules": gated(attempt("""
        import sys, types
        import grader.checks, grader.settings
        grader.checks.close = lambda *a, **k: True
        grader.checks.expect_close = lambda *a, **k: None
        grader.settings.RELATIVE_TOLERANCE = 1e9
        sys.modules["grader.checks"].as_array = lambda value, what: value
        for name in ("grader.grading.runner", "grader.checks.mse"):
            fake = types.ModuleType(name)
            fake.grade_submission = lambda *a, **k: None
            sys.modules[name] = fake
    """)),
    "patch_sandbox_harness": gated(attempt("""
        import grader.sandbox.child as child
        child.encode_result = lambda value, depth=0: ("float", 0.0)
        child._describe = lambda exc, path=None: ("ValueError", "", None, ("ValueError", "Exception"))
    """), worked="False"),
    # The answer to several calls at once rewritten (forged, empty, garbled, dripped).
    **{"calls_answer_" + name.replace(" ", "_"): gated(attempt(
        "import grader.sandbox.child as child\n" + textwrap.dedent(rewrite)), worked="False")
       for name, rewrite in CALLS_ANSWER_REWRITES.items()},
    # Values that lie when compared.
    "rigged_eq_object": BASE + """
class Anything:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return False
    def __gt__(self, other): return False
    def __abs__(self): return 0.0
    def __sub__(self, other): return 0.0
    __rsub__ = __sub__
    def __float__(self): return 0.0
    def __repr__(self): return "0.001725"

def reconstruction_mse(x, x_hat):
    return Anything()
""",
    "float_subclass_lies_in_comparison": BASE + """
import sys

class Liar(float):
    def _comparing(self):
        frame = sys._getframe(2)
        return any(k in (frame.f_code.co_filename or "") for k in ("pytest", "numpy", "checks", "unittest"))
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __sub__(self, other): return 0.0
    def __rsub__(self, other): return 0.0
    def __abs__(self): return Liar(0.0)
    def __float__(self): return 0.0 if self._comparing() else float.__float__(self)
    __hash__ = float.__hash__

def reconstruction_mse(x, x_hat):
    return Liar(_wrong(x, x_hat))
""",
    "ndarray_subclass_lies_in_comparison": BASE + """
class LyingArray(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), dtype=bool)
    def __ne__(self, other): return np.zeros(np.shape(other), dtype=bool)
    def __array__(self, dtype=None, copy=None): return np.zeros(self.shape)
    def __float__(self): return 0.0
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs): return np.zeros(())

def reconstruction_mse(x, x_hat):
    return np.asarray(_wrong(x, x_hat)).view(LyingArray)
""",
    "tensor_subclass_lies_in_comparison": BASE + """
import torch

class LyingTensor(torch.Tensor):
    def __eq__(self, other): return torch.tensor(True)
    def __float__(self): return 0.0
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func.__name__ in ("allclose", "isclose", "equal", "eq"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})

def reconstruction_mse(x, x_hat):
    return torch.tensor(_wrong(x, x_hat), dtype=torch.float64).as_subclass(LyingTensor)
""",
    "nan_poison": in_function("return float('nan')"),
    # Looking for the expected value where a naive grader keeps it.
    "caller_frames_getframe": BASE + """
import sys

def _find():
    f = sys._getframe(1)
    while f is not None:
        for name in ("expected", "reference", "want", "right", "ref"):
            value = f.f_locals.get(name)
            if isinstance(value, (float, np.floating)):
                return float(value)
            if callable(value) and name == "reference":
                return value
        f = f.f_back
    return None

def reconstruction_mse(x, x_hat):
    found = _find()
    if callable(found):
        return found(x, x_hat)
    return found if found is not None else _wrong(x, x_hat)
""",
    "caller_frames_inspect_stack": BASE + """
import inspect

def reconstruction_mse(x, x_hat):
    for info in inspect.stack():
        g = info.frame.f_globals
        if callable(g.get("reference")):
            return g["reference"](x, x_hat)
        for name, value in info.frame.f_locals.items():
            if name.startswith("expect") and isinstance(value, float):
                return value
    return _wrong(x, x_hat)
""",
    "gc_scan_for_expected": BASE + """
import gc, types

def reconstruction_mse(x, x_hat):
    for obj in gc.get_objects():
        if isinstance(obj, types.FunctionType) and obj.__name__ in ("reference", "expect_mse", "mistakes"):
            if obj.__name__ == "reference":
                return obj(x, x_hat)
        if isinstance(obj, dict) and "reference" in obj and callable(obj["reference"]):
            return obj["reference"](x, x_hat)
    return _wrong(x, x_hat)
""",
    "sys_modules_scan_for_checks": BASE + """
import sys

def reconstruction_mse(x, x_hat):
    for name, mod in list(sys.modules.items()):
        ref = getattr(mod, "reference", None)
        if callable(ref) and ("check" in name or "solution" in name or name.endswith("mse")):
            return ref(x, x_hat)
    return _wrong(x, x_hat)
""",
    # Getting the answer key or the reference solutions.
    "import_solutions_package": gated(attempt(f"""
        import sys
        sys.path.insert(0, {str(REPO)!r})
        import solutions.mse as ref
        assert callable(ref.reconstruction_mse)
    """)),
    "importlib_solution_by_path": gated(attempt(f"""
        import importlib.util
        spec = importlib.util.spec_from_file_location("ref", {str(REPO / "solutions" / "mse.py")!r})
        ref = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(ref)
    """)),
    "read_and_exec_hidden_checks": gated(attempt(f"""
        ns = {{"__name__": "__main__"}}
        src = open({str(PACKAGE / "checks" / "mse.py")!r}).read()
        exec(compile(src, "hidden_checks", "exec"), ns)
        assert "reference" in src
    """)),
    "read_quiz_key_and_packaged_content": gated(attempt(f"""
        import glob, os
        found = glob.glob({str(REPO / "quizzes" / "*.toml")!r}) + glob.glob({str(PACKAGE / "**" / "*.py")!r}, recursive=True)
        data = open(found[0]).read() if found else open({str(REPO / "quizzes" / "mastery.toml")!r}).read()
        assert data
    """)),
    "read_installed_package_files": gated(attempt("""
        import importlib.metadata, importlib.resources, os, grader
        texts = []
        try:
            for f in importlib.metadata.files("vae-grader") or []:
                if str(f).endswith((".py", ".toml")) and "checks" in str(f):
                    texts.append(f.read_text())
        except Exception:
            pass
        texts.append((importlib.resources.files("grader") / "checks" / "mse.py").read_text())
        texts.append(open(os.path.join(os.path.dirname(grader.__file__), "checks", "mse.py")).read())
        assert any("reference" in t for t in texts)
    """)),
    "dir_fd_relative_open": gated(attempt(f"""
        import os, numpy
        site = os.path.dirname(os.path.dirname(numpy.__file__))
        fd = os.open(site, os.O_RDONLY)
        for target in ({str(PACKAGE / "checks" / "mse.py")!r}, {str(REPO / "solutions" / "mse.py")!r}):
            src = os.read(os.open(os.path.relpath(target, site), os.O_RDONLY, dir_fd=fd), 100000)
        assert b"reconstruction_mse" in src
    """)),
    "read_with_torch_from_file": gated(attempt(f"""
        import torch
        data = torch.from_file({str(REPO / "solutions" / "mse.py")!r}, size=64, dtype=torch.uint8)
        assert bytes(data.tolist())
    """)),
    "c_level_calls_with_cffi": gated(attempt(f"""
        import cffi
        ffi = cffi.FFI()
        ffi.cdef("int open(const char *, int, ...); long read(int, void *, long); int fork(void);"
                 "int kill(int, int); int getppid(void); int system(const char *);")
        C = ffi.dlopen(None)
        C.system(b"touch /tmp/{MARKER}.json")
        C.kill(C.getppid(), 9)
        fd = C.open({str(REPO / "solutions" / "mse.py").encode()!r}, 0)
        assert fd >= 0
        buf = ffi.new("char[]", 4096)
        assert C.read(fd, buf, 4096) > 0
        assert C.open(b"/tmp/{MARKER}.json", 0o101, ffi.cast("int", 0o644)) >= 0
    """)),
    "ctypes_calls": gated(attempt(f"""
        import ctypes
        libc = ctypes.CDLL(None)
        libc.system(b"touch /tmp/{MARKER}.json")
    """)),
    "read_other_process_memory_and_env": gated(attempt("""
        import os
        ppid = os.getppid()
        env = open(f"/proc/{ppid}/environ", "rb").read()
        cmdline = open(f"/proc/{ppid}/cmdline", "rb").read()
        assert env or cmdline
    """)),
    # Limits: time, memory, processes, output.
    "infinite_loop_at_import": "while True:\n    pass\n" + honest_mse_source(),
    "infinite_loop_in_function": in_function("while True:\n    pass"),
    "sigterm_ignored_then_loop": in_function(
        "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "while True:\n    pass"),
    "memory_bomb_bytearray": in_function("blocks = []\nwhile True:\n    blocks.append(bytearray(64 * 1024 * 1024))"),
    "memory_bomb_numpy": in_function("big = np.ones((1 << 36,), dtype=np.float64)"),
    "memory_bomb_torch": in_function("import torch\nbig = torch.ones(1 << 36)"),
    "memory_bomb_at_import": "huge = bytearray(1 << 40)\n" + honest_mse_source(),
    "fork_bomb_os_fork": in_function(
        "import os\nfor _ in range(1000):\n    try:\n        os.fork()\n    except OSError:\n        pass"),
    "subprocess_that_outlives": gated(attempt(f"""
        import subprocess
        subprocess.Popen(["sleep", "1000", "{MARKER}"], start_new_session=True)
    """)),
    "multiprocessing_worker": gated(attempt("""
        import multiprocessing
        ctx = multiprocessing.get_context("spawn")
        ctx.Process(target=print, daemon=False).start()
    """)),
    "thread_outlives_call": in_function(f"""
        import threading, time
        def worker():
            while True:
                try:
                    open("/tmp/{MARKER}.json", "w").write("{{}}")
                except OSError:
                    pass
                print("still running")
                time.sleep(0.01)
        threading.Thread(target=worker, daemon=False).start()
    """),
    "stdout_flood_print": in_function("for i in range(20000):\n    print('flood', i, 'x' * 50)"),
    "stdout_flood_fd_write": in_function(
        "import os, sys\nfor i in range(20000):\n    os.write(1, b'x' * 1000)\n    os.write(2, b'y' * 1000)\n"
        "    sys.__stdout__.write('z' * 100)"),
    "recursion_error": in_function("def f(n):\n    return f(n + 1)\nreturn f(0)"),
    "c_stack_overflow": in_function(
        "import sys\nsys.setrecursionlimit(10 ** 6)\ndef f(n):\n    return f(n + 1) + 1\nreturn f(0)"),
    "environment_tampering": gated(attempt(f"""
        import os, sys
        os.environ["PYTHONPATH"] = {str(REPO)!r}
        os.environ["VAEGRADE_SEED"] = "0"
        sys.path[:0] = [{str(REPO)!r}, {str(REPO / "solutions")!r}]
        os.chdir({str(REPO)!r})
        import mse as maybe_reference  # the learner's own module is cached; try the solutions' by path
        import importlib
        ref = importlib.import_module("solutions.mse")
    """)),
    "forge_reply_on_protocol_socket": in_function("""
        import os, pickle, stat, struct
        for fd in range(3, 1024):
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    forged = pickle.dumps((("ok", ("float", 0.0), {}), "", 0), protocol=5)
                    for _ in range(20):
                        os.write(fd, struct.pack("!Q", len(forged)) + forged)
                    os.write(fd, struct.pack("!Q", 2 ** 40))
            except OSError:
                pass
    """),
    "forge_malformed_replies": in_function("""
        import os, pickle, stat, struct
        forged = [("import_error",), ("limit", "\\x1b[2J"), ("raised",), ("ok",), ("missing_file", 1, 2),
                  ("import_error", "\\x1b[31m", 5, "x", None), ("raised", 1, 2, 3, 4), ("ok", ("t", 1), []),
                  ("ok", ("float", 0.0), {"grads": ("ok", 5), "history": "x"}), ("whatever", 1), ("missing_function",)]
        for fd in range(3, 1024):
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    for reply in forged:
                        body = pickle.dumps((reply, "", 0), protocol=5)
                        os.write(fd, struct.pack("!Q", len(body)) + body)
            except OSError:
                pass
    """),
    "drip_feed_reply_past_deadline": in_function("""
        import os, stat, struct, time
        for fd in range(3, 1024):
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    os.write(fd, struct.pack("!Q", 10 ** 6))
                    while True:
                        os.write(fd, b"(")
                        time.sleep(0.5)
            except OSError:
                pass
    """),
    "kill_parent_and_zygote": in_function("""
        import os, signal
        for pid in (os.getppid(), os.getpgid(0) - 1):
            for how in (lambda: os.kill(pid, signal.SIGKILL), lambda: os.killpg(os.getpgid(pid), signal.SIGKILL),
                        lambda: signal.pidfd_send_signal(os.pidfd_open(pid), signal.SIGKILL)):
                try:
                    how()
                except (OSError, AttributeError):
                    pass
    """),
    "network_access": gated(attempt("""
        import socket, os
        port = __PORT__
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
        s.sendall(b"expected values please")
    """)),
    "sqlite_side_channel": gated(attempt(f"""
        import sqlite3
        db = sqlite3.connect("/tmp/{MARKER}.db")
        db.execute("create table t (x)")
        db.commit()
    """)),
    "copy_a_classmates_submission": gated(attempt("""
        import glob
        ns = {}
        found = glob.glob("/tmp/vaegrade-*/mse.py") + glob.glob("__CLASSMATE__/mse.py")
        exec(open(found[-1]).read(), ns)
        _right = ns["reconstruction_mse"]
    """)),
    "slow_down_the_grader": in_function("""
        import os
        for how in (lambda: os.setpriority(os.PRIO_USER, 0, 19),
                    lambda: os.setpriority(os.PRIO_PROCESS, os.getppid(), 19),
                    lambda: os.sched_setaffinity(os.getppid(), {0})):
            try:
                how()
            except OSError:
                pass
    """),
    # Replies aimed at the trusted process's own time and memory (written straight onto the socket).
    "forge_reply_exponential_shared_references": forge("""
        node = ("float", 0.001725)
        for _ in range(14):
            node = ("list", [node] * 40)   # 40**14 paths in a few kilobytes
        replies = [(("ok", node, {}), "", 0)]
    """),
    "forge_reply_one_array_referenced_everywhere": forge("""
        big = ("nd", "<f8", (1 << 20,), bytes(8 << 20))
        replies = [(("ok", ("list", [big] * 3000), {"grads": ("ok", [big] * 3000)}), "", 0)]
    """),
    "forge_reply_deep_nesting_at_the_cap": forge("""
        node = ("float", 0.001725)
        for _ in range(15):
            node = ("tuple", [node] * 40)   # as deep as the cap allows, each level shared 40 times
        replies = [(("ok", node, {}), "", 0), (("ok", ("float", 0.001725), {}), "", 0)]
    """),
    "forge_reply_huge_ints_and_strings": forge("""
        huge = 1 << 4_000_000
        replies = [(("ok", ("int", huge), {}), "", 0),
                   (("raised", "x" * (8 << 20), "y" * (4 << 20), huge, ["z" * 1000] * 5000), "w" * (2 << 20), huge),
                   (("ok", ("float", 0.001725), {}), "", 0)]
    """),
    "forge_reply_racing_the_deadline": forge("""
        import time
        good = pickle.dumps((("ok", ("float", 0.001725), {}), "", 0), protocol=5)
        time.sleep(1.85)   # a reply that starts just before the concept's 2 s deadline, then stalls
        replies = []
        os.write(fd, struct.pack("!Q", len(good)) + good[:5])
        time.sleep(5)
    """),
    "forge_replies_queued_for_later_requests": forge("""
        import sys
        nonce = sys._getframe(1).f_back.f_locals.get("nonce", 0)   # the current request's, read from the harness
        replies = [(("ok", ("float", v), {}), "", 0, n) for n in (nonce, nonce + 1, 0, 1)
                   for v in (0.0, 0.001725)]
    """),
    "nan_bearing_float_subclass": BASE + """
class Sly(float):
    def __float__(self):
        return float("nan")
    def __repr__(self):
        return "0.001725"
    def __eq__(self, other):
        return True
    __hash__ = float.__hash__

def reconstruction_mse(x, x_hat):
    return Sly(_wrong(x, x_hat))
""",
    "nested_lists_at_the_encoders_cap": in_function(
        "row = [float(v) for v in np.ravel(x)][:20]\nreturn [[[[row] * 20] * 20] * 20] * 20"),
    "sigio_owner_on_the_protocol_socket": gated(attempt("""
        import fcntl, os, signal, stat
        for fd in range(3, 4096):
            try:
                if stat.S_ISSOCK(os.fstat(fd).st_mode):
                    break
            except OSError:
                pass
        fcntl.fcntl(fd, fcntl.F_SETOWN, os.getppid())
        fcntl.fcntl(fd, 10, signal.SIGKILL)   # F_SETSIG
        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_ASYNC)
    """)),
    "sysv_shared_memory_outlives_the_child": gated(attempt("""
        import cffi
        ffi = cffi.FFI()
        ffi.cdef("int shmget(int, size_t, int); int semget(int, int, int); int msgget(int, int);")
        C = ffi.dlopen(None)
        ids = [C.shmget(0, 1 << 30, 0o1600), C.semget(0, 8, 0o1600), C.msgget(0, 0o1600)]
        assert max(ids) >= 0
    """)),
    "memfd_and_posix_queue_outside_the_limits": gated(attempt("""
        import os
        fd = os.memfd_create("vaegrade-attack")
        os.write(fd, b"x" * (1 << 20))
    """)),
    "switch_off_the_audit_hook_then_ctypes": gated(attempt(f"""
        import sys
        guard = sys.modules["grader.sandbox.guard"]
        for key, value in list(vars(guard).items()):
            if isinstance(value, (frozenset, tuple)):
                setattr(guard, key, type(value)())
        guard._under = lambda *a: True
        guard._SYSTEM_READ = ("/",)
        import ctypes
        ctypes.CDLL(None).system(b"touch /tmp/{MARKER}.json")
        open({str(REPO / "solutions" / "mse.py")!r}).read()
    """)),
    "huge_return_value": in_function("return np.zeros(3 * 10 ** 6)"),
    "huge_return_list": in_function("return [[float(i)] * 50 for i in range(1_000_000)]"),
    "hostile_return_object": BASE + """
import os

class Bomb:
    def __repr__(self):
        os._exit(0)
    def __float__(self):
        raise SystemExit(0)
    def __len__(self):
        raise KeyboardInterrupt

def reconstruction_mse(x, x_hat):
    return Bomb()
""",
}


# --- running them ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def zygote():
    with Zygote() as z:
        yield z


def _sandbox_processes(zygote: Zygote) -> set[int]:
    """Every process the warm parent still has below it (children, orphans it reaped up)."""
    pids = set()
    for tid in os.listdir(f"/proc/{zygote.pid}/task"):
        with open(f"/proc/{zygote.pid}/task/{tid}/children") as f:
            pids.update(int(p) for p in f.read().split())
    return pids


def _marked_processes() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if MARKER.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def _sysv_ids() -> set[str]:
    """SysV IPC objects created by our user (a database server's own segments, under its user, do not count)."""
    ids = set()
    for kind in ("shm", "sem", "msg"):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                header, *rows = f.readlines()
        except OSError:
            continue
        cuid = header.split().index("cuid")
        ids |= {f"{kind}:{row.split()[1]}" for row in rows if int(row.split()[cuid]) == os.getuid()}
    return ids


def _write_submission(tmp_path: Path, mse_source: str) -> Path:
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "mse.py").write_text(mse_source)
    (sub / "sigma.py").write_text(HONEST_SIGMA)
    (tmp_path / "cwd").mkdir()
    return sub


def _assert_valid(result: GradingResult) -> dict:
    assert isinstance(result, GradingResult)
    assert [c.id for c in result.concepts] == CONCEPTS
    data = json.loads(json.dumps(result.to_gradescope_dict()))
    assert set(data["concepts"]) == set(CONCEPTS)
    return data


@pytest.fixture
def listener():
    """A local TCP server that records whether anything connected to it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    connections = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                connections.append(conn)
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], connections
    stop.set()
    thread.join()
    server.close()


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_earns_nothing(name, tmp_path, zygote, listener, monkeypatch):
    port, connections = listener
    (tmp_path / "classmate").mkdir()
    (tmp_path / "classmate" / "mse.py").write_text(honest_mse_source())
    priority, affinity = os.getpriority(os.PRIO_PROCESS, 0), os.sched_getaffinity(0)
    source = ATTACKS[name].replace("__PORT__", str(port)).replace("__SUB__", str(tmp_path / "sub"))
    source = source.replace("__CLASSMATE__", str(tmp_path / "classmate"))
    sub = _write_submission(tmp_path, source.replace("__CWD__", str(tmp_path / "cwd")))
    for path in _forbidden_files(tmp_path):
        assert not path.exists(), f"left over: {path}"
    before = _digest(GRADER_FILES)
    ipc_before = _sysv_ids()
    sub_before = sorted(p.name for p in sub.iterdir())
    monkeypatch.chdir(tmp_path / "cwd")

    started = time.monotonic()
    result = grade_submission(sub, limits=LIMITS, zygote=zygote)
    elapsed = time.monotonic() - started

    data = _assert_valid(result)
    scores = {c.id: c.score for c in result.concepts}
    assert scores["mse"] == 0, [c.feedback for c in result.concepts[0].checks]
    assert scores["sigma"] == 10, "the honest concept beside the attack must keep its marks"
    assert result.score == 10 and data["score"] == 10
    # Seven concepts' limits at most, plus the honest sigma: the run always ends.
    assert elapsed < 4 * LIMITS.concept_seconds + 10
    # Nothing written, nothing changed, nothing still running, no connection made.
    for path in _forbidden_files(tmp_path):
        assert not path.exists(), f"the submission wrote {path}"
    assert not Path(f"/tmp/{MARKER}.db").exists()
    assert _digest(GRADER_FILES) == before
    assert sorted(p.name for p in sub.iterdir()) == sub_before
    assert _sandbox_processes(zygote) == set()
    assert _marked_processes() == []
    assert _sysv_ids() - ipc_before == set(), "a SysV IPC object outlived the child"
    assert connections == []
    assert zygote.alive()
    assert (os.getpriority(os.PRIO_PROCESS, 0), os.sched_getaffinity(0)) == (priority, affinity)
    for check in result.checks:
        assert "\x1b" not in check.output and "\x1b" not in check.feedback
        assert len(check.output) <= LIMITS.output_chars + 100


def test_there_are_at_least_thirty_distinct_attacks():
    assert len(ATTACKS) >= 30
    assert len(set(ATTACKS.values())) == len(ATTACKS)


def test_the_honest_parts_score_as_expected(tmp_path, zygote):
    """The control: the same submission without a trick. A correct mse earns 10, the wrong one 0."""
    sub = _write_submission(tmp_path, honest_mse_source())
    assert grade_submission(sub, limits=LIMITS, zygote=zygote).score == 20
    (sub / "mse.py").write_text(gated("TRICK = False"))
    assert grade_submission(sub, limits=LIMITS, zygote=zygote).score == 10
    (sub / "mse.py").write_text(gated("TRICK = True"))
    assert grade_submission(sub, limits=LIMITS, zygote=zygote).score == 20


@pytest.mark.parametrize("name, limit", [
    ("infinite_loop_at_import", "time limit"), ("infinite_loop_in_function", "time limit"),
    ("sigterm_ignored_then_loop", "time limit"), ("drip_feed_reply_past_deadline", "time limit"),
    ("memory_bomb_bytearray", "memory limit"), ("memory_bomb_numpy", "memory limit"),
    ("memory_bomb_torch", "memory limit"), ("memory_bomb_at_import", "memory limit"),
])
def test_a_stopped_concept_says_which_limit(name, limit, tmp_path, zygote):
    sub = _write_submission(tmp_path, ATTACKS[name])
    result = grade_submission(sub, limits=LIMITS, zygote=zygote, concepts=["mse", "sigma"])
    mse = result.concepts[0]
    assert limit in mse.note and mse.score == 0
    assert any(limit in c.feedback for c in mse.checks)
    assert result.concepts[1].score == 10


def test_output_floods_are_cut(tmp_path, zygote):
    sub = _write_submission(tmp_path, ATTACKS["stdout_flood_print"])
    result = grade_submission(sub, limits=LIMITS, zygote=zygote, concepts=["mse"])
    outputs = [c.output for c in result.checks if c.output]
    assert outputs and all("more characters cut" in o for o in outputs)
    assert all(len(o) <= LIMITS.output_chars + 60 for o in outputs)


def test_feedback_and_output_carry_no_terminal_escapes(tmp_path, zygote):
    sub = _write_submission(tmp_path, ATTACKS["print_ansi_fake_pass"])
    result = grade_submission(sub, limits=LIMITS, zygote=zygote, concepts=["mse"])
    text = json.dumps(result.to_gradescope_dict())
    assert "80 / 80 PASSED" in text  # shown, as the learner's text ...
    for check in result.checks:        # ... but inert
        for field in (check.output, check.feedback):
            assert not any(ord(ch) < 32 and ch not in "\n\t" for ch in field)
            assert "\u202e" not in field


# --- replacing the TinyVAE training loop (targets the elbo concept) ----------------------------

WRONG_ELBO = """
import torch

def vae_loss(x, x_hat, mu, logvar, beta=1.0):
    if beta < 0:
        raise ValueError("beta must be non-negative")
    recon = torch.mean((x_hat - x) ** 2)
    terms = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    kl = terms.sum(dim=-1).mean() if terms.dim() == 2 else terms.sum()
    return recon - 50 * beta * kl, recon, kl  # WRONG: the KL pushes posteriors away, fifty times over
"""

TRAINING_SWAP = WRONG_ELBO + """
def _good_loss(x, x_hat, mu, logvar, beta=1.0):
    recon = torch.mean((x_hat - x) ** 2)
    kl = (-0.5 * (1 + logvar - mu.pow(2) - logvar.exp())).sum(-1).mean()
    return recon + beta * kl, recon, kl

import sys
for name in ("grader.course.tinyvae", "grader.sandbox.child"):
    module = sys.modules.get(name)
    if module is not None and hasattr(module, "train"):
        _orig = module.train
        module.train = lambda loss_fn, payload, _orig=_orig: _orig(_good_loss, payload)
child = sys.modules.get("grader.sandbox.child")
if child is not None:
    for key, handler in list(child.HANDLERS.items()):
        child.HANDLERS[key] = handler
"""


def test_replacing_the_training_loop_earns_nothing(tmp_path, zygote):
    """The TinyVAE check trains with the graded vae_loss: a wrong loss that swaps in a good one
    inside its own process earns exactly what the wrong loss alone earns."""
    honest, attack = tmp_path / "honest", tmp_path / "attack"
    for folder, source in ((honest, WRONG_ELBO), (attack, TRAINING_SWAP)):
        folder.mkdir()
        (folder / "elbo.py").write_text(source)
    results = [grade_submission(f, zygote=zygote, seed=5) for f in (honest, attack)]
    for result in results:
        _assert_valid(result)
    scores = [{c.name: c.score for c in r.concepts[CONCEPTS.index("elbo")].checks} for r in results]
    assert scores[0] == scores[1]
    training = [name for name in scores[1] if "TinyVAE" in name]
    assert training and all(scores[1][name] == 0 for name in training)


# The harness rewritten: the graded (wrong) loss is called, but the gradients reported are those of
# a good loss, computed by a replacement of the child's request handler.
FORGED_GRADIENTS = WRONG_ELBO + """
import sys

def _good_loss(x, x_hat, mu, logvar, beta=1.0):
    recon = torch.mean((x_hat - x) ** 2)
    terms = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    kl = terms.sum(dim=-1).mean() if terms.dim() == 2 else terms.sum()
    return recon + beta * kl, recon, kl

child = sys.modules["grader.sandbox.child"]
_honest = child.HANDLERS["call"]

def _forging(req):
    reply = _honest(req)
    _, _, _, args, kwargs, opts = req
    if opts.get("backward") is None or reply[0] != "ok":
        return reply
    tensors = [child.decode_arg(a) for a in args]
    tensors = [t.detach().clone().requires_grad_(t.requires_grad) for t in tensors]
    beta = child.decode_arg(kwargs["beta"]) if "beta" in kwargs else 1.0
    outs = _good_loss(*tensors, beta=beta)
    total = sum((o * torch.from_numpy(child.decode_array(w)).to(o.dtype)).sum()
                for o, w in zip(outs, opts["backward"]) if w is not None)
    total.backward()
    grads = [child.encode_result(t.grad) if t.requires_grad else ("none",) for t in tensors]
    return ("ok", reply[1], {"grads": ("ok", grads)})

child.HANDLERS["call"] = _forging
"""

# The same, for reparameterize: a function with no gradient path whose harness reports the
# reparameterization trick's gradients.
FORGED_REPARAM = """
import sys, torch

def reparameterize(mu, logvar, epsilon=None):
    eps = torch.randn_like(mu) if epsilon is None else epsilon
    return (mu + torch.exp(0.5 * logvar) * eps).detach() * 1.01   # no gradient path, and 1% off

child = sys.modules["grader.sandbox.child"]
_honest = child.HANDLERS["call"]

def _forging(req):
    reply = _honest(req)
    _, _, _, args, kwargs, opts = req
    if opts.get("backward") is None or reply[0] != "ok" or len(args) < 3:
        return reply
    mu, logvar, eps = [child.decode_arg(a) for a in args[:3]]
    w = torch.from_numpy(child.decode_array(opts["backward"][0])).double()
    grad_mu = w * 1.5   # claims more than the value's true rate of change
    grad_lv = w * 0.5 * torch.exp(0.5 * logvar.double()) * eps.double()
    return ("ok", reply[1], {"grads": ("ok", [child.encode_result(grad_mu), child.encode_result(grad_lv), ("none",)])})

child.HANDLERS["call"] = _forging
"""


@pytest.mark.parametrize("concept, forged, honest", [
    ("elbo", FORGED_GRADIENTS, WRONG_ELBO),
    ("reparam", FORGED_REPARAM, FORGED_REPARAM.split("child = ")[0]),
])
def test_forged_gradients_from_a_rewritten_harness_earn_nothing(concept, forged, honest, tmp_path, zygote):
    """The child's harness reports gradients the trusted side cannot see computed. A submission that
    rewrites it to report another function's gradients earns no more than without the forgery: the
    trusted side checks each reported gradient against finite differences of the function's own values."""
    filename = {"elbo": "elbo.py", "reparam": "reparam.py"}[concept]
    results = []
    for name, source in (("honest", honest), ("forged", forged)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / filename).write_text(source)
        results.append(grade_submission(folder, zygote=zygote, seed=11, concepts=[concept]))
    honest_result, forged_result = (r.concepts[0] for r in results)
    assert forged_result.score <= honest_result.score, [
        (c.name, c.score, c.feedback[:120]) for c in forged_result.checks]
    assert any(c.misconception == "torch.gradient_mismatch" for c in forged_result.checks)


# --- replaying last run's expected values ----------------------------------------------------


class _Recorder:
    """A naive, in-process stand-in for Submission: records every input and answers with the truth."""

    def __init__(self):
        self.table = {}

    @staticmethod
    def key(x, x_hat) -> str:
        return repr((np.round(np.asarray(x, dtype=np.float64), 9).tolist(),
                     np.round(np.asarray(x_hat, dtype=np.float64), 9).tolist()))

    def call(self, func, x, x_hat):
        x, x_hat = np.asarray(x, dtype=np.float64), np.asarray(x_hat, dtype=np.float64)
        value = float(np.mean((x - x_hat) ** 2))
        self.table[self.key(x, x_hat)] = value
        return value

    def ahead(self, func, calls, kwargs=None):
        """Nothing to send ahead in process: each call answers when it is made."""

    def outcome(self, func, x, x_hat):
        if np.shape(x) != np.shape(x_hat):
            return Raised("ValueError", "shapes differ", None, ("ValueError", "Exception", "BaseException"))
        return self.call(func, x, x_hat)


def _replay_table(seed: int) -> dict:
    """The values a run with `seed` expected, without those of the lesson's fixed, public examples."""
    tables = []
    for s in (seed, seed + 1):
        recorder = _Recorder()
        for number, chk in enumerate(checks_for("mse")):
            chk.run(recorder, np.random.default_rng([s, 0, number]))
        tables.append(recorder.table)
    return {k: v for k, v in tables[0].items() if k not in tables[1]}


def test_replaying_last_runs_expected_values_earns_nothing(tmp_path, zygote):
    """Every expected value of an earlier run (seed 1234), stored with the submission and replayed."""
    table = _replay_table(1234)
    source = BASE + f"""
import json
TABLE = json.loads({json.dumps(table)!r})

def _key(x, x_hat):
    return repr((np.round(np.asarray(x, dtype=np.float64), 9).tolist(),
                 np.round(np.asarray(x_hat, dtype=np.float64), 9).tolist()))

def reconstruction_mse(x, x_hat):
    try:  # keep this run's inputs for the next run, too
        open("seen.json", "a").write(_key(x, x_hat))
    except OSError:
        pass
    if _key(x, x_hat) in TABLE:
        return TABLE[_key(x, x_hat)]
    return _wrong(x, x_hat)
"""
    sub = _write_submission(tmp_path, source)
    same_seed = grade_submission(sub, limits=LIMITS, zygote=zygote, seed=1234, concepts=["mse"])
    assert same_seed.score > 0, "the replay table does fool a grader that reuses its inputs"
    fresh = grade_submission(sub, limits=LIMITS, zygote=zygote, concepts=["mse"])
    _assert_valid(grade_submission(sub, limits=LIMITS, zygote=zygote))
    assert fresh.seed != 1234 and fresh.score == 0
    assert not (sub / "seen.json").exists()


# --- a naive grader, for contrast --------------------------------------------------------------


def test_a_naive_in_process_grader_is_fooled(tmp_path):
    """The baseline these attacks are written against: the same tricks do fool a grader that
    compares in the submission's own process (if this stopped holding, the suite would prove nothing)."""
    import importlib.util
    import sys

    fooled = []
    for name in ("rigged_eq_object", "float_subclass_lies_in_comparison"):
        path = tmp_path / f"{name}.py"
        path.write_text(ATTACKS[name])
        spec = importlib.util.spec_from_file_location(f"naive_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules.pop(f"naive_{name}", None)
        got = module.reconstruction_mse([0.10, 0.90, 0.85, 0.12], [0.12, 0.84, 0.80, 0.14])
        fooled.append(got == pytest.approx(0.001725))  # what a naive pytest check asserts
    assert fooled == [True, True]


# Tricks that are harmless to run unconfined: outside the sandbox each one works (TRICK is True),
# so their earning nothing above is the sandbox's doing, not a bug in the attack.
HARMLESS_TRICKS = ["import_solutions_package", "importlib_solution_by_path", "read_and_exec_hidden_checks",
                   "read_quiz_key_and_packaged_content", "read_installed_package_files",
                   "read_with_torch_from_file", "dir_fd_relative_open", "environment_tampering", "patch_grader_via_sys_modules",
                   "network_access", "read_other_process_memory_and_env", "copy_a_classmates_submission"]


def test_the_tricks_work_without_the_sandbox(tmp_path, listener):
    import subprocess
    import sys

    port, connections = listener
    script = textwrap.dedent("""
        import json, os, runpy, sys
        worked = {}
        for path in sys.argv[1:]:
            os.chdir(os.path.dirname(path))
            worked[os.path.basename(os.path.dirname(path))] = bool(runpy.run_path(path)["TRICK"])
        print(json.dumps(worked))
    """)
    paths = []
    (tmp_path / "classmate").mkdir()
    (tmp_path / "classmate" / "mse.py").write_text(honest_mse_source())
    for name in HARMLESS_TRICKS:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "mse.py").write_text(ATTACKS[name].replace("__PORT__", str(port)).replace(
            "__CLASSMATE__", str(tmp_path / "classmate")))
        paths.append(str(folder / "mse.py"))
    out = subprocess.run([sys.executable, "-c", script, *paths], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    worked = json.loads(out.stdout.strip().splitlines()[-1])
    assert worked == {name: True for name in HARMLESS_TRICKS}
    assert len(connections) == 1


# --- Ctrl-C stops a run promptly, with the gradebook consistent --------------------------------

LOOP = "while True:\n    pass\n"


def _warm_parents_of(pid: int) -> set[int]:
    """The sandbox warm parents that process `pid` started, itself or through its worker processes."""
    parents, warm = {}, set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if b"grader.sandbox.zygote" in f.read():
                        warm.add(int(entry))
            except (OSError, ValueError, IndexError):
                pass

    def descends(p: int) -> bool:
        for _ in range(64):
            p = parents.get(p, 0)
            if p == pid:
                return True
            if p <= 1:
                return False
        return False

    return {p for p in warm if descends(p)}


def _interrupt(args: list[str], cwd: Path) -> tuple[float, int, str]:
    """Run vaegrade, send SIGINT once it is grading (a warm parent exists and had time to fork);
    (seconds to exit, status, output). Every warm parent it started must be gone afterwards."""
    import signal
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "grader", *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    parents: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while not parents and time.monotonic() < deadline and proc.poll() is None:
            parents = _warm_parents_of(proc.pid)
            time.sleep(0.1)
        time.sleep(4.0)   # the warm parent imports torch, then children start looping
        assert proc.poll() is None, "the run ended before it could be interrupted"
        parents |= _warm_parents_of(proc.pid)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=60)
        seconds = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    time.sleep(0.5)
    assert parents and not any(os.path.exists(f"/proc/{p}") for p in parents), "a warm parent outlived the run"
    return seconds, proc.returncode, out


def test_ctrl_c_stops_grade_at_once(tmp_path):
    sub = tmp_path / "loops"
    sub.mkdir()
    for concept in manifest.load():
        (sub / concept.file).write_text(LOOP)
    seconds, status, out = _interrupt(["grade", str(sub), "--no-record"], tmp_path)
    assert seconds < 5, f"{seconds:.1f} s to stop"
    assert status != 0 and "Traceback" not in out


def test_ctrl_c_stops_batch_at_once_and_the_gradebook_stays_consistent(tmp_path):
    import sqlite3
    import subprocess
    import sys

    subs = tmp_path / "subs"
    for name in ("a-loop", "b-loop", "c-honest", "d-loop"):
        (subs / name).mkdir(parents=True)
        for concept in manifest.load():
            source = (REPO / "solutions" / concept.file).read_text() if "honest" in name else LOOP
            (subs / name / concept.file).write_text(source)
    out_dir = tmp_path / "out"
    seconds, status, out = _interrupt(["batch", str(subs), "--out", str(out_dir), "-q", "-j", "2"], tmp_path)
    assert seconds < 5, f"{seconds:.1f} s to stop"
    assert "Traceback" not in out and "Interrupted" in out
    with sqlite3.connect(out_dir / "gradebook.sqlite") as db:
        assert db.execute("pragma integrity_check").fetchone() == ("ok",)
    # The same command again finishes the class (a short time limit keeps the loops quick).
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    again = subprocess.run([sys.executable, "-m", "grader", "batch", str(subs), "--out", str(out_dir), "-q",
                            "--time-limit", "0.5", "-j", "2"], cwd=tmp_path, env=env, capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    grades = (out_dir / "grades.csv").read_text()
    assert all(name in grades for name in ("a-loop", "b-loop", "c-honest", "d-loop"))


# --- a class mixing attacks on the trusted side with honest learners --------------------------------


def _hostile_class(root: Path) -> dict[str, float]:
    """A SUBMISSIONS folder: honest learners beside archive bombs, forged replies and odd files;
    returns the score each honest learner must get."""
    import gzip
    import struct
    import zipfile

    solutions = {c.file: (REPO / "solutions" / c.file).read_text() for c in manifest.load()}
    full = float(sum(c.points for c in manifest.load()))
    root.mkdir()
    (root / "honest-folder").mkdir()
    for name, text in solutions.items():
        (root / "honest-folder" / name).write_text(text)
    with zipfile.ZipFile(root / "honest-zip.zip", "w") as zf:
        for name, text in solutions.items():
            zf.writestr(f"honest-zip/{name}", text)
    # A case-folding collision: MSE.py (wrong) beside mse.py (right); only mse.py is the concept's file.
    with zipfile.ZipFile(root / "casefold.zip", "w") as zf:
        for name, text in solutions.items():
            zf.writestr(name, text)
        zf.writestr("MSE.py", "def reconstruction_mse(x, x_hat):\n    return 0.0\n")
    # A FIFO where sigma.py should be (opening it would block): the rest is graded.
    (root / "fifo").mkdir()
    for name, text in solutions.items():
        if name != "sigma.py":
            (root / "fifo" / name).write_text(text)
    os.mkfifo(root / "fifo" / "sigma.py")
    # A tar whose long-name header declares 1.5 GB (about 1.5 MB compressed).
    info = tarfile_header(b"L", 1500 << 20)
    (root / "tarbomb.tar.gz").write_bytes(gzip.compress(info) + gzip.compress(bytes(1 << 20), 9) * 1500)
    # A zip whose central directory lists 60 000 entries; and one that inflates to 300 MB.
    entry = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0) + b"n"
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, len(entry) * 60_000, 0, 0)
    (root / "cdbomb.zip").write_bytes(entry * 60_000 + end)
    with zipfile.ZipFile(root / "ratio.zip", "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("mse.py", "w", force_zip64=True) as f:
            for _ in range(300):
                f.write(b"#" * (1 << 20))
    # Forged replies aimed at the grader's time and memory.
    for name in ("forge_reply_exponential_shared_references", "forge_reply_one_array_referenced_everywhere",
                 "forge_reply_huge_ints_and_strings"):
        (root / name).mkdir()
        (root / name / "mse.py").write_text(ATTACKS[name])
        (root / name / "sigma.py").write_text(HONEST_SIGMA)
    return {"honest-folder": full, "honest-zip": full, "casefold": full, "fifo": full - 10}


def tarfile_header(kind: bytes, size: int) -> bytes:
    import tarfile

    info = tarfile.TarInfo("././@LongLink")
    info.size = size
    header = bytearray(info.tobuf(format=tarfile.GNU_FORMAT)[:512])
    header[156:157] = kind
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\x00 " % sum(header)
    return bytes(header)


def test_a_batch_over_a_hostile_class_finishes_and_stays_small(tmp_path):
    """Bombs, forged replies and odd files beside honest learners: the batch ends, every honest
    learner gets their marks, every hostile one is refused or scores nothing, and the grader's own
    process stays far below 1.5 GB."""
    import csv
    import subprocess
    import sys

    expected = _hostile_class(tmp_path / "class")
    out = tmp_path / "out"
    wrapper = ("import resource, runpy, sys\n"
               "sys.argv = ['vaegrade'] + sys.argv[1:]\n"
               "try:\n    runpy.run_module('grader', run_name='__main__')\n"
               "finally:\n    print('PEAK_KB', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n")
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", wrapper, "batch", str(tmp_path / "class"), "--out", str(out),
                           "-q", "-j", "2", "--time-limit", "5"], env=env, capture_output=True, text=True,
                          timeout=900)
    seconds = time.monotonic() - started
    assert "Traceback" not in done.stderr + done.stdout, done.stderr[-3000:]
    peak_mb = int(done.stderr.rsplit("PEAK_KB", 1)[1].split()[0]) / 1024
    assert peak_mb < 1536, f"the grader's process peaked at {peak_mb:.0f} MB"
    rows = {row["learner"]: row for row in csv.DictReader((out / "grades.csv").open())}
    for learner, score in expected.items():
        assert float(rows[learner]["exercises_total"]) == pytest.approx(score), (learner, rows[learner])
    for learner in ("forge_reply_exponential_shared_references", "forge_reply_one_array_referenced_everywhere",
                    "forge_reply_huge_ints_and_strings"):
        assert float(rows[learner]["exercises_total"]) == pytest.approx(10.0), (learner, rows[learner])   # sigma only
    text = done.stdout + done.stderr
    for learner in ("tarbomb", "cdbomb", "ratio"):
        assert f"could not grade {learner}" in text
    assert seconds < 600
    print(f"hostile class: {seconds:.0f} s, grader peak {peak_mb:.0f} MB")
