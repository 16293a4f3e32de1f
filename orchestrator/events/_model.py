"""The event record: what every job writes to ``events.jsonl`` and the store indexes.

An event is one JSON object per line. Its top-level fields are fixed (``seq``, ``event_id``,
``timestamp``, ``event_type``, ``actor``, the correlation ids and ``payload``); the payload's
shape depends on ``event_type`` (see the vocabulary).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from orchestrator.correlation import CORRELATION_KEYS
from orchestrator.events._encoding import dumps

__all__ = ["EVENT_FIELDS", "Event"]

EVENT_FIELDS = ("seq", "event_id", "timestamp", "event_type", "actor", *CORRELATION_KEYS, "payload")
"""Top-level fields of an event, in the order they are written."""


class Event(BaseModel):
    """One correlated event, as stored. ``seq`` is gap-free and increasing within its run."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    event_id: str
    timestamp: str
    event_type: str
    actor: str
    run_id: str
    task_id: str | None = None
    call_id: str | None = None
    trace_id: str | None = None
    tool_trace_id: str | None = None
    payload: dict[str, Any]

    def to_line(self) -> str:
        """The event as one JSONL line (no trailing newline), fields in their fixed order."""
        return dumps(self.model_dump()).decode()
