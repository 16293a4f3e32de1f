"""Capture a macOS app with peekaboo: one AX snapshot and one screenshot per scenario.

:func:`capture_mac` is the whole driver without the actor around it. It always leaves the same
files in the run dir, whatever happens::

    results.json                 run_id, exit_code, scenarios_attempted/passed/failed (+ app, skipped, error)
    exit_code                    the exit code, a plain integer
    console.ndjson               the driver's own log, one ConsoleEntry per line
    ax-snapshots/<scenario>.json peekaboo's ``see`` document (UI elements of the window)
    screenshots/<scenario>.png   peekaboo's ``image`` of the window
    drivers/mac/exit_code        the exit code again, where the gate keeps every driver's
    captures/mac.json            the CaptureManifest the UX evaluator reads

Exit codes: 0 when every scenario was captured, or when this is not macOS 15+ (a skip, with the
reason in the manifest); 1 when a capture failed; 2 when the driver could not work at all
(peekaboo missing, a permission missing, a bad app name, the profile's timeout ran out).

A scenario is a named capture of the app's front window; the name labels the evidence. The
driver's log is listed in the manifest as ``extra["driver_log"]``, not as a capture's console:
it is the driver talking, not the app, so the console check must not read it as app errors.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from orchestrator.artifacts import atomic_write_json, atomic_write_text
from orchestrator.drivers.mac._peekaboo import (
    PEEKABOO,
    image_argv,
    missing_permissions,
    parse_json_output,
    permissions_argv,
    reported_error,
    see_argv,
    validate_app_name,
)
from orchestrator.drivers.mac._platform import MacPlatform
from orchestrator.errors import ConfigError, UsageError
from orchestrator.gate import Capture, CaptureManifest, ConsoleEntry, DriverExit, finish_capture, safe_name
from orchestrator.subprocess_tools import Emit, ToolResult, child_env, run_tool

__all__ = ["DEFAULT_SCENARIO", "DRIVER_NAME", "capture_mac"]

DRIVER_NAME = "mac"
DEFAULT_SCENARIO = "main-window"
"""Captured when a profile names no scenarios."""

_PROBE_TIMEOUT_S = 30.0
_CALL_TIMEOUT_S = 120.0
_INSTALL_HINT = "install it with `brew install steipete/tap/peekaboo` and make sure it is on PATH"


class _Log:
    """The driver's own log, kept as ConsoleEntry lines for ``console.ndjson``."""

    def __init__(self, app: str | None) -> None:
        self.entries: list[ConsoleEntry] = []
        self._url = f"app:{app}" if app else "app:"

    def add(self, kind: str, text: str, location: str | None = None) -> None:
        ts = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        self.entries.append(ConsoleEntry(ts=ts, type=kind, text=text, location=location, url=self._url))


