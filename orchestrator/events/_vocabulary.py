"""The event vocabulary: one payload model per event type, named for the event.

Each model names its event type in ``event_type``, so an event can be emitted as the model
itself (``bus.emit(WorkerProgress(worker_id=..., phase=..., message=...), actor=...)``) and a
misspelt or missing field fails at type-check time. The models are exact (unknown fields are
refused). Plugins and older callers may still emit a type name with a dict payload; the dict is
checked against the same model at the emitting line and may carry context fields the model does
not name.

Correlation ids (``run_id``, ``task_id``, ``call_id``, ``trace_id``, ``tool_trace_id``) live on
the event itself. A payload field that repeats one of them is declared :data:`CorrelatedId`:
left out, it is filled from the bound correlation when the event is emitted, and it must be set
by then (``worker.task.started`` carries ``task_id`` and ``call_id`` this way).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict

from orchestrator.errors import EventSchemaError

__all__ = [
    "EVENT_SCHEMAS",
    "TERMINAL_EVENT_TYPES",
    "AgentAction",
    "ApiCall",
    "CapabilityBlocked",
    "CapabilityCompleted",
    "CapabilityFailed",
    "ChaosInjection",
    "CorrelatedId",
    "EventPayload",
    "LlmCallCompleted",
    "LlmCallFailed",
    "LlmCallStarted",
    "RunCompleted",
    "RunFailed",
    "RunProgress",
    "RunStarted",
    "StateTransition",
    "SystemEvent",
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
    "register_event_type",
]

Lane = Literal["control", "telemetry"]


class FromCorrelation:
    """Marks a payload field filled from the bound correlation id of the same name."""

    def __repr__(self) -> str:
        return "FromCorrelation()"


FROM_CORRELATION: Final = FromCorrelation()

CorrelatedId = Annotated[str | None, FROM_CORRELATION]
"""A payload field repeating a correlation id: filled from the bound id when left out; required."""


class EventPayload(BaseModel):
    """Base of every payload model; ``event_type`` names the event a model is the payload of."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_type: ClassVar[str]


# --- run -------------------------------------------------------------------------------------


class _RunStatus(EventPayload):
    status: str
    error_code: str | None = None
    error_message: str | None = None
    report_path: str | None = None


class RunStarted(_RunStatus):
    event_type: ClassVar[str] = "conductor.task.started"


class RunProgress(_RunStatus):
    event_type: ClassVar[str] = "conductor.task.progress"


class RunCompleted(_RunStatus):
    event_type: ClassVar[str] = "conductor.task.completed"


class RunFailed(_RunStatus):
    event_type: ClassVar[str] = "conductor.task.failed"


# --- delegation ------------------------------------------------------------------------------


class WorkerCall(EventPayload):
    event_type: ClassVar[str] = "conductor.worker.call"

    worker_type: str
    worker_objective: str
    call_id: CorrelatedId = None


class WorkerResult(EventPayload):
    event_type: ClassVar[str] = "conductor.worker.result"

    worker_type: str
    success: bool
    result_summary: str


class CapabilityCompleted(EventPayload):
    event_type: ClassVar[str] = "conductor.capability.completed"

    capability: str
    call_id: CorrelatedId = None
    summary: str
    lane: Lane


class CapabilityFailed(EventPayload):
    event_type: ClassVar[str] = "conductor.capability.failed"

    capability: str
    call_id: CorrelatedId = None
    error: str
    failure_kind: str | None = None
    lane: Lane


class CapabilityBlocked(EventPayload):
    event_type: ClassVar[str] = "conductor.capability.blocked"

    capability: str
    call_id: CorrelatedId = None
    reason: str
    lane: Lane


# --- worker ----------------------------------------------------------------------------------


class WorkerStarted(EventPayload):
    event_type: ClassVar[str] = "worker.task.started"

    task_id: CorrelatedId = None
    worker_id: str
    call_id: CorrelatedId = None
    phase: str
    objective: str
    model_used: str | None = None


class WorkerProgress(EventPayload):
    event_type: ClassVar[str] = "worker.task.progress"

    task_id: CorrelatedId = None
    worker_id: str
    phase: str
    message: str
    model_used: str | None = None


class WorkerCompleted(EventPayload):
    event_type: ClassVar[str] = "worker.task.completed"

    task_id: CorrelatedId = None
    worker_id: str
    phase: str
    summary: str


class WorkerFailed(EventPayload):
    event_type: ClassVar[str] = "worker.task.failed"

    task_id: CorrelatedId = None
    worker_id: str
    phase: str
    error: str


class WorkerFinding(EventPayload):
    event_type: ClassVar[str] = "worker.task.finding"

    task_id: CorrelatedId = None
    worker_id: str
    finding_id: str
    claim: str
    confidence: float
    evidence_refs: list[str]


