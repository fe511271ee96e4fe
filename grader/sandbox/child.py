"""The harness that runs inside a sandboxed child, next to the submission's code.

It imports the learner's files, calls the functions the trusted process asks
for, and sends back plain data. It never holds an expected value: it is forked
from a parent that has not imported the checks, the solutions or the quiz key,
so nothing here is worth reading or patching.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import signal
import sys
import traceback

import numpy as np
import torch

from grader.sandbox import confine, guard, protocol
from grader.sandbox.protocol import decode_array, encode_array


class _BoundedText:
    """sys.stdout/sys.stderr stand-in: keeps the first `limit` characters, counts the rest."""

    def __init__(self, limit: int):
        self.limit, self.parts, self.kept, self.total = limit, [], 0, 0

    def write(self, s) -> int:
        s = str(s)
        self.total += len(s)
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(s[:room])
            self.kept += min(room, len(s))
        return len(s)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def take(self) -> tuple[str, int]:
        text, total = "".join(self.parts), self.total
        self.parts, self.kept, self.total = [], 0, 0
        return text, total


# --- values in and out ---------------------------------------------------------


def decode_arg(enc):
    """Trusted-side input -> the object handed to the learner's function."""
    tag = enc[0]
    if tag == "nd":
        return decode_array(enc)
    if tag == "t":
        tensor = torch.from_numpy(decode_array(enc))
        return tensor.requires_grad_(bool(enc[4])) if enc[4] else tensor
    if tag in ("list", "tuple"):
        items = [decode_arg(e) for e in enc[1]]
        return items if tag == "list" else tuple(items)
    if tag == "none":
        return None
    return enc[1]  # float, int, bool, str


def encode_result(value, depth: int = 0):
    """Whatever the learner returned -> plain tagged data; its methods run here, never in the grader."""
    try:
        if value is None:
            return ("none",)
        if isinstance(value, (bool, np.bool_)):
            return ("bool", bool(value))
        if isinstance(value, (int, np.integer)):
            number = int(value)
            if number.bit_length() > protocol.MAX_INT_BITS:
                return ("other", "int", f"an integer of {number.bit_length()} bits")
            return ("int", number)
        if isinstance(value, (float, np.floating)):
            return ("float", float(value))
        if isinstance(value, torch.Tensor):
            base = torch.Tensor.detach(value).cpu()
            if base.is_complex():
                return ("other", "complex tensor", "")
            arr = np.array(base.numpy(), copy=True)
            return ("t",) + encode_array(arr)[1:] + (bool(value.requires_grad), value.grad_fn is not None)
        if isinstance(value, np.ndarray):
            arr = np.array(value, copy=True).view(np.ndarray)
            if arr.dtype.kind not in "biuf":
                return ("other", f"ndarray of {arr.dtype}", "")
            return encode_array(arr)
        if isinstance(value, (tuple, list)) and depth < 4:
            tag = "tuple" if isinstance(value, tuple) else "list"
            return (tag, [encode_result(v, depth + 1) for v in list(value)[:100_000]])
        text = repr(value)[:200]
        return ("other", type(value).__name__, text)
    except Exception as exc:  # a hostile __repr__, __float__, __array__ ...
        return ("other", "unconvertible", f"{type(exc).__name__}: {str(exc)[:200]}")


# --- the learner's modules -----------------------------------------------------


class _Modules:
    def __init__(self, root: str):
        self.root, self.cache = root, {}

    def load(self, filename: str):
        if filename not in self.cache:
            self.cache[filename] = self._import(filename)
        return self.cache[filename]

    def _import(self, filename: str):
        path = os.path.join(self.root, filename)
        if not os.path.isfile(path):
            return ("missing_file", filename)
        name = filename[:-3]
        try:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            spec.loader.exec_module(module)
            return module
        except BaseException as exc:  # SyntaxError, ImportError, SystemExit at import time ...
            sys.modules.pop(name, None)
            if _is_memory_error(exc):
                return ("limit", "memory")
            return ("import_error",) + _describe(exc, path)


