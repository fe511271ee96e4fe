"""Unit tests of the sandbox: the protocol, the guard and the kernel confinement, limits, output
capture, process clean-up and the warm parent's recovery."""

from __future__ import annotations

import ast
import os
import pickle
import signal
import socket
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import grader
from grader.checks import Opaque
from grader.settings import Limits
from grader.grading.runner import clean_text, decode_result, grade_submission
from grader.sandbox import confine, protocol
from grader.sandbox.child import _BoundedText
from grader.sandbox.session import Failure, Zygote

PACKAGE = Path(grader.__file__).resolve().parent
REPO = PACKAGE.parent


@pytest.fixture(scope="module")
def zygote():
    with Zygote() as z:
        yield z


# --- protocol ---------------------------------------------------------------------------------


def _pair():
    a, b = socket.socketpair()
    return a, b


def _frame(body: bytes) -> bytes:
    return protocol.HEADER.pack(len(body)) + body


def test_plain_data_round_trips():
    a, b = _pair()
    value = ("ok", ("list", [("float", 1.5), ("int", 3), ("none",)]), {"history": [(1, 0.5)]}, b"\x00", None, True)
    protocol.send(a, value)
    assert protocol.recv(b) == value


class Rigged:
    def __eq__(self, other):
        return True


@pytest.mark.parametrize("payload", [
    Rigged(), np.float64(1.0), np.zeros(3), os.system, {1, 2}, bytearray(b"x"), frozenset(),
    ("ok", [Rigged()]), {"key": Rigged()}, {1: "non-str key"},
])
def test_refuses_globals_objects_and_non_plain_types(payload):
    a, b = _pair()
    a.sendall(_frame(pickle.dumps(payload, protocol=5)))
    with pytest.raises(protocol.ProtocolError):
        protocol.recv(b)


def test_refuses_a_reduce_that_would_run_code():
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned > /dev/null",))

    a, b = _pair()
    a.sendall(_frame(pickle.dumps(Evil())))
    with pytest.raises(protocol.ProtocolError, match="refused to unpickle"):
        protocol.recv(b)


def test_refuses_oversize_frames_before_reading_them():
    a, b = _pair()
    a.sendall(protocol.HEADER.pack(protocol.MAX_REPLY + 1))
    with pytest.raises(protocol.ProtocolError, match="exceeds"):
        protocol.recv(b, max_bytes=protocol.MAX_REPLY)


@pytest.mark.parametrize("body", [b"garbage", b"\x80\x05", pickle.dumps(("ok",))[:-3], b""])
def test_refuses_malformed_frames(body):
    a, b = _pair()
    a.sendall(_frame(body))
    with pytest.raises(protocol.ProtocolError):
        protocol.recv(b)


def test_refuses_deep_nesting_self_reference_and_huge_integers():
    deep = ("x",)
    for _ in range(200):
        deep = (deep,)
    loop = []
    loop.append(loop)
    for payload in (deep, loop, ("int", 1 << 5000)):
        a, b = _pair()
        a.sendall(_frame(pickle.dumps(payload, protocol=5)))
        with pytest.raises(protocol.ProtocolError):
            protocol.recv(b)


def test_a_frame_dripped_byte_by_byte_misses_the_deadline():
    a, b = _pair()
    body = pickle.dumps(("ok", "x" * 100))
    stop = threading.Event()

    def drip():
        data = _frame(body)
        for i in range(len(data)):
            if stop.is_set():
                return
            try:
                a.sendall(data[i:i + 1])
            except OSError:
                return
            time.sleep(0.05)

    threading.Thread(target=drip, daemon=True).start()
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        protocol.recv(b, deadline=time.monotonic() + 0.5)
    stop.set()
    assert time.monotonic() - started < 1.5


def test_closed_connection_is_eof():
    a, b = _pair()
    a.sendall(protocol.HEADER.pack(10) + b"abc")
    a.close()
    with pytest.raises(EOFError):
        protocol.recv(b)


def test_arrays_must_be_numeric_and_match_their_shape():
    good = protocol.encode_array(np.arange(6, dtype=np.float32).reshape(2, 3))
    assert protocol.decode_array(good).shape == (2, 3)
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_array(("nd", "|O", (1,), b"\x00" * 8))
    with pytest.raises(protocol.ProtocolError):
        protocol.decode_array(("nd", "<f8", (2, 2), b"\x00" * 8))


