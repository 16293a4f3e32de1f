"""Suite mode: the project's own `npx playwright test`, run through a fake `npx` with a real-shaped report."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from orchestrator.actors import spawn
from orchestrator.drivers.web import WebDriver, parse_suite_report, run_suite, wants_suite
from orchestrator.events import EventBus, EventStore
from orchestrator.gate import CAPTURE, CaptureManifest, CaptureRequest, CaptureResult, CaptureTarget
from orchestrator.messages import WorkRequest
from orchestrator.policy.test_profiles import Profile

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


def _result(status: str, *, error: str | None = None, attachments: list[Any] | None = None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "workerIndex": 0,
        "status": status,
        "duration": 812,
        "errors": [],
        "stdout": [],
        "stderr": [],
        "retry": 0,
        "startTime": "2025-01-01T10:00:00.000Z",
        "attachments": attachments or [],
    }
    if error is not None:
        result["error"] = {"message": error, "stack": error + "\n    at checkout.spec.ts:9:5"}
        result["errors"] = [{"message": error}]
    return result


def _test(status: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "timeout": 30000,
        "annotations": [],
        "expectedStatus": "passed",
        "projectId": "chromium",
        "projectName": "chromium",
        "results": results,
        "status": status,
    }


def playwright_report(project: Path, *, failing: bool = True) -> dict[str, Any]:
    """A Playwright JSON report as the json reporter writes it (nested describe, flaky, skipped)."""
    shot = project / "test-results" / "checkout-pays" / "test-failed-1.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    shot.write_bytes(PNG)
    paying = (
        _test(
            "unexpected",
            [
                _result(
                    "failed",
                    error="\u001b[31mError: expect(locator).toBeVisible() failed\u001b[39m\n\n"
                    "Locator: getByText('Payment received')",
                    attachments=[{"name": "screenshot", "contentType": "image/png", "path": str(shot)}],
                )
            ],
        )
        if failing
        else _test("expected", [_result("passed")])
    )
    return {
        "config": {"rootDir": str(project / "tests"), "version": "1.49.1", "workers": 1},
        "suites": [
            {
                "title": "checkout.spec.ts",
                "file": "checkout.spec.ts",
                "line": 0,
                "column": 0,
                "specs": [],
                "suites": [
                    {
                        "title": "checkout",
                        "file": "checkout.spec.ts",
                        "line": 3,
                        "column": 6,
                        "specs": [
                            {
                                "title": "pays with a card",
                                "ok": not failing,
                                "file": "checkout.spec.ts",
                                "line": 4,
                                "column": 7,
                                "tests": [paying],
                            },
                            {
                                "title": "shows the total",
                                "ok": True,
                                "file": "checkout.spec.ts",
                                "line": 12,
                                "column": 7,
                                "tests": [_test("expected", [_result("passed")])],
                            },
                        ],
                    }
                ],
            },
            {
                "title": "home.spec.ts",
                "file": "home.spec.ts",
                "line": 0,
                "column": 0,
                "specs": [
                    {
                        "title": "loads",
                        "ok": True,
                        "file": "home.spec.ts",
                        "line": 3,
                        "column": 5,
                        "tests": [_test("flaky", [_result("failed", error="Timeout"), _result("passed")])],
                    },
                    {
                        "title": "is skipped",
                        "ok": True,
                        "file": "home.spec.ts",
                        "line": 7,
                        "column": 6,
                        "tests": [_test("skipped", [])],
                    },
                ],
            },
        ],
        "errors": [],
        "stats": {
            "startTime": "2025-01-01T10:00:00.000Z",
            "duration": 2345.6,
            "expected": 1 + (not failing),
            "skipped": 1,
            "unexpected": int(failing),
            "flaky": 1,
        },
    }


def fake_npx(bin_dir: Path, *, body: str) -> Path:
    """An `npx` executable: records its argv, cwd and TEST_CHANGED_FILES, then runs ``body``."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    script = bin_dir / "npx"
    script.write_text(
        "#!/bin/sh\n"
        'printf "%s\\n" "$*" > "$FAKE_NPX_LOG"\n'
        'pwd >> "$FAKE_NPX_LOG"\n'
        'printf "%s\\n" "${TEST_CHANGED_FILES:-unset}" >> "$FAKE_NPX_LOG"\n'
        f"{body}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


@pytest.fixture
def web_suite_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "playwright.config.ts").write_text("export default {};\n")
    return project


