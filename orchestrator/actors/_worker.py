"""The worker base: an actor that performs one capability per :class:`WorkRequest`.

The base owns the worker's lifecycle events, so every worker reports the same way:
``worker.task.started`` when a request arrives, then ``worker.task.completed`` with the result's
summary, or ``worker.task.failed`` with the error before the error goes back to the conductor.

A worker declares its capabilities (``capabilities = {"capture": (CaptureRequest, CaptureResult)}``
or ``CAPTURE.declare()``, see :mod:`orchestrator.actors._contract`) and implements
:meth:`Worker.handle`, which gets the validated request model and returns a :class:`Done` with the
result model. The base refuses a capability the worker does not declare
(:class:`~orchestrator.errors.UnknownCapabilityError`), explains a request that does not match its
model, and refuses a result that does not match the declared result model
(:class:`~orchestrator.errors.ContractError`), so nothing untyped crosses the join. A worker that
declares nothing implements :meth:`Worker.perform` over the plain request instead (any capability,
plain params), the way a five-line worker is written.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any, ClassVar

import structlog
from pydantic import BaseModel, ValidationError

from orchestrator.actors._base import EventEmitter, TypedActor, handles
from orchestrator.actors._bracket import ToolCallRecord, tool_call
from orchestrator.actors._contract import Declared, Done, normalise_capabilities
from orchestrator.errors import ContractError, UnknownCapabilityError, WorkerFailedError
from orchestrator.messages import WorkRequest, WorkResult
from orchestrator.validation import explain_validation_error

__all__ = ["Worker"]


log = structlog.get_logger(__name__)


def _explain(exc: ValidationError, model: type[BaseModel]) -> str:
    """A contract violation in the shape of every validation error: field, problem, fix."""
    problem = explain_validation_error(exc, model=model, syntax="json")
    return f"params.{problem.field}: {problem.problem}. Fix: {problem.fix}"


class Worker(TypedActor):
    """Base of every worker actor (drivers and agents).

    ``cancelled`` is this actor's own cancel event: set when the conductor gives up on it (it timed
    out, it is being replaced) and, for every worker at once, when the run is stopping. Long work
    should check it (or wait on it) and return early, so stopping never has to abandon a thread;
    what a cancelled task answers is not added to the trace (the conductor has reported it).
    """

    worker_type: ClassVar[str] = "worker"
    capabilities: ClassVar[Mapping[str, Any]] = {}
    """Capability name to (request model, result model); empty means any capability, untyped."""
    _contracts: ClassVar[dict[str, Declared]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._contracts = normalise_capabilities(cls.capabilities)

    def __init__(
        self,
        *,
        events: EventEmitter | None = None,
        name: str | None = None,
        cancelled: threading.Event | None = None,
    ) -> None:
        super().__init__(events=events, name=name)
        self.cancelled = cancelled or threading.Event()
        self._phase = "run"

    @classmethod
    def default_name(cls) -> str:
        return f"{cls.worker_type}-{uuid.uuid4().hex[:8]}"

    @handles(WorkRequest)
    def _on_work(self, request: WorkRequest) -> WorkResult:
        self._phase = request.phase
        self.emit(
            "worker.task.started",
            worker_id=self.name,
            phase=request.phase,
            objective=request.objective,
            **self.started_details(request),
        )
        try:
            result = self._perform(request)
        except BaseException as exc:
            if not self.cancelled.is_set():
                self.emit(
                    "worker.task.failed",
                    worker_id=self.name,
                    phase=request.phase,
                    error=f"{type(exc).__name__}: {exc}",
                )
            if not isinstance(exc, Exception):
                # SystemExit and the like would make pykka stop every actor: a failure of this task.
                raise WorkerFailedError(self.name, type(exc).__name__, str(exc)) from exc
            raise
        if self.cancelled.is_set():
            # Given up on (it timed out, or the run is stopping): the conductor has reported this
            # task already, and an answer nobody reads must not add to the trace.
            log.debug("answer of a task given up on", worker=self.name, task_id=request.task_id)
            return result
        self.emit("worker.task.completed", worker_id=self.name, phase=request.phase, summary=result.summary)
        return result

    def started_details(self, request: WorkRequest) -> dict[str, Any]:
        """Extra fields for ``worker.task.started`` (e.g. ``model_used``); none by default."""
        return {}

    def _perform(self, request: WorkRequest) -> WorkResult:
        """Route a request: the typed path for a declared worker, :meth:`perform` otherwise."""
        if not self._contracts:
            return self.perform(request)
        declared = self._contracts.get(request.capability)
        if declared is None:
            known = ", ".join(sorted(self._contracts))
            raise UnknownCapabilityError(
                f"{self.worker_type} does not offer {request.capability!r}; it offers: {known}"
            )
        request_model, result_model = declared
        try:
            params = request_model.model_validate(request.params)
        except ValidationError as exc:
            raise ContractError(
                f"{request.capability} request to {self.worker_type}: {_explain(exc, request_model)}",
                side="request",
            ) from None
        done = self.handle(request, params)
        if not isinstance(done, Done) or not isinstance(done.result, result_model):
            got = type(done.result).__name__ if isinstance(done, Done) else type(done).__name__
            raise ContractError(
                f"{self.worker_type} answered {request.capability!r} with {got}, "
                f"not the declared {result_model.__name__}",
                side="result",
            )
        try:
            # Re-validated from its JSON form: what leaves the worker is what the contract allows.
            data = done.result.model_dump(mode="json", exclude_unset=True)
            result_model.model_validate(data)
        except ValidationError as exc:
            raise ContractError(
                f"{self.worker_type} answered {request.capability!r} with an invalid "
                f"{result_model.__name__}: {_explain(exc, result_model)}",
                side="result",
            ) from None
        return self.result(
            request,
            success=done.success,
            summary=done.summary,
            data=data,
            blocked_reason=done.blocked_reason,
        )

    def perform(self, request: WorkRequest) -> WorkResult:
        """Untyped workers (no ``capabilities``): do the work and return :meth:`result`."""
        raise UnknownCapabilityError(
            f"{self.worker_type} declares no capabilities and does not implement perform()"
        )

    def handle(self, request: WorkRequest, params: Any) -> Done[Any]:
        """Typed workers: perform ``request.capability`` on its validated request model ``params``."""
        raise UnknownCapabilityError(
            f"{self.worker_type} declares capabilities but does not implement handle()"
        )

    def tool_call(self, tool_name: str, *, summary: str = "") -> AbstractContextManager[ToolCallRecord]:
        """Bracket a tool call with ``worker.tool.call|result`` (see :func:`tool_call`)."""
        return tool_call(self.emit, tool_name, summary=summary)

    # --- helpers for subclasses ----------------------------------------------------------------

    def result(
        self,
        request: WorkRequest,
        *,
        success: bool = True,
        summary: str,
        data: dict[str, Any] | None = None,
        blocked_reason: str | None = None,
    ) -> WorkResult:
        """A :class:`WorkResult` correlated with ``request``."""
        return WorkResult(
            success=success,
            summary=summary,
            data=data or {},
            blocked_reason=blocked_reason,
            **request.correlated(),
        )

    def progress(self, message: str, **details: Any) -> None:
        """Report progress on the current task (``worker.task.progress``)."""
        self.emit("worker.task.progress", worker_id=self.name, phase=self._phase, message=message, **details)

    def finding(self, claim: str, *, confidence: float, evidence_refs: list[str], **details: Any) -> str:
        """Report a finding (``worker.task.finding``); returns its id."""
        finding_id = uuid.uuid4().hex[:12]
        self.emit(
            "worker.task.finding",
            worker_id=self.name,
            finding_id=finding_id,
            claim=claim,
            confidence=confidence,
            evidence_refs=evidence_refs,
            **details,
        )
        return finding_id

    def learning(self, insight: str, *, confidence: float, **details: Any) -> str:
        """Report a learning (``worker.task.learning``); returns its id."""
        learning_id = uuid.uuid4().hex[:12]
        self.emit(
            "worker.task.learning",
            worker_id=self.name,
            learning_id=learning_id,
            insight=insight,
            confidence=confidence,
            **details,
        )
        return learning_id
