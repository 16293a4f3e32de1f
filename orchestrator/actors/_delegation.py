"""Delegation: how a conductor hands work to supervised workers and gets one outcome per request.

:class:`SupervisedWorker` is a worker the conductor restarts when it fails; :class:`WorkerPool` is
N of them, where each request goes to the first free one (the slot pool). :class:`Delegation` is
one request; :class:`Outcome` is its answer: the worker's result, or a typed :class:`Failure`.

Failures are data. Every way a call can fail ends it with ``conductor.worker.result`` (success
false) and ``conductor.capability.failed`` with a ``failure_kind``:

============== ===============================================================================
raised          the worker raised (ours or anything else)
died            the actor was dead, or stopped before it answered
timeout         no answer within the ask timeout
invalid_result  the worker answered with a result its contract does not allow
refused         the worker does not offer the capability, or the request breaks its contract
escalated       the supervisor could not start a replacement worker to retry on
============== ===============================================================================

A worker that raised something not ours, died or timed out is restarted and the request sent
again while the worker's restart budget lasts; our own errors (a bad config, a contract broken)
are not retried, since sending the same request again cannot change them. A failure after
restarts keeps the kind of its last attempt and says how many restarts it took (``restarts``).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import pykka
import structlog
from pydantic import BaseModel, ValidationError

from orchestrator.actors._base import ActorHandle
from orchestrator.actors._bracket import new_trace_id
from orchestrator.actors._contract import Capability, Done
from orchestrator.errors import (
    ActorError,
    AskTimeoutError,
    ContractError,
    EscalationError,
    OrchestrateError,
    RunInterruptedError,
    UnknownCapabilityError,
    WorkerDiedError,
    WorkerFailedError,
)
from orchestrator.messages import WorkResult
from orchestrator.validation import explain_validation_error

__all__ = [
    "Delegation",
    "Failure",
    "FailureKind",
    "Outcome",
    "SupervisedWorker",
    "WorkerPool",
    "check_result",
    "classify_failure",
    "new_id",
    "wait_stopped",
]

log = structlog.get_logger(__name__)

Res = TypeVar("Res", bound=BaseModel)

FailureKind = Literal["raised", "died", "timeout", "invalid_result", "refused", "escalated"]


def new_id() -> str:
    """A short random id for calls and tasks, in the one id format (see :func:`new_trace_id`)."""
    return new_trace_id()


class SupervisedWorker:
    """A worker the conductor restarts when it fails, up to ``max_restarts`` times per request.

    Each actor it starts gets a cancel event of its own, set when that actor is given up on (it
    timed out, it failed past its budget, the run is stopping), so work still running in a
    discarded actor stops instead of going on beside its replacement. Giving an actor up never
    waits for it: the replacement starts at once, and the old one is stopped with the run.
    """

    def __init__(
        self, factory: Callable[[threading.Event], ActorHandle[Any]], worker_type: str, max_restarts: int
    ) -> None:
        self._factory = factory
        self.worker_type = worker_type
        self.max_restarts = max_restarts
        self.restarts = 0
        self._cancelled = threading.Event()
        self._given_up: list[tuple[ActorHandle[Any], threading.Event]] = []
        self.broken = False
        """Its actor was given up on and no replacement could be started yet (see :meth:`revive`)."""
        self.handle = factory(self._cancelled)

    @property
    def name(self) -> str:
        return self.handle.name

    def give_up(self) -> None:
        """Cancel the current actor's work and ask it to stop, without waiting for it."""
        self._cancelled.set()
        self.handle.stop_later()
        self._given_up.append((self.handle, self._cancelled))
        self.broken = True

    def revive(self) -> None:
        """Start a fresh actor in place of one given up on; raises if it cannot be started."""
        cancelled = threading.Event()
        self.handle = self._factory(cancelled)
        self._cancelled = cancelled
        self.broken = False

    def restart(self) -> None:
        """Give up the failed actor and start a fresh one (counted once it has started)."""
        self.give_up()
        self.revive()
        self.restarts += 1
        log.info("worker restarted", worker=self.name, restarts=self.restarts)

    def cancel(self) -> None:
        """Set the cancel event of every actor this worker started (the run is stopping)."""
        self._cancelled.set()
        for _, cancelled in self._given_up:
            cancelled.set()

    def stop_all_later(self) -> list[pykka.Future[Any]]:
        """Ask every actor this worker started to stop; the futures to wait on."""
        self.cancel()
        handles = [handle for handle, _ in self._given_up] + [self.handle]
        return [future for handle in handles if (future := handle.stop_later()) is not None]

    def stop(self, timeout: float) -> bool:
        """Cancel and stop every actor this worker started; ``False`` if one did not stop in time."""
        return wait_stopped(self.stop_all_later(), timeout)


def wait_stopped(futures: list[pykka.Future[Any]], timeout: float) -> bool:
    """Wait for stop futures with one shared deadline; ``False`` if any did not complete in time."""
    deadline = time.monotonic() + timeout
    stopped = True
    for future in futures:
        try:
            future.get(timeout=max(0.0, deadline - time.monotonic()))
        except pykka.Timeout:
            stopped = False
        except Exception:  # noqa: S112 - an actor that died while stopping has stopped
            continue
    return stopped


