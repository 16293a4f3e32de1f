"""Events as payload models: one model per event type, emitted as itself or as a dict, checked alike.

The cheap check at the emitting line must accept exactly what pydantic accepts (proven against
pydantic itself on generated payloads), and a typo in a model's field must fail the type check.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import orchestrator.events as events
from orchestrator.correlation import CORRELATION_KEYS, correlation_scope
from orchestrator.errors import EventSchemaError
from orchestrator.events import (
    EVENT_FIELDS,
    EVENT_SCHEMAS,
    ApiCall,
    CapabilityFailed,
    ChaosInjection,
    CorrelatedId,
    Event,
    EventBus,
    EventPayload,
    LlmCallCompleted,
    RunCompleted,
    TokenUsage,
    ToolCall,
    WorkerFinding,
    WorkerProgress,
    WorkerStarted,
    check_payload,
    register_event_type,
)

REPO = Path(__file__).resolve().parents[2]


def written(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_event_type_has_an_exported_model_that_names_it() -> None:
    for event_type, model in EVENT_SCHEMAS.items():
        assert issubclass(model, EventPayload)
        assert model.event_type == event_type
        assert getattr(events, model.__name__) is model
        assert model.__name__ in events.__all__
    assert len({model.__name__ for model in EVENT_SCHEMAS.values()}) == len(EVENT_SCHEMAS)


def test_the_event_record_names_the_correlation_ids_once() -> None:
    assert (
        "seq",
        "event_id",
        "timestamp",
        "event_type",
        "actor",
        *CORRELATION_KEYS,
        "payload",
    ) == EVENT_FIELDS
    assert tuple(Event.model_fields) == EVENT_FIELDS


def test_a_model_and_its_dict_write_the_same_event(bus: EventBus, tmp_path: Path) -> None:
    path = tmp_path / "r" / "events.jsonl"
    bus.open_run("r", path)
    with correlation_scope(run_id="r", task_id="t1", call_id="c1"):
        bus.emit(WorkerStarted(worker_id="w", phase="p", objective="o"), actor="w")
        bus.emit(
            "worker.task.started",
            {"worker_id": "w", "phase": "p", "objective": "o", "model_used": None},
            actor="w",
        )
        bus.emit(
            LlmCallCompleted(
                trace_id="tr",
                model="m",
                provider="openai",
                duration_ms=1.5,
                usage=TokenUsage(input_tokens=1, output_tokens=2, total_tokens=3),
            ),
            actor="llm",
        )
    bus.close_run("r")
    model_form, dict_form, llm = written(path)
    assert (
        model_form["payload"]
        == dict_form["payload"]
        == {
            "task_id": "t1",
            "worker_id": "w",
            "call_id": "c1",
            "phase": "p",
            "objective": "o",
            "model_used": None,
        }
    )
    assert (model_form["event_type"], model_form["task_id"], model_form["call_id"]) == (
        "worker.task.started",
        "t1",
        "c1",
    )
    assert llm["payload"]["usage"] == {
        "input_tokens": 1,
        "output_tokens": 2,
        "cached_input_tokens": 0,
        "total_tokens": 3,
    }
    assert llm["trace_id"] is None  # given in the payload, not bound: the event's own id stays unset


def test_an_explicit_id_in_a_model_wins_over_the_bound_one(bus: EventBus, tmp_path: Path) -> None:
    path = tmp_path / "r" / "events.jsonl"
    bus.open_run("r", path)
    with correlation_scope(run_id="r", call_id="bound"):
        bus.emit(CapabilityFailed(capability="x", call_id="given", error="e", lane="control"), actor="c")
    bus.close_run("r")
    assert written(path)[0]["payload"]["call_id"] == "given"


def test_a_correlation_id_neither_given_nor_bound_fails_at_emit(bus: EventBus, tmp_path: Path) -> None:
    bus.open_run("r", tmp_path / "r" / "events.jsonl")
    with correlation_scope(run_id="r"):
        with pytest.raises(
            EventSchemaError, match=r"worker.task.progress payload is invalid: task_id: Field required"
        ):
            bus.emit(WorkerProgress(worker_id="w", phase="p", message="m"), actor="w")
        with pytest.raises(EventSchemaError, match=r"task_id: Field required"):
            bus.emit("worker.task.progress", {"worker_id": "w", "phase": "p", "message": "m"}, actor="w")


def test_a_model_is_exact_and_validated_when_made() -> None:
    with pytest.raises(ValidationError, match="mesage"):
        WorkerProgress(worker_id="w", phase="p", mesage="m")  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="lane"):
        CapabilityFailed(capability="x", error="e", lane="sideways")  # type: ignore[arg-type]


def test_wrong_uses_of_emit_are_refused(bus: EventBus, tmp_path: Path) -> None:
    bus.open_run("r", tmp_path / "r" / "events.jsonl")

    class Unregistered(EventPayload):
        event_type: ClassVar[str] = "plugin.unregistered"
        note: str

    with correlation_scope(run_id="r"):
        with pytest.raises(EventSchemaError, match="emit it without a mapping"):
            bus.emit(RunCompleted(status="completed"), {"status": "x"}, actor="c")  # type: ignore[arg-type]
        with pytest.raises(EventSchemaError, match="not the payload model of a registered event type"):
            bus.emit(Unregistered(note="n"), actor="p")
        stored = Event(seq=1, event_id="e", timestamp="t", event_type="x", actor="a", run_id="r", payload={})
        with pytest.raises(EventSchemaError, match="not Event"):
            bus.emit(stored, actor="p")  # type: ignore[arg-type]


@pytest.fixture
def registry() -> Iterator[None]:
    """Types registered by a test are gone after it: the registry is process-wide."""
    saved = dict(EVENT_SCHEMAS)
    yield
    EVENT_SCHEMAS.clear()
    EVENT_SCHEMAS.update(saved)


@pytest.mark.usefixtures("registry")
def test_a_plugin_model_is_emitted_both_ways(bus: EventBus, tmp_path: Path) -> None:
    class Deployed(EventPayload):
        event_type: ClassVar[str] = "plugin.test.deployed"
        task_id: CorrelatedId = None
        version: str

    register_event_type(Deployed.event_type, Deployed)
    with pytest.raises(EventSchemaError, match="already registered"):
        register_event_type(Deployed.event_type, WorkerProgress)
    with pytest.raises(EventSchemaError, match=r"event_type is 'worker\.task\.progress'"):
        register_event_type("plugin.test.other", WorkerProgress)
    path = tmp_path / "r" / "events.jsonl"
    bus.open_run("r", path)
    with correlation_scope(run_id="r", task_id="t"):
        bus.emit(Deployed(version="1.2"), actor="p")
        bus.emit(Deployed.event_type, {"version": "1.3", "region": "eu"}, actor="p")
        with pytest.raises(EventSchemaError, match="version: Field required"):
            bus.emit(Deployed.event_type, {"region": "eu"}, actor="p")
    bus.close_run("r")
    assert [e["payload"] for e in written(path)] == [
        {"task_id": "t", "version": "1.2"},
        {"version": "1.3", "region": "eu", "task_id": "t"},
    ]


def test_dict_payloads_may_carry_context_the_model_does_not_name() -> None:
    payload = {"task_id": "t", "worker_id": "w", "phase": "p", "message": "m", "attempt": 2}
    assert check_payload("worker.task.progress", payload, {}) == payload


# --- the cheap check agrees with pydantic --------------------------------------------------------

values = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True)
    | st.text(max_size=6)
    | st.sampled_from(["control", "telemetry", "1", "1.5", "true"])
    | st.lists(st.text(max_size=3) | st.integers(), max_size=3)
    | st.builds(dict, input_tokens=st.integers(), output_tokens=st.integers(), total_tokens=st.integers())
    | st.builds(dict, mode=st.text(max_size=3), probability=st.floats(0, 1), seed=st.integers(0, 99))
    | st.builds(lambda: TokenUsage(input_tokens=1, output_tokens=1, total_tokens=2))
)


@st.composite
def payloads(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    event_type = draw(st.sampled_from(sorted(EVENT_SCHEMAS)))
    names = [*EVENT_SCHEMAS[event_type].model_fields, "extra"]
    chosen = draw(st.lists(st.sampled_from(names), unique=True))
    return event_type, {name: draw(values) for name in chosen}


def pydantic_accepts(event_type: str, payload: dict[str, Any]) -> bool:
    schema = EVENT_SCHEMAS[event_type]
    try:
        schema.model_validate(payload)
    except ValidationError as exc:
        if any(err["type"] != "extra_forbidden" for err in exc.errors()):
            return False
    required_ids = [
        name
        for name, info in schema.model_fields.items()
        if name in CORRELATION_KEYS and not info.is_required()
    ]
    return all(payload.get(name) is not None for name in required_ids)


@settings(max_examples=600, deadline=None)
@given(payloads())
def test_the_emit_check_accepts_exactly_what_pydantic_accepts(case: tuple[str, dict[str, Any]]) -> None:
    event_type, payload = case
    try:
        check_payload(event_type, payload, {})
        accepted = True
    except EventSchemaError:
        accepted = False
    assert accepted == pydantic_accepts(event_type, payload)


def test_nested_models_are_checked_at_emit() -> None:
    base = {"trace_id": "t", "model": "m", "provider": "p", "duration_ms": 1}
    with pytest.raises(EventSchemaError, match=r"usage.total_tokens: Field required"):
        check_payload("llm.call.completed", {**base, "usage": {"input_tokens": 1, "output_tokens": 1}}, {})
    api = {
        "service": "s",
        "method": "GET",
        "path": "/",
        "request_summary": "",
        "response_code": None,
        "response_summary": "",
        "duration_ms": 1.0,
    }
    with pytest.raises(EventSchemaError, match=r"chaos: Field required"):
        check_payload("trajectory.api_call", api, {})
    check_payload(
        "trajectory.api_call", {**api, "chaos": ChaosInjection(mode="m", probability=0.5, seed=1)}, {}
    )
    with pytest.raises(EventSchemaError, match=r"evidence_refs"):
        check_payload(
            "worker.task.finding",
            {
                "task_id": "t",
                "worker_id": "w",
                "finding_id": "f",
                "claim": "c",
                "confidence": 1,
                "evidence_refs": [1],
            },
            {},
        )
    assert ApiCall(**api, chaos=None).chaos is None
    assert WorkerFinding.event_type == "worker.task.finding"


# --- the type checker catches a misspelt field ---------------------------------------------------

TYPO = textwrap.dedent(
    """
    from orchestrator.events import EventBus, ToolCall, WorkerProgress

    def report(bus: EventBus) -> None:
        bus.emit(WorkerProgress(worker_id="w", phase="p", message="m"), actor="w")
        bus.emit(WorkerProgress(worker_id="w", phase="p", mesage="m"), actor="w")
        bus.emit(ToolCall(tool_name="read"), actor="w")
    """
)


@pytest.mark.timeout(300)
def test_a_misspelt_field_fails_the_type_check(tmp_path: Path) -> None:
    snippet = tmp_path / "snippet.py"
    snippet.write_text(TYPO, encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(REPO / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "cache"),
            "--follow-imports",
            "silent",
            str(snippet),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
        check=False,
    )
    errors = [line for line in done.stdout.splitlines() if line.startswith(str(snippet))]
    assert any(':6: error: Unexpected keyword argument "mesage"' in line for line in errors), done.stdout
    assert any(':7: error: Missing named argument "args_summary"' in line for line in errors), done.stdout
    assert not any(":5:" in line for line in errors), done.stdout
    assert ToolCall.event_type == "worker.tool.call"
