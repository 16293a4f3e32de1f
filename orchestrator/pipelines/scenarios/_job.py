"""The scenario job's entry points: :func:`run_scenarios` (``run``/``validate``) and :func:`satisfy_run`.

Both go through the one job runner (:func:`~orchestrator.jobs.open_job`): a run dir, the event
bus opened once, the conductor, the real final status. ``satisfy`` and ``--resume`` go on with
an existing run (its events file is continued), so a run's trajectories, judgments and events
stay together in one run dir.

``run-manifest.json`` is written before the first trajectory (what is run, with what settings)
and again at the end (status, counts, token usage); an interrupted run says so and lists the
trajectories that finished, which is what ``--resume`` keeps.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

from orchestrator import __version__
from orchestrator.agents.judge import TrajectoryJudge
from orchestrator.config import ProjectConfig
from orchestrator.errors import OrchestrateError, RunInterruptedError, UsageError
from orchestrator.events import Subscriber
from orchestrator.jobs import Job, open_job
from orchestrator.pipelines.scenarios._conductor import (
    JudgePhase,
    ProgressHook,
    RunPhase,
    ScenarioConductor,
    Tally,
)
from orchestrator.pipelines.scenarios._files import RunFiles
from orchestrator.pipelines.scenarios._plan import RunOptions, RunPlan, plan_run
from orchestrator.pipelines.scenarios._reporting import ScenarioReport, report_run
from orchestrator.pipelines.scenarios._slots import runner_class, runner_kwargs, slot_nodes
from orchestrator.runs import RunInfo, find_run, list_runs

__all__ = ["ScenarioRunResult", "latest_scenario_run", "run_scenarios", "satisfy_run"]

log = structlog.get_logger(__name__)


@dataclass
class ScenarioRunResult:
    """How a scenario job ended: its run, counts, report (when judged) and exit code."""

    run_id: str
    run_dir: Path
    status: str
    tally: Tally
    planned: int
    duration_s: float
    report: ScenarioReport | None = None
    errors: list[str] = field(default_factory=list)
    """What makes the job exit 2 (a run that could not complete, trajectories a gate could not judge)."""
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.errors or self.status not in ("completed",):
            return 2
        if self.report is not None and not self.report.passed:
            return 1
        return 0


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _git_commit(root: Path) -> str | None:
    """The commit the project is at, when it is a git checkout and git is installed."""
    git = shutil.which("git")
    if git is None:
        return None
    try:
        done = subprocess.run(
            [git, "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def latest_scenario_run(config: ProjectConfig) -> RunInfo:
    """The most recent scenario run of the project; a :class:`UsageError` when there is none."""
    runs = [
        run for run in list_runs([config.scenario_runs_dir]) if (run.path / "run-manifest.json").is_file()
    ]
    if not runs:
        raise UsageError(f"no scenario runs in {config.scenario_runs_dir}: run `orchestrate run` first")
    return max(runs, key=lambda run: (run.created_at, run.run_id))


def run_scenarios(
    config: ProjectConfig,
    options: RunOptions,
    *,
    judge: bool = False,
    on_progress: ProgressHook | None = None,
    on_event: Subscriber | None = None,
    on_plan: Callable[[str, RunPlan, frozenset[str]], None] | None = None,
) -> ScenarioRunResult:
    """Run a catalog (``orchestrate run``; with ``judge``, ``orchestrate validate``).

    ``on_plan(run_id, plan, already_done)`` is called once the run exists, before the first
    trajectory (a progress display sizes its bars); ``on_progress`` after each trajectory and
    judgment; ``on_event`` with every event written.
    """
    started = time.monotonic()
    resumed: RunInfo | None = None
    skip: frozenset[str] = frozenset()
    if options.resume is not None:
        resumed = find_run([config.scenario_runs_dir], options.resume)
        files = RunFiles(resumed.path)
        manifest = files.read_manifest()
        plan = plan_run(
            config, options, recorded=manifest.get("config", {}), scenarios_as_ran=files.read_scenarios()
        )
        skip = frozenset(files.trajectory_ids())
    else:
        plan = plan_run(config, options)
    runner, ray_kwargs = runner_class(config, options)
    tally = Tally(planned={planned.scenario.id: planned.count for planned in plan.scenarios})
    for trajectory_id in skip:
        tally.add(tally.finished, trajectory_id.rsplit("-", 1)[0])
    errors: list[str] = []
    interrupted: OrchestrateError | None = None
    with open_job(
        config,
        "scenario",
        metadata={"job": "validate" if judge else "scenario run"},
        reopen=resumed.path if resumed is not None else None,
    ) as job:
        if on_event is not None:
            job.bus.subscribe(on_event)
        files = RunFiles(job.path)
        if resumed is None:
            _start_manifest(files, job, config, plan, backend=options.backend)
        else:
            files.update_manifest(status="running", resumed_at=_now())
        if on_plan is not None:
            on_plan(job.run_id, plan, skip)
        judge_phase = _judge_phase(config, files, plan, rejudge=False) if judge else None
        try:
            job.run(
                ScenarioConductor,
                objective=f"run {plan.total - len(skip)} trajectories of {len(plan.scenarios)} scenario(s)",
                files=files,
                run=RunPhase(
                    specs=plan.specs(job.run_id, skip=skip),
                    runner=runner,
                    runner_kwargs={**runner_kwargs(config, plan, job.path), **ray_kwargs},
                    slots=plan.parallel,
                    deadline_s=plan.deadline_s,
                ),
                judge=judge_phase,
                tally=tally,
                on_progress=on_progress,
            )
        except OrchestrateError as exc:
            errors.append(str(exc))
            interrupted = exc if isinstance(exc, RunInterruptedError) else None
        errors += _loud_failures(files, tally)
        status = "interrupted" if interrupted is not None else "failed" if errors else "completed"
        report = _finish(
            config,
            files,
            job,
            plan,
            tally,
            status,
            judged=judge and status == "completed",
            backend=options.backend,
        )
        if report is not None:
            errors += _unjudged_failure(report)
        job.finish(status, summary=f"{tally.total(tally.finished)} trajectories")
    if interrupted is not None:
        raise interrupted
    return ScenarioRunResult(
        run_id=job.run_id,
        run_dir=job.path,
        status=status,
        tally=tally,
        planned=plan.total,
        duration_s=time.monotonic() - started,
        report=report,
        errors=errors,
    )


def satisfy_run(
    config: ProjectConfig,
    run_id: str | None = None,
    *,
    rejudge: bool = False,
    on_progress: ProgressHook | None = None,
    on_event: Subscriber | None = None,
    on_start: Callable[[str, dict[str, int]], None] | None = None,
) -> ScenarioRunResult:
    """Judge every unjudged trajectory of a run (all of them with ``rejudge``) and report.

    ``on_start(run_id, trajectories per scenario)`` is called before judging begins.
    """
    started = time.monotonic()
    info = find_run([config.scenario_runs_dir], run_id) if run_id else latest_scenario_run(config)
    files = RunFiles(info.path)
    manifest = files.read_manifest()
    if manifest.get("status") != "completed":
        done = len(files.trajectory_ids())
        planned_total = (manifest.get("summary") or {}).get("planned") or sum(
            int(entry.get("count", 0)) for entry in manifest.get("config", {}).get("scenarios", [])
        )
        raise UsageError(
            f"run {info.run_id} is {manifest.get('status', 'unfinished')} ({done} of {planned_total} "
            f"trajectories ran); judging part of a run would report a number it does not support. "
            f"Finish it first: orchestrate run --resume {info.run_id}"
        )
    scenarios = files.read_scenarios()
    planned = {
        entry["id"]: int(entry.get("count", 0)) for entry in manifest.get("config", {}).get("scenarios", [])
    }
    tally = Tally(planned=planned)
    errors: list[str] = []
    warnings: list[str] = []
    interrupted: OrchestrateError | None = None
    if on_start is not None:
        on_start(info.run_id, planned)
    with open_job(config, "scenario", reopen=info.path) as job:
        if on_event is not None:
            job.bus.subscribe(on_event)
        phase = _judge_phase(config, files, None, rejudge=rejudge, scenarios=scenarios)
        try:
            job.run(
                ScenarioConductor,
                objective=f"judge the trajectories of run {info.run_id}",
                files=files,
                judge=phase,
                tally=tally,
                on_progress=on_progress,
            )
        except OrchestrateError as exc:
            errors.append(str(exc))
            interrupted = exc if isinstance(exc, RunInterruptedError) else None
        report = report_run(config, files, scenarios) if not errors else None
        if report is not None:
            files.update_manifest(judged_at=_now(), judgment_summary=report.summary, usage=report.usage)
            # satisfy reports; only validate, the gate, fails on what it could not judge.
            warnings += _unjudged_failure(report)
        status = "interrupted" if interrupted is not None else "failed" if errors else "completed"
        job.finish(status, summary="judged")
    if interrupted is not None:
        raise interrupted
    return ScenarioRunResult(
        run_id=info.run_id,
        run_dir=info.path,
        status=status,
        tally=tally,
        planned=sum(planned.values()),
        duration_s=time.monotonic() - started,
        report=report,
        errors=errors,
        warnings=warnings,
    )


def _judge_phase(
    config: ProjectConfig,
    files: RunFiles,
    plan: RunPlan | None,
    *,
    rejudge: bool,
    scenarios: dict[str, Any] | None = None,
) -> JudgePhase:
    chosen = (
        scenarios
        if scenarios is not None
        else {planned.scenario.id: planned.scenario for planned in (plan.scenarios if plan else [])}
    )

    def pending() -> list[str]:
        ids = files.trajectory_ids()
        if rejudge:
            return ids
        # Judged already, unless the verdict was "unjudged" (a model configured since, or back up).
        return [trajectory_id for trajectory_id in ids if not _decided(files, trajectory_id)]

    return JudgePhase(
        trajectory_ids=pending,
        scenarios=chosen,
        judge=TrajectoryJudge,
        judge_kwargs={"llm_settings": config.llm},
        workers=config.scenarios.judge_parallel,
    )


def _loud_failures(files: RunFiles, tally: Tally) -> list[str]:
    """A run whose every trajectory errored measured nothing: that is a failure, never a number."""
    ran, errored = tally.total(tally.finished), tally.total(tally.errored)
    if not ran or errored < ran:
        return []
    first = next(iter(files.trajectory_ids()), None)
    cause = files.read_trajectory(first).error if first is not None else None
    return [f"every trajectory errored ({errored} of {ran}), so nothing was measured; the first: {cause}"]


def _unjudged_failure(report: ScenarioReport) -> list[str]:
    """Trajectories that could not be judged leave the satisfaction undecided: loud, never a pass or fail."""
    unjudged = int(report.document.get("overall", {}).get("unjudged") or 0)
    if not unjudged:
        return []
    return [
        f"{unjudged} trajectories could not be judged, so satisfaction is not known; the reasons are in "
        f"their judgments (judgments/*.json) and {report.markdown_path.name}. Text criteria need a model: "
        "set [llm] model (and base_url, api_key_env) in orchestrate.toml, then run `orchestrate satisfy`"
    ]


def _decided(files: RunFiles, trajectory_id: str) -> bool:
    judgment = files.read_judgment(trajectory_id)
    return judgment is not None and judgment.verdict != "unjudged"


def _start_manifest(
    files: RunFiles, job: Job, config: ProjectConfig, plan: RunPlan, *, backend: str = "local"
) -> None:
    for planned in plan.scenarios:
        files.write_scenario(planned.scenario)
    files.write_manifest(
        {
            "schema_version": 1,
            "run_id": job.run_id,
            "status": "running",
            "started_at": _now(),
            "finished_at": None,
            "orchestrate_version": __version__,
            "project": config.name,
            "git_commit": _git_commit(config.root),
            "config": {
                **plan.manifest_config(),
                "backend": backend,
                "judge": {
                    "model": config.llm.model,
                    "provider": config.llm.provider if config.llm.model else None,
                },
            },
            "summary": None,
        }
    )


def _finish(
    config: ProjectConfig,
    files: RunFiles,
    job: Job,
    plan: RunPlan,
    tally: Tally,
    status: str,
    *,
    judged: bool,
    backend: str = "local",
) -> ScenarioReport | None:
    """Write the manifest's end (and the report when the run was judged); return the report."""
    done = files.trajectory_ids()
    summary = {
        "planned": plan.total,
        "trajectories": len(done),
        "errored": tally.total(tally.errored),
        "per_scenario": {
            planned.scenario.id: {
                "planned": planned.count,
                "finished": sum(
                    1 for trajectory_id in done if trajectory_id.rsplit("-", 1)[0] == planned.scenario.id
                ),
            }
            for planned in plan.scenarios
        },
    }
    if backend == "ray":
        summary["nodes"] = slot_nodes(files)
    fields: dict[str, Any] = {"status": status, "finished_at": _now(), "summary": summary}
    if status == "interrupted":
        fields["finished_trajectories"] = done
        fields["resume"] = f"orchestrate run --resume {job.run_id}"
    report = None
    if judged:
        report = report_run(config, files, files.read_scenarios())
        fields.update(judged_at=_now(), judgment_summary=report.summary, usage=report.usage)
    files.update_manifest(**fields)
    return report
