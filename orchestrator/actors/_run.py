"""Running a conductor to the end: one terminal event, also on a crash, a timeout or a signal.

:func:`run_conductor` opens the run on the event bus, starts the conductor, asks it to conduct,
and always stops every actor of the run, writes the terminal event and closes the run's events
file. SIGINT, SIGTERM and SIGHUP (in the main thread) become :class:`RunInterruptedError` carrying the
signal, so the CLI can exit with 128 plus its number.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, Protocol

import structlog

from orchestrator.actors._base import ActorHandle, EventEmitter, Reply, spawn
from orchestrator.actors._conductor import Conductor, TerminalGuard
from orchestrator.correlation import correlation_scope
from orchestrator.errors import OrchestrateError, RunInterruptedError
from orchestrator.messages import RunOutcome, StartRun

__all__ = ["run_conductor"]

log = structlog.get_logger(__name__)

_STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""Signals that end a run cleanly: Ctrl-C, a stop request, and a closed terminal or ssh session."""


class _RunEvents(EventEmitter, Protocol):
    """What :func:`run_conductor` needs of the bus: emit, plus opening and closing the run."""

    def open_run(self, run_id: str, events_path: Path) -> None: ...

    def continue_run(self, run_id: str, events_path: Path) -> None: ...

    def close_run(self, run_id: str) -> None: ...


class _SignalState:
    """Whether the run is winding down: then signals are logged and ignored, not raised."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.winding_down = False


@contextmanager
def _signals_interrupt() -> Iterator[_SignalState]:
    """In the main thread, turn the first SIGINT, SIGTERM or SIGHUP into :class:`RunInterruptedError`.

    Once the run winds down (``winding_down``), and after the first signal, signals are ignored
    until the block ends, so the terminal event and the close of the events file always happen.
    """
    state = _SignalState()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def on_signal(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if state.received or state.winding_down:
            log.warning("the run is stopping; signal ignored", signal=name)
            return
        state.received.append(signum)
        raise RunInterruptedError(f"stopped by {name}", signum=signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in _STOP_SIGNALS}
    try:
        yield state
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_conductor(
    conductor_class: type[Conductor],
    *,
    events: _RunEvents,
    run_id: str,
    events_path: Path,
    objective: str,
    params: dict[str, Any] | None = None,
    timeout: float = 24 * 3600.0,
    stop_timeout: float = 10.0,
    continue_events: bool = False,
    **conductor_kwargs: Any,
) -> RunOutcome:
    """Run one conductor to the end and return its outcome; the run gets one terminal event.

    Opens the run on the event bus, starts the conductor, asks it to conduct, and always: stops
    every actor of the run, writes the terminal event (``failed`` with the error code if the
    conductor did not finish), and closes the run's events file. The error that ended the run is
    re-raised (:class:`RunInterruptedError` for SIGINT/SIGTERM); if only closing the events file
    failed (events could not be written), that error is raised. ``continue_events`` appends to the
    run's existing events file (a resumed run, a judging pass) instead of creating it.
    """
    if continue_events:
        events.continue_run(run_id, events_path)
    else:
        events.open_run(run_id, events_path)
    name = conductor_kwargs.pop("name", None) or conductor_class.default_name()
    guard = TerminalGuard(events, run_id, actor=name)
    cancelled = threading.Event()
    conductor: ActorHandle[Conductor] | None = None
    failed = False
    with _signals_interrupt() as signals:
        try:
            with correlation_scope(run_id=run_id):
                conductor = spawn(
                    conductor_class,
                    events=events,
                    terminal=guard,
                    cancelled=cancelled,
                    name=name,
                    **conductor_kwargs,
                )
                reply: Reply[RunOutcome] = conductor.ask_later(
                    StartRun(run_id=run_id, objective=objective, params=params or {})
                )
                return reply.get(timeout)
        except BaseException as exc:
            failed = True
            guard.fail(exc)
            raise
        finally:
            signals.winding_down = True
            cancelled.set()
            if conductor is not None and not conductor.stop(timeout=stop_timeout):
                log.warning("conductor did not stop in time; its threads are abandoned", run_id=run_id)
            guard.fail("the conductor ended without reporting an outcome")
            try:
                events.close_run(run_id)
            except OrchestrateError as exc:
                log.error("the run's events could not all be written", run_id=run_id, error=str(exc))
                if not failed:
                    raise
