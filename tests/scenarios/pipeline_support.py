"""A small scenario project for the pipeline's tests: an assistant SUT in front of the jira twin.

The SUT (``ticketdesk.py``, written into the project and served in process per slot through
``[sut] app``) answers ``POST /api/assistant/message``: "file TEXT" creates one OPS issue and
answers "Filed OPS-N"; "file twice TEXT" creates two (a defect the anti-pattern catches);
"break" answers 500 and files nothing; "garbage" answers HTML, not JSON. It forwards the
trajectory header to the twin and derives a new session's id from it, so seeded runs compare
equal.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SUT_MODULE = '''
"""ticketdesk: an assistant that files Jira tickets (a test system under test)."""

import hashlib

import httpx
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

HEADER = "x-orchestrate-trajectory"


def create_app(env):
    jira, token = env["JIRA_URL"], env["JIRA_TOKEN"]

    async def health(request):
        return PlainTextResponse("ok")

    async def message(request):
        body = await request.json()
        trajectory = request.headers.get(HEADER, "")
        session = body.get("session_id") or hashlib.sha256(trajectory.encode()).hexdigest()[:16]
        text = body["message"]
        if text == "garbage":
            return PlainTextResponse("<html>not an answer</html>")
        if text == "break":
            return JSONResponse({"session_id": session, "answer": "Something broke."}, status_code=500)
        copies = 2 if text.startswith("file twice ") else 1
        summary = text.removeprefix("file twice ").removeprefix("file ")
        keys = []
        headers = {HEADER: trajectory, "Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(timeout=5, headers=headers) as client:
            for _ in range(copies):
                made = await client.post(f"{jira}/issue", json={"fields": {
                    "project": {"key": "OPS"}, "summary": summary, "issuetype": {"name": "Task"}}})
                if made.status_code >= 400:
                    return JSONResponse({"session_id": session, "answer": f"Jira said {made.status_code}."},
                                        status_code=502)
                keys.append(made.json()["key"])
        return JSONResponse({"session_id": session, "answer": f"Filed {', '.join(keys)}: {summary}",
                             "data": {"keys": keys}, "route": "file_ticket"})

    return Starlette(routes=[
        Route("/health", health),
        Route("/api/assistant/message", message, methods=["POST"]),
    ])
'''

CONFIG = """\
[project]
name = "ticketdesk"

[sut]
app = "ticketdesk:create_app"
env = { JIRA_URL = "{twins.jira.url}", JIRA_TOKEN = "{twins.jira.token}" }

[scenarios]
count = 3
"""

DATA: dict[str, Any] = {
    "jira": {"projects": [{"key": "OPS", "name": "Operations", "id": "10100"}], "issues": []}
}


def scenario_yaml(
    scenario_id: str,
    message: str,
    *,
    domain: str = "tickets",
    extra: str = "",
    criteria: str = "",
) -> str:
    """A scenario that sends ``message`` and wants exactly one issue and a "Filed" answer."""
    return f"""\
id: {scenario_id}
domain: {domain}
version: 1
persona: {{role: support engineer, expertise: expert, goals: [file a ticket]}}
context:
  services: [jira]
  data: {json.dumps(DATA)}
intent: file a ticket through the assistant
steps:
  - id: ask
    user: "{message}"
satisfaction_criteria:
  - label: exactly one issue filed
    twin_state: {{service: jira, path: "$.issues[*]", count: 1}}
  - label: the answer names the ticket
    step: {{id: ask, contains: "Filed OPS-"}}
{criteria}anti_patterns:
  - label: more than one issue filed
    twin_state: {{service: jira, path: "$.issues[*]", count: {{min: 2}}}}
criteria_mode: all
{extra}"""


def make_project(root: Path, scenarios: dict[str, str] | None = None, *, config: str = CONFIG) -> Path:
    """Write the project (config, SUT module, catalog) under ``root`` and return it."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "orchestrate.toml").write_text(config, encoding="utf-8")
    (root / "ticketdesk.py").write_text(SUT_MODULE, encoding="utf-8")
    chosen = (
        scenarios
        if scenarios is not None
        else {"file-ticket": scenario_yaml("file-ticket", "file Printer on fire")}
    )
    for scenario_id, text in chosen.items():
        domain = re.search(r"^domain: (\S+)$", text, re.MULTILINE)
        folder = root / ".scenarios" / "catalog" / (domain.group(1) if domain else "tickets")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{scenario_id}.scenario.yaml").write_text(text, encoding="utf-8")
    return root


_VOLATILE = frozenset(
    {"run_id", "started_at", "finished_at", "duration_ms", "at_ms", "slot", "timestamp", "judged_at"}
)
_TIMESTAMP_KEY = re.compile(r"(^|_)(created|updated|at|timestamp|time|date)$|At$")


def masked(value: Any) -> Any:
    """``value`` without what may differ between two runs of one seed: times, durations, slots."""
    if isinstance(value, dict):
        return {
            key: "<masked>" if key in _VOLATILE or _TIMESTAMP_KEY.search(key) else masked(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [masked(item) for item in value]
    return value


def trajectory_documents(run_dir: Path) -> dict[str, Any]:
    """Every trajectory file of a run, masked, by file name."""
    return {
        path.name: masked(json.loads(path.read_text(encoding="utf-8")))
        for path in sorted((run_dir / "trajectories").glob("*.json"))
    }
