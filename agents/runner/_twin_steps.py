"""Steps on the twins themselves: ``wait_for:`` a request or a state, and ``twin:`` reset, seed, assert.

Waiting never sleeps blindly: a wait for a request blocks on the twin's journal until a request
that fits arrives (:meth:`~orchestrator.twins.Journal.wait_for`); a wait for a state re-checks
whenever the twin's journal changes, and at short intervals for changes made without a request.
Both end at the step's ``timeout_ms`` (the step fails) or at the trajectory's deadline (the
trajectory is ``timed_out``), whichever comes first.

A request counts for this trajectory when it arrived since the trajectory's reset and does not
carry another trajectory's header (a request without the header counts: the slot's twins serve
one trajectory at a time).

``twin:`` ``reset`` reloads the twin with the scenario's data for it; ``seed`` does the same and
then adds records (a record whose id is already there replaces it); ``assert`` checks a JSONPath
over the twin's whole state and fails the step when it does not hold.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from orchestrator.agents.runner._context import StepContext, StepOutcome
from orchestrator.agents.runner._expect import assertion_holds
from orchestrator.agents.runner._placeholders import Answer
from orchestrator.agents.runner._record import entry_at_ms
from orchestrator.errors import ConfigError
from orchestrator.scenarios import (
    ApiCallCheck,
    TwinAction,
    TwinStateCheck,
    TwinStep,
    WaitForStep,
    count_holds,
    twin_seed,
)
from orchestrator.twins import TwinRuntime

__all__ = ["belongs_to", "run_twin_step", "run_wait_step"]

_CANCEL_SLICE_S = 0.25
"""The longest a wait blocks before it looks at the run's cancel event again."""
_STATE_RECHECK_S = 0.1
"""How often a wait for a state re-checks when the twin's journal does not change."""


def belongs_to(entry: Mapping[str, Any], trajectory_id: str) -> bool:
    """Whether a journal entry is this trajectory's (its header names it, or no trajectory at all)."""
    return entry.get("trajectory_id") in (None, trajectory_id)


def _runtime(ctx: StepContext, service: str) -> TwinRuntime | StepOutcome:
    runtime = ctx.runtimes.get(service)
    if runtime is None:
        served = ", ".join(sorted(ctx.runtimes)) or "none"
        return StepOutcome.ended(
            "errored",
            f"the step names twin {service!r}, which this slot does not serve (served: {served}); "
            "add it to the scenario's context.services",
            event_type="system_event",
        )
    return runtime


def _path_fits(pattern: str, path: str) -> bool:
    """Exact, or a glob where only ``*`` is special (``?`` and ``[`` match themselves in a URL path)."""
    if "*" not in pattern:
        return path == pattern
    literal = "".join(f"[{char}]" if char in "?[" else char for char in pattern)
    return fnmatchcase(path, literal)


def _call_text(check: ApiCallCheck) -> str:
    text = f"{check.service} {check.method or '*'} {check.path or '*'}"
    return text + (f" -> {check.status}" if check.status is not None else "")


def run_wait_step(step: WaitForStep, ctx: StepContext) -> StepOutcome:
    """Wait until a twin saw a request, or its state holds (see the module docstring)."""
    spec = step.wait_for
    request: dict[str, Any] = spec.model_dump(mode="json", by_alias=True, exclude_none=True)
    limit_s = spec.timeout_ms / 1000
    wait_s = ctx.clock.cap(limit_s)
    if spec.api_call is not None:
        outcome = _wait_for_call(spec.api_call, wait_s, ctx)
    else:
        assert spec.twin_state is not None
        outcome = _wait_for_state(spec.twin_state, wait_s, ctx)
    outcome.request = request
    if outcome.status == "failed" and wait_s < limit_s:
        return StepOutcome.ended(
            "timed_out",
            f"the trajectory's deadline passed while waiting ({outcome.failures[0]})",
            request=request,
            event_type="system_event",
        )
    return outcome


def _wait_for_call(check: ApiCallCheck, wait_s: float, ctx: StepContext) -> StepOutcome:
    runtime = _runtime(ctx, check.service)
    if isinstance(runtime, StepOutcome):
        return runtime
    journal = runtime.journal
    trajectory_id = ctx.spec.trajectory_id

    def fits(entry: Mapping[str, Any]) -> bool:
        return (
            belongs_to(entry, trajectory_id)
            and (check.method is None or str(entry.get("method", "")).upper() == check.method)
            and (check.path is None or _path_fits(check.path, str(entry.get("path", ""))))
            and (check.status is None or entry.get("status") == check.status)
            and (
                check.within_ms is None
                or entry_at_ms(entry, ctx.clock.started_wall, float("inf")) <= check.within_ms
            )
        )

    what = _call_text(check)
    ends = time.monotonic() + wait_s
    while True:
        mark = journal.next_seq - 1
        found = [
            entry for entry in journal.entries(since=ctx.first_seq.get(check.service, 1) - 1) if fits(entry)
        ]
        held = count_holds(check.count, len(found)) if check.count is not None else bool(found)
        if held:
            calls = [
                {"method": e.get("method"), "path": e.get("path"), "status": e.get("status")} for e in found
            ]
            return StepOutcome(
                status="passed",
                answer=Answer(None, None, {"matched": len(found), "calls": calls}, True),
                event_type="system_event",
                description=f"waited for {what}: {len(found)} seen",
                detail={"service": check.service, "matched": len(found)},
            )
        left = ends - time.monotonic()
        if left <= 0 or ctx.cancelled.is_set():
            break
        journal.wait_for(fits, since=mark, timeout=min(left, _CANCEL_SLICE_S))
    if ctx.cancelled.is_set():
        return StepOutcome.ended("errored", "the run was stopped while waiting", event_type="system_event")
    failure = f"{what}: {len(found)} seen within {wait_s * 1000:.0f} ms, wanted " + (
        "at least 1"
        if check.count is None
        else str(check.count if isinstance(check.count, int) else check.count.model_dump(exclude_none=True))
    )
    return StepOutcome(
        status="failed",
        failures=[failure],
        event_type="system_event",
        description=f"waited for {what}: not seen",
        detail={"service": check.service, "matched": len(found)},
    )


