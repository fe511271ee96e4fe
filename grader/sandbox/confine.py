"""Kernel-enforced confinement of a sandboxed child: capabilities, Landlock and seccomp.

The audit hook in `guard` sees what Python code does; a submission that reaches
C (cffi, `_posixsubprocess`, a torch function that opens a file itself) steps
around it. What this module installs holds whatever the code calls, because the
kernel enforces it:

- every capability is dropped and ``no_new_privs`` is set, so a grader run as
  root gives its children no root powers beyond owning root's files;
- Landlock (Linux >= 5.13, when enabled): the filesystem is read-only and only
  the submission, the Python installation (without the grader's own package)
  and a few system paths can be read; no TCP; (ABI >= 6) no signal reaches a
  process outside the sandbox;
- seccomp (x86-64): no execve, no fork (threads are allowed), no kill of
  another process, no ptrace or reading another process's memory, no new
  sockets, no file creation, writing, removal or renaming, no raising of
  resource limits, no io_uring, no terminal injection (TIOCSTI); no fcntl or
  ioctl that names a process to signal (F_SETOWN, F_SETOWN_EX, F_SETSIG,
  FIOSETOWN, SIOCSPGRP: the route to the grader when Landlock cannot scope
  signals), and no kernel object that would outlive the child (SysV IPC,
  POSIX message queues, memfd, file locks and leases, watches, timers, keys).

$VAEGRADE_LANDLOCK_ABI_MAX caps the Landlock ABI used (0: none), to see what an
older kernel gives.

Each layer is installed when the kernel offers it; `status()` says which did.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import struct

import grader

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.prctl.restype = ctypes.c_int

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
PR_CAPBSET_DROP = 24
SECCOMP_MODE_FILTER = 2

_X86_64 = platform.machine() in ("x86_64", "AMD64")

# --- capabilities -----------------------------------------------------------------


def _last_capability() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 63


_LAST_CAP = _last_capability()
_CAP_HEADER = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0), 8)  # version 3, this process
_CAP_DATA = ctypes.create_string_buffer(bytes(24), 24)  # {effective, permitted, inheritable} x 2, all zero


def drop_capabilities() -> bool:
    """Drop every capability (bounding set, effective, permitted, inheritable)."""
    prctl = _libc.prctl
    for cap in range(_LAST_CAP + 1):
        prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
    return _libc.syscall(126 if _X86_64 else 91, _CAP_HEADER, _CAP_DATA) == 0  # capset


# --- Landlock -------------------------------------------------------------------------

_LL_CREATE, _LL_ADD, _LL_RESTRICT = 444, 445, 446  # the same on every architecture
_FS_READ_FILE, _FS_READ_DIR = 1 << 2, 1 << 3
_FS_BITS_BY_ABI = {1: 13, 2: 14, 3: 15, 4: 15, 5: 16}


ABI_CAP_VARIABLE = "VAEGRADE_LANDLOCK_ABI_MAX"


def _abi_cap() -> int | None:
    """An upper bound on the Landlock ABI to use (to emulate an older kernel), from the environment."""
    text = os.environ.get(ABI_CAP_VARIABLE, "").strip()
    try:
        return max(0, int(text)) if text else None
    except ValueError:
        return None


_ABI_CAP = _abi_cap()  # read once, at import: a child scrubs its environment before confining itself


def kernel_landlock_abi() -> int:
    """The Landlock ABI the running kernel offers (0: none)."""
    version = _libc.syscall(_LL_CREATE, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    return int(version) if version > 0 else 0


def landlock_abi() -> int:
    """The Landlock ABI the sandbox uses: the kernel's, capped by $VAEGRADE_LANDLOCK_ABI_MAX when set."""
    abi = kernel_landlock_abi()
    return abi if _ABI_CAP is None else min(abi, _ABI_CAP)


class ReadRoots:
    """Paths a child may read, opened once (O_PATH) in the warm parent so each child adds them cheaply."""

    def __init__(self, paths: list[str]) -> None:
        self.fds: list[tuple[int, bool]] = []
        self.rules = []  # the landlock_path_beneath_attr of each, built once
        for path in paths:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue
            self.fds.append((fd, os.path.isdir(path)))
            self.rules.append(_rule(fd, os.path.isdir(path)))

    def close(self) -> None:
        for fd, _ in self.fds:
            os.close(fd)
        self.fds, self.rules = [], []


def _rule(fd: int, is_dir: bool):
    rights = _FS_READ_FILE | (_FS_READ_DIR if is_dir else 0)
    return ctypes.create_string_buffer(struct.pack("=Qi", rights, fd), 12)


