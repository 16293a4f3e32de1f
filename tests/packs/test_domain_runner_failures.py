"""The domain runner when the assistant fails: every way a step ends ``blocked`` (and why), the
steps after an assistant that is down, secrets kept out of every file and event, and the
details of unmet expectations.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from orchestrator.agents.domain_runner import AskSettings, run_domain_scenario
from orchestrator.assistant_api import resolve_headers
from orchestrator.config import AssistantSection
from orchestrator.errors import ConfigError
from tests.loopback import serve_app
from tests.packs.domain_support import (
    FakeAssistant,
    Recorded,
    json_answer,
    run,
    scenario,
    serve_example,
    step_file,
    unused_port,
)

THREE = (
    {"id": "step_01", "question": "What's in stock?"},
    {"id": "step_02", "question": "Tell me about {{step_01.text}}"},
    {"id": "step_03", "question": "And the rest?"},
)
TOKEN = "tok-3f9a7c1e5b2d4860"


def test_an_http_error_blocks_the_step_and_keeps_the_body(tmp_path: Path) -> None:
    fake = FakeAssistant(json_answer({"error": "database down"}, status=500))
    events = Recorded()
    with serve_app(fake.app()) as origin:
        result = run(scenario(THREE[0]), origin, tmp_path, events=events)
    (step,) = result.runs
    assert result.status == "blocked" and step.reply is None
    assert step.error == "the assistant answered HTTP 500 to POST /api/assistant/message"
    response = step_file(tmp_path, "step_01", "assistant_response.json")
    assert response["http_status"] == 500 and response["body"] == {"error": "database down"}
    assert events.types() == ["trajectory.user_action", "trajectory.error"]
    assert events.events[1].payload["error"] == step.error
    assert result.outcomes[0].error == step.error


def test_an_answer_that_is_not_json_blocks_the_step(tmp_path: Path) -> None:
    async def html(request: Request, body: Any) -> Response:
        return HTMLResponse("<h1>It works!</h1>")

    with serve_app(FakeAssistant(html).app()) as origin:
        result = run(scenario(THREE[0]), origin, tmp_path)
    (step,) = result.runs
    assert result.status == "blocked"
    assert step.error is not None
    assert step.error.startswith("the answer is not JSON (HTTP 200, text/html")
    assert step_file(tmp_path, "step_01", "assistant_response.json")["body"] == "<h1>It works!</h1>"


def test_a_message_path_the_assistant_does_not_serve_blocks_the_step(tmp_path: Path) -> None:
    section = AssistantSection(timeout_s=10, message_path="POST /api/assistant/nope")
    with serve_example(tmp_path) as origin:
        result = run(scenario(THREE[0]), origin, tmp_path / "out", section=section)
    assert result.status == "blocked"
    assert result.runs[0].http_status == 404
    assert "HTTP 404" in (result.runs[0].error or "")


def test_an_unreachable_assistant_blocks_the_rest_without_asking(tmp_path: Path) -> None:
    origin = f"http://127.0.0.1:{unused_port()}"
    events = Recorded()
    result = run(scenario(*THREE), origin, tmp_path, events=events)
    assert [r.status for r in result.runs] == ["blocked"] * 3
    first, *rest = result.runs
    assert first.error is not None and first.error.startswith(
        f"the assistant could not be reached at {origin}"
    )
    for later in rest:
        assert later.sent is None
        assert later.error == f"not asked: the assistant did not answer step_01 ({first.error})"
        assert step_file(tmp_path, later.step.id, "turn.json")["request"] is None
    assert events.types() == ["trajectory.user_action", *["trajectory.error"] * 3]
    assert (tmp_path / "final_status.md").read_text().startswith("# blocked\n")


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set after the test, so an assistant that never answers lets its handler finish."""
    event = threading.Event()
    yield event
    event.set()


def test_an_assistant_that_does_not_answer_in_time_blocks_the_rest(
    tmp_path: Path, release: threading.Event
) -> None:
    async def hang(request: Request, body: Any) -> Response:
        await asyncio.to_thread(release.wait, 30)
        return JSONResponse({"answer": "too late"})

    fake = FakeAssistant(hang)
    section = AssistantSection(timeout_s=0.3)
    with serve_app(fake.app()) as origin:
        try:
            result = run(scenario(*THREE), origin, tmp_path, section=section)
        finally:
            release.set()
    assert [r.status for r in result.runs] == ["blocked"] * 3
    assert result.runs[0].error == "no answer within 0.3 s ([assistant] timeout_s)"
    assert result.runs[2].error is not None and result.runs[2].error.startswith("not asked:")
    assert len(fake.received) == 1


