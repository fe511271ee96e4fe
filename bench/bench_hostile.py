#!/usr/bin/env python
"""What hostile inputs cost the trusted process: prints figures, asserts nothing.

    PYTHONPATH=. python bench/bench_hostile.py

- forged replies: a shared-reference DAG (40**14 paths in a few KB) and one 8 MB array referenced
  3000 times: bytes on the wire, time to refuse, peak Python memory (tracemalloc);
- archives: a .tar.gz whose GNU long-name / pax header declares 1.5 GB, a zip whose central
  directory lists 60 000 entries: upload size, time, peak memory, against plain tarfile/zipfile;
- Ctrl-C: seconds from SIGINT to exit of `vaegrade grade` on a submission whose every concept loops.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import signal
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from grader.course import manifest  # noqa: E402
from grader.grading import intake as archives  # noqa: E402
from grader.sandbox import protocol  # noqa: E402


def measure(fn):
    tracemalloc.start()
    started = time.perf_counter()
    outcome = "accepted"
    try:
        fn()
    except Exception as exc:  # the refusal is the expected outcome
        outcome = f"refused ({type(exc).__name__})"
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, seconds, peak


class Wire:
    def __init__(self, body: bytes):
        self.data = io.BytesIO(protocol.HEADER.pack(len(body)) + body)

    def settimeout(self, _):
        pass

    def recv(self, n):
        return self.data.read(n)


def replies() -> None:
    node = ("float", 1.0)
    for _ in range(14):
        node = ("list", [node] * 40)
    big = ("nd", "<f8", (1 << 20,), bytes(8 << 20))
    for name, value in (("shared-reference DAG, 40**14 paths", node),
                        ("one 8 MB array referenced 3000 times", ("list", [big] * 3000))):
        body = pickle.dumps((("ok", value, {}), "", 0), protocol=5)
        outcome, seconds, peak = measure(lambda: protocol.recv(Wire(body), max_bytes=protocol.MAX_REPLY))
        print(f"reply  {name:42s} {len(body) / 1024:9.1f} KB  {outcome:28s} {seconds * 1000:8.2f} ms "
              f"peak {peak / 2**20:7.1f} MB")


def header(kind: bytes, size: int) -> bytes:
    info = tarfile.TarInfo("././@LongLink")
    info.size = size
    h = bytearray(info.tobuf(format=tarfile.GNU_FORMAT)[:512])
    h[156:157] = kind
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\x00 " % sum(h)
    return bytes(h)


def uploads(tmp: Path) -> None:
    zeros = gzip.compress(bytes(1 << 20), 9)
    cases = []
    for kind, label in ((tarfile.GNUTYPE_LONGNAME, "GNU long name"), (tarfile.XHDTYPE, "pax header")):
        path = tmp / f"bomb-{kind.decode()}.tar.gz"
        path.write_bytes(gzip.compress(header(kind, 1500 << 20)) + zeros * 1500)
        cases.append((f"tar, {label} declaring 1.5 GB", path, "tar",
                      lambda p=path: tarfile.open(p, "r:*")))
    entry = struct.pack("<4s4B4HL2L5H2L", b"PK\x01\x02", 20, 3, 20, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0) + b"n"
    path = tmp / "cd.zip"
    path.write_bytes(entry * 60_000 + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF,
                                                   len(entry) * 60_000, 0, 0))
    cases.append(("zip, central directory of 60 000 entries", path, "zip", lambda p=path: zipfile.ZipFile(p)))
    for n, (label, path, kind, plain) in enumerate(cases):
        work = tmp / f"work{n}"
        work.mkdir()
        ours = measure(lambda: archives.prepare(archives.Entry("x", path, kind), work))
        naive = measure(plain)
        print(f"upload {label:42s} {path.stat().st_size / 2**20:6.2f} MB  vaegrade: {ours[0]:22s} "
              f"{ours[1]:6.2f} s peak {ours[2] / 2**20:7.1f} MB | plain library: {naive[1]:6.2f} s "
              f"peak {naive[2] / 2**20:7.1f} MB")


def ctrl_c(tmp: Path) -> None:
    sub = tmp / "loops"
    sub.mkdir()
    for concept in manifest.load():
        (sub / concept.file).write_text("while True:\n    pass\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(sub), "--no-record"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(8)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    print(f"ctrl-c vaegrade grade, every concept looping: stopped {time.monotonic() - sent:.2f} s after SIGINT")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        replies()
        uploads(Path(tmp))
        ctrl_c(Path(tmp))
