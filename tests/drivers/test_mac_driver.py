"""The mac driver against a fake ``peekaboo`` on PATH, on a platform it is told it runs on.

The fake is a real executable (a Python script) that records its argv and answers like peekaboo
does in ``--json`` mode, so the driver's subprocess handling, parsing and artifacts are all real.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from typing import Any

import pytest

from orchestrator.actors import spawn
from orchestrator.artifacts import read_jsonl
from orchestrator.drivers.mac import (
    MacDriver,
    MacPlatform,
    capture_mac,
    missing_permissions,
    validate_app_name,
)
from orchestrator.errors import ConfigError
from orchestrator.events import EventBus
from orchestrator.gate import (
    CAPTURE,
    CaptureManifest,
    CaptureRequest,
    CaptureResult,
    CaptureTarget,
    ConsoleEntry,
)
from orchestrator.messages import WorkRequest, WorkResult
from orchestrator.plugins import load_plugin
from orchestrator.policy.test_profiles import Profile

MACOS_15 = MacPlatform("Darwin", "15.1")
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

FAKE_PEEKABOO = r"""
import json, os, sys

args = sys.argv[1:]
with open(os.environ["FAKE_PEEKABOO_LOG"], "a") as log:
    log.write(json.dumps({"argv": args, "changed": os.environ.get("TEST_CHANGED_FILES")}) + "\n")
mode = os.environ.get("FAKE_PEEKABOO_MODE", "ok")


def answer(document, status=0):
    print(json.dumps(document, indent=2))
    sys.exit(status)


if args[:2] == ["permissions", "status"]:
    granted = mode != "no-permissions"
    answer({"success": True, "data": {"source": "local", "permissions": [
        {"name": "Screen Recording", "isRequired": True, "isGranted": granted,
         "grantInstructions": "System Settings > Privacy & Security > Screen Recording"},
        {"name": "Accessibility", "isRequired": False, "isGranted": granted,
         "grantInstructions": "System Settings > Privacy & Security > Accessibility"},
        {"name": "Full Disk Access", "isRequired": False, "isGranted": False,
         "grantInstructions": "System Settings > Privacy & Security > Full Disk Access"},
    ]}})
if args[0] == "see" and mode == "hang-see":
    import threading
    threading.Event().wait()  # never set: the driver's timeout has to end this
if args[0] == "see":
    app = args[args.index("--app") + 1]
    answer({"success": True, "data": {
        "snapshot_id": "5B0E1C3A", "application_name": app, "window_title": app + " - Untitled",
        "element_count": 2, "interactable_count": 1,
        "ui_elements": [
            {"id": "elem_1", "role": "AXButton", "title": "Save", "label": "Save", "is_actionable": True},
            {"id": "elem_2", "role": "AXStaticText", "title": "Ready", "is_actionable": False},
        ],
    }})
if args[0] == "image":
    path = args[args.index("--path") + 1]
    fail = os.environ.get("FAKE_PEEKABOO_FAIL")
    if fail and fail in path:
        error = {"message": "No window found for the app", "code": "WINDOW_NOT_FOUND"}
        answer({"success": False, "error": error}, 1)
    with open(path, "wb") as shot:
        shot.write(bytes.fromhex(os.environ["FAKE_PNG_HEX"]))
    answer({"success": True, "data": {"files": [{"path": path, "mime_type": "image/png"}]}})
