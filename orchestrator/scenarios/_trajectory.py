"""A trajectory: one execution of a scenario, as a runner records it and a judge reads it.

The trajectory file (``trajectories/<scenario>-<NNN>.json``) is :class:`Trajectory` as JSON. It
holds summaries, not dumps, with secrets redacted; but it holds everything a rule judge needs:
each step's status and answer (text and JSON, capped), every request the twins served (from
their journals, as ``api_call`` events with the time since the trajectory began), and the
twins' final state.

Keys scripts rely on: ``id``, ``scenario_id``, ``scenario_version``, ``run_id``, ``seed``,
``status``, ``chaos`` (a list of injections, empty when none), ``events`` (each with ``type``)
and ``final_state``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

__all__ = [
    "TRAJECTORY_SCHEMA_VERSION",
    "ChaosRecord",
    "EventType",
    "StepResult",
    "StepStatus",
    "Trajectory",
    "TrajectoryEvent",
    "TrajectoryStatus",
]

TRAJECTORY_SCHEMA_VERSION = 1

TrajectoryStatus = Literal["completed", "errored", "timed_out"]
StepStatus = Literal["passed", "failed", "errored", "skipped"]
EventType = Literal["user_action", "agent_action", "api_call", "state_transition", "system_event", "error"]


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ChaosRecord(_Record):
    """One fault or delay a twin injected during the trajectory."""

    mode: str
    twin: str
    route: str | None
    probability: float
    seed: int
    delay_ms: float | None = None
    at_ms: float = Field(description="Milliseconds since the trajectory began.")


class TrajectoryEvent(_Record):
    """One event of a trajectory, in order. ``detail`` holds the event type's own fields.

    - ``user_action``: a step's request and a summary of its answer;
    - ``agent_action``: what the system under test reported doing (its answer's route, tools);
    - ``api_call``: a request a twin served (service, method, path, request_summary,
      response_code, response_summary, duration_ms, chaos);
    - ``state_transition``: an entity a twin created, changed or removed;
    - ``system_event``: the slot's doings (twins reset, the system under test restarted);
    - ``error``: what went wrong, naming the step.
    """

    type: EventType
    at_ms: float = Field(description="Milliseconds since the trajectory began.")
    step_id: str | None = None
    description: str = ""
    detail: dict[str, JsonValue] = Field(default_factory=dict)


class StepResult(_Record):
    """A step as it ran: its request, a summary of its answer, and whether its expectation held."""

    id: str
    kind: Literal["user", "http", "browser", "wait_for", "twin"]
    status: StepStatus
    duration_ms: float = 0.0
    request: dict[str, JsonValue] = Field(default_factory=dict)
    response_status: int | None = None
    text: str | None = Field(default=None, description="The answer's text (capped).")
    json_body: JsonValue = Field(default=None, alias="json", description="The answer's JSON (capped).")
    failures: list[str] = Field(default_factory=list, description="Unmet expectations or the error.")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)


class Trajectory(_Record):
    """The trajectory file (see the module docstring)."""

    schema_version: int = TRAJECTORY_SCHEMA_VERSION
    id: str = Field(description="<scenario id>-<NNN>, 1-based.")
    scenario_id: str
    scenario_version: int
    domain: str
    run_id: str
    index: int = Field(ge=1)
    seed: int
    slot: str
    started_at: str
    finished_at: str
    duration_ms: float
    status: TrajectoryStatus
    error: str | None = None
    chaos_profile: str | None = None
    chaos: list[ChaosRecord] = Field(default_factory=list)
    steps: list[StepResult] = Field(default_factory=list)
    events: list[TrajectoryEvent] = Field(default_factory=list)
    final_state: dict[str, JsonValue] = Field(
        default_factory=dict, description="{twins: {name: state}, session: ... , last_responses: {...}}"
    )
    outcome: dict[str, JsonValue] = Field(default_factory=dict)

    @property
    def chaos_injected(self) -> bool:
        return bool(self.chaos)

    def document(self) -> dict[str, Any]:
        """The JSON document written to the trajectory file."""
        return self.model_dump(mode="json", by_alias=True)