@pytest.mark.parametrize("enc", [
    ("nope",), ("float", "1.0"), ("int", 1.0), ("list", "abc"), ("t", "<f4", (1,)), (), "float", ("nd", 1, 2, 3),
])
def test_decode_result_refuses_malformed_values(enc):
    with pytest.raises(protocol.ProtocolError):
        decode_result(enc)


def test_decode_result_gives_plain_values_and_inert_text():
    assert decode_result(("tuple", [("float", 1.0), ("none",)])) == (1.0, None)
    opaque = decode_result(("other", "str\x1b[2J", "'\x1b[31mred'"))
    assert isinstance(opaque, Opaque) and "\x1b" not in opaque.type_name + opaque.text
    assert clean_text("ok\n\ttab\x07\x1b[0m\u202e", 100) == "ok\n\ttab\ufffd\ufffd[0m\ufffd"
    assert len(clean_text("x" * 5000, 100)) == 100


# --- output capture ---------------------------------------------------------------------------


def test_bounded_text_keeps_the_start_and_counts_the_rest():
    out = _BoundedText(10)
    for _ in range(1000):
        out.write("abcdef")
    text, total = out.take()
    assert text == "abcdefabcd" and total == 6000
    assert out.take() == ("", 0)


# --- running code in a child --------------------------------------------------------------------


PROBE = '''
import os, sys

def run(code):
    ns = {"out": None, "os": os, "sys": sys}
    try:
        exec(code, ns)
    except BaseException as exc:
        return "raised " + type(exc).__name__ + ": " + str(exc)
    return "ok " + repr(ns["out"])
'''


@pytest.fixture(scope="module")
def probe_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("probe")
    (folder / "probe.py").write_text(PROBE)
    (folder / "data.txt").write_text("readable")
    return folder


def run_in_child(zygote, folder, code: str, limits: Limits = Limits(), seconds: float = 10):
    """Run `code` in a fresh sandboxed child; its result text, or the Failure that stopped it."""
    child = zygote.spawn(str(folder), limits)
    try:
        got = child.request(("call", "probe.py", "run", [("str", textwrap.dedent(code))], {}, {}),
                            time.monotonic() + seconds)
        if isinstance(got, Failure):
            return got
        reply, _, _ = got
        return ast.literal_eval(decode_result(reply[1]).text) if reply[0] == "ok" else reply
    finally:
        child.kill()


@pytest.mark.parametrize("what, code", [
    ("write a file", "open('new.txt', 'w')"),
    ("append to a file", "open('data.txt', 'a')"),
    ("create with os.open", "os.open('/tmp/x-vaegrade-test', os.O_WRONLY | os.O_CREAT)"),
    ("remove a file", "os.remove('data.txt')"),
    ("rename a file", "os.rename('data.txt', 'moved.txt')"),
    ("make a folder", "os.mkdir('sub')"),
    ("read the hidden checks", f"open({str(PACKAGE / 'checks' / 'mse.py')!r}).read()"),
    ("list the grader package", f"os.listdir({str(PACKAGE)!r})"),
    ("read the solutions", f"open({str(REPO / 'solutions' / 'mse.py')!r}).read()"),
    ("read the quiz key", f"open({str(REPO / 'quizzes' / 'mastery.toml')!r}).read()"),
    ("read /etc/passwd", "open('/etc/passwd').read()"),
    ("open a folder (for dir_fd tricks)", "import numpy; os.open(os.path.dirname(os.path.dirname(numpy.__file__)), os.O_RDONLY)"),
    ("open a folder with O_PATH", "os.open('.', os.O_PATH)"),
    ("read another process", "open(f'/proc/{os.getppid()}/environ').read()"),
    ("start a subprocess", "import subprocess; subprocess.run(['true'])"),
    ("os.system", "os.system('true')"),
    ("fork", "os.fork()"),
    ("exec", "os.execv('/bin/true', ['true'])"),
    ("posix_spawn", "os.posix_spawn('/bin/true', ['true'], {})"),
    ("open a socket", "import socket; socket.socket()"),
    ("connect out", "import socket; socket.create_connection(('127.0.0.1', 9), timeout=1)"),
    ("kill the parent", "import signal; os.kill(os.getppid(), signal.SIGKILL)"),
    ("killpg", "import signal; os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)"),
    ("pidfd signal", "import signal; signal.pidfd_send_signal(os.pidfd_open(os.getppid()), signal.SIGKILL)"),
    ("ctypes", "import ctypes; ctypes.CDLL(None)"),
    ("renice the grader", "os.setpriority(os.PRIO_PROCESS, os.getppid(), 19)"),
    ("renice every process of the user", "os.setpriority(os.PRIO_USER, 0, 19)"),
    ("pin the grader to one cpu", "os.sched_setaffinity(os.getppid(), {0})"),
    ("read another process's file", f"open('/proc/self/root{REPO}/solutions/mse.py').read()"),
    ("sqlite", "import sqlite3; sqlite3.connect('db.sqlite')"),
    ("raise a limit", "import resource; resource.setrlimit(resource.RLIMIT_AS, (-1, -1))"),
    ("open an inherited fd", "open(0).read()"),
    ("change folder (a relative open racing the check)", "os.chdir('/')"),
    ("change folder by fd", "os.fchdir(os.open('/proc/self/cwd', os.O_RDONLY))"),
])
def test_the_guard_blocks(what, code, zygote, probe_dir):
    result = run_in_child(zygote, probe_dir, code)
    assert isinstance(result, str) and result.startswith(("raised PermissionError", "raised OSError")), (what, result)
    assert (probe_dir / "data.txt").read_text() == "readable"
    assert sorted(p.name for p in probe_dir.iterdir()) == ["data.txt", "probe.py"]