def _describe(exc: BaseException, path: str | None = None) -> tuple:
    """(exception type, message, line in the learner's file, base class names)."""
    line = getattr(exc, "lineno", None) if isinstance(exc, SyntaxError) else None
    tb = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    for frame in reversed(tb):
        if frame.filename.startswith(_MODULES.root if _MODULES else "\0"):
            line = frame.lineno
            break
    try:
        message = str(exc)[:500]
    except Exception:
        message = "(unprintable message)"
    bases = tuple(c.__name__ for c in type(exc).__mro__)
    return (type(exc).__name__, message, line, bases)


_MODULES: _Modules | None = None


_OOM_MESSAGES = ("can't allocate memory", "not enough memory", "cannot allocate memory", "out of memory",
                 "std::bad_alloc")


def _is_memory_error(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    if not isinstance(exc, RuntimeError):
        return False
    try:
        text = str(exc)[:2000].lower()
    except Exception:
        return False
    return any(m in text for m in _OOM_MESSAGES)


# --- requests ------------------------------------------------------------------


def _call(req):
    _, filename, func, args, kwargs, opts = req
    module = _MODULES.load(filename)
    if isinstance(module, tuple):
        return module
    fn = getattr(module, func, None)
    if not callable(fn):
        return ("missing_function", func)
    args = [decode_arg(a) for a in args]
    kwargs = {k: decode_arg(v) for k, v in kwargs.items()}
    results = []
    for _ in range(int(opts.get("repeat", 1))):
        try:
            value = fn(*args, **kwargs)
        except BaseException as exc:
            if _is_memory_error(exc):
                return ("limit", "memory")
            return ("raised",) + _describe(exc)
        results.append(value)
    extra = {}
    if opts.get("backward") is not None:
        extra["grads"] = _backward(results[0], args, opts["backward"])
    if "repeat" in opts:
        return ("ok", _encode_repeats(results), extra)
    return ("ok", encode_result(results[0]), extra)


def _encode_repeats(results: list):
    """The values of a repeated call: one stacked array when every value is a plain torch tensor of one
    dtype, shape and autograd state (the trusted side decodes it in one step); else one by one."""
    first = results[0] if results else None
    try:
        if type(first) is torch.Tensor and not first.is_complex():
            flags = (first.dtype, tuple(first.shape), bool(first.requires_grad), first.grad_fn is not None)
            if all(type(r) is torch.Tensor and (r.dtype, tuple(r.shape), bool(r.requires_grad),
                                                r.grad_fn is not None) == flags for r in results):
                stacked = torch.stack([torch.Tensor.detach(r) for r in results]).cpu()
                arr = np.array(stacked.numpy(), copy=True)
                return ("stack", len(results), ("t",) + encode_array(arr)[1:] + flags[2:])
    except Exception:   # anything odd about the values: the one-by-one encoding copes with it
        pass
    return encode_result(results)


def _backward(value, args, weights):
    """Backpropagate sum(w_i * output_i) and return the gradient of every grad-requiring input."""
    outputs = value if isinstance(value, (tuple, list)) else (value,)
    try:
        total = None
        for out, w in zip(outputs, weights):
            if w is None:
                continue
            if not isinstance(out, torch.Tensor):
                return ("no_graph", f"the output is a {type(out).__name__}, not a torch tensor")
            if not out.requires_grad:
                return ("no_graph", "the output does not require grad: the graph was cut")
            term = (out * torch.from_numpy(decode_array(w)).to(out.dtype)).sum()
            total = term if total is None else total + term
        total.backward()
    except BaseException as exc:
        return ("raised",) + _describe(exc)
    grads = [encode_result(a.grad) if isinstance(a, torch.Tensor) and a.requires_grad else ("none",)
             for a in args]
    return ("ok", grads)


_ENDS_CONCEPT = ("missing_file", "import_error", "limit")


def _calls(req):
    """Several calls, made in turn: their replies, in order, in one answer, each with what its own
    call printed. It stops after a reply that ends the concept (a limit, an import error), and before
    a reply that would take the answer past the reply size limit (the trusted process then sends the
    calls left in its next request)."""
    replies, outputs, size = [], [], 0
    for call in req[1]:
        reply = HANDLERS["call"](call)
        text, total = _CAPTURE.take() if _CAPTURE is not None else ("", 0)
        encoded = len(protocol.dumps(reply))
        weight = encoded + 4 * len(text) + 64
        if weight > _MAX_REPLY:
            reply = _too_large(encoded)
            weight = len(protocol.dumps(reply)) + 4 * len(text) + 64
        if replies and size + weight > _MAX_REPLY - _REPLY_SLACK:
            break
        size += weight
        replies.append(reply)
        outputs.append((text, total))
        if reply[0] in _ENDS_CONCEPT:
            break
    return ("ok", ("none",), {"replies": replies, "outputs": outputs})


def _too_large(size: int) -> tuple:
    """The reply to a call whose value is `size` bytes once encoded, more than the grader reads."""
    return ("ok", ("other", "value too large",
                   f"the value is {size} bytes once encoded; the grader reads at most {_MAX_REPLY}"), {})


_CAPTURE: _BoundedText | None = None   #: the child's stdout/stderr (set by serve)
_MAX_REPLY = protocol.MAX_REPLY          #: bytes of one answer (set by serve from the limits)
_REPLY_SLACK = 64 * 1024                 #: room in an answer for its framing and the request's own output


# Training the TinyVAE is driven from the trusted process, one "call" with backward per step
# (runner.Submission.train_vae): a training loop here could be replaced by the submission.
HANDLERS = {"call": _call, "calls": _calls, "ping": lambda req: ("ok", ("none",), {})}


def _limit_resources(memory_mb: int, cpu_seconds: int, cpu_hard: int) -> None:
    """The child's limits. The soft CPU limit is one concept's budget; the trusted process moves it on
    (never past the hard limit) when it hands the child to the next concept."""
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) for line in f if line.startswith("VmSize:")) * 1024
    cap = vm + memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_hard))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


