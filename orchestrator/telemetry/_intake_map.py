"""From a trajectory to its trace and back: ``traceparent`` headers, and received spans as events.

:class:`TrajectoryTrace` derives everything from the run id and the trajectory id, so the same
trajectory always has the same trace: the trace id, and one parent span id per step (plus one
for requests outside any step). Every request the runner sends to the system under test carries
``traceparent: 00-<trace id>-<the step's span id>-01``; a span the system under test starts from
it has that parent, so its step is known from ids, never from timing.

:func:`span_events` turns a trace's spans into ``agent_action`` events, by step, in start order
(ties broken by name and depth, so the order is deterministic). Each carries the span's name,
kind, duration, status (an error is named in the description), its parent's name, and its
attributes (at most :data:`MAX_ATTRIBUTES`, strings capped). A span following the OpenTelemetry
GenAI conventions says so in ``detail.kind``:

- ``llm_call`` (``gen_ai.operation.name`` is ``chat``, ``text_completion``, ``generate_content``
  or ``embeddings``): ``detail.llm`` has operation, provider, model, response model and token usage;
- ``tool_call`` (``execute_tool``): ``detail.tool`` has the tool's name and call id;
- ``agent`` (``invoke_agent``, ``create_agent``): ``detail.agent`` has the agent's name;
- ``span``: any other span.

Span ids themselves are left out of the record (the system under test draws them at random).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from orchestrator.scenarios import TrajectoryEvent
from orchestrator.telemetry._intake import IntakeSpan

__all__ = ["MAX_ATTRIBUTES", "TRACEPARENT_HEADER", "TrajectoryTrace", "place_spans", "span_events"]

TRACEPARENT_HEADER = "traceparent"
MAX_ATTRIBUTES = 32
"""Attributes kept per span (the first ones by name)."""
_TEXT_CAP = 200
_LLM_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
_AGENT_OPERATIONS = frozenset({"invoke_agent", "create_agent"})
_OUTSIDE_STEPS = ""
"""The step name hashed for requests sent outside any step (reading the session at the end)."""


def _digest(text: str, size: int) -> str:
    value = hashlib.sha256(text.encode()).digest()[:size]
    if not any(value):  # an all-zero id is invalid in W3C trace context
        value = b"\x01" + value[1:]
    return value.hex()


@dataclass(frozen=True)
class TrajectoryTrace:
    """A trajectory's W3C trace context, derived from its ids (see the module docstring)."""

    run_id: str
    trajectory_id: str

    @property
    def trace_id(self) -> str:
        return _digest(f"orchestrate trace {self.run_id}/{self.trajectory_id}", 16)

    def parent_id(self, step_id: str | None) -> str:
        """The span id the runner names as parent in the requests of ``step_id`` (``None``: no step)."""
        step = _OUTSIDE_STEPS if step_id is None else f"step {step_id}"
        return _digest(f"orchestrate span {self.run_id}/{self.trajectory_id}/{step}", 8)

    def traceparent(self, step_id: str | None) -> str:
        return f"00-{self.trace_id}-{self.parent_id(step_id)}-01"

    def parents(self, step_ids: Sequence[str]) -> dict[str, str | None]:
        """Parent span id -> step id, for every step and for requests outside any step."""
        named: dict[str, str | None] = {self.parent_id(step): step for step in step_ids}
        named[self.parent_id(None)] = None
        return named


