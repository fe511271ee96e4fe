"""The warm parent: imports numpy and torch once, then forks a child per request.

Started by the trusted process as ``python -m grader.sandbox.zygote FD`` in a
fresh interpreter, so its memory (and every child's) holds no check, no
solution and no expected value. It is a child subreaper: whatever a child
starts and orphans comes back here and is killed when the child is released.
"""

from __future__ import annotations

import ctypes
import gc
import os
import pickle
import signal
import socket
import sys

PR_SET_CHILD_SUBREAPER = 36


def _warm_imports() -> None:
    import numpy  # noqa: F401
    import torch

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    import grader.sandbox.child  # noqa: F401
    from grader.sandbox import confine, guard

    global _READ_ROOTS
    _READ_ROOTS = confine.ReadRoots(confine.read_paths())
    confine.prepare()
    guard.prepare()
    _warm_torch(torch, numpy)
    # Every object so far lives as long as the parent: out of the collector's sight, a child's
    # collections never touch (and so never copy) the pages they sit on.
    gc.collect()
    gc.freeze()


HUGE_PAGE = 2 << 20
MADV_COLLAPSE = 25


def _huge_pages() -> None:
    """Back the parent's private memory with 2 MB pages where the kernel can (MADV_COLLAPSE, Linux 6.1+).

    A fork copies the parent's page tables: one entry per 4 kB page, about 37,000 for torch's
    heap, against one per 2 MB page (and the child's exit frees as many). A child that writes to a
    2 MB page still copies only the 4 kB it writes to. Only pages that exist now are collapsed: a
    child's own new memory is not affected. Where the kernel cannot (no THP, an older kernel), the
    parent stays as it was. Done once, after the first fork (about 50 ms, while that child works):
    a single check never waits for it.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        with open("/proc/self/maps") as maps:
            regions = [line.split() for line in maps]
    except (OSError, AttributeError):
        return
    for fields in regions:
        low, high = (int(x, 16) for x in fields[0].split("-"))
        anonymous = len(fields) < 6 or fields[5] == "[heap]"
        start, end = -(-low // HUGE_PAGE) * HUGE_PAGE, high // HUGE_PAGE * HUGE_PAGE
        if fields[1] == "rw-p" and anonymous and end > start:
            libc.madvise(start, end - start, MADV_COLLAPSE)   # an error leaves the pages as they were


def _warm_torch(torch, numpy) -> None:
    """Run, once, what a child's first calls would otherwise each pay to set up (torch's lazy
    dispatch and autograd state): plain operations on made-up numbers, nothing of the course's."""
    x = torch.from_numpy(numpy.linspace(-1.0, 1.0, 12).reshape(3, 4)).requires_grad_(True)
    y = torch.from_numpy(numpy.linspace(0.0, 1.0, 12, dtype=numpy.float32).reshape(3, 4))
    z = x.float() + torch.exp(0.5 * x.float()) * torch.randn_like(y)
    loss = ((z - y) ** 2).mean() + (-0.5 * torch.sum(1 + x - x ** 2 - x.exp(), dim=-1)).mean()
    loss.backward()
    codes = torch.cdist(y, y[:2]).argmin(dim=-1)
    (y + (y[codes] - y).detach()).sum().item()
    numpy.argmin(((y.numpy()[:, None, :] - y.numpy()[None, :2, :]) ** 2).sum(-1), axis=-1)


_READ_ROOTS = None


def _own_children() -> set[int]:
    pids = set()
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/children") as f:
                pids.update(int(p) for p in f.read().split())
        except OSError:
            pass
    return pids


def _kill(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _release(pid: int, active: set[int]) -> int | None:
    """Kill a child, its process group and every orphan it left; return the child's wait status."""
    if pid not in active:  # never signal a pid this process does not own: it may be someone else's now
        return None
    _kill(pid)
    status = None
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    active.discard(pid)
    # Orphans of the released child were re-parented here (child subreaper). Repeat until none
    # is left, in case one was forking while we looked.
    for _ in range(100):
        strays = _own_children() - active
        if not strays:
            break
        for stray in strays:
            _kill(stray)
            try:
                os.waitpid(stray, 0)
            except ChildProcessError:
                pass
    return status


def main(ctrl_fd: int) -> None:
    ctrl = socket.socket(fileno=ctrl_fd)
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the grader's to handle
    _warm_imports()
    ctrl.send(pickle.dumps(("ready", os.getpid())))
    active: set[int] = set()
    collapsed = False
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(ctrl, 1 << 16, 1)
        except OSError:
            data, fds = b"", []
        if not data:
            break
        cmd = pickle.loads(data)  # the trusted process is the only writer of this socket
        if cmd[0] == "spawn":
            try:
                pid = os.fork()
            except OSError as exc:   # no task slot (a process cap): the grader's failure, said so, not a crash
                os.close(fds[0])
                ctrl.send(pickle.dumps(("failed", f"fork: {exc.strerror or exc}")))
                continue
            if pid == 0:
                ctrl.close()
                from grader.sandbox import child

                try:
                    child.serve(fds[0], cmd[1], cmd[2], _READ_ROOTS)
                finally:
                    os._exit(0)
            os.close(fds[0])
            active.add(pid)
            ctrl.send(pickle.dumps(("spawned", pid)))
            if not collapsed:
                _huge_pages()
                collapsed = True
        elif cmd[0] == "release":
            status = _release(cmd[1], active)
            ctrl.send(pickle.dumps(("released", cmd[1], status)))
    for pid in list(active):
        _release(pid, active)
    os._exit(0)  # nothing to flush: skipping torch's interpreter teardown saves the grader a wait


if __name__ == "__main__":
    main(int(sys.argv[1]))
