"""The worker base: an actor that performs one capability per :class:`WorkRequest`.

The base owns the worker's lifecycle events, so every worker reports the same way:
``worker.task.started`` when a request arrives, then ``worker.task.completed`` with the result's
summary, or ``worker.task.failed`` with the error before the error goes back to the conductor.
Subclasses implement :meth:`Worker.perform` and may report progress, findings and learnings.
"""

from __future__ import annotations

import threading
import uuid
from abc import abstractmethod
from typing import Any, ClassVar

from orchestrator.actors._base import EventEmitter, TypedActor, handles
from orchestrator.messages import WorkRequest, WorkResult

__all__ = ["Worker"]


class Worker(TypedActor):
    """Base of every worker actor (drivers and agents).

    ``cancelled`` is set when the run is being stopped; long work should check it (or wait on it)
    and return early, so stopping a run never has to abandon a thread.
    """

    worker_type: ClassVar[str] = "worker"

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
            result = self.perform(request)
        except Exception as exc:
            self.emit(
                "worker.task.failed",
                worker_id=self.name,
                phase=request.phase,
                error=f"{type(exc).__name__}: {exc}",
            )
            raise
        self.emit("worker.task.completed", worker_id=self.name, phase=request.phase, summary=result.summary)
        return result

    def started_details(self, request: WorkRequest) -> dict[str, Any]:
        """Extra fields for ``worker.task.started`` (e.g. ``model_used``); none by default."""
        return {}

    @abstractmethod
    def perform(self, request: WorkRequest) -> WorkResult:
        """Do the work and return its result (build it with :meth:`result`)."""

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
