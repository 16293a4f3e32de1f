"""The typed actor base: dispatch by type, typed errors, timeouts, correlation on logs and events."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import structlog

from orchestrator.actors import TypedActor, handles, spawn
from orchestrator.correlation import correlation_scope, current_correlation
from orchestrator.errors import (
    AskTimeoutError,
    UnknownMessageError,
    WorkerDiedError,
    WorkerFailedError,
)
from orchestrator.messages import Ping, Pong, StartRun, WorkRequest, WorkResult
from orchestrator.testing import capture_events
from tests.runtime.workers import EchoWorker, FailingWorker


class Recorder(TypedActor):
    """Answers work requests with the correlation it saw bound, and logs one line."""

    @handles(WorkRequest)
    def on_work(self, request: WorkRequest) -> WorkResult:
        structlog.get_logger("test").info("handling")
        seen = dict(current_correlation())
        return WorkResult(success=True, summary="seen", data=dict(seen), **request.correlated())


class Slow(TypedActor):
    def __init__(self, *, release: threading.Event, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.release = release

    @handles(WorkRequest)
    def on_work(self, request: WorkRequest) -> WorkResult:
        self.release.wait(10)
        return WorkResult(success=True, summary="late", **request.correlated())


def request(**ids: str) -> WorkRequest:
    return WorkRequest(run_id=ids.pop("run_id", "run-1"), capability="cap", objective="obj", **ids)


def test_messages_are_dispatched_by_type() -> None:
    actor = spawn(Recorder)
    pong = actor.ask(Ping(run_id="r"), timeout=5)
    assert isinstance(pong, Pong)
    assert pong.actor == "Recorder"
    assert isinstance(actor.ask(request(), timeout=5), WorkResult)


def test_unknown_message_type_is_a_typed_error_not_a_drop() -> None:
    actor = spawn(Recorder)
    with pytest.raises(UnknownMessageError, match="no handler for StartRun"):
        actor.ask(StartRun(run_id="r", objective="x"), timeout=5)


def test_untyped_message_is_refused() -> None:
    actor = spawn(Recorder)
    reply = actor.ref.ask({"kind": "work.request"}, block=False)
    with pytest.raises(UnknownMessageError, match="only takes typed messages"):
        reply.get(timeout=5)


def test_correlation_is_bound_while_handling_and_reaches_log_lines() -> None:
    actor = spawn(Recorder)
    with structlog.testing.capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        result = actor.ask(request(run_id="run-9", task_id="task-3", call_id="call-7"), timeout=5)
    assert result.data == {"run_id": "run-9", "task_id": "task-3", "call_id": "call-7"}
    line = next(entry for entry in logs if entry["event"] == "handling")
    assert (line["run_id"], line["task_id"], line["call_id"]) == ("run-9", "task-3", "call-7")
    # Nothing stays bound once the message is handled.
    assert current_correlation() == {}


def test_ask_times_out_with_a_typed_error() -> None:
    release = threading.Event()
    actor = spawn(Slow, release=release)
    with pytest.raises(AskTimeoutError, match=r"did not answer WorkRequest within 0\.2 s"):
        actor.ask(request(), timeout=0.2)
    release.set()


def test_worker_that_raises_gives_typed_error_and_failed_event() -> None:
    with capture_events() as captured:
        worker = spawn(FailingWorker, events=captured)
        with pytest.raises(WorkerFailedError, match="ValueError: cannot obj") as caught:
            worker.ask(request(task_id="t1", call_id="c1"), timeout=5)
    assert caught.value.error_type == "ValueError"
    assert captured.types() == ["worker.task.started", "worker.task.failed"]
    (failed,) = captured.of_type("worker.task.failed")
    assert failed.task_id == "t1"
    assert failed.payload["task_id"] == "t1"
    assert failed.payload["error"] == "ValueError: cannot obj"


def test_asking_a_stopped_actor_is_a_typed_error() -> None:
    worker = spawn(EchoWorker)
    assert worker.stop(timeout=5)
    with pytest.raises(WorkerDiedError, match=r"echo-.*WorkRequest"):
        worker.ask(request(), timeout=5)


def test_worker_events_carry_correlation_without_passing_ids() -> None:
    with capture_events() as captured:
        worker = spawn(EchoWorker, events=captured)
        worker.ask(request(run_id="run-2", task_id="t9", call_id="c9"), timeout=5)
    events = list(captured)
    assert [e.event_type for e in events] == [
        "worker.task.started",
        "worker.task.progress",
        "worker.task.completed",
    ]
    assert {(e.run_id, e.task_id, e.call_id) for e in events} == {("run-2", "t9", "c9")}
    assert events[0].payload["call_id"] == "c9"


def test_correlation_scope_refuses_unknown_keys() -> None:
    with pytest.raises(TypeError, match="unknown correlation keys: runid"), correlation_scope(runid="x"):
        pass