@pytest.mark.parametrize("code, expected", [
    ("out = open('data.txt').read()", "ok 'readable'"),
    ("import numpy as np; out = float(np.linalg.norm(np.ones(4)))", "ok 2.0"),
    ("import torch; x = torch.ones(3, requires_grad=True); (x * x).sum().backward(); out = x.grad.tolist()",
     "ok [2.0, 2.0, 2.0]"),
    ("import threading; t = threading.Thread(target=print); t.start(); t.join(); out = 'thread'", "ok 'thread'"),
    ("import json, math, collections, fractions; out = math.sqrt(16)", "ok 4.0"),
    ("import torch.nn.functional as F, torch; out = float(F.mse_loss(torch.zeros(2), torch.ones(2)))", "ok 1.0"),
    ("os.sched_setaffinity(0, os.sched_getaffinity(0)); out = len(os.sched_getaffinity(0)) > 0", "ok True"),
    ("os.environ['X'] = '1'; out = sorted(k for k in os.environ if 'TOKEN' in k or 'KEY' in k)", "ok []"),
    ("import pathlib; out = pathlib.Path('data.txt').read_text()", "ok 'readable'"),
    ("out = open(b'data.txt').read() + str(sorted(os.listdir('.')))", "ok \"readable['data.txt', 'probe.py']\""),
    ("import functools; f = functools.wraps(len)(lambda x: 1); f.__doc__ = 'mine'; out = f(0)", "ok 1"),
])
def test_the_guard_allows_ordinary_numeric_code(code, expected, zygote, probe_dir):
    assert run_in_child(zygote, probe_dir, code) == expected


def test_kernel_confinement_holds_below_python(zygote, probe_dir):
    """C-level calls (cffi) bypass the audit hook; seccomp and Landlock stop them anyway."""
    pytest.importorskip("cffi")
    status = run_in_child(zygote, probe_dir, "from grader.sandbox import child; out = child.CONFINEMENT")
    assert "'seccomp': True" in status and "'capabilities_dropped': True" in status
    code = f"""
        import cffi
        ffi = cffi.FFI()
        ffi.cdef("int fork(void); int kill(int, int); int getppid(void); int open(const char *, int, ...);")
        C = ffi.dlopen(None)
        out = [C.fork(), C.kill(C.getppid(), 0), C.open(b"/tmp/vaegrade-cffi-test", 0o101, ffi.cast("int", 0o644)),
               C.open({str(REPO / 'solutions' / 'mse.py').encode()!r}, 0),
               C.open({('/proc/self/root' + str(REPO / 'solutions' / 'mse.py')).encode()!r}, 0)]
    """
    result = run_in_child(zygote, probe_dir, code)
    assert result.startswith("ok [-1, -1, -1, ")
    if confine.landlock_abi() > 0:
        assert "'landlock': 0" not in status
        assert result == "ok [-1, -1, -1, -1, -1]"
    assert not Path("/tmp/vaegrade-cffi-test").exists()