def _capped(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _TEXT_CAP:
        return value[: _TEXT_CAP - 1] + "…"
    if isinstance(value, list):
        return [_capped(item) for item in value[:MAX_ATTRIBUTES]]
    if isinstance(value, dict):
        return {key: _capped(item) for key, item in sorted(value.items())[:MAX_ATTRIBUTES]}
    return value


def _number(value: Any) -> int | float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _gen_ai(span: IntakeSpan) -> tuple[str, dict[str, Any], str]:
    """``(kind, its detail, a description)`` for a span, by the GenAI conventions."""
    attrs = span.attributes
    operation = attrs.get("gen_ai.operation.name")
    if operation in _LLM_OPERATIONS:
        model = attrs.get("gen_ai.request.model") or attrs.get("gen_ai.response.model")
        llm = {
            "operation": operation,
            "provider": attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system"),
            "model": model,
            "response_model": attrs.get("gen_ai.response.model"),
            "input_tokens": _number(attrs.get("gen_ai.usage.input_tokens")),
            "output_tokens": _number(attrs.get("gen_ai.usage.output_tokens")),
        }
        tokens = ""
        if llm["input_tokens"] is not None or llm["output_tokens"] is not None:
            tokens = f", {llm['input_tokens'] or 0} in / {llm['output_tokens'] or 0} out tokens"
        return "llm_call", {"llm": llm}, f"the system under test called a model: {operation} {model}{tokens}"
    if operation == "execute_tool":
        tool = {"name": attrs.get("gen_ai.tool.name"), "call_id": attrs.get("gen_ai.tool.call.id")}
        return "tool_call", {"tool": tool}, f"the system under test ran tool {tool['name']}"
    if operation in _AGENT_OPERATIONS:
        agent = {"operation": operation, "name": attrs.get("gen_ai.agent.name")}
        return "agent", {"agent": agent}, f"the system under test ran agent {agent['name']} ({operation})"
    return "span", {}, f"the system under test: {span.name}"


def _event(span: IntakeSpan, *, step_id: str | None, at_ms: float, parent: str | None) -> TrajectoryEvent:
    kind, gen_ai, description = _gen_ai(span)
    description += f" ({span.duration_ms:g} ms)"
    if span.status == "error":
        description += f"; error: {span.status_message or 'the span ended with an error'}"
    attributes = {name: _capped(span.attributes[name]) for name in sorted(span.attributes)[:MAX_ATTRIBUTES]}
    detail: dict[str, Any] = {
        "source": "otlp",
        "kind": kind,
        "span": span.name,
        "span_kind": span.kind,
        "service": span.service,
        "parent": parent,
        "duration_ms": span.duration_ms,
        "status": span.status,
        "error": (span.status_message or "error") if span.status == "error" else None,
        "events": list(span.events),
        "attributes": attributes,
        **gen_ai,
    }
    return TrajectoryEvent(
        type="agent_action", at_ms=at_ms, step_id=step_id, description=description, detail=detail
    )


def span_events(
    spans: Sequence[IntakeSpan], *, parents: Mapping[str, str | None], started_wall: float
) -> dict[str | None, list[TrajectoryEvent]]:
    """The spans as ``agent_action`` events by step id (``None``: outside any step), each in order.

    ``parents`` maps the span ids the runner sent (see :meth:`TrajectoryTrace.parents`) to their
    step; a span belongs to the step its topmost ancestor in the trace names. ``started_wall`` is
    when the trajectory began (Unix seconds): ``at_ms`` counts from it.
    """
    by_id = {span.span_id: span for span in spans}

    def lineage(span: IntakeSpan) -> tuple[str | None, int]:
        depth, current, seen = 0, span, {span.span_id}
        while current.parent_span_id in by_id and current.parent_span_id not in seen:
            current = by_id[current.parent_span_id]
            seen.add(current.span_id)
            depth += 1
        return parents.get(current.parent_span_id or "", None), depth

    placed: list[tuple[tuple[int, int, str, int, float], str | None, TrajectoryEvent]] = []
    for span in spans:
        step_id, depth = lineage(span)
        parent = by_id.get(span.parent_span_id or "")
        at_ms = round(max(0.0, span.start_ns / 1e9 - started_wall) * 1000, 3)
        event = _event(span, step_id=step_id, at_ms=at_ms, parent=parent.name if parent is not None else None)
        placed.append(((span.start_ns, depth, span.name, span.end_ns, span.duration_ms), step_id, event))
    grouped: dict[str | None, list[TrajectoryEvent]] = defaultdict(list)
    for _, step_id, event in sorted(placed, key=lambda item: item[0]):
        grouped[step_id].append(event)
    return dict(grouped)


def place_spans(events: Sequence[TrajectoryEvent], spans: Sequence[TrajectoryEvent]) -> list[TrajectoryEvent]:
    """A step's ``events`` with its span events (in start order) right after the step's own event.

    The spans happened while the step's request was answered: after the step began, before the
    answer's ``agent_action``. They are not interleaved with the twins' ``api_call`` events by
    time, since those are grouped by twin and the interleaving would change from run to run.
    A step that ended the trajectory has no own event: its spans come first.
    """
    if not spans:
        return list(events)
    own = 1 if events and events[0].type in ("user_action", "system_event") else 0
    return [*events[:own], *spans, *events[own:]]
