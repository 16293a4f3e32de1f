"""What the viewer's tests share: a project, runs seeded through the real event bus (in this
process or another one), the viewer served on a loopback port, and reading its SSE stream."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from orchestrator.asgi_server import AsgiServer
from orchestrator.config import ProjectConfig, load_config
from orchestrator.correlation import correlation_scope
from orchestrator.events import EventBus
from orchestrator.runs import create_run
from orchestrator.scaffold import init_project
from orchestrator.viewer import StreamSettings, create_app, stop_streams

LONG_OBJECTIVE = "Evaluate the sign-up journey for keyboard traps and unlabeled fields. " * 6
"""A worker objective longer than the 200 characters a band shows."""


def project(tmp_path: Path) -> ProjectConfig:
    root = tmp_path / "proj"
    init_project(root)
    return load_config(root, env={})


class Emitter:
    """Emits one run's events through ``bus`` with the run's correlation and any ids given."""

    def __init__(self, bus: EventBus, run_id: str) -> None:
        self.bus = bus
        self.run_id = run_id

    def __call__(self, event_type: str, payload: dict[str, Any], *, actor: str, **ids: str) -> None:
        with correlation_scope(run_id=self.run_id, **ids):
            self.bus.emit(event_type, payload, actor=actor)


def open_run(config: ProjectConfig, bus: EventBus, kind: str = "scenario") -> Emitter:
    """A new run of ``kind`` (``custom``: a run dir without run.json) opened on ``bus``."""
    if kind == "custom":
        run_id = f"custom-{time.time_ns()}"
        events_path = config.root / "custom-runs" / run_id / "events.jsonl"
    else:
        run = create_run(config.runs_dir_for(kind), kind, target="web")  # type: ignore[arg-type]
        run_id, events_path = run.run_id, run.events_path
    bus.open_run(run_id, events_path)
    return Emitter(bus, run_id)


def delegate(
    emit: Emitter,
    *,
    call_id: str,
    task_id: str,
    worker_id: str,
    worker_type: str = "ux-evaluator",
    outcome: str = "completed",
    tools: tuple[tuple[str, bool], ...] = (("read", True),),
    llm: bool = True,
) -> None:
    """One delegation: the call, the worker's task (model and tool calls inside), and its outcome."""
    emit(
        "conductor.worker.call",
        {"worker_type": worker_type, "worker_objective": LONG_OBJECTIVE},
        actor="conductor",
        call_id=call_id,
    )
    ids = {"call_id": call_id, "task_id": task_id}
    emit(
        "worker.task.started",
        {"worker_id": worker_id, "phase": "evaluate", "objective": LONG_OBJECTIVE},
        actor=worker_id,
        **ids,
    )
    emit(
        "worker.task.progress",
        {"worker_id": worker_id, "phase": "evaluate", "message": "reading the page"},
        actor=worker_id,
        **ids,
    )
    if llm:
        trace = {"trace_id": f"{task_id}-llm", **ids}
        emit("llm.call.started", {"model": "m-1", "provider": "openai"}, actor=worker_id, **trace)
        usage = {"input_tokens": 100, "output_tokens": 50, "cached_input_tokens": 25, "total_tokens": 150}
        emit(
            "llm.call.completed",
            {"model": "m-1", "provider": "openai", "duration_ms": 1234.0, "usage": usage},
            actor=worker_id,
            **trace,
        )
    for index, (tool, success) in enumerate(tools):
        tool_ids = {"tool_trace_id": f"{task_id}-tool-{index}", **ids}
        emit("worker.tool.call", {"tool_name": tool, "args_summary": "x"}, actor=worker_id, **tool_ids)
        result = {"tool_name": tool, "success": success, "duration_ms": 567.0}
        if not success:
            result["error"] = "OSError: disk full"
        emit("worker.tool.result", result, actor=worker_id, **tool_ids)
    if outcome == "completed":
        finding = {
            "worker_id": worker_id,
            "finding_id": "f1",
            "claim": "the email field has no label",
            "confidence": 0.9,
            "evidence_refs": ["shot.png"],
        }
        emit("worker.task.finding", finding, actor=worker_id, **ids)
        learning = {
            "worker_id": worker_id,
            "learning_id": "l1",
            "insight": "forms use placeholders",
            "confidence": 0.5,
        }
        emit("worker.task.learning", learning, actor=worker_id, **ids)
        emit(
            "worker.task.completed",
            {"worker_id": worker_id, "phase": "evaluate", "summary": "1 finding"},
            actor=worker_id,
            **ids,
        )
    elif outcome == "failed":
        emit(
            "worker.task.failed",
            {"worker_id": worker_id, "phase": "evaluate", "error": "the page did not load"},
            actor=worker_id,
            **ids,
        )
    success = outcome == "completed"
    emit(
        "conductor.worker.result",
        {"worker_type": worker_type, "success": success, "result_summary": outcome},
        actor="conductor",
        call_id=call_id,
    )
    capability: dict[str, Any] = {"capability": worker_type, "lane": "control"}
    if outcome == "completed":
        emit(
            "conductor.capability.completed",
            {**capability, "summary": "1 finding"},
            actor="conductor",
            call_id=call_id,
        )
    elif outcome == "failed":
        failed = {**capability, "error": "the page did not load", "failure_kind": "worker_error"}
        emit("conductor.capability.failed", failed, actor="conductor", call_id=call_id)
    elif outcome == "blocked":
        emit(
            "conductor.capability.blocked",
            {**capability, "reason": "no browser"},
            actor="conductor",
            call_id=call_id,
        )


