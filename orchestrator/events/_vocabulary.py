"""The event vocabulary: every event type and the schema of its payload.

A payload is checked against its type's schema when the event is emitted, so a missing required
field fails loudly at the emitting line instead of producing a trace the viewer cannot read.
Schemas allow extra fields (an emitter may add context), but never miss a required one.

Correlation ids (``run_id``, ``task_id``, ``call_id``, ``trace_id``, ``tool_trace_id``) live on
the event itself; where a payload schema also names one of them (``worker.task.started`` has
``task_id`` and ``call_id``), the emitter fills it from the bound correlation when the caller
leaves it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from orchestrator.errors import EventSchemaError

__all__ = [
    "EVENT_SCHEMAS",
    "TERMINAL_EVENT_TYPES",
    "check_payload",
    "register_event_type",
]

Lane = Literal["control", "telemetry"]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


# --- run -------------------------------------------------------------------------------------


class RunStatusPayload(_Payload):
    """conductor.task.started|progress|completed|failed."""

    status: str
    error_code: str | None = None
    error_message: str | None = None
    report_path: str | None = None


# --- delegation ------------------------------------------------------------------------------


class WorkerCallPayload(_Payload):
    worker_type: str
    worker_objective: str
    call_id: str


class WorkerResultPayload(_Payload):
    worker_type: str
    success: bool
    result_summary: str


class CapabilityCompletedPayload(_Payload):
    capability: str
    call_id: str
    summary: str
    lane: Lane


class CapabilityFailedPayload(_Payload):
    capability: str
    call_id: str
    error: str
    failure_kind: str | None = None
    lane: Lane


class CapabilityBlockedPayload(_Payload):
    capability: str
    call_id: str
    reason: str
    lane: Lane


# --- worker ----------------------------------------------------------------------------------


class WorkerStartedPayload(_Payload):
    task_id: str
    worker_id: str
    call_id: str
    phase: str
    objective: str
    model_used: str | None = None


class WorkerProgressPayload(_Payload):
    task_id: str
    worker_id: str
    phase: str
    message: str
    model_used: str | None = None


class WorkerCompletedPayload(_Payload):
    task_id: str
    worker_id: str
    phase: str
    summary: str


class WorkerFailedPayload(_Payload):
    task_id: str
    worker_id: str
    phase: str
    error: str


class WorkerFindingPayload(_Payload):
    task_id: str
    worker_id: str
    finding_id: str
    claim: str
    confidence: float
    evidence_refs: list[str]


class WorkerLearningPayload(_Payload):
    task_id: str
    worker_id: str
    learning_id: str
    insight: str
    confidence: float


# --- tools and models ------------------------------------------------------------------------


class ToolCallPayload(_Payload):
    tool_trace_id: str
    tool_name: str
    args_summary: str


class ToolResultPayload(_Payload):
    tool_trace_id: str
    tool_name: str
    success: bool
    duration_ms: float
    error: str | None = None


class TokenUsage(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    total_tokens: int


class LlmStartedPayload(_Payload):
    trace_id: str
    model: str
    provider: str


class LlmCompletedPayload(_Payload):
    trace_id: str
    model: str
    provider: str
    duration_ms: float
    usage: TokenUsage


class LlmFailedPayload(_Payload):
    trace_id: str
    model: str
    provider: str
    duration_ms: float
    error: str


# --- trajectories ----------------------------------------------------------------------------


class TrajectoryActionPayload(_Payload):
    """user_action, agent_action, state_transition, system_event."""

    description: str


class ChaosInjection(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    mode: str
    probability: float
    seed: int


class ApiCallPayload(_Payload):
    service: str
    method: str
    path: str
    request_summary: str
    response_code: int | None
    response_summary: str
    duration_ms: float
    chaos: ChaosInjection | None


class TrajectoryErrorPayload(_Payload):
    error: str


EVENT_SCHEMAS: dict[str, type[BaseModel]] = {
    "conductor.task.started": RunStatusPayload,
    "conductor.task.progress": RunStatusPayload,
    "conductor.task.completed": RunStatusPayload,
    "conductor.task.failed": RunStatusPayload,
    "conductor.worker.call": WorkerCallPayload,
    "conductor.worker.result": WorkerResultPayload,
    "conductor.capability.completed": CapabilityCompletedPayload,
    "conductor.capability.failed": CapabilityFailedPayload,
    "conductor.capability.blocked": CapabilityBlockedPayload,
    "worker.task.started": WorkerStartedPayload,
    "worker.task.progress": WorkerProgressPayload,
    "worker.task.completed": WorkerCompletedPayload,
    "worker.task.failed": WorkerFailedPayload,
    "worker.task.finding": WorkerFindingPayload,
    "worker.task.learning": WorkerLearningPayload,
    "worker.tool.call": ToolCallPayload,
    "worker.tool.result": ToolResultPayload,
    "llm.call.started": LlmStartedPayload,
    "llm.call.completed": LlmCompletedPayload,
    "llm.call.failed": LlmFailedPayload,
    "trajectory.user_action": TrajectoryActionPayload,
    "trajectory.agent_action": TrajectoryActionPayload,
    "trajectory.api_call": ApiCallPayload,
    "trajectory.state_transition": TrajectoryActionPayload,
    "trajectory.system_event": TrajectoryActionPayload,
    "trajectory.error": TrajectoryErrorPayload,
}
"""Event type -> payload schema. Extend with :func:`register_event_type`."""

TERMINAL_EVENT_TYPES = frozenset({"conductor.task.completed", "conductor.task.failed"})
"""A run ends with exactly one of these."""

_FILLABLE = ("run_id", "task_id", "call_id", "trace_id", "tool_trace_id")
_FILL_FIELDS: dict[str, tuple[str, ...]] = {}


def register_event_type(event_type: str, schema: type[BaseModel]) -> None:
    """Add an event type (for plugins); re-registering a shipped type with another schema is refused."""
    existing = EVENT_SCHEMAS.get(event_type)
    if existing is not None and existing is not schema:
        raise EventSchemaError(f"event type {event_type!r} is already registered with {existing.__name__}")
    EVENT_SCHEMAS[event_type] = schema
    _FILL_FIELDS.pop(event_type, None)


def _fill_fields(event_type: str, schema: type[BaseModel]) -> tuple[str, ...]:
    fields = _FILL_FIELDS.get(event_type)
    if fields is None:
        fields = tuple(name for name in _FILLABLE if name in schema.model_fields)
        _FILL_FIELDS[event_type] = fields
    return fields


def check_payload(
    event_type: str, payload: Mapping[str, Any], correlation: Mapping[str, Any]
) -> dict[str, Any]:
    """Validate ``payload`` for ``event_type``; return it with correlation fields filled in.

    Raises :class:`EventSchemaError` for an unknown type or a payload that misses or mistypes a
    required field. The returned dict is the caller's payload plus any filled correlation ids, in
    JSON-ready form (nested models are dumped), never the caller's own dict mutated.
    """
    schema = EVENT_SCHEMAS.get(event_type)
    if schema is None:
        raise EventSchemaError(
            f"unknown event type {event_type!r}; register it with register_event_type() "
            f"or use one of: {', '.join(sorted(EVENT_SCHEMAS))}"
        )
    missing = {
        name: correlation[name]
        for name in _fill_fields(event_type, schema)
        if payload.get(name) is None and correlation.get(name) is not None
    }
    # Encoded right away and never changed, so the caller's own dict can be used as it is.
    checked = {**payload, **missing} if missing or not isinstance(payload, dict) else payload
    try:
        schema.__pydantic_validator__.validate_python(checked)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(payload)'}: {err['msg']}" for err in exc.errors()
        )
        raise EventSchemaError(f"{event_type} payload is invalid: {problems}") from exc
    return checked
