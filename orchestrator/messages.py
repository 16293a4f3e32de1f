"""Every message actors exchange: frozen pydantic models in one discriminated union.

Actors never pass dicts or string commands. A message names its type with a ``kind`` literal, and
carries its correlation (``run_id``, ``task_id``, ``call_id``, and ``trace_id``/``tool_trace_id``
where relevant); the actor base binds that correlation into structlog's contextvars while the
message is handled, so log lines and events carry the ids without passing them by hand.

All messages live here, in :data:`AnyMessage`, with one shared :data:`MESSAGE_ADAPTER`, so any
message round-trips through JSON unchanged (what a distributed backend needs to ship them).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, TypeAdapter

from orchestrator.correlation import CORRELATION_KEYS

__all__ = [
    "MESSAGE_ADAPTER",
    "AnyMessage",
    "CloseRun",
    "DrainEvents",
    "FlushEvents",
    "Message",
    "OpenRun",
    "Ping",
    "Pong",
    "RunOutcome",
    "StartRun",
    "WorkRequest",
    "WorkResult",
]


class Message(BaseModel):
    """Base of every message: frozen, strict about unknown fields, correlated.

    ``run_id`` is left unset only by runtime-internal messages that belong to no run (the event
    bus's own control messages); every message of a job requires it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str | None = None
    task_id: str | None = None
    call_id: str | None = None
    trace_id: str | None = None
    tool_trace_id: str | None = None

    def correlation(self) -> dict[str, str]:
        """The correlation ids this message carries (only those that are set)."""
        fields = self.__dict__
        return {name: fields[name] for name in CORRELATION_KEYS if fields[name] is not None}

    def correlated(self) -> dict[str, Any]:
        """Keyword arguments that give a reply the same correlation as this message."""
        return dict(self.correlation())


class Ping(Message):
    """Liveness probe; any typed actor answers with :class:`Pong`."""

    kind: Literal["ping"] = "ping"


class Pong(Message):
    """Answer to :class:`Ping`, naming the actor that answered."""

    kind: Literal["pong"] = "pong"
    actor: str


class WorkRequest(Message):
    """A conductor asks a worker to perform one capability.

    ``task_id`` and ``call_id`` are always set by the conductor: ``call_id`` correlates the
    delegation events, ``task_id`` the worker's own lifecycle events for this attempt.
    """

    kind: Literal["work.request"] = "work.request"
    run_id: str
    capability: str
    objective: str
    phase: str = "run"
    params: dict[str, JsonValue] = Field(default_factory=dict)


class WorkResult(Message):
    """A worker's answer to :class:`WorkRequest`.

    ``success=False`` with ``blocked_reason`` set means the worker could not proceed for a reason
    outside itself (missing input, a decision only a person can take); the conductor reports it
    as ``conductor.capability.blocked`` rather than failed.
    """

    kind: Literal["work.result"] = "work.result"
    run_id: str
    success: bool
    summary: str
    data: dict[str, JsonValue] = Field(default_factory=dict)
    blocked_reason: str | None = None


class StartRun(Message):
    """Asks a conductor to conduct one whole run."""

    kind: Literal["run.start"] = "run.start"
    run_id: str
    objective: str
    params: dict[str, JsonValue] = Field(default_factory=dict)


class RunOutcome(Message):
    """What a conductor reports when its run ends."""

    kind: Literal["run.outcome"] = "run.outcome"
    run_id: str
    status: Literal["completed", "failed"]
    summary: str
    report_path: str | None = None
    error_code: str | None = None
    """For a failed run: a short stable token for the terminal event (``run_failed`` if unset)."""
    data: dict[str, JsonValue] = Field(default_factory=dict)


class OpenRun(Message):
    """Tells the event bus where a run's ``events.jsonl`` lives, before its first event."""

    kind: Literal["bus.open_run"] = "bus.open_run"
    run_id: str
    events_path: str
    resume: bool = False
    """Continue an existing events file (a resumed or judged run) instead of creating one."""


class CloseRun(Message):
    """Tells the event bus a run has ended: write what is pending, sync and close its file."""

    kind: Literal["bus.close_run"] = "bus.close_run"
    run_id: str


class DrainEvents(Message):
    """Wakes the event bus to write what producers have queued (sent at most once per wake-up)."""

    kind: Literal["bus.drain"] = "bus.drain"


class FlushEvents(Message):
    """Asks the event bus to write everything queued so far; the reply comes after the commit."""

    kind: Literal["bus.flush"] = "bus.flush"


AnyMessage = Annotated[
    Ping
    | Pong
    | WorkRequest
    | WorkResult
    | StartRun
    | RunOutcome
    | OpenRun
    | CloseRun
    | DrainEvents
    | FlushEvents,
    Field(discriminator="kind"),
]
"""The discriminated union of every message type."""

MESSAGE_ADAPTER: TypeAdapter[AnyMessage] = TypeAdapter(AnyMessage)
"""Validates and (de)serialises any message: ``MESSAGE_ADAPTER.validate_json(m.model_dump_json())``."""
