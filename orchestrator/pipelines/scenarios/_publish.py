"""A finished trajectory's events onto the event bus, with the trajectory's correlation.

A runner hands back a whole trajectory (a slot may run on another machine, so nothing per
event crosses back); the conductor publishes its events in one go as ``trajectory.*`` events,
each naming its trajectory, scenario and step, so the viewer and exporters see the same events
as the trajectory file holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import structlog

from orchestrator.errors import EventSchemaError
from orchestrator.scenarios import Trajectory, TrajectoryEvent

__all__ = ["publish_trajectory"]

log = structlog.get_logger(__name__)

_API_CALL_FIELDS = (
    "service",
    "method",
    "path",
    "route",
    "request_summary",
    "response_code",
    "response_summary",
    "duration_ms",
)


class _Emitter(Protocol):
    def emit(self, event_type: str, **payload: Any) -> None: ...


def publish_trajectory(emitter: _Emitter, trajectory: Trajectory) -> None:
    """Emit every event of ``trajectory`` (see the module docstring); a bad one is logged, not fatal."""
    for event in trajectory.events:
        common = {
            "trajectory_id": trajectory.id,
            "scenario_id": trajectory.scenario_id,
            "step_id": event.step_id,
            "at_ms": event.at_ms,
        }
        try:
            emitter.emit(f"trajectory.{event.type}", **common, **_payload(event))
        except EventSchemaError as exc:
            log.warning("a trajectory event could not be recorded", trajectory=trajectory.id, error=str(exc))


def _payload(event: TrajectoryEvent) -> dict[str, Any]:
    detail: Mapping[str, Any] = event.detail
    if event.type == "api_call":
        payload = {name: detail.get(name) for name in _API_CALL_FIELDS}
        payload["method"] = str(payload["method"] or "")
        payload["path"] = str(payload["path"] or "")
        payload["service"] = str(payload["service"] or "")
        payload["request_summary"] = str(payload["request_summary"] or "")
        payload["response_summary"] = str(payload["response_summary"] or "")
        payload["duration_ms"] = float(payload["duration_ms"] or 0.0)
        chaos = detail.get("chaos")
        payload["chaos"] = (
            chaos if isinstance(chaos, Mapping) and {"mode", "probability", "seed"} <= chaos.keys() else None
        )
        return payload
    if event.type == "error":
        return {"error": event.description or str(detail.get("error", "error"))}
    return {"description": event.description, "detail": dict(detail) or None}
