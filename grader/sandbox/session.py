"""The trusted process's handle on the sandbox: a warm zygote and the children it forks."""

from __future__ import annotations

import math
import os
import pickle
import resource
import secrets
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass

from grader.settings import Limits
from grader.sandbox import protocol


SPAWN_BACKOFF = 0.5   #: seconds to wait for a task slot before the second try of a fork that failed
READY_SECONDS = 60.0  #: a child that has not said it is ready by then failed to start


CONCEPTS_PER_CHILD = 8   #: concepts one child may serve in turn, each with a full CPU budget


def cpu_hard(limits: Limits) -> int:
    """A child's hard CPU limit: room for a full budget for each concept it may serve."""
    return limits.cpu_seconds * CONCEPTS_PER_CHILD + 5


class SandboxError(Exception):
    """The sandbox itself could not be started or reached (not the learner's fault)."""


@dataclass(frozen=True)
class Failure:
    """Why a request got no answer: the child was stopped or died."""

    kind: str  # "timeout", "memory", "crash", "protocol"
    detail: str


# What the warm parent (and so every child) may see of the grader's environment: no tokens, no keys.
_ENV_KEPT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV",
             "PYTHONHASHSEED", "VAEGRADE_LANDLOCK_ABI_MAX")


def _zygote_env() -> dict:
    env = {k: os.environ[k] for k in _ENV_KEPT if k in os.environ}
    env.update(PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def describe_exit(status: int | None) -> str:
    """A child's wait status in words, with the likely cause."""
    if status is None:
        return "the process is gone"
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else f"signal {sig}"
        cause = {
            "SIGSEGV": " (a crash: often a recursion too deep for the C stack)",
            "SIGXCPU": " (the CPU time limit)",
            "SIGABRT": " (an abort, often memory running out inside a library)",
            "SIGKILL": "",
        }.get(name, "")
        return f"the process was killed by {name}{cause}"
    if os.WIFEXITED(status):
        return (f"the process exited with status {os.WEXITSTATUS(status)} during the call "
                "(sys.exit, os._exit, or a crash); the grader does not count an exit as a pass")
    return "the process stopped"


class Zygote:
    """A warm parent process; `spawn` gives a fresh, locked-down child per submission.

    If the warm parent dies (it runs no learner code, but a submission may try to kill it),
    the next `spawn` starts a new one: one submission cannot stop a batch.
    """

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.restarts = 0
        self.closed = False  # once closed (end of a run, Ctrl-C), never restarted by a late spawn
        self._start()

    def _start(self) -> None:
        self._ctrl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "grader.sandbox.zygote", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, env=_zygote_env(), start_new_session=True,
            )
        except OSError as exc:
            raise SandboxError(f"could not start the sandbox: {exc}") from None
        finally:
            theirs.close()
        self._ready = False

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def _restart(self) -> None:
        self._stop()
        self.restarts += 1
        self._start()

    def _ask(self, msg, fds=()) -> tuple:
        with self._lock:
            if not self._ready:
                self._wait_ready()
            try:
                socket.send_fds(self._ctrl, [pickle.dumps(msg)], list(fds))
            except OSError:
                raise SandboxError("the sandbox's warm parent stopped answering") from None
            return self._read(timeout=30)

    def _read(self, timeout: float) -> tuple:
        ready, _, _ = select.select([self._ctrl], [], [], timeout)
        try:
            data = self._ctrl.recv(1 << 16) if ready else b""
        except OSError:
            data = b""
        if not data:
            raise SandboxError("the sandbox's warm parent stopped answering")
        return pickle.loads(data)  # written by our own zygote, which runs no learner code

    def _wait_ready(self) -> None:
        reply = self._read(timeout=120)
        if reply[0] != "ready":
            raise SandboxError(f"unexpected greeting from the sandbox: {reply!r}")
        self._ready = True

    def spawn(self, root: str, limits: Limits) -> "Child":
        with self._lock:
            if self.closed:
                raise SandboxError("the sandbox was closed (the run is stopping)")
            for attempt in range(2):
                if not self.alive():
                    self._restart()
                ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    reply = self._ask(("spawn", root, dict(asdict(limits), cpu_hard=cpu_hard(limits))),
                                  [theirs.fileno()])
                except SandboxError:
                    ours.close()
                    if attempt:
                        raise
                    self._restart()
                    continue
                finally:
                    theirs.close()
                if reply[0] != "spawned":   # the warm parent could not fork (no task slot): wait, once more
                    ours.close()
                    if attempt:
                        raise SandboxError(f"the sandbox could not start a process ({reply[1]})")
                    time.sleep(SPAWN_BACKOFF)
                    continue
                return Child(self, reply[1], ours, limits, self.restarts)
        raise SandboxError("the sandbox could not start a process")  # not reached

    def release(self, pid: int, generation: int | None = None) -> int | None:
        """Kill the child and everything it started; its wait status, when the zygote knows it.

        Only a child of the current warm parent is signalled by pid (it cannot have been reaped,
        so its pid cannot have been reused); a child of a warm parent that died is killed through
        its pidfd by `Child.kill`.
        """
        if generation is not None and generation != self.restarts:
            return None
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if not self.alive():
            return None
        try:
            reply = self._ask(("release", pid))
        except (SandboxError, OSError):
            return None
        return reply[2] if len(reply) > 2 else None

    def _stop(self) -> None:
        try:
            self._ctrl.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()

    def close(self) -> None:
        self.closed = True
        with self._lock:
            self._stop()

    def __enter__(self) -> "Zygote":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Child:
    """One sandboxed process running one submission's code."""

    def __init__(self, zygote: Zygote, pid: int, sock: socket.socket, limits: Limits, generation: int = 0):
        self.zygote, self.pid, self.sock, self.limits = zygote, pid, sock, limits
        self.generation = generation
        self.alive = True
        self.ready = False   # until the child says it is set up (see _wait_ready)
        self._kill_lock = threading.Lock()  # kill() may come from another thread (Ctrl-C)
        self.status: int | None = None
        self.baseline: dict[str, int] = {}   #: threads and memory once set up, before any learner code
        self.bytes_moved = 0   #: bytes of the request and reply frames exchanged so far
        try:  # a handle that stays this process's even after it is reaped
            self.pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.pidfd = None

    def request(self, msg, deadline: float):
        """Send one request; return (reply, output, output_total) or a Failure.

        The deadline holds for the whole exchange: a child that answers byte by byte, or
        never reads its request, is stopped at the same moment as one that loops.
        """
        if not self.alive:
            return Failure("crash", "the process is gone")
        if not self.ready:
            self._wait_ready(deadline)
        try:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            nonce = secrets.randbits(62)
            body = protocol.dumps((msg, nonce))
            protocol.send_bytes(self.sock, body)
            self.bytes_moved += len(body)
            got, size = protocol.recv_sized(self.sock, max_bytes=protocol.MAX_REPLY, deadline=deadline)
            self.bytes_moved += size
            if not (isinstance(got, tuple) and len(got) == 4 and isinstance(got[1], str)
                    and type(got[2]) is int and isinstance(got[0], tuple) and got[0]
                    and isinstance(got[0][0], str)):
                raise protocol.ProtocolError("a frame that is not a reply")
            if type(got[3]) is not int or got[3] != nonce:
                raise protocol.ProtocolError("a reply to another request (written ahead of time?)")
            return got[:3]
        except (socket.timeout, TimeoutError):
            self.kill()
            return Failure("timeout", f"stopped after the {self.limits.concept_seconds:g} s time limit")
        except (EOFError, ConnectionError, BrokenPipeError, OSError):
            self.kill()
            if self.status is not None and os.WIFSIGNALED(self.status) and \
                    os.WTERMSIG(self.status) == signal.SIGXCPU:
                return Failure("timeout", "stopped by the CPU time limit")
            return Failure("crash", describe_exit(self.status))
        except protocol.ProtocolError as exc:
            self.kill()
            return Failure("protocol", f"sent something that is not an answer ({exc})")

    def _wait_ready(self, deadline: float) -> None:
        """The child's word that it is confined and about to serve; SandboxError when it never comes.

        No learner code has run before this word, so a child that dies or stays silent until then
        failed to start (a process or memory cap, an overloaded machine): the grader's failure.
        """
        try:
            self.sock.settimeout(max(0.01, min(deadline, time.monotonic() + READY_SECONDS) - time.monotonic()))
            hello = protocol.recv(self.sock, max_bytes=1024, deadline=deadline)
        except (EOFError, OSError, protocol.ProtocolError):
            hello = None
        if hello != ("ready",):
            self.kill()
            raise SandboxError(f"the sandbox could not start a process for this check ({describe_exit(self.status)})")
        self.ready = True
        self.baseline = self._proc_status()

    # Handing the child to the next concept -------------------------------------------------
    # Read from /proc by the trusted process, never asked of the child: the learner's code shares
    # the child's process and could answer for it.
    def _proc_status(self) -> dict[str, int]:
        found = {}
        try:
            with open(f"/proc/{self.pid}/status") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key in ("Threads", "VmSize", "State"):
                        found[key] = int(value.split()[0]) if key != "State" else value.split()[0] != "Z"
        except (OSError, ValueError, IndexError):
            return {}
        return found

    def _cpu_used(self) -> float | None:
        try:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return None

    def left_clean(self, memory_mb: int) -> bool:
        """Whether the concept that just ran left this child as it found it, so the next may use it.

        No thread of its own still running (it could take the next concept's time, or change its
        values), and no more than an eighth of the memory limit still held (the next concept gets
        nearly all of its memory). Anything else, and the next concept gets a fresh child.
        """
        now = self._proc_status()
        return (self.alive and bool(now) and bool(self.baseline) and now.get("State", False)
                and now["Threads"] <= self.baseline["Threads"]
                and now["VmSize"] - self.baseline["VmSize"] <= memory_mb * 1024 // 8)

    def renew_cpu(self, cpu_seconds: int) -> bool:
        """Give the next concept a full CPU budget (soft limit = CPU used so far + cpu_seconds).

        False when the child's hard limit has no room for it, or its limits cannot be read:
        the next concept then gets a fresh child.
        """
        used = self._cpu_used()
        if used is None:
            return False
        try:
            _, hard = resource.prlimit(self.pid, resource.RLIMIT_CPU)
            soft = math.ceil(used) + cpu_seconds
            if hard != resource.RLIM_INFINITY and soft > hard - 5:
                return False
            resource.prlimit(self.pid, resource.RLIMIT_CPU, (soft, hard))
        except (OSError, ValueError):
            return False
        return True

    def kill(self) -> None:
        with self._kill_lock:
            self._kill()

    def _kill(self) -> None:
        if self.alive:
            self.alive = False
            try:
                self.sock.close()
            except OSError:
                pass
            if self.pidfd is not None:
                try:
                    signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
                except OSError:
                    pass
                os.close(self.pidfd)
                self.pidfd = None
            self.status = self.zygote.release(self.pid, self.generation)

    def __enter__(self) -> "Child":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()
