"""A run's events as OpenTelemetry spans, following the GenAI semantic conventions.

A run is one trace. Its trace id and every span id are derived from our own ids (a sha256 of the
run id, of the run id and a call id, ...), so exporting a run live and replaying its
``events.jsonl`` later give the same trace; timestamps are the events' own. The spans:

- ``orchestrate.run``: one per conductor pass (``conductor.task.started`` to its terminal event).
  The first pass is the trace's root; a later pass over the same run (judging a finished run,
  resuming an interrupted one) is a child of it.
- ``invoke_agent <worker type>``: one per delegation, ``conductor.worker.call`` to its
  ``conductor.capability.*`` (by ``call_id``); a judge's verdict is a ``gen_ai.evaluation.result``
  event on it.
- ``chat <model>``: one per ``llm.call.started`` and its ``completed|failed`` (by ``trace_id``),
  under its delegation when it has a ``call_id``.
- ``execute_tool <tool>``: one per ``worker.tool.call`` and its ``result`` (by ``tool_trace_id``).
- ``orchestrate.trajectory``: one per trajectory of a scenario run (events grouped by
  ``trajectory_id``), with its scenario, chaos and verdict, and its steps as span events.

:class:`RunSpans` maps one run incrementally: :meth:`RunSpans.feed` returns the spans an event
completes, so a live exporter sends spans as they end; a pass's trajectories end with the pass.
Mapping is pure (no I/O): it builds SDK :class:`~opentelemetry.sdk.trace.ReadableSpan` objects
that the stock OTLP exporter sends.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event as SpanEvent
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from orchestrator.events import Event

__all__ = ["SPAN_EVENT_TYPES", "RunSpans", "run_resource", "run_trace_id", "spans_of_events"]

AttributeValue = str | bool | int | float | Sequence[str]

SPAN_EVENT_TYPES = frozenset(
    {
        "conductor.task.started",
        "conductor.task.completed",
        "conductor.task.failed",
        "conductor.worker.call",
        "conductor.capability.completed",
        "conductor.capability.failed",
        "conductor.capability.blocked",
        "worker.task.started",
        "worker.task.failed",
        "llm.call.started",
        "llm.call.completed",
        "llm.call.failed",
        "worker.tool.call",
        "worker.tool.result",
    }
)
"""The event types that open, end or name a span; the others (but ``trajectory.*``) make none."""

_SCOPE = InstrumentationScope("orchestrate")
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_TEXT_LIMIT = 1000
_MAX_SPAN_EVENTS = 128
_UNFINISHED = "unfinished when the run ended"
# The judge's summary of a judgment: "<trajectory>: <verdict> (<judge>[, <model>])".
_VERDICT_SUMMARY = re.compile(
    r"^(?P<trajectory>\S+): (?P<verdict>satisfactory|unsatisfactory|unjudged) "
    r"\((?P<judge>[\w-]+)(?:, (?P<model>[^)]*))?\)$"
)
_JUDGE_CAPABILITY = "judge_trajectory"
_EVALUATION_NAME = "scenario_satisfaction"


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()


def run_trace_id(run_id: str) -> int:
    """The trace id of a run (16 bytes of sha256 over the run id); never zero."""
    return int.from_bytes(_digest("orchestrate.run", run_id)[:16], "big") or 1


def _span_id(run_id: str, *parts: str) -> int:
    return int.from_bytes(_digest(run_id, *parts)[:8], "big") or 1


def _nanos(timestamp: str) -> int:
    """An event timestamp (ISO 8601, UTC) as nanoseconds since the epoch."""
    moment = datetime.fromisoformat(timestamp)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // _MICROSECOND * 1000


def _text(value: object) -> str:
    text = str(value)
    return text if len(text) <= _TEXT_LIMIT else text[: _TEXT_LIMIT - 1] + "…"


def run_resource(service_name: str) -> Resource:
    """The resource of exported spans: ``service.name`` and the SDK's own attributes."""
    return Resource.create({"service.name": service_name})


@dataclass
class _Open:
    """A span that has started and not ended yet."""

    name: str
    span_id: int
    parent_id: int | None
    start_ns: int
    kind: SpanKind = SpanKind.INTERNAL
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)
    end_ns: int = 0
    status: Status = field(default_factory=Status)
    events_dropped: int = 0

    def add_event(self, name: str, attributes: Mapping[str, AttributeValue], at_ns: int) -> None:
        if len(self.events) >= _MAX_SPAN_EVENTS:
            self.events_dropped += 1
            return
        self.events.append(SpanEvent(name, dict(attributes), timestamp=at_ns))

    def fail(self, description: str, error_type: str = "_OTHER") -> None:
        self.status = Status(StatusCode.ERROR, _text(description))
        self.attributes["error.type"] = error_type


