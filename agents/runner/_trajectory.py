"""Running one trajectory on a slot: reset the twins, run the steps, record what happened.

:func:`run_trajectory` is a plain function over a started :class:`~._slot.Slot`, callable and
testable without actors. It always returns a :class:`~orchestrator.scenarios.Trajectory`: a
trajectory that could not finish is ``errored`` or ``timed_out``, with an ``error`` event saying
why, never an exception.

1. If the slot's system under test died since the last trajectory, it is started again (a
   ``system_event`` says so); if it cannot be, the trajectory ends ``errored`` with
   ``slot_failure: true`` in its ``outcome``, like one whose slot never started. Every twin of
   the slot is reset: the scenario's services to its ``context.data`` with the trajectory's seed
   and chaos, the others to their defaults with chaos off. Trajectories never share state.
2. The steps run in order, each with its placeholders filled in from earlier answers. A step's
   ``expect`` that does not hold fails the step and the trajectory goes on, unless the step says
   ``stop_on_fail``. A step that cannot be carried out (the system under test unreachable, an
   unresolvable placeholder) ends the trajectory ``errored``; the deadline ends it ``timed_out``.
   Steps that did not run are recorded as ``skipped``.
3. The record: per step its own event (``user_action``, or ``system_event`` for twin and wait
   steps), then the requests the twins served during it (``api_call``, attributed by the journals'
   sequence numbers before and after the step, never by timing; by twin, then in arrival order),
   then what the system under test said it did (``agent_action``), then its ``error`` if it ended
   the trajectory; after the steps, the twins' ``state_transition`` events. The final state holds
   each scenario twin's state, the session as the system under test reports it, and each step's
   HTTP status.
4. With the slot's OTLP intake on, every request to the system under test carries a
   ``traceparent`` of the trajectory's own trace (its step named by the parent span id, see
   :class:`~orchestrator.telemetry.TrajectoryTrace`), and the spans the system under test
   exported under that trace become ``agent_action`` events of the step that caused them, in
   start order right after the step's own event (those of no step come after the steps' events).

With the same spec, the document is the same but for times (``started_at``, ``finished_at``,
``duration_ms``, ``at_ms``), the slot's name, and timestamps the twins write into their records.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import httpx

from orchestrator.agents.runner._assemble import Marks, StepRecord, outcome_of, skipped, step_events
from orchestrator.agents.runner._context import Clock, StepContext, StepEnd, StepOutcome
from orchestrator.agents.runner._expect import expectation_failures
from orchestrator.agents.runner._placeholders import Answer, PlaceholderScope, resolve_step
from orchestrator.agents.runner._record import (
    cap_json,
    cap_text,
    finish_document,
    state_transitions,
)
from orchestrator.agents.runner._steps import run_browser_step, run_http_step, run_user_step
from orchestrator.agents.runner._twin_steps import belongs_to, run_twin_step, run_wait_step
from orchestrator.assistant_api import session_request
from orchestrator.errors import ConfigError
from orchestrator.scenarios import (
    BrowserStep,
    ChaosRecord,
    HttpStep,
    ScenarioStep,
    StepResult,
    Trajectory,
    TrajectoryEvent,
    TrajectorySpec,
    TrajectoryStatus,
    TwinStep,
    UserStep,
    WaitForStep,
    step_id_of,
    step_kind,
    twin_seed,
)
from orchestrator.telemetry import TRACEPARENT_HEADER, TrajectoryTrace, place_spans, span_events
from orchestrator.twins import TRAJECTORY_HEADER

if TYPE_CHECKING:
    from orchestrator.agents.runner._slot import Slot

__all__ = ["restart_failure", "run_trajectory", "slot_failure"]

_SETTLE_S = 2.0
"""The longest wait, after a step, for the twins to finish journaling requests made during it."""
_SPANS_WAIT_S = 1.0
"""The longest wait, after the steps, for spans the system under test has yet to export."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def run_trajectory(
    slot: Slot, spec: TrajectorySpec, *, cancelled: threading.Event | None = None
) -> Trajectory:
    """Run ``spec`` on the started ``slot`` and return its record (see the module docstring).

    ``cancelled`` (the runner's cancel event) is looked at before every step and while waiting;
    once it is set the trajectory ends ``errored`` as soon as it can.
    """
    return _Run(slot, spec, cancelled or threading.Event()).run()


