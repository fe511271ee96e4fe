"""An audit hook (PEP 578) that the sandboxed child installs before any learner code runs.

It cannot be removed once installed. It refuses: writing any file; reading
files outside the submission, the Python installation and a few system paths
(and inside the grader's own package, wherever it is installed); starting
processes; network access; signalling other processes; and ctypes calls that
would step around all of this. An audit hook is not an OS sandbox on its own:
resource limits, the process boundary and the trusted verdict do the rest
(see README, "Trust model").
"""

from __future__ import annotations

import os
import sys
import sysconfig

_BLOCKED_EVENTS = frozenset({
    "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
    "subprocess.Popen", "pty.spawn",
    "os.kill", "os.killpg",
    "socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo", "socket.__new__",
    "ctypes.dlopen", "ctypes.dlsym", "ctypes.call_function", "ctypes.addressof", "ctypes.cdata",
    "os.remove", "os.rmdir", "os.rename", "os.link", "os.symlink", "os.truncate",
    "os.chmod", "os.chown", "os.mkdir", "os.utime", "shutil.rmtree",
    "sys.setprofile", "sys.settrace", "sqlite3.connect", "sqlite3.connect/handle",
    "resource.setrlimit", "resource.prlimit", "os.mkfifo", "os.mknod", "os.chroot",
    "socket.socketpair", "webbrowser.open", "syslog.openlog",
})
_PATH_EVENTS = frozenset({"open", "os.listdir", "os.scandir"})
_SYSTEM_READ = ("/proc/self/", "/sys/devices/system/cpu", "/dev/null", "/dev/urandom", "/usr/share/zoneinfo")


def _python_roots() -> list[str]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    roots |= {p for p in sys.path if p and os.path.isdir(p) and "site-packages" in p}
    return sorted(os.path.realpath(r) for r in roots)


def _under(path: str, roots) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


_PREPARED: tuple[list[str], list[str]] | None = None


def prepare() -> tuple[list[str], list[str]]:
    """Work out, once (in the warm parent), what every child denies and allows."""
    global _PREPARED
    if _PREPARED is None:
        from grader.sandbox.confine import denied_paths

        _PREPARED = (denied_paths(), _python_roots())
    return _PREPARED


def install(read_roots: list[str]) -> None:
    denied, python_roots = prepare()
    allowed = [os.path.realpath(r) for r in read_roots] + python_roots
    own = frozenset(os.path.realpath(r) for r in read_roots)
    system_read = _SYSTEM_READ + (f"/proc/{os.getpid()}/",)
    realpath, fspath, isdir = os.path.realpath, os.fspath, os.path.isdir

    def hook(event: str, args: tuple) -> None:
        if event in _BLOCKED_EVENTS:
            raise PermissionError(f"the grader's sandbox does not allow {event}")
        if event not in _PATH_EVENTS:
            return
        target = args[0] if args else None
        if target is None or isinstance(target, int):
            if event == "open" and isinstance(target, int):
                raise PermissionError("the grader's sandbox does not allow opening file descriptors")
            return
        if event == "open" and len(args) > 2 and isinstance(args[2], int) and args[2] & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC):
            raise PermissionError("the grader's sandbox does not allow writing files")
        if event == "open" and isinstance(args[1], str) and any(c in args[1] for c in "wax+"):
            raise PermissionError("the grader's sandbox does not allow writing files")
        path = realpath(fspath(target) if not isinstance(target, bytes) else os.fsdecode(target))
        if event == "open" and isdir(path):
            # A folder's fd would let `dir_fd=` resolve a relative path somewhere this hook never sees.
            raise PermissionError("the grader's sandbox does not allow opening folders")
        if _under(path, own):
            return
        if _under(path, denied) or not (_under(path, allowed) or path.startswith(system_read)):
            raise PermissionError(f"the grader's sandbox does not allow reading {path}")

    sys.addaudithook(hook)
