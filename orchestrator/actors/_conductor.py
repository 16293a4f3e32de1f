"""The conductor base: delegates capabilities to supervised workers and ends every run once.

A pipeline is a :class:`Conductor` subclass that implements :meth:`Conductor.conduct`. It starts
workers with :meth:`~Conductor.start_worker` and hands them work with :meth:`~Conductor.delegate`
(or :meth:`~Conductor.delegate_all` to run several at once). Each delegation is recorded as
``conductor.worker.call`` (with a fresh ``call_id``), then ``conductor.worker.result`` and one of
``conductor.capability.completed|failed|blocked``.

A worker that raises, dies or does not answer in time is restarted up to its restart budget and
the request is sent again; past the budget the failure escalates to the conductor as
:class:`EscalationError`. :func:`run_conductor` drives a whole run and guarantees exactly one
terminal event (``conductor.task.completed`` or ``conductor.task.failed``), also when a worker
crashes, an ask times out, or the process gets SIGINT or SIGTERM.
"""

from __future__ import annotations

import signal
import threading
import uuid
from abc import abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Protocol, TypeVar

import structlog

from orchestrator.actors._base import ActorHandle, EventEmitter, Reply, TypedActor, handles, spawn
from orchestrator.actors._worker import Worker
from orchestrator.correlation import correlation_scope, current_correlation
from orchestrator.errors import (
    ActorError,
    AskTimeoutError,
    EscalationError,
    OrchestrateError,
    RunInterruptedError,
    WorkerDiedError,
    WorkerFailedError,
)
from orchestrator.messages import RunOutcome, StartRun, WorkRequest, WorkResult

__all__ = ["Conductor", "Delegation", "SupervisedWorker", "TerminalGuard", "run_conductor"]

log = structlog.get_logger(__name__)

W = TypeVar("W", bound=Worker)


def new_id() -> str:
    """A short random id for calls and tasks."""
    return uuid.uuid4().hex[:16]


class TerminalGuard:
    """Emits a run's terminal event exactly once, whoever gets there first."""

    def __init__(self, events: EventEmitter, run_id: str, actor: str) -> None:
        self._events = events
        self._run_id = run_id
        self._actor = actor
        self._lock = threading.Lock()
        self.finished = False

    def _emit(self, event_type: str, payload: dict[str, Any]) -> bool:
        with self._lock:
            if self.finished:
                return False
            self.finished = True
            with correlation_scope(run_id=self._run_id):
                self._events.emit(event_type, payload, actor=self._actor)
            return True

    def complete(self, outcome: RunOutcome) -> bool:
        """Emit ``conductor.task.completed`` (or ``failed`` for a failed outcome) unless done."""
        if outcome.status == "failed":
            return self._emit(
                "conductor.task.failed",
                {
                    "status": "failed",
                    "error_code": "run_failed",
                    "error_message": outcome.summary,
                    "report_path": outcome.report_path,
                },
            )
        return self._emit(
            "conductor.task.completed", {"status": "completed", "report_path": outcome.report_path}
        )

    def fail(self, error: BaseException | str) -> bool:
        """Emit ``conductor.task.failed`` with the error's code and message unless done."""
        if isinstance(error, OrchestrateError):
            code, message = error.error_code, str(error)
        elif isinstance(error, BaseException):
            code, message = "internal_error", f"{type(error).__name__}: {error}"
        else:
            code, message = "internal_error", error
        return self._emit(
            "conductor.task.failed", {"status": "failed", "error_code": code, "error_message": message}
        )


class SupervisedWorker:
    """A worker the conductor restarts when it fails, up to ``max_restarts`` times.

    Each actor it starts gets a cancel event of its own, set when that actor is given up on (it
    timed out, it failed past its budget, the run is stopping), so work still running in a
    discarded actor stops instead of going on beside its replacement.
    """

    def __init__(
        self, factory: Callable[[threading.Event], ActorHandle[Any]], worker_type: str, max_restarts: int
    ) -> None:
        self._factory = factory
        self.worker_type = worker_type
        self.max_restarts = max_restarts
        self.restarts = 0
        self._cancelled = threading.Event()
        self.handle = factory(self._cancelled)

    @property
    def name(self) -> str:
        return self.handle.name

    def can_restart(self) -> bool:
        return self.restarts < self.max_restarts

    def restart(self) -> None:
        """Give up the failed actor (without waiting long for a stuck one) and start a fresh one."""
        self.stop(timeout=1.0)
        self.restarts += 1
        self._cancelled = threading.Event()
        self.handle = self._factory(self._cancelled)
        log.info("worker restarted", worker=self.name, restarts=self.restarts)

    def stop(self, timeout: float) -> bool:
        """Cancel the actor's work and stop it; ``False`` if it did not stop within ``timeout``."""
        self._cancelled.set()
        return self.handle.stop(timeout=timeout)


