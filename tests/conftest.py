"""Shared fixtures: every test leaves no actor running and gets its own project and event bus."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pykka
import pytest

from orchestrator.events import EventBus


@pytest.fixture(autouse=True)
def _stop_actors() -> Iterator[None]:
    """Stop every actor a test left running, so no test leaks threads into the next."""
    yield
    pykka.ActorRegistry.stop_all(block=True, timeout=10)


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[EventBus]:
    """An event bus writing to a fresh SQLite database under the test's tmp dir."""
    event_bus = EventBus(tmp_path / ".orchestrator" / "events.db")
    yield event_bus
    event_bus.stop()