def test_read_paths_carve_out_the_grader():
    paths = confine.read_paths()
    denied = confine.denied_paths()
    assert PACKAGE.as_posix() in denied
    for path in paths:
        assert not any(path == d or path.startswith(d + "/") for d in denied), path
        assert not any(d.startswith(path + "/") for d in denied), f"{path} holds a denied path"


# --- limits -----------------------------------------------------------------------------------


def _submission(tmp_path, body: str) -> Path:
    (tmp_path / "mse.py").write_text("import numpy as np\n\ndef reconstruction_mse(x, x_hat):\n"
                                     + textwrap.indent(textwrap.dedent(body), "    "))
    return tmp_path


def test_a_loop_is_stopped_by_the_time_limit(tmp_path, zygote):
    sub = _submission(tmp_path, "while True:\n    pass")
    started = time.monotonic()
    result = grade_submission(sub, concepts=["mse"], limits=Limits(concept_seconds=1), zygote=zygote)
    assert time.monotonic() - started < 5
    concept = result.concepts[0]
    assert concept.score == 0 and "time limit" in concept.note
    assert all("time limit" in c.feedback for c in concept.checks)
    assert {c.misconception for c in concept.checks} == {"limit.time"}


def test_the_cpu_limit_is_reported_as_the_time_limit(tmp_path, zygote):
    sub = _submission(tmp_path, "while True:\n    pass")
    result = grade_submission(sub, concepts=["mse"], limits=Limits(concept_seconds=30, cpu_seconds=1),
                              zygote=zygote)
    assert "time limit" in result.concepts[0].note


def test_memory_is_limited_and_the_limit_configurable(tmp_path, zygote):
    sub = _submission(tmp_path, "block = np.ones(40 * 1024 * 1024 // 8)  # 40 MB\n"
                                "return float(np.mean((np.asarray(x) - np.asarray(x_hat)) ** 2))")
    small = grade_submission(sub, concepts=["mse"], limits=Limits(memory_mb=16), zygote=zygote).concepts[0]
    assert small.score == 0 and "memory limit" in small.note and "16 MB" in small.note
    roomy = grade_submission(sub, concepts=["mse"], limits=Limits(memory_mb=256), zygote=zygote).concepts[0]
    assert "memory limit" not in roomy.note and roomy.score > 0


def test_a_limit_zeroes_checks_passed_before_it(tmp_path, zygote):
    sub = _submission(tmp_path, """
        import os
        x, x_hat = np.asarray(x, dtype=float), np.asarray(x_hat, dtype=float)
        if x.shape != x_hat.shape:
            raise ValueError("shapes")
        reconstruction_mse.calls = getattr(reconstruction_mse, "calls", 0) + 1
        if reconstruction_mse.calls > 17:  # right in the first round trip (17 calls), then loops forever
            while True:
                pass
        return float(np.mean((x - x_hat) ** 2))
    """)
    concept = grade_submission(sub, concepts=["mse"], limits=Limits(concept_seconds=1), zygote=zygote).concepts[0]
    assert concept.score == 0 and "time limit" in concept.note
    assert any(c.feedback.startswith("Not counted") for c in concept.checks)


def test_the_time_limit_does_not_count_the_warm_parents_start(tmp_path):
    (tmp_path / "mse.py").write_text((REPO / "solutions" / "mse.py").read_text())
    with Zygote() as cold:  # importing torch takes about a second: longer than the limit
        result = grade_submission(tmp_path, concepts=["mse"], limits=Limits(concept_seconds=0.5), zygote=cold)
    assert result.concepts[0].score == 10, result.concepts[0].note


