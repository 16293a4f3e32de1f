"""What the judge's tests share: hand-built scenarios and trajectories, and a model that must not be asked."""

from __future__ import annotations

from typing import Any

import httpx

from orchestrator.llm import LlmClient, LlmSection
from orchestrator.scenarios import ChaosRecord, Scenario, StepResult, Trajectory, TrajectoryEvent

JIRA_STATE: dict[str, Any] = {
    "issues": [
        {
            "key": "OPS-1",
            "summary": "Login page is down",
            "status": "open",
            "labels": ["bug", "p1"],
            "votes": 3,
        },
        {"key": "OPS-2", "summary": "Typo on pricing", "status": "done", "labels": [], "votes": 0},
    ],
    "projects": [{"key": "OPS", "public": True}],
}


def scenario(**fields: Any) -> Scenario:
    """A scenario file's document, with ``fields`` replacing its keys."""
    document: dict[str, Any] = {
        "id": "file-a-bug",
        "domain": "support",
        "persona": {
            "role": "support engineer",
            "expertise": "novice",
            "goals": ["get the outage tracked"],
        },
        "context": {"services": ["jira", "slack"]},
        "intent": "File a Jira bug for the login outage reported in Slack",
        "steps": [{"id": "ask", "user": "Please file a bug for the login outage"}],
        "satisfaction_criteria": ["The assistant filed a bug for the login outage"],
    }
    document.update(fields)
    return Scenario.model_validate(document)


def api_call(
    at_ms: float,
    service: str,
    method: str,
    path: str,
    code: int,
    *,
    chaos: dict[str, Any] | None = None,
) -> TrajectoryEvent:
    return TrajectoryEvent(
        type="api_call",
        at_ms=at_ms,
        description=f"{service} {method} {path}",
        detail={
            "service": service,
            "method": method,
            "path": path,
            "request_summary": None,
            "response_code": code,
            "response_summary": None,
            "duration_ms": 4.0,
            "chaos": chaos,
        },
    )


def step(step_id: str = "ask", status: str = "passed", **fields: Any) -> StepResult:
    document: dict[str, Any] = {"id": step_id, "kind": "user", "status": status, **fields}
    return StepResult.model_validate(document)


DEFAULT_EVENTS = [
    api_call(120, "slack", "GET", "/api/conversations.history", 200),
    api_call(300, "jira", "POST", "/rest/api/2/issue", 201),
    api_call(450, "jira", "GET", "/rest/api/2/issue/OPS-1?fields=summary", 200),
    api_call(2_500, "jira", "POST", "/rest/api/2/issue/OPS-1/comment", 201),
]


def trajectory(**fields: Any) -> Trajectory:
    """A completed trajectory of :func:`scenario`, with ``fields`` replacing its keys."""
    document: dict[str, Any] = {
        "id": "file-a-bug-001",
        "scenario_id": "file-a-bug",
        "scenario_version": 1,
        "domain": "support",
        "run_id": "2026-01-02-001",
        "index": 1,
        "seed": 11,
        "slot": "slot-1",
        "started_at": "2026-01-02T10:00:00Z",
        "finished_at": "2026-01-02T10:00:03Z",
        "duration_ms": 3000.0,
        "status": "completed",
        "steps": [
            step(
                "ask",
                request={"user": "Please file a bug for the login outage"},
                response_status=200,
                text="Done: I filed OPS-1 (Login page is down) and told the channel.",
                json={"reply": "Filed OPS-1", "issue": {"key": "OPS-1", "priority": 1}, "ok": True},
            )
        ],
        "events": DEFAULT_EVENTS,
        "final_state": {"twins": {"jira": JIRA_STATE, "slack": {"messages": []}}},
    }
    document.update(fields)
    return Trajectory.model_validate(document)


def chaos_record(mode: str, twin: str, route: str | None, at_ms: float) -> ChaosRecord:
    return ChaosRecord(mode=mode, twin=twin, route=route, probability=0.5, seed=11, at_ms=at_ms)


def untouchable_model(asked: list[httpx.Request]) -> LlmClient:
    """A configured client whose every request is recorded and refused: for "the model is not asked"."""

    def refuse(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return httpx.Response(400, json={"error": {"message": "this test must not ask a model"}})

    return LlmClient(
        LlmSection(model="never-asked", max_retries=0), env={}, transport=httpx.MockTransport(refuse)
    )
