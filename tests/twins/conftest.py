"""Fixtures of the twin tests: servers that always stop, and a check that no server thread leaks."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from orchestrator.twins import RunningTwins, serve_twins
from tests.twins.helpers import ServeFn


def _twin_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name.startswith("orchestrate-twins")}


@pytest.fixture(autouse=True)
def _no_leaked_twin_threads() -> Iterator[None]:
    """A test stops every server it started (module-wide servers started before it may remain)."""
    before = _twin_threads()
    yield
    leaked = sorted(thread.name for thread in _twin_threads() - before)
    assert not leaked, f"twin server threads still running: {leaked}"


@pytest.fixture
def serve() -> Iterator[ServeFn]:
    """Start twins with :func:`serve_twins`; every server started is stopped when the test ends."""
    with contextlib.ExitStack() as stack:

        def start(names: list[str], **kwargs: Any) -> RunningTwins:
            return stack.enter_context(serve_twins(names, **kwargs))

        yield start
