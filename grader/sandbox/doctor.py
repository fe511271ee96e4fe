"""Which confinement layers hold on this machine, checked in a real sandboxed child.

`vaegrade doctor` prints this, and every Dask worker runs the same probe before it
grades anything: a machine whose kernel cannot hold a layer grades nothing rather
than grading unconfined. The probe asks the kernel (the Landlock ABI it offers) and
then a child forked by a warm zygote exactly as for a submission, which reports what
it installed (Landlock, seccomp, no_new_privs, capabilities), whether the audit hook
stops a write, and the resource limits it runs under.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from dataclasses import dataclass

from grader.sandbox import confine
from grader.sandbox.session import Failure, SandboxError, Zygote
from grader.settings import Limits

# What the child reports, in this order (plain ints and bools cross the wire).
_PROBE = '''
import os, resource

def run():
    from grader.sandbox import child   # loaded by the warm parent before confinement
    c = child.CONFINEMENT
    try:
        open(os.devnull, "w").close()
        hook = False
    except PermissionError as exc:
        hook = "sandbox" in str(exc)
    inf = resource.RLIM_INFINITY
    return [int(c.get("landlock", 0)), bool(c.get("seccomp")), bool(c.get("no_new_privs")),
            bool(c.get("capabilities_dropped")), hook,
            resource.getrlimit(resource.RLIMIT_AS)[0] != inf,
            resource.getrlimit(resource.RLIMIT_CPU)[0] != inf,
            resource.getrlimit(resource.RLIMIT_FSIZE)[0] == 0]
'''

#: The layers a machine must hold to grade: a worker missing any of them refuses work.
REQUIRED = ("landlock", "seccomp", "no_new_privs", "capabilities", "audit_hook", "rlimits")


@dataclass(frozen=True)
class Layer:
    name: str
    holds: bool
    detail: str
    required: bool = True

    def line(self) -> str:
        mark = "holds" if self.holds else ("MISSING" if self.required else "n/a")
        return f"  {self.name:<14}{mark:<9}{self.detail}"


@dataclass(frozen=True)
class Report:
    layers: tuple[Layer, ...]
    host: str
    problem: str = ""   #: the sandbox could not start at all

    def missing(self, required: tuple[str, ...] = REQUIRED) -> list[str]:
        """The required layers that do not hold (every one when the sandbox did not start)."""
        holding = {layer.name for layer in self.layers if layer.holds}
        return [name for name in required if name not in holding]

    def ok(self, required: tuple[str, ...] = REQUIRED) -> bool:
        return not self.problem and not self.missing(required)

    def reason(self, required: tuple[str, ...] = REQUIRED) -> str:
        """Why this machine must not grade, in one line ("" when it may)."""
        if self.problem:
            return f"the sandbox cannot start on {self.host}: {self.problem}"
        missing = self.missing(required)
        if missing:
            return (f"the sandbox cannot hold {', '.join(missing)} on {self.host} "
                    f"(Linux {platform.release()}); it refuses to grade unconfined")
        return ""

    def text(self, required: tuple[str, ...] = REQUIRED) -> str:
        lines = [f"sandbox on {self.host} (Linux {platform.release()}, {platform.machine()}):"]
        lines += [layer.line() for layer in self.layers]
        if self.problem:
            lines.append(f"  the sandbox could not start: {self.problem}")
        lines.append("verdict: " + ("every required layer holds; this machine may grade" if self.ok(required)
                                    else "NOT SAFE TO GRADE: " + self.reason(required)))
        return "\n".join(lines)


def probe(zygote: Zygote | None = None, *, seconds: float = 120) -> Report:
    """Check every layer in a real sandboxed child (started from `zygote`, or a fresh one)."""
    host = platform.node() or "this machine"
    abi = confine.kernel_landlock_abi()
    own = zygote is None
    answer: list | None = None
    problem = ""
    try:
        zygote = zygote or Zygote()
        with tempfile.TemporaryDirectory(prefix="vaegrade-doctor-") as folder:
            os.chmod(folder, 0o755)
            with open(os.path.join(folder, "probe.py"), "w") as f:
                f.write(_PROBE)
            child = zygote.spawn(folder, Limits())
            try:
                got = child.request(("call", "probe.py", "run", [], {}, {}), time.monotonic() + seconds)
            finally:
                child.kill()
        if isinstance(got, Failure):
            problem = f"the probe child stopped ({got.detail})"
        elif got[0][0] != "ok" or got[0][1][0] != "list":
            problem = f"the probe child answered {got[0][0]!r}"
        else:
            answer = [item[1] for item in got[0][1][1]]
    except (SandboxError, OSError) as exc:
        problem = str(exc)
    finally:
        if own and zygote is not None:
            zygote.close()
    return Report(_layers(abi, answer), host, problem)


def _layers(abi: int, answer: list | None) -> tuple[Layer, ...]:
    if answer is None:
        answer = [0, False, False, False, False, False, False, False]
    applied, sec, nnp, caps, hook, as_cap, cpu_cap, fsize_cap = answer
    x86 = platform.machine() in ("x86_64", "AMD64")
    return (
        Layer("landlock", abi > 0 and applied > 0,
              (f"kernel ABI {abi}, applied ABI {applied}: read-only filesystem outside the submission"
               + (", no TCP" if applied >= 4 else "") + (", signals scoped" if applied >= 6 else "")
               if applied > 0 else f"kernel ABI {abi}, but none applied")
              + (f" (${confine.ABI_CAP_VARIABLE}={os.environ[confine.ABI_CAP_VARIABLE]})"
                 if os.environ.get(confine.ABI_CAP_VARIABLE, "").strip() else "")
              if abi > 0 else "the kernel offers no Landlock (Linux >= 5.13 with landlock in the LSM list)"),
        Layer("seccomp", sec, "no exec, fork, kill, ptrace, sockets or file writes below Python"
              if x86 else f"the filter is built for x86-64, not {platform.machine()}"),
        Layer("no_new_privs", nnp, "no setuid gain"),
        Layer("capabilities", caps, "every capability dropped"),
        Layer("audit_hook", hook, "Python-level guard (PEP 578) refuses writes, exec, sockets"),
        Layer("rlimits", as_cap and cpu_cap and fsize_cap,
              f"memory {'capped' if as_cap else 'NOT capped'}, CPU time {'capped' if cpu_cap else 'NOT capped'}, "
              f"file size {'0' if fsize_cap else 'NOT capped'}"),
        Layer("namespaces", False, "not used: the layers above confine a child without user namespaces",
              required=False),
    )
