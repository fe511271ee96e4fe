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

import numpy as np

HEADER = struct.Struct("!Q")
MAX_FRAME = 64 * 1024 * 1024  # a reply larger than this is an attack, not an answer


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed frame."""


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module, name):  # noqa: D102 - refuse every global
        raise ProtocolError(f"refused to unpickle {module}.{name}")


def send(sock: socket.socket, obj) -> None:
    body = pickle.dumps(obj, protocol=5)
    sock.sendall(HEADER.pack(len(body)) + body)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        buf += chunk
    return bytes(buf)


def recv(sock: socket.socket, max_bytes: int = MAX_FRAME):
    (size,) = HEADER.unpack(_recv_exact(sock, HEADER.size))
    if size > max_bytes:
        raise ProtocolError(f"frame of {size} bytes exceeds the {max_bytes}-byte limit")
    try:
        return _PlainUnpickler(io.BytesIO(_recv_exact(sock, size))).load()
    except ProtocolError:
        raise
    except Exception as exc:  # truncated or malformed pickle
        raise ProtocolError(f"malformed frame: {exc}") from None


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
