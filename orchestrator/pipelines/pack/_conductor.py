"""The pack conductor: asks scenarios through a pool of domain runners, and (for the loop) hands
iterations to the analyst and the coder.

Scenarios go to ``parallel`` domain runners at once, each in a session of its own. A runner that
fails (it died, timed out, answered garbage) is a result too: its scenario's steps are
``blocked`` with the failure, and the pack goes on. :class:`PackConductor` runs one pack (or one
scenario, or a case); :class:`~orchestrator.pipelines.pack.LoopConductor` builds the loop on it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from orchestrator.actors import Conductor, Delegation, Outcome, SupervisedWorker, Worker, WorkerPool
from orchestrator.agents.analyst import (
    ANALYSE_ITERATION,
    AnalysisDone,
    AnalysisRequest,
    Analyst,
    StepOutcome,
)
from orchestrator.agents.coder import CODE_BACKLOG, Coder, CoderDone, CoderRequest
from orchestrator.agents.domain_runner import (
    RUN_DOMAIN_SCENARIO,
    AskSettings,
    DomainRunner,
    DomainScenarioDone,
    DomainScenarioRequest,
)
from orchestrator.config import ProjectConfig
from orchestrator.errors import UsageError
from orchestrator.messages import RunOutcome, StartRun
from orchestrator.packs import DomainScenario
from orchestrator.pipelines.pack._assistant import AssistantService
from orchestrator.pipelines.pack._pack_files import PackFiles, PackResult

__all__ = ["PackConductor", "PackPlan", "Progress", "blocked_scenario"]

Progress = Callable[[str, dict[str, Any]], None]
"""Called on the conductor's thread with what happened (``scenario``, ``phase``, ...) and details."""

_SCENARIO_GRACE_S = 120.0


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass
class PackPlan:
    """What a pack job asks: its scenarios, where their files go, and how to reach the assistant.

    With ``single`` (a case or one scenario file) the only scenario's files go straight into
    ``directory`` and no pack files are written.
    """

    pack_id: str
    scenarios: Sequence[DomainScenario]
    directory: Path
    parallel: int
    ask: AskSettings
    service: AssistantService
    config: ProjectConfig
    single: bool = False
    source: str | None = None
    """The pack or scenario file, for the manifest."""
    briefs: dict[str, str] = field(default_factory=dict)
    runner: type[Worker] = DomainRunner
    """The domain runner of the pool: local, or on ``--backend ray`` the Ray backend's."""
    runner_kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments of ``runner`` beyond ``settings`` (the ``[ray]`` section on Ray)."""
    last_result: PackResult | None = None
    """The latest pack run's result, set by the conductor (the job reads it when the run ends)."""

    @property
    def step_count(self) -> int:
        return sum(len(scenario.steps) for scenario in self.scenarios)


def blocked_scenario(scenario: DomainScenario, why: str) -> DomainScenarioDone:
    """A scenario whose runner gave no answer: every step ``blocked`` with ``why``."""
    outcomes = [
        StepOutcome(
            scenario=scenario.id,
            step=step.id,
            status="blocked",
            decision=step.decision,
            expectations=[],
            error=why,
        )
        for step in scenario.steps
    ]
    return DomainScenarioDone(
        scenario_id=scenario.id, status="blocked", session_id=None, outcomes=outcomes, duration_ms=0.0
    )