def test_output_is_captured_cut_and_kept_off_the_graders_terminal(tmp_path, zygote, capfd):
    sub = _submission(tmp_path, """
        import os, sys
        print("hello from the learner" + "!" * 5000)
        os.write(1, b"raw fd write\\n")
        sys.__stderr__.write("to the real stderr\\n")
        return float(np.mean((np.asarray(x) - np.asarray(x_hat)) ** 2))
    """)
    result = grade_submission(sub, concepts=["mse"], limits=Limits(output_chars=100), zygote=zygote)
    first = result.checks[0].output
    assert first.startswith("hello from the learner") and "more characters cut" in first
    assert len(first) < 160
    seen = capfd.readouterr()
    assert "hello" not in seen.out + seen.err and "raw fd" not in seen.out + seen.err


# --- processes ----------------------------------------------------------------------------------


def _descendants(pid: int) -> set[int]:
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        try:
            tids = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    kids = {int(k) for k in f.read().split()}
            except OSError:
                continue
            todo += list(kids - found)
            found |= kids
    return found


def test_no_process_of_the_submission_survives(tmp_path, zygote):
    sub = _submission(tmp_path, """
        import threading, time, os, subprocess, multiprocessing
        def spin():
            while True:
                time.sleep(0.01)
        if not os.environ.get("STARTED"):  # once per process: four threads that never end
            os.environ["STARTED"] = "1"
            for _ in range(4):
                threading.Thread(target=spin).start()
        for start in (lambda: os.fork(), lambda: subprocess.Popen(["sleep", "600"]),
                      lambda: multiprocessing.get_context("fork").Process(target=spin).start()):
            try:
                start()
            except OSError:
                pass
        x, x_hat = np.asarray(x, dtype=float), np.asarray(x_hat, dtype=float)
        if x.shape != x_hat.shape:
            raise ValueError("shapes differ")
        return float(np.mean((x - x_hat) ** 2))
    """)
    child_pids = []
    original_spawn = zygote.spawn

    def spying_spawn(root, limits):
        child = original_spawn(root, limits)
        child_pids.append(child.pid)
        return child

    zygote.spawn = spying_spawn
    try:
        result = grade_submission(sub, concepts=["mse"], zygote=zygote)
    finally:
        del zygote.spawn
    assert result.concepts[0].score == 10  # the threads did not stop it working
    assert child_pids
    assert _descendants(zygote.pid) == set()
    for pid in child_pids:
        assert not Path(f"/proc/{pid}").exists()


def test_a_dead_warm_parent_is_restarted(tmp_path):
    (tmp_path / "mse.py").write_text((REPO / "solutions" / "mse.py").read_text())
    with Zygote() as z:
        assert grade_submission(tmp_path, concepts=["mse"], zygote=z).score == 10
        os.kill(z.pid, signal.SIGKILL)
        z.proc.wait()
        assert grade_submission(tmp_path, concepts=["mse"], zygote=z).score == 10
        assert z.restarts == 1 and z.alive()


def test_a_crashing_child_says_how_it_ended(tmp_path, zygote):
    sub = _submission(tmp_path, "import os\nos._exit(7)")
    concept = grade_submission(sub, concepts=["mse"], zygote=zygote).concepts[0]
    assert concept.score == 0
    assert "exited with status 7" in concept.checks[0].feedback


def test_read_paths_carve_an_installed_grader_out_of_site_packages(monkeypatch):
    """A non-editable install puts the grader inside site-packages: that folder is granted entry by
    entry, without the grader's."""
    site = next(p for p in confine.python_roots() if p.endswith(("site-packages", "dist-packages")))
    installed = os.path.join(site, "numpy")  # stands in for site-packages/grader
    monkeypatch.setattr(confine, "denied_paths", lambda: [installed])
    paths = confine.read_paths()
    assert installed not in paths and site not in paths
    assert not any(installed.startswith(p + "/") for p in paths)
    assert os.path.join(site, "torch") in paths


# --- the trusted side's own bounds on a hostile reply -------------------------------------------


class _Wire:
    """A socket stand-in holding one frame, so that a large frame needs no reader thread."""

    def __init__(self, obj=None, body: bytes | None = None):
        body = pickle.dumps(obj, protocol=5) if body is None else body
        self.size = len(body)
        self.data = memoryview(protocol.HEADER.pack(len(body)) + body)

    def settimeout(self, seconds):
        pass

    def recv(self, n):
        chunk, self.data = bytes(self.data[:n]), self.data[n:]
        return chunk