def _wait_for_state(check: TwinStateCheck, wait_s: float, ctx: StepContext) -> StepOutcome:
    runtime = _runtime(ctx, check.service)
    if isinstance(runtime, StepOutcome):
        return runtime
    journal = runtime.journal
    ends = time.monotonic() + wait_s
    while True:
        mark = journal.next_seq - 1
        held, matches, said = assertion_holds(check, runtime.state.dump())
        if held:
            return StepOutcome(
                status="passed",
                answer=Answer(None, None, {"found": matches}, True),
                event_type="system_event",
                description=f"waited for {check.service} state: {said}",
                detail={"service": check.service},
            )
        left = ends - time.monotonic()
        if left <= 0 or ctx.cancelled.is_set():
            break
        journal.wait_for(lambda entry: True, since=mark, timeout=min(left, _STATE_RECHECK_S))
    if ctx.cancelled.is_set():
        return StepOutcome.ended("errored", "the run was stopped while waiting", event_type="system_event")
    return StepOutcome(
        status="failed",
        failures=[f"{check.service} state within {wait_s * 1000:.0f} ms: {said}"],
        event_type="system_event",
        description=f"waited for {check.service} state: not reached",
        detail={"service": check.service},
    )


def run_twin_step(step: TwinStep, ctx: StepContext) -> StepOutcome:
    """Reset, seed or check a twin directly (see the module docstring)."""
    action = step.twin
    request: dict[str, Any] = action.model_dump(mode="json", by_alias=True, exclude_none=True)
    runtime = _runtime(ctx, action.service)
    if isinstance(runtime, StepOutcome):
        runtime.request = request
        return runtime
    if action.assert_ is not None:
        held, matches, said = assertion_holds(action.assert_, runtime.state.dump())
        return StepOutcome(
            status="passed" if held else "failed",
            request=request,
            answer=Answer(None, said, {"found": matches}, True),
            failures=[] if held else [f"{action.service} state: {said}"],
            event_type="system_event",
            description=f"checked {action.service} state: {said}",
            detail={"service": action.service, "held": held},
        )
    try:
        described = _reload(runtime, action, ctx)
    except ConfigError as exc:
        return StepOutcome.ended(
            "errored",
            f"the {action.service} twin refused the data: {exc}",
            request=request,
            event_type="system_event",
        )
    ctx.first_seq[action.service] = runtime.journal.last_seq + 1
    return StepOutcome(
        status="passed",
        request=request,
        event_type="system_event",
        description=described,
        detail={"service": action.service, "action": "seed" if action.seed is not None else "reset"},
    )


def _reload(runtime: TwinRuntime, action: TwinAction, ctx: StepContext) -> str:
    source = f"scenario {ctx.spec.scenario.id}"
    runtime.reset(
        ctx.scenario_data(action.service), seed=twin_seed(ctx.spec.seed, action.service), source=source
    )
    if action.seed is None:
        return f"{action.service} twin reset to the scenario's data"
    id_fields = {name: entity.id_field for name, entity in runtime.definition.manifest.entities.items()}
    merged: dict[str, Any] = dict(runtime.state.dump())
    for entity, records in action.seed.items():
        if not isinstance(records, list) or entity not in id_fields:
            merged[entity] = records  # the twin's seed check says what is wrong with it
            continue
        id_field = id_fields[entity]
        kept = {str(record.get(id_field)): record for record in merged.get(entity, [])}
        added = [record for record in records if not isinstance(record, dict) or record.get(id_field) is None]
        for record in records:
            if isinstance(record, dict) and record.get(id_field) is not None:
                kept[str(record[id_field])] = record
        merged[entity] = [*kept.values(), *added]
    runtime.reset(merged, seed=twin_seed(ctx.spec.seed, action.service), source=f"{source}, twin seed step")
    counts = ", ".join(
        f"{len(records) if isinstance(records, list) else '?'} {entity}"
        for entity, records in action.seed.items()
    )
    return f"{action.service} twin reset to the scenario's data and seeded with {counts}"
