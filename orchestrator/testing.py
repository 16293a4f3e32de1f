"""Helpers for testing workers, conductors and plugins without a bus or SQLite.

:func:`capture_events` is to events what structlog's ``capture_logs`` is to logs: a context
manager that yields an in-memory :class:`~orchestrator.actors.EventEmitter`. Pass it wherever
an event bus goes (``spawn(MyWorker, events=captured)``); every event is checked against the
vocabulary exactly as the bus checks it, gets the bound correlation ids and a per-run ``seq``, and
is kept as an :class:`~orchestrator.events.Event` to assert on. It also takes the bus's
``open_run``/``close_run``, so a whole conductor runs on it with
:func:`~orchestrator.actors.run_conductor`::

    with capture_events() as captured, correlation_scope(run_id="r1"):
        worker = spawn(MyWorker, events=captured)
        worker.ask(request, timeout=10)
        worker.stop()
    assert captured.types() == ["worker.task.started", "worker.task.completed"]
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from orchestrator.correlation import CORRELATION_KEYS, current_correlation
from orchestrator.events import Event, check_payload

__all__ = ["CapturedEvents", "capture_events"]


class CapturedEvents:
    """An event emitter that keeps every event in memory, in emission order (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seq: dict[str, int] = {}
        self.events: list[Event] = []

    def emit(
        self,
        event_type: str | BaseModel,
        payload: Mapping[str, Any] | None = None,
        *,
        actor: str,
        correlation: Mapping[str, str | None] | None = None,
    ) -> None:
        """Check and keep one event, as the event bus would write it."""
        if isinstance(event_type, BaseModel):
            payload = event_type.model_dump(mode="json")
            event_type = str(getattr(type(event_type), "event_type", ""))
        ids: dict[str, Any] = dict(current_correlation())
        if correlation:
            ids.update({k: v for k, v in correlation.items() if k in CORRELATION_KEYS and v is not None})
        checked = check_payload(event_type, payload or {}, ids)
        run_id = str(ids.get("run_id") or "")
        with self._lock:
            seq = self._seq.get(run_id, 0) + 1
            self._seq[run_id] = seq
            self.events.append(
                Event(
                    seq=seq,
                    event_id=uuid.uuid4().hex,
                    timestamp=datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
                    event_type=event_type,
                    actor=actor,
                    run_id=run_id,
                    task_id=ids.get("task_id"),
                    call_id=ids.get("call_id"),
                    trace_id=ids.get("trace_id"),
                    tool_trace_id=ids.get("tool_trace_id"),
                    payload=dict(checked),
                )
            )

    def open_run(self, run_id: str, events_path: object) -> None:
        """Accept a run (what :func:`~orchestrator.actors.run_conductor` asks of a bus); nothing to open."""

    def continue_run(self, run_id: str, events_path: object) -> None:
        """Accept more events of a run; nothing to open."""

    def close_run(self, run_id: str) -> None:
        """End a run; nothing to close."""

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[Event]:
        return iter(list(self.events))

    def types(self, prefix: str = "") -> list[str]:
        """The event types in order, those starting with ``prefix`` only."""
        return [e.event_type for e in self.events if e.event_type.startswith(prefix)]

    def of_type(self, prefix: str) -> list[Event]:
        """The events whose type starts with ``prefix``, in order."""
        return [e for e in self.events if e.event_type.startswith(prefix)]

    def payloads(self, event_type: str) -> list[dict[str, Any]]:
        """The payloads of the events of exactly ``event_type``."""
        return [e.payload for e in self.events if e.event_type == event_type]

    def clear(self) -> None:
        with self._lock:
            self.events.clear()
            self._seq.clear()


@contextmanager
def capture_events() -> Iterator[CapturedEvents]:
    """Yield a :class:`CapturedEvents` emitter; its events stay readable after the block."""
    yield CapturedEvents()
