"""Progress of a gate run on stderr, fed by the run's own events.

:class:`GateProgress` is an event-bus subscriber (:meth:`orchestrator.events.EventBus.subscribe`):
it turns the events a run emits anyway into what a person watching wants to see, per phase
(target, capture, evaluate, reconcile) and per route captured.

- On a terminal: a rich progress display on stderr, one row per phase (the capture row counts
  routes), and a line per route above it as each is captured.
- Not on a terminal: plain lines on stderr, one when a phase starts and ends, one per route and
  one per message a phase reports (the routes a crawl discovered, say).
- With ``--log-json``: the same facts as JSON log lines (logger ``orchestrator.cli.progress``).

stdout is never touched, so the first and last lines and ``--json`` stay exactly as documented.
The live display starts with the run's first event (after the first line is printed) and ends
at :meth:`GateProgress.stop`, which the CLI calls before it prints the last line. A triage
question may be asked on the terminal once the evaluation is done, so on an interactive run the
live display ends then, and the rest is reported in plain lines.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import structlog
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column
from rich.text import Text

from orchestrator.cli._output import literal, printable
from orchestrator.events import Event

__all__ = ["GateProgress"]

log = structlog.get_logger(__name__)

_SUMMARY_WIDTH = 100


@dataclass
class _Phase:
    name: str
    worker: str
    task: TaskID | None = None
    done: int = 0
    total: int | None = None


class GateProgress:
    """A subscriber that shows a gate run's phases and routes as they happen (see the module)."""

    def __init__(self, console: Console, *, json_lines: bool = False, interactive: bool = False) -> None:
        self._console = console
        self._json_lines = json_lines
        self._interactive = interactive
        self._lock = threading.Lock()
        self._phases: dict[str, _Phase] = {}
        self._workers: dict[str, str] = {}
        self._progress: Progress | None = None
        self._live = console.is_terminal and not json_lines
        self._started = False

    # --- lifecycle ---------------------------------------------------------------------------

    def _start_live(self) -> None:
        if self._started:
            return
        self._started = True
        if self._live:
            self._progress = Progress(
                SpinnerColumn(finished_text=" "),
                TextColumn(
                    "{task.description}",
                    markup=False,
                    table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis"),
                ),
                BarColumn(bar_width=20),
                TextColumn("{task.fields[count]}", markup=False),
                TimeElapsedColumn(),
                console=self._console,
                expand=True,
                redirect_stdout=False,
                redirect_stderr=True,
            )
            self._progress.start()

    def stop(self) -> None:
        """End the live display, if it runs, leaving its last state on screen; it never restarts."""
        with self._lock:
            self._stop_live()

    def _stop_live(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        if self._started:  # before the first event there is nothing to stop, and it may still start
            self._live = False

    # --- the subscriber ----------------------------------------------------------------------

    def __call__(self, event: Event) -> None:
        payload = event.payload
        with self._lock:
            self._start_live()
            if event.event_type == "conductor.worker.call" and event.call_id:
                self._workers[event.call_id] = str(payload.get("worker_type", ""))
            elif event.event_type == "conductor.task.progress" and payload.get("status") == "target started":
                where = payload.get("base_url")
                self._begin("target", "")
                self._end("target", f"started at {where}" if where else "started", ok=True)
            elif event.event_type == "worker.task.started":
                worker = self._workers.get(event.call_id or "", "") or event.actor
                self._begin(str(payload.get("phase", "?")), worker)
            elif event.event_type == "worker.task.progress":
                self._advance(str(payload.get("phase", "?")), payload)
            elif event.event_type in ("worker.task.completed", "worker.task.failed"):
                ok = event.event_type == "worker.task.completed"
                text = str(payload.get("summary") if ok else payload.get("error", "failed"))
                phase = str(payload.get("phase", "?"))
                self._end(phase, text, ok=ok)
                if self._interactive and phase == "evaluate":
                    # The reconciler may ask the triage question next: the terminal must be free.
                    self._stop_live()

    def _begin(self, phase: str, worker: str) -> None:
        state = self._phases.get(phase)
        if state is None:
            state = self._phases[phase] = _Phase(phase, worker)
        if self._progress is not None:
            if state.task is None:
                state.task = self._progress.add_task(self._label(state), total=None, count="")
        elif phase != "target":
            self._say(phase, f"started ({worker})" if worker else "started", worker=worker)

    def _advance(self, phase: str, payload: dict[str, Any]) -> None:
        state = self._phases.get(phase) or self._phases.setdefault(phase, _Phase(phase, ""))
        done, total, name = payload.get("done"), payload.get("total"), payload.get("name")
        message = str(payload.get("message", ""))
        if not (isinstance(done, int) and isinstance(total, int) and isinstance(name, str)):
            if self._progress is not None:
                if state.task is not None:
                    self._progress.update(state.task, description=f"{self._label(state)}: {_short(message)}")
            elif message:
                # Off a terminal too: what a phase found out (the routes a crawl discovered, say).
                self._say(phase, _short(message))
            return
        state.done, state.total = done, total
        ok = payload.get("ok") is not False
        if self._progress is not None and state.task is not None:
            self._progress.update(
                state.task,
                completed=done,
                total=total,
                count=f"{done}/{total}",
                description=self._label(state),
            )
            mark = Text("  ✓ ", style="green") if ok else Text("  ✗ ", style="red")
            self._progress.console.print(
                Text.assemble(mark, literal(_one_line(name)), literal("" if ok else " failed", "red")),
                highlight=False,
                soft_wrap=True,
            )
        else:
            self._say(
                phase, f"{_one_line(name)} {'ok' if ok else 'failed'} ({done}/{total})", route=name, ok=ok
            )

    def _end(self, phase: str, text: str, *, ok: bool) -> None:
        state = self._phases.get(phase) or self._phases.setdefault(phase, _Phase(phase, ""))
        # The target has no "started" line of its own: its one line says where it answers.
        outcome = _short(text) if phase == "target" else f"{'done' if ok else 'failed'}: {_short(text)}"
        if self._progress is not None:
            if state.task is None:
                state.task = self._progress.add_task(self._label(state), total=None, count="")
            total = state.total or 1
            mark = "✓" if ok else "✗"
            self._progress.update(
                state.task,
                total=total,
                completed=state.done if state.total else total,
                description=f"{mark} {self._label(state)}: {outcome}",
            )
            self._progress.stop_task(state.task)
        else:
            self._say(phase, outcome, ok=ok)

    @staticmethod
    def _label(state: _Phase) -> str:
        return f"{state.name} ({state.worker})" if state.worker else state.name

    def _say(self, phase: str, text: str, **facts: Any) -> None:
        if self._json_lines:
            log.info("gate progress", phase=phase, message=text, **facts)
            return
        self._console.print(literal(f"{phase}: {text}"), highlight=False, soft_wrap=True)


def _one_line(text: str) -> str:
    """A route name on one line: line breaks and tabs shown escaped, like other controls."""
    return printable(text).replace("\n", "\\n").replace("\t", "\\t")


def _short(text: str) -> str:
    flat = " ".join(printable(text).split())
    return flat if len(flat) <= _SUMMARY_WIDTH else flat[: _SUMMARY_WIDTH - 3] + "..."
