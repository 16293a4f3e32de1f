"""The viewer's pure functions over events written through the real bus and read from the index."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config import ProjectConfig
from orchestrator.events import Event, EventBus, EventStore
from orchestrator.viewer import (
    IndexReader,
    build_graph,
    build_grid,
    delegations,
    facts_from_events,
    lifecycles,
    llm_calls,
    run_summary,
    sparkline,
    tool_calls,
    worst,
)
from tests.viewer.viewer_support import LONG_OBJECTIVE, finish, open_run, project, seed_story


def _events(config: ProjectConfig, run_id: str) -> list[Event]:
    with EventStore(config.events_db) as store:
        return store.query(run_id=run_id, limit=None)


@pytest.fixture
def story(tmp_path: Path) -> tuple[ProjectConfig, str, list[Event]]:
    config = project(tmp_path)
    with EventBus(config.events_db) as bus:
        run_id = seed_story(config, bus)
    return config, run_id, _events(config, run_id)


def test_delegations_match_their_outcome_and_task_by_call_id(
    story: tuple[ProjectConfig, str, list[Event]],
) -> None:
    _, _, events = story
    bands = delegations(events)
    assert [(b["call_id"], b["worker_type"], b["outcome"]) for b in bands] == [
        ("c1", "ux-evaluator", "completed"),
        ("c2", "ux-evaluator", "failed"),
        ("c3", "a11y", "blocked"),
    ]
    first = bands[0]
    assert first["task_id"] == "t1" and first["worker_id"] == "w1"
    assert first["objective"] == LONG_OBJECTIVE and first["objective_short"] == LONG_OBJECTIVE[:200]
    by_seq = {event.seq: event for event in events}
    assert by_seq[first["seq"]].event_type == "conductor.worker.call"
    assert by_seq[first["end_seq"]].event_type == "conductor.capability.completed"
    assert by_seq[bands[1]["end_seq"]].event_type == "conductor.capability.failed"
    assert all(band["duration_ms"] is not None and band["duration_ms"] >= 0 for band in bands)


def test_lifecycles_group_worker_events_per_task(story: tuple[ProjectConfig, str, list[Event]]) -> None:
    _, _, events = story
    strips = {strip["task_id"]: strip for strip in lifecycles(events)}
    assert list(strips) == ["t1", "t2", "t3"]
    first = strips["t1"]
    assert (first["worker_id"], first["worker_type"], first["call_id"]) == ("w1", "ux-evaluator", "c1")
    assert [chip["kind"] for chip in first["chips"]] == [
        "started",
        "progress",
        "finding",
        "learning",
        "completed",
    ]
    texts = {chip["kind"]: chip["text"] for chip in first["chips"]}
    assert texts["started"] == LONG_OBJECTIVE
    assert texts["finding"] == "the email field has no label"
    assert texts["learning"] == "forms use placeholders"
    assert first["chips"][2]["detail"]["evidence_refs"] == ["shot.png"]
    assert [chip["kind"] for chip in strips["t2"]["chips"]][-1] == "failed"
    assert strips["t2"]["chips"][-1]["text"] == "the page did not load"
    assert strips["t3"]["worker_type"] == "a11y"


def test_model_and_tool_calls_pair_and_mark_failures_and_slow_ones(
    story: tuple[ProjectConfig, str, list[Event]],
) -> None:
    _, _, events = story
    (model,) = llm_calls(events)
    assert (model["actor"], model["model"], model["provider"], model["status"]) == (
        "w1",
        "m-1",
        "openai",
        "completed",
    )
    assert (model["input_tokens"], model["output_tokens"], model["cached_tokens"]) == (100, 50, 25)
    assert model["duration_ms"] == 1234.0 and model["slow"] is False
    tools = [(call["row"], call["status"], call["slow"]) for call in tool_calls(events)]
    assert tools == [
        ("tool:read", "completed", False),
        ("tool:write", "failed", False),
        ("tool:read", "completed", False),
        ("conductor-tool:plan", "completed", True),
    ]


def test_grid_steps_rows_and_a_failed_tool_cell(story: tuple[ProjectConfig, str, list[Event]]) -> None:
    _, _, events = story
    grid = build_grid(events, 80)
    assert [row["key"] for row in grid["rows"]] == [
        "llm:w1",
        "conductor-tool:plan",
        "tool:read",
        "tool:write",
        "worker:w1",
        "worker:w2",
        "worker:w3",
        "delegation:a11y",
        "delegation:ux-evaluator",
    ]
    # 3 delegations, 3 worker tasks, 1 model call, 4 tool calls: one column per step.
    assert grid["steps"] == 11 and grid["bucket_size"] == 1
    assert [column["index"] for column in grid["columns"]] == list(range(11))
    cells = sorted(grid["cells"], key=lambda cell: cell["column"])
    assert [cell["seq"] for cell in cells] == sorted(cell["seq"] for cell in cells)
    assert all(cell["step_from"] == cell["step_to"] == cell["column"] for cell in cells)
    assert [cell["row"] for cell in cells[:3]] == ["delegation:ux-evaluator", "worker:w1", "llm:w1"]
    (write,) = [cell for cell in cells if cell["row"] == "tool:write"]
    assert write["status"] == "failed" and write["duration_ms"] == 567.0
    (model,) = [cell for cell in cells if cell["row"] == "llm:w1"]
    assert model["tokens"] == 150
    statuses = {
        cell["row"]: cell["status"] for cell in cells if cell["row"].startswith(("worker:", "delegation:a"))
    }
    assert statuses == {
        "worker:w1": "completed",
        "worker:w2": "failed",
        "worker:w3": "failed",  # never finished, and the run has ended: it failed with the run
        "delegation:a11y": "blocked",
    }
    boundaries = [column["index"] for column in grid["columns"] if column["loop_boundary"]]
    worker_columns = sorted(cell["column"] for cell in cells if cell["row"].startswith("worker:"))
    assert boundaries == worker_columns


def test_120_steps_bucket_into_at_most_80_columns_with_the_worst_status(tmp_path: Path) -> None:
    config = project(tmp_path)
    with EventBus(config.events_db) as bus:
        emit = open_run(config, bus)
        for n in range(120):
            ids = {"task_id": "t", "tool_trace_id": f"tt{n}"}
            emit("worker.tool.call", {"tool_name": "step", "args_summary": ""}, actor="w", **ids)
            if n == 41:
                continue  # still in flight
            result = {"tool_name": "step", "success": n not in (40, 77), "duration_ms": float(n)}
            emit("worker.tool.result", result, actor="w", **ids)
        finish(emit, "completed")
        run_id = emit.run_id
    events = _events(config, run_id)
    grid = build_grid(events, 80)
    assert grid["steps"] == 120 and grid["bucket_size"] == 2
    assert len(grid["columns"]) == 60 <= 80
    assert grid["columns"][20] == {"index": 20, "step_from": 40, "step_to": 41, "loop_boundary": False}
    by_column = {cell["column"]: cell for cell in grid["cells"]}
    # Steps 40 (failed) and 41 (in flight) share a column: failed wins; 76-77 fail too.
    assert by_column[20]["status"] == "failed" and (by_column[20]["step_from"], by_column[20]["step_to"]) == (
        40,
        41,
    )
    assert by_column[38]["status"] == "failed"
    assert by_column[20]["duration_ms"] == 40.0
    assert sorted(column for column, cell in by_column.items() if cell["status"] != "completed") == [20, 38]
    # At 40 columns, three steps a column.
    coarse = build_grid(events, 40)
    assert coarse["bucket_size"] == 3 and len(coarse["columns"]) == 40


def test_worst_status_order() -> None:
    assert worst(["completed", "inflight"]) == "inflight"
    assert worst(["inflight", "blocked", "completed"]) == "blocked"
    assert worst(["blocked", "failed"]) == "failed"
    assert worst([]) == "completed"


def test_graph_nodes_and_edges(story: tuple[ProjectConfig, str, list[Event]]) -> None:
    _, _, events = story
    graph = build_graph(events, "completed")
    nodes = {node["id"]: (node["kind"], node["status"]) for node in graph["nodes"]}
    assert nodes == {
        "conductor": ("conductor", "completed"),
        "type:ux-evaluator": ("worker_type", "failed"),
        "type:a11y": ("worker_type", "blocked"),
        "worker:w1": ("worker", "completed"),
        "worker:w2": ("worker", "failed"),
        "worker:w3": ("worker", "failed"),
    }
    edges = [(edge["source"], edge["target"], edge["status"]) for edge in graph["edges"]]
    assert ("conductor", "type:ux-evaluator", "completed") in edges
    assert ("conductor", "type:ux-evaluator", "failed") in edges
    assert ("conductor", "type:a11y", "blocked") in edges
    assert ("type:ux-evaluator", "worker:w2", "failed") in edges


def test_summary_counts_and_sparkline(story: tuple[ProjectConfig, str, list[Event]]) -> None:
    config, run_id, events = story
    with EventStore(config.events_db) as store:
        row = store.run(run_id)
    assert row is not None
    summary = run_summary(row, None, facts_from_events(events))
    assert summary["kind"] == "custom" and summary["status"] == "completed"
    assert (summary["worker_calls"], summary["capability_failures"], summary["worker_count"]) == (3, 1, 3)
    assert summary["total_tokens"] == 150
    assert (
        len(summary["sparkline"]) == 20 and sum(summary["sparkline"]) == len(events) == summary["event_count"]
    )
    assert sparkline([]) == [0] * 20
    stamps = ["2024-01-01T00:00:00Z", "2024-01-01T00:00:10Z", "2024-01-01T00:00:10Z"]
    assert sparkline(stamps, 2) == [1, 2]


def test_what_a_stopped_run_left_unfinished_counts_as_failed(tmp_path: Path) -> None:
    config = project(tmp_path)
    with EventBus(config.events_db) as bus:
        emit = open_run(config, bus)
        emit(
            "conductor.worker.call",
            {"worker_type": "coder", "worker_objective": "fix"},
            actor="c",
            call_id="c1",
        )
        emit(
            "worker.task.started",
            {"worker_id": "w1", "objective": "fix", "phase": "code"},
            actor="w1",
            call_id="c1",
            task_id="t1",
        )
        emit(
            "worker.tool.call",
            {"tool_name": "agent", "args_summary": ""},
            actor="w1",
            task_id="t1",
            tool_trace_id="x",
        )
        bus.flush()
        live = _events(config, emit.run_id)
        finish(emit, "failed")
        stopped = _events(config, emit.run_id)
    assert delegations(live)[0]["outcome"] == "inflight"
    assert delegations(stopped)[0]["outcome"] == "failed"
    assert tool_calls(stopped)[0]["status"] == "failed"
    assert {cell["status"] for cell in build_grid(stopped, 80)["cells"]} == {"failed"}


def test_the_index_counts_the_same_sparkline_as_the_events_give(
    story: tuple[ProjectConfig, str, list[Event]],
) -> None:
    config, run_id, events = story
    reader = IndexReader(config.events_db)
    try:
        facts = reader.facts(run_id)
    finally:
        reader.close()
    assert facts.buckets == sparkline([event.timestamp for event in events])
