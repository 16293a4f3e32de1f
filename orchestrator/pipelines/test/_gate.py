"""The UI gate (``orchestrate test``): capture with a driver, evaluate with rubric v1, file issues.

:class:`TestGate` is the conductor. It delegates three capabilities, each a typed contract of
:mod:`orchestrator.gate`: ``capture`` to the profile's driver, ``evaluate`` to the
:class:`~orchestrator.agents.ux_evaluator.UxEvaluator`, ``reconcile`` to the
:class:`~orchestrator.agents.issue_reconciler.IssueReconciler`. Our own workers (the web, mac and
command drivers, the evaluator, the reconciler) are imported here by name; a driver name that is
not ours is looked up in the ``orchestrate.drivers`` entry-point group, which is how third-party
drivers are found. A driver's capture failures (exit 1) and framework errors (exit 2) never stop
the run: evaluation always follows, on whatever was captured. A phase that fails (its worker
raised, timed out, refused the request or answered with a result its contract does not allow)
is a framework error: the gate exits 2, never reads a missing result as zero findings.

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
from typing import Any, Literal, TypeVar

import structlog
from pydantic import BaseModel

from orchestrator.actors import Capability, Conductor, Done, Worker
from orchestrator.agents.issue_reconciler import IssueReconciler
from orchestrator.agents.ux_evaluator import UxEvaluator
from orchestrator.config import IssuesSection, ProjectConfig
from orchestrator.drivers.command import CommandDriver
from orchestrator.drivers.mac import MacDriver
from orchestrator.drivers.web import WebDriver
from orchestrator.errors import ActorError, ConfigError, OrchestrateError, RunInterruptedError
from orchestrator.events import Subscriber
from orchestrator.gate import CAPTURE, EVALUATE, RECONCILE, DriverExit, ReconcileResult
from orchestrator.jobs import open_job
from orchestrator.messages import RunOutcome, StartRun
from orchestrator.pipelines.test._gate_run import GateOutcome, GateRun
from orchestrator.pipelines.test._report import GateSummary, append_metrics, render_report
from orchestrator.pipelines.test._resolve import GatePlan, plan_gate
from orchestrator.pipelines.test._since import changed_files_since
from orchestrator.plugins import load_plugin
from orchestrator.policy.triage import POLICY_NAME, TriagePolicy
from orchestrator.policyfiles import load_policy_model, load_retention
from orchestrator.runs import prune_runs
from orchestrator.services import running_target
from orchestrator.trackers import open_tracker

__all__ = ["GateOptions", "GateResult", "TestGate", "run_gate"]

log = structlog.get_logger(__name__)

_CAPTURE_GRACE_S = 60.0
_AGENT_TIMEOUT_S = 600.0

Req = TypeVar("Req", bound=BaseModel)
Res = TypeVar("Res", bound=BaseModel)

OUR_DRIVERS: dict[str, type[Worker]] = {"web": WebDriver, "mac": MacDriver, "command": CommandDriver}
"""The drivers we ship, by the name a profile gives; any other name is a plugin's entry point."""


def driver_class(name: str) -> type[Worker]:
    """The worker class of the driver a profile names: ours, else the plugin registered as ``name``."""
    ours = OUR_DRIVERS.get(name)
    if ours is not None:
        return ours
    plugin = load_plugin("orchestrate.drivers", name)
    if not (isinstance(plugin, type) and issubclass(plugin, Worker)):
        raise ConfigError(
            None,
            "driver",
            f"{name!r} is registered in 'orchestrate.drivers' as {plugin!r}, which is not a Worker class",
            "register a subclass of orchestrator.Worker that offers the 'capture' capability",
        )
    return plugin


class TestGate(Conductor):
    """Conducts one UI-gate run: capture, evaluate, reconcile."""

    __test__ = False  # a conductor, not a pytest class

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._errors: list[str] = []
        self._error_codes: list[str] = []
        self._run_id = ""

    def _record_error(self, code: str, message: str) -> None:
        """A failure that makes the gate exit 2; the first one's code goes on the terminal event."""
        self._errors.append(message)
        self._error_codes.append(code)

    def conduct(self, start: StartRun) -> RunOutcome:
        run = GateRun.model_validate(start.params)
        self._run_id = run.run_id
        with running_target(
            run.target_name,
            run.target,
            root=run.project_root,
            log_path=run.run_dir / "target" / "output.log",
            config_file=run.config_file,
            cancelled=self.cancelled,
            withheld_env=_tracker_token_env(run.issues),
        ) as running:
            if running.pid is not None:
                self.progress("target started", pid=running.pid, base_url=running.base_url)
            return self._phases(start, run, running.base_url)

    def _phases(self, start: StartRun, run: GateRun, base_url: str | None) -> RunOutcome:
        driver_name = run.profile.driver
        timeout = run.profile.timeout_s + _CAPTURE_GRACE_S

        capture = self._phase(
            CAPTURE, driver_name, lambda: driver_class(driver_name), run.capture_request(base_url), timeout
        )
        driver_exit: DriverExit = capture.result.exit_code if capture is not None else 2
        self.progress("captured", driver=driver_name, exit_code=driver_exit)
        if capture is not None and driver_exit == 2:
            # A framework error: evaluation still runs on what was captured, but the gate fails.
            self._record_error("driver_failed", f"capture ({driver_name}): {capture.summary}")

        evaluation = self._phase(
            EVALUATE, "ux-evaluator", lambda: UxEvaluator, run.evaluate_request(), _AGENT_TIMEOUT_S
        )
        issues = None
        if evaluation is not None:
            issues = self._phase(
                RECONCILE,
                "issue-reconciler",
                lambda: IssueReconciler,
                run.reconcile_request(evaluation.result),
                None,
            )
        if issues is not None and not issues.success and issues.blocked_reason is None:
            # A finding that should have been filed and was not fails the gate (exit 2), never silently.
            code = issues.result.error_code or "issues_not_filed"
            self._record_error(
                code, f"reconcile (issue-reconciler): {code}: {issues.result.error or issues.summary}"
            )
        outcome = GateOutcome(
            driver_exit_codes={driver_name: driver_exit},
            evaluation=evaluation.result if evaluation is not None else None,
            issues=issues.result if issues is not None else None,
            errors=self._errors,
        )
        failed = bool(self._errors)
        return RunOutcome(
            run_id=start.run_id,
            status="failed" if failed else "completed",
            summary="; ".join(self._errors) if failed else "gate finished",
            report_path="report.md",
            error_code=self._error_codes[0] if failed else None,
            data=outcome.model_dump(mode="json"),
        )

    def _phase(
        self,
        capability: Capability[Req, Res],
        name: str,
        worker_class: Callable[[], type[Worker]],
        request: Req,
        timeout: float | None,
    ) -> Done[Res] | None:
        """Run one phase; its failure is recorded (and reported) rather than ending the run."""
        phase = capability.name
        try:
            worker = self.start_worker(worker_class(), max_restarts=0)
            return self.delegate(
                worker,
                capability,
                f"{phase} for run {self._run_id} with {name}",
                params=request,
                phase=phase,
                timeout=timeout,
            )
        except (ActorError, OrchestrateError) as exc:
            if self.cancelled.is_set():
                raise
            failure = getattr(exc, "failure", None)
            kind = f"{failure.kind}: " if failure is not None else ""
            code = failure.error_code if failure is not None else exc.error_code
            self._record_error(code, f"{phase} ({name}): {kind}{exc}")
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


