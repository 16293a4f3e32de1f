"""What the trace viewer shows of a run, built from its events by pure functions.

Every view the page draws (the run summary, delegation bands, worker lifecycles, model and tool
call cards, the agent graph, the trajectory grid) is computed here from a run's events in ``seq``
order, so the API, the exported file and the tests all see the same numbers. The correlation model
is the event vocabulary's: ``call_id`` joins ``conductor.worker.call`` to its
``conductor.capability.completed|failed|blocked`` and to the ``worker.task.started`` of the task it
started; ``task_id`` groups a worker's lifecycle; ``trace_id`` pairs ``llm.call.*``;
``tool_trace_id`` pairs ``worker.tool.call|result``. A tool call outside any worker task (no
``task_id``) is the conductor's own and gets a ``conductor-tool:`` row of its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from orchestrator.events import TERMINAL_EVENT_TYPES, Event, RunRow
from orchestrator.runs import RunInfo

__all__ = [
    "DEFAULT_BUCKET",
    "MAX_DETAIL_EVENTS",
    "RUN_KINDS",
    "RUN_STATUSES",
    "SLOW_MS",
    "SPARKLINE_BUCKETS",
    "RunFacts",
    "bucket_edges",
    "build_graph",
    "build_grid",
    "delegations",
    "detail_document",
    "facts_from_events",
    "lifecycles",
    "llm_calls",
    "run_kind",
    "run_status",
    "run_summary",
    "sparkline",
    "tool_calls",
    "worst",
]

RUN_KINDS = ("ui", "scenario", "pack", "pack_loop", "custom")
RUN_STATUSES = ("completed", "failed", "in_progress", "interrupted")
SLOW_MS = 5000.0
"""A call slower than this is marked ``slow`` (the page lets people move the threshold)."""
SPARKLINE_BUCKETS = 20
_MICROSECOND = timedelta(microseconds=1)
DEFAULT_BUCKET = 80
"""Most columns of the trajectory grid; longer runs put several steps in a column."""
MAX_DETAIL_EVENTS = 5000
OBJECTIVE_SHORT = 200

# Worst first: a bucket of steps shows the worst status among them.
_SEVERITY = {"failed": 3, "blocked": 2, "inflight": 1, "completed": 0}
_ROW_GROUPS = ("llm", "conductor-tool", "tool", "worker", "delegation")
_CAPABILITY_OUTCOMES = {
    "conductor.capability.completed": "completed",
    "conductor.capability.failed": "failed",
    "conductor.capability.blocked": "blocked",
}
_LIFECYCLE_TEXT = {
    "started": "objective",
    "progress": "message",
    "completed": "summary",
    "failed": "error",
    "finding": "claim",
    "learning": "insight",
}


def _time(timestamp: str) -> datetime | None:
    try:
        return datetime.fromisoformat(timestamp)
    except ValueError:
        return None


def _ms_between(start: str, end: str) -> float | None:
    first, last = _time(start), _time(end)
    if first is None or last is None:
        return None
    return round((last - first).total_seconds() * 1000, 3)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _int(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _correlated(event: Event, key: str) -> str | None:
    """A correlation id from the payload, else from the event itself."""
    value = event.payload.get(key)
    if isinstance(value, str) and value:
        return value
    found = getattr(event, key, None)
    return found if isinstance(found, str) and found else None


def worst(statuses: Iterable[str]) -> str:
    """The worst of ``statuses`` (failed > blocked > inflight > completed); completed when empty."""
    return max(statuses, key=lambda status: _SEVERITY.get(status, 0), default="completed")


# --- run summaries -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RunFacts:
    """What a run summary counts from a run's events (read from the index, or from the events)."""

    worker_calls: int = 0
    capability_failures: int = 0
    worker_count: int = 0
    total_tokens: int = 0
    timestamps: Sequence[str] = ()
    """Every event's timestamp in seq order (the sparkline's input)."""
    buckets: list[int] | None = None
    """The sparkline counted already (the index does it in SQL), instead of from ``timestamps``."""


