"""A whole domain scenario in one assistant session: its steps in order, its files, its events.

The first answer's session id is reused for every later step; after each answer the session is
read back, so ``{{semantic_memory...}}`` placeholders see what the assistant remembers. When the
assistant could not be reached at all (no HTTP answer), the steps after are ``blocked`` without
being asked, naming the step that found it down, instead of each waiting out its own timeout.

Each step is also told to the event bus as ``trajectory.user_action`` (the question),
``trajectory.agent_action`` (the answer and its status) and, when blocked, ``trajectory.error``,
with the scenario as the trajectory, so the viewer shows a pack run like any other.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from orchestrator.agents.analyst import StepOutcome
from orchestrator.agents.domain_runner._contracts import DomainScenarioDone, DomainScenarioRequest
from orchestrator.agents.domain_runner._files import ScenarioFiles
from orchestrator.agents.domain_runner._step import AskSettings, StepRun, ask_step
from orchestrator.packs import DomainScenario, StepAnswer, StepStatus, worst
from orchestrator.twins import redact_data

__all__ = ["Emit", "ScenarioRun", "answer_request", "run_domain_scenario"]

Emit = Callable[..., None]
_SHOWN = 160


def _now() -> str:
    return datetime.now(UTC).isoformat()


class ScenarioRun:
    """How a scenario went: its step runs, its status and outcomes for the analyst."""

    def __init__(
        self,
        scenario: DomainScenario,
        runs: list[StepRun],
        session_id: str | None,
        outcomes: list[StepOutcome],
        duration_ms: float,
    ) -> None:
        self.scenario = scenario
        self.runs = runs
        self.session_id = session_id
        self.outcomes = outcomes
        self.duration_ms = duration_ms
        self.status: StepStatus = worst(run.status for run in runs)


def _short(text: str | None) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= _SHOWN else flat[: _SHOWN - 1] + "…"


class _Events:
    """The step's ``trajectory.*`` events, secrets redacted, timed from the scenario's start."""

    def __init__(self, emit: Emit | None, scenario_id: str, secrets: list[str]) -> None:
        self._emit = emit
        self._scenario_id = scenario_id
        self._secrets = secrets
        self._started = time.monotonic()

    def __call__(self, event_type: str, step_id: str, **payload: Any) -> None:
        if self._emit is None:
            return
        common = {
            "trajectory_id": self._scenario_id,
            "scenario_id": self._scenario_id,
            "step_id": step_id,
            "at_ms": round((time.monotonic() - self._started) * 1000, 3),
        }
        self._emit(event_type, **common, **redact_data(payload, self._secrets))

    def step(self, run: StepRun) -> None:
        sid = run.step.id
        if run.sent is not None:
            self(
                "trajectory.user_action",
                sid,
                description=f"ask: {_short(run.question)}",
                detail={"method": run.sent["method"], "path": run.sent["path"]},
            )
        if run.reply is not None:
            self(
                "trajectory.agent_action",
                sid,
                description=f"answer ({run.status}): {_short(run.reply.text)}",
                detail={
                    "route": run.reply.route,
                    "http_status": run.http_status,
                    "duration_ms": round(run.elapsed_ms, 3),
                    "status": run.status,
                    "unmet": sum(1 for result in run.results if not result.met),
                },
            )
        if run.status == "blocked":
            self("trajectory.error", sid, error=run.error or "blocked")


def _not_asked(run: StepRun, reason: str) -> StepRun:
    run.error = reason
    return run


def run_domain_scenario(
    scenario: DomainScenario,
    *,
    client: httpx.Client,
    settings: AskSettings,
    directory: Path,
    evidence_root: Path,
    run_id: str | None = None,
    emit: Emit | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ScenarioRun:
    """Run ``scenario``'s steps (see the module docstring), writing its files into ``directory``.

    Evidence paths in the outcomes are relative to ``evidence_root`` (the pack's folder, or the
    scenario's own). ``cancelled`` is asked before each step; once true the rest are ``blocked``.
    """
    files = ScenarioFiles(directory, scenario, settings.secrets)
    events = _Events(emit, scenario.id, list(settings.secrets))
    started_at, started = _now(), time.monotonic()
    manifest: dict[str, Any] = {
        "scenario_id": scenario.id,
        "brief": scenario.brief,
        "run_id": run_id,
        "assistant": settings.base_url,
        "steps": scenario.step_ids(),
        "started_at": started_at,
        "finished_at": None,
        "status": "running",
    }
    files.start(manifest)
    answers: dict[str, StepAnswer] = {}
    session: Any = None
    session_id: str | None = None
    runs: list[StepRun] = []
    down: str | None = None
    for step in scenario.steps:
        if down is None and cancelled is not None and cancelled():
            down = "the run was stopped before this step"
        if down is not None:
            run = _not_asked(StepRun(step=step, started_at=_now()), down)
        else:
            run = ask_step(
                step,
                client=client,
                settings=settings,
                session_id=session_id,
                answers=answers,
                session=session if isinstance(session, dict) else None,
            )
            if run.sent is not None and run.http_status is None:
                down = f"not asked: the assistant did not answer {step.id} ({run.error})"
        if run.reply is not None:
            session_id = session_id or run.reply.session_id
            answers[step.id] = StepAnswer(text=run.reply.text or "", data=run.reply.data)
        if run.session is not None and run.session_error is None:
            session = run.session
        runs.append(run)
        files.write_step(run, scenario_id=scenario.id, session_id=session_id)
        files.write_state(session_id=session_id, answers=answers, session=session, status="running")
        events.step(run)
    outcomes = [_outcome(scenario, run, files, evidence_root) for run in runs]
    result = ScenarioRun(scenario, runs, session_id, outcomes, round((time.monotonic() - started) * 1000, 3))
    files.write_state(session_id=session_id, answers=answers, session=session, status=result.status)
    manifest.update(
        finished_at=_now(), status=result.status, duration_ms=result.duration_ms, session_id=session_id
    )
    files.finish(runs, result.status, manifest)
    return result


def _outcome(scenario: DomainScenario, run: StepRun, files: ScenarioFiles, root: Path) -> StepOutcome:
    folder = files.step_dir(run.step.id)
    evidence = [folder / "assistant_response.json", folder / "step_state.json"]
    return StepOutcome(
        scenario=scenario.id,
        step=run.step.id,
        status=run.status,
        decision=run.step.decision,
        expectations=run.results,
        evidence_paths=[path.relative_to(root).as_posix() for path in evidence],
        error=run.error,
    )


def answer_request(
    request: DomainScenarioRequest,
    *,
    client: httpx.Client,
    settings: AskSettings,
    emit: Emit | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> DomainScenarioDone:
    """Ask one ``run_domain_scenario`` request (at its base URL, into its folders): the contract's answer.

    What every domain runner does with a request, wherever it runs (an actor here, a Ray actor
    on another node). A scenario is a session of its own, so ``client``'s cookies are cleared first.
    """
    client.cookies.clear()
    result = run_domain_scenario(
        request.scenario,
        client=client,
        settings=dataclasses.replace(settings, base_url=request.base_url),
        directory=Path(request.directory),
        evidence_root=Path(request.evidence_root),
        run_id=request.run_id,
        emit=emit,
        cancelled=cancelled,
    )
    return DomainScenarioDone(
        scenario_id=result.scenario.id,
        status=result.status,
        session_id=result.session_id,
        outcomes=result.outcomes,
        duration_ms=result.duration_ms,
    )
