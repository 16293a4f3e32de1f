"""Suite mode: run the project's own Playwright tests and ingest their JSON report.

When a profile says ``suite: true`` (or it names no routes and no journeys and the project has a
``playwright.config.ts``/``.js``), the web driver runs ``npx --no-install playwright test
--reporter=json`` in the project root through :func:`orchestrator.subprocess_tools.run_tool` (no
shell, output capped, its whole process group killed on timeout or cancellation), with the
profile's timeout. The JSON report goes
to ``<run dir>/suite/report.json``; everything the command prints goes to
``<run dir>/suite/console.log``, kept apart from the ``console.ndjson`` files the UX evaluator reads.

Each test becomes a capture of kind ``test`` (``ok=False`` with the error for an unexpected
result; flaky tests passed on retry, skipped tests are left out), with a screenshot attachment
copied into the run dir when the test left one. Exit codes: 0 all passed; 1 failed tests (or the
command failed without failing a test); 2 when ``npx`` is missing, the command timed out, or no
readable report came out, or the run was cancelled.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from orchestrator.artifacts import atomic_write_bytes
from orchestrator.drivers.web._naming import SUITE_DIR, artifact_name, inside, relative
from orchestrator.drivers.web._outcome import DriverOutcome, finish
from orchestrator.gate import Capture, CaptureManifest
from orchestrator.policy.test_profiles import Profile
from orchestrator.subprocess_tools import Emit, child_env, run_tool

__all__ = ["PLAYWRIGHT_CONFIGS", "SUITE_ARGS", "SUITE_TOOL", "parse_suite_report", "run_suite", "wants_suite"]

PLAYWRIGHT_CONFIGS = ("playwright.config.ts", "playwright.config.js")
SUITE_ARGS: tuple[str, ...] = ("--no-install", "playwright", "test", "--reporter=json")
"""After ``npx``: never download Playwright on the fly; the project's own copy runs or nothing does."""
SUITE_TOOL = "npx playwright test"
"""The tool name in the command's ``worker.tool.*`` events."""

REPORT = f"{SUITE_DIR}/report.json"
CONSOLE_LOG = f"{SUITE_DIR}/console.log"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_MAX_ERROR = 2000
_MAX_ATTACHMENT = 20 * 1024 * 1024


def wants_suite(profile: Profile, project_root: Path) -> bool:
    """Whether the profile runs the project's Playwright suite instead of visiting routes."""
    if profile.suite:
        return True
    if profile.routes or profile.journeys:
        return False
    return any((project_root / name).is_file() for name in PLAYWRIGHT_CONFIGS)


def _clean(text: str) -> str:
    text = _ANSI.sub("", text).strip()
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 1] + "…"


def _error_of(result: Mapping[str, Any]) -> str | None:
    error = result.get("error")
    if isinstance(error, Mapping) and error.get("message"):
        return _clean(str(error["message"]))
    for item in result.get("errors") or []:
        if isinstance(item, Mapping) and item.get("message"):
            return _clean(str(item["message"]))
    return None


def _copy_screenshot(run_dir: Path, name: str, result: Mapping[str, Any], project_root: Path) -> str | None:
    """Copy the result's first PNG screenshot attachment into the run dir; its relative path."""
    for attachment in result.get("attachments") or []:
        if not isinstance(attachment, Mapping) or attachment.get("contentType") != "image/png":
            continue
        source = Path(str(attachment.get("path") or ""))
        if not source.is_absolute():
            source = project_root / source
        with contextlib.suppress(OSError):
            if source.is_file() and source.stat().st_size <= _MAX_ATTACHMENT:
                target = inside(run_dir, f"{SUITE_DIR}/attachments/{artifact_name(name)}.png")
                atomic_write_bytes(target, source.read_bytes())
                return relative(run_dir, target)
    return None


