"""A small system under test for the trajectory runner's tests, and helpers to build specs and slots.

The SUT (:func:`create_app`, an app factory taking the environment mapping) is an assistant API
in front of the jira and slack twins. It calls them with httpx, forwarding the trajectory header,
so the twins' journals attribute every call. A new session's id is derived from the trajectory
id (a message without ``session_id`` starts one afresh), so the same spec gives the same answers.

- ``POST /api/assistant/message`` ``{session_id?, message}``: "create SUMMARY" creates an OPS issue;
  "count issues" counts them; "tell slack TEXT" posts in #general; "leak" answers with the Jira
  token (a careless SUT; the record must redact it); anything else gets help. Answers
  ``{session_id, answer, route, data}``.
- ``GET /api/assistant/session/{id}``: the session's turns.
- ``POST /api/issues`` ``{summary}``: Jira's own answer to the create (its ``self`` has the twin's URL).
- ``POST /api/later`` ``{summary}``: 202 at once; the issue is created after the answer is sent.
- ``GET|POST /api/plain``: plain text, not JSON.
- ``GET /page``: a page with a form that creates an issue through ``/api/issues``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from orchestrator.agents.runner import Slot, SlotSettings
from orchestrator.config import SutSection
from orchestrator.policy.chaos import ChaosConfig
from orchestrator.scenarios import Scenario, TrajectorySpec, trajectory_id

TRAJECTORY = "X-Orchestrate-Trajectory"
APP = "tests.scenarios.runner_support:create_app"
SUT_ENV = {
    "JIRA_URL": "{twins.jira.url}",
    "JIRA_TOKEN": "{twins.jira.token}",
    "SLACK_URL": "{twins.slack.url}",
    "SLACK_TOKEN": "{twins.slack.token}",
}
JIRA_TOKEN = "jira-twin-valid"
DATA: dict[str, Any] = {
    "jira": {"projects": [{"key": "OPS", "name": "Operations", "id": "10100"}], "issues": []},
}

PAGE = """<!doctype html>
<html lang="en"><head><title>Issues</title></head>
<body>
<h1>New issue</h1>
<label>Summary <input id="summary"></label>
<button id="create">Create</button>
<p id="result"></p>
<script>
document.getElementById("create").addEventListener("click", async () => {
  const summary = document.getElementById("summary").value;
  const answer = await fetch("/api/issues", {method: "POST", headers: {"Content-Type": "application/json"},
                                             body: JSON.stringify({summary})});
  const body = await answer.json();
  document.getElementById("result").textContent = "Created " + body.key;
});
</script>
</body></html>
"""


def create_app(env: Mapping[str, str]) -> Starlette:
    """The SUT, talking to the twins named in ``env`` (see the module docstring)."""
    jira_url, jira_token = env.get("JIRA_URL", ""), env.get("JIRA_TOKEN", "")
    slack_url, slack_token = env.get("SLACK_URL", ""), env.get("SLACK_TOKEN", "")
    sessions: dict[str, list[dict[str, Any]]] = {}

    def client(request: Request) -> httpx.AsyncClient:
        trajectory = request.headers.get(TRAJECTORY)
        return httpx.AsyncClient(timeout=5.0, headers={TRAJECTORY: trajectory} if trajectory else None)

    async def create_issue(http: httpx.AsyncClient, summary: str) -> httpx.Response:
        fields = {"project": {"key": "OPS"}, "summary": summary, "issuetype": {"name": "Task"}}
        return await http.post(
            f"{jira_url}/issue", json={"fields": fields}, headers={"Authorization": f"Bearer {jira_token}"}
        )

    async def reply(http: httpx.AsyncClient, message: str) -> tuple[str, str, dict[str, Any]]:
        if message.startswith("create "):
            answer = await create_issue(http, message.removeprefix("create "))
            if answer.status_code != 201:
                return "create_issue", f"Jira failed with {answer.status_code}", {"ok": False}
            key = answer.json()["key"]
            return "create_issue", f"Created {key}", {"ok": True, "key": key}
        if message == "count issues":
            answer = await http.get(
                f"{jira_url}/search",
                params={"jql": "project = OPS"},
                headers={"Authorization": f"Bearer {jira_token}"},
            )
            total = answer.json().get("total", 0)
            return "count_issues", f"There are {total} issues", {"ok": True, "total": total}
        if message.startswith("tell slack "):
            answer = await http.post(
                f"{slack_url}/chat.postMessage",
                json={"channel": "C01GENERAL", "text": message.removeprefix("tell slack ")},
                headers={"Authorization": f"Bearer {slack_token}"},
            )
            return "notify", "Posted in #general", {"ok": bool(answer.json().get("ok"))}
        if message == "leak":
            return "leak", f"My Jira token is {jira_token}", {"token_used": jira_token}
        return "help", "I can create issues, count them and tell Slack", {"ok": True}

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def message(request: Request) -> Response:
        body = await request.json()
        session_id = body.get("session_id")
        if not session_id:  # a new conversation, named after its trajectory so replays answer alike
            session_id = f"s-{request.headers.get(TRAJECTORY) or uuid.uuid4().hex}"
            sessions[session_id] = []
        async with client(request) as http:
            route, text, data = await reply(http, body["message"])
        sessions.setdefault(session_id, []).append({"message": body["message"], "answer": text})
        return JSONResponse({"session_id": session_id, "answer": text, "route": route, "data": data})

    async def session(request: Request) -> Response:
        turns = sessions.get(request.path_params["session_id"])
        if turns is None:
            return JSONResponse({"message": "no such session"}, status_code=404)
        return JSONResponse({"session_id": request.path_params["session_id"], "turns": turns})

    async def issues(request: Request) -> Response:
        body = await request.json()
        async with client(request) as http:
            answer = await create_issue(http, body["summary"])
        return JSONResponse(answer.json(), status_code=answer.status_code)

    async def later(request: Request) -> Response:
        body = await request.json()
        trajectory = request.headers.get(TRAJECTORY)

        async def create() -> None:
            async with httpx.AsyncClient(timeout=5.0, headers={TRAJECTORY: trajectory or ""}) as http:
                await create_issue(http, body["summary"])

        return JSONResponse({"accepted": True}, status_code=202, background=BackgroundTask(create))

    async def plain(request: Request) -> Response:
        return PlainTextResponse("just text")

    async def page(request: Request) -> Response:
        return HTMLResponse(PAGE)

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/api/assistant/message", message, methods=["POST"]),
            Route("/api/assistant/session/{session_id}", session),
            Route("/api/issues", issues, methods=["POST"]),
            Route("/api/later", later, methods=["POST"]),
            Route("/api/plain", plain, methods=["GET", "POST"]),
            Route("/page", page),
        ]
    )


def sut_section(**fields: Any) -> SutSection:
    """``[sut]`` serving :func:`create_app` in process, wired to the slot's jira and slack twins."""
    return SutSection.model_validate({"app": APP, "env": SUT_ENV, "request_timeout_s": 10, **fields})