def facts_from_events(events: Sequence[Event]) -> RunFacts:
    """The summary counts of a run whose events are at hand."""
    workers: set[str] = set()
    calls = failures = tokens = 0
    for event in events:
        kind = event.event_type
        if kind == "conductor.worker.call":
            calls += 1
        elif kind == "conductor.capability.failed":
            failures += 1
        elif kind == "worker.task.started":
            workers.add(_text(event.payload.get("worker_id")) or event.actor)
        elif kind == "llm.call.completed":
            tokens += _int((event.payload.get("usage") or {}).get("total_tokens"))
    return RunFacts(calls, failures, len(workers), tokens, [event.timestamp for event in events])


def run_kind(info: RunInfo | None) -> str:
    """The job kind: the run.json ``kind`` (a pack run whose ``job`` is ``pack loop`` is ``pack_loop``);
    ``custom`` for a run with no run.json (written straight to a bus)."""
    if info is None or not info.manifest:
        return "custom"
    if info.kind == "pack":
        return "pack_loop" if info.manifest.get("job") == "pack loop" else "pack"
    return info.kind if info.kind in ("ui", "scenario") else "custom"


def run_status(row_status: str) -> str:
    """The viewer's status for the index's: completed, failed, interrupted, else in_progress."""
    return row_status if row_status in ("completed", "failed", "interrupted") else "in_progress"


