"""Correlated events: the vocabulary, the event bus, the SQLite index and run timelines.

Every job writes the same events (see DESIGN section 3): the bus numbers them per run, appends
them to the run's ``events.jsonl`` (the source of truth) and indexes them in SQLite, from which
queries and timelines are answered. Each event type has a payload model named for the event
(:class:`WorkerProgress` for ``worker.task.progress``); emitting the model is type-checked.
"""

from __future__ import annotations

from orchestrator.events._bus import EventBus, LineSubscriber, Subscriber
from orchestrator.events._model import EVENT_FIELDS, Event
from orchestrator.events._payload_check import check_payload
from orchestrator.events._reindex import ReindexReport, SkippedRun, reindex
from orchestrator.events._store import EventStore, IndexBatch, RunRow
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
    AgentAction,
    ApiCall,
    CapabilityBlocked,
    CapabilityCompleted,
    CapabilityFailed,
    ChaosInjection,
    CorrelatedId,
    EventPayload,
    LlmCallCompleted,
    LlmCallFailed,
    LlmCallStarted,
    RunCompleted,
    RunFailed,
    RunProgress,
    RunStarted,
    StateTransition,
    SystemEvent,
    TokenUsage,
    ToolCall,
    ToolResult,
    TrajectoryError,
    UserAction,
    WorkerCall,
    WorkerCompleted,
    WorkerFailed,
    WorkerFinding,
    WorkerLearning,
    WorkerProgress,
    WorkerResult,
    WorkerStarted,
    register_event_type,
)

__all__ = [
    "CATEGORIES",
    "EVENT_FIELDS",
    "EVENT_SCHEMAS",
    "TERMINAL_EVENT_TYPES",
    "AgentAction",
    "ApiCall",
    "CapabilityBlocked",
    "CapabilityCompleted",
    "CapabilityFailed",
    "ChaosInjection",
    "CorrelatedId",
    "Event",
    "EventBus",
    "EventPayload",
    "EventStore",
    "IndexBatch",
    "LineSubscriber",
    "LlmCallCompleted",
    "LlmCallFailed",
    "LlmCallStarted",
    "ReindexReport",
    "RunCompleted",
    "RunFailed",
    "RunProgress",
    "RunRow",
    "RunStarted",
    "SkippedRun",
    "StateTransition",
    "Subscriber",
    "SystemEvent",
    "Timeline",
    "TimelineEntry",
    "TimelineSummary",
    "TokenUsage",
    "ToolCall",
    "ToolResult",
    "TrajectoryError",
    "UserAction",
    "WorkerCall",
    "WorkerCompleted",
    "WorkerFailed",
    "WorkerFinding",
    "WorkerLearning",
    "WorkerProgress",
    "WorkerResult",
    "WorkerStarted",
    "build_timeline",
    "categorize",
    "check_payload",
    "register_event_type",
    "reindex",
]
