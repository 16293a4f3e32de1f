"""A run's timeline: its events grouped into the four categories the trace viewer shows.

- ``conductor_decisions``: what the conductor decided (run lifecycle, delegations, capability
  outcomes).
- ``agent_objectives``: what each worker set out to do (``worker.task.started``).
- ``agent_conduct``: how workers went about it (progress, tool calls, model calls, trajectory
  steps).
- ``agent_results``: what workers produced (completed, failed, findings, learnings, results
  reported back to the conductor).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from orchestrator.events._model import Event
from orchestrator.events._vocabulary import TERMINAL_EVENT_TYPES

__all__ = ["CATEGORIES", "Timeline", "TimelineEntry", "TimelineSummary", "build_timeline", "categorize"]

Category = Literal["conductor_decisions", "agent_objectives", "agent_conduct", "agent_results"]

CATEGORIES: tuple[Category, ...] = (
    "conductor_decisions",
    "agent_objectives",
    "agent_conduct",
    "agent_results",
)

_BY_PREFIX: tuple[tuple[str, Category], ...] = (
    ("conductor.worker.result", "agent_results"),
    ("conductor.", "conductor_decisions"),
    ("worker.task.started", "agent_objectives"),
    ("worker.task.progress", "agent_conduct"),
    ("worker.task.", "agent_results"),
    ("worker.tool.", "agent_conduct"),
    ("llm.", "agent_conduct"),
    ("trajectory.", "agent_conduct"),
)


def categorize(event_type: str) -> Category:
    """The timeline category of an event type (unknown types count as conduct)."""
    for prefix, category in _BY_PREFIX:
        if event_type.startswith(prefix):
            return category
    return "agent_conduct"


class TimelineEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    category: Category
    event: Event


class TimelineSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: str
    event_count: int
    counts: dict[str, int]
    worker_count: int
    worker_failures: int
    started_at: str | None
    ended_at: str | None
    duration_ms: int | None
    error_code: str | None = None
    error_message: str | None = None


class Timeline(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str
    summary: TimelineSummary
    events: list[TimelineEntry]


def _duration_ms(start: str, end: str) -> int:
    parse = datetime.fromisoformat
    return round((parse(end) - parse(start)).total_seconds() * 1000)


def build_timeline(run_id: str, events: list[Event]) -> Timeline:
    """Categorise a run's events (in seq order) and summarise status and counts."""
    ordered = sorted(events, key=lambda e: e.seq)
    counts = dict.fromkeys(CATEGORIES, 0)
    entries: list[TimelineEntry] = []
    status = "running" if ordered else "unknown"
    error_code: str | None = None
    error_message: str | None = None
    workers: set[str] = set()
    failed_tasks: set[str] = set()
    for event in ordered:
        category = categorize(event.event_type)
        counts[category] += 1
        entries.append(TimelineEntry(category=category, event=event))
        if event.event_type == "worker.task.started":
            workers.add(str(event.payload.get("worker_id", event.actor)))
        elif event.event_type == "worker.task.failed":
            failed_tasks.add(str(event.payload.get("task_id", event.task_id)))
        elif event.event_type in TERMINAL_EVENT_TYPES:
            status = "completed" if event.event_type == "conductor.task.completed" else "failed"
            error_code = event.payload.get("error_code")
            error_message = event.payload.get("error_message")
    started = ordered[0].timestamp if ordered else None
    ended = ordered[-1].timestamp if ordered else None
    summary = TimelineSummary(
        status=status,
        event_count=len(ordered),
        counts=counts,
        worker_count=len(workers),
        worker_failures=len(failed_tasks),
        started_at=started,
        ended_at=ended,
        duration_ms=_duration_ms(started, ended) if started and ended else None,
        error_code=error_code,
        error_message=error_message,
    )
    return Timeline(run_id=run_id, summary=summary, events=entries)