def slot_settings(tmp_path: Path, **fields: Any) -> SlotSettings:
    values: dict[str, Any] = {
        "project_root": tmp_path,
        "sut": sut_section(),
        "twins": ("jira", "slack"),
        "log_dir": tmp_path / "logs",
        **fields,
    }
    return SlotSettings.model_validate(values)


@contextlib.contextmanager
def running_slot(settings: SlotSettings, name: str = "slot-1") -> Iterator[Slot]:
    slot = Slot(settings, name=name)
    slot.start()
    try:
        yield slot
    finally:
        slot.stop()


def scenario(steps: list[dict[str, Any]], *, data: dict[str, Any] | None = None, **fields: Any) -> Scenario:
    """A scenario using the jira and slack twins (jira seeded with project OPS) with ``steps``."""
    context = fields.pop("context", {})
    document: dict[str, Any] = {
        "id": "runner-check",
        "domain": "tests",
        "persona": {"role": "support engineer"},
        "intent": "check the runner",
        "context": {"services": ["jira", "slack"], "data": DATA if data is None else data, **context},
        "steps": steps,
        "satisfaction_criteria": ["it works"],
        **fields,
    }
    return Scenario.model_validate(document)


def spec(
    scenario_: Scenario,
    *,
    index: int = 1,
    seed: int = 7,
    chaos: ChaosConfig | None = None,
    deadline_s: float = 30.0,
) -> TrajectorySpec:
    return TrajectorySpec(
        run_id="run-1",
        trajectory_id=trajectory_id(scenario_.id, index),
        index=index,
        seed=seed,
        scenario=scenario_,
        chaos=chaos,
        chaos_profile="test" if chaos is not None else None,
        deadline_s=deadline_s,
    )
