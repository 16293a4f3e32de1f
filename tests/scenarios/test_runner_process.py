"""A slot's own SUT process: given the slot's twins, restarted when it dies, stopped with the slot."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from orchestrator.agents.runner import SlotSettings, run_trajectory
from orchestrator.scenarios import Trajectory
from tests.scenarios.runner_support import running_slot, scenario, spec

# A system under test of its own: one file, no orchestrate imports, the twins from its environment.
SUT_SCRIPT = """
import os, sys
import httpx, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

JIRA, TOKEN = os.environ["JIRA_URL"], os.environ["JIRA_TOKEN"]

async def health(request):
    return PlainTextResponse("ok")

async def message(request):
    body = await request.json()
    headers = {"Authorization": "Bearer " + TOKEN}
    trajectory = request.headers.get("X-Orchestrate-Trajectory")
    if trajectory:
        headers["X-Orchestrate-Trajectory"] = trajectory
    fields = {"project": {"key": "OPS"}, "summary": body["message"]}
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.post(JIRA + "/issue", json={"fields": fields}, headers=headers)
    return JSONResponse({"session_id": "one", "answer": "Created " + answer.json().get("key", "nothing"),
                         "pid": os.getpid(), "secret_seen": os.environ.get("SUT_API_KEY")})

app = Starlette(routes=[Route("/health", health), Route("/api/assistant/message", message, methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


def pid_of(trajectory: Trajectory) -> int:
    answer = trajectory.steps[0].json_body
    assert isinstance(answer, dict)
    pid = answer["pid"]
    assert isinstance(pid, int)
    return pid


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "waitid"), reason="waits for the killed process with waitid")
def test_a_started_sut_is_restarted_after_it_died_and_stopped_with_the_slot(tmp_path: Path) -> None:
    (tmp_path / "sut.py").write_text(SUT_SCRIPT)
    settings = SlotSettings.model_validate(
        {
            "project_root": tmp_path,
            "twins": ["jira"],
            "log_dir": tmp_path / "logs",
            "sut": {
                "base_url": "http://127.0.0.1:{port}",
                "start_command": ["python", "sut.py", "{port}"],
                "env": {
                    "JIRA_URL": "{twins.jira.url}",
                    "JIRA_TOKEN": "{twins.jira.token}",
                    "SUT_API_KEY": "sk-not-for-the-record",
                },
                "start_timeout_s": 30,
            },
        }
    )
    the_scenario = scenario(
        [{"id": "make", "user": "Printer on fire"}],
        data={"jira": {"projects": [{"key": "OPS", "name": "Operations"}], "issues": []}},
        context={"services": ["jira"]},
    )
    with running_slot(settings) as slot:
        first = run_trajectory(slot, spec(the_scenario, index=1))
        assert first.status == "completed", first.error
        assert first.steps[0].text == "Created OPS-1"
        # Its environment had the slot's twin and token; a secret it was given never reaches the record.
        assert first.steps[0].json_body["secret_seen"] == "[redacted]"  # type: ignore[index,call-overload]
        assert (tmp_path / "logs" / "slot-1-sut.log").exists()
        killed = pid_of(first)
        assert slot.sut is not None and slot.sut.pid is not None
        os.killpg(slot.sut.pid, signal.SIGKILL)
        # Wait until it is dead (without reaping it: the slot's own handle still waits for it).
        os.waitid(os.P_PID, slot.sut.pid, os.WEXITED | os.WNOWAIT)

        second = run_trajectory(slot, spec(the_scenario, index=2))
        assert second.status == "completed", second.error
        restarted = [
            e for e in second.events if e.type == "system_event" and "started again" in e.description
        ]
        assert len(restarted) == 1 and restarted[0].detail == {"sut": "restarted"}
        assert second.steps[0].text == "Created OPS-1"
        survivor = pid_of(second)
        assert survivor != killed
        assert not [e for e in first.events if "started again" in e.description]
    assert gone(survivor)