@dataclass
class _Trajectory:
    span: _Open
    begin_ns: int
    scenario_id: str | None = None
    chaos: list[str] = field(default_factory=list)
    api_calls: int = 0


class RunSpans:
    """Maps one run's events, in ``seq`` order, to spans (see the module docstring).

    ``kind`` is the run's job kind (``ui``, ``scenario``, ``pack``), recorded on its run spans.
    """

    def __init__(self, run_id: str, *, resource: Resource, kind: str | None = None) -> None:
        self.run_id = run_id
        self.kind = kind
        self._resource = resource
        self._trace_id = run_trace_id(run_id)
        self._root_id = _span_id(run_id, "run")
        self._pass: _Open | None = None
        self._delegations: dict[str, _Open] = {}
        self._worker_started: dict[str, int] = {}
        self._llm_calls: dict[str, _Open] = {}
        self._tool_calls: dict[str, _Open] = {}
        self._trajectories: dict[tuple[str, str], _Trajectory] = {}
        self._verdicts: dict[str, tuple[str, str, int]] = {}
        self._last_ns = 0
        self._last_timestamp = ""
        handlers: dict[str, Callable[[Event, int], list[ReadableSpan]]] = {
            "conductor.task.started": self._on_run_started,
            "conductor.task.completed": self._on_run_ended,
            "conductor.task.failed": self._on_run_ended,
            "conductor.worker.call": self._on_worker_call,
            "conductor.capability.completed": self._on_capability,
            "conductor.capability.failed": self._on_capability,
            "conductor.capability.blocked": self._on_capability,
            "worker.task.started": self._on_worker_started,
            "worker.task.failed": self._on_worker_failed,
            "llm.call.started": self._on_llm_started,
            "llm.call.completed": self._on_llm_ended,
            "llm.call.failed": self._on_llm_ended,
            "worker.tool.call": self._on_tool_call,
            "worker.tool.result": self._on_tool_result,
        }
        assert handlers.keys() == SPAN_EVENT_TYPES
        self._handlers = handlers

    # --- the way in ------------------------------------------------------------------------

    def feed(self, event: Event) -> list[ReadableSpan]:
        """Take the run's next event; return the spans it ends (often none)."""
        # Events that make no span (progress, findings) cost one lookup: their time is read only
        # if the run ends without its terminal event.
        self._last_timestamp = event.timestamp
        handler = self._handlers.get(event.event_type)
        if handler is not None:
            return handler(event, self._seen(event.timestamp))
        if event.event_type.startswith("trajectory."):
            self._on_trajectory_event(event, self._seen(event.timestamp))
        return []

    def _seen(self, timestamp: str) -> int:
        at_ns = _nanos(timestamp)
        self._last_ns = max(self._last_ns, at_ns)
        return at_ns

    def finish(self) -> list[ReadableSpan]:
        """End what is still open (a run that stopped without its terminal event), as failed."""
        if self._last_timestamp:
            self._seen(self._last_timestamp)
        return self._end_pass(self._last_ns, unfinished=True)

    # --- passes ----------------------------------------------------------------------------

    def _on_run_started(self, event: Event, at_ns: int) -> list[ReadableSpan]:
        ended = self._end_pass(at_ns, unfinished=True) if self._pass is not None else []
        first = event.seq == 1
        span = _Open(
            name="orchestrate.run",
            span_id=self._root_id if first else _span_id(self.run_id, "pass", str(event.seq)),
            parent_id=None if first else self._root_id,
            start_ns=at_ns,
            attributes={"orchestrate.run_id": self.run_id, "orchestrate.run.status": "running"},
        )
        if self.kind:
            span.attributes["orchestrate.job.kind"] = self.kind
        objective = event.payload.get("objective")
        if objective:
            span.attributes["orchestrate.run.objective"] = _text(objective)
        self._pass = span
        return ended

    def _on_run_ended(self, event: Event, at_ns: int) -> list[ReadableSpan]:
        payload = event.payload
        if self._pass is None:
            # A terminal event without its start (a file cut at the front): the pass spans what is known.
            self._pass = _Open(
                "orchestrate.run", self._root_id, None, at_ns, attributes={"orchestrate.run_id": self.run_id}
            )
        span = self._pass
        span.attributes["orchestrate.run.status"] = str(payload.get("status") or "")
        if event.event_type == "conductor.task.failed":
            code = str(payload.get("error_code") or "run_failed")
            span.fail(str(payload.get("error_message") or code), code)
            span.attributes["orchestrate.error_code"] = code
        return self._end_pass(at_ns, unfinished=False)

    def _end_pass(self, at_ns: int, *, unfinished: bool) -> list[ReadableSpan]:
        spans: list[ReadableSpan] = []
        for open_spans in (self._llm_calls, self._tool_calls, self._delegations):
            for span in open_spans.values():
                span.fail(_UNFINISHED)
                spans.append(self._built(span, at_ns))
            open_spans.clear()
        spans.extend(
            self._built(self._trajectory_span(t), t.span.end_ns) for t in self._trajectories.values()
        )
        self._trajectories.clear()
        self._worker_started.clear()
        self._verdicts.clear()
        if self._pass is not None:
            if unfinished:
                self._pass.fail(_UNFINISHED)
            spans.append(self._built(self._pass, at_ns))
            self._pass = None
        return spans

    def _parent_of(self, event: Event) -> int:
        if event.call_id:
            return _span_id(self.run_id, "call", event.call_id)
        return self._pass.span_id if self._pass is not None else self._root_id

    # --- delegations -----------------------------------------------------------------------

    def _on_worker_call(self, event: Event, at_ns: int) -> list[ReadableSpan]:
        call_id = event.call_id or str(event.payload.get("call_id") or "")
        if not call_id:
            return []
        worker_type = str(event.payload.get("worker_type") or "worker")
        span = _Open(
            name=f"invoke_agent {worker_type}",
            span_id=_span_id(self.run_id, "call", call_id),
            parent_id=self._pass.span_id if self._pass is not None else self._root_id,
            start_ns=at_ns,
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": worker_type,
                "orchestrate.run_id": self.run_id,
                "orchestrate.call_id": call_id,
            },
        )
        capability = event.payload.get("capability")
        if capability:
            span.attributes["orchestrate.capability"] = str(capability)
        objective = event.payload.get("worker_objective")
        if objective:
            span.attributes["orchestrate.objective"] = _text(objective)
        self._delegations[call_id] = span
        return []

    def _on_worker_started(self, event: Event, at_ns: int) -> list[ReadableSpan]:
        if not event.call_id:
            return []
        self._worker_started[event.call_id] = at_ns
        span = self._delegations.get(event.call_id)
        if span is not None:
            if event.task_id:
                span.attributes["orchestrate.task_id"] = event.task_id
            worker_id = event.payload.get("worker_id")
            if worker_id:
                span.attributes["gen_ai.agent.id"] = str(worker_id)
        return []

    def _on_worker_failed(self, event: Event, at_ns: int) -> list[ReadableSpan]:
        span = self._delegations.get(event.call_id or "")
        if span is not None:
            span.add_event("orchestrate.worker.failed", {"error": _text(event.payload.get("error"))}, at_ns)
        return []

    def _on_capability(self, event: Event, at_ns: int) -> list[ReadableSpan]:
        call_id = event.call_id or str(event.payload.get("call_id") or "")
        span = self._delegations.pop(call_id, None)
        if span is None:
            return []
        payload = event.payload
        outcome = event.event_type.rsplit(".", 1)[-1]
        span.attributes["orchestrate.outcome"] = outcome
        if outcome == "completed":
            summary = str(payload.get("summary") or "")
            span.attributes["orchestrate.summary"] = _text(summary)
            if payload.get("capability") == _JUDGE_CAPABILITY:
                self._record_verdict(span, summary, at_ns)
        elif outcome == "failed":
            span.fail(str(payload.get("error") or "failed"), str(payload.get("failure_kind") or "_OTHER"))
        else:
            span.attributes["orchestrate.blocked_reason"] = _text(payload.get("reason") or "")
        return [self._built(span, at_ns)]

    def _record_verdict(self, span: _Open, summary: str, at_ns: int) -> None:
        match = _VERDICT_SUMMARY.match(summary)
        if match is None:
            return
        trajectory_id, verdict, judge = match["trajectory"], match["verdict"], match["judge"]
        span.add_event(
            "gen_ai.evaluation.result", self._evaluation(trajectory_id, verdict, judge, match["model"]), at_ns
        )
        self._verdicts[trajectory_id] = (verdict, judge, at_ns)

    @staticmethod
    def _evaluation(
        trajectory_id: str, verdict: str, judge: str, model: str | None = None
    ) -> dict[str, AttributeValue]:
        attributes: dict[str, AttributeValue] = {
            "gen_ai.evaluation.name": _EVALUATION_NAME,
            "gen_ai.evaluation.score.label": verdict,
            "orchestrate.trajectory_id": trajectory_id,
            "orchestrate.judge": judge,
        }
        if model:
            attributes["gen_ai.request.model"] = model
        return attributes

    # --- model and tool calls --------------------------------------------------------------

    def _on_llm_started(self, event: Event, at_ns: int) -> list[ReadableSpan]:
        if event.trace_id:
            self._llm_calls[event.trace_id] = self._llm_span(event, at_ns)
        return []

    def _llm_span(self, event: Event, at_ns: int) -> _Open:
        trace_id = event.trace_id or ""
        model = str(event.payload.get("model") or "")
        span = _Open(
            name=f"chat {model}".rstrip(),
            span_id=_span_id(self.run_id, "llm", trace_id),
            parent_id=self._parent_of(event),
            start_ns=at_ns,
            kind=SpanKind.CLIENT,
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": str(event.payload.get("provider") or ""),
                "gen_ai.request.model": model,
                "orchestrate.run_id": self.run_id,
                "orchestrate.trace_id": trace_id,
            },
        )
        self._correlate(span, event)
        return span

    def _correlate(self, span: _Open, event: Event) -> None:
        if event.call_id:
            span.attributes["orchestrate.call_id"] = event.call_id
        if event.task_id:
            span.attributes["orchestrate.task_id"] = event.task_id

    def _on_llm_ended(self, event: Event, at_ns: int) -> list[ReadableSpan]:
        if not event.trace_id:
            return []
        payload = event.payload
        span = self._llm_calls.pop(event.trace_id, None)
        if span is None:  # its start was not seen: it began duration_ms before it ended
            span = self._llm_span(event, at_ns - int(float(payload.get("duration_ms") or 0) * 1e6))
        usage = payload.get("usage")
        if isinstance(usage, dict):
            for key, name in (
                ("input_tokens", "gen_ai.usage.input_tokens"),
                ("output_tokens", "gen_ai.usage.output_tokens"),
                ("cached_input_tokens", "gen_ai.usage.cache_read.input_tokens"),
            ):
                value = usage.get(key)
                if isinstance(value, int) and (value or key != "cached_input_tokens"):
                    span.attributes[name] = value
        if event.event_type == "llm.call.failed":
            span.fail(str(payload.get("error") or "the model call failed"))
        return [self._built(span, at_ns)]

    def _on_tool_call(self, event: Event, at_ns: int) -> list[ReadableSpan]:
        if event.tool_trace_id:
            self._tool_calls[event.tool_trace_id] = self._tool_span(event, at_ns)
        return []

    def _tool_span(self, event: Event, at_ns: int) -> _Open:
        tool_trace_id = event.tool_trace_id or ""
        tool_name = str(event.payload.get("tool_name") or "tool")
        span = _Open(
            name=f"execute_tool {tool_name}",
            span_id=_span_id(self.run_id, "tool", tool_trace_id),
            parent_id=self._parent_of(event),
            start_ns=at_ns,
            attributes={
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": tool_name,
                "gen_ai.tool.call.id": tool_trace_id,
                "orchestrate.run_id": self.run_id,
                "orchestrate.tool_trace_id": tool_trace_id,
            },
        )
        self._correlate(span, event)
        return span

    def _on_tool_result(self, event: Event, at_ns: int) -> list[ReadableSpan]:
        if not event.tool_trace_id:
            return []
        payload = event.payload
        span = self._tool_calls.pop(event.tool_trace_id, None)
        if span is None:
            span = self._tool_span(event, at_ns - int(float(payload.get("duration_ms") or 0) * 1e6))
        if payload.get("success") is False:
            span.fail(str(payload.get("error") or "the tool call failed"))
        return [self._built(span, at_ns)]

    # --- trajectories ----------------------------------------------------------------------

    def _on_trajectory_event(self, event: Event, at_ns: int) -> None:
        payload = event.payload
        trajectory_id = payload.get("trajectory_id")
        if not isinstance(trajectory_id, str) or not trajectory_id:
            return
        key = (event.call_id or "", trajectory_id)
        trajectory = self._trajectories.get(key)
        if trajectory is None:
            trajectory = self._trajectories[key] = self._new_trajectory(event, trajectory_id, at_ns)
        if trajectory.scenario_id is None and payload.get("scenario_id"):
            trajectory.scenario_id = str(payload["scenario_id"])
        at_ms = payload.get("at_ms")
        step_ns = trajectory.begin_ns + int(float(at_ms) * 1e6) if isinstance(at_ms, int | float) else at_ns
        step: dict[str, AttributeValue] = {}
        for name in ("description", "step_id", "service", "method", "path", "route", "error"):
            value = payload.get(name)
            if value is not None:
                step[name] = _text(value)
        end_ns = step_ns
        if event.event_type == "trajectory.api_call":
            trajectory.api_calls += 1
            if isinstance(payload.get("response_code"), int):
                step["response_code"] = payload["response_code"]
            duration = payload.get("duration_ms")
            if isinstance(duration, int | float):
                end_ns += int(duration * 1e6)
            chaos = payload.get("chaos")
            if isinstance(chaos, dict) and chaos.get("mode"):
                trajectory.chaos.append(str(chaos["mode"]))
                step["chaos.mode"] = str(chaos["mode"])
        elif event.event_type == "trajectory.error":
            trajectory.span.fail(str(payload.get("error") or "the trajectory failed"))
        trajectory.span.add_event(event.event_type, step, step_ns)
        trajectory.span.end_ns = max(trajectory.span.end_ns, end_ns)

    def _new_trajectory(self, event: Event, trajectory_id: str, at_ns: int) -> _Trajectory:
        call_id = event.call_id or ""
        # Steps are recorded after the trajectory ran, with their offset from its beginning: the
        # worker's start is when it began.
        begin_ns = self._worker_started.get(call_id, at_ns)
        span = _Open(
            name="orchestrate.trajectory",
            span_id=_span_id(self.run_id, "trajectory", call_id, trajectory_id),
            parent_id=self._parent_of(event),
            start_ns=begin_ns,
            end_ns=begin_ns,
            attributes={"orchestrate.run_id": self.run_id, "orchestrate.trajectory_id": trajectory_id},
        )
        if call_id:
            span.attributes["orchestrate.call_id"] = call_id
        return _Trajectory(span=span, begin_ns=begin_ns)

    def _trajectory_span(self, trajectory: _Trajectory) -> _Open:
        span = trajectory.span
        trajectory_id = str(span.attributes["orchestrate.trajectory_id"])
        if trajectory.scenario_id:
            span.attributes["orchestrate.scenario_id"] = trajectory.scenario_id
        span.attributes["orchestrate.chaos.injected"] = bool(trajectory.chaos)
        span.attributes["orchestrate.chaos.modes"] = tuple(trajectory.chaos)
        span.attributes["orchestrate.api_calls"] = trajectory.api_calls
        verdict = self._verdicts.get(trajectory_id)
        if verdict is not None:
            label, judge, at_ns = verdict
            span.attributes["orchestrate.verdict"] = label
            span.add_event("gen_ai.evaluation.result", self._evaluation(trajectory_id, label, judge), at_ns)
        return span

    # --- spans -----------------------------------------------------------------------------

    def _context(self, span_id: int) -> SpanContext:
        return SpanContext(self._trace_id, span_id, is_remote=False, trace_flags=_SAMPLED)

    def _built(self, span: _Open, end_ns: int) -> ReadableSpan:
        if span.events_dropped:
            span.attributes["orchestrate.events_dropped"] = span.events_dropped
        return ReadableSpan(
            name=span.name,
            context=self._context(span.span_id),
            parent=self._context(span.parent_id) if span.parent_id is not None else None,
            resource=self._resource,
            attributes=span.attributes,
            events=span.events,
            kind=span.kind,
            status=span.status,
            start_time=span.start_ns,
            end_time=max(end_ns, span.start_ns),
            instrumentation_scope=_SCOPE,
        )


def spans_of_events(
    events: Iterable[Event], *, resource: Resource, kinds: Mapping[str, str] | None = None
) -> list[ReadableSpan]:
    """Every span of ``events`` (one or more runs, each in ``seq`` order), unfinished ones ended."""
    runs: dict[str, RunSpans] = {}
    spans: list[ReadableSpan] = []
    for event in events:
        mapper = runs.get(event.run_id)
        if mapper is None:
            kind = (kinds or {}).get(event.run_id)
            mapper = runs[event.run_id] = RunSpans(event.run_id, resource=resource, kind=kind)
        spans.extend(mapper.feed(event))
    for mapper in runs.values():
        spans.extend(mapper.finish())
    return spans
