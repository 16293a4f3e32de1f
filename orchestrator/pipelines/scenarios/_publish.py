"""A finished trajectory's events onto the event bus, with the trajectory's correlation.

A runner hands back a whole trajectory (a slot may run on another machine, so nothing per
event crosses back); the conductor publishes its events in one go as ``trajectory.*`` events,
each naming its trajectory, scenario and step, so the viewer and exporters see the same events
as the trajectory file holds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Protocol

import structlog

from orchestrator.correlation import correlation_scope
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
    """Emit every event of ``trajectory`` (see the module docstring); a bad one is logged, not fatal.

    The system under test's own model and tool calls (spans it exported, taken in during the
    run) are also emitted as ``llm.call.*`` and ``worker.tool.*`` events, each with an id of its
    own derived from the trajectory, so the viewer's grid and every exporter see them as calls.
    """
    for index, event in enumerate(trajectory.events):
        common = {
            "trajectory_id": trajectory.id,
            "scenario_id": trajectory.scenario_id,
            "step_id": event.step_id,
            "at_ms": event.at_ms,
        }
        try:
            emitter.emit(f"trajectory.{event.type}", **common, **_payload(event))
            if event.detail.get("source") == "otlp":
                _publish_sut_call(emitter, trajectory.id, index, event.detail)
        except EventSchemaError as exc:
            log.warning("a trajectory event could not be recorded", trajectory=trajectory.id, error=str(exc))


def _publish_sut_call(emitter: _Emitter, trajectory_id: str, index: int, detail: Mapping[str, Any]) -> None:
    """A model or tool call the SUT made, as the call events our own workers' calls are."""
    call_id = hashlib.sha256(f"{trajectory_id}/{index}".encode()).hexdigest()[:16]
    duration = float(detail.get("duration_ms") or 0.0)
    error = detail.get("error")
    if detail.get("kind") == "llm_call":
        llm: Mapping[str, Any] = detail.get("llm") or {}
        model, provider = str(llm.get("model") or "unknown"), str(llm.get("provider") or "unknown")
        with correlation_scope(trace_id=call_id):
            emitter.emit("llm.call.started", model=model, provider=provider)
            if error:
                emitter.emit(
                    "llm.call.failed", model=model, provider=provider, duration_ms=duration, error=str(error)
                )
                return
            tokens_in, tokens_out = int(llm.get("input_tokens") or 0), int(llm.get("output_tokens") or 0)
            usage = {
                "input_tokens": tokens_in,
                "output_tokens": tokens_out,
                "total_tokens": tokens_in + tokens_out,
            }
            emitter.emit(
                "llm.call.completed", model=model, provider=provider, duration_ms=duration, usage=usage
            )
    elif detail.get("kind") == "tool_call":
        tool: Mapping[str, Any] = detail.get("tool") or {}
        name = f"sut:{tool.get('name') or 'tool'}"
        with correlation_scope(tool_trace_id=call_id):
            emitter.emit("worker.tool.call", tool_name=name, args_summary="")
            emitter.emit(
                "worker.tool.result",
                tool_name=name,
                success=not error,
                duration_ms=duration,
                **({"error": str(error)} if error else {}),
            )


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