class PackConductor(Conductor):
    """Runs one pack (see the module docstring); constructed with a :class:`PackPlan`."""

    def __init__(self, *, plan: PackPlan, on_progress: Progress | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        self.on_progress = on_progress
        self._runners: WorkerPool | None = None
        self._analyst: SupervisedWorker | None = None
        self._coder: SupervisedWorker | None = None

    def tell(self, what: str, **details: Any) -> None:
        if self.on_progress is not None:
            self.on_progress(what, details)

    def conduct(self, start: StartRun) -> RunOutcome:
        base_url = self.plan.service.base_url
        if base_url is None:
            raise UsageError("the assistant was not started before the pack run")
        result = self.run_pack(self.plan.directory, base_url, run_id=start.run_id)
        return RunOutcome(
            run_id=start.run_id,
            status="completed",
            summary=f"{result.pack_id}: {result.status} ({result.steps} steps)",
            data={"status": result.status, "counts": result.counts()},
        )

    # --- asking the scenarios ------------------------------------------------------------------

    def run_pack(
        self, directory: Path, base_url: str, *, run_id: str, iteration: int | None = None
    ) -> PackResult:
        """Ask every scenario of the plan into ``directory``; write the pack's files unless single."""
        plan = self.plan
        if self._runners is None:
            size = max(1, min(plan.parallel, len(plan.scenarios)))
            self._runners = self.start_pool(
                plan.runner, size=size, max_restarts=1, settings=plan.ask, **plan.runner_kwargs
            )
        files = PackFiles(directory, plan.pack_id, plan.ask.secrets)
        manifest: dict[str, Any] = {
            "pack_id": plan.pack_id,
            "run_id": run_id,
            "iteration": iteration,
            "source": plan.source,
            "assistant": base_url,
            "parallel": plan.parallel,
            "scenarios": [scenario.id for scenario in plan.scenarios],
            "steps": plan.step_count,
            "started_at": _now(),
            "finished_at": None,
            "status": "running",
        }
        if not plan.single:
            files.start(manifest)
        done: dict[str, DomainScenarioDone] = {}
        lock = threading.Lock()
        pool = self._runners

        def delegations() -> Iterator[Delegation]:
            for scenario in plan.scenarios:
                target = directory if plan.single else files.scenario_dir(scenario.id)
                yield Delegation(
                    pool,
                    RUN_DOMAIN_SCENARIO,
                    f"ask scenario {scenario.id} ({len(scenario.steps)} steps)",
                    params=DomainScenarioRequest(
                        run_id=run_id,
                        scenario=scenario,
                        base_url=base_url,
                        directory=str(target),
                        evidence_root=str(directory),
                    ),
                    phase="run",
                )

        def finished(outcome: Outcome) -> None:
            scenario = plan.scenarios[outcome.index]
            if outcome.ok:
                answer = outcome.done(RUN_DOMAIN_SCENARIO).result
            else:
                failure = outcome.failure
                cause = f"{failure.kind}: {failure.error}" if failure is not None else "no answer"
                answer = blocked_scenario(scenario, f"the domain runner gave no answer: {cause}")
            with lock:
                done[scenario.id] = answer
            self.tell(
                "scenario",
                scenario=scenario.id,
                status=answer.status,
                steps=len(answer.outcomes),
                iteration=iteration,
            )

        timeout = (
            max(len(s.steps) for s in plan.scenarios) * 2 * plan.ask.assistant.timeout_s + _SCENARIO_GRACE_S
        )
        self.delegate_all(delegations(), limit=pool.size, timeout=timeout, on_outcome=finished, collect=False)
        result = PackResult(plan.pack_id, [done[scenario.id] for scenario in plan.scenarios])
        if not plan.single:
            manifest.update(finished_at=_now(), status=result.status, counts=result.counts())
            files.finish(result, manifest)
        plan.last_result = result
        return result

    # --- the analyst and the coder -------------------------------------------------------------

    def analyse(self, request: AnalysisRequest) -> AnalysisDone:
        """Ask the analyst; a failure is raised (the loop cannot go on without a score)."""
        if self._analyst is None:
            self._analyst = self.start_worker(
                Analyst, max_restarts=1, llm_settings=self.plan.config.llm, mode=self.plan.config.analyst.mode
            )
        done = self.delegate(
            self._analyst,
            ANALYSE_ITERATION,
            f"analyse iteration {request.iteration} of {request.pack_id}",
            params=request,
            phase="analyse",
            timeout=self.plan.config.llm.timeout_s * 4 + 60,
        )
        return done.result

    def code(self, request: CoderRequest) -> CoderDone | str:
        """Run the coder once (never retried); its result, or why the delegation failed."""
        if self._coder is None:
            self._coder = self.start_worker(Coder, max_restarts=0)
        outcomes = self.delegate_all(
            [
                Delegation(
                    self._coder,
                    CODE_BACKLOG,
                    f"fix the backlog of iteration {request.iteration}",
                    params=request,
                    phase="code",
                )
            ],
            timeout=request.timeout_s + 60,
        )
        outcome = outcomes[0]
        if outcome.result is not None and outcome.result.data:
            # A coder that failed (timed out, not found) still says what it did and changed.
            return outcome.done(CODE_BACKLOG).result
        failure = outcome.failure
        return f"{failure.kind}: {failure.error}" if failure is not None else "the coder gave no answer"