def _shared_dag(leaf, width: int, levels: int):
    node = leaf
    for _ in range(levels):
        node = ("list", [node] * width)
    return node


@pytest.mark.parametrize("make", [
    lambda: _shared_dag(("float", 1.0), 2, 14),                       # a binary DAG: 2**14 paths per level pair
    lambda: _shared_dag(("float", 1.0), 40, 12),                       # 40**12 paths, a few hundred bytes
    lambda: _shared_dag(("other", "str", "x" * 100), 7, 13),           # shared strings at the leaves
    lambda: {"k": _shared_dag(("int", 1 << 900), 30, 10)},             # through a dict, big (allowed) ints
    lambda: ("tuple", [_shared_dag(("none",), 100, 6)] * 100),
])
def test_a_reply_sharing_references_is_refused_at_once(make):
    reply = (("ok", make(), {}), "", 0)
    wire = _Wire(reply)
    assert wire.size < 20_000
    started = time.monotonic()
    with pytest.raises(protocol.ProtocolError, match="values"):
        protocol.recv(wire, max_bytes=protocol.MAX_REPLY)
    assert time.monotonic() - started < 0.5


def test_one_array_referenced_many_times_costs_the_grader_no_memory():
    import tracemalloc

    array = protocol.encode_array(np.zeros(1 << 20))               # 8 MB, sent once
    for value in (("list", [array] * 2000), ("tuple", [("list", [array] * 40)] * 50)):
        wire = _Wire((("ok", value, {"grads": ("ok", [array] * 30)}), "", 0))
        assert wire.size < protocol.MAX_REPLY
        tracemalloc.start()
        started = time.monotonic()
        try:
            with pytest.raises(protocol.ProtocolError, match="MB"):
                reply = protocol.recv(wire, max_bytes=protocol.MAX_REPLY)
                decode_result(reply[0][1])
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert peak < 3 * wire.size + (16 << 20), f"{peak / 2**20:.0f} MB"
        assert time.monotonic() - started < 2


def test_an_honest_reply_of_the_same_size_is_read():
    values = ("list", [protocol.encode_array(np.full(1000, float(i))) for i in range(200)]
              + [("float", float(i)) for i in range(50_000)] + [("none",)] * 10_000)
    reply = protocol.recv(_Wire((("ok", values, {}), "", 0)), max_bytes=protocol.MAX_REPLY)
    decoded = decode_result(reply[0][1])
    assert len(decoded) == 60_200 and decoded[199][0] == 199.0 and decoded[-1] is None


# --- kernel objects and signals: what seccomp refuses ----------------------------------------------

KERNEL_OBJECTS = """
    import cffi, errno, os
    ffi = cffi.FFI()
    ffi.cdef("long syscall(long, ...);")
    C = ffi.dlopen(None)
    L = lambda v: ffi.cast("long", v)
    def call(nr, *args):
        got = C.syscall(L(nr), *[L(a) for a in args])
        return got if got >= 0 else -ffi.errno
    buf = ffi.new("char[64]")
    name = ffi.new("char[]", b"/vaegrade-test-queue")
    sock = [fd for fd in range(3, 4096) if os.path.exists(f"/proc/self/fd/{fd}")][0]   # the socket to the grader
    res = {
        "shmget": call(29, 0, 1 << 20, 0o1600), "semget": call(64, 0, 4, 0o1600),
        "msgget": call(68, 0, 0o1600), "shmat(0)": call(30, 0, 0, 0), "shmctl": call(31, 0, 2, buf),
        "semctl": call(66, 0, 0, 2, buf), "msgctl": call(71, 0, 2, buf),
        "mq_open": call(240, name, 0o100 | 2, 0o600, 0), "memfd_create": call(319, name, 0),
        "flock": call(73, 0, 2), "timer_create": call(222, 1, 0, buf), "inotify_init1": call(294, 0),
        "F_SETOWN": call(72, sock, 8, VICTIM), "F_SETSIG": call(72, sock, 10, 9),
        "F_SETOWN_EX": call(72, sock, 15, buf), "F_SETLK": call(72, sock, 6, buf), "F_SETLEASE": call(72, sock, 1024, 1),
        "F_NOTIFY": call(72, sock, 1026, 1), "FIOSETOWN": call(16, sock, 0x8901, buf),
        "SIOCSPGRP": call(16, sock, 0x8902, buf), "fallocate": call(285, 0, 0, 0, 4096),
        "F_GETFL ok": call(72, sock, 3, 0) >= 0, "F_DUPFD_CLOEXEC ok": call(72, sock, 1030, 10) >= 10,
    }
    # -1 is -EPERM: refused, never an object or a lock. Names of the calls that were not refused:
    out = [k for k, v in res.items() if (v is not True if k.endswith(" ok") else v != -1)]
"""


