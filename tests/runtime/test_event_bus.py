"""The event bus and store: gap-free seq, ordered JSONL, one delivery per subscriber, rebuilds."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from orchestrator.correlation import correlation_scope
from orchestrator.errors import EventError, EventSchemaError, RunExistsError
from orchestrator.events import Event, EventBus, EventStore, IndexBatch, build_timeline, reindex

REPO = Path(__file__).resolve().parents[2]


def progress(bus: EventBus, message: str, actor: str = "w") -> None:
    payload = {"task_id": "t", "worker_id": actor, "phase": "p", "message": message}
    bus.emit("worker.task.progress", payload, actor=actor)


def test_concurrent_producers_get_gap_free_seq_in_file_order(bus: EventBus, tmp_path: Path) -> None:
    path = tmp_path / "run-1" / "events.jsonl"
    bus.open_run("run-1", path)
    received: list[Event] = []
    bus.subscribe(received.append)

    def produce(worker: int) -> None:
        with correlation_scope(run_id="run-1", task_id=f"t{worker}"):
            for n in range(500):
                progress(bus, f"{worker}:{n}", actor=f"w{worker}")

    threads = [threading.Thread(target=produce, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    bus.close_run("run-1")

    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["seq"] for e in lines] == list(range(1, 2001))
    # Each producer's events keep their order.
    for worker in range(4):
        mine = [e["payload"]["message"] for e in lines if e["actor"] == f"w{worker}"]
        assert mine == [f"{worker}:{n}" for n in range(500)]
    # Every subscriber sees each event exactly once, in seq order.
    assert [e.seq for e in received] == list(range(1, 2001))
    assert len({e.event_id for e in received}) == 2000
    with EventStore(tmp_path / ".orchestrator" / "events.db") as store:
        assert [e.model_dump() for e in store.query(run_id="run-1", limit=None)] == lines


def test_event_fields_are_written_in_their_fixed_order(bus: EventBus, tmp_path: Path) -> None:
    path = tmp_path / "r" / "events.jsonl"
    bus.open_run("r", path)
    with correlation_scope(run_id="r", trace_id="tr1"):
        bus.emit(
            "llm.call.completed",
            {
                "model": "m",
                "provider": "openai",
                "duration_ms": 12.5,
                "usage": {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
            },
            actor="llm",
        )
    bus.close_run("r")
    event = json.loads(path.read_text())
    assert list(event) == [
        "seq",
        "event_id",
        "timestamp",
        "event_type",
        "actor",
        "run_id",
        "task_id",
        "call_id",
        "trace_id",
        "tool_trace_id",
        "payload",
    ]
    assert event["trace_id"] == event["payload"]["trace_id"] == "tr1"
    assert event["timestamp"].endswith("Z")


def test_names_and_payloads_that_need_escaping_round_trip(bus: EventBus, tmp_path: Path) -> None:
    path = tmp_path / "r" / "events.jsonl"
    bus.open_run('r"1', path)
    actor = 'wörker "quoted" \\ back\nslash'
    payload = {"task_id": "t\u2028", "worker_id": actor, "phase": "p", "message": "ünïcode ✓ \x00 nul"}
    with correlation_scope(run_id='r"1', call_id="c\\1"):
        bus.emit("worker.task.progress", payload, actor=actor)
    bus.close_run('r"1')
    event = json.loads(path.read_text())
    assert (event["actor"], event["run_id"], event["call_id"]) == (actor, 'r"1', "c\\1")
    assert event["payload"] == payload
    assert Event.model_validate_json(path.read_text()).payload == payload


def test_unpaired_surrogates_are_replaced_not_fatal(bus: EventBus, tmp_path: Path) -> None:
    path = tmp_path / "r" / "events.jsonl"
    bus.open_run("r", path)
    with correlation_scope(run_id="r"):
        progress(bus, "bytes from a path: \udcff", actor="w\udcfe")
        progress(bus, "the next event is written too")
    bus.close_run("r")
    events = [Event.model_validate_json(line) for line in path.read_text().splitlines()]
    assert [e.payload["message"] for e in events] == [
        "bytes from a path: \ufffd",
        "the next event is written too",
    ]
    assert events[0].actor == "w\ufffd"


FULL_DISK_SCRIPT = textwrap.dedent(
    """
    import resource, signal, sys
    from pathlib import Path
    from orchestrator.correlation import correlation_scope
    from orchestrator.errors import EventStoreError
    from orchestrator.events import EventBus

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4000, 4000))
    bus = EventBus(None, batch_size=1)
    bus.open_run("r", Path(sys.argv[1]))
    with correlation_scope(run_id="r"):
        for n in range(40):
            bus.emit("worker.task.progress",
                     {"task_id": "t", "worker_id": "w", "phase": "p", "message": f"event {n}"}, actor="w")
    try:
        bus.close_run("r")
    except EventStoreError as exc:
        print("close failed:", exc)
    bus.stop()
    """
)


@pytest.mark.timeout(60)
def test_a_write_that_fails_is_reported_and_leaves_no_seq_gap(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", FULL_DISK_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
        check=True,
    )
    assert "close failed: events could not be written" in done.stdout
    seqs = [json.loads(line)["seq"] for line in path.read_text().splitlines()]
    assert 0 < len(seqs) < 40
    assert seqs == list(range(1, len(seqs) + 1))


def test_payload_missing_a_required_field_fails_at_emit(bus: EventBus, tmp_path: Path) -> None:
    bus.open_run("r", tmp_path / "r" / "events.jsonl")
    with correlation_scope(run_id="r"), pytest.raises(EventSchemaError, match="worker_type: Field required"):
        bus.emit("conductor.worker.call", {"worker_objective": "x", "call_id": "c"}, actor="c")
    with correlation_scope(run_id="r"), pytest.raises(EventSchemaError, match="unknown event type"):
        bus.emit("conductor.made.up", {}, actor="c")


def test_event_for_a_run_never_opened_is_refused(bus: EventBus) -> None:
    with correlation_scope(run_id="nope"), pytest.raises(EventError, match="not open on this event bus"):
        progress(bus, "x")


def test_a_run_dir_events_file_is_never_reused(bus: EventBus, tmp_path: Path) -> None:
    path = tmp_path / "r" / "events.jsonl"
    path.parent.mkdir()
    path.write_text("existing\n")
    with pytest.raises(RunExistsError, match="never reused"):
        bus.open_run("r", path)
    assert path.read_text() == "existing\n"


def test_events_after_the_terminal_event_are_not_written(bus: EventBus, tmp_path: Path) -> None:
    path = tmp_path / "r" / "events.jsonl"
    bus.open_run("r", path)
    with correlation_scope(run_id="r"):
        bus.emit("conductor.task.completed", {"status": "completed"}, actor="c")
        progress(bus, "straggler")
    bus.close_run("r")
    assert [json.loads(x)["event_type"] for x in path.read_text().splitlines()] == [
        "conductor.task.completed"
    ]


def test_interleaved_runs_each_get_their_own_gap_free_seq_and_end_at_their_terminal_event(
    bus: EventBus, tmp_path: Path
) -> None:
    paths = {run_id: tmp_path / run_id / "events.jsonl" for run_id in ("a", "b")}
    for run_id, path in paths.items():
        bus.open_run(run_id, path)
    for n in range(1500):
        for run_id in ("a", "b"):
            with correlation_scope(run_id=run_id):
                if run_id == "a" and n == 1000:
                    bus.emit("conductor.task.completed", {"status": "completed"}, actor="c")
                else:
                    progress(bus, f"{run_id}{n}")
    for run_id in paths:
        bus.close_run(run_id)
    a, b = ([json.loads(line) for line in path.read_text().splitlines()] for path in paths.values())
    assert [e["seq"] for e in a] == list(range(1, 1002))
    assert [e["payload"].get("message") for e in a[:-1]] == [f"a{n}" for n in range(1000)]
    assert a[-1]["event_type"] == "conductor.task.completed"
    assert [e["seq"] for e in b] == list(range(1, 1501))
    assert [e["payload"]["message"] for e in b] == [f"b{n}" for n in range(1500)]
    assert {e["run_id"] for e in b} == {"b"}


def test_reindex_rebuilds_the_same_rows(bus: EventBus, tmp_path: Path) -> None:
    for run_id in ("a", "b"):
        bus.open_run(run_id, tmp_path / run_id / "events.jsonl")
        with correlation_scope(run_id=run_id, call_id="c1"):
            bus.emit("conductor.task.started", {"status": "running"}, actor="c")
            progress(bus, "half way")
            bus.emit("conductor.task.completed", {"status": "completed"}, actor="c")
        bus.close_run(run_id)
    bus.flush()
    db = tmp_path / ".orchestrator" / "events.db"
    with EventStore(db) as store:
        before = store.dump_rows()
        report = reindex(store, [tmp_path / "a" / "events.jsonl", tmp_path / "b" / "events.jsonl"])
        after = store.dump_rows()
        runs = store.runs()
    assert (report.runs, report.events, report.torn_lines) == (2, 6, [])
    assert after == before
    assert {(r.run_id, r.status, r.event_count) for r in runs} == {
        ("a", "completed", 3),
        ("b", "completed", 3),
    }


def test_reindex_skips_a_damaged_file_keeps_its_rows_and_indexes_the_others(
    bus: EventBus, tmp_path: Path
) -> None:
    for run_id in ("a", "b"):
        bus.open_run(run_id, tmp_path / run_id / "events.jsonl")
        with correlation_scope(run_id=run_id):
            progress(bus, "one")
            progress(bus, "two")
        bus.close_run(run_id)
    bus.flush()
    damaged, other = tmp_path / "a" / "events.jsonl", tmp_path / "b" / "events.jsonl"
    first, second = damaged.read_text().splitlines()
    damaged.write_text(f"{first}\nnot json\n{second}\n")
    # The other run's file gains a third event, which only a rebuild from the file can index.
    third = json.loads(other.read_text().splitlines()[1]) | {"seq": 3, "event_id": "e3"}
    with other.open("a") as handle:
        handle.write(json.dumps(third) + "\n")
    with EventStore(tmp_path / ".orchestrator" / "events.db") as store:
        before = store.dump_rows()
        report = reindex(store, [damaged, other])
        after = store.dump_rows()
        assert [e.seq for e in store.query(run_id="b")] == [1, 2, 3]
    assert (report.runs, report.events, report.torn_lines) == (1, 3, [])
    assert [(s.path, s.line) for s in report.skipped] == [(str(damaged.resolve()), 2)]
    assert report.skipped[0].reason.startswith("not an event (Invalid JSON")
    assert [row for row in after[0] if row[0] == "a"] == [row for row in before[0] if row[0] == "a"]
    assert after[1] == before[1]


KILL_SCRIPT = textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from orchestrator.correlation import correlation_scope
    from orchestrator.events import EventBus

    root = Path(sys.argv[1])
    bus = EventBus(root / "events.db", batch_size=200)
    bus.open_run("burst", root / "burst" / "events.jsonl")

    def produce(n):
        with correlation_scope(run_id="burst"):
            i = 0
            while i < 20000:
                payload = {"task_id": "t", "worker_id": f"w{n}", "phase": "p", "message": "x" * 300 + str(i)}
                bus.emit("worker.task.progress", payload, actor=f"w{n}")
                i += 1
                if i == 2000 and n == 0:
                    bus.flush()
                    print("bursting", flush=True)

    for n in range(4):
        threading.Thread(target=produce, args=(n,), daemon=True).start()
    threading.Event().wait()
    """
)


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_sigkill_mid_burst_leaves_a_readable_file_and_a_database_that_opens(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "bursting"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    path = tmp_path / "burst" / "events.jsonl"
    raw = path.read_bytes().split(b"\n")
    complete, tail = raw[:-1], raw[-1]
    seqs = [json.loads(line)["seq"] for line in complete]
    assert seqs == list(range(1, len(seqs) + 1))
    assert len(seqs) >= 2000
    # The database opens and answers; a rebuild indexes every complete line.
    with EventStore(tmp_path / "events.db") as store:
        report = reindex(store, [path])
        assert report.events == len(seqs)
        assert len(report.torn_lines) == (1 if tail else 0)
        assert len(store.query(run_id="burst", limit=None)) == len(seqs)
    sqlite3.connect(tmp_path / "events.db").execute("PRAGMA integrity_check").fetchone()


def test_timeline_categorises_a_run(bus: EventBus, tmp_path: Path) -> None:
    bus.open_run("r", tmp_path / "r" / "events.jsonl")
    with correlation_scope(run_id="r"):
        bus.emit("conductor.task.started", {"status": "running"}, actor="c")
        bus.emit(
            "conductor.worker.call", {"worker_type": "w", "worker_objective": "o", "call_id": "c1"}, actor="c"
        )
        with correlation_scope(task_id="t1", call_id="c1"):
            bus.emit("worker.task.started", {"worker_id": "w1", "phase": "p", "objective": "o"}, actor="w1")
            bus.emit(
                "worker.tool.call",
                {"tool_trace_id": "x", "tool_name": "read", "args_summary": "a"},
                actor="w1",
            )
            bus.emit("worker.task.failed", {"worker_id": "w1", "phase": "p", "error": "boom"}, actor="w1")
        bus.emit(
            "conductor.worker.result",
            {"worker_type": "w", "success": False, "result_summary": "boom"},
            actor="c",
        )
        bus.emit(
            "conductor.task.failed",
            {"status": "failed", "error_code": "escalated", "error_message": "m"},
            actor="c",
        )
    bus.flush()
    with EventStore(tmp_path / ".orchestrator" / "events.db") as store:
        timeline = build_timeline("r", store.query(run_id="r"))
    assert [entry.category for entry in timeline.events] == [
        "conductor_decisions",
        "conductor_decisions",
        "agent_objectives",
        "agent_conduct",
        "agent_results",
        "agent_results",
        "conductor_decisions",
    ]
    summary = timeline.summary
    assert (summary.status, summary.event_count, summary.worker_count, summary.worker_failures) == (
        "failed",
        7,
        1,
        1,
    )
    assert summary.counts == {
        "conductor_decisions": 3,
        "agent_objectives": 1,
        "agent_conduct": 1,
        "agent_results": 2,
    }
    assert summary.error_code == "escalated"


def test_a_batch_larger_than_one_statement_is_indexed_whole_and_only_once(tmp_path: Path) -> None:
    lines = [
        Event(seq=seq, event_id=f"e{seq}", timestamp=f"2024-01-01T00:00:{seq % 60:02d}Z", event_type="x.y",
              actor="a", run_id="r", payload={"n": seq}).to_line()
        for seq in range(1, 2501)
    ]  # fmt: skip
    batch = IndexBatch(
        "r", 1, [f"2024-01-01T00:00:{s % 60:02d}Z" for s in range(1, 2501)], ["x.y"] * 2500, lines
    )
    with EventStore(tmp_path / "events.db") as store:
        store.add_batch(batch)
        store.add_batch(batch)
        store.add_batch(
            IndexBatch(
                "r", 2501, ["2024-01-01T00:01:00Z"], ["x.z"], [lines[0].replace('"seq":1,', '"seq":2501,')]
            )
        )
        events, _ = store.dump_rows()
        assert [row[1] for row in events] == list(range(1, 2502))
        assert [e.payload["n"] for e in store.query(run_id="r", limit=None)] == [*range(1, 2501), 1]
        assert [e.seq for e in store.query(type_prefix="x.z")] == [2501]


def test_queries_filter_by_prefix_since_seq_and_limit(bus: EventBus, tmp_path: Path) -> None:
    bus.open_run("r", tmp_path / "r" / "events.jsonl")
    with correlation_scope(run_id="r"):
        for n in range(5):
            progress(bus, str(n))
        bus.emit("conductor.task.progress", {"status": "running"}, actor="c")
    bus.flush()
    with EventStore(tmp_path / ".orchestrator" / "events.db") as store:
        assert [e.seq for e in store.query(type_prefix="worker.task")] == [1, 2, 3, 4, 5]
        assert [e.seq for e in store.query(run_id="r", since_seq=3)] == [4, 5, 6]
        assert [e.seq for e in store.query(run_id="r", limit=2)] == [1, 2]
        assert [e.event_type for e in store.query(type_prefix="conductor.")] == ["conductor.task.progress"]
        assert store.query(type_prefix="worker.task.pro", since_seq=5) == []
