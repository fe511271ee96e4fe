"""A throwaway PostgreSQL server for the gradebook tests and bench/bench_gradebook.py.

Started from the machine's own binaries (initdb, pg_ctl: on PATH, or Debian's
/usr/lib/postgresql/<version>/bin) in a temporary folder, listening on a free
loopback port only, as an unprivileged user when run as root (initdb refuses
root). Nothing is downloaded.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

DEBIAN_BIN = "/usr/lib/postgresql/*/bin"
#: what CI must install for these tests (Debian package names), quoted in the skip reason
DEBIAN_PACKAGES = "postgresql (server binaries: initdb, pg_ctl) and the Python extra vae-grader[postgres] (psycopg 3)"


class Unavailable(RuntimeError):
    """No PostgreSQL binaries or no psycopg here: the tests that need a server skip (or fail in CI)."""


def find_binaries() -> Path | None:
    """The folder holding initdb and pg_ctl: PATH first, then Debian's versioned folders (newest first)."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    for folder in sorted(glob.glob(DEBIAN_BIN), key=lambda p: [int(x) if x.isdigit() else x
                                                                for x in Path(p).parent.name.split(".")],
                         reverse=True):
        if os.access(Path(folder) / "initdb", os.X_OK) and os.access(Path(folder) / "pg_ctl", os.X_OK):
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> str | None:
    """None when not root; else an unprivileged account to run the server as (created when missing)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "vaegrade-pg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "vaegrade-pg"],
                   check=True, capture_output=True)
    return "vaegrade-pg"


@dataclass
class Server:
    folder: Path
    bin: Path
    port: int
    user: str | None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def create_database(self, prefix: str = "gb") -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def drop_database(self, url: str) -> None:
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin / args[0]), *args[1:]], capture_output=True, text=True,
                              user=self.user, timeout=120, cwd=self.folder)

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


def start(*, durable: bool = False) -> Server:
    """Start a server; durable=False turns fsync off (tests), True keeps the defaults (the benchmark)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise Unavailable("psycopg 3 is not installed (pip install 'vae-grader[postgres]')") from None
    binaries = find_binaries()
    if binaries is None:
        raise Unavailable(f"no PostgreSQL server binaries (initdb, pg_ctl) on PATH or in {DEBIAN_BIN}; "
                          f"install {DEBIAN_PACKAGES}")
    user = _server_user()
    folder = Path(tempfile.mkdtemp(prefix="vaegrade-pg-"))
    os.chmod(folder, 0o700)
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    server = Server(folder, binaries, _free_port(), user)
    init = server._run("initdb", "-D", str(folder / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                       "--locale=C.UTF-8", "--no-sync")
    if init.returncode != 0:
        init = server._run("initdb", "-D", str(folder / "data"), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                           "--no-locale", "--no-sync")
    if init.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed: {init.stderr.strip() or init.stdout.strip()}")
    options = f"-p {server.port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=50"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    started = server._run("pg_ctl", "-D", str(folder / "data"), "-o", options, "-l", str(folder / "server.log"),
                          "-w", "-t", "60", "start")
    if started.returncode != 0:
        log = (folder / "server.log").read_text(errors="replace")[-2000:] if (folder / "server.log").exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"pg_ctl start failed: {started.stderr.strip()}\n{log}")
    return server