def _sysv_ids() -> set[str]:
    ids = set()
    for kind in ("shm", "sem", "msg"):
        try:
            with open(f"/proc/sysvipc/{kind}") as f:
                ids |= {f"{kind}:{line.split()[1]}" for line in f.readlines()[1:]}
        except OSError:
            pass
    return ids


def _kernel_objects_refused(zygote, probe_dir, victim: int) -> None:
    before = _sysv_ids()
    got = run_in_child(zygote, probe_dir, KERNEL_OBJECTS.replace("VICTIM", str(victim)))
    assert got == "ok []", got
    assert _sysv_ids() - before == set()
    assert not Path("/dev/mqueue/vaegrade-test-queue").exists()


def test_kernel_objects_that_would_outlive_the_child_are_refused(zygote, probe_dir):
    pytest.importorskip("cffi")
    _kernel_objects_refused(zygote, probe_dir, os.getpid())


@pytest.mark.parametrize("abi_max", ["5", "0"])
def test_an_older_landlock_abi_leaves_no_route_to_signal_the_grader(abi_max, probe_dir, monkeypatch):
    """Without Landlock's signal scoping (ABI < 6), or without Landlock at all, seccomp alone keeps
    the child from having the kernel signal another process (F_SETOWN, FIOSETOWN, kill, pidfd)."""
    pytest.importorskip("cffi")
    import subprocess
    import sys

    monkeypatch.setenv(confine.ABI_CAP_VARIABLE, abi_max)
    victim = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        with Zygote() as z:
            status = run_in_child(z, probe_dir, "from grader.sandbox import child; out = child.CONFINEMENT")
            assert f"'landlock': {min(int(abi_max), confine.kernel_landlock_abi())}" in status
            _kernel_objects_refused(z, probe_dir, victim.pid)
            for code in (f"import signal; os.kill({victim.pid}, signal.SIGKILL)",
                         f"import signal; signal.pidfd_send_signal(os.pidfd_open({victim.pid}), 9)",
                         f"import fcntl, socket; fcntl.fcntl(3, fcntl.F_SETOWN, {victim.pid})"):
                assert run_in_child(z, probe_dir, code).startswith(("raised PermissionError", "raised OSError"))
            time.sleep(0.3)
        assert victim.poll() is None, "the victim was signalled"
    finally:
        victim.kill()
        victim.wait()


# --- the audit hook cannot be switched off from inside ---------------------------------------------