def parse_suite_report(
    report: Any, *, run_dir: Path | None = None, project_root: Path | None = None
) -> list[Capture]:
    """The tests of a Playwright JSON report as captures; ``ValueError`` if it is not one.

    With ``run_dir`` (and ``project_root`` for relative attachment paths) screenshot attachments of
    failed tests are copied into ``<run dir>/suite/attachments/``.
    """
    if not isinstance(report, Mapping) or not isinstance(report.get("suites"), list):
        raise ValueError("not a Playwright JSON report (no suites list)")
    captures: list[Capture] = []

    def walk(suite: Mapping[str, Any], titles: list[str]) -> None:
        for spec in suite.get("specs") or []:
            for test in spec.get("tests") or []:
                status = test.get("status")
                if status == "skipped":
                    continue
                project = test.get("projectName") or ""
                name = " > ".join([*titles, str(spec.get("title", ""))]) + (
                    f" [{project}]" if project else ""
                )
                results = test.get("results") or [{}]
                last = results[-1] if isinstance(results[-1], Mapping) else {}
                if status == "unexpected":
                    screenshot = None
                    if run_dir is not None:
                        screenshot = _copy_screenshot(run_dir, name, last, project_root or run_dir)
                    error = _error_of(last) or f"failed ({last.get('status', 'unexpected')})"
                    captures.append(
                        Capture(kind="test", name=name, screenshot=screenshot, ok=False, error=error)
                    )
                else:
                    captures.append(Capture(kind="test", name=name))
        for child in suite.get("suites") or []:
            walk(child, [*titles, str(child.get("title", ""))])

    for top in report["suites"]:
        walk(top, [str(top.get("title") or top.get("file") or "")])
    for error in report.get("errors") or []:
        message = (
            _clean(str(error.get("message", error))) if isinstance(error, Mapping) else _clean(str(error))
        )
        captures.append(Capture(kind="test", name="(suite error)", ok=False, error=message))
    return captures


def run_suite(
    run_dir: Path,
    project_root: Path,
    *,
    timeout_s: float,
    changed_files: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    driver: str = "web",
    cancelled: threading.Event | None = None,
    emit: Emit | None = None,
) -> DriverOutcome:
    """Run ``npx playwright test`` in ``project_root`` and write the manifest (see the module docstring).

    ``env`` is the base environment (default: this process's); ``emit`` receives the command's
    ``worker.tool.call`` / ``worker.tool.result`` events; ``cancelled`` stops the command early.
    """
    run_dir = run_dir.resolve()
    extra = {"suite_report": REPORT, "suite_console": CONSOLE_LOG}
    report_path = inside(run_dir, REPORT)
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.unlink(missing_ok=True)
    variables = {
        "PLAYWRIGHT_JSON_OUTPUT_NAME": str(report_path),
        "PLAYWRIGHT_JSON_OUTPUT_FILE": str(report_path),
    }
    if changed_files is not None:
        variables["TEST_CHANGED_FILES"] = json.dumps(list(changed_files))
    result = run_tool(
        ["npx", *SUITE_ARGS],
        cwd=project_root,
        timeout_s=timeout_s,
        env=child_env(variables, base=env),
        allowed={"npx"},
        cancelled=cancelled,
        emit=emit,
        tool_name=SUITE_TOOL,
    )
    if result.outcome == "not_found":
        error = (
            f"suite mode needs npx ({result.error}). Fix: install Node.js (npm ships npx) and the "
            "project's @playwright/test, or give the profile routes instead of suite: true"
        )
        return finish(run_dir, CaptureManifest(driver=driver, exit_code=2, error=error))
    stdout = result.stdout
    if not report_path.is_file() and stdout.lstrip().startswith(b"{"):
        # Older Playwright ignores the output-file variables and prints the report.
        atomic_write_bytes(report_path, stdout)
        stdout = b""
    atomic_write_bytes(inside(run_dir, CONSOLE_LOG), result.stderr + stdout)
    shown = " ".join(["npx", *SUITE_ARGS])
    if result.outcome != "exited":
        error = f"`{shown}`: {result.error} (see {CONSOLE_LOG})"
        return finish(run_dir, CaptureManifest(driver=driver, exit_code=2, error=error, extra=extra))
    try:
        document = json.loads(report_path.read_text(encoding="utf-8"))
        captures = parse_suite_report(document, run_dir=run_dir, project_root=project_root)
    except (OSError, ValueError) as exc:
        error = (
            f"`{shown}` exited {result.returncode} without a readable JSON report ({exc}); is "
            f"@playwright/test installed in the project? See {CONSOLE_LOG}"
        )
        return finish(run_dir, CaptureManifest(driver=driver, exit_code=2, error=error, extra=extra))
    if result.returncode != 0 and all(capture.ok for capture in captures):
        problem = f"exited {result.returncode} without a failed test; see {CONSOLE_LOG}"
        captures.append(Capture(kind="test", name=shown, ok=False, error=problem))
    failed = any(not capture.ok for capture in captures)
    manifest = CaptureManifest(
        driver=driver,
        exit_code=1 if failed else 0,
        platform="playwright test (npx)",
        captures=captures,
        extra=extra,
    )
    return finish(run_dir, manifest)