def capture_mac(
    run_dir: Path,
    *,
    run_id: str,
    app_name: str | None,
    scenarios: Sequence[str] = (),
    timeout_s: float = 300.0,
    platform: MacPlatform | None = None,
    changed_files: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    cancelled: threading.Event | None = None,
    emit: Emit | None = None,
    config_file: Path | str | None = None,
) -> CaptureManifest:
    """Capture ``app_name`` once per scenario into ``run_dir``; write every artifact; return the manifest.

    Never raises for what the app, peekaboo or the machine do: those are exit codes 1 and 2 in
    the manifest. ``env`` is the base environment for peekaboo (default: this process's);
    ``changed_files`` reach it as ``TEST_CHANGED_FILES`` (a JSON list).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    platform = platform or MacPlatform.current()
    log = _Log(app_name)
    names = _unique_names(list(scenarios) or [DEFAULT_SCENARIO])
    extra = {"TEST_CHANGED_FILES": json.dumps(list(changed_files))} if changed_files is not None else {}
    state = _State(run_dir, run_id, child_env(extra, base=env), timeout_s, cancelled, emit, log)

    skip = platform.skip_reason()
    if skip is not None:
        log.add("info", f"skipped: {skip}")
        return state.finish(0, platform, app_name, skipped=skip)
    try:
        app = validate_app_name(app_name, source=config_file)
    except ConfigError as exc:
        log.add("error", str(exc))
        return state.finish(2, platform, app_name, error=str(exc))
    try:
        error = state.probe()
        for scenario, file_name in names if error is None else ():
            if cancelled is not None and cancelled.is_set():
                error = "the run was cancelled before every scenario ran"
                break
            if state.remaining() <= 0:
                error = (
                    f"the profile's timeout of {timeout_s:g} s ran out after {state.attempted} "
                    f"of {len(names)} scenarios"
                )
                break
            state.capture(app, scenario, file_name)
    except UsageError as exc:
        # An argument that must never reach a program: only a run dir path with a newline gets here.
        error = str(exc)
    if error is not None:
        log.add("error", error)
        return state.finish(2, platform, app, error=error)
    return state.finish(1 if state.failed else 0, platform, app)


class _State:
    """One capture run: its deadline, tool calls, captures and the files that end it."""

    def __init__(
        self,
        run_dir: Path,
        run_id: str,
        env: dict[str, str],
        timeout_s: float,
        cancelled: threading.Event | None,
        emit: Emit | None,
        log: _Log,
    ) -> None:
        self.run_dir = run_dir
        self.run_id = run_id
        self.env = env
        self.deadline = time.monotonic() + timeout_s
        self.cancelled = cancelled
        self.emit = emit
        self.log = log
        self.captures: list[Capture] = []
        self.attempted = 0
        self.failed = 0

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def run(self, argv: list[str], limit: float) -> ToolResult:
        return run_tool(
            argv,
            cwd=self.run_dir,
            timeout_s=max(0.1, min(limit, self.remaining())),
            env=self.env,
            allowed=(PEEKABOO,),
            cancelled=self.cancelled,
            emit=self.emit,
            tool_name=f"peekaboo {argv[1]}",
        )

    def probe(self) -> str | None:
        """Why peekaboo cannot capture here (missing, or permissions not granted), or ``None``."""
        result = self.run(permissions_argv(), _PROBE_TIMEOUT_S)
        if result.outcome == "not_found":
            return f"peekaboo is not installed ({result.error}); {_INSTALL_HINT}"
        document = parse_json_output(result.stdout_text())
        missing = missing_permissions(document)
        if missing is None:
            detail = reported_error(document) or result.error or "its output has no permission list"
            return f"the peekaboo permission probe failed: {detail}"
        if missing:
            return (
                f"macOS permissions missing: {', '.join(missing)}. Grant them to the terminal in System "
                "Settings > Privacy & Security, then run again (`peekaboo permissions grant` shows how)"
            )
        self.log.add("info", "permissions granted: Screen Recording, Accessibility")
        return None

    def capture(self, app: str, scenario: str, file_name: str) -> None:
        self.attempted += 1
        self.log.add("info", f"capturing {scenario}", location=scenario)
        snapshot_rel = f"ax-snapshots/{file_name}.json"
        shot_rel = f"screenshots/{file_name}.png"
        (self.run_dir / "ax-snapshots").mkdir(parents=True, exist_ok=True)
        (self.run_dir / "screenshots").mkdir(parents=True, exist_ok=True)
        errors: list[str] = []

        see = self.run(see_argv(app), _CALL_TIMEOUT_S)
        document = parse_json_output(see.stdout_text())
        see_error = _failure(see, document, "see")
        if document is not None and see_error is None:
            atomic_write_json(self.run_dir / snapshot_rel, document)
        else:
            errors.append(see_error or "peekaboo see printed no JSON")

        shot = self.run_dir / shot_rel
        if self.remaining() <= 0:
            errors.append("peekaboo image: not run, the profile's timeout ran out")
        else:
            image = self.run(image_argv(app, shot), _CALL_TIMEOUT_S)
            image_error = _failure(image, parse_json_output(image.stdout_text()), "image")
            if image_error is None and not (shot.is_file() and shot.stat().st_size > 0):
                image_error = f"peekaboo image reported success but wrote no screenshot at {shot_rel}"
            if image_error is not None:
                errors.append(image_error)

        ok = not errors
        error = "; ".join(errors) if errors else None
        if not ok:
            self.failed += 1
            self.log.add("error", f"{scenario}: {error}", location=scenario)
        self.captures.append(
            Capture(
                kind="scenario",
                name=scenario,
                url=f"app:{app}",
                screenshot=shot_rel if shot.is_file() else None,
                aria_snapshot=snapshot_rel if (self.run_dir / snapshot_rel).is_file() else None,
                ok=ok,
                error=error,
            )
        )

    def finish(
        self,
        exit_code: DriverExit,
        platform: MacPlatform,
        app: str | None,
        *,
        skipped: str | None = None,
        error: str | None = None,
    ) -> CaptureManifest:
        passed = self.attempted - self.failed
        self.log.add("info", f"finished with exit code {exit_code}: {passed} of {self.attempted} captured")
        atomic_write_json(
            self.run_dir / "results.json",
            {
                "run_id": self.run_id,
                "exit_code": exit_code,
                "scenarios_attempted": self.attempted,
                "scenarios_passed": passed,
                "scenarios_failed": self.failed,
                "app": app,
                "skipped": skipped,
                "error": error,
            },
        )
        atomic_write_text(self.run_dir / "exit_code", f"{exit_code}\n")
        atomic_write_text(
            self.run_dir / "console.ndjson", "".join(e.model_dump_json() + "\n" for e in self.log.entries)
        )
        manifest = CaptureManifest(
            driver=DRIVER_NAME,
            exit_code=exit_code,
            platform=platform.describe(),
            skipped=skipped,
            error=error,
            captures=self.captures,
            extra={"results": "results.json", "driver_log": "console.ndjson"},
        )
        finish_capture(self.run_dir, manifest)
        return manifest


def _failure(result: ToolResult, document: dict[str, object] | None, command: str) -> str | None:
    """Why one peekaboo call failed, in words, or ``None`` when it succeeded."""
    reported = reported_error(document)
    if result.ok and reported is None:
        return None
    detail = reported or _first_line(result.stderr_text()) or result.error or "failed"
    return f"peekaboo {command}: {detail}"


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")[:500]


def _unique_names(scenarios: list[str]) -> list[tuple[str, str]]:
    """Each scenario with a file-safe name; names that clean to the same string get ``-2``, ``-3``."""
    seen: dict[str, int] = {}
    named: list[tuple[str, str]] = []
    for scenario in scenarios:
        base = safe_name(scenario)
        seen[base] = seen.get(base, 0) + 1
        named.append((scenario, base if seen[base] == 1 else f"{base}-{seen[base]}"))
    return named