@dataclass(frozen=True)
class Delegation:
    """One piece of work for :meth:`Conductor.delegate_all`."""

    worker: SupervisedWorker
    capability: str
    objective: str
    params: dict[str, Any] = field(default_factory=dict)
    phase: str = "run"


class Conductor(TypedActor):
    """Base of every pipeline: conducts one run by delegating to workers.

    ``ask_timeout`` bounds every wait for a worker's reply (override per delegation).
    """

    def __init__(
        self,
        *,
        events: EventEmitter,
        terminal: TerminalGuard,
        cancelled: threading.Event,
        name: str | None = None,
        ask_timeout: float = 600.0,
    ) -> None:
        super().__init__(events=events, name=name)
        self.terminal = terminal
        self.cancelled = cancelled
        self.ask_timeout = ask_timeout
        self._workers: list[SupervisedWorker] = []

    @handles(StartRun)
    def _on_start(self, start: StartRun) -> RunOutcome:
        self.emit("conductor.task.started", status="running", objective=start.objective)
        try:
            outcome = self.conduct(start)
        except Exception as exc:
            self.terminal.fail(exc)
            raise
        self.terminal.complete(outcome)
        return outcome

    @abstractmethod
    def conduct(self, start: StartRun) -> RunOutcome:
        """Do the run: start workers, delegate, decide; return the outcome."""

    def on_stop(self) -> None:
        self.cancelled.set()
        for worker in self._workers:
            if not worker.stop(timeout=2.0):
                log.warning("worker did not stop in time", worker=worker.name)

    # --- workers -------------------------------------------------------------------------------

    def start_worker(
        self, worker_class: type[W], *, max_restarts: int = 2, **kwargs: Any
    ) -> SupervisedWorker:
        """Start a worker of ``worker_class`` under supervision; it is stopped with the run."""

        def factory(cancelled: threading.Event) -> ActorHandle[Any]:
            return spawn(worker_class, events=self.events, cancelled=cancelled, **kwargs)

        worker = SupervisedWorker(factory, worker_class.worker_type, max_restarts)
        self._workers.append(worker)
        return worker

    def progress(self, status: str, **details: Any) -> None:
        """Report run progress (``conductor.task.progress``)."""
        self.emit("conductor.task.progress", status=status, **details)

    # --- delegation ----------------------------------------------------------------------------

    def delegate(
        self,
        worker: SupervisedWorker,
        capability: str,
        objective: str,
        *,
        params: dict[str, Any] | None = None,
        phase: str = "run",
        timeout: float | None = None,
    ) -> WorkResult:
        """Hand one piece of work to ``worker`` and wait for its result (restarting on failure)."""
        work = Delegation(worker, capability, objective, params or {}, phase)
        return self.delegate_all([work], timeout=timeout)[0]

    def delegate_all(self, work: Sequence[Delegation], *, timeout: float | None = None) -> list[WorkResult]:
        """Send every delegation at once, then collect the results in order.

        A failed delegation is retried on a restarted worker while its budget lasts; the first
        one that escalates raises :class:`EscalationError` (the others' results are discarded).
        """
        wait = self.ask_timeout if timeout is None else timeout
        calls = [(item, new_id()) for item in work]
        pending: list[tuple[Delegation, str, str, Reply[Any] | ActorError]] = []
        for item, call_id in calls:
            with correlation_scope(call_id=call_id):
                self.emit(
                    "conductor.worker.call",
                    worker_type=item.worker.worker_type,
                    worker_objective=item.objective,
                    call_id=call_id,
                    capability=item.capability,
                )
            task_id = new_id()
            pending.append((item, call_id, task_id, self._send(item, call_id, task_id)))
        return [self._collect(item, call_id, task_id, sent, wait) for item, call_id, task_id, sent in pending]

    def _request(self, item: Delegation, call_id: str, task_id: str) -> WorkRequest:
        run_id = current_correlation().get("run_id")
        assert run_id is not None, "delegation outside a run"
        return WorkRequest(
            run_id=run_id,
            task_id=task_id,
            call_id=call_id,
            capability=item.capability,
            objective=item.objective,
            phase=item.phase,
            params=item.params,
        )

    def _send(self, item: Delegation, call_id: str, task_id: str) -> Reply[Any] | ActorError:
        try:
            return item.worker.handle.ask_later(self._request(item, call_id, task_id))
        except ActorError as exc:
            return exc

    def _collect(
        self, item: Delegation, call_id: str, task_id: str, sent: Reply[Any] | ActorError, wait: float
    ) -> WorkResult:
        with correlation_scope(call_id=call_id):
            while True:
                try:
                    if isinstance(sent, ActorError):
                        raise sent
                    result: WorkResult = sent.get(wait, cancelled=self.cancelled)
                except (WorkerFailedError, WorkerDiedError, AskTimeoutError) as exc:
                    self._report_attempt_failure(item, task_id, exc)
                    if self.cancelled.is_set() or not item.worker.can_restart():
                        # Given up: a worker still busy (it timed out) must not go on writing.
                        item.worker.stop(timeout=1.0)
                        raise self._escalate(item, call_id, exc) from exc
                    item.worker.restart()
                    task_id = new_id()
                    sent = self._send(item, call_id, task_id)
                    continue
                self._report_result(item, call_id, result)
                return result

    def _report_attempt_failure(self, item: Delegation, task_id: str, exc: ActorError) -> None:
        # A worker that raised has reported worker.task.failed itself; one that died or hung
        # cannot, so the conductor reports it on its behalf.
        if isinstance(exc, WorkerFailedError):
            return
        if self.events is not None:
            with correlation_scope(task_id=task_id):
                self.events.emit(
                    "worker.task.failed",
                    {"worker_id": item.worker.name, "phase": item.phase, "error": str(exc)},
                    actor=item.worker.name,
                )

    def _escalate(self, item: Delegation, call_id: str, exc: ActorError) -> EscalationError:
        kind = {WorkerFailedError: "raised", WorkerDiedError: "died", AskTimeoutError: "timeout"}.get(
            type(exc), "error"
        )
        self.emit(
            "conductor.worker.result",
            worker_type=item.worker.worker_type,
            success=False,
            result_summary=str(exc),
        )
        self.emit(
            "conductor.capability.failed",
            capability=item.capability,
            call_id=call_id,
            error=str(exc),
            failure_kind=kind,
            lane="control",
            restarts=item.worker.restarts,
        )
        return EscalationError(
            f"{item.capability} on {item.worker.worker_type} failed after "
            f"{item.worker.restarts} restart(s): {exc}"
        )

    def _report_result(self, item: Delegation, call_id: str, result: WorkResult) -> None:
        self.emit(
            "conductor.worker.result",
            worker_type=item.worker.worker_type,
            success=result.success,
            result_summary=result.summary,
        )
        if result.success:
            self.emit(
                "conductor.capability.completed",
                capability=item.capability,
                call_id=call_id,
                summary=result.summary,
                lane="control",
            )
        elif result.blocked_reason is not None:
            self.emit(
                "conductor.capability.blocked",
                capability=item.capability,
                call_id=call_id,
                reason=result.blocked_reason,
                lane="control",
            )
        else:
            self.emit(
                "conductor.capability.failed",
                capability=item.capability,
                call_id=call_id,
                error=result.summary,
                failure_kind="unsuccessful",
                lane="control",
            )


class _RunEvents(EventEmitter, Protocol):
    """What :func:`run_conductor` needs of the bus: emit, plus opening and closing the run."""

    def open_run(self, run_id: str, events_path: Path) -> None: ...

    def close_run(self, run_id: str) -> None: ...


class _SignalState:
    """Whether the run is winding down: then signals are logged and ignored, not raised."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self.winding_down = False


@contextmanager
def _signals_interrupt() -> Iterator[_SignalState]:
    """In the main thread, turn the first SIGINT/SIGTERM into :class:`RunInterruptedError`.

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
        raise RunInterruptedError(f"stopped by {name}")

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
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
    **conductor_kwargs: Any,
) -> RunOutcome:
    """Run one conductor to the end and return its outcome; the run gets one terminal event.

    Opens the run on the event bus, starts the conductor, asks it to conduct, and always: stops
    every actor of the run, writes the terminal event (``failed`` with the error code if the
    conductor did not finish), and closes the run's events file. The error that ended the run is
    re-raised (:class:`RunInterruptedError` for SIGINT/SIGTERM); if only closing the events file
    failed (events could not be written), that error is raised.
    """
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
