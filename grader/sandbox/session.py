"""The trusted process's handle on the sandbox: a warm zygote and the children it forks."""

from __future__ import annotations

import os
import pickle
import select
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

from grader.config import Limits
from grader.sandbox import protocol


class SandboxError(Exception):
    """The sandbox itself could not be started or reached (not the learner's fault)."""


@dataclass(frozen=True)
class Failure:
    """Why a request got no answer: the child was stopped or died."""

    kind: str  # "timeout", "memory", "crash", "protocol"
    detail: str


class Zygote:
    """A warm parent process; `spawn` gives a fresh, locked-down child per submission."""

    def __init__(self) -> None:
        self._ctrl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader.sandbox.zygote", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=env, start_new_session=True,
        )
        theirs.close()
        self._ready = False

    def _ask(self, msg, fds=()) -> tuple:
        if not self._ready:
            self._wait_ready()
        socket.send_fds(self._ctrl, [pickle.dumps(msg)], list(fds))
        return self._read(timeout=30)

    def _read(self, timeout: float) -> tuple:
        ready, _, _ = select.select([self._ctrl], [], [], timeout)
        data = self._ctrl.recv(1 << 16) if ready else b""
        if not data:
            raise SandboxError("the sandbox's warm parent stopped answering")
        return pickle.loads(data)  # written by our own zygote, which runs no learner code

    def _wait_ready(self) -> None:
        reply = self._read(timeout=120)
        if reply[0] != "ready":
            raise SandboxError(f"unexpected greeting from the sandbox: {reply!r}")
        self._ready = True

    def spawn(self, root: str, limits: Limits) -> "Child":
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            reply = self._ask(("spawn", root, asdict(limits)), [theirs.fileno()])
        finally:
            theirs.close()
        return Child(self, reply[1], ours, limits)

    def release(self, pid: int) -> None:
        try:
            self._ask(("release", pid))
        except (SandboxError, OSError):
            pass

    def close(self) -> None:
        try:
            self._ctrl.close()
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def __enter__(self) -> "Zygote":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Child:
    """One sandboxed process running one submission's code."""

    def __init__(self, zygote: Zygote, pid: int, sock: socket.socket, limits: Limits):
        self.zygote, self.pid, self.sock, self.limits = zygote, pid, sock, limits
        self.alive = True

    def request(self, msg, deadline: float):
        """Send one request; return (reply, output, output_total) or a Failure."""
        if not self.alive:
            return Failure("crash", "the process is gone")
        try:
            protocol.send(self.sock, msg)
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            reply, text, total = protocol.recv(self.sock)
            return reply, text, total
        except (socket.timeout, TimeoutError):
            self.kill()
            return Failure("timeout", f"stopped after the {self.limits.concept_seconds:g} s time limit")
        except (EOFError, ConnectionError, BrokenPipeError):
            self.kill()
            return Failure("crash", self._exit_reason())
        except (protocol.ProtocolError, ValueError, TypeError) as exc:
            self.kill()
            return Failure("protocol", f"sent something that is not an answer ({exc})")

    def _exit_reason(self) -> str:
        return "the process exited during the call (sys.exit, os._exit, a crash or the memory limit)"

    def kill(self) -> None:
        if self.alive:
            self.alive = False
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            self.sock.close()
            self.zygote.release(self.pid)

    def __enter__(self) -> "Child":
        return self

    def __exit__(self, *exc) -> None:
        self.kill()
