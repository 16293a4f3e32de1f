"""The improvement loop's conductor: run the pack, analyse, code, restart, until a stop.

Each iteration ``N`` runs the pack into ``iterations/<NN>/`` (the pack's top-level files are then
replaced by that iteration's, so they always describe the latest), saves the step outcomes,
asks the analyst (``analysis.json``, ``backlog.md``), and unless the loop stops runs the coder on
the backlog and restarts the assistant (when we start it) so the change takes effect. The loop
stops when the score reaches the gate, when the analyst says the user must decide, when it is
blocked (the coder failed twice in a row, or the assistant did not come back after a restart),
or after ``max_iterations``; ``partial`` and ``needs_exact_capability`` never stop it by
themselves. The state is saved after every phase (:mod:`._loop_state`), so ``--resume`` goes on
with the next phase not done and never repeats a coder run that finished.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from orchestrator.agents.analyst import (
    AnalysisRequest,
    AnalystSettings,
    IterationHistory,
    StepOutcome,
    outside_allowed,
    write_analysis,
)
from orchestrator.agents.coder import RECORD_FILE, CoderDone, CoderRequest
from orchestrator.artifacts import atomic_write_json
from orchestrator.errors import RunInterruptedError, UsageError
from orchestrator.messages import RunOutcome, StartRun
from orchestrator.pipelines.pack._conductor import PackConductor
from orchestrator.pipelines.pack._loop_state import (
    CoderRecord,
    LoopState,
    StopReason,
    write_loop_state,
)
from orchestrator.pipelines.pack._pack_files import PACK_FILES, publish_latest

__all__ = ["OUTCOMES_FILE", "LoopConductor", "LoopPlan", "iteration_dir"]

OUTCOMES_FILE = "step_outcomes.json"
"""Every step's outcome of an iteration: what the analyst reads (saved, so a resumed loop has it)."""
_CODER_DIR = "coder"
_CODER_FAILURES_TO_BLOCK = 2


def iteration_dir(root: Path, n: int) -> Path:
    """``<pack folder>/iterations/<NN>``."""
    return root / "iterations" / f"{n:02d}"


@dataclass
class LoopPlan:
    """The loop's limits, where its state lives, and how the coder runs."""

    root: Path
    state: LoopState
    analyst: AnalystSettings
    coder_command: list[str]
    repo: Path
    coder_timeout_s: float
    env_passthrough: list[str]
    coder_ignore: list[str]
    withheld_env: list[str]
    """Variables kept from the coder whatever their names: header tokens, the model's key."""