def seed_story(
    config: ProjectConfig, bus: EventBus, *, terminal: str | None = "completed", kind: str = "scenario"
) -> str:
    """A run with three delegations (completed, failed, blocked), a conductor tool call and ``terminal``."""
    emit = open_run(config, bus, kind)
    emit("conductor.task.started", {"status": "running"}, actor="conductor")
    delegate(emit, call_id="c1", task_id="t1", worker_id="w1", tools=(("read", True), ("write", False)))
    delegate(emit, call_id="c2", task_id="t2", worker_id="w2", outcome="failed", llm=False)
    emit(
        "worker.tool.call", {"tool_name": "plan", "args_summary": "x"}, actor="conductor", tool_trace_id="ct1"
    )
    emit(
        "worker.tool.result",
        {"tool_name": "plan", "success": True, "duration_ms": 7000.0},
        actor="conductor",
        tool_trace_id="ct1",
    )
    delegate(
        emit,
        call_id="c3",
        task_id="t3",
        worker_id="w3",
        worker_type="a11y",
        outcome="blocked",
        tools=(),
        llm=False,
    )
    finish(emit, terminal)
    return emit.run_id


def finish(emit: Emitter, terminal: str | None) -> None:
    """End the run with ``conductor.task.<terminal>`` (none: it stays in progress) and close it."""
    if terminal == "completed":
        emit("conductor.task.completed", {"status": "completed"}, actor="conductor")
    elif terminal == "failed":
        emit(
            "conductor.task.failed",
            {"status": "failed", "error_code": "interrupted", "error_message": "stopped by SIGTERM"},
            actor="conductor",
        )
    emit.bus.flush()
    if terminal is not None:
        emit.bus.close_run(emit.run_id)


# --- another process ---------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from orchestrator.config import load_config
    from orchestrator.correlation import correlation_scope
    from orchestrator.events import EventBus
    from orchestrator.runs import create_run

    root, count, terminal = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    config = load_config(root, env={})
    with EventBus(config.events_db) as bus:
        run = create_run(config.scenario_runs_dir, "scenario")
        bus.open_run(run.run_id, run.events_path)
        with correlation_scope(run_id=run.run_id):
            bus.emit("conductor.task.started", {"status": "running"}, actor="writer")
            for n in range(count):
                payload = {"worker_id": "w", "phase": "p", "message": f"step {n}"}
                bus.emit("worker.task.progress", payload, actor="writer", correlation={"task_id": "t"})
            if terminal == "completed":
                bus.emit("conductor.task.completed", {"status": "completed"}, actor="writer")
        bus.flush()
    print(run.run_id, flush=True)
    """
)


def write_in_other_process(config: ProjectConfig, *, events: int = 3, terminal: str = "completed") -> str:
    """Write a scenario run from a child process through its own bus; return the run id.

    With ``terminal="none"`` the run has no terminal event and its process is gone: interrupted.
    """
    script = config.root.parent / "writer.py"
    script.write_text(WRITER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, str(script), str(config.root), str(events), terminal],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip().splitlines()[-1]


# --- the server --------------------------------------------------------------------------------


@dataclass
class Served:
    url: str
    port: int
    client: httpx.Client


@contextlib.contextmanager
def serve(config: ProjectConfig, *, keepalive_s: float = 15.0) -> Iterator[Served]:
    """The viewer of ``config`` on 127.0.0.1 and an OS-chosen port, with a client for it."""
    app = create_app(config, port=0, stream=StreamSettings(poll_interval_s=0.05, keepalive_s=keepalive_s))
    server = AsgiServer(app, name="viewer")
    url = server.start(timeout=15)
    try:
        with httpx.Client(base_url=url, timeout=20) as client:
            yield Served(url, int(url.rsplit(":", 1)[1]), client)
    finally:
        stop_streams(app)
        server.stop()


@dataclass
class Frame:
    id: str | None
    event: str | None
    data: str | None
    comment: str | None = None


class SseReader:
    """Frames of an open ``/logs/stream`` response, read with a deadline (keep-alives wake it)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.iter_lines()
        self.frames: list[Frame] = []

    def rest(self) -> list[str]:
        """Every line still to come, once the server has ended the response."""
        return list(self._lines)

    def events(self) -> list[Frame]:
        return [frame for frame in self.frames if frame.event == "event"]

    def read(self, until: Callable[[list[Frame]], bool], *, deadline_s: float = 20.0) -> list[Frame]:
        """Read until ``until(frames)`` holds; TimeoutError after ``deadline_s``."""
        deadline = time.monotonic() + deadline_s
        current: dict[str, str] = {}
        while not until(self.frames):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the stream did not deliver in time; got {self.frames}")
            line = next(self._lines)
            if line == "":
                if current:
                    self.frames.append(
                        Frame(
                            current.get("id"),
                            current.get("event"),
                            current.get("data"),
                            current.get("comment"),
                        )
                    )
                current = {}
            elif line.startswith(":"):
                current["comment"] = line[1:].strip()
            else:
                name, _, value = line.partition(":")
                current[name] = value[1:] if value.startswith(" ") else value
        return self.frames


@contextlib.contextmanager
def open_stream(
    client: httpx.Client, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> Iterator[SseReader]:
    """``GET /logs/stream``; yields once the response started (the stream's cursor is fixed then)."""
    timeout = httpx.Timeout(20.0)
    with client.stream(
        "GET", "/logs/stream", params=params or {}, headers=headers or {}, timeout=timeout
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield SseReader(response)
