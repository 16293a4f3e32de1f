"""The gate's progress display and the CLI's logging, fed by real events through a real bus.

A run's events go through an :class:`EventBus` (JSONL and SQLite) to a :class:`GateProgress`
subscriber exactly as ``orchestrate test`` wires them; the console is a rich console on a
buffer, told whether it is a terminal. Logging is configured the way the CLI does it and checked
on the stderr the handler writes to.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from rich.console import Console

from orchestrator.cli._progress import GateProgress
from orchestrator.events import EventBus
from orchestrator.logs import OUR_LOGGER, QUIET_LOGGERS, configure_logging

RUN = "web-1700000000000"


def web_run(bus: EventBus, tmp_path: Path, routes: list[tuple[str, bool]]) -> None:
    """The events of a web gate run, as the conductor, the web driver and the agents emit them."""
    bus.open_run(RUN, tmp_path / "events.jsonl")
    events: list[tuple[str, dict[str, Any], str | None]] = [
        ("conductor.task.started", {"status": "running"}, None),
        ("conductor.task.progress", {"status": "target started", "base_url": "http://127.0.0.1:8123"}, None),
    ]
    steps = [
        ("web", "capture", [("worker.task.progress", {"message": "browser started"})]
         + [("worker.task.progress", {"message": f"captured {route}", "name": route, "ok": ok, "done": done,
                                      "total": len(routes)}) for done, (route, ok) in enumerate(routes, 1)]
         + [("worker.task.completed", {"summary": "web: exit 1"})]),
        ("ux-evaluator", "evaluate", [("worker.task.completed", {"summary": "3 findings"})]),
        ("issue-reconciler", "reconcile", [("worker.task.failed", {"error": "tracker [/bold] down"})]),
    ]  # fmt: skip
    for worker, phase, reports in steps:
        call = f"call-{phase}"
        events.append(("conductor.worker.call", {"worker_type": worker, "worker_objective": phase}, call))
        base = {"worker_id": f"{worker}-1", "phase": phase}
        events.append(("worker.task.started", {**base, "objective": phase}, call))
        events += [(event_type, {**base, **fields}, call) for event_type, fields in reports]
    for event_type, payload, call_id in events:
        actor = str(payload.get("worker_id", "conductor"))
        task = f"task-{call_id}" if call_id else None
        bus.emit(
            event_type, payload, actor=actor, correlation={"run_id": RUN, "call_id": call_id, "task_id": task}
        )
    bus.flush()


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[EventBus]:
    event_bus = EventBus(tmp_path / "events.db")
    yield event_bus
    event_bus.stop()


def test_plain_lines_per_phase_route_and_message_when_not_a_terminal(bus: EventBus, tmp_path: Path) -> None:
    buffer = io.StringIO()
    progress = GateProgress(Console(file=buffer, force_terminal=False, width=200))
    bus.subscribe(progress)
    web_run(bus, tmp_path, [("/", True), ("/gallery", True), ("/\x1b[2Jevil\nline", False)])
    progress.stop()
    assert buffer.getvalue().splitlines() == [
        "target: started at http://127.0.0.1:8123",
        "capture: started (web)",
        "capture: browser started",
        "capture: / ok (1/3)",
        "capture: /gallery ok (2/3)",
        "capture: /\\x1b[2Jevil\\nline failed (3/3)",
        "capture: done: web: exit 1",
        "evaluate: started (ux-evaluator)",
        "evaluate: done: 3 findings",
        "reconcile: started (issue-reconciler)",
        "reconcile: failed: tracker [/bold] down",
    ]


def test_a_live_display_on_a_terminal_shows_phases_and_routes(bus: EventBus, tmp_path: Path) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120, color_system=None)
    progress = GateProgress(console)
    bus.subscribe(progress)
    web_run(bus, tmp_path, [("/", True), ("/gallery", False)])
    progress.stop()
    screen = buffer.getvalue()
    assert "✓ /" in screen and "✗ /gallery failed" in screen
    for row in (
        "✓ target: started at http://127.0.0.1:8123",
        "✓ capture (web): done: web: exit 1",
        "✓ evaluate (ux-evaluator): done: 3 findings",
        "✗ reconcile (issue-reconciler): failed: tracker [/bold] down",
    ):
        assert row in screen, row
    assert "2/2" in screen
    # Nothing in the plain-line format: the display was live throughout.
    assert "capture: started" not in screen


def test_an_interactive_run_frees_the_terminal_once_the_evaluation_is_done(
    bus: EventBus, tmp_path: Path
) -> None:
    buffer = io.StringIO()
    progress = GateProgress(
        Console(file=buffer, force_terminal=True, width=120, color_system=None), interactive=True
    )
    bus.subscribe(progress)
    web_run(bus, tmp_path, [("/", True)])
    # The reconcile phase, where the triage question may be asked, is reported in plain lines.
    tail = buffer.getvalue().split("✓ evaluate (ux-evaluator): done: 3 findings")[-1]
    assert "reconcile: started (issue-reconciler)" in tail
    assert "reconcile: failed: tracker [/bold] down" in tail
    progress.stop()


def test_json_log_lines_carry_the_progress_instead(
    bus: EventBus, tmp_path: Path, capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging(json_lines=True)
    progress = GateProgress(Console(file=io.StringIO(), force_terminal=True), json_lines=True)
    bus.subscribe(progress)
    web_run(bus, tmp_path, [("/", True)])
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    facts = [(line["phase"], line["message"]) for line in lines if line["event"] == "gate progress"]
    assert ("capture", "/ ok (1/1)") in facts
    assert ("reconcile", "failed: tracker [/bold] down") in facts
    assert all(line["logger"] == "orchestrator.cli._progress" for line in lines)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    loggers = [logging.getLogger(), logging.getLogger(OUR_LOGGER), *map(logging.getLogger, QUIET_LOGGERS)]
    saved = [(logger, logger.level, logger.handlers[:]) for logger in loggers]
    yield
    structlog.reset_defaults()
    for logger, level, handlers in saved:
        logger.setLevel(level)
        logger.handlers[:] = handlers


def emit_everywhere() -> None:
    structlog.get_logger("orchestrator.pipelines.test._target").debug("target started", pid=1)
    structlog.get_logger("orchestrator.jobs").info("run started")
    for name in (*QUIET_LOGGERS, "some_plugin"):
        logging.getLogger(name).debug("%s chatter", name)
        logging.getLogger(name).info("%s info", name)
    logging.getLogger("pykka").warning("pykka warning")


def test_verbose_shows_our_debug_lines_and_no_third_party_chatter(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging(json_lines=True, verbose=True)
    emit_everywhere()
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["logger"], line["level"], line["event"]) for line in lines] == [
        ("orchestrator.pipelines.test._target", "debug", "target started"),
        ("orchestrator.jobs", "info", "run started"),
        ("pykka", "warning", "pykka warning"),
    ]


def test_without_verbose_our_info_lines_still_show(
    capsys: pytest.CaptureFixture[str], restore_logging: None
) -> None:
    configure_logging(verbose=False)
    emit_everywhere()
    err = capsys.readouterr().err
    assert "run started" in err and "pykka warning" in err
    assert "target started" not in err and "chatter" not in err and " info" not in err.replace("run", "")