def _env(tmp_path: Path, report: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["FAKE_NPX_LOG"] = str(tmp_path / "npx.log")
    if report is not None:
        env["FAKE_REPORT"] = str(report)
    return env


def _write_report(tmp_path: Path, project: Path, *, failing: bool) -> Path:
    report = tmp_path / "fixture-report.json"
    report.write_text(json.dumps(playwright_report(project, failing=failing)))
    return report


WRITES_REPORT = (
    'echo "Running 4 tests using 1 worker"\n'
    'echo "  1 failed" >&2\n'
    'cat "$FAKE_REPORT" > "$PLAYWRIGHT_JSON_OUTPUT_NAME"\n'
    'exit "${FAKE_EXIT:-1}"'
)


def test_failed_tests_become_failed_captures_and_exit_1(tmp_path: Path, web_suite_project: Path) -> None:
    fake_npx(tmp_path / "bin", body=WRITES_REPORT)
    report = _write_report(tmp_path, web_suite_project, failing=True)
    run_dir = tmp_path / "run"
    outcome = run_suite(
        run_dir, web_suite_project, timeout_s=30, changed_files=["src/a.ts"], env=_env(tmp_path, report)
    )
    assert outcome.exit_code == 1
    assert outcome.result == CaptureResult(exit_code=1, manifest="captures/web.json", captured=2, failed=1)
    manifest = CaptureManifest.model_validate_json((run_dir / "captures" / "web.json").read_text())
    assert manifest == outcome.manifest
    (failed,) = [capture for capture in manifest.captures if not capture.ok]
    assert failed.kind == "test"
    assert failed.name == "checkout.spec.ts > checkout > pays with a card [chromium]"
    assert failed.error is not None
    assert failed.error.startswith("Error: expect(locator).toBeVisible() failed")
    assert "\u001b" not in failed.error
    assert failed.screenshot is not None
    assert (run_dir / failed.screenshot).read_bytes() == PNG
    assert sorted(c.name for c in manifest.captures if c.ok) == [
        "checkout.spec.ts > checkout > shows the total [chromium]",
        "home.spec.ts > loads [chromium]",
    ]
    assert json.loads((run_dir / "suite" / "report.json").read_text()) == json.loads(report.read_text())
    console = (run_dir / "suite" / "console.log").read_text()
    assert "Running 4 tests using 1 worker" in console and "1 failed" in console
    assert manifest.extra == {"suite_report": "suite/report.json", "suite_console": "suite/console.log"}
    assert not list(run_dir.rglob("*.ndjson")), "suite output must stay apart from the evaluator's NDJSON"
    assert (run_dir / "drivers" / "web" / "exit_code").read_text().strip() == "1"
    argv, cwd, changed = (tmp_path / "npx.log").read_text().splitlines()
    assert argv == "--no-install playwright test --reporter=json"
    assert Path(cwd).resolve() == web_suite_project.resolve()
    assert json.loads(changed) == ["src/a.ts"]


def test_a_green_suite_exits_0(tmp_path: Path, web_suite_project: Path) -> None:
    fake_npx(tmp_path / "bin", body=WRITES_REPORT)
    report = _write_report(tmp_path, web_suite_project, failing=False)
    env = _env(tmp_path, report) | {"FAKE_EXIT": "0"}
    outcome = run_suite(tmp_path / "run", web_suite_project, timeout_s=30, env=env)
    assert outcome.exit_code == 0
    assert outcome.failed == 0 and outcome.captured == 3


def test_a_report_printed_to_stdout_is_read_too(tmp_path: Path, web_suite_project: Path) -> None:
    fake_npx(tmp_path / "bin", body='cat "$FAKE_REPORT"\nexit 1')
    report = _write_report(tmp_path, web_suite_project, failing=True)
    outcome = run_suite(tmp_path / "run", web_suite_project, timeout_s=30, env=_env(tmp_path, report))
    assert outcome.exit_code == 1
    assert outcome.failed == 1


def test_missing_npx_is_a_framework_error(tmp_path: Path, web_suite_project: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    outcome = run_suite(tmp_path / "run", web_suite_project, timeout_s=30, env={"PATH": str(empty)})
    assert outcome.exit_code == 2
    assert outcome.manifest.error is not None
    assert "npx" in outcome.manifest.error and "Fix:" in outcome.manifest.error


def test_an_unreadable_report_is_a_framework_error(tmp_path: Path, web_suite_project: Path) -> None:
    fake_npx(
        tmp_path / "bin",
        body='echo "npm ERR! could not determine executable to run" >&2\nexit 1',
    )
    outcome = run_suite(tmp_path / "run", web_suite_project, timeout_s=30, env=_env(tmp_path))
    assert outcome.exit_code == 2
    assert "without a readable JSON report" in (outcome.manifest.error or "")
    assert "could not determine executable" in (tmp_path / "run" / "suite" / "console.log").read_text()


@pytest.mark.timeout(30)
def test_a_suite_past_its_timeout_is_stopped(tmp_path: Path, web_suite_project: Path) -> None:
    fake_npx(tmp_path / "bin", body="exec sleep 60")
    outcome = run_suite(tmp_path / "run", web_suite_project, timeout_s=1, env=_env(tmp_path))
    assert outcome.exit_code == 2
    assert "did not finish within 1 s" in (outcome.manifest.error or "")


def test_a_stopped_run_stops_the_suite(tmp_path: Path, web_suite_project: Path) -> None:
    fake_npx(tmp_path / "bin", body="exec sleep 60")
    stop = threading.Event()
    stop.set()
    outcome = run_suite(tmp_path / "run", web_suite_project, timeout_s=30, env=_env(tmp_path), cancelled=stop)
    assert outcome.exit_code == 2
    assert "cancelled" in (outcome.manifest.error or "")


def test_report_parsing_rejects_what_is_not_a_report_and_keeps_global_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a Playwright JSON report"):
        parse_suite_report({"tests": []})
    captures = parse_suite_report({"suites": [], "errors": [{"message": "Error: no tests found"}]})
    assert [(c.name, c.ok, c.error) for c in captures] == [("(suite error)", False, "Error: no tests found")]


def test_when_suite_mode_applies(tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    assert wants_suite(Profile(suite=True), bare)
    assert not wants_suite(Profile(), bare)
    (bare / "playwright.config.js").write_text("module.exports = {};\n")
    assert wants_suite(Profile(), bare)
    assert not wants_suite(Profile(routes=["/"]), bare)


def test_the_actor_runs_the_suite_and_reports_the_tool_call(
    tmp_path: Path, web_suite_project: Path, bus: EventBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_npx(tmp_path / "bin", body=WRITES_REPORT)
    report = _write_report(tmp_path, web_suite_project, failing=True)
    for name, value in _env(tmp_path, report).items():
        monkeypatch.setenv(name, value)
    run_dir = tmp_path / "run"
    bus.open_run("web-1", run_dir / "events.jsonl")
    driver = spawn(WebDriver, events=bus)
    result = driver.ask(
        WorkRequest(
            run_id="web-1",
            task_id="t1",
            call_id="c1",
            capability="capture",
            objective="run the project's Playwright suite",
            params=CaptureRequest(
                run_id="web-1",
                run_dir=run_dir,
                project_root=web_suite_project,
                target=CaptureTarget(name="web"),
                profile_name="suite",
                profile=Profile(suite=True, timeout_s=30),
                parallel=1,
            ).model_dump(mode="json"),
        ),
        timeout=60,
    )
    assert not result.success
    assert CAPTURE.parse_result(result.data) == CaptureResult(
        exit_code=1, manifest="captures/web.json", captured=2, failed=1
    )
    bus.flush()
    with EventStore(tmp_path / ".orchestrator" / "events.db") as store:
        events = store.query(run_id="web-1")
    calls = [e for e in events if e.event_type.startswith("worker.tool.")]
    assert [e.event_type for e in calls] == ["worker.tool.call", "worker.tool.result"]
    assert {e.payload["tool_name"] for e in calls} == {"npx playwright test"}
    assert calls[0].tool_trace_id == calls[1].tool_trace_id is not None
    assert calls[1].payload["success"] is False and calls[1].payload["exit_code"] == 1
    assert events[-1].event_type == "worker.task.completed"
