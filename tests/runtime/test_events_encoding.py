"""What orjson refuses still becomes a valid line: surrogates, big integers, NaN, non-string keys."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from orchestrator.correlation import correlation_scope
from orchestrator.errors import EventSchemaError
from orchestrator.events import Event, EventBus, EventStore, TokenUsage, reindex

PROGRESS = {"task_id": "t", "worker_id": "w", "phase": "p", "message": "m"}


def emit_and_read(bus: EventBus, tmp_path: Path, payload: dict[str, Any], actor: str = "w") -> list[Event]:
    path = tmp_path / "r" / "events.jsonl"
    bus.open_run("r", path)
    with correlation_scope(run_id="r"):
        bus.emit("worker.task.progress", payload, actor=actor)
        bus.emit("worker.task.progress", PROGRESS, actor="w")
    bus.close_run("r")
    bus.flush()
    raw = path.read_bytes()
    raw.decode("utf-8")  # the file is valid UTF-8
    from_file = [Event.model_validate_json(line) for line in raw.splitlines()]
    with EventStore(tmp_path / ".orchestrator" / "events.db") as store:
        assert store.query(run_id="r") == from_file
        assert reindex(store, [path]).events == 2
    return from_file


def test_unpaired_surrogates_in_keys_nested_values_and_names_become_replacement_characters(
    bus: EventBus, tmp_path: Path
) -> None:
    payload = {**PROGRESS, "argv": ["ok", "bad \udcff"], "env": {"K\udc80": {"deep": "\ud800x"}}}
    first, second = emit_and_read(bus, tmp_path, payload, actor="w\udcfe")
    assert first.actor == "w\ufffd"
    assert first.payload["argv"] == ["ok", "bad \ufffd"]
    assert first.payload["env"] == {"K\ufffd": {"deep": "\ufffdx"}}
    assert second.payload == PROGRESS


def test_integers_past_64_bits_are_written_exactly(bus: EventBus, tmp_path: Path) -> None:
    first, _ = emit_and_read(bus, tmp_path, {**PROGRESS, "seed": 2**80 + 1, "small": -(2**63)})
    assert (first.payload["seed"], first.payload["small"]) == (2**80 + 1, -(2**63))


def test_nan_and_infinity_are_written_as_null_and_indexed(bus: EventBus, tmp_path: Path) -> None:
    first, _ = emit_and_read(bus, tmp_path, {**PROGRESS, "score": float("nan"), "cap": float("inf")})
    assert (first.payload["score"], first.payload["cap"]) == (None, None)


def test_nan_beside_a_big_integer_is_null_too(bus: EventBus, tmp_path: Path) -> None:
    first, _ = emit_and_read(bus, tmp_path, {**PROGRESS, "score": float("nan"), "seed": 2**70, "k\udcff": 1})
    assert (first.payload["score"], first.payload["seed"], first.payload["k\ufffd"]) == (None, 2**70, 1)


def test_non_string_keys_are_written_as_json_does(bus: EventBus, tmp_path: Path) -> None:
    first, _ = emit_and_read(bus, tmp_path, {**PROGRESS, "by_status": {200: 3, True: 1, None: 0}})
    assert first.payload["by_status"] == json.loads(json.dumps({200: 3, True: 1, None: 0}))


def test_a_model_inside_a_dict_payload_is_written_as_its_json(bus: EventBus, tmp_path: Path) -> None:
    path = tmp_path / "r" / "events.jsonl"
    bus.open_run("r", path)
    usage = TokenUsage(input_tokens=1, output_tokens=2, total_tokens=3, reasoning_tokens=4)  # type: ignore[call-arg]
    with correlation_scope(run_id="r"):
        llm = {"trace_id": "t", "model": "m", "provider": "p", "duration_ms": 2, "usage": usage}
        bus.emit("llm.call.completed", llm, actor="llm")
    bus.close_run("r")
    assert json.loads(path.read_text())["payload"]["usage"] == {
        "input_tokens": 1,
        "output_tokens": 2,
        "cached_input_tokens": 0,
        "total_tokens": 3,
        "reasoning_tokens": 4,
    }


def test_a_value_no_json_can_hold_fails_at_emit_and_the_run_goes_on(bus: EventBus, tmp_path: Path) -> None:
    path = tmp_path / "r" / "events.jsonl"
    bus.open_run("r", path)
    with correlation_scope(run_id="r"):
        with pytest.raises(
            EventSchemaError, match=r"worker\.task\.progress payload cannot be written as JSON"
        ):
            bus.emit("worker.task.progress", {**PROGRESS, "raw": b"\x00\xff"}, actor="w")
        bus.emit("worker.task.progress", PROGRESS, actor="w")
    bus.close_run("r")
    assert [json.loads(line)["seq"] for line in path.read_text().splitlines()] == [1]
