"""The UI gate (``orchestrate test``): capture with a driver, evaluate with rubric v1, file issues.

:class:`TestGate` is the conductor. It finds its workers through entry points (the profile's
driver in ``orchestrate.drivers``, the ``ux-evaluator`` and ``issue-reconciler`` in
``orchestrate.agents``) and delegates to them in three phases: capture, evaluate, reconcile. A
driver's capture failures (exit 1) and framework errors (exit 2) never stop the run: evaluation
always follows, on whatever was captured.

:func:`run_gate` drives one whole run as a job (:func:`orchestrator.jobs.open_job`): resolves
target and profile, honours ``--since``, creates the run dir, starts and stops the target, runs
the conductor, writes ``report.md`` and the metrics line, prunes old runs, and returns the exit
code: 1 when critical or high findings were filed (critical and high are always filed: created,
commented on, or already open), 2 for a framework or configuration error, else 0.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import structlog

from orchestrator.actors import Conductor
from orchestrator.config import ProjectConfig, TargetSection
from orchestrator.errors import ActorError, OrchestrateError, RunInterruptedError
from orchestrator.jobs import open_job
from orchestrator.messages import RunOutcome, StartRun, WorkResult
from orchestrator.pipelines.test._report import GateSummary, append_metrics, render_report
from orchestrator.pipelines.test._resolve import GatePlan, plan_gate
from orchestrator.pipelines.test._since import changed_files_since
from orchestrator.pipelines.test._target import running_target
from orchestrator.plugins import load_plugin
from orchestrator.policyfiles import load_retention
from orchestrator.runs import prune_runs

__all__ = ["GateOptions", "GateResult", "TestGate", "run_gate"]

log = structlog.get_logger(__name__)

_CAPTURE_GRACE_S = 60.0
_AGENT_TIMEOUT_S = 600.0


class TestGate(Conductor):
    """Conducts one UI-gate run: capture, evaluate, reconcile."""

    __test__ = False  # a conductor, not a pytest class

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._errors: list[str] = []

    def conduct(self, start: StartRun) -> RunOutcome:
        params = dict(start.params)
        target = params["target"]
        assert isinstance(target, dict)
        settings = TargetSection.model_validate({k: v for k, v in target.items() if k != "name"})
        run_dir = Path(str(params["run_dir"]))
        config_file = params.get("config_file")
        with running_target(
            str(target["name"]),
            settings,
            root=Path(str(params["project_root"])),
            log_path=run_dir / "target" / "output.log",
            config_file=Path(str(config_file)) if config_file else None,
            cancelled=self.cancelled,
            withheld_env=_tracker_token_env(params),
        ) as running:
            if running.pid is not None:
                self.progress("target started", pid=running.pid, base_url=running.base_url)
            params["target"] = {**target, "base_url": running.base_url}
            return self._phases(start, params)

    def _phases(self, start: StartRun, params: dict[str, Any]) -> RunOutcome:
        profile = params["profile"]
        assert isinstance(profile, dict)
        driver_name = str(profile["driver"])
        timeout = float(profile["timeout_s"]) + _CAPTURE_GRACE_S

        capture = self._phase("capture", "orchestrate.drivers", driver_name, params, timeout)
        driver_exit = int(capture.data.get("exit_code", 2)) if capture else 2  # type: ignore[arg-type]
        self.progress("captured", driver=driver_name, exit_code=driver_exit)
        if capture is not None and driver_exit == 2:
            # A framework error: evaluation still runs on what was captured, but the gate fails.
            self._errors.append(f"capture ({driver_name}): {capture.summary}")

        evaluation = self._phase("evaluate", "orchestrate.agents", "ux-evaluator", params, _AGENT_TIMEOUT_S)
        reconcile_params = {**params, "findings_path": "findings.jsonl"}
        issues = None
        if evaluation is not None:
            issues = self._phase(
                "reconcile", "orchestrate.agents", "issue-reconciler", reconcile_params, None
            )
        if issues is not None and not issues.success and issues.blocked_reason is None:
            # A finding that should have been filed and was not fails the gate (exit 2), never silently.
            code = issues.data.get("error_code") or "issues_not_filed"
            self._errors.append(
                f"reconcile (issue-reconciler): {code}: {issues.data.get('error') or issues.summary}"
            )
        data: dict[str, Any] = {
            "driver_exit_codes": {driver_name: driver_exit},
            "evaluation": dict(evaluation.data) if evaluation else None,
            "issues": dict(issues.data) if issues else None,
            "errors": self._errors,
        }
        failed = bool(self._errors)
        return RunOutcome(
            run_id=start.run_id,
            status="failed" if failed else "completed",
            summary="; ".join(self._errors) if failed else "gate finished",
            report_path="report.md",
            data=data,
        )

    def _phase(
        self, phase: str, group: str, name: str, params: dict[str, Any], timeout: float | None
    ) -> WorkResult | None:
        """Run one phase; its failure is recorded (and reported) rather than ending the run."""
        try:
            worker = self.start_worker(load_plugin(group, name), max_restarts=0)
            return self.delegate(
                worker,
                {"capture": "capture", "evaluate": "evaluate", "reconcile": "reconcile"}[phase],
                f"{phase} for run {params['run_id']} with {name}",
                params=params,
                phase=phase,
                timeout=timeout,
            )
        except (ActorError, OrchestrateError) as exc:
            if self.cancelled.is_set():
                raise
            self._errors.append(f"{phase} ({name}): {exc}")
            log.error("gate phase failed", phase=phase, worker=name, error=str(exc))
            return None


@dataclass(frozen=True)
class GateOptions:
    """What the user asked for (the ``orchestrate test`` options)."""

    target: str | None = None
    profile: str | None = None
    since: str | None = None
    parallel: int = field(default_factory=lambda: os.cpu_count() or 1)
    triage: Literal["create", "skip"] | None = None
    dry_run: bool = False
    interactive: bool = False


@dataclass(frozen=True)
class GateResult:
    exit_code: int
    summary: GateSummary | None
    run_dir: Path | None
    skipped: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def run_gate(config: ProjectConfig, options: GateOptions, say: Callable[[str], None]) -> GateResult:
    """Run the UI gate once; ``say`` gets the lines a person should see (first and last)."""
    started = time.monotonic()
    plan = plan_gate(config, target=options.target, profile=options.profile)
    changed: list[str] | None = None
    if options.since is not None:
        changed = changed_files_since(config.root, options.since)
        if not changed:
            say(f"No files changed since {options.since}. Skipping test run.")
            return GateResult(0, None, None, skipped=f"no files changed since {options.since}")

    metadata = {"profile": plan.profile_name}
    errors: list[str] = []
    interrupted: OrchestrateError | None = None
    # The job opens the bus before the run dir (a bad database fails before anything is written)
    # and always marks the run finished and closes the bus and the run's heartbeat.
    with open_job(config, "ui", target=plan.target, metadata=metadata) as job:
        first_line = (
            f"target={plan.target} profile={plan.profile_name} run_id={job.run_id} driver={plan.driver}"
        )
        say(f"Test Runner: {first_line}")
        timestamp = _now()
        try:
            job.run(
                TestGate,
                objective=f"UI gate of {plan.target} with profile {plan.profile_name}",
                params=_params(config, options, plan, job.run_id, job.path, changed),
            )
        except OrchestrateError as exc:
            errors.append(str(exc))
            interrupted = exc if isinstance(exc, RunInterruptedError) else None

        data = job.outcome.data if job.outcome is not None else {}
        errors += [str(e) for e in data.get("errors") or []]  # type: ignore[union-attr]
        summary = _summarise(job.run_id, plan, timestamp, started, data, errors, options.dry_run)
        render_report(summary, job.path / "report.md")
        append_metrics(summary, config.state_dir / "metrics" / "test-runs.jsonl")
        status = "interrupted" if interrupted is not None else "failed" if errors else "completed"
        job.finish(status, exit_code=summary.exit_code, verdict=summary.verdict)
    if interrupted is not None:
        raise interrupted
    _prune(config)
    say(
        f"Test Runner complete: run_id={job.run_id} findings={summary.findings} "
        f"issues_created={summary.issues_created} duration={summary.duration_ms}ms"
    )
    return GateResult(summary.exit_code, summary, job.path)


def _params(
    config: ProjectConfig,
    options: GateOptions,
    plan: GatePlan,
    run_id: str,
    run_dir: Path,
    changed: list[str] | None,
) -> dict[str, Any]:
    target = {**plan.settings.model_dump(mode="json"), "name": plan.target}
    return {
        "run_id": run_id,
        "run_dir": str(run_dir),
        "project_root": str(config.root),
        "config_file": str(config.config_file) if config.config_file else None,
        "target": target,
        "profile_name": plan.profile_name,
        "profile": plan.profile.model_dump(mode="json"),
        "changed_files": changed,
        "parallel": max(1, options.parallel),
        "issues": config.issues.model_dump(mode="json"),
        "triage": options.triage,
        "interactive": options.interactive,
        "dry_run": options.dry_run,
    }


def _tracker_token_env(params: dict[str, Any]) -> list[str]:
    """The ``[issues] token_env`` in the gate's params: a secret the target never sees."""
    issues = params.get("issues")
    token_env = issues.get("token_env") if isinstance(issues, dict) else None
    return [token_env] if isinstance(token_env, str) and token_env else []


