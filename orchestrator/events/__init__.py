"""Correlated events: the vocabulary, the event bus, the SQLite index and run timelines.

Every job writes the same events (see DESIGN section 3): the bus numbers them per run, appends
them to the run's ``events.jsonl`` (the source of truth) and indexes them in SQLite, from which
queries and timelines are answered.
"""

from __future__ import annotations

from orchestrator.events._bus import EventBus, Subscriber
from orchestrator.events._model import EVENT_FIELDS, Event
from orchestrator.events._store import EventStore, ReindexReport, RunRow, reindex
from orchestrator.events._timeline import (
    CATEGORIES,
    Timeline,
    TimelineEntry,
    TimelineSummary,
    build_timeline,
    categorize,
)
from orchestrator.events._vocabulary import (
    EVENT_SCHEMAS,
    TERMINAL_EVENT_TYPES,
    check_payload,
    register_event_type,
)

__all__ = [
    "CATEGORIES",
    "EVENT_FIELDS",
    "EVENT_SCHEMAS",
    "TERMINAL_EVENT_TYPES",
    "Event",
    "EventBus",
    "EventStore",
    "ReindexReport",
    "RunRow",
    "Subscriber",
    "Timeline",
    "TimelineEntry",
    "TimelineSummary",
    "build_timeline",
    "categorize",
    "check_payload",
    "register_event_type",
    "reindex",
]