class WorkerLearning(EventPayload):
    event_type: ClassVar[str] = "worker.task.learning"

    task_id: CorrelatedId = None
    worker_id: str
    learning_id: str
    insight: str
    confidence: float


# --- tools and models ------------------------------------------------------------------------


class ToolCall(EventPayload):
    event_type: ClassVar[str] = "worker.tool.call"

    tool_trace_id: CorrelatedId = None
    tool_name: str
    args_summary: str


class ToolResult(EventPayload):
    event_type: ClassVar[str] = "worker.tool.result"

    tool_trace_id: CorrelatedId = None
    tool_name: str
    success: bool
    duration_ms: float
    error: str | None = None


class TokenUsage(BaseModel):
    """Token counts of one model call, as providers report them (extra counters are kept)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    input_tokens: int
    output_tokens: int
    cached_input_tokens: int = 0
    total_tokens: int


class LlmCallStarted(EventPayload):
    event_type: ClassVar[str] = "llm.call.started"

    trace_id: CorrelatedId = None
    model: str
    provider: str


class LlmCallCompleted(EventPayload):
    event_type: ClassVar[str] = "llm.call.completed"

    trace_id: CorrelatedId = None
    model: str
    provider: str
    duration_ms: float
    usage: TokenUsage


class LlmCallFailed(EventPayload):
    event_type: ClassVar[str] = "llm.call.failed"

    trace_id: CorrelatedId = None
    model: str
    provider: str
    duration_ms: float
    error: str


# --- trajectories ----------------------------------------------------------------------------


class _TrajectoryEvent(EventPayload):
    """What every trajectory event may name: its trajectory, scenario and step, and when it happened."""

    trajectory_id: str | None = None
    scenario_id: str | None = None
    step_id: str | None = None
    at_ms: float | None = None
    """Milliseconds since the trajectory began."""


class _TrajectoryStep(_TrajectoryEvent):
    description: str
    detail: dict[str, Any] | None = None


class UserAction(_TrajectoryStep):
    event_type: ClassVar[str] = "trajectory.user_action"


class AgentAction(_TrajectoryStep):
    event_type: ClassVar[str] = "trajectory.agent_action"


class StateTransition(_TrajectoryStep):
    event_type: ClassVar[str] = "trajectory.state_transition"


class SystemEvent(_TrajectoryStep):
    event_type: ClassVar[str] = "trajectory.system_event"


class ChaosInjection(BaseModel):
    """The fault a twin injected into an API call: its mode, probability and the RNG seed."""

    model_config = ConfigDict(extra="allow", frozen=True)

    mode: str
    probability: float
    seed: int


class ApiCall(_TrajectoryEvent):
    event_type: ClassVar[str] = "trajectory.api_call"

    route: str | None = None
    service: str
    method: str
    path: str
    request_summary: str
    response_code: int | None
    response_summary: str
    duration_ms: float
    chaos: ChaosInjection | None


class TrajectoryError(_TrajectoryEvent):
    event_type: ClassVar[str] = "trajectory.error"

    error: str


_SHIPPED: tuple[type[EventPayload], ...] = (
    RunStarted,
    RunProgress,
    RunCompleted,
    RunFailed,
    WorkerCall,
    WorkerResult,
    CapabilityCompleted,
    CapabilityFailed,
    CapabilityBlocked,
    WorkerStarted,
    WorkerProgress,
    WorkerCompleted,
    WorkerFailed,
    WorkerFinding,
    WorkerLearning,
    ToolCall,
    ToolResult,
    LlmCallStarted,
    LlmCallCompleted,
    LlmCallFailed,
    UserAction,
    AgentAction,
    ApiCall,
    StateTransition,
    SystemEvent,
    TrajectoryError,
)

EVENT_SCHEMAS: dict[str, type[BaseModel]] = {model.event_type: model for model in _SHIPPED}
"""Event type -> payload schema. Extend with :func:`register_event_type`."""

TERMINAL_EVENT_TYPES = frozenset({RunCompleted.event_type, RunFailed.event_type})
"""A run ends with exactly one of these."""


def register_event_type(event_type: str, schema: type[BaseModel]) -> None:
    """Add an event type (for plugins); re-registering a shipped type with another schema is refused.

    ``schema`` is any pydantic model; an :class:`EventPayload` subclass must name this event type
    in its ``event_type``, so that it can also be emitted as an instance.
    """
    existing = EVENT_SCHEMAS.get(event_type)
    if existing is not None and existing is not schema:
        raise EventSchemaError(f"event type {event_type!r} is already registered with {existing.__name__}")
    if issubclass(schema, EventPayload) and getattr(schema, "event_type", None) != event_type:
        raise EventSchemaError(
            f"{schema.__name__}.event_type is {getattr(schema, 'event_type', None)!r}, not {event_type!r}; "
            f"set `event_type: ClassVar[str] = {event_type!r}` on the model"
        )
    EVENT_SCHEMAS[event_type] = schema
