"""What a step runs with (:class:`StepContext`) and what it gives back (:class:`StepOutcome`).

A trajectory has one clock: milliseconds since it began for every event, and its deadline for
every wait (a request's timeout is the smaller of the request timeout and the time left).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from orchestrator.agents.runner._browser import SlotBrowser
from orchestrator.agents.runner._placeholders import Answer
from orchestrator.config import SutSection
from orchestrator.scenarios import EventType, StepStatus, TrajectorySpec
from orchestrator.twins import TwinRuntime

__all__ = ["Clock", "StepContext", "StepEnd", "StepOutcome"]

StepEnd = Literal["errored", "timed_out"]


class Clock:
    """Milliseconds since the trajectory began, and how much of its deadline is left."""

    def __init__(self, deadline_s: float) -> None:
        self.started = time.monotonic()
        self.started_wall = time.time()
        self.deadline_s = deadline_s

    def at_ms(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 3)

    def remaining(self) -> float:
        return self.deadline_s - (time.monotonic() - self.started)

    def passed(self) -> bool:
        return self.remaining() <= 0

    def cap(self, seconds: float) -> float:
        """``seconds``, or the time left when that is less (never negative)."""
        return max(0.0, min(seconds, self.remaining()))


@dataclass
class StepContext:
    """One trajectory's means: its spec, the slot's system under test and twins, its clock."""

    spec: TrajectorySpec
    sut: SutSection
    sut_url: str | None
    sut_alive: Callable[[], bool]
    client: httpx.Client
    runtimes: Mapping[str, TwinRuntime]
    browser: Callable[[], SlotBrowser]
    clock: Clock
    cancelled: threading.Event
    first_seq: dict[str, int] = field(default_factory=dict)
    """Per twin, the first journal number of this trajectory (requests before it are not its own)."""
    session_id: str | None = None
    traceparent: str | None = None
    """The ``traceparent`` header of the current step's requests (with the slot's OTLP intake on)."""

    def scenario_data(self, twin: str) -> Any:
        return self.spec.scenario.context.data.get(twin)


@dataclass
class StepOutcome:
    """How one step went: the record's fields, its own event, and whether the trajectory ends here."""

    status: StepStatus
    request: dict[str, Any] = field(default_factory=dict)
    response_status: int | None = None
    answer: Answer | None = None
    failures: list[str] = field(default_factory=list)
    event_type: EventType = "user_action"
    description: str = ""
    detail: dict[str, Any] = field(default_factory=dict)
    agent: dict[str, Any] | None = None
    """What the system under test said it did (its answer's route), for an ``agent_action`` event."""
    end: StepEnd | None = None
    error: str | None = None

    @classmethod
    def ended(
        cls,
        end: StepEnd,
        error: str,
        *,
        request: dict[str, Any] | None = None,
        event_type: EventType = "user_action",
    ) -> StepOutcome:
        """A step that ends the trajectory: ``errored``, or out of time."""
        return cls(
            status="errored",
            request=request or {},
            failures=[error],
            event_type=event_type,
            description=error,
            end=end,
            error=error,
        )