class WorkerPool:
    """N supervised workers of one kind; a request goes to the first free one.

    A worker that died or timed out is replaced by a fresh one before it takes the next request,
    so one broken slot never shrinks the pool.
    """

    def __init__(self, workers: list[SupervisedWorker]) -> None:
        if not workers:
            raise ValueError("a worker pool needs at least one worker")
        self.workers = workers
        self.worker_type = workers[0].worker_type
        self._free: queue.SimpleQueue[SupervisedWorker] = queue.SimpleQueue()
        for worker in workers:
            self._free.put(worker)

    @property
    def size(self) -> int:
        return len(self.workers)

    def try_acquire(self) -> SupervisedWorker | None:
        """The first free worker, or ``None`` when every worker is busy."""
        try:
            return self._free.get_nowait()
        except queue.Empty:
            return None

    def release(self, worker: SupervisedWorker) -> None:
        self._free.put(worker)


@dataclass(frozen=True)
class Delegation:
    """One request: a capability of a worker (or of the first free worker of a pool)."""

    worker: SupervisedWorker | WorkerPool
    capability: str | Capability[Any, Any]
    objective: str
    params: Mapping[str, Any] | BaseModel = field(default_factory=dict)
    phase: str = "run"

    @property
    def capability_name(self) -> str:
        return self.capability.name if isinstance(self.capability, Capability) else self.capability

    def wire_params(self) -> dict[str, Any]:
        """The request's params in their JSON form; a typed request must be its declared model."""
        if isinstance(self.capability, Capability) and not isinstance(self.params, self.capability.request):
            raise TypeError(
                f"{self.capability.name} takes a {self.capability.request.__name__}, "
                f"not a {type(self.params).__name__}"
            )
        if isinstance(self.params, BaseModel):
            # Only what was set: a default stays a default on the far side, and a model that
            # tells "given" from "left out" (``model_fields_set``) means the same after the trip.
            return self.params.model_dump(mode="json", exclude_unset=True)
        return dict(self.params)


@dataclass(frozen=True)
class Failure:
    """Why a delegation ended without a result (see the module docstring for the kinds)."""

    kind: FailureKind
    error: str
    error_type: str
    error_code: str
    restarts: int = 0
    cause_kind: FailureKind | None = None
    """For ``escalated``: the kind of the attempt whose worker could not be replaced."""


@dataclass(frozen=True)
class Outcome:
    """One request's answer, in the order the requests were given (``index``)."""

    index: int
    capability: str
    call_id: str
    worker_type: str
    result: WorkResult | None = None
    failure: Failure | None = None

    @property
    def ok(self) -> bool:
        """The worker answered and its result is a success."""
        return self.result is not None and self.result.success

    def error(self) -> EscalationError:
        """The failure as the error a single :meth:`Conductor.delegate` raises."""
        if self.failure is None:
            raise ValueError("this outcome has a result, not a failure")
        error = EscalationError(
            f"{self.capability} on {self.worker_type} failed after {self.failure.restarts} restart(s): "
            f"{self.failure.error}"
        )
        error.failure = self.failure  # type: ignore[attr-defined]
        return error

    def done(self, capability: Capability[Any, Res]) -> Done[Res]:
        """The typed answer: the result model parsed from the wire, with summary and status.

        Raises the failure (:meth:`error`) when the call failed.
        """
        if self.result is None:
            raise self.error()
        return Done(
            result=capability.parse_result(self.result.data),
            summary=self.result.summary,
            success=self.result.success,
            blocked_reason=self.result.blocked_reason,
        )


def classify_failure(exc: BaseException) -> tuple[FailureKind, bool]:
    """The kind of a failed attempt, and whether sending the request again could help."""
    if isinstance(exc, AskTimeoutError):
        return "timeout", True
    if isinstance(exc, WorkerDiedError):
        return "died", True
    if isinstance(exc, WorkerFailedError):
        return "raised", True
    if isinstance(exc, ContractError):
        return ("invalid_result" if exc.side == "result" else "refused"), False
    if isinstance(exc, UnknownCapabilityError):
        return "refused", False
    if isinstance(exc, EscalationError):
        return "escalated", False
    return "raised", False


def error_code_of(exc: BaseException) -> str:
    return exc.error_code if isinstance(exc, OrchestrateError) else "internal_error"


def is_attempt_failure(exc: BaseException, cancelled: threading.Event) -> bool:
    """An error from a worker's attempt (a result of the call), not the run being stopped."""
    if isinstance(exc, RunInterruptedError) and cancelled.is_set():
        return False
    return isinstance(exc, ActorError | OrchestrateError)


def check_result(item: Delegation, worker_type: str, result: WorkResult) -> None:
    """A typed delegation's result must match its result model, also from a worker that declares none.

    A worker that declares the capability was checked by its base already; one that declares
    nothing (a plugin's untyped worker) is checked here, so a missing or renamed key is an
    ``invalid_result`` failure rather than a default read by the conductor.
    """
    if not isinstance(item.capability, Capability):
        return
    try:
        item.capability.parse_result(result.data)
    except ValidationError as exc:
        model = item.capability.result
        problem = explain_validation_error(exc, model=model, syntax="json")
        raise ContractError(
            f"{worker_type} answered {item.capability.name!r} with an invalid {model.__name__}: "
            f"data.{problem.field}: {problem.problem}. Fix: {problem.fix}",
            side="result",
        ) from None
