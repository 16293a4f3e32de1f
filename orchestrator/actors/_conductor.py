"""The conductor base: delegates capabilities to supervised workers and ends every run once.

A pipeline is a :class:`Conductor` subclass that implements :meth:`Conductor.conduct`. It starts
workers with :meth:`~Conductor.start_worker` and hands them work with :meth:`~Conductor.delegate`
(or :meth:`~Conductor.delegate_all` to run several at once). Each delegation is recorded as
``conductor.worker.call`` (with a fresh ``call_id``), then ``conductor.worker.result`` and one of
``conductor.capability.completed|failed|blocked``.

A delegation names a capability: a :class:`~orchestrator.actors.Capability` with its request and
result models (the typed join), or a plain name for a worker that declares none. Failures are
data (see :mod:`orchestrator.actors._delegation`): :meth:`~Conductor.delegate_all` returns one
outcome per request, over a bounded pool of workers, and a failed request never ends the batch;
:meth:`~Conductor.delegate` raises the failure as :class:`EscalationError` after its events.
:class:`TerminalGuard` makes sure a run has exactly one terminal event.
"""

from __future__ import annotations

import threading
from abc import abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from itertools import chain
from typing import Any, TypeVar, overload

import structlog
from pydantic import BaseModel

from orchestrator.actors._base import ActorHandle, EventEmitter, TypedActor, handles, spawn
from orchestrator.actors._contract import Capability, Done
from orchestrator.actors._delegation import (
    Delegation,
    Failure,
    Outcome,
    SupervisedWorker,
    WorkerPool,
    classify_failure,
    error_code_of,
    wait_stopped,
)
from orchestrator.actors._dispatch import Call, dispatch
from orchestrator.actors._worker import Worker
from orchestrator.correlation import correlation_scope, current_correlation
from orchestrator.errors import OrchestrateError, WorkerFailedError
from orchestrator.messages import RunOutcome, StartRun, WorkRequest, WorkResult

__all__ = ["Conductor", "TerminalGuard"]

log = structlog.get_logger(__name__)

