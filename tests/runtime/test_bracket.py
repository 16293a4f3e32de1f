"""One bracket for tool calls and model calls: same ids, clock, success and error everywhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from orchestrator.actors import model_call, tool_call
from orchestrator.correlation import correlation_scope, current_correlation
from orchestrator.subprocess_tools import run_tool
from orchestrator.testing import CapturedEvents, capture_events

HEX16 = re.compile(r"^[0-9a-f]{16}$")


def emitter(captured: CapturedEvents):  # type: ignore[no-untyped-def]
    def emit(event_type: str, **payload: object) -> None:
        captured.emit(event_type, payload, actor="tester")

    return emit


def test_a_tool_call_is_bracketed_and_correlated() -> None:
    with (
        capture_events() as captured,
        correlation_scope(run_id="r1"),
        tool_call(emitter(captured), "http.get", summary="GET /x") as call,
    ):
        inside = current_correlation()["tool_trace_id"]
        call.details["status"] = 200
    call_event, result_event = captured.events
    assert (call_event.event_type, result_event.event_type) == ("worker.tool.call", "worker.tool.result")
    assert HEX16.match(call.tool_trace_id) and inside == call.tool_trace_id
    assert call_event.tool_trace_id == result_event.tool_trace_id == call.tool_trace_id
    assert call_event.payload["args_summary"] == "GET /x"
    assert result_event.payload["success"] is True and result_event.payload["error"] is None
    assert result_event.payload["status"] == 200
    assert result_event.payload["duration_ms"] >= 0


def test_an_exception_is_recorded_and_goes_on_up() -> None:
    with (
        capture_events() as captured,
        correlation_scope(run_id="r1"),
        pytest.raises(ValueError, match="missing"),
        tool_call(emitter(captured), "lookup"),
    ):
        raise ValueError("missing\nsecond line")
    result = captured.payloads("worker.tool.result")[0]
    assert result["success"] is False
    assert result["error"] == "ValueError: missing"


def test_fail_marks_a_call_that_returned() -> None:
    with (
        capture_events() as captured,
        correlation_scope(run_id="r1"),
        tool_call(emitter(captured), "make") as call,
    ):
        call.fail("exit status 2")
    assert captured.payloads("worker.tool.result")[0]["error"] == "exit status 2"


def test_without_an_emitter_it_only_measures() -> None:
    with tool_call(None, "quiet") as call:
        pass
    assert call.success


def test_a_model_call_records_usage_with_a_trace_id() -> None:
    with capture_events() as captured, correlation_scope(run_id="r1"):
        with model_call(emitter(captured), model="gpt-test", provider="openai") as call:
            call.usage = {"input_tokens": 12, "output_tokens": 3}
        with pytest.raises(TimeoutError), model_call(emitter(captured), model="gpt-test", provider="openai"):
            raise TimeoutError("slow")
    assert captured.types() == [
        "llm.call.started",
        "llm.call.completed",
        "llm.call.started",
        "llm.call.failed",
    ]
    completed = captured.payloads("llm.call.completed")[0]
    assert completed["usage"] == {
        "input_tokens": 12,
        "output_tokens": 3,
        "cached_input_tokens": 0,
        "total_tokens": 15,
    }
    assert HEX16.match(captured.events[0].trace_id or "")
    assert captured.payloads("llm.call.failed")[0]["error"] == "TimeoutError: slow"


def test_the_subprocess_runner_uses_the_same_bracket(tmp_path: Path) -> None:
    with capture_events() as captured, correlation_scope(run_id="r1"):
        run_tool(["false"], cwd=tmp_path, timeout_s=10, emit=emitter(captured), allowed=None)
    result = captured.payloads("worker.tool.result")[0]
    assert HEX16.match(result["tool_trace_id"])
    assert result["success"] is False and result["exit_code"] == 1
    assert "status 1" in result["error"]


def test_details_never_clash_with_what_the_bracket_records() -> None:
    with capture_events() as captured, correlation_scope(run_id="r1"):
        with tool_call(emitter(captured), "http.get") as call:
            call.details.update(error="mine", status=200)
        with model_call(emitter(captured), model="gpt-test", provider="openai") as model:
            model.details.update(model="gpt-test-2024", served_model="gpt-test-2024")
    result = captured.payloads("worker.tool.result")[0]
    assert result["error"] is None and result["status"] == 200
    completed = captured.payloads("llm.call.completed")[0]
    assert completed["model"] == "gpt-test" and completed["served_model"] == "gpt-test-2024"