def landlock(roots: ReadRoots, extra_dirs: list[str]) -> int:
    """Restrict this process to reading `roots` and `extra_dirs`; return the ABI used (0: unavailable)."""
    abi = landlock_abi()
    if abi <= 0:
        return 0
    fs_bits = _FS_BITS_BY_ABI.get(abi, 16)
    handled_fs = (1 << fs_bits) - 1
    handled_net = 0b11 if abi >= 4 else 0       # bind and connect TCP
    scoped = 0b11 if abi >= 6 else 0            # abstract unix sockets and signals stay inside
    if abi >= 6:
        attr = struct.pack("QQQ", handled_fs, handled_net, scoped)
    elif abi >= 4:
        attr = struct.pack("QQ", handled_fs, handled_net)
    else:
        attr = struct.pack("Q", handled_fs)
    abuf = ctypes.create_string_buffer(attr, len(attr))
    ruleset = _libc.syscall(_LL_CREATE, abuf, ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
    if ruleset < 0:
        return 0
    extra = []
    try:
        for path in extra_dirs:
            try:
                extra.append((os.open(path, os.O_PATH | os.O_CLOEXEC), os.path.isdir(path)))
            except OSError:
                pass
        syscall = _libc.syscall
        for rule in roots.rules + [_rule(fd, is_dir) for fd, is_dir in extra]:
            syscall(_LL_ADD, ruleset, 1, rule, 0)
        if _libc.syscall(_LL_RESTRICT, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            return 0
    finally:
        for fd, _ in extra:
            os.close(fd)
        os.close(ruleset)
    return abi


# --- seccomp (x86-64) -------------------------------------------------------------------

_LD_W_ABS, _JEQ, _JGE, _JSET, _RET, _ALU_AND = 0x20, 0x15, 0x35, 0x45, 0x06, 0x54
_ALLOW, _KILL = 0x7FFF0000, 0x80000000
_AUDIT_ARCH_X86_64 = 0xC000003E
_O_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
CLONE_THREAD = 0x00010000

_DENIED = {  # x86-64 numbers
    "execve": 59, "execveat": 322, "fork": 57, "vfork": 58, "ptrace": 101, "tkill": 200,
    "process_vm_readv": 310, "process_vm_writev": 311, "pidfd_open": 434, "pidfd_send_signal": 424,
    "pidfd_getfd": 438, "socket": 41, "socketpair": 53, "connect": 42, "bind": 49, "listen": 50,
    "accept": 43, "accept4": 288, "creat": 85, "unlink": 87, "unlinkat": 263, "rename": 82,
    "renameat": 264, "renameat2": 316, "mkdir": 83, "mkdirat": 258, "rmdir": 84, "link": 86,
    "linkat": 265, "symlink": 88, "symlinkat": 266, "chmod": 90, "fchmod": 91, "fchmodat": 268,
    "chown": 92, "fchown": 93, "lchown": 94, "fchownat": 260, "truncate": 76, "ftruncate": 77,
    "mknod": 133, "mknodat": 259, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161,
    "unshare": 272, "setns": 308, "setrlimit": 160, "reboot": 169, "kexec_load": 246,
    "init_module": 175, "finit_module": 313, "delete_module": 176, "swapon": 167, "swapoff": 168,
    "sethostname": 170, "setdomainname": 171, "settimeofday": 164, "clock_settime": 227,
    "adjtimex": 159, "acct": 163, "quotactl": 179, "keyctl": 250, "add_key": 248,
    "request_key": 249, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "name_to_handle_at": 303, "open_by_handle_at": 304, "utime": 132, "utimes": 235,
    "utimensat": 280, "futimesat": 261, "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190,
    "removexattr": 197, "lremovexattr": 198, "fremovexattr": 199, "fanotify_init": 300,
    "syslog": 103, "ioperm": 173, "iopl": 172, "migrate_pages": 256, "move_pages": 279,
    "kcmp": 312, "mount_setattr": 442, "fsopen": 430, "fsmount": 432, "open_tree": 428,
    "move_mount": 429, "fspick": 433, "fsconfig": 431, "setpriority": 141, "ioprio_set": 251,
    "process_madvise": 440, "process_mrelease": 448,
    # Kernel objects that would outlive the child, or that live outside its process: SysV shared
    # memory, semaphores and message queues (the host's IPC namespace), POSIX message queues,
    # anonymous memory files, file locks and leases, preallocated file space, file watches, and
    # POSIX timers. Each is refused rather than reaped.
    "shmget": 29, "shmat": 30, "shmctl": 31, "semget": 64, "semop": 65, "semctl": 66,
    "msgget": 68, "msgsnd": 69, "msgrcv": 70, "msgctl": 71, "semtimedop": 220,
    "mq_open": 240, "mq_unlink": 241, "mq_timedsend": 242, "mq_timedreceive": 243,
    "mq_notify": 244, "mq_getsetattr": 245, "memfd_create": 319, "memfd_secret": 447,
    "flock": 73, "fallocate": 285, "inotify_init": 253, "inotify_init1": 294,
    "inotify_add_watch": 254, "fanotify_mark": 301, "timer_create": 222,
}
# fcntl commands a child may use (descriptor flags, status flags, duplicating, reading locks):
# never F_SETOWN / F_SETOWN_EX / F_SETSIG (have the kernel signal another process when a
# descriptor is ready), locks, leases or F_NOTIFY (signals on folder changes).
_FCNTL_ALLOWED = (0, 1, 2, 3, 4, 5, 9, 11, 16, 36, 1025, 1030, 1032, 1034)
# ioctl requests refused: terminal injection (TIOCSTI, TIOCLINUX) and the socket owner that
# receives SIGIO/SIGURG (FIOSETOWN, SIOCSPGRP): the ioctl spelling of F_SETOWN.
_IOCTL_DENIED = (0x5412, 0x541C, 0x8901, 0x8902)
_NO_SUCH = {"clone3": 435, "openat2": 437}  # ENOSYS: libc falls back to the checkable clone/openat


def _ins(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)


def _errno(e: int) -> int:
    return 0x00050000 | e


def seccomp_program(own_pid: int) -> bytes:
    """The BPF filter: a list of checks on the syscall number and, for a few calls, their arguments."""
    nr_off, arg = 0, lambda i: 16 + 8 * i  # low 32 bits of argument i (little-endian)
    eperm = _errno(errno.EPERM)
    prog = [
        _ins(_LD_W_ABS, 4), _ins(_JEQ, _AUDIT_ARCH_X86_64, 1, 0), _ins(_RET, _KILL),
        _ins(_LD_W_ABS, nr_off), _ins(_JGE, 0x40000000, 0, 1), _ins(_RET, eperm),  # x32 ABI
    ]
    for nr in sorted(_DENIED.values()):
        prog += [_ins(_JEQ, nr, 0, 1), _ins(_RET, eperm)]
    for nr in _NO_SUCH.values():
        prog += [_ins(_JEQ, nr, 0, 1), _ins(_RET, _errno(errno.ENOSYS))]

    def on(nr: int, body: list[bytes]) -> list[bytes]:
        # if nr matches: run body (which returns); else skip it. Reload nr afterwards.
        return [_ins(_JEQ, nr, 0, len(body))] + body + [_ins(_LD_W_ABS, nr_off)]

    # clone: threads only.
    prog += on(56, [_ins(_LD_W_ABS, arg(0)), _ins(_JSET, CLONE_THREAD, 0, 1), _ins(_RET, _ALLOW),
                    _ins(_RET, eperm)])
    # Signals: only to this process (kill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo).
    for nr in (62, 234, 129, 297):
        prog += on(nr, [_ins(_LD_W_ABS, arg(0)), _ins(_JEQ, own_pid, 0, 1), _ins(_RET, _ALLOW),
                        _ins(_RET, eperm)])
    # Scheduling: of this process (0 or its pid) only, so the grader cannot be slowed or pinned.
    for nr in (203, 144, 142, 314):  # sched_setaffinity, sched_setscheduler, sched_setparam, sched_setattr
        prog += on(nr, [_ins(_LD_W_ABS, arg(0)), _ins(_JEQ, 0, 1, 0), _ins(_JEQ, own_pid, 0, 1),
                        _ins(_RET, _ALLOW), _ins(_RET, eperm)])
    # open / openat: read-only.
    for nr, i in ((2, 1), (257, 2)):
        prog += on(nr, [_ins(_LD_W_ABS, arg(i)), _ins(_JSET, _O_WRITE_FLAGS, 0, 1),
                        _ins(_RET, _errno(errno.EACCES)), _ins(_RET, _ALLOW)])
    # prlimit64: reading only (new limit NULL).
    prog += on(302, [_ins(_LD_W_ABS, arg(2)), _ins(_JEQ, 0, 0, 3), _ins(_LD_W_ABS, arg(2) + 4),
                     _ins(_JEQ, 0, 0, 1), _ins(_RET, _ALLOW), _ins(_RET, eperm)])
    # ioctl: no terminal injection, no socket owner.
    body = [_ins(_LD_W_ABS, arg(1))]
    for i, cmd in enumerate(_IOCTL_DENIED):
        body.append(_ins(_JEQ, cmd, len(_IOCTL_DENIED) - i, 0))
    prog += on(16, body + [_ins(_RET, _ALLOW), _ins(_RET, eperm)])
    # fcntl: an allow-list of commands.
    body = [_ins(_LD_W_ABS, arg(1))]
    for i, cmd in enumerate(_FCNTL_ALLOWED):
        body.append(_ins(_JEQ, cmd, len(_FCNTL_ALLOWED) - i, 0))
    prog += on(72, body + [_ins(_RET, eperm), _ins(_RET, _ALLOW)])
    prog.append(_ins(_RET, _ALLOW))
    return b"".join(prog)


_PID_SENTINEL = 0x7EADBEEF
_PROGRAM_TEMPLATE: bytes | None = None


def seccomp(own_pid: int) -> bool:
    global _PROGRAM_TEMPLATE
    if not _X86_64:
        return False
    if _PROGRAM_TEMPLATE is None:  # built once in the warm parent; each child writes in its pid
        _PROGRAM_TEMPLATE = seccomp_program(_PID_SENTINEL)
    program = _PROGRAM_TEMPLATE.replace(struct.pack("I", _PID_SENTINEL), struct.pack("I", own_pid))
    count = len(program) // 8
    filt = ctypes.create_string_buffer(program, len(program))
    fprog = struct.pack("HxxxxxxQ", count, ctypes.addressof(filt))
    fbuf = ctypes.create_string_buffer(fprog, len(fprog))
    return _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fbuf, 0, 0) == 0


# --- what a child may read ------------------------------------------------------------

SYSTEM_READ = ["/usr/lib", "/lib", "/lib64", "/usr/lib64", "/usr/local/lib", "/etc/ld.so.cache",
               "/etc/localtime", "/usr/share/zoneinfo", "/dev/null", "/dev/zero", "/dev/urandom",
               "/sys/devices/system/cpu"]


def denied_paths() -> list[str]:
    """The grader's own package (hidden checks, packaged solutions and quiz key) and, in a source
    checkout, the folders beside it: never readable from a sandbox."""
    package = os.path.realpath(os.path.dirname(grader.__file__))
    project = os.path.dirname(package)
    found = [package] + [os.path.join(project, d) for d in ("solutions", "quizzes", "tests", ".git", "site")]
    # Another installed copy (a checkout run beside `pip install .`) ships solutions and the key too.
    found += [os.path.join(root, "grader") for root in python_roots() if os.path.isdir(os.path.join(root, "grader"))]
    return sorted({os.path.realpath(p) for p in found})


def python_roots() -> list[str]:
    import sys
    import sysconfig

    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    roots |= {p for p in sys.path[1:] if p and os.path.isdir(p) and ("site-packages" in p or "dist-packages" in p
                                                                     or p.startswith(sys.base_prefix))}
    return sorted(os.path.realpath(r) for r in roots if os.path.isdir(r))


def _beneath(path: str, root: str) -> bool:
    return path.startswith(root.rstrip("/") + "/")


def read_paths() -> list[str]:
    """Python's and the system's read-only paths, with the grader's own files carved out.

    Landlock can only grant, never carve out, so a root that holds a denied path (site-packages
    holding an installed grader) is granted entry by entry instead.
    """
    denied = denied_paths()
    roots = python_roots() + [os.path.realpath(p) for p in SYSTEM_READ if os.path.exists(p)]
    special = set(denied)
    granted: list[str] = []

    def grant(path: str) -> None:
        if path in denied or any(_beneath(path, d) for d in denied):
            return
        if os.path.isdir(path) and any(_beneath(s, path) for s in special):
            try:
                names = sorted(os.listdir(path))
            except OSError:
                return
            for name in names:
                child = os.path.join(path, name)
                real = os.path.realpath(child)
                if real in denied or (real in roots and real != path):
                    continue
                if name.startswith(("vae_grader", "__editable__", "__editable___vae_grader")):
                    continue
                grant(real if not os.path.islink(child) else real)
            return
        granted.append(path)

    for root in dict.fromkeys(roots):
        grant(root)
    return list(dict.fromkeys(granted))


# --- all together ----------------------------------------------------------------------

_STATUS: dict = {}


def confine(roots: ReadRoots | None, submission_root: str) -> dict:
    """Install every layer the kernel offers, in an order where each still can be installed."""
    status = {"no_new_privs": _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0}
    status["landlock"] = landlock(roots, [submission_root, f"/proc/{os.getpid()}"]) if roots else 0
    status["capabilities_dropped"] = drop_capabilities()
    status["seccomp"] = seccomp(os.getpid())
    _STATUS.clear()
    _STATUS.update(status)
    return status


def prepare() -> None:
    """Everything that can be computed before forking, computed once in the warm parent."""
    global _PROGRAM_TEMPLATE
    if _X86_64 and _PROGRAM_TEMPLATE is None:
        _PROGRAM_TEMPLATE = seccomp_program(_PID_SENTINEL)


def status() -> dict:
    """Which layers this process installed (empty outside a sandboxed child)."""
    return dict(_STATUS)