UNHOOK = """
    import builtins, gc, importlib, os, posixpath, stat, sys, types
    tried = []
    def attempt(what, fn):
        try:
            fn()
            tried.append(what)
        except BaseException:
            pass
    everything = lambda *a, **k: True
    nothing = lambda *a, **k: None
    # Rebind and empty every global of every grader module (the guard's lists, its helpers); only
    # the harness that carries this reply back is spared, so that the probe can report.
    for name, module in list(sys.modules.items()):
        if not name.startswith("grader") or module is None or name in ("grader.sandbox.child", "grader.sandbox.protocol"):
            continue
        for key, value in list(vars(module).items()):
            if isinstance(value, (list, set, dict)) and not key.startswith("__"):
                attempt("clear " + name + "." + key, value.clear)
            if isinstance(value, (frozenset, tuple, list, set)):
                attempt("rebind " + name + "." + key, lambda: setattr(module, key, type(value)()))
            if isinstance(value, types.FunctionType):
                attempt("rebind " + name + "." + key, lambda: setattr(module, key, everything))
                attempt("code " + name + "." + key, lambda: setattr(value, "__code__", nothing.__code__))
                attempt("defaults " + name + "." + key, lambda: setattr(value, "__defaults__", None))
    guard = sys.modules["grader.sandbox.guard"]
    guard._PREPARED = ([], ["/"])
    guard._SYSTEM_READ = ("/",)
    guard._under = everything
    guard.prepare = lambda: ([], ["/"])
    guard.install = nothing
    # The path helpers and builtins a hook might look up at each event (put back at the end, so
    # that the harness can still send this reply).
    saved = []
    for mod, key, value in ((posixpath, "realpath", lambda p, **k: "/tmp"), (os.path, "realpath", lambda p, **k: "/tmp"),
                            (os, "fspath", lambda p: "/tmp"), (stat, "S_ISDIR", lambda m: False),
                            (os.path, "isdir", lambda p: False), (builtins, "isinstance", lambda *a: False),
                            (builtins, "any", lambda it: False), (builtins, "len", lambda x: 0),
                            (builtins, "PermissionError", KeyError), (sys, "getfilesystemencoding", lambda: "latin-1")):
        saved.append((mod, key, getattr(mod, key)))
        attempt("patch " + key, lambda: setattr(mod, key, value))
    # Find the hook itself: the heap, other frames, a str subclass to run code inside it.
    attempt("gc.get_objects", gc.get_objects)
    attempt("gc.get_referrers", lambda: gc.get_referrers(guard))
    attempt("current frames", sys._current_frames)
    attempt("code.replace", lambda: nothing.__code__.replace(co_consts=(None, 1)))
    class Sneaky(str):
        def __hash__(self):
            frame = sys._getframe(1)
            tried.append("ran inside the hook: " + frame.f_code.co_name)
            return str.__hash__(self)
        def __eq__(self, other):
            return str.__eq__(self, other)
    attempt("sys.audit with a str subclass", lambda: sys.audit(Sneaky("ctypes.dlopen"), 1))
    # A signal handler runs between bytecodes, so sometimes inside the hook's own frame: it may
    # read the hook's locals there, and tries to change them.
    import signal
    def inside(signum, frame):
        while frame is not None:
            if frame.f_code.co_name == "hook":
                frame.f_locals.update({k: type(v)() for k, v in frame.f_locals.items()
                                       if isinstance(v, (frozenset, tuple))})
                attempt("find the hook from its frame", lambda: [o for o in gc.get_referrers(frame.f_code)])
            frame = frame.f_back
    signal.signal(signal.SIGALRM, inside)
    signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
    for _ in range(3000):
        try:
            os.listdir(".")
        except BaseException:
            pass
    signal.setitimer(signal.ITIMER_REAL, 0, 0)
    class PathLike:
        calls = 0
        def __fspath__(self):
            PathLike.calls += 1
            return "/tmp" if PathLike.calls == 1 else SECRET
    still = []
    for what, fn in (("ctypes", lambda: __import__("ctypes").CDLL(None)),
                     ("read the solutions", lambda: open(SECRET).read()),
                     ("read through a path-like", lambda: open(PathLike()).read()),
                     ("read /proc/self/root", lambda: open("/proc/self/root" + SECRET).read()),
                     ("write", lambda: open("written.txt", "w")),
                     ("fork", os.fork), ("listdir the grader", lambda: os.listdir(os.path.dirname(SECRET)))):
        try:
            fn()
            still.append(what)
        except BaseException:
            pass
    for mod, key, value in saved:
        setattr(mod, key, value)
    worked = sorted(t for t in tried if not t.startswith(("clear", "rebind", "patch")))
    out = (worked[:2], still)
"""


@pytest.mark.parametrize("abi_max", ["", "0"])
def test_rebinding_everything_reachable_leaves_the_hook_on(abi_max, tmp_path, monkeypatch):
    """With Landlock (and with none, where the hook is the only guard of reads), a submission that
    rebinds, empties and re-codes every grader global, patches the path helpers and builtins, and
    hunts for the hook through gc and frames, still cannot load ctypes, read the solutions, or write."""
    monkeypatch.setenv(confine.ABI_CAP_VARIABLE, abi_max)
    (tmp_path / "probe.py").write_text(PROBE)
    secret = REPO / "solutions" / "mse.py"
    with Zygote() as z:
        got = run_in_child(z, tmp_path, UNHOOK.replace("SECRET", repr(str(secret))))
    assert got == "ok ([], [])", got
    assert sorted(p.name for p in tmp_path.iterdir()) == ["probe.py"]
