"""Fixtures shared by the whole suite."""

from __future__ import annotations

import pytest

from grader.sandbox.session import Zygote


@pytest.fixture(scope="session")
def zygote():
    """One warm sandbox parent for the suite: starting one costs about two seconds."""
    with Zygote() as z:
        yield z
