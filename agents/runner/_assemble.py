"""Putting a trajectory's record together: each step's events in order, the outcome in numbers and words.

A step's events come in a fixed order, so the same trajectory always reads the same: its own
event (``user_action``, or ``system_event`` for twin and wait steps), the requests the twins
served during it (``api_call``, by twin, then in the order the twin received them), what the
system under test said it did (``agent_action``), and the ``error`` that ended the trajectory
there, if one did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orchestrator.agents.runner._context import StepOutcome
from orchestrator.agents.runner._record import api_call_event, chaos_record, entry_at_ms
from orchestrator.scenarios import (
    ChaosRecord,
    ScenarioStep,
    StepResult,
    TrajectoryEvent,
    TrajectoryStatus,
    step_id_of,
    step_kind,
)

__all__ = ["Marks", "StepRecord", "outcome_of", "skipped", "step_events"]

Marks = dict[str, int]
"""Per twin, the journal number the next request will get."""


@dataclass
class StepRecord:
    """A step as it ran (or was skipped), with the journal entries of the requests made meanwhile."""

    step_id: str
    result: StepResult
    outcome: StepOutcome | None = None
    at_ms: float = 0.0
    ranges: tuple[Marks, Marks] | None = None
    """The twins' marks before and after the step: its requests are numbered in between."""
    entries: dict[tuple[str, int], dict[str, Any]] = field(default_factory=dict)
    """Journal entries by (twin, number)."""


def skipped(steps: Sequence[ScenarioStep]) -> list[StepResult]:
    """Every step of a scenario as not run."""
    return [
        StepResult(id=step_id_of(step, index), kind=step_kind(step), status="skipped")
        for index, step in enumerate(steps)
    ]


def step_events(
    record: StepRecord, *, started_wall: float, end_ms: float
) -> tuple[list[TrajectoryEvent], list[ChaosRecord]]:
    """A step's events in their order (see the module docstring) and the chaos its requests met."""
    outcome = record.outcome
    if outcome is None:
        return [], []
    events: list[TrajectoryEvent] = []
    chaos: list[ChaosRecord] = []
    if outcome.end is None:
        detail = dict(outcome.detail)
        if outcome.event_type == "user_action":
            detail = {"request": outcome.request, **detail}
        events.append(
            TrajectoryEvent(
                type=outcome.event_type,
                at_ms=record.at_ms,
                step_id=record.step_id,
                description=outcome.description,
                detail=detail,
            )
        )
    for key in sorted(record.entries):
        entry = record.entries[key]
        at_ms = entry_at_ms(entry, started_wall, record.at_ms)
        events.append(api_call_event(entry, step_id=record.step_id, at_ms=at_ms))
        injected = chaos_record(entry, at_ms=at_ms)
        if injected is not None:
            chaos.append(injected)
    if outcome.agent is not None:
        events.append(
            TrajectoryEvent(
                type="agent_action",
                at_ms=round(record.at_ms + record.result.duration_ms, 3),
                step_id=record.step_id,
                description=f"the system under test answered through {outcome.agent.get('route')}",
                detail=outcome.agent,
            )
        )
    if outcome.end is not None:
        error = outcome.error or outcome.end
        events.append(
            TrajectoryEvent(
                type="error",
                at_ms=end_ms if outcome.end == "timed_out" else record.at_ms,
                step_id=record.step_id,
                description=error,
                detail={"error": error, "status": outcome.end, "request": outcome.request},
            )
        )
    return events, chaos


def outcome_of(
    status: TrajectoryStatus,
    error: str | None,
    ended_at: str | None,
    steps: Sequence[StepResult],
    *,
    api_calls: int,
    injections: int,
    slot_failure: bool = False,
) -> dict[str, Any]:
    """The trajectory's ``outcome``: a one-line summary and the counts a report shows.

    ``slot_failure`` is true when the trajectory errored because its slot (the twins or the
    system under test) could not start: the harness failed, not the system under test's answers.
    """
    counts = {
        name: sum(step.status == name for step in steps)
        for name in ("passed", "failed", "errored", "skipped")
    }
    if status == "completed":
        parts = [f"{counts['passed']} of {len(steps)} steps passed"]
        parts += [f"{counts[name]} {name}" for name in ("failed", "skipped") if counts[name]]
        summary = f"completed: {', '.join(parts)}; {api_calls} API calls"
    else:
        where = f" at step {ended_at}" if ended_at else ""
        summary = f"{status}{where}: {error}"
    if injections:
        summary += f"; {injections} chaos injections"
    return {
        "summary": summary,
        "steps_passed": counts["passed"],
        "steps_failed": counts["failed"],
        "steps_errored": counts["errored"],
        "steps_skipped": counts["skipped"],
        "api_calls": api_calls,
        "chaos_injections": injections,
        "slot_failure": slot_failure,
    }
