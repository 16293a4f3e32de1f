"""The model client against the shipped openai twin: answers, retries, usage and events over real HTTP.

Retries never sleep: the client is given a recorder as its ``sleep``, so the waits it chose
(the twin's ``Retry-After``, or the jittered backoff) are asserted instead of spent.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from pydantic import ValidationError

from orchestrator.correlation import correlation_scope
from orchestrator.errors import OrchestrateError
from orchestrator.llm import LlmAnswerError, LlmClient, LlmError, LlmNotConfiguredError, LlmSection, LlmUsage
from orchestrator.policy.chaos import (
    ChaosConfig,
    ConnectionResetMode,
    PartialResponseMode,
    RateLimitMode,
    ServerErrorMode,
    TimeoutMode,
)
from orchestrator.testing import capture_events
from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins
from orchestrator.validation import explain_validation_error
from tests.llm_support import CANARY_KEY, PASSING, DetailedVerdict, Verdict, ask, emitter

TWIN_KEY = "sk-twin-valid"
HEX16 = re.compile(r"^[0-9a-f]{16}$")


# ------------------------------------------------------------------------------- the openai twin


@pytest.fixture(scope="module")
def twins() -> Iterator[RunningTwins]:
    with serve_twins(["openai"], seed=1) as running:
        yield running


@pytest.fixture
def admin(twins: RunningTwins) -> Iterator[TwinAdmin]:
    with TwinAdmin(twins.endpoints["openai"].origin) as client:
        client.set_chaos(config=None)
        client.reset({"rules": []}, seed=1)
        yield client


def twin_client(twins: RunningTwins, sleeps: list[float], **settings: Any) -> LlmClient:
    section = LlmSection(model="gpt-4o-mini", base_url=twins["openai"], **settings)
    return LlmClient(section, env={"OPENAI_API_KEY": TWIN_KEY}, sleep=sleeps.append, rng=random.Random(7))


def chat_requests(admin: TwinAdmin) -> list[dict[str, Any]]:
    return [e for e in admin.journal()["entries"] if e["path"].endswith("/chat/completions")]


def twin_usage(record: dict[str, Any]) -> LlmUsage:
    usage = record["usage"]
    return LlmUsage(
        input_tokens=usage["prompt_tokens"],
        output_tokens=usage["completion_tokens"],
        total_tokens=usage["total_tokens"],
    )


def test_a_scripted_verdict_is_answered_validated_and_recorded(twins: RunningTwins, admin: TwinAdmin) -> None:
    admin.reset({"rules": [{"match": "(?i)judge", "reply": json.dumps(PASSING)}]})
    sleeps: list[float] = []
    with (
        twin_client(twins, sleeps) as llm,
        capture_events() as captured,
        correlation_scope(run_id="r1"),
    ):
        verdict, answer = llm.complete_json(
            ask("Judge this trajectory: the user asked for a flight."),
            result_model=Verdict,
            system="You are a strict judge.",
            emit=emitter(captured),
        )
    assert verdict == Verdict.model_validate(PASSING)
    (completion,) = admin.state("completions")
    assert completion["rule"] is not None and completion["content"] == json.dumps(PASSING)
    assert answer.usage == twin_usage(completion) and answer.usage.input_tokens > 0
    assert (answer.provider, answer.model, answer.finish_reason, answer.attempts) == (
        "openai",
        "gpt-4o-mini",
        "stop",
        1,
    )
    assert captured.types() == ["llm.call.started", "llm.call.completed"]
    started, completed = captured.events
    assert HEX16.match(started.trace_id or "") and completed.trace_id == started.trace_id
    assert started.run_id == "r1" and started.actor == "judge"
    assert completed.payload["model"] == "gpt-4o-mini" and completed.payload["provider"] == "openai"
    assert completed.payload["usage"] == answer.usage.model_dump()
    assert completed.payload["served_model"] == "gpt-4o-mini" and completed.payload["attempts"] == 1
    assert completed.payload["duration_ms"] >= 0
    assert sleeps == []


def test_an_unscripted_question_gets_an_answer_that_fits_the_strict_schema(
    twins: RunningTwins, admin: TwinAdmin
) -> None:
    # The twin answers from the schema it was sent: the strict rewrite of a pydantic schema (nested
    # models, defaults, optional fields) is a schema whose instances the model itself accepts.
    with twin_client(twins, []) as llm:
        verdict, answer = llm.complete_json(ask("Judge it."), result_model=DetailedVerdict)
    assert verdict.verdict == "pass" and verdict.main.where == "where"
    assert json.loads(answer.text)["others"] == [{"where": "where", "severity": "low"}]


def test_a_rate_limit_that_lasts_is_retried_as_asked_then_reported(
    twins: RunningTwins, admin: TwinAdmin
) -> None:
    admin.set_chaos(config=ChaosConfig(error_429=RateLimitMode(probability=1, retry_after_s=7)).model_dump())
    sleeps: list[float] = []
    with (
        twin_client(twins, sleeps, max_retries=2) as llm,
        capture_events() as captured,
        pytest.raises(LlmError) as raised,
    ):
        llm.complete(ask("Judge it."), emit=emitter(captured))
    assert sleeps == [7.0, 7.0]  # the twin's Retry-After, honoured
    assert raised.value.status == 429 and raised.value.attempts == 3
    assert "failed after 3 attempts" in str(raised.value) and "Rate limit reached" in str(raised.value)
    assert [e["status"] for e in chat_requests(admin)] == [429, 429, 429]
    assert captured.types() == ["llm.call.started", "llm.call.failed"]
    failed = captured.payloads("llm.call.failed")[0]
    assert failed["attempts"] == 3 and failed["error"].startswith("LlmError: openai model gpt-4o-mini")


def test_server_errors_are_retried_with_jittered_exponential_backoff(
    twins: RunningTwins, admin: TwinAdmin
) -> None:
    admin.set_chaos(config=ChaosConfig(error_500=ServerErrorMode(probability=1)).model_dump())
    sleeps: list[float] = []
    with twin_client(twins, sleeps, max_retries=3) as llm, pytest.raises(LlmError) as raised:
        llm.complete(ask("Judge it."))
    assert "failed after 4 attempts" in str(raised.value)
    assert "HTTP 500: The server had an error" in str(raised.value)
    steps = [0.5, 1.0, 2.0]
    assert len(sleeps) == 3
    assert all(step / 2 <= wait <= step for wait, step in zip(sleeps, steps, strict=True)), sleeps
    assert len(chat_requests(admin)) == 4


def test_the_backoff_never_waits_longer_than_max_backoff(twins: RunningTwins, admin: TwinAdmin) -> None:
    admin.set_chaos(config=ChaosConfig(error_503=ServerErrorMode(probability=1)).model_dump())
    sleeps: list[float] = []
    with twin_client(twins, sleeps, max_retries=6, max_backoff_s=1.5) as llm, pytest.raises(LlmError):
        llm.complete(ask("Judge it."))
    assert len(sleeps) == 6 and max(sleeps) <= 1.5 and min(sleeps[2:]) >= 0.75


def test_a_bad_request_is_not_retried_and_says_what_the_provider_said(
    twins: RunningTwins, admin: TwinAdmin
) -> None:
    error = {"status": 400, "message": "Invalid schema for response_format 'Verdict'.", "type": "x"}
    admin.reset({"rules": [{"match": "", "error": error}]})
    sleeps: list[float] = []
    with twin_client(twins, sleeps) as llm, pytest.raises(LlmError) as raised:
        llm.complete_json(ask("Judge it."), result_model=Verdict)
    assert raised.value.status == 400 and not isinstance(raised.value, LlmAnswerError)
    assert "answered HTTP 400: Invalid schema for response_format 'Verdict'." in str(raised.value)
    assert sleeps == [] and len(chat_requests(admin)) == 1


@pytest.mark.parametrize(
    ("chaos", "expected"),
    [
        (ChaosConfig(connection_reset=ConnectionResetMode(probability=1)), "ReadError|RemoteProtocolError"),
        (ChaosConfig(timeout=TimeoutMode(probability=1, hold_s=5)), "ReadTimeout"),
        (ChaosConfig(partial_response=PartialResponseMode(probability=1)), "HTTP 200, but the answer is not"),
    ],
    ids=["connection-reset", "read-timeout", "cut-answer"],
)
def test_failures_on_the_way_are_retried(
    twins: RunningTwins, admin: TwinAdmin, chaos: ChaosConfig, expected: str
) -> None:
    admin.set_chaos(config=chaos.model_dump())
    sleeps: list[float] = []
    with (
        twin_client(twins, sleeps, max_retries=1, timeout_s=0.3) as llm,
        structlog.testing.capture_logs() as logs,
        pytest.raises(LlmError) as raised,
    ):
        llm.complete(ask("Judge it."))
    assert "failed after 2 attempts" in str(raised.value) and re.search(expected, str(raised.value))
    assert len(sleeps) == 1
    (retry,) = [entry for entry in logs if entry["event"] == "llm.call.retry"]
    assert retry["log_level"] == "warning" and retry["attempt"] == 1 and retry["attempts_allowed"] == 2


def test_an_answer_that_is_not_json_is_asked_again_once_then_refused(
    twins: RunningTwins, admin: TwinAdmin
) -> None:
    admin.reset({"rules": [{"match": "", "reply": "I think it passed."}]})
    with twin_client(twins, []) as llm, capture_events() as captured, pytest.raises(LlmAnswerError) as raised:
        llm.complete_json(ask("Judge it."), result_model=Verdict, emit=emitter(captured))
    assert raised.value.text == "I think it passed." and raised.value.reason.startswith("it is not JSON")
    assert raised.value.attempts == 2
    assert "I think it passed." in str(raised.value)
    first, second = admin.state("completions")
    assert first["last_user_message"] == "Judge it."
    assert "not accepted: it is not JSON" in second["last_user_message"]
    assert captured.types() == ["llm.call.started", "llm.call.completed"] * 2


def test_an_invalid_answer_then_a_valid_one_succeeds_with_both_calls_counted(
    twins: RunningTwins, admin: TwinAdmin
) -> None:
    wrong = {**PASSING, "verdict": "maybe"}
    fenced = "Here it is:\n```json\n" + json.dumps(PASSING, indent=2) + "\n```\n"
    rules = [{"match": "not accepted", "reply": fenced}, {"match": "(?i)judge", "reply": json.dumps(wrong)}]
    admin.reset({"rules": rules})
    with twin_client(twins, []) as llm, capture_events() as captured:
        verdict, answer = llm.complete_json(ask("Judge it."), result_model=Verdict, emit=emitter(captured))
    assert verdict == Verdict.model_validate(PASSING)
    assert answer.attempts == 2 and answer.text == fenced
    first, second = admin.state("completions")
    assert answer.usage == twin_usage(first) + twin_usage(second)
    with pytest.raises(ValidationError) as invalid:
        Verdict.model_validate(wrong)
    explained = str(explain_validation_error(invalid.value, model=Verdict, syntax="json"))
    assert explained.startswith("verdict:") and explained in second["last_user_message"]
    assert [p["usage"] for p in captured.payloads("llm.call.completed")] == [
        twin_usage(first).model_dump(),
        twin_usage(second).model_dump(),
    ]


def test_without_a_key_the_twin_refuses_and_the_error_says_where_the_key_goes(
    twins: RunningTwins, admin: TwinAdmin
) -> None:
    sleeps: list[float] = []
    section = LlmSection(model="gpt-4o-mini", base_url=twins["openai"], api_key_env="JUDGE_KEY")
    with LlmClient(section, env={}, sleep=sleeps.append) as llm, pytest.raises(LlmError) as raised:
        llm.complete(ask("Judge it."))
    assert raised.value.status == 401 and sleeps == []
    assert "You didn't provide an API key" in str(raised.value)
    assert "set the environment variable JUDGE_KEY" in str(raised.value) and "api_key_env" in str(
        raised.value
    )


# ------------------------------------------------------------------------------ configuration


def test_without_a_model_a_call_is_refused_with_how_to_configure_one() -> None:
    with LlmClient(LlmSection(), env={}) as llm, capture_events() as captured:
        assert not llm.configured and llm.model is None and llm.provider == "openai"
        with pytest.raises(LlmNotConfiguredError) as raised:
            llm.complete(ask("Judge it."), emit=emitter(captured))
        with pytest.raises(LlmNotConfiguredError):
            llm.complete_json(ask("Judge it."), result_model=Verdict, emit=emitter(captured))
    message = str(raised.value)
    assert "orchestrate.toml" in message and "`[llm]`" in message and 'model = "' in message
    assert "base_url" in message and "api_key_env" in message
    assert isinstance(raised.value, LlmError) and isinstance(raised.value, OrchestrateError)
    assert len(captured) == 0


def test_the_section_has_defaults_descriptions_and_refuses_bad_values() -> None:
    section = LlmSection()
    assert (section.provider, section.model, section.base_url, section.api_key_env) == (
        "openai",
        None,
        None,
        None,
    )
    assert (section.timeout_s, section.max_retries, section.max_backoff_s, section.max_tokens) == (
        60,
        4,
        30,
        1024,
    )
    assert all(field.description for field in LlmSection.model_fields.values())
    assert LlmSection(base_url="http://127.0.0.1:8000/v1/").base_url == "http://127.0.0.1:8000/v1"
    with LlmClient(LlmSection(provider="anthropic", model="m"), env={}) as llm:
        assert llm.base_url == "https://api.anthropic.com" and llm.key_env == "ANTHROPIC_API_KEY"
    with LlmClient(LlmSection(model="m"), env={}) as llm:
        assert llm.base_url == "https://api.openai.com/v1" and llm.key_env == "OPENAI_API_KEY"
    for bad, field in [
        ({"timeout_s": 0}, "timeout_s"),
        ({"max_retries": 11}, "max_retries"),
        ({"provider": "mistral"}, "provider"),
        ({"model": ""}, "model"),
        ({"base_url": "ftp://example.com"}, "base_url"),
        ({"base_url": "https://user:pw@example.com"}, "base_url"),
        ({"api_key_env": CANARY_KEY}, "api_key_env"),
        ({"modle": "gpt-4o"}, "modle"),
    ]:
        with pytest.raises(ValidationError) as invalid:
            LlmSection.model_validate(bad)
        problem = explain_validation_error(invalid.value, model=LlmSection)
        assert problem.field == field, (bad, str(problem))
        assert CANARY_KEY not in str(problem)


def test_usage_adds_up() -> None:
    one = LlmUsage(input_tokens=10, output_tokens=2, cached_input_tokens=4, total_tokens=12)
    two = LlmUsage(input_tokens=1, output_tokens=1, total_tokens=2)
    assert one + two == LlmUsage(input_tokens=11, output_tokens=3, cached_input_tokens=4, total_tokens=14)
    assert sum([one, two], LlmUsage()) == one + two