def _summarise(
    run_id: str,
    plan: GatePlan,
    timestamp: str,
    started: float,
    data: dict[str, Any],
    errors: list[str],
    dry_run: bool,
) -> GateSummary:
    evaluation = data.get("evaluation") or {}
    issues = data.get("issues") or {}
    counts = {k: int(v) for k, v in (evaluation.get("by_severity") or {}).items()}
    severe = counts.get("critical", 0) + counts.get("high", 0)
    exit_code = 2 if errors else (1 if severe else 0)
    return GateSummary(
        run_id=run_id,
        target=plan.target,
        profile=plan.profile_name,
        timestamp=timestamp,
        duration_ms=round((time.monotonic() - started) * 1000),
        exit_code=exit_code,
        verdict=str(evaluation.get("verdict", "BLOCKED" if errors else "PROCEED")),
        finding_counts=counts,
        check_counts={k: int(v) for k, v in (evaluation.get("by_check") or {}).items()},
        skipped_checks={k: str(v) for k, v in (evaluation.get("skipped_checks") or {}).items()},
        driver_exit_codes=data.get("driver_exit_codes") or {plan.driver: 2},
        issues={
            key: list(issues.get(key, [])) for key in ("created", "commented", "noop", "skipped", "failed")
        },
        dry_run=dry_run,
        errors=errors,
    )


def _prune(config: ProjectConfig) -> None:
    """Retention: delete UI-gate run dirs older than the policy's retention days."""
    try:
        days = load_retention(config.root).retention_days
        pruned = prune_runs([config.ui_runs_dir], timedelta(days=days), delete=True)
    except OrchestrateError as exc:
        log.warning("retention prune skipped", error=str(exc))
        return
    if pruned:
        log.info("pruned old runs", count=len(pruned), older_than_days=days)


def is_interactive() -> bool:
    """Both ends of the terminal are a person: prompts are allowed."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def summary_json(result: GateResult) -> str:
    """The ``--json`` document of a gate run."""
    if result.summary is None:
        return json.dumps({"skipped": result.skipped, "exit_code": result.exit_code})
    return json.dumps({**result.summary.as_json(), "run_dir": str(result.run_dir)})