def test_a_placeholder_that_finds_nothing_blocks_only_its_step(tmp_path: Path) -> None:
    steps = [
        {"id": "step_01", "question": "What's in stock?"},
        {"id": "step_02", "question": "Tell me about {{step_01.entries[99].item}}"},
        {"id": "step_03", "question": "Tell me about {{semantic_memory.no_such_field}}"},
        {"id": "step_04", "question": "Tell me about hex nuts", "expect": [{"contains": "hex nuts"}]},
    ]
    with serve_example(tmp_path) as origin:
        result = run(scenario(*steps), origin, tmp_path / "out")
    assert [r.status for r in result.runs] == ["accepted", "blocked", "blocked", "accepted"]
    assert result.runs[1].error == (
        "placeholder {{step_01.entries[99].item}} could not be filled: "
        "$.entries[99].item finds nothing in the data of step 'step_01'"
    )
    assert result.runs[2].error is not None
    assert "{{semantic_memory.no_such_field}}" in result.runs[2].error
    assert result.runs[1].sent is None and result.runs[2].sent is None
    # Only the asked steps reached the assistant: the session remembers two questions.
    session = step_file(tmp_path / "out", "step_04", "session.json")["session"]
    assert [t["message"] for t in session["turns"]] == ["What's in stock?", "Tell me about hex nuts"]


def test_a_session_that_cannot_be_read_back_is_recorded_not_fatal(tmp_path: Path) -> None:
    section = AssistantSection(timeout_s=10, session_path="GET /api/assistant/nowhere/{session_id}")
    with serve_example(tmp_path) as origin:
        result = run(scenario(THREE[0]), origin, tmp_path / "out", section=section)
    assert result.status == "accepted"
    session = step_file(tmp_path / "out", "step_01", "session.json")
    assert session["session_id"] == "session-0001"
    assert "GET /api/assistant/nowhere/session-0001" in session["error"]


def test_a_stopped_run_blocks_every_step_without_asking(tmp_path: Path) -> None:
    fake = FakeAssistant(json_answer({"answer": "hi"}))
    with serve_app(fake.app()) as origin, httpx.Client() as client:
        result = run_domain_scenario(
            scenario(*THREE),
            client=client,
            settings=AskSettings(base_url=origin, assistant=AssistantSection(timeout_s=10)),
            directory=tmp_path,
            evidence_root=tmp_path,
            cancelled=lambda: True,
        )
    assert [r.error for r in result.runs] == ["the run was stopped before this step"] * 3
    assert fake.received == []


async def echo_authorization(request: Request, body: Any) -> Response:
    """An assistant that repeats the caller's credentials in its answer, data and route."""
    seen = request.headers.get("authorization", "")
    return JSONResponse(
        {
            "session_id": "s-1",
            "answer": f"You sent {seen}.",
            "data": {"seen": seen, "echo": [seen]},
            "route": seen,
            "sources": [seen],
            "capability_missing": True,
        }
    )


def assert_nowhere(token: str, directory: Path, events: Recorded) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            assert token not in path.read_text(encoding="utf-8"), path
    for event in events.events:
        assert token not in event.model_dump_json(), event.event_type


def test_a_header_token_reaches_the_assistant_and_no_file_or_event(tmp_path: Path) -> None:
    section = AssistantSection(timeout_s=10, headers={"Authorization": "Bearer {env.TOKEN}"})
    headers, secrets = resolve_headers(section.headers, {"TOKEN": TOKEN})
    assert secrets == [TOKEN]
    fake = FakeAssistant(echo_authorization)
    steps = [
        {"id": "step_01", "question": "Who am I?", "expect": [{"path": "$.seen", "equals": "x"}]},
        {"id": "step_02", "question": "Again: {{step_01.text}} {{step_01.seen}}"},
    ]
    events = Recorded()
    with serve_app(fake.app()) as origin:
        result = run(
            scenario(*steps),
            origin,
            tmp_path,
            section=section,
            headers=headers,
            secrets=tuple(secrets),
            events=events,
        )
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in fake.received)
    assert len(fake.received) == 4  # two messages, two session reads
    # The answer is redacted as it arrives: an echoed token never travels on, not even back to it.
    assert "[redacted]" in fake.messages()[1].body["message"]
    assert TOKEN not in fake.messages()[1].body["message"]
    assert result.status == "needs_exact_capability"
    assert "[redacted]" in step_file(tmp_path, "step_01", "assistant_response.json")["body"]["answer"]
    assert events.types("trajectory.agent_action")
    assert_nowhere(TOKEN, tmp_path, events)


