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


def _check_plain(obj, depth: int = 0) -> None:
    """Only None, bool, int, float, str, bytes, tuples, lists and str-keyed dicts, not nested deeper than MAX_DEPTH."""
    if depth > MAX_DEPTH:
        raise ProtocolError("frame nested too deeply")
    kind = type(obj)
    if kind in (tuple, list):
        for item in obj:
            if type(item) in (tuple, list, dict):
                _check_plain(item, depth + 1)
            elif type(item) not in _SCALARS:
                raise ProtocolError(f"a frame holds a {type(item).__name__}")
            elif type(item) is int:
                _check_int(item)
    elif kind is dict:
        for key, value in obj.items():
            if type(key) is not str:
                raise ProtocolError("a frame holds a dict with non-str keys")
            _check_plain([value], depth + 1)
    elif kind not in _SCALARS:
        raise ProtocolError(f"a frame holds a {kind.__name__}")
    elif kind is int:
        _check_int(obj)


_SCALARS = (type(None), bool, int, float, str, bytes)
MAX_INT_BITS = 1000  # any larger int is no answer to anything, and would overflow a float


def _check_int(value: int) -> None:
    if value.bit_length() > MAX_INT_BITS:
        raise ProtocolError("a frame holds an absurdly large integer")


def recv(sock: socket.socket, max_bytes: int = MAX_FRAME, deadline: float | None = None):
    """Read one frame; ProtocolError unless it is well-formed plain data within max_bytes."""
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
    _check_plain(obj)
    return obj


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