def run_gate(
    config: ProjectConfig,
    options: GateOptions,
    say: Callable[[str], None],
    on_event: Subscriber | None = None,
) -> GateResult:
    """Run the UI gate once; ``say`` gets the lines a person should see (first and last).

    ``on_event`` is called with each of the run's events as it is written (a progress display).
    """
    started = time.monotonic()
    plan = plan_gate(config, target=options.target, profile=options.profile)
    _check_tracker(config)
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
        if on_event is not None:
            job.bus.subscribe(on_event)
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

        gate = GateOutcome.model_validate(job.outcome.data) if job.outcome is not None else None
        errors += gate.errors if gate is not None else []
        summary = _summarise(job.run_id, plan, timestamp, started, gate, errors, options.dry_run)
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
    """The conductor's start params: the :class:`GateRun` in its JSON form."""
    run = GateRun(
        run_id=run_id,
        run_dir=run_dir,
        project_root=config.root,
        config_file=config.config_file,
        target_name=plan.target,
        target=plan.settings,
        profile_name=plan.profile_name,
        profile=plan.profile,
        changed_files=changed,
        parallel=max(1, options.parallel),
        issues=config.issues,
        triage=options.triage,
        interactive=options.interactive,
        dry_run=options.dry_run,
    )
    return run.model_dump(mode="json")


def _tracker_token_env(issues: IssuesSection) -> list[str]:
    """The ``[issues] token_env``: a secret the target never sees."""
    return [issues.token_env] if issues.token_env else []


def _summarise(
    run_id: str,
    plan: GatePlan,
    timestamp: str,
    started: float,
    gate: GateOutcome | None,
    errors: list[str],
    dry_run: bool,
) -> GateSummary:
    """The run's summary from its typed outcome (``None`` when the conductor never answered)."""
    evaluation = gate.evaluation if gate is not None else None
    counts: dict[str, int] = dict(evaluation.by_severity.items()) if evaluation is not None else {}
    severe = counts.get("critical", 0) + counts.get("high", 0)
    exit_code = 2 if errors else (1 if severe else 0)
    return GateSummary(
        run_id=run_id,
        target=plan.target,
        profile=plan.profile_name,
        timestamp=timestamp,
        duration_ms=round((time.monotonic() - started) * 1000),
        exit_code=exit_code,
        verdict=evaluation.verdict if evaluation is not None else "BLOCKED" if errors else "PROCEED",
        finding_counts=counts,
        check_counts=dict(evaluation.by_check.items()) if evaluation is not None else {},
        skipped_checks=dict(evaluation.skipped_checks.items()) if evaluation is not None else {},
        driver_exit_codes=dict(gate.driver_exit_codes) if gate is not None else {plan.driver: 2},
        issues=_issue_lists(gate.issues if gate is not None else None),
        dry_run=dry_run,
        errors=errors,
    )


def _issue_lists(issues: ReconcileResult | None) -> dict[str, list[Any]]:
    """What the reconciler did, by action, as the report and the metrics line list it."""
    if issues is None:
        return {key: [] for key in ("created", "commented", "noop", "skipped", "failed")}
    return {
        "created": list(issues.created),
        "commented": list(issues.commented),
        "noop": list(issues.noop),
        "skipped": list(issues.skipped),
        "failed": [failure.model_dump(mode="json") for failure in issues.failed],
    }


def _check_tracker(config: ProjectConfig) -> None:
    """Open (and close) the configured tracker, so a mistake in ``[issues]`` (an unknown backend,
    no repository, no token) stops the run before anything is captured, not after."""
    if config.issues.backend == "local":
        return  # nothing to get wrong, and opening it would create its folder
    label = load_policy_model(POLICY_NAME, TriagePolicy, config.root).label
    open_tracker(config.issues, project_root=config.root, label=label, env=os.environ).close()


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
