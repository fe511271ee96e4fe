"""Frames and plain-data encoding shared by the trusted process and the sandbox.

Everything that crosses the socket is built from None, bool, int, float, str,
bytes, tuples and lists, pickled with protocol 5 and unpickled by an
unpickler that refuses every global: a submission can send bytes, never
objects with behaviour (no rigged ``__eq__`` survives the trip).
"""

from __future__ import annotations

import io
import pickle
import socket
import struct
import time

import numpy as np

HEADER = struct.Struct("!Q")
MAX_FRAME = 64 * 1024 * 1024  # requests (the trusted side's own inputs)
MAX_REPLY = 16 * 1024 * 1024  # a reply larger than this is an attack, not an answer
MAX_DEPTH = 32                # nesting of tuples and lists in one frame
MAX_NODES = 2_000_000         # values in one frame, counting each reference to a shared one
MAX_DECODED_BYTES = 64 * 1024 * 1024  # str and bytes in one frame, counting each reference (default)


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed frame."""


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module, name):  # noqa: D102 - refuse every global
        raise ProtocolError(f"refused to unpickle {module}.{name}")

    def persistent_load(self, pid):  # noqa: D102
        raise ProtocolError("refused a persistent id")


def dumps(obj) -> bytes:
    return pickle.dumps(obj, protocol=5)


def send_bytes(sock: socket.socket, body: bytes) -> None:
    sock.sendall(HEADER.pack(len(body)) + body)


def send(sock: socket.socket, obj) -> None:
    send_bytes(sock, dumps(obj))


def _recv_exact(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None:  # the deadline holds for the whole frame, not for each chunk
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the reply did not arrive in time")
            sock.settimeout(left)
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        buf += chunk
    return bytes(buf)


def _check_plain(obj, node_budget: int, byte_budget: int = None) -> None:
    """Only None, bool, int, float, str, bytes, tuples, lists and str-keyed dicts, not nested deeper than MAX_DEPTH.

    Pickle shares repeated objects (its memo), so a frame of a few hundred bytes can describe a
    structure with more paths through it than atoms in the universe, or one large bytes object
    referenced a million times. The walk therefore counts every visit, shared or not: at most
    `node_budget` values and `byte_budget` bytes of str and bytes in total, which is also what
    anyone decoding the frame afterwards can be made to build. Time and memory are linear in the
    frame's size, whatever it holds. It goes one nesting level at a time, so the depth is the
    level's number and each level is checked in one pass.
    """
    byte_budget = MAX_DECODED_BYTES if byte_budget is None else byte_budget
    nodes = payload = 0
    level, depth = [obj], 0
    while level:
        nodes += len(level)
        if nodes > node_budget:
            raise ProtocolError(f"a frame holds more than {node_budget} values (shared references?)")
        below = []
        extend = below.extend
        for item in level:
            kind = type(item)
            if kind is tuple or kind is list:
                if len(item) > node_budget - nodes - len(below):
                    raise ProtocolError(f"a frame holds more than {node_budget} values (shared references?)")
                extend(item)
            elif kind is str or kind is bytes:
                payload += len(item)
            elif kind is int:
                _check_int(item)
            elif kind is dict:
                for key in item:
                    if type(key) is not str:
                        raise ProtocolError("a frame holds a dict with non-str keys")
                extend(item.keys())
                extend(item.values())
            elif kind is not float and kind is not bool and item is not None:
                raise ProtocolError(f"a frame holds a {kind.__name__}")
        if payload > byte_budget:
            raise ProtocolError(f"a frame decodes to more than {byte_budget // 2**20} MB "
                                "(one value referenced many times?)")
        if below and depth >= MAX_DEPTH:
            raise ProtocolError("frame nested too deeply")
        level, depth = below, depth + 1


def node_budget(frame_bytes: int) -> int:
    """How many values a frame of this size may hold: every value that is not shared costs at
    least one byte of pickle, so an honest frame stays far below this; only sharing exceeds it."""
    return min(MAX_NODES, 2 * frame_bytes + 1024)


_SCALARS = (type(None), bool, int, float, str, bytes)
MAX_INT_BITS = 1000  # any larger int is no answer to anything, and would overflow a float


def _check_int(value: int) -> None:
    if value.bit_length() > MAX_INT_BITS:
        raise ProtocolError("a frame holds an absurdly large integer")


def recv(sock: socket.socket, max_bytes: int = MAX_FRAME, deadline: float | None = None, *,
         walk: bool = True):
    """Read one frame; ProtocolError unless it is well-formed plain data within max_bytes.

    `walk=False` skips the walk over what was decoded: only for frames from the trusted process,
    read in the sandbox, which has nothing to protect from its grader.
    """
    return recv_sized(sock, max_bytes, deadline, walk=walk)[0]


def recv_sized(sock: socket.socket, max_bytes: int = MAX_FRAME, deadline: float | None = None, *,
               walk: bool = True) -> tuple:
    """`recv`, with the frame's size in bytes: (object, size)."""
    (size,) = HEADER.unpack(_recv_exact(sock, HEADER.size, deadline))
    if size > max_bytes:
        raise ProtocolError(f"frame of {size} bytes exceeds the {max_bytes}-byte limit")
    body = _recv_exact(sock, size, deadline)
    try:
        obj = _PlainUnpickler(io.BytesIO(body)).load()
    except ProtocolError:
        raise
    except Exception as exc:  # truncated or malformed pickle
        raise ProtocolError(f"malformed frame: {type(exc).__name__}") from None
    # As many str and bytes as the frame could hold without sharing: an honest frame never exceeds
    # it, and a reply's arrays decode to at most 16 M elements (128 MB even as float64).
    if walk:
        _check_plain(obj, node_budget(len(body)), max_bytes)
    return obj, size


# --- values -----------------------------------------------------------------
# Encoded values are tagged tuples: ("float", v), ("nd", dtype, shape, bytes),
# ("t", dtype, shape, bytes, requires_grad, has_grad_fn), ("tuple", [...]), ...


def encode_array(arr: np.ndarray) -> tuple:
    shape = tuple(int(s) for s in np.shape(arr))  # before ascontiguousarray, which makes 0-d arrays 1-d
    arr = np.ascontiguousarray(arr)
    return ("nd", arr.dtype.str, shape, arr.tobytes())


def decode_array(enc: tuple) -> np.ndarray:
    _, dtype, shape, data = enc[:4]
    dt = np.dtype(dtype)
    if dt.kind not in "biuf" or dt.hasobject:
        raise ProtocolError(f"array dtype {dtype!r} is not numeric")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if count * dt.itemsize != len(data):
        raise ProtocolError("array bytes do not match its shape")
    return np.frombuffer(data, dtype=dt).reshape(shape).copy()
