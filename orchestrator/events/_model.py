"""The event record: what every job writes to ``events.jsonl`` and the store indexes.

An event is one JSON object per line. Its top-level fields are fixed (``seq``, ``event_id``,
``timestamp``, ``event_type``, ``actor``, the correlation ids and ``payload``); the payload's
shape depends on ``event_type`` (see the vocabulary).
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["EVENT_FIELDS", "Event"]

EVENT_FIELDS = (
    "seq",
    "event_id",
    "timestamp",
    "event_type",
    "actor",
    "run_id",
    "task_id",
    "call_id",
    "trace_id",
    "tool_trace_id",
    "payload",
)
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
        return json.dumps(self.model_dump(), separators=(",", ":"), ensure_ascii=False)
