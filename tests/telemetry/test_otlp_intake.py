"""The OTLP intake: a real exporter's spans received, and the SUT's own spans in its trajectories."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from orchestrator.events import Event
from orchestrator.telemetry import IntakeSpan, OtlpIntake, TrajectoryTrace, place_spans, span_events
from orchestrator.viewer import build_grid, llm_calls

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "integration"
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def intake() -> Iterator[OtlpIntake]:
    with OtlpIntake() as receiver:
        yield receiver


def _provider(endpoint: str, compression: Compression = Compression.NoCompression) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": "agent-under-test"}))
    exporter = OTLPSpanExporter(endpoint=endpoint, compression=compression, timeout=5)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_the_intake_decodes_what_a_real_exporter_sends(intake: OtlpIntake, compression: Compression) -> None:
    trace = TrajectoryTrace("2026-01-01-001", "checkout-001")
    provider = _provider(intake.traces_url or "", compression)
    tracer = provider.get_tracer("test")
    incoming = TraceContextTextMapPropagator().extract({"traceparent": trace.traceparent("ask")})
    try:
        with tracer.start_as_current_span("POST /api/assistant/message", context=incoming) as server:
            llm = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"}
            with tracer.start_as_current_span("chat gpt-4o-mini", attributes=llm) as chat:
                chat.set_attribute("gen_ai.usage.input_tokens", 42)
                chat.set_attribute("gen_ai.usage.output_tokens", 7)
            with tracer.start_as_current_span("execute_tool jira") as tool:
                tool.set_attribute("gen_ai.operation.name", "execute_tool")
                tool.set_attribute("gen_ai.tool.name", "jira")
                tool.set_attribute("tags", ["a", "b"])
                tool.set_status(Status(StatusCode.ERROR, "jira answered 503"))
            server_id = format(server.get_span_context().span_id, "016x")
    finally:
        provider.shutdown()

    spans = intake.spans_for(trace.trace_id, wait_s=10, parents=[trace.parent_id("ask")])
    by_name = {span.name: span for span in spans}
    assert sorted(by_name) == ["POST /api/assistant/message", "chat gpt-4o-mini", "execute_tool jira"]
    assert {span.trace_id for span in spans} == {trace.trace_id}
    assert by_name["POST /api/assistant/message"].parent_span_id == trace.parent_id("ask")
    assert by_name["chat gpt-4o-mini"].parent_span_id == server_id
    assert by_name["chat gpt-4o-mini"].attributes["gen_ai.usage.input_tokens"] == 42
    assert by_name["execute_tool jira"].attributes["tags"] == ["a", "b"]
    assert by_name["execute_tool jira"].status == "error"
    assert by_name["execute_tool jira"].status_message == "jira answered 503"
    assert {span.service for span in spans} == {"agent-under-test"}
    assert intake.received == 3 and intake.dropped == 0


_PB = "application/x-protobuf"


def test_the_intake_refuses_what_is_not_an_otlp_protobuf_export(intake: OtlpIntake) -> None:
    url = intake.traces_url or ""
    with httpx.Client(trust_env=False, timeout=10) as client:
        as_json = client.post(url, json={"resourceSpans": []})
        garbage = client.post(
            url, content=b"\xff\xff\xff", headers={"content-type": "application/x-protobuf"}
        )
        bad_gzip = client.post(
            url,
            content=b"not gzip",
            headers={"content-type": "application/x-protobuf", "content-encoding": "gzip"},
        )
        bomb = client.post(
            url,
            content=gzip.compress(b"\x00" * (9 * 1024 * 1024)),
            headers={"content-type": "application/x-protobuf", "content-encoding": "gzip"},
        )
        declared = client.post(url, content=b"\x00" * (9 * 1024 * 1024), headers={"content-type": _PB})

        def chunks() -> Iterator[bytes]:  # no Content-Length: read up to the cap, then refused
            for _ in range(10):
                yield b"\x00" * (1024 * 1024)

        streamed = client.post(url, content=chunks(), headers={"content-type": _PB})
    statuses = [r.status_code for r in (as_json, garbage, bad_gzip, bomb, declared, streamed)]
    assert statuses == [415, 400, 400, 413, 413, 413]
    assert intake.received == 0


def _span(
    trace_id: str, span_id: str, parent: str | None, name: str, start: int, **attributes: Any
) -> IntakeSpan:
    return IntakeSpan(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        name=name,
        kind="internal",
        start_ns=start,
        end_ns=start + 2_000_000,
        attributes=attributes,
    )


def test_spans_for_waits_on_the_late_parent_and_not_at_all_when_nothing_was_ever_sent(
    intake: OtlpIntake,
) -> None:
    trace = TrajectoryTrace("run", "t-001")
    root = trace.parent_id("ask")
    assert intake.spans_for(trace.trace_id, wait_s=30) == []  # nothing ever received: no wait
    intake.add([_span(trace.trace_id, "00000000000000c1", "00000000000000a1", "child", 2)])
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(intake.spans_for, trace.trace_id, wait_s=30, parents=[root])
        intake.add([_span(trace.trace_id, "00000000000000a1", root, "parent", 1)])
        names = sorted(span.name for span in waiting.result(timeout=30))
    assert names == ["child", "parent"]


def test_memory_is_bounded_by_traces_and_spans_per_trace() -> None:
    receiver = OtlpIntake(max_traces=2, max_spans_per_trace=2)
    for trace in ("a" * 32, "b" * 32, "c" * 32):
        receiver.add([_span(trace, f"{n:016x}", None, f"s{n}", n) for n in range(1, 4)])
    assert receiver.spans_for("a" * 32) == []
    assert [span.name for span in receiver.spans_for("c" * 32)] == ["s1", "s2"]
    assert receiver.received == 9 and receiver.dropped == 5  # one over the cap per trace, and trace a


def test_span_events_go_to_their_step_in_start_order_with_llm_calls_and_errors() -> None:
    trace = TrajectoryTrace("run", "t-001")
    parents = trace.parents(["ask", "follow_up"])
    tid, second = trace.trace_id, 1_000_000_000
    spans = [
        _span(
            tid,
            "00000000000000b2",
            "00000000000000b1",
            "chat m",
            13 * second // 10,
            **{
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "m",
                "gen_ai.usage.input_tokens": 5,
                "gen_ai.usage.output_tokens": 9,
            },
        ),
        _span(tid, "00000000000000b1", trace.parent_id("follow_up"), "POST /follow", 12 * second // 10),
        _span(tid, "00000000000000a1", trace.parent_id("ask"), "POST /ask", 11 * second // 10),
        IntakeSpan(
            tid,
            "00000000000000d1",
            trace.parent_id(None),
            "GET /session",
            "server",
            14 * second // 10,
            15 * second // 10,
            status="error",
            status_message="boom",
        ),
    ]
    events = span_events(spans, parents=parents, started_wall=1.0)
    assert {step: [event.detail["span"] for event in found] for step, found in events.items()} == {
        "ask": ["POST /ask"],
        "follow_up": ["POST /follow", "chat m"],
        None: ["GET /session"],
    }
    chat = events["follow_up"][1]
    assert chat.detail["kind"] == "llm_call" and chat.detail["parent"] == "POST /follow"
    assert chat.detail["llm"] == {
        "operation": "chat",
        "provider": None,
        "model": "m",
        "response_model": None,
        "input_tokens": 5,
        "output_tokens": 9,
    }
    assert chat.at_ms == 300.0 and chat.step_id == "follow_up"
    failed = events[None][0]
    assert failed.detail["error"] == "boom" and "error: boom" in failed.description
    own = events["ask"][0].model_copy(update={"type": "user_action", "detail": {}})
    assert place_spans([own], events["ask"])[1:] == events["ask"]


def test_trace_ids_are_derived_from_the_trajectory_and_valid_w3c() -> None:
    one, again, other = (
        TrajectoryTrace("r", "s-001"),
        TrajectoryTrace("r", "s-001"),
        TrajectoryTrace("r", "s-002"),
    )
    assert one.traceparent("ask") == again.traceparent("ask")
    assert one.trace_id != other.trace_id and one.parent_id("ask") != one.parent_id("follow_up")
    version, trace_id, parent, flags = one.traceparent("ask").split("-")
    assert (version, len(trace_id), len(parent), flags) == ("00", 32, 16, "01")


# ------------------------------------------------------------------------------- a real scenario run


def _run(root: Path, *, intake: bool) -> Path:
    if intake:
        with (root / "orchestrate.toml").open("a") as config:
            config.write("\n[telemetry]\nintake = true\n")
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith(("ORCHESTRATE_", "OTEL_"))}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "orchestrator.cli",
            "-C",
            str(root),
            "run",
            "slack-to-jira",
            "sso-login",
            "--count",
            "2",
            "--parallel",
            "2",
            "--seed",
            "3",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return Path(json.loads(done.stdout)["run_dir"])


def _copy(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(
        EXAMPLE, root, ignore=shutil.ignore_patterns(".orchestrator", "runs", "reports", "__pycache__")
    )
    return root


def _trajectories(run_dir: Path) -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text()) for path in sorted((run_dir / "trajectories").glob("*.json"))
    }


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_the_demo_sut_spans_land_in_their_own_trajectories_and_only_with_intake(tmp_path: Path) -> None:
    run_dir = _run(_copy(tmp_path, "with"), intake=True)
    with_intake = _trajectories(run_dir)
    # The SUT's calls are also call events of the run, so the viewer's grid and exporters see them.
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    models = [e for e in events if e["event_type"] == "llm.call.completed"]
    assert models and all(e["payload"]["model"] == "demo-rules-1" for e in models)
    assert all(e["trace_id"] for e in models) and len({e["trace_id"] for e in models}) == len(models)
    tools = {e["payload"]["tool_name"] for e in events if e["event_type"] == "worker.tool.result"}
    assert {"sut:slack", "sut:jira", "sut:okta"} <= tools
    # ... and the viewer shows them: model call cards and grid cells of the SUT's calls.
    parsed = [Event.model_validate(e) for e in events]
    cards = [card for card in llm_calls(parsed) if card["model"] == "demo-rules-1"]
    assert len(cards) == len(models) and all(card["status"] == "completed" for card in cards)
    rows = {cell["row"] for cell in build_grid(parsed, 80)["cells"]}
    assert any(row.startswith("llm:") for row in rows) and "tool:sut:jira" in rows
    without = _trajectories(_run(_copy(tmp_path, "without"), intake=False))
    assert (
        sorted(with_intake)
        == sorted(without)
        == ["slack-to-jira-001", "slack-to-jira-002", "sso-login-001", "sso-login-002"]
    )
    for trajectory_id, trajectory in with_intake.items():
        spans = [event for event in trajectory["events"] if event["detail"].get("source") == "otlp"]
        llm = [event for event in spans if event["detail"]["kind"] == "llm_call"]
        user_steps = [step["id"] for step in trajectory["steps"] if step["kind"] == "user"]
        # One model call per message the runner sent, under that message's step.
        assert [event["step_id"] for event in llm] == user_steps, trajectory_id
        session = trajectory["final_state"]["session"]["session_id"]
        for event in llm:
            assert event["detail"]["llm"]["model"] == "demo-rules-1"
            assert event["detail"]["llm"]["input_tokens"] > 0 and event["detail"]["llm"]["output_tokens"] == 1
            # The SUT names the conversation of this trajectory, not another's.
            assert event["detail"]["attributes"]["gen_ai.conversation.id"] == session
        tools = {event["detail"]["tool"]["name"] for event in spans if event["detail"]["kind"] == "tool_call"}
        assert tools == ({"slack", "jira"} if trajectory_id.startswith("slack") else {"okta"})
        # Right after the step's own event, before the twins' api calls of that step.
        first = trajectory["events"].index(spans[0])
        assert trajectory["events"][first - 1]["type"] == "user_action"
        assert not any(event["detail"].get("source") == "otlp" for event in without[trajectory_id]["events"])
        stripped = [event for event in trajectory["events"] if event not in spans]
        assert [event["type"] for event in stripped] == [
            event["type"] for event in without[trajectory_id]["events"]
        ]