_KEPT_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _scrub_environment(root: str) -> None:
    """The learner's code sees no token, key or path of the grader's environment."""
    kept = {k: os.environ[k] for k in _KEPT_ENV if k in os.environ}
    os.environ.clear()
    os.environ.update(kept, HOME=root, TMPDIR=root)


def serve(fd: int, root: str, limits: dict, read_roots=None) -> None:
    """Entry point of a forked child: lock down, then answer requests until EOF."""
    global _MODULES, CONFINEMENT, _CAPTURE, _MAX_REPLY
    import socket

    os.setsid()  # own process group: the grader kills the whole group when done
    sock = socket.socket(fileno=fd)
    devnull = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(devnull, target)
    os.close(devnull)
    capture = _CAPTURE = _BoundedText(int(limits["output_chars"]))
    sys.stdout = sys.stderr = capture
    sys.dont_write_bytecode = True
    os.chdir(root)
    sys.path[:] = [root] + [p for p in sys.path[1:] if p]
    _scrub_environment(root)
    _MODULES = _Modules(root)
    _limit_resources(int(limits["memory_mb"]), int(limits["cpu_seconds"]), int(limits["cpu_hard"]))
    CONFINEMENT = confine.confine(read_roots, root)
    # Nothing inherited from the warm parent stays open but the request socket and 0-2.
    os.closerange(3, fd)
    os.closerange(fd + 1, 1 << 16)
    guard.install(read_roots=[root])
    max_reply = _MAX_REPLY = int(limits.get("reply_bytes", protocol.MAX_REPLY))
    # Set up, before any learner code runs: a child that dies before saying so failed to start
    # (the grader's failure, e.g. a process cap), never the learner's.
    try:
        protocol.send(sock, ("ready",))
    except OSError:
        os._exit(0)
    while True:
        try:
            # (request, nonce): the reply carries the nonce back, so a reply can only ever answer
            # the request it was sent for (frames queued ahead of time by the submission cannot).
            req, nonce = protocol.recv(sock, walk=False)   # written by the trusted process
        except (EOFError, OSError, protocol.ProtocolError, TypeError, ValueError):
            os._exit(0)
        try:
            reply = HANDLERS[req[0]](req)
        except BaseException as exc:  # a fault in the harness itself, or a KeyboardInterrupt
            reply = ("raised",) + _describe(exc)
        text, total = capture.take()
        try:
            body = protocol.dumps((reply, text, total, nonce))
            if len(body) > max_reply:
                body = protocol.dumps((_too_large(len(protocol.dumps(reply))), text, total, nonce))
            protocol.send_bytes(sock, body)
        except BaseException:
            os._exit(3)


CONFINEMENT: dict = {}
