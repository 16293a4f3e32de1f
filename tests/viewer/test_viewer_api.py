"""The viewer's HTTP API on a real loopback server, over runs seeded through the real event bus."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from orchestrator.config import ProjectConfig
from orchestrator.events import EventBus
from tests.viewer.viewer_support import (
    Served,
    finish,
    open_run,
    project,
    seed_story,
    serve,
    write_in_other_process,
)

SUMMARY_KEYS = {
    "run_id",
    "kind",
    "target",
    "status",
    "started_at",
    "duration_ms",
    "event_count",
    "worker_calls",
    "capability_failures",
    "worker_count",
    "total_tokens",
    "sparkline",
}


@dataclass
class Seeded:
    config: ProjectConfig
    completed: str
    failed: str
    in_progress: str
    interrupted: str
    custom: str


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Seeded, Served]]:
    """Five runs, one of each status and kind, and the viewer over them (shared: the tests only read)."""
    config = project(tmp_path_factory.mktemp("viewer-api"))
    interrupted = write_in_other_process(config, terminal="none")
    with EventBus(config.events_db) as bus:
        completed = seed_story(config, bus, kind="ui")
        failed = seed_story(config, bus, terminal="failed")
        custom = seed_story(config, bus, kind="custom")
        running = open_run(config, bus)
        running("conductor.task.started", {"status": "running"}, actor="conductor")
        finish(running, None)
    # This process owns the unfinished run and is alive: it is in progress, not interrupted.
    runs = Seeded(config, completed, failed, running.run_id, interrupted, custom)
    with serve(config) as served:
        yield runs, served


def test_run_list_shapes_status_kind_and_paging(seeded: tuple[Seeded, Served]) -> None:
    runs, served = seeded
    body = served.client.get("/runs").json()
    assert body["next_before"] is None
    by_id = {run["run_id"]: run for run in body["runs"]}
    assert all(set(run) == SUMMARY_KEYS for run in body["runs"])
    statuses = {run_id: by_id[run_id]["status"] for run_id in by_id}
    assert statuses == {
        runs.completed: "completed",
        runs.failed: "failed",
        runs.custom: "completed",
        runs.in_progress: "in_progress",
        runs.interrupted: "interrupted",
    }
    assert by_id[runs.completed]["kind"] == "ui" and by_id[runs.completed]["target"] == "web"
    assert by_id[runs.custom]["kind"] == "custom" and by_id[runs.failed]["kind"] == "scenario"
    story = by_id[runs.completed]
    assert (
        story["worker_calls"],
        story["capability_failures"],
        story["worker_count"],
        story["total_tokens"],
    ) == (
        3,
        1,
        3,
        150,
    )
    assert sum(story["sparkline"]) == story["event_count"]
    only_failed = served.client.get("/runs", params={"status": "failed"}).json()["runs"]
    assert [run["run_id"] for run in only_failed] == [runs.failed]
    only_ui = served.client.get("/runs", params={"kind": "ui"}).json()["runs"]
    assert [run["run_id"] for run in only_ui] == [runs.completed]
    first = served.client.get("/runs", params={"limit": 2}).json()
    assert len(first["runs"]) == 2 and first["next_before"] == first["runs"][-1]["run_id"]
    rest = served.client.get("/runs", params={"limit": 50, "before": first["next_before"]}).json()
    paged = [run["run_id"] for run in first["runs"] + rest["runs"]]
    assert paged == [run["run_id"] for run in body["runs"]]


def test_delegation_and_capability_events_are_queryable_intact(seeded: tuple[Seeded, Served]) -> None:
    runs, served = seeded
    params = {"run_id": runs.completed, "event_type_prefix": "conductor.worker"}
    events = served.client.get("/logs/events", params=params).json()["events"]
    calls = [event for event in events if event["event_type"] == "conductor.worker.call"]
    results = [event for event in events if event["event_type"] == "conductor.worker.result"]
    assert len(calls) == 3 and len(results) == 3
    assert all(event["run_id"] == runs.completed for event in events)
    assert [event["payload"]["worker_type"] for event in calls] == ["ux-evaluator", "ux-evaluator", "a11y"]
    assert [event["payload"]["call_id"] for event in calls] == ["c1", "c2", "c3"]
    assert [event["payload"]["success"] for event in results] == [True, False, False]
    params["event_type_prefix"] = "conductor.capability"
    capabilities = served.client.get("/logs/events", params=params).json()["events"]
    assert [(e["event_type"], e["payload"]["call_id"], e["call_id"]) for e in capabilities] == [
        ("conductor.capability.completed", "c1", "c1"),
        ("conductor.capability.failed", "c2", "c2"),
        ("conductor.capability.blocked", "c3", "c3"),
    ]
    assert {event["payload"]["lane"] for event in capabilities} == {"control"}
    assert capabilities[1]["payload"]["failure_kind"] == "worker_error"


def test_terminal_events_and_lifecycle_round_trip(seeded: tuple[Seeded, Served]) -> None:
    runs, served = seeded
    for run_id, terminal, status in (
        (runs.completed, "conductor.task.completed", "completed"),
        (runs.failed, "conductor.task.failed", "failed"),
    ):
        events = served.client.get("/logs/events", params={"run_id": run_id}).json()["events"]
        assert events[-1]["event_type"] == terminal and events[-1]["payload"]["status"] == status
    params = {"run_id": runs.completed, "event_type_prefix": "worker.task."}
    lifecycle = served.client.get("/logs/events", params=params).json()["events"]
    first = [event for event in lifecycle if event["task_id"] == "t1"]
    assert [event["event_type"].rsplit(".", 1)[1] for event in first] == [
        "started",
        "progress",
        "finding",
        "learning",
        "completed",
    ]
    started = first[0]["payload"]
    assert (started["task_id"], started["call_id"], started["worker_id"], started["phase"]) == (
        "t1",
        "c1",
        "w1",
        "evaluate",
    )
    assert first[1]["payload"]["message"] == "reading the page"
    assert first[2]["payload"]["confidence"] == 0.9 and first[2]["payload"]["evidence_refs"] == ["shot.png"]
    assert first[4]["payload"]["summary"] == "1 finding"
    page = served.client.get("/logs/events", params={"run_id": runs.completed, "limit": 5}).json()
    assert [event["seq"] for event in page["events"]] == [1, 2, 3, 4, 5] and page["next_since_seq"] == 5
    after = served.client.get(
        "/logs/events", params={"run_id": runs.completed, "since_seq": 5, "limit": 2}
    ).json()
    assert [event["seq"] for event in after["events"]] == [6, 7]


def test_detail_graph_grid_and_timeline(seeded: tuple[Seeded, Served]) -> None:
    runs, served = seeded
    detail = served.client.get(f"/runs/{runs.completed}").json()
    assert set(detail) == {
        "run",
        "pills",
        "delegations",
        "lifecycles",
        "llm_calls",
        "tool_calls",
        "events",
        "events_truncated",
        "graph",
        "grid",
        "job",
    }
    assert detail["run"]["run_id"] == runs.completed and detail["run"]["status"] == "completed"
    assert [band["outcome"] for band in detail["delegations"]] == ["completed", "failed", "blocked"]
    assert detail["pills"]["calls"] == 1 + 4 + 3 and detail["pills"]["failures"] == 2
    assert detail["pills"]["tokens"] == 150
    assert len(detail["events"]) == detail["run"]["event_count"] and detail["events_truncated"] is False
    assert detail["job"]["kind"] == "ui" and detail["job"]["findings"] == []
    graph = served.client.get(f"/runs/{runs.completed}/graph").json()
    assert graph == detail["graph"]
    grid = served.client.get(f"/runs/{runs.completed}/grid", params={"bucket": 4}).json()
    assert grid["steps"] == 11 and grid["bucket_size"] == 3 and len(grid["columns"]) == 4
    assert served.client.get(f"/runs/{runs.completed}/grid").json() == detail["grid"]
    timeline = served.client.get(f"/conductor/runs/{runs.failed}/timeline").json()
    assert timeline["run_id"] == runs.failed and timeline["summary"]["status"] == "failed"
    assert len(timeline["events"]) == timeline["summary"]["event_count"] > 0
    assert served.client.get("/health").json() == {"status": "ok"}
    custom = served.client.get(f"/runs/{runs.custom}").json()
    assert custom["run"]["kind"] == "custom" and custom["job"] is None


@pytest.mark.parametrize(
    ("path", "params", "words"),
    [
        ("/runs", {"kind": "nightly"}, "kind must be one of"),
        ("/runs", {"status": "running"}, "status must be one of"),
        ("/runs", {"limit": "0"}, "limit must be between"),
        ("/runs", {"limit": "many"}, "limit must be a whole number"),
        ("/runs", {"before": "no-such-run"}, "before names no known run"),
        ("/logs/events", {"since_seq": "-1"}, "since_seq must be between"),
        ("/logs/stream", {"since_seq": "3"}, "since_seq needs run_id"),
    ],
)
def test_bad_parameters_are_422_with_a_message(
    seeded: tuple[Seeded, Served], path: str, params: dict[str, str], words: str
) -> None:
    _, served = seeded
    response = served.client.get(path, params=params)
    assert response.status_code == 422
    assert words in response.json()["detail"]


def test_bad_bucket_is_422_and_unknown_runs_404(seeded: tuple[Seeded, Served]) -> None:
    runs, served = seeded
    response = served.client.get(f"/runs/{runs.completed}/grid", params={"bucket": "0"})
    assert response.status_code == 422 and "bucket" in response.json()["detail"]
    for path in ("/runs/nope", "/runs/nope/graph", "/runs/nope/grid", "/conductor/runs/nope/timeline"):
        response = served.client.get(path)
        assert response.status_code == 404, path
        assert "no run 'nope'" in response.json()["detail"]
    assert served.client.get("/logs/events", params={"run_id": "nope"}).status_code == 404


def test_requests_for_another_host_are_refused(seeded: tuple[Seeded, Served]) -> None:
    _, served = seeded
    for host in ("evil.example:80", f"evil.example:{served.port}", "127.0.0.1:1"):
        response = served.client.get("/health", headers={"Host": host})
        assert response.status_code == 421
        assert "answers only to Host" in response.json()["detail"]
    assert served.client.get("/health", headers={"Host": f"localhost:{served.port}"}).status_code == 200


def test_the_page_is_served(seeded: tuple[Seeded, Served]) -> None:
    _, served = seeded
    response = served.client.get("/")
    assert response.status_code in (200, 503)
    if response.status_code == 200:
        assert response.headers["content-type"].startswith("text/html")
    else:
        assert "index.html is missing" in response.json()["detail"]
    assert served.client.get("/static/secrets.txt").status_code == 404
    assert served.client.get("/static/..%2F_app.py").status_code == 404
