"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest

from grader.sandbox.session import Zygote


@pytest.fixture(scope="session")
def zygote():
    """One warm sandbox parent for the suite: starting one costs about two seconds."""
    with Zygote() as z:
        yield z


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for the session (tests/postgres_server.py).

    Without the binaries or psycopg the tests that need it skip, saying what to
    install; when $CI is set they fail instead, so CI never passes by skipping.
    """
    import os

    import postgres_server as pg

    try:
        server = pg.start()
    except pg.Unavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(f"no PostgreSQL here: {exc}")
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def gradebook_target(request, tmp_path):
    """Where a fresh gradebook goes, on each engine: a SQLite file, or a new database on the session's server."""
    if request.param == "sqlite":
        yield tmp_path / "out" / "gradebook.sqlite"
        return
    server = request.getfixturevalue("postgres_server")
    url = server.create_database()
    yield url
    server.drop_database(url)
