"""The openai twin used the way an OpenAI client and an agent loop use the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orchestrator.errors import OrchestrateError
from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins

RULES = [
    {
        "match": r"(?i)weather in (\w+)",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
        "reply_after_tool": "It is sunny in Paris.",
    },
    {"match": r"(?i)my name is (\w+)", "reply": r"Nice to meet you, \1!"},
    {
        "match": "(?i)quota",
        "error": {"status": 429, "message": "You exceeded your current quota", "code": "insufficient_quota"},
    },
    {"match": "(?i)secret plan", "model": "^gpt-4o$", "reply": "Only the big model knows."},
]


@pytest.fixture(scope="module")
def twins() -> Iterator[RunningTwins]:
    with serve_twins(["openai"], seed=1) as running:
        yield running


@pytest.fixture
def admin(twins: RunningTwins) -> Iterator[TwinAdmin]:
    with TwinAdmin(twins.endpoints["openai"].origin) as client:
        client.reset({"rules": RULES}, seed=1)
        yield client


@pytest.fixture
def client(twins: RunningTwins, admin: TwinAdmin) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=twins["openai"], headers={"Authorization": "Bearer sk-my-own-key"}) as http:
        yield http


def chat(client: httpx.Client, messages: list[dict[str, Any]], **extra: Any) -> httpx.Response:
    return client.post("/chat/completions", json={"model": "gpt-4o-mini", "messages": messages, **extra})


def test_the_default_answer_echoes_the_last_user_message(client: httpx.Client) -> None:
    answer = chat(
        client, [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hello back"}]
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == "gpt-4o-mini"
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "Say hello back", "refusal": None}
    assert choice["finish_reason"] == "stop"
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] == 4
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_content_parts_are_read_as_text(client: httpx.Client) -> None:
    parts = [{"type": "text", "text": "My name is "}, {"type": "text", "text": "Ada"}]
    answer = chat(client, [{"role": "user", "content": parts}])
    assert answer.json()["choices"][0]["message"]["content"] == "Nice to meet you, Ada!"


def test_an_agent_tool_loop_gets_a_tool_call_then_a_final_answer(client: httpx.Client) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = chat(client, messages, tools=tools).json()
    choice = first["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    (tool_call,) = choice["message"]["tool_calls"]
    assert tool_call["type"] == "function"
    assert tool_call["function"]["name"] == "get_weather"
    assert json.loads(tool_call["function"]["arguments"]) == {"city": "Paris"}
    messages.append(choice["message"])
    messages.append({"role": "tool", "tool_call_id": tool_call["id"], "content": '{"sky": "clear"}'})
    second = chat(client, messages, tools=tools).json()["choices"][0]
    assert second["finish_reason"] == "stop"
    assert second["message"]["content"] == "It is sunny in Paris."
    assert "tool_calls" not in second["message"]


def test_a_rule_can_script_an_api_error(client: httpx.Client) -> None:
    answer = chat(client, [{"role": "user", "content": "How is my quota?"}])
    assert answer.status_code == 429
    assert answer.json()["error"]["code"] == "insufficient_quota"


def test_rules_can_be_limited_to_a_model(client: httpx.Client) -> None:
    small = chat(client, [{"role": "user", "content": "the secret plan"}])
    assert small.json()["choices"][0]["message"]["content"] == "the secret plan"
    big = client.post(
        "/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "the secret plan"}]},
    )
    assert big.json()["choices"][0]["message"]["content"] == "Only the big model knows."


def test_streaming_sends_chunks_and_done(client: httpx.Client) -> None:
    with client.stream(
        "POST",
        "/chat/completions",
        json={
            "model": "gpt-4o-mini",
            "messages": [{"role": "user", "content": "My name is Grace"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert all(chunk["object"] == "chat.completion.chunk" for chunk in chunks)
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "Nice to meet you, Grace!"
    finishes = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finishes[-1] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] > 0


def test_models_are_listed_and_fetched(client: httpx.Client) -> None:
    models = client.get("/models").json()
    assert models["object"] == "list"
    assert {model["id"] for model in models["data"]} >= {"gpt-4o-mini", "twin-echo"}
    assert client.get("/models/gpt-4o").json()["id"] == "gpt-4o"
    missing = client.get("/models/gpt-99")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "model_not_found"


def test_bad_requests_and_keys_get_openai_errors(twins: RunningTwins, client: httpx.Client) -> None:
    no_messages = client.post("/chat/completions", json={"model": "gpt-4o-mini"})
    assert no_messages.status_code == 400
    assert no_messages.json()["error"]["param"] == "messages"
    no_key = httpx.post(f"{twins['openai']}/chat/completions", json={})
    assert no_key.status_code == 401
    assert "didn't provide an API key" in no_key.json()["error"]["message"]
    expired = httpx.get(f"{twins['openai']}/models", headers={"Authorization": "Bearer sk-twin-expired"})
    assert expired.status_code == 401
    assert expired.json()["error"]["code"] == "token_expired"


def test_completions_are_recorded_in_the_state(client: httpx.Client, admin: TwinAdmin) -> None:
    chat(client, [{"role": "user", "content": "My name is Linus"}])
    (record,) = admin.state("completions")
    assert record["last_user_message"] == "My name is Linus"
    assert record["content"] == "Nice to meet you, Linus!"
    assert record["usage"]["total_tokens"] > 0


def test_a_rule_with_a_bad_pattern_is_refused_on_reset(admin: TwinAdmin) -> None:
    with pytest.raises(OrchestrateError, match=r"rules\[0\]\.match: is not a valid regular expression"):
        admin.reset({"rules": [{"match": "(unclosed"}]})


@pytest.mark.parametrize(
    ("rule", "problem"),
    [
        (
            {"match": "a", "error": {"status": "abc"}},
            r"rules\[0\]\.error\.status: must be an HTTP error status",
        ),
        ({"match": "a", "error": {"status": 200}}, r"rules\[0\]\.error\.status: .*\(got 200\)"),
        ({"match": "a", "error": {"status": True}}, r"rules\[0\]\.error\.status"),
        ({"match": "(a)", "reply": r"\2"}, r"rules\[0\]\.reply: .*invalid group reference 2.*1 group"),
        ({"match": "(?P<city>a)", "reply": r"\g<town>"}, r"rules\[0\]\.reply: .*unknown group name"),
        ({"reply": "trailing \\"}, r"rules\[0\]\.reply: .*bad escape"),
    ],
)
def test_rules_that_would_fail_at_request_time_are_refused_on_reset(
    admin: TwinAdmin, client: httpx.Client, rule: dict[str, Any], problem: str
) -> None:
    with pytest.raises(OrchestrateError, match=problem):
        admin.reset({"rules": [rule]})
    # The rules in force stay usable.
    assert chat(client, [{"role": "user", "content": "my name is Ada"}]).status_code == 200


def test_reply_templates_may_use_numbered_and_named_groups(admin: TwinAdmin, client: httpx.Client) -> None:
    rule = {"match": r"(?P<greeting>hi) (\w+)", "reply": r"\g<greeting>, \2 and \g<1>"}
    admin.reset({"rules": [rule]})
    answer = chat(client, [{"role": "user", "content": "hi Ada"}])
    assert answer.json()["choices"][0]["message"]["content"] == "hi, Ada and hi"
