"""The web driver actor: the UI gate's ``capture`` capability for web targets.

A thin layer over :func:`~orchestrator.drivers.web.capture_web` (routes and journeys in a real
Chromium) and :func:`~orchestrator.drivers.web.run_suite` (the project's own Playwright suite).
It declares :data:`~orchestrator.gate.CAPTURE` (a :class:`~orchestrator.gate.CaptureRequest` in,
a :class:`~orchestrator.gate.CaptureResult` out), picks the mode, reports progress per route and
the browser session (or the suite command) as a tool call, and returns the outcome. It never
raises for capture failures or framework errors: those are exit codes 1 and 2 in the result and
in the manifest, so the pipeline always goes on to evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog

from orchestrator.actors import Done, Worker
from orchestrator.drivers.web._browser import first_line
from orchestrator.drivers.web._crawl import CrawlLimits
from orchestrator.drivers.web._outcome import DriverOutcome, finish
from orchestrator.drivers.web._page_capture import Timeouts
from orchestrator.drivers.web._session import WebCaptureOptions, capture_web
from orchestrator.drivers.web._suite import run_suite, wants_suite
from orchestrator.errors import OrchestrateError
from orchestrator.gate import CAPTURE, CaptureManifest, CaptureRequest, CaptureResult
from orchestrator.messages import WorkRequest
from orchestrator.policyfiles import project_policy_file

__all__ = ["WebDriver"]

DRIVER = "web"
_log = structlog.get_logger(__name__)


def _project_relative(changed_files: list[str] | None, project_root: Path) -> list[str] | None:
    """Changed files as the profile's ``changed_paths`` globs see them: relative to the project root."""
    if changed_files is None:
        return None
    root = project_root.resolve()
    relative: list[str] = []
    for name in changed_files:
        path = Path(name)
        if path.is_absolute() and path.resolve().is_relative_to(root):
            name = path.resolve().relative_to(root).as_posix()
        relative.append(name)
    return relative


class WebDriver(Worker):
    """Captures a web target's routes and journeys (or runs its Playwright suite)."""

    worker_type = DRIVER
    capabilities = CAPTURE.declare()

    def handle(self, request: WorkRequest, params: CaptureRequest) -> Done[CaptureResult]:
        outcome: DriverOutcome | str
        try:
            outcome = self._capture(params)
        except Exception as exc:  # the contract: framework errors are exit code 2, never raised
            _log.warning("web driver failed", error=str(exc), exc_info=True)
            outcome = self._framework_error(params.run_dir, f"{type(exc).__name__}: {first_line(exc)}")
        if isinstance(outcome, str):
            result = CaptureResult(exit_code=2, manifest=None, captured=0, failed=0, error=outcome)
            return Done(result, summary=f"{DRIVER}: exit 2 ({outcome})", success=False)
        return Done(outcome.result, summary=outcome.summary(), success=outcome.exit_code == 0)

    def _capture(self, params: CaptureRequest) -> DriverOutcome:
        profile = params.profile
        run_dir = params.run_dir.resolve()
        target_name = params.target.name
        if wants_suite(profile, params.project_root):
            return run_suite(
                run_dir,
                params.project_root,
                timeout_s=profile.timeout_s,
                changed_files=params.changed_files,
                driver=DRIVER,
                cancelled=self.cancelled,
                emit=self.emit,
            )
        base_url = params.target.base_url
        if not base_url:
            error = (
                f"target {target_name!r} has no base_url. Fix: set it in [targets.{target_name}], "
                'e.g. base_url = "http://127.0.0.1:{port}"'
            )
            return finish(run_dir, CaptureManifest(driver=DRIVER, exit_code=2, error=error))
        options = WebCaptureOptions(
            run_dir=run_dir,
            base_url=base_url,
            routes=profile.routes,
            journeys=profile.journeys,
            crawl=CrawlLimits(max_routes=profile.max_routes, max_depth=profile.max_depth),
            allowed_origins=profile.allowed_origins,
            parallel=params.parallel,
            headless=profile.mode == "headless",
            timeout_s=profile.timeout_s,
            timeouts=Timeouts(
                navigation_s=min(30.0, profile.timeout_s), action_s=min(10.0, profile.timeout_s)
            ),
            changed_files=_project_relative(params.changed_files, params.project_root),
            changed_paths=profile.changed_paths,
            driver=DRIVER,
            profile_name=params.profile_name or None,
            profile_file=project_policy_file("test-profiles", params.project_root),
        )
        routes = "auto routes" if profile.auto_routes else f"{len(profile.route_list)} routes"
        summary = (
            f"{routes} and {len(profile.journeys)} journeys of profile "
            f"{params.profile_name or '?'} on {base_url}, {profile.mode}, "
            f"parallel {params.parallel or 'default'}"
        )
        with self.tool_call("chromium", summary=summary) as call:
            outcome = capture_web(options, on_progress=self._on_progress, cancelled=self.cancelled)
            if outcome.exit_code == 2:
                call.fail(outcome.manifest.error or "framework error")
        return outcome

    def _on_progress(self, message: str, details: Mapping[str, Any]) -> None:
        self.progress(message, **details)

    @staticmethod
    def _framework_error(run_dir: Path, error: str) -> DriverOutcome | str:
        """Record a framework error in the run dir; just describe it when even that fails."""
        try:
            return finish(run_dir, CaptureManifest(driver=DRIVER, exit_code=2, error=error))
        except OrchestrateError as exc:
            return f"{error}; the manifest could not be written either: {exc}"
