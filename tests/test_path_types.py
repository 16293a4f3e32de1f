"""Every public function that takes a path takes a ``str`` as well as any ``os.PathLike``."""

from __future__ import annotations

from pathlib import Path

from orchestrator.artifacts import (
    append_jsonl_locked,
    atomic_write_json,
    atomic_write_text,
    lock_path_for,
    read_jsonl,
)
from orchestrator.correlation import correlation_scope
from orchestrator.events import EventBus, EventStore, reindex
from orchestrator.scaffold import init_project


class Place:
    """A path-like that is not a ``pathlib.Path``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __fspath__(self) -> str:
        return str(self.path)


def test_artifacts_take_str_and_pathlike(tmp_path: Path) -> None:
    atomic_write_text(str(tmp_path / "a.txt"), "hello")
    atomic_write_json(Place(tmp_path / "b.json"), {"ok": True})
    assert append_jsonl_locked(str(tmp_path / "c.jsonl"), [{"n": 1}]) == 1
    assert read_jsonl(Place(tmp_path / "c.jsonl")).records == [{"n": 1}]
    assert lock_path_for(str(tmp_path / "c.jsonl")) == tmp_path / "c.jsonl.lock"
    assert (tmp_path / "a.txt").read_text() == "hello"


def test_the_event_layer_and_init_take_str_and_pathlike(tmp_path: Path) -> None:
    init_project(str(tmp_path / "project"))
    assert (tmp_path / "project" / "orchestrate.toml").is_file()
    bus = EventBus(str(tmp_path / "events.db"))
    try:
        bus.open_run("r1", Place(tmp_path / "r1" / "events.jsonl"))
        with correlation_scope(run_id="r1"):
            bus.emit("conductor.task.started", {"status": "running"}, actor="test")
        bus.close_run("r1")
    finally:
        bus.stop()
    with EventStore(Place(tmp_path / "rebuilt.db")) as store:
        report = reindex(store, [str(tmp_path / "r1" / "events.jsonl")])
    assert not report.skipped
    with EventStore(tmp_path / "rebuilt.db") as store:
        assert [e.event_type for e in store.query(run_id="r1")] == ["conductor.task.started"]