W = TypeVar("W", bound=Worker)
Req = TypeVar("Req", bound=BaseModel)
Res = TypeVar("Res", bound=BaseModel)


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
                    "error_code": outcome.error_code or "run_failed",
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
        # Every worker hears the cancel at once, then all are stopped against one deadline.
        for worker in self._workers:
            worker.cancel()
        futures = [future for worker in self._workers for future in worker.stop_all_later()]
        if not wait_stopped(futures, _STOP_WORKERS_S):
            log.warning("workers did not stop in time", workers=[w.name for w in self._workers])

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

    def start_pool(
        self, worker_class: type[W], *, size: int, max_restarts: int = 2, **kwargs: Any
    ) -> WorkerPool:
        """Start ``size`` workers of ``worker_class`` as a pool; a request goes to the first free one."""
        if size < 1:
            raise ValueError(f"a worker pool needs a size of at least 1, not {size}")
        return WorkerPool(
            [self.start_worker(worker_class, max_restarts=max_restarts, **kwargs) for _ in range(size)]
        )

    # --- delegation ----------------------------------------------------------------------------

    @overload
    def delegate(
        self,
        worker: SupervisedWorker | WorkerPool,
        capability: Capability[Req, Res],
        objective: str,
        *,
        params: Req,
        phase: str = "run",
        timeout: float | None = None,
    ) -> Done[Res]: ...

    @overload
    def delegate(
        self,
        worker: SupervisedWorker | WorkerPool,
        capability: str,
        objective: str,
        *,
        params: Mapping[str, Any] | None = None,
        phase: str = "run",
        timeout: float | None = None,
    ) -> WorkResult: ...

    def delegate(
        self,
        worker: SupervisedWorker | WorkerPool,
        capability: str | Capability[Any, Any],
        objective: str,
        *,
        params: Mapping[str, Any] | BaseModel | None = None,
        phase: str = "run",
        timeout: float | None = None,
    ) -> WorkResult | Done[Any]:
        """Hand one piece of work to ``worker`` and wait for its answer (restarting on failure).

        With a :class:`Capability`, ``params`` is its request model and the answer is a
        :class:`Done` holding its result model; with a capability name, plain params and the
        :class:`WorkResult`. A call that failed raises :class:`EscalationError` (its ``failure``
        attribute is the :class:`Failure`), after the failure events were written.
        """
        work = Delegation(worker, capability, objective, params if params is not None else {}, phase)
        outcome = self.delegate_all([work], timeout=timeout)[0]
        if outcome.result is None:
            raise outcome.error()
        if isinstance(capability, Capability):
            return outcome.done(capability)
        return outcome.result

    def delegate_all(
        self,
        work: Iterable[Delegation],
        *,
        limit: int | None = None,
        timeout: float | None = None,
        on_outcome: Callable[[Outcome], None] | None = None,
        collect: bool = True,
    ) -> list[Outcome]:
        """Run every delegation and return one :class:`Outcome` per request, in request order.

        A failed request is an outcome, never the end of the batch. At most ``limit`` requests
        are in flight (default: the pool's size when the work goes to a :class:`WorkerPool`, else
        all of a list at once); the next request goes to the first free worker. ``work`` may be a
        generator, read as requests are sent; ``on_outcome`` gets each outcome as it finishes,
        and with ``collect=False`` nothing is kept (the list is empty), so memory stays flat over
        thousands of requests. A stopped run raises :class:`RunInterruptedError`.
        """
        wait = self.ask_timeout if timeout is None else timeout
        items = iter(enumerate(work))
        first = next(items, None)
        if first is None:
            return []
        slots = limit if limit is not None else _default_slots(first[1], work)
        if slots < 1:
            raise ValueError(f"limit must be at least 1, not {limit}")
        results: dict[int, Outcome] = {}

        def deliver(outcome: Outcome) -> None:
            if on_outcome is not None:
                on_outcome(outcome)
            if collect:
                results[outcome.index] = outcome

        dispatch(self, chain([first], items), slots=slots, wait=wait, deliver=deliver)
        return [results[index] for index in sorted(results)]

    def _succeeded(
        self, index: int, item: Delegation, worker: SupervisedWorker, call_id: str, result: WorkResult
    ) -> Outcome:
        self._report_result(item, call_id, result)
        return Outcome(index, item.capability_name, call_id, worker.worker_type, result=result)

    def _attempt_failed(self, call: Call, exc: BaseException) -> Outcome | None:
        """Report a failed attempt; ``None`` when the request goes again on a restarted worker."""
        item, worker = call.item, call.worker
        kind, retryable = classify_failure(exc)
        self._report_attempt_failure(worker, item.phase, call.task_id, exc)
        escalated = False
        try:
            if retryable and not self.cancelled.is_set() and call.attempts < worker.max_restarts:
                worker.restart()
                call.attempts += 1
                return None
            if kind in ("died", "timeout"):
                # Given up: a worker still busy (it timed out) must not go on writing. A fresh actor
                # takes its place before its next request (see dispatch).
                worker.give_up()
        except Exception as restart_error:
            log.error("worker could not be restarted", worker=worker.name, error=str(restart_error))
            escalated = True
            exc = restart_error
        failure = Failure(
            kind="escalated" if escalated else kind,
            error=str(exc),
            error_type=exc.error_type if isinstance(exc, WorkerFailedError) else type(exc).__name__,
            error_code=error_code_of(exc),
            restarts=call.attempts,
            cause_kind=kind if escalated else None,
        )
        self._report_failure(item, worker, call.call_id, failure)
        return Outcome(call.index, item.capability_name, call.call_id, worker.worker_type, failure=failure)

    def _request(self, item: Delegation, call_id: str, task_id: str) -> WorkRequest:
        run_id = current_correlation().get("run_id")
        assert run_id is not None, "delegation outside a run"
        return WorkRequest(
            run_id=run_id,
            task_id=task_id,
            call_id=call_id,
            capability=item.capability_name,
            objective=item.objective,
            phase=item.phase,
            params=item.wire_params(),
        )

    def _report_attempt_failure(
        self, worker: SupervisedWorker, phase: str, task_id: str, exc: BaseException
    ) -> None:
        # A worker that raised has reported worker.task.failed itself; one that died or hung
        # cannot, so the conductor reports it on its behalf.
        if classify_failure(exc)[0] not in ("died", "timeout") or self.events is None:
            return
        with correlation_scope(task_id=task_id):
            self.events.emit(
                "worker.task.failed",
                {"worker_id": worker.name, "phase": phase, "error": str(exc)},
                actor=worker.name,
            )

    def _report_failure(
        self, item: Delegation, worker: SupervisedWorker, call_id: str, failure: Failure
    ) -> None:
        self.emit(
            "conductor.worker.result",
            worker_type=worker.worker_type,
            success=False,
            result_summary=failure.error,
        )
        self.emit(
            "conductor.capability.failed",
            capability=item.capability_name,
            call_id=call_id,
            error=failure.error,
            failure_kind=failure.kind,
            cause_kind=failure.cause_kind,
            error_code=failure.error_code,
            lane="control",
            restarts=failure.restarts,
        )

    def _report_result(self, item: Delegation, call_id: str, result: WorkResult) -> None:
        capability = item.capability_name
        self.emit(
            "conductor.worker.result",
            worker_type=item.worker.worker_type,
            success=result.success,
            result_summary=result.summary,
        )
        if result.success:
            self.emit(
                "conductor.capability.completed",
                capability=capability,
                call_id=call_id,
                summary=result.summary,
                lane="control",
            )
        elif result.blocked_reason is not None:
            self.emit(
                "conductor.capability.blocked",
                capability=capability,
                call_id=call_id,
                reason=result.blocked_reason,
                lane="control",
            )
        else:
            self.emit(
                "conductor.capability.failed",
                capability=capability,
                call_id=call_id,
                error=result.summary,
                failure_kind="unsuccessful",
                lane="control",
            )


_STOP_WORKERS_S = 2.0
"""How long a stopping run waits, in all, for its workers to stop."""


def _default_slots(first: Delegation, work: Iterable[Delegation]) -> int:
    """A pool's size; else every request of a list at once (each still waits for its own worker)."""
    if isinstance(first.worker, WorkerPool):
        return first.worker.size
    return len(work) if isinstance(work, Sequence) else 1