def slot_failure(slot_name: str, spec: TrajectorySpec, error: str, *, slot_failed: bool = True) -> Trajectory:
    """The record of a trajectory that could not begin (its slot did not start): errored, with the cause.

    Its ``outcome`` has ``slot_failure: true``, which tells it from a trajectory the system under
    test's own answers made fail.
    """
    now = _now()
    scenario = spec.scenario
    steps = skipped(scenario.steps)
    return Trajectory(
        id=spec.trajectory_id,
        scenario_id=scenario.id,
        scenario_version=scenario.version,
        domain=scenario.domain,
        run_id=spec.run_id,
        index=spec.index,
        seed=spec.seed,
        slot=slot_name,
        started_at=now,
        finished_at=now,
        duration_ms=0.0,
        status="errored",
        error=error,
        chaos_profile=spec.chaos_profile,
        steps=steps,
        events=[TrajectoryEvent(type="error", at_ms=0.0, description=error, detail={"error": error})],
        outcome=outcome_of(
            "errored", error, None, steps, api_calls=0, injections=0, slot_failure=slot_failed
        ),
    )


def restart_failure(exc: BaseException) -> str:
    """Why a trajectory errored when its slot's system under test died and did not start again."""
    return f"the system under test could not be started again: {exc}"


class _Run:
    """One trajectory in progress."""

    def __init__(self, slot: Slot, spec: TrajectorySpec, cancelled: threading.Event) -> None:
        self.slot = slot
        self.spec = spec
        self.cancelled = cancelled
        cap = slot.settings.trajectory_timeout_s
        self.clock = Clock(min(spec.deadline_s, cap) if cap is not None else spec.deadline_s)
        self.started_at = _now()
        self.runtimes = slot.runtimes
        self.head: list[TrajectoryEvent] = []
        self.tail: list[TrajectoryEvent] = []
        self.records: list[StepRecord] = []
        self.status: TrajectoryStatus = "completed"
        self.error: str | None = None
        self.ended_at: str | None = None
        self.stopped = False
        """A failed step with ``stop_on_fail`` ended the steps (the trajectory is still completed)."""
        self.slot_failed = False
        """The system under test died and could not be started again, so no step ran."""
        self.first_seq: Marks = {}
        self.initial: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.session: Any = None
        self.trace = TrajectoryTrace(spec.run_id, spec.trajectory_id) if slot.intake is not None else None
        """The trajectory's trace, when the slot takes the system under test's spans."""

    # ------------------------------------------------------------------------------- the phases

    def run(self) -> Trajectory:
        try:
            if self._prepare():
                self._run_steps()
        finally:
            self.slot.end_trajectory()
        return self._finish()

    def _end(self, status: StepEnd, error: str, *, step_id: str | None = None) -> None:
        self.status = status
        self.error = error
        self.ended_at = step_id
        if step_id is None:
            self.tail.append(self._event("error", error, detail={"error": error, "status": status}))

    def _event(
        self, kind: Any, description: str, *, step_id: str | None = None, detail: dict[str, Any] | None = None
    ) -> TrajectoryEvent:
        return TrajectoryEvent(
            type=kind, at_ms=self.clock.at_ms(), step_id=step_id, description=description, detail=detail or {}
        )

    def _prepare(self) -> bool:
        """Bring the system under test back if it died, and reset every twin; whether steps may run."""
        try:
            restarted = self.slot.ensure_sut()
        except Exception as exc:  # a start command or app factory may fail in any way
            self.slot_failed = True
            self._end("errored", restart_failure(exc))
            return False
        if restarted is not None:
            self.head.append(self._event("system_event", restarted, detail={"sut": "restarted"}))
        scenario = self.spec.scenario
        missing = [name for name in scenario.context.services if name not in self.runtimes]
        if missing:
            served = ", ".join(sorted(self.runtimes)) or "none"
            self._end(
                "errored",
                f"scenario {scenario.id} uses twin {missing[0]!r}, which this slot does not serve "
                f"(served: {served})",
            )
            return False
        ours = set(scenario.context.services)
        try:
            for name, runtime in sorted(self.runtimes.items()):
                data = scenario.context.data.get(name) if name in ours else None
                runtime.set_chaos(
                    self.spec.chaos if name in ours else None,
                    profile=self.spec.chaos_profile if name in ours else None,
                )
                runtime.reset(
                    data,
                    seed=twin_seed(self.spec.seed, name),
                    source=f"scenario {scenario.id}: context.data.{name}",
                )
        except ConfigError as exc:
            self._end("errored", f"the twins could not be reset for scenario {scenario.id}: {exc}")
            return False
        self.first_seq = {name: runtime.journal.last_seq + 1 for name, runtime in self.runtimes.items()}
        self.initial = {name: self.runtimes[name].state.dump() for name in sorted(ours)}
        label = (self.spec.chaos_profile or "on") if self.spec.chaos is not None else None
        chaos = dict.fromkeys(sorted(ours), label)
        self.head.append(
            self._event(
                "system_event",
                f"twins reset: {', '.join(sorted(self.runtimes)) or 'none'} (seed {self.spec.seed})",
                detail={"twins": sorted(self.runtimes), "seed": self.spec.seed, "chaos": chaos},
            )
        )
        return True

    def _run_steps(self) -> None:
        slot, spec = self.slot, self.spec
        headers = {TRAJECTORY_HEADER: spec.trajectory_id}
        if self.trace is not None:
            headers[TRACEPARENT_HEADER] = self.trace.traceparent(None)
        with httpx.Client(headers=headers, trust_env=False, verify=slot.ssl_context) as client:
            ctx = StepContext(
                spec=spec,
                sut=slot.settings.sut,
                sut_url=slot.sut_url,
                sut_alive=slot.sut_alive,
                client=client,
                runtimes=self.runtimes,
                browser=slot.browser,
                clock=self.clock,
                cancelled=self.cancelled,
                first_seq=self.first_seq,
            )
            for index, step in enumerate(spec.scenario.steps):
                step_id = step_id_of(step, index)
                kind: Any = step_kind(step)
                if self.status == "completed" and not self.stopped:
                    if self.cancelled.is_set():
                        self._end("errored", f"the run was stopped before step {step_id}")
                    elif self.clock.passed():
                        self._end(
                            "timed_out",
                            f"the deadline ({self.clock.deadline_s:g} s) passed before step {step_id}",
                        )
                if self.status != "completed" or self.stopped:
                    self.records.append(
                        StepRecord(step_id, StepResult(id=step_id, kind=kind, status="skipped"))
                    )
                    continue
                ctx.traceparent = self.trace.traceparent(step_id) if self.trace is not None else None
                record = self._run_step(step, step_id, kind, ctx)
                self.records.append(record)
                outcome = record.outcome
                if outcome is not None and outcome.end is not None:
                    self._end(outcome.end, outcome.error or outcome.end, step_id=step_id)
                elif record.result.status == "failed" and step.stop_on_fail:
                    self.stopped = True
            ctx.traceparent = None
            self.session = self._read_session(ctx)

    def _run_step(self, step: ScenarioStep, step_id: str, kind: Any, ctx: StepContext) -> StepRecord:
        at_ms = self.clock.at_ms()
        began = time.monotonic()
        before = self._marks()
        scope = PlaceholderScope(
            answers=self._answers(), state=self.spec.scenario.context.state, twins=self._twin_scope()
        )
        resolved, problem = resolve_step(step, scope)
        if resolved is None:
            outcome = StepOutcome.ended("errored", f"step {step_id}: {problem}")
            outcome.detail = {}
        else:
            outcome = _execute(resolved, ctx)
            if resolved.expect is not None and outcome.end is None:
                answer = outcome.answer or Answer()
                failures = expectation_failures(
                    resolved.expect,
                    status=outcome.response_status,
                    body=answer.json_body,
                    has_json=answer.has_json,
                    text=answer.text,
                )
                if failures:
                    outcome.status = "failed"
                    outcome.failures.extend(failures)
        after = self._marks()
        record = StepRecord(
            step_id,
            self._result(step_id, kind, outcome, time.monotonic() - began),
            outcome,
            at_ms,
            (before, after),
        )
        self._collect(record)
        return record

    def _answers(self) -> dict[str, Answer]:
        return {
            r.step_id: r.outcome.answer
            for r in self.records
            if r.outcome is not None and r.outcome.answer is not None
        }

    def _twin_scope(self) -> dict[str, tuple[str, str | None]]:
        twins = self.slot.twins
        if twins is None:
            return {}
        return {name: (twins[name], twins.client(name).token) for name in self.runtimes}

    def _result(self, step_id: str, kind: Any, outcome: StepOutcome, seconds: float) -> StepResult:
        answer = outcome.answer or Answer()
        recorded, note = cap_json(answer.json_body, answer.has_json)
        if note is not None:
            outcome.detail = {**outcome.detail, "json_note": note}
        return StepResult(
            id=step_id,
            kind=kind,
            status=outcome.status,
            duration_ms=round(seconds * 1000, 3),
            request=outcome.request,
            response_status=outcome.response_status,
            text=cap_text(answer.text),
            json_body=recorded,
            failures=outcome.failures,
        )

    def _sut_spans(self) -> dict[str | None, list[TrajectoryEvent]]:
        """The system under test's spans of this trajectory as events, by step (see the module docstring)."""
        intake = self.slot.intake
        if intake is None or self.trace is None:
            return {}
        parents = self.trace.parents([record.step_id for record in self.records])
        spans = intake.spans_for(self.trace.trace_id, wait_s=_SPANS_WAIT_S, parents=parents)
        intake.discard(self.trace.trace_id)
        return span_events(spans, parents=parents, started_wall=self.clock.started_wall)

    def _read_session(self, ctx: StepContext) -> Any:
        """The session as the system under test reports it after the last step, or ``None``."""
        if ctx.session_id is None or ctx.sut_url is None or self.clock.passed():
            return None
        method, path = session_request(ctx.sut, ctx.session_id)
        try:
            response = ctx.client.request(
                method, ctx.sut_url + path, timeout=self.clock.cap(ctx.sut.request_timeout_s)
            )
            return response.json() if response.status_code < 400 else None
        except (httpx.HTTPError, ValueError):
            return None

    # ------------------------------------------------------------------------------- journals

    def _marks(self) -> Marks:
        return {name: runtime.journal.last_seq + 1 for name, runtime in self.runtimes.items()}

    def _collect(self, record: StepRecord) -> None:
        """Keep the requests the twins served between the step's marks (waiting for late journaling)."""
        if record.ranges is None:
            return
        before, after = record.ranges
        for name, runtime in self.runtimes.items():
            start, end = before.get(name, 1), after.get(name, 1)
            if end <= start:
                continue
            runtime.journal.wait_settled(end, timeout=self.clock.cap(_SETTLE_S))
            for entry in runtime.journal.entries(since=start - 1):
                if entry["seq"] < end and belongs_to(entry, self.spec.trajectory_id):
                    record.entries.setdefault((name, entry["seq"]), dict(entry))

    # -------------------------------------------------------------------------------- the record

    def _finish(self) -> Trajectory:
        for record in self.records:
            self._collect(record)  # requests still in flight when their step ended
        end_ms = self.clock.at_ms()
        final = {name: self.runtimes[name].state.dump() for name in self.initial}
        id_fields = {
            name: {
                entity: spec.id_field
                for entity, spec in self.runtimes[name].definition.manifest.entities.items()
            }
            for name in self.initial
        }
        events = list(self.head)
        chaos: list[ChaosRecord] = []
        spans = self._sut_spans()
        for record in self.records:
            more, injected = step_events(record, started_wall=self.clock.started_wall, end_ms=end_ms)
            events += place_spans(more, spans.pop(record.step_id, []))
            chaos += injected
        events += spans.pop(None, [])
        api_calls = sum(event.type == "api_call" for event in events)
        events += state_transitions(self.initial, final, id_fields, at_ms=end_ms)
        events += self.tail
        scenario = self.spec.scenario
        steps = [record.result for record in self.records] or skipped(scenario.steps)
        trajectory = Trajectory(
            id=self.spec.trajectory_id,
            scenario_id=scenario.id,
            scenario_version=scenario.version,
            domain=scenario.domain,
            run_id=self.spec.run_id,
            index=self.spec.index,
            seed=self.spec.seed,
            slot=self.slot.name,
            started_at=self.started_at,
            finished_at=_now(),
            duration_ms=end_ms,
            status=self.status,
            error=self.error,
            chaos_profile=self.spec.chaos_profile,
            chaos=chaos,
            steps=steps,
            events=events,
            final_state={
                "twins": final,
                "session": self.session,
                "last_responses": {
                    r.step_id: r.result.response_status
                    for r in self.records
                    if r.result.response_status is not None
                },
            },
            outcome=outcome_of(
                self.status,
                self.error,
                self.ended_at,
                steps,
                api_calls=api_calls,
                injections=len(chaos),
                slot_failure=self.slot_failed,
            ),
        )
        document = finish_document(
            trajectory.document(), secrets=self.slot.secrets(), origins=self.slot.origins()
        )
        return Trajectory.model_validate(document)


def _execute(step: ScenarioStep, ctx: StepContext) -> StepOutcome:
    if isinstance(step, UserStep):
        return run_user_step(step, ctx)
    if isinstance(step, HttpStep):
        return run_http_step(step, ctx)
    if isinstance(step, BrowserStep):
        return run_browser_step(step, ctx)
    if isinstance(step, WaitForStep):
        return run_wait_step(step, ctx)
    if isinstance(step, TwinStep):
        return run_twin_step(step, ctx)
    raise TypeError(f"unknown step {type(step).__name__}")  # pragma: no cover