sys.exit(64)
"""


@pytest.fixture
def fake_peekaboo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make a fake ``peekaboo`` the only program on PATH; return the file its argv is logged to."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "peekaboo"
    script.write_text(f"#!{sys.executable}\n{FAKE_PEEKABOO}")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    log = tmp_path / "peekaboo-argv.jsonl"
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_PEEKABOO_LOG", str(log))
    monkeypatch.setenv("FAKE_PNG_HEX", PNG.hex())
    return log


def calls(log: Path) -> list[list[str]]:
    return [record["argv"] for record in read_jsonl(log, missing_ok=True).records]


def results(run_dir: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((run_dir / "results.json").read_text())
    return document


def manifest_of(run_dir: Path) -> CaptureManifest:
    return CaptureManifest.model_validate_json((run_dir / "captures" / "mac.json").read_text())


def exit_codes(run_dir: Path) -> tuple[str, str]:
    return (run_dir / "exit_code").read_text().strip(), (
        run_dir / "drivers/mac/exit_code"
    ).read_text().strip()


def test_every_scenario_gets_an_ax_snapshot_and_a_screenshot(tmp_path: Path, fake_peekaboo: Path) -> None:
    run_dir = tmp_path / "run"
    manifest = capture_mac(
        run_dir,
        run_id="mac-1",
        app_name="Text Edit",
        scenarios=["main-window", "Settings / General"],
        platform=MACOS_15,
        changed_files=["Sources/App.swift"],
    )

    assert manifest.exit_code == 0
    assert manifest == manifest_of(run_dir)
    assert manifest.platform == "macOS 15.1" and manifest.skipped is None and manifest.error is None
    assert calls(fake_peekaboo) == [
        ["permissions", "status", "--json"],
        ["see", "--app", "Text Edit", "--json"],
        [
            "image",
            "--app",
            "Text Edit",
            "--path",
            str(run_dir / "screenshots/main-window.png"),
            "--format",
            "png",
            "--json",
        ],
        ["see", "--app", "Text Edit", "--json"],
        [
            "image",
            "--app",
            "Text Edit",
            "--path",
            str(run_dir / "screenshots/settings-general.png"),
            "--format",
            "png",
            "--json",
        ],
    ]
    changed = {r["changed"] for r in read_jsonl(fake_peekaboo).records}
    assert changed == {json.dumps(["Sources/App.swift"])}

    assert [(c.kind, c.name, c.ok) for c in manifest.captures] == [
        ("scenario", "main-window", True),
        ("scenario", "Settings / General", True),
    ]
    second = manifest.captures[1]
    assert second.screenshot == "screenshots/settings-general.png"
    assert second.aria_snapshot == "ax-snapshots/settings-general.json"
    assert (run_dir / second.screenshot).read_bytes() == PNG
    snapshot = json.loads((run_dir / second.aria_snapshot).read_text())
    assert snapshot["data"]["ui_elements"][0]["label"] == "Save"

    assert results(run_dir) == {
        "run_id": "mac-1",
        "exit_code": 0,
        "scenarios_attempted": 2,
        "scenarios_passed": 2,
        "scenarios_failed": 0,
        "app": "Text Edit",
        "skipped": None,
        "error": None,
    }
    assert exit_codes(run_dir) == ("0", "0")
    log = [ConsoleEntry.model_validate(r) for r in read_jsonl(run_dir / "console.ndjson").records]
    assert [e.type for e in log] == ["info"] * len(log)
    assert manifest.extra == {"results": "results.json", "driver_log": "console.ndjson"}


def test_a_failed_capture_is_exit_1_and_the_other_scenarios_still_run(
    tmp_path: Path, fake_peekaboo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PEEKABOO_FAIL", "preferences")
    run_dir = tmp_path / "run"
    manifest = capture_mac(
        run_dir, run_id="mac-2", app_name="Notes", scenarios=["preferences", "main-window"], platform=MACOS_15
    )

    assert manifest.exit_code == 1
    failed, passed = manifest.captures
    assert (failed.name, failed.ok, passed.name, passed.ok) == ("preferences", False, "main-window", True)
    assert failed.error == "peekaboo image: No window found for the app (WINDOW_NOT_FOUND)"
    assert failed.screenshot is None and failed.aria_snapshot == "ax-snapshots/preferences.json"
    counts = results(run_dir)
    assert (counts["scenarios_attempted"], counts["scenarios_passed"], counts["scenarios_failed"]) == (
        2,
        1,
        1,
    )
    assert counts["exit_code"] == 1
    assert exit_codes(run_dir) == ("1", "1")
    errors = [r for r in read_jsonl(run_dir / "console.ndjson").records if r["type"] == "error"]
    assert len(errors) == 1 and "WINDOW_NOT_FOUND" in errors[0]["text"]
    assert errors[0]["location"] == "preferences"


def test_missing_permissions_are_exit_2_and_named(
    tmp_path: Path, fake_peekaboo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PEEKABOO_MODE", "no-permissions")
    run_dir = tmp_path / "run"
    manifest = capture_mac(run_dir, run_id="mac-3", app_name="Notes", scenarios=["main"], platform=MACOS_15)

    assert manifest.exit_code == 2
    assert manifest.error is not None
    assert "macOS permissions missing: Screen Recording, Accessibility" in manifest.error
    assert "Full Disk Access" not in manifest.error
    assert calls(fake_peekaboo) == [["permissions", "status", "--json"]]
    assert manifest.captures == []
    assert results(run_dir)["scenarios_attempted"] == 0
    assert exit_codes(run_dir) == ("2", "2")


def test_a_missing_peekaboo_is_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    run_dir = tmp_path / "run"
    manifest = capture_mac(run_dir, run_id="mac-4", app_name="Notes", platform=MACOS_15)

    assert manifest.exit_code == 2
    assert manifest.error is not None and "peekaboo is not installed" in manifest.error
    assert "brew install" in manifest.error
    assert results(run_dir)["error"] == manifest.error
    assert exit_codes(run_dir) == ("2", "2")


@pytest.mark.timeout(30)
def test_a_hanging_peekaboo_is_killed_and_the_spent_budget_is_exit_2(
    tmp_path: Path, fake_peekaboo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PEEKABOO_MODE", "hang-see")
    run_dir = tmp_path / "run"
    manifest = capture_mac(
        run_dir,
        run_id="mac-8",
        app_name="Notes",
        scenarios=["first", "second"],
        timeout_s=1.5,
        platform=MACOS_15,
    )

    assert manifest.exit_code == 2
    assert manifest.error == "the profile's timeout of 1.5 s ran out after 1 of 2 scenarios"
    (first,) = manifest.captures
    assert not first.ok and first.error is not None
    assert "did not finish within" in first.error and "image: not run" in first.error
    assert [argv[0] for argv in calls(fake_peekaboo)] == ["permissions", "see"]
    assert results(run_dir)["scenarios_attempted"] == 1


@pytest.mark.parametrize(
    ("platform", "reason"),
    [
        (MacPlatform("Linux", ""), "not macOS (Linux)"),
        (MacPlatform("Windows", ""), "not macOS (Windows)"),
        (MacPlatform("Darwin", "14.6.1"), "macOS 14.6.1 is older than 15.0"),
    ],
)
def test_anything_but_macos_15_is_a_skip_with_exit_0(
    tmp_path: Path, fake_peekaboo: Path, platform: MacPlatform, reason: str
) -> None:
    run_dir = tmp_path / "run"
    manifest = capture_mac(run_dir, run_id="mac-5", app_name="Notes", platform=platform)

    assert manifest.exit_code == 0
    assert manifest.skipped is not None and manifest.skipped.startswith(reason)
    assert manifest.captures == []
    assert calls(fake_peekaboo) == []
    assert results(run_dir)["skipped"] == manifest.skipped
    assert exit_codes(run_dir) == ("0", "0")


def test_macos_15_and_later_versions_pass_the_gate() -> None:
    for version in ("15", "15.0", "15.4.1", "26.0"):
        assert MacPlatform("Darwin", version).skip_reason() is None
    assert MacPlatform("Darwin", "").skip_reason() is not None


@pytest.mark.parametrize(
    "name",
    [
        "",
        "-n",
        "--app",
        "Evil\nName",
        "Evil\rName",
        "Evil\x00Name",
        "a/b",
        "..\\x",
        "x" * 101,
        " Padded",
        "$(id)",
    ],
)
def test_unsafe_app_names_never_reach_a_command_line(tmp_path: Path, fake_peekaboo: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="app_name"):
        validate_app_name(name)
    manifest = capture_mac(tmp_path / "run", run_id="mac-6", app_name=name, platform=MACOS_15)
    assert manifest.exit_code == 2
    assert calls(fake_peekaboo) == []


@pytest.mark.parametrize(
    "name", ["Calculator", "Visual Studio Code", "com.apple.Safari", "Café (Beta) 2", "AT&T"]
)
def test_ordinary_app_names_are_accepted(name: str) -> None:
    assert validate_app_name(name) == name


@pytest.mark.parametrize(
    ("document", "missing"),
    [
        (
            {"success": True, "data": {"permissions": {"screen_recording": True, "accessibility": False}}},
            ["Accessibility"],
        ),
        (
            {
                "success": True,
                "data": [
                    {"name": "Screen Recording", "status": "denied"},
                    {"name": "Accessibility", "status": "granted"},
                ],
            },
            ["Screen Recording"],
        ),
        (
            {
                "data": {
                    "permissions": [
                        {"name": "Screen Recording", "isGranted": True},
                        {"name": "Accessibility", "isGranted": True},
                    ]
                }
            },
            [],
        ),
        ({"success": True, "data": {"permissions": []}}, None),
        ({"success": False, "error": {"message": "boom"}}, None),
        (None, None),
    ],
)
def test_permission_answers_of_every_peekaboo_version_are_understood(
    document: dict[str, Any] | None, missing: list[str] | None
) -> None:
    assert missing_permissions(document) == missing


@pytest.mark.timeout(30)
def test_the_actor_follows_the_driver_contract(tmp_path: Path, fake_peekaboo: Path, bus: EventBus) -> None:
    run_dir = tmp_path / "runs" / "mac-7"
    bus.open_run("mac-7", run_dir / "events.jsonl")
    driver_class = load_plugin("orchestrate.drivers", "mac")
    assert driver_class is MacDriver
    driver = spawn(MacDriver, events=bus, name="mac-driver-test", platform=MACOS_15)
    request = WorkRequest(
        run_id="mac-7",
        task_id="task-1",
        call_id="call-1",
        capability="capture",
        objective="capture the app",
        params=CaptureRequest(
            run_id="mac-7",
            run_dir=run_dir,
            project_root=tmp_path,
            target=CaptureTarget(name="mac", app_name="Notes"),
            profile_name="mac-gate",
            profile=Profile(driver="mac", scenarios=["main-window"], timeout_s=60),
            parallel=1,
        ).model_dump(mode="json"),
    )
    result = driver.ask(request, timeout=20)
    bus.close_run("mac-7")

    assert isinstance(result, WorkResult) and result.success
    assert CAPTURE.parse_result(result.data) == CaptureResult(
        exit_code=0, manifest="captures/mac.json", captured=1, failed=0
    )
    assert manifest_of(run_dir).captures[0].ok
    events = read_jsonl(run_dir / "events.jsonl").records
    types = [e["event_type"] for e in events]
    assert types[0] == "worker.task.started" and types[-1] == "worker.task.completed"
    tool_calls = [e for e in events if e["event_type"] == "worker.tool.call"]
    tool_results = [e for e in events if e["event_type"] == "worker.tool.result"]
    assert [e["payload"]["tool_name"] for e in tool_calls] == [
        "peekaboo permissions",
        "peekaboo see",
        "peekaboo image",
    ]
    assert all(e["payload"]["success"] for e in tool_results)
    assert [e["tool_trace_id"] for e in tool_calls] == [e["tool_trace_id"] for e in tool_results]
    assert all(e["task_id"] == "task-1" and e["call_id"] == "call-1" for e in events)
