"""The two database engines a gradebook runs on: SQLite (embedded, the default) and PostgreSQL.

An engine knows how to connect, run one statement, group statements into a
transaction, and the few things the two dialects spell differently (the
auto-numbered key, placeholders, listing tables). Every statement the
gradebook runs is written once, in grader/store/gradebook.py and
grader/store/schema.py, with `?` placeholders.
"""

from __future__ import annotations

import re
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

from grader import safetext


class GradebookError(RuntimeError):
    """The gradebook cannot be opened, read or written; the message says which and why."""


class GradebookMissing(GradebookError):
    """No gradebook where one was expected (and the caller asked not to create one)."""


def _clean_text(value: str) -> str:
    """Text both engines store the same way: encodable (safetext.text), and NUL as U+FFFD (PostgreSQL holds none)."""
    return safetext.text(value).replace("\x00", safetext.REPLACEMENT)


def _params(params: Sequence) -> tuple:
    return tuple(_clean_text(p) if isinstance(p, str) else p for p in params)


class Engine:
    """What the gradebook needs from a database connection."""

    name = ""
    #: the column type of an auto-numbered primary key
    serial_key = ""

    def describe(self) -> str:
        raise NotImplementedError

    def execute(self, sql: str, params: Sequence = ()) -> list[tuple]:
        raise NotImplementedError

    def executemany(self, sql: str, rows: list[Sequence]) -> None:
        raise NotImplementedError

    def transaction(self, *, exclusive: bool = False):
        """A write transaction (context manager); exclusive: one at a time across connections (migrations)."""
        raise NotImplementedError

    def snapshot(self):
        """A read-only view that several queries see alike (context manager)."""
        raise NotImplementedError

    def lock(self, key: str) -> None:
        """Inside a write transaction: wait until no other transaction holds `key`, then hold it to the end."""
        raise NotImplementedError

    def tables(self) -> set[str]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SQLiteEngine(Engine):
    """One SQLite file in WAL mode: readers never wait for the writer; writers take turns."""

    name = "sqlite"
    serial_key = "INTEGER PRIMARY KEY"

    def __init__(self, path: str | Path, *, create: bool = True, timeout: float = 30.0):
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise GradebookMissing(f"no gradebook at {self.path}")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise GradebookError(f"cannot open the gradebook {self.path}: {exc}") from None
        try:
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self.conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as exc:
            self.conn.close()
            raise GradebookError(f"{self.path} is not a vae-grader gradebook ({exc})") from None

    def describe(self) -> str:
        return str(self.path)

    def lock(self, key: str) -> None:
        pass   # BEGIN IMMEDIATE: a write transaction already excludes every other writer

    def execute(self, sql, params=()):
        return self.conn.execute(sql, _params(params)).fetchall()

    def executemany(self, sql, rows):
        self.conn.executemany(sql, [_params(r) for r in rows])

    @contextmanager
    def transaction(self, *, exclusive: bool = False) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so a read-then-write never deadlocks with another writer
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self.conn.in_transaction:   # some errors (disk full, I/O) have rolled it back already
                self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        if self.conn.in_transaction:
            yield
            return
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")

    def tables(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def user_version(self) -> int:
        """The schema version the first SQLite gradebooks kept in the file header."""
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        self.conn.close()


_PLACEHOLDER = re.compile(r"\?")
_MIGRATION_LOCK = 0x76616567   # an arbitrary advisory lock key: one migration at a time on a server


class PostgresEngine(Engine):
    """One connection to a PostgreSQL server (psycopg 3), autocommit between explicit transactions."""

    name = "postgresql"
    serial_key = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"

    def __init__(self, url: str, *, connect_timeout: int = 10):
        self.url = url
        try:
            import psycopg
        except ImportError:
            raise GradebookError("a postgresql:// gradebook needs psycopg 3: "
                                 "pip install 'vae-grader[postgres]' (or 'psycopg[binary]')") from None
        self.psycopg = psycopg
        try:
            self.conn = psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout)
        except psycopg.Error as exc:
            raise GradebookError(f"cannot connect to the gradebook {self.describe()}: "
                                 f"{str(exc).strip() or type(exc).__name__}") from None

    def describe(self) -> str:
        return redact(self.url)

    @staticmethod
    def _sql(sql: str) -> str:
        return _PLACEHOLDER.sub("%s", sql)

    def execute(self, sql, params=()):
        cur = self.conn.execute(self._sql(sql), _params(params))
        return cur.fetchall() if cur.description is not None else []

    def executemany(self, sql, rows):
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), [_params(r) for r in rows])

    @contextmanager
    def transaction(self, *, exclusive: bool = False) -> Iterator[None]:
        with self.conn.transaction():
            if exclusive:
                self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            yield

    def lock(self, key: str) -> None:
        self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        if self.conn.info.transaction_status != self.psycopg.pq.TransactionStatus.IDLE:
            yield
            return
        with self.conn.transaction():
            self.conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield

    def tables(self) -> set[str]:
        return {r[0] for r in self.conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")}

    def close(self) -> None:
        self.conn.close()


def redact(url: str) -> str:
    """A database URL without its password (for messages and reports)."""
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


def is_url(target) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def connect(target, *, create: bool = True) -> Engine:
    """An engine for a gradebook: a postgresql:// URL, else a SQLite file path (or sqlite:///path)."""
    if is_url(target):
        return PostgresEngine(target)
    if isinstance(target, str) and target.startswith("sqlite://"):
        target = target.removeprefix("sqlite://")
    return SQLiteEngine(target, create=create)


#: the exceptions an engine's driver raises, translated into GradebookError by the gradebook
def driver_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [sqlite3.Error]
    try:
        import psycopg

        errors.append(psycopg.Error)
    except ImportError:
        pass
    return tuple(errors)
