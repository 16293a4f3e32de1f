"""The model client's requests and answers on the wire, against small scripted servers on loopback.

What the openai twin cannot show is shown here: a rate limit that lifts, every form of
``Retry-After``, the exact request body, Anthropic's messages API, and a provider that echoes the
key back in its error (the key must still never reach an error, an event, a log or a repr).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Literal

import pytest
import structlog
from starlette.responses import JSONResponse, Response

from orchestrator.llm import LlmAnswerError, LlmClient, LlmError, LlmSection, LlmUsage, strict_schema
from orchestrator.testing import capture_events
from tests.llm_support import (
    CANARY_KEY,
    PASSING,
    DetailedVerdict,
    Reply,
    Verdict,
    anthropic_message,
    ask,
    completion,
    emitter,
    local_client,
    reply,
    scripted,
)
from tests.loopback import serve_app


def test_rate_limits_are_retried_after_the_time_asked_then_answered() -> None:
    app, seen = scripted(
        [
            reply(429, {"error": {"message": "Rate limit reached"}}, retry_after="0"),
            reply(429, {"error": {"message": "Rate limit reached"}}, retry_after="0"),
            reply(200, completion("fine")),
        ]
    )
    sleeps: list[float] = []
    with (
        serve_app(app) as origin,
        local_client(f"{origin}/v1", sleeps) as llm,
        capture_events() as captured,
        structlog.testing.capture_logs() as logs,
    ):
        answer = llm.complete(ask("Judge it."), emit=emitter(captured))
    assert answer.text == "fine" and answer.attempts == 3 and len(seen) == 3
    assert sleeps == [0.0, 0.0]
    retries = [entry for entry in logs if entry["event"] == "llm.call.retry"]
    assert [(r["attempt"], r["status"], r["wait_s"], r["log_level"]) for r in retries] == [
        (1, 429, 0.0, "warning"),
        (2, 429, 0.0, "warning"),
    ]
    assert captured.types() == ["llm.call.started", "llm.call.completed"]
    assert captured.payloads("llm.call.completed")[0]["attempts"] == 3


def _http_date(offset_s: float) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=offset_s), usegmt=True)


@pytest.mark.parametrize(
    ("headers", "low", "high"),
    [
        ({"retry_after": "3"}, 3.0, 3.0),
        ({"retry_after": "120"}, 10.0, 10.0),  # capped at max_backoff_s
        ({"retry_after": _http_date(3600)}, 10.0, 10.0),
        ({"retry_after": _http_date(-3600)}, 0.0, 0.0),
        ({"retry_after_ms": "1500", "retry_after": "2"}, 1.5, 1.5),
        ({"retry_after": "soon"}, 0.25, 0.5),  # unreadable: the first backoff step
        ({}, 0.25, 0.5),
    ],
    ids=["seconds", "capped", "http-date", "past-date", "milliseconds", "unreadable", "absent"],
)
def test_the_wait_is_what_the_provider_asked_within_max_backoff(
    headers: dict[str, str], low: float, high: float
) -> None:
    app, _ = scripted(
        [reply(503, {"error": {"message": "overloaded"}}, **headers), reply(200, completion("ok"))]
    )
    sleeps: list[float] = []
    with serve_app(app) as origin, local_client(origin, sleeps, max_backoff_s=10) as llm:
        assert llm.complete(ask("Judge it.")).attempts == 2
    (wait,) = sleeps
    assert low <= wait <= high


def test_an_openai_compatible_server_gets_the_request_shape_and_no_key_when_there_is_none() -> None:
    app, seen = scripted([reply(200, completion(json.dumps(PASSING)))])
    with serve_app(app) as origin, local_client(f"{origin}/v1", [], max_tokens=300) as llm:
        verdict, answer = llm.complete_json(ask("Judge it."), result_model=Verdict)
    assert verdict == Verdict.model_validate(PASSING)
    (request,) = seen
    assert request.path == "/v1/chat/completions" and "authorization" not in request.headers
    assert request.body["temperature"] == 0 and request.body["max_tokens"] == 300
    assert request.body["model"] == "local-model"
    assert request.body["messages"] == [{"role": "user", "content": "Judge it."}]
    assert answer.usage == LlmUsage(
        input_tokens=50, output_tokens=10, cached_input_tokens=32, total_tokens=60
    )
    assert answer.model == "served-model"


def test_the_json_schema_is_sent_strict_after_the_system_prompt() -> None:
    app, seen = scripted([reply(200, completion(json.dumps(PASSING)))])
    with serve_app(app) as origin, local_client(origin, []) as llm:
        llm.complete_json(ask("Judge it."), result_model=Verdict, system="Be strict.")
    body = seen[0].body
    assert body["messages"][0] == {"role": "system", "content": "Be strict."}
    response_format = body["response_format"]
    assert response_format["type"] == "json_schema"
    spec = response_format["json_schema"]
    assert spec["name"] == "Verdict" and spec["strict"] is True
    assert spec["schema"]["additionalProperties"] is False
    assert spec["schema"]["required"] == ["verdict", "reasons", "confidence"]


def test_a_strict_schema_closes_every_object_and_keeps_only_bare_references() -> None:
    schema = DetailedVerdict.model_json_schema()
    schema["properties"]["default"] = {"type": "string", "default": "x"}  # a property named "default"
    original = json.dumps(schema, sort_keys=True)
    strict = strict_schema(schema)
    assert json.dumps(schema, sort_keys=True) == original  # the input is left as it was
    finding = strict["$defs"]["Finding"]
    assert finding["additionalProperties"] is False and finding["required"] == ["where", "severity"]
    assert strict["required"] == ["verdict", "main", "others", "note", "default"]
    assert strict["properties"]["main"] == {"$ref": "#/$defs/Finding"}
    assert strict["properties"]["default"] == {"type": "string"}
    assert (
        "default" not in strict["properties"]["others"] and "default" not in finding["properties"]["severity"]
    )
    assert strict["properties"]["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]


def test_a_refusal_is_an_answer_error_not_a_retry() -> None:
    app, seen = scripted([reply(200, completion(None, refusal="I cannot judge this."))])
    sleeps: list[float] = []
    with (
        serve_app(app) as origin,
        local_client(origin, sleeps) as llm,
        pytest.raises(LlmAnswerError) as raised,
    ):
        llm.complete(ask("Judge it."))
    assert (
        raised.value.reason == "the model refused: I cannot judge this." and len(seen) == 1 and sleeps == []
    )


def test_the_anthropic_messages_api_is_spoken_with_its_headers_body_and_usage() -> None:
    app, seen = scripted(
        [
            reply(529, {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
            reply(200, anthropic_message("```json\n" + json.dumps(PASSING) + "\n```")),
        ]
    )
    sleeps: list[float] = []
    with serve_app(app) as origin, capture_events() as captured:
        section = LlmSection(provider="anthropic", model="claude-test", max_tokens=256, base_url=origin)
        with LlmClient(section, env={"ANTHROPIC_API_KEY": CANARY_KEY}, sleep=sleeps.append) as llm:
            verdict, answer = llm.complete_json(
                ask("Judge it."), result_model=Verdict, system="You are a judge.", emit=emitter(captured)
            )
    assert verdict == Verdict.model_validate(PASSING) and len(sleeps) == 1
    request = seen[-1]
    assert request.path == "/v1/messages"
    assert request.headers["x-api-key"] == CANARY_KEY and request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    body = request.body
    assert (body["model"], body["max_tokens"], body["temperature"]) == ("claude-test", 256, 0)
    assert body["messages"] == [{"role": "user", "content": "Judge it."}]
    system = body["system"]
    assert system.startswith(
        "You are a judge.\n\nAnswer with one JSON object only, matching this JSON Schema"
    )
    assert json.loads(system.split("\n")[-1]) == Verdict.model_json_schema()
    assert answer.usage == LlmUsage(
        input_tokens=125, output_tokens=9, cached_input_tokens=100, total_tokens=134
    )
    assert (answer.provider, answer.model, answer.finish_reason, answer.attempts) == (
        "anthropic",
        "claude-served",
        "end_turn",
        2,
    )
    completed = captured.payloads("llm.call.completed")[0]
    assert completed["provider"] == "anthropic" and completed["model"] == "claude-test"
    assert completed["usage"] == answer.usage.model_dump()


def test_an_anthropic_error_is_reported_with_its_message() -> None:
    error = {"type": "error", "error": {"type": "invalid_request_error", "message": "max_tokens: too large"}}
    app, _ = scripted([reply(400, error)])
    with serve_app(app) as origin:
        section = LlmSection(provider="anthropic", model="claude-test", base_url=origin)
        with LlmClient(section, env={}) as llm, pytest.raises(LlmError) as raised:
            llm.complete(ask("Judge it."))
    assert raised.value.status == 400 and "answered HTTP 400: max_tokens: too large" in str(raised.value)


# ---------------------------------------------------------------------------- the key never leaks


def _echo_key(status: int) -> Reply:
    def answer(headers: dict[str, str]) -> Response:
        key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix("Bearer ")
        return JSONResponse({"error": {"message": f"Incorrect API key provided: {key}"}}, status_code=status)

    return answer


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_the_key_never_reaches_errors_events_logs_or_reprs(provider: Literal["openai", "anthropic"]) -> None:
    app, seen = scripted([_echo_key(500), _echo_key(401)])
    failures: list[BaseException] = []
    with (
        serve_app(app) as origin,
        capture_events() as captured,
        structlog.testing.capture_logs() as logs,
    ):
        for base_url in (origin, f"http://127.0.0.1:{_closed_port()}"):
            section = LlmSection(provider=provider, model="m", base_url=base_url, max_retries=1)
            env = {"OPENAI_API_KEY": CANARY_KEY, "ANTHROPIC_API_KEY": CANARY_KEY}
            with LlmClient(section, env=env, sleep=lambda _: None) as llm:
                assert CANARY_KEY not in repr(llm) and CANARY_KEY not in repr(vars(llm))
                with pytest.raises(LlmError) as raised:
                    llm.complete(ask("Judge it."), emit=emitter(captured))
                failures.append(raised.value)
    assert len(seen) == 2  # the server saw the key, and echoed it back, twice
    assert CANARY_KEY in json.dumps(seen[0].headers)
    assert "Incorrect API key provided: [redacted]" in str(failures[0])  # 500, then 401
    assert "ConnectError" in str(failures[1])
    texts = [
        text
        for failure in failures
        for exc in _chain(failure)
        for text in (str(exc), repr(exc), repr(exc.args), repr(vars(exc)))
    ]
    texts += [event.model_dump_json() for event in captured]
    texts += [repr(entry) for entry in logs]
    assert len(captured.of_type("llm.call.failed")) == 2 and logs
    assert not [text for text in texts if CANARY_KEY in text]