def test_a_header_naming_an_unset_variable_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as raised:
        resolve_headers({"Authorization": "Bearer {env.ASSISTANT_TOKEN}"}, {"OTHER": "x"})
    message = str(raised.value)
    assert "[assistant].headers.Authorization" in message and "ASSISTANT_TOKEN" in message


def test_a_token_cut_by_a_shortened_value_leaks_none_of_its_characters(tmp_path: Path) -> None:
    section = AssistantSection(timeout_s=10, headers={"Authorization": "Bearer {env.TOKEN}"})
    headers, secrets = resolve_headers(section.headers, {"TOKEN": TOKEN})

    async def long_echo(request: Request, body: Any) -> Response:
        token = request.headers["authorization"].removeprefix("Bearer ")
        # Each value puts the token across a cut: 119 characters of a detail, 159 of an answer.
        return JSONResponse({"answer": "x" * 150 + token, "data": {"seen": "y" * 110 + token}})

    step = {"id": "step_01", "question": "Who am I?", "expect": [{"path": "$.seen", "equals": "me"}]}
    events = Recorded()
    with serve_app(FakeAssistant(long_echo).app()) as origin:
        result = run(
            scenario(step),
            origin,
            tmp_path,
            section=section,
            headers=headers,
            secrets=tuple(secrets),
            events=events,
        )
    assert result.status == "partial"
    assert_nowhere(TOKEN, tmp_path, events)  # the whole token is redacted everywhere...
    assert_nowhere(TOKEN[:8], tmp_path, events)  # ...but not its cut-off head


def test_a_count_with_max_zero_says_so_in_its_detail(tmp_path: Path) -> None:
    step = {
        "id": "step_01",
        "question": "What's in stock?",
        "expect": [{"path": "$.entries[*]", "count": {"max": 0}}],
    }
    with serve_example(tmp_path) as origin:
        result = run(scenario(step), origin, tmp_path / "out")
    (check,) = result.runs[0].results
    assert not check.met
    assert check.detail == "$.entries[*]: 6 found, wanted 0..0"


def test_the_outcomes_for_the_analyst_carry_no_token(tmp_path: Path) -> None:
    section = AssistantSection(timeout_s=10, headers={"Authorization": "Bearer {env.TOKEN}"})
    headers, secrets = resolve_headers(section.headers, {"TOKEN": TOKEN})
    step = {"id": "step_01", "question": "Who am I?", "expect": [{"path": "$.seen", "equals": "me"}]}
    with serve_app(FakeAssistant(echo_authorization).app()) as origin:
        result = run(
            scenario(step), origin, tmp_path, section=section, headers=headers, secrets=tuple(secrets)
        )
    (outcome,) = result.outcomes
    assert outcome.status == "needs_exact_capability"
    assert outcome.error is not None and outcome.error.startswith("the assistant says it lacks")
    assert TOKEN not in outcome.model_dump_json()


def test_a_huge_answer_is_checked_whole_but_kept_short_in_the_files(tmp_path: Path) -> None:
    big = "word " * 400_000  # 2 MB of text, and the same again as data
    fake = FakeAssistant(json_answer({"session_id": "s1", "answer": big + "needle", "data": {"blob": big}}))
    step = {"id": "step_01", "question": "Tell me everything", "expect": [{"contains": "needle"}]}
    with serve_app(fake.app()) as origin:
        result = run(scenario(step), origin, tmp_path)
    assert result.status == "accepted"  # the check saw the whole answer
    total = sum(path.stat().st_size for path in tmp_path.rglob("*") if path.is_file())
    assert total < 2 * 1024 * 1024, total
    response = json.loads((tmp_path / "steps/step_01/assistant_response.json").read_text())
    assert response["body"]["truncated"] is True and response["body"]["size_bytes"] > 4_000_000
    assert "more characters not kept" in (tmp_path / "steps/step_01/output.md").read_text()