class LoopConductor(PackConductor):
    """Runs the improvement loop (see the module docstring): a pack conductor with a :class:`LoopPlan`."""

    def __init__(self, *, loop: LoopPlan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loop = loop
        # The assistant was (re)started when this job began, so a pending restart is already done.
        self._fresh_assistant = True

    @property
    def state(self) -> LoopState:
        return self.loop.state

    def _save(self) -> None:
        write_loop_state(self.loop.root, self.state)

    def conduct(self, start: StartRun) -> RunOutcome:
        phases = {"run": self._run, "analyse": self._analyse, "code": self._code, "restart": self._restart}
        while self.state.stop_reason is None:
            if self.cancelled.is_set():
                raise RunInterruptedError("the improvement loop was stopped; go on with --resume")
            phases[self.state.phase](start.run_id)
        state = self.state
        return RunOutcome(
            run_id=start.run_id,
            status="completed",
            summary=f"stopped: {state.stop_reason} after {len(state.iterations)} iteration(s)",
            data={"stop_reason": state.stop_reason, "iterations": len(state.iterations)},
        )

    def _end_loop(self, reason: StopReason, detail: str | None) -> None:
        self.state.stop_reason = reason
        self.state.stop_detail = detail
        self.state.phase = "done"
        self._save()
        self.tell("stopped", reason=reason, detail=detail)

    # --- phases --------------------------------------------------------------------------------

    def _run(self, run_id: str) -> None:
        n = self.state.iteration
        folder = iteration_dir(self.loop.root, n)
        base_url = self.plan.service.base_url
        if base_url is None:
            raise UsageError("the assistant is not running")
        self.tell("phase", iteration=n, phase="run")
        self.progress(f"iteration {n}: asking {len(self.plan.scenarios)} scenario(s)")
        result = self.run_pack(folder, base_url, run_id=run_id, iteration=n)
        self._fresh_assistant = False
        atomic_write_json(
            folder / OUTCOMES_FILE,
            {
                "schema_version": 1,
                "outcomes": [outcome.model_dump(mode="json") for outcome in result.outcomes],
            },
        )
        publish_latest(folder, self.loop.root, PACK_FILES)
        record = self.state.current()
        record.status = result.status
        record.counts = result.counts()
        self.state.phase = "analyse"
        self._save()

    def _history(self) -> list[IterationHistory]:
        return [
            IterationHistory(
                n=record.n,
                score=record.score,
                coder_exit_code=record.coder.exit_code if record.coder else None,
                coder_changed_paths=record.coder.changed_paths if record.coder else [],
            )
            for record in self.state.iterations
            if record.n < self.state.iteration and record.score is not None
        ]

    def _analyse(self, run_id: str) -> None:
        n = self.state.iteration
        folder = iteration_dir(self.loop.root, n)
        self.tell("phase", iteration=n, phase="analyse")
        document = orjson.loads((folder / OUTCOMES_FILE).read_bytes())
        outcomes = [StepOutcome.model_validate(item) for item in document["outcomes"]]
        done = self.analyse(
            AnalysisRequest(
                pack_id=self.plan.pack_id,
                iteration=n,
                outcomes=outcomes,
                history=self._history(),
                settings=self.loop.analyst,
                briefs=self.plan.briefs,
            )
        )
        analysis = done.analysis
        write_analysis(analysis, folder)
        publish_latest(folder, self.loop.root, ("analysis.json", "backlog.md"))
        record = self.state.current()
        record.score = analysis.score
        record.counts = analysis.counts.model_dump()
        record.analyst = f"llm ({done.model})" if done.analyst == "llm" else "rule"
        if done.fallback:
            record.analyst = f"rule (fallback: {done.fallback})"
        record.requires_user_decision = analysis.requires_user_decision
        record.decision_reason = analysis.decision_reason
        record.backlog_items = len(analysis.backlog)
        self.progress(f"iteration {n}: score {analysis.score} (gate {self.state.gate})")
        self.tell("scored", iteration=n, score=analysis.score, counts=record.counts)
        if analysis.score >= self.state.gate:
            self._end_loop(
                "gate_met", f"score {analysis.score} reached the gate {self.state.gate} in iteration {n}"
            )
        elif analysis.requires_user_decision:
            self._end_loop("requires_user_decision", analysis.decision_reason)
        elif n >= self.state.max_iterations:
            self._end_loop(
                "max_iterations",
                f"{n} iteration(s) ran; the last scored {analysis.score}, below the gate {self.state.gate}",
            )
        else:
            self.state.phase = "code"
            self._save()

    def _code(self, run_id: str) -> None:
        n = self.state.iteration
        folder = iteration_dir(self.loop.root, n)
        output = folder / _CODER_DIR
        self.tell("phase", iteration=n, phase="code")
        done: CoderDone | str | None = _finished_coder(output / RECORD_FILE)
        if done is None:
            done = self.code(
                CoderRequest(
                    command=self.loop.coder_command,
                    repo=str(self.loop.repo),
                    backlog=str(folder / "backlog.md"),
                    analysis=str(folder / "analysis.json"),
                    iteration=n,
                    output_dir=str(output),
                    timeout_s=self.loop.coder_timeout_s,
                    env_passthrough=self.loop.env_passthrough,
                    ignore=self.loop.coder_ignore,
                    withheld_env=self.loop.withheld_env,
                )
            )
        record = self.state.current()
        record.coder = _coder_record(done)
        ok = record.coder.ok
        self.state.coder_failures_in_row = 0 if ok else self.state.coder_failures_in_row + 1
        self.tell("coded", iteration=n, ok=ok, changed=record.coder.changed_paths, error=record.coder.error)
        outside = outside_allowed(record.coder.changed_paths, self.loop.analyst.allowed_paths)
        if outside:
            # Before the restart: a change nobody allowed is never measured, let alone shipped.
            self._end_loop(
                "requires_user_decision",
                f"the coder changed files outside [coder] allowed_paths: {', '.join(outside)}; "
                "review them, then go on with --resume (or undo them)",
            )
            return
        if self.state.coder_failures_in_row >= _CODER_FAILURES_TO_BLOCK:
            self._end_loop(
                "blocked",
                f"the coder failed {self.state.coder_failures_in_row} times in a row; the last: "
                f"{record.coder.error}; see {output.relative_to(self.loop.root)}",
            )
            return
        self.state.phase = "restart"
        self._save()

    def _restart(self, run_id: str) -> None:
        n = self.state.iteration
        record = self.state.current()
        service = self.plan.service
        if service.managed and not self._fresh_assistant:
            self.tell("phase", iteration=n, phase="restart")
            if service.restart() is None:
                record.restarted = False
                self._end_loop("blocked", f"the assistant cannot be reached after a restart: {service.error}")
                return
            record.restarted = True
        self.state.iteration = n + 1
        self.state.phase = "run"
        self.state.current()
        self._save()


def _finished_coder(record: Path) -> CoderDone | None:
    """The coder run this iteration already finished (its record), so it never runs twice."""
    if not record.is_file():
        return None
    document = {k: v for k, v in orjson.loads(record.read_bytes()).items() if k != "schema_version"}
    done = CoderDone.model_validate(document)
    return None if done.outcome == "cancelled" else done


def _coder_record(done: CoderDone | str) -> CoderRecord:
    if isinstance(done, str):
        return CoderRecord(exit_code=None, ok=False, outcome="failed", error=done)
    return CoderRecord(
        exit_code=done.exit_code,
        ok=done.ok,
        outcome=done.outcome,
        changed_paths=list(done.changed_paths),
        diff_stat=done.diff_stat,
        error=done.error,
    )