def sparkline(timestamps: Sequence[str], buckets: int = SPARKLINE_BUCKETS) -> list[int]:
    """Events per time bucket: ``buckets`` equal slices of the span from the first event to the last.

    In whole microseconds, so the index's SQL count (:class:`~orchestrator.viewer.IndexReader`)
    and this one agree exactly, at bucket edges too.
    """
    counts = [0] * buckets
    moments = [moment for moment in map(_time, timestamps) if moment is not None]
    if not moments:
        return counts
    start, end = min(moments), max(moments)
    span = (end - start) // _MICROSECOND
    for moment in moments:
        offset = (moment - start) // _MICROSECOND
        index = min(buckets - 1, offset * buckets // span) if span > 0 else 0
        counts[index] += 1
    return counts


def bucket_edges(first: str, last: str, buckets: int = SPARKLINE_BUCKETS) -> list[str] | None:
    """The timestamps where the sparkline's buckets 1..n-1 begin, in the bus's own form.

    An event at offset ``o`` (µs) of a span ``s`` is in bucket ``o * n // s``, so bucket ``k``
    begins at ``ceil(k * s / n)``. ``[]`` when the span is empty (every event in bucket 0),
    ``None`` when the timestamps cannot be read.
    """
    start, end = _time(first), _time(last)
    if start is None or end is None:
        return None
    span = (end - start) // _MICROSECOND
    if span <= 0:
        return []
    edges = [start + _MICROSECOND * -(-k * span // buckets) for k in range(1, buckets)]
    return [edge.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for edge in edges]


def run_summary(row: RunRow, info: RunInfo | None, facts: RunFacts) -> dict[str, Any]:
    """One run as the run list shows it (the contract's RunSummary)."""
    duration = _ms_between(row.started_at, row.updated_at) if row.started_at and row.updated_at else None
    return {
        "run_id": row.run_id,
        "kind": run_kind(info),
        "target": info.target if info is not None else None,
        "status": run_status(row.status),
        "started_at": row.started_at,
        "duration_ms": round(duration) if duration is not None else None,
        "event_count": row.event_count,
        "worker_calls": facts.worker_calls,
        "capability_failures": facts.capability_failures,
        "worker_count": facts.worker_count,
        "total_tokens": facts.total_tokens,
        "sparkline": facts.buckets if facts.buckets is not None else sparkline(facts.timestamps),
    }


# --- delegations, lifecycles, calls ------------------------------------------------------------


@dataclass
class _Delegation:
    call: Event
    call_id: str
    end: Event | None = None
    outcome: str = "inflight"
    task_id: str | None = None
    worker_id: str | None = None

    @property
    def worker_type(self) -> str:
        return _text(self.call.payload.get("worker_type")) or "worker"

    def to_json(self) -> dict[str, Any]:
        objective = _text(self.call.payload.get("worker_objective"))
        return {
            "call_id": self.call_id,
            "worker_type": self.worker_type,
            "objective": objective,
            "objective_short": objective[:OBJECTIVE_SHORT],
            "seq": self.call.seq,
            "end_seq": self.end.seq if self.end is not None else None,
            "outcome": self.outcome,
            "duration_ms": _ms_between(self.call.timestamp, self.end.timestamp) if self.end else None,
            "task_id": self.task_id,
            "worker_id": self.worker_id,
        }


def _ended(events: Sequence[Event]) -> bool:
    """Whether the run has its terminal event: after it, nothing is still in flight."""
    return any(event.event_type in TERMINAL_EVENT_TYPES for event in events)


def _settled(status: str, ended: bool) -> str:
    """A call left without an outcome when its run ended (stopped, crashed) counts as failed."""
    return "failed" if ended and status == "inflight" else status


def _delegations(events: Sequence[Event]) -> list[_Delegation]:
    by_call: dict[str, _Delegation] = {}
    order: list[_Delegation] = []
    for event in events:
        call_id = _correlated(event, "call_id")
        if event.event_type == "conductor.worker.call":
            item = _Delegation(event, call_id or f"seq-{event.seq}")
            order.append(item)
            if call_id is not None:
                by_call[call_id] = item
        elif event.event_type in _CAPABILITY_OUTCOMES and call_id in by_call:
            # A retried call ends with its last capability event.
            item = by_call[call_id]
            item.end, item.outcome = event, _CAPABILITY_OUTCOMES[event.event_type]
        elif event.event_type == "worker.task.started" and call_id in by_call:
            item = by_call[call_id]
            if item.task_id is None:
                item.task_id = _correlated(event, "task_id")
                item.worker_id = _text(event.payload.get("worker_id")) or None
    ended = _ended(events)
    for item in order:
        item.outcome = _settled(item.outcome, ended)
    return order


def delegations(events: Sequence[Event]) -> list[dict[str, Any]]:
    """One entry per ``conductor.worker.call``, matched by ``call_id`` to its outcome and task."""
    return [item.to_json() for item in _delegations(events)]


@dataclass
class _Task:
    task_id: str
    events: list[Event] = field(default_factory=list)
    worker_id: str | None = None
    call_id: str | None = None
    run_ended: bool = False

    @property
    def status(self) -> str:
        kinds = {event.event_type for event in self.events}
        if "worker.task.failed" in kinds:
            return "failed"
        return "completed" if "worker.task.completed" in kinds else _settled("inflight", self.run_ended)

    @property
    def end(self) -> Event | None:
        for event in self.events:
            if event.event_type in ("worker.task.completed", "worker.task.failed"):
                return event
        return None


def _tasks(events: Sequence[Event]) -> list[_Task]:
    tasks: dict[str, _Task] = {}
    ended = _ended(events)
    for event in events:
        if not event.event_type.startswith("worker.task."):
            continue
        task_id = _correlated(event, "task_id") or f"actor:{event.actor}"
        task = tasks.setdefault(task_id, _Task(task_id, run_ended=ended))
        task.events.append(event)
        task.worker_id = task.worker_id or _text(event.payload.get("worker_id")) or None
        if event.event_type == "worker.task.started":
            task.call_id = task.call_id or _correlated(event, "call_id")
    return list(tasks.values())


def lifecycles(events: Sequence[Event]) -> list[dict[str, Any]]:
    """One strip per worker task (``worker.task.*`` grouped by ``task_id``), in order of appearance."""
    types = {item.call_id: item.worker_type for item in _delegations(events)}
    strips: list[dict[str, Any]] = []
    for task in _tasks(events):
        chips = []
        for event in task.events:
            kind = event.event_type.rsplit(".", 1)[-1]
            text_field = _LIFECYCLE_TEXT.get(kind)
            chips.append(
                {
                    "kind": kind,
                    "seq": event.seq,
                    "text": _text(event.payload.get(text_field)) if text_field else "",
                    "detail": dict(event.payload),
                }
            )
        strips.append(
            {
                "task_id": task.task_id,
                "worker_id": task.worker_id,
                "worker_type": types.get(task.call_id) if task.call_id else None,
                "call_id": task.call_id,
                "chips": chips,
            }
        )
    return strips


@dataclass
class _Pair:
    """A call bracketed by a start event and a result event (a model call or a tool call)."""

    start: Event | None = None
    end: Event | None = None

    @property
    def first(self) -> Event:
        event = self.start or self.end
        assert event is not None  # a pair is made from one of them
        return event


def _pairs(events: Sequence[Event], prefixes: tuple[str, ...], key: str) -> list[_Pair]:
    pairs: dict[str, _Pair] = {}
    order: list[_Pair] = []
    for event in events:
        if not event.event_type.startswith(prefixes):
            continue
        ident = _correlated(event, key) or f"seq-{event.seq}"
        is_start = event.event_type.endswith((".started", ".call"))
        pair = pairs.get(ident)
        if pair is None or (is_start and pair.start is not None) or (not is_start and pair.end is not None):
            pair = _Pair()
            pairs[ident] = pair
            order.append(pair)
        if is_start:
            pair.start = event
        else:
            pair.end = event
    return order


def _duration(pair: _Pair) -> float | None:
    if pair.end is None:
        return None
    measured = _number(pair.end.payload.get("duration_ms"))
    if measured is None and pair.start is not None:
        return _ms_between(pair.start.timestamp, pair.end.timestamp)
    return measured


def _llm_status(pair: _Pair, ended: bool) -> str:
    if pair.end is None:
        return _settled("inflight", ended)
    return "failed" if pair.end.event_type == "llm.call.failed" else "completed"


def llm_calls(events: Sequence[Event], *, slow_ms: float = SLOW_MS) -> list[dict[str, Any]]:
    """One card per model call (``llm.call.*`` paired by ``trace_id``)."""
    cards = []
    ended = _ended(events)
    for pair in _pairs(events, ("llm.call.",), "trace_id"):
        first = pair.first
        payload = {**(pair.start.payload if pair.start else {}), **(pair.end.payload if pair.end else {})}
        found = payload.get("usage")
        usage: dict[str, Any] = found if isinstance(found, dict) else {}
        duration = _duration(pair)
        cards.append(
            {
                "seq": first.seq,
                "actor": first.actor,
                "model": payload.get("model"),
                "provider": payload.get("provider"),
                "status": _llm_status(pair, ended),
                "duration_ms": duration,
                "input_tokens": _int(usage.get("input_tokens")),
                "output_tokens": _int(usage.get("output_tokens")),
                "cached_tokens": _int(usage.get("cached_input_tokens")),
                "slow": duration is not None and duration > slow_ms,
            }
        )
    return cards


def _tool_row(pair: _Pair) -> str:
    first = pair.first
    name = _text(first.payload.get("tool_name")) or "tool"
    conductor = first.event_type.startswith("conductor.tool.") or first.task_id is None
    return f"conductor-tool:{name}" if conductor else f"tool:{name}"


def _tool_status(pair: _Pair, ended: bool) -> str:
    if pair.end is None:
        return _settled("inflight", ended)
    return "completed" if pair.end.payload.get("success") is True else "failed"


def tool_calls(events: Sequence[Event], *, slow_ms: float = SLOW_MS) -> list[dict[str, Any]]:
    """One card per tool call (``worker.tool.call|result`` paired by ``tool_trace_id``)."""
    cards = []
    ended = _ended(events)
    for pair in _pairs(events, ("worker.tool.", "conductor.tool."), "tool_trace_id"):
        duration = _duration(pair)
        row = _tool_row(pair)
        cards.append(
            {
                "seq": pair.first.seq,
                "actor": pair.first.actor,
                "tool": row.split(":", 1)[1],
                "row": row,
                "status": _tool_status(pair, ended),
                "duration_ms": duration,
                "slow": duration is not None and duration > slow_ms,
            }
        )
    return cards


# --- graph -------------------------------------------------------------------------------------


def build_graph(events: Sequence[Event], status: str = "in_progress") -> dict[str, Any]:
    """The agent graph: the conductor, one node per worker type and per worker, and their edges.

    An edge from the conductor to a worker type per delegation, coloured by its outcome; an edge
    from the worker type to each worker that ran one of its tasks, coloured by the task's status.
    """
    conductor = next((e.actor for e in events if e.event_type.startswith("conductor.task.")), "conductor")
    nodes: list[dict[str, Any]] = [
        {"id": "conductor", "kind": "conductor", "label": conductor, "status": status}
    ]
    edges: list[dict[str, Any]] = []
    items = _delegations(events)
    by_type: dict[str, list[str]] = {}
    for item in items:
        by_type.setdefault(item.worker_type, []).append(item.outcome)
        edges.append({"source": "conductor", "target": f"type:{item.worker_type}", "status": item.outcome})
    for worker_type, outcomes in by_type.items():
        nodes.append(
            {
                "id": f"type:{worker_type}",
                "kind": "worker_type",
                "label": worker_type,
                "status": worst(outcomes),
            }
        )
    types = {item.call_id: item.worker_type for item in items}
    workers: dict[str, list[str]] = {}
    for task in _tasks(events):
        worker = task.worker_id or task.task_id
        workers.setdefault(worker, []).append(task.status)
        task_type = types.get(task.call_id) if task.call_id else None
        source = f"type:{task_type}" if task_type else "conductor"
        edges.append({"source": source, "target": f"worker:{worker}", "status": task.status})
    for worker, statuses in workers.items():
        nodes.append({"id": f"worker:{worker}", "kind": "worker", "label": worker, "status": worst(statuses)})
    return {"nodes": nodes, "edges": edges}


# --- grid --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    seq: int
    row: str
    status: str
    duration_ms: float | None
    tokens: int | None
    loop_start: bool = False


def _steps(events: Sequence[Event]) -> list[_Step]:
    steps: list[_Step] = []
    ended = _ended(events)
    for pair in _pairs(events, ("llm.call.",), "trace_id"):
        usage = pair.end.payload.get("usage") if pair.end is not None else None
        tokens = _int(usage.get("total_tokens")) if isinstance(usage, dict) else None
        steps.append(
            _Step(
                pair.first.seq, f"llm:{pair.first.actor}", _llm_status(pair, ended), _duration(pair), tokens
            )
        )
    for pair in _pairs(events, ("worker.tool.", "conductor.tool."), "tool_trace_id"):
        steps.append(_Step(pair.first.seq, _tool_row(pair), _tool_status(pair, ended), _duration(pair), None))
    for task in _tasks(events):
        first, end = task.events[0], task.end
        duration = _ms_between(first.timestamp, end.timestamp) if end is not None else None
        worker = task.worker_id or task.task_id
        steps.append(_Step(first.seq, f"worker:{worker}", task.status, duration, None, loop_start=True))
    for item in _delegations(events):
        duration = _ms_between(item.call.timestamp, item.end.timestamp) if item.end is not None else None
        steps.append(_Step(item.call.seq, f"delegation:{item.worker_type}", item.outcome, duration, None))
    steps.sort(key=lambda step: step.seq)
    return steps


def _row_order(key: str) -> tuple[int, str]:
    group, _, name = key.partition(":")
    return (_ROW_GROUPS.index(group) if group in _ROW_GROUPS else len(_ROW_GROUPS), name)


def build_grid(events: Sequence[Event], bucket: int = DEFAULT_BUCKET) -> dict[str, Any]:
    """The trajectory grid: rows by kind of call, one column per step in global ``seq`` order.

    Past ``bucket`` steps a column holds ``ceil(steps / bucket)`` consecutive steps and each of its
    cells shows the worst status among them (its longest duration, its summed tokens, and the
    ``seq`` of the first step with that status, to jump to).
    """
    if bucket < 1:
        raise ValueError(f"bucket must be at least 1, not {bucket}")
    steps = _steps(events)
    size = max(1, math.ceil(len(steps) / bucket))
    columns: list[dict[str, Any]] = []
    for index in range(math.ceil(len(steps) / size)):
        first, last = index * size, min(len(steps), (index + 1) * size) - 1
        boundary = index > 0 and any(step.loop_start for step in steps[first : last + 1])
        columns.append({"index": index, "step_from": first, "step_to": last, "loop_boundary": boundary})
    cells: dict[tuple[str, int], list[tuple[int, _Step]]] = {}
    for number, step in enumerate(steps):
        cells.setdefault((step.row, number // size), []).append((number, step))
    out_cells = []
    for (row, column), members in cells.items():
        status = worst(step.status for _, step in members)
        chosen = next(step for _, step in members if step.status == status)
        durations = [step.duration_ms for _, step in members if step.duration_ms is not None]
        tokens = [step.tokens for _, step in members if step.tokens is not None]
        out_cells.append(
            {
                "row": row,
                "column": column,
                "status": status,
                "duration_ms": max(durations) if durations else None,
                "tokens": sum(tokens) if tokens else None,
                "seq": chosen.seq,
                "step_from": members[0][0],
                "step_to": members[-1][0],
            }
        )
    out_cells.sort(key=lambda cell: (cell["column"], _row_order(str(cell["row"]))))
    rows = sorted({step.row for step in steps}, key=_row_order)
    return {
        "rows": [{"key": row} for row in rows],
        "columns": columns,
        "bucket_size": size,
        "steps": len(steps),
        "cells": out_cells,
    }


# --- the detail document -----------------------------------------------------------------------


def detail_document(
    summary: dict[str, Any],
    events: Sequence[Event],
    job: dict[str, Any] | None,
    *,
    bucket: int = DEFAULT_BUCKET,
) -> dict[str, Any]:
    """A run's whole detail: what ``GET /runs/{run_id}`` answers and ``export`` inlines.

    The pills count calls (model calls, tool calls and delegations), failures among them, tokens,
    and the run's duration. The event list keeps the first :data:`MAX_DETAIL_EVENTS` events.
    """
    ordered = sorted(events, key=lambda event: event.seq)
    models = llm_calls(ordered)
    tools = tool_calls(ordered)
    delegated = delegations(ordered)
    calls = [*models, *tools]
    failures = sum(1 for call in calls if call["status"] == "failed")
    failures += sum(1 for item in delegated if item["outcome"] == "failed")
    tokens = sum(card["input_tokens"] + card["output_tokens"] for card in models)
    return {
        "run": summary,
        "pills": {
            "calls": len(calls) + len(delegated),
            "failures": failures,
            "tokens": max(tokens, summary.get("total_tokens") or 0),
            "duration_ms": summary.get("duration_ms"),
        },
        "delegations": delegated,
        "lifecycles": lifecycles(ordered),
        "llm_calls": models,
        "tool_calls": tools,
        "events": [event.model_dump() for event in ordered[:MAX_DETAIL_EVENTS]],
        "events_truncated": len(ordered) > MAX_DETAIL_EVENTS,
        "graph": build_graph(ordered, summary.get("status", "in_progress")),
        "grid": build_grid(ordered, bucket),
        "job": job,
    }
