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

from grader.sandbox.confine import denied_paths

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
    # Relative paths are checked against the folder at the time of the check: another thread
    # changing folder between the check and the open would read where the check never looked.
    "os.chdir",
})
_PATH_EVENTS = frozenset({"open", "os.listdir", "os.scandir"})
_SYSTEM_READ = ("/proc/self/", "/sys/devices/system/cpu", "/dev/null", "/dev/urandom", "/usr/share/zoneinfo")


def _python_roots() -> list[str]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    roots |= {p for p in sys.path if p and os.path.isdir(p) and "site-packages" in p}
    return sorted(os.path.realpath(r) for r in roots)


_PREPARED: tuple[list[str], list[str]] | None = None


def prepare() -> tuple[list[str], list[str]]:
    """Work out, once (in the warm parent), what every child denies and allows."""
    global _PREPARED
    if _PREPARED is None:
        _PREPARED = (denied_paths(), _python_roots())
    return _PREPARED


_GUARD_EVENTS = frozenset({
    # Finding the hook, or any object, from inside: the heap and other threads' frames.
    "gc.get_objects", "gc.get_referrers", "gc.get_referents", "sys._current_frames",
    # Building code objects by hand (bytecode that corrupts the interpreter steps around every check).
    "code.__new__",
})


def install(read_roots: list[str]) -> None:
    """Install the hook. It cannot be removed, and nothing the submission can reach switches it off.

    The hook reads nothing from a module, a closure cell or the builtins at each event: every
    deny-list, allow-list and function it uses is bound at install time as a positional default
    (held in a tuple, not in a dict as keyword-only defaults would be: frozensets, tuples, str
    and C functions, none of which can be changed in place), and the defaults cannot be replaced (setting a function's ``__code__``, ``__defaults__`` or
    ``__kwdefaults__`` is refused, and so is deleting them). It calls no Python-level helper (paths are resolved here with
    ``os.lstat`` and ``os.readlink``, not ``os.path.realpath``, whose module a submission can
    rebind) and never runs the submission's code (only exact ``str``, ``bytes`` and ``int`` are
    looked at; a path-like object or a str subclass is refused). Nothing in this module refers
    to the hook afterwards, and the ways to find it from inside (the garbage collector's lists,
    other threads' frames) are refused too.
    """
    import stat
    import types

    denied, python_roots = prepare()
    own = tuple(sorted({_resolve(r) for r in read_roots}))
    allowed = tuple(_resolve(r) for r in read_roots) + tuple(python_roots)
    system_read = _SYSTEM_READ + (f"/proc/{os.getpid()}/",)

    def hook(event, args,
             _blocked=_BLOCKED_EVENTS | _GUARD_EVENTS, _paths=_PATH_EVENTS,
             _own=frozenset(own), _own_prefixes=tuple(r.rstrip("/") + "/" for r in own),
             _denied=frozenset(denied), _denied_prefixes=tuple(d.rstrip("/") + "/" for d in denied),
             _allowed=frozenset(allowed), _allowed_prefixes=tuple(a.rstrip("/") + "/" for a in allowed),
             _system=tuple(system_read), _function=types.FunctionType,
             _write_flags=os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC,
             _lstat=os.lstat, _stat=os.stat, _readlink=os.readlink, _getcwd=os.getcwd,
             _islink=stat.S_ISLNK, _isdir=stat.S_ISDIR, _decode=bytes.decode,
             _encoding=sys.getfilesystemencoding(), _type=type, _len=len, _str=str, _bytes=bytes,
             _int=int, _none=type(None), _tuple=tuple, _error=PermissionError, _oserror=OSError):
        if _type(event) is not _str:
            return
        if event in _blocked:
            raise _error("the grader's sandbox does not allow " + event)
        if event == "object.__setattr__" or event == "object.__delattr__":
            if _type(args) is _tuple and _len(args) > 0 and _type(args[0]) is _function:
                raise _error("the grader's sandbox does not allow replacing a function's code or defaults")
            return
        if event not in _paths:
            return
        if _type(args) is not _tuple:
            raise _error("the grader's sandbox refused a malformed audit event")
        target = args[0] if _len(args) > 0 else None
        kind = _type(target)
        if kind is _none:
            return
        if kind is _int:
            if event == "open":
                raise _error("the grader's sandbox does not allow opening file descriptors")
            return
        if event == "open":
            mode = args[1] if _len(args) > 1 else None
            flags = args[2] if _len(args) > 2 else 0
            if _type(mode) not in (_str, _none) or _type(flags) is not _int:
                raise _error("the grader's sandbox refused an open with an unusual mode")
            if flags & _write_flags or (mode is not None and ("w" in mode or "a" in mode or "x" in mode
                                                             or "+" in mode)):
                raise _error("the grader's sandbox does not allow writing files")
        if kind is _bytes:
            target = _decode(target, _encoding, "surrogateescape")
        elif kind is not _str:
            raise _error("the grader's sandbox opens only plain str or bytes paths")
        # The path, absolute, with every symbolic link resolved (os.path.realpath's rules).
        if not target.startswith("/"):
            target = _getcwd() + "/" + target
        pending = target.split("/")[::-1]
        resolved, links = "", 0
        while pending:
            name = pending.pop()
            if name == "" or name == ".":
                continue
            if name == "..":
                resolved = resolved[:resolved.rfind("/")] if resolved else ""
                continue
            candidate = resolved + "/" + name
            try:
                mode_bits = _lstat(candidate).st_mode
            except _oserror:
                resolved = candidate
                continue
            if not _islink(mode_bits):
                resolved = candidate
                continue
            links += 1
            if links > 40:
                raise _error("the grader's sandbox refused a path with too many links")
            link = _readlink(candidate)
            if link.startswith("/"):
                resolved = ""
            pending.extend(link.split("/")[::-1])
        path = resolved or "/"
        if event == "open":
            try:
                is_dir = _isdir(_stat(path).st_mode)
            except _oserror:
                is_dir = False
            if is_dir:
                # A folder's fd would let `dir_fd=` resolve a relative path somewhere this hook never sees.
                raise _error("the grader's sandbox does not allow opening folders")
        if path in _own or path.startswith(_own_prefixes):
            return
        if path in _denied or path.startswith(_denied_prefixes) or not (
                path in _allowed or path.startswith(_allowed_prefixes) or path.startswith(_system)):
            raise _error("the grader's sandbox does not allow reading " + path)

    sys.addaudithook(hook)


def _resolve(path: str) -> str:
    return os.path.realpath(path)
