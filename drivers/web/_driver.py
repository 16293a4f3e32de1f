"""The web driver actor: the UI gate's ``capture`` capability for web targets.

A thin layer over :func:`~orchestrator.drivers.web.capture_web` (routes and journeys in a real
Chromium) and :func:`~orchestrator.drivers.web.run_suite` (the project's own Playwright suite).
It reads the request, picks the mode, reports progress per route and the browser session (or the
suite command) as a tool call, and returns the outcome. It never raises for capture failures or
framework errors: those are exit codes 1 and 2 in the returned data and in the manifest, so the
pipeline always goes on to evaluation.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orchestrator.actors import Worker
from orchestrator.correlation import correlation_scope
from orchestrator.drivers.web._browser import first_line
from orchestrator.drivers.web._outcome import DriverOutcome, finish
from orchestrator.drivers.web._page_capture import Timeouts
from orchestrator.drivers.web._session import WebCaptureOptions, capture_web
from orchestrator.drivers.web._suite import run_suite, wants_suite
from orchestrator.errors import OrchestrateError
from orchestrator.gate import CaptureManifest
from orchestrator.messages import WorkRequest, WorkResult
from orchestrator.policy.test_profiles import Profile

__all__ = ["WebDriver"]

DRIVER = "web"
_log = structlog.get_logger(__name__)


class CaptureParams(BaseModel):
    """The ``params`` of a ``capture`` request, as the UI-gate pipeline sends them."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    run_dir: Path
    project_root: Path
    target: dict[str, Any] = Field(default_factory=dict)
    profile_name: str = ""
    profile: Profile = Field(default_factory=Profile)
    changed_files: list[str] | None = None
    parallel: int | None = Field(default=None, ge=1)


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


class _ToolCall:
    """The outcome reported by ``worker.tool.result``."""

    def __init__(self) -> None:
        self.success = True
        self.error: str | None = None


class WebDriver(Worker):
    """Captures a web target's routes and journeys (or runs its Playwright suite)."""

    worker_type = DRIVER

    def perform(self, request: WorkRequest) -> WorkResult:
        try:
            outcome = self._capture(request)
        except Exception as exc:  # the contract: framework errors are exit code 2, never raised
            _log.warning("web driver failed", error=str(exc), exc_info=True)
            outcome = self._framework_error(request.params, f"{type(exc).__name__}: {first_line(exc)}")
        if isinstance(outcome, str):
            return self.result(
                request,
                success=False,
                summary=f"{DRIVER}: exit 2 ({outcome})",
                data={"exit_code": 2, "manifest": None, "captured": 0, "failed": 0, "error": outcome},
            )
        return self.result(
            request, success=outcome.exit_code == 0, summary=outcome.summary(), data=outcome.data()
        )

    def _capture(self, request: WorkRequest) -> DriverOutcome | str:
        try:
            params = CaptureParams.model_validate(request.params)
        except ValidationError as exc:
            problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            return self._framework_error(request.params, f"invalid capture request: {problem}")
        profile = params.profile
        run_dir = params.run_dir.resolve()
        target_name = str(params.target.get("name") or DRIVER)
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
        base_url = params.target.get("base_url")
        if not isinstance(base_url, str) or not base_url:
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
            parallel=params.parallel,
            headless=profile.mode == "headless",
            timeout_s=profile.timeout_s,
            timeouts=Timeouts(
                navigation_s=min(30.0, profile.timeout_s), action_s=min(10.0, profile.timeout_s)
            ),
            changed_files=_project_relative(params.changed_files, params.project_root),
            changed_paths=profile.changed_paths,
            driver=DRIVER,
        )
        summary = (
            f"{len(profile.routes)} routes and {len(profile.journeys)} journeys of profile "
            f"{params.profile_name or '?'} on {base_url}, {profile.mode}, "
            f"parallel {params.parallel or 'default'}"
        )
        with self._tool_call("chromium", summary) as call:
            outcome = capture_web(options, on_progress=self._on_progress, cancelled=self.cancelled)
            call.success, call.error = outcome.exit_code != 2, outcome.manifest.error
        return outcome

    def _on_progress(self, message: str, details: Mapping[str, Any]) -> None:
        self.progress(message, **details)

    @contextlib.contextmanager
    def _tool_call(self, tool_name: str, args_summary: str) -> Iterator[_ToolCall]:
        """Emit ``worker.tool.call`` / ``worker.tool.result`` around a block."""
        tool_trace_id = uuid.uuid4().hex
        call = _ToolCall()
        with correlation_scope(tool_trace_id=tool_trace_id):
            self.emit(
                "worker.tool.call",
                tool_trace_id=tool_trace_id,
                tool_name=tool_name,
                args_summary=args_summary,
            )
            started = time.monotonic()
            try:
                yield call
            except Exception as exc:
                call.success, call.error = False, f"{type(exc).__name__}: {first_line(exc)}"
                raise
            finally:
                self.emit(
                    "worker.tool.result",
                    tool_trace_id=tool_trace_id,
                    tool_name=tool_name,
                    success=call.success,
                    duration_ms=round((time.monotonic() - started) * 1000, 3),
                    error=call.error,
                )

    @staticmethod
    def _framework_error(params: Mapping[str, Any], error: str) -> DriverOutcome | str:
        """Record a framework error in the run dir when the request names one; else just describe it."""
        run_dir = params.get("run_dir")
        if not isinstance(run_dir, str) or not Path(run_dir).is_absolute():
            return error
        try:
            return finish(Path(run_dir), CaptureManifest(driver=DRIVER, exit_code=2, error=error))
        except OrchestrateError as exc:
            return f"{error}; the manifest could not be written either: {exc}"
