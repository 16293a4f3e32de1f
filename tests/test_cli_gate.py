"""`orchestrate test` as a user meets it: the output contract, progress, -v, --json, --dry-run.

Each test runs the console script in a subprocess on a real project whose target is a test
suite (the command driver runs pytest and reads its JUnit XML), through the real actors, event
bus, evaluator, local tracker and report. One test gives the command a pseudo-terminal for
stderr, as a person's shell would.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gate_support import command_project, environment, orchestrate

FIRST = re.compile(r"Test Runner: target=unit profile=(\w+) run_id=(unit-\d+) driver=command")
LAST = re.compile(
    r"Test Runner complete: run_id=(unit-\d+) findings=(\d+) issues_created=(\d+) duration=\d+ms"
)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    toml = '[targets.unit]\ndriver = "command"\nprofile = "unit"\n'
    return command_project(tmp_path / "project", target_toml=toml)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_first_and_last_lines_are_exact_and_progress_goes_to_stderr(project: Path) -> None:
    done = orchestrate(project, "test", "--triage", "create")
    assert done.returncode == 1, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 2, done.stdout
    first, last = FIRST.fullmatch(lines[0]), LAST.fullmatch(lines[1])
    assert first is not None and last is not None, lines
    assert first.group(1) == "unit"  # the target's configured profile, no flag given
    assert first.group(2) == last.group(1)
    assert (last.group(2), last.group(3)) == ("1", "1")

    progress = done.stderr.splitlines()
    for line in (
        "capture: started (command-driver)",
        "evaluate: started (ux-evaluator)",
        "reconcile: started (issue-reconciler)",
    ):
        assert line in progress, done.stderr
    assert any(line.startswith("capture: done: ") for line in progress)
    assert any(line.startswith("reconcile: done: local: created 1") for line in progress)

    run_dir = project / ".orchestrator" / "runs" / first.group(2)
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "| 1 | high | console_errors |" in report and "| #1 created |" in report
    assert "<table>" in (run_dir / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_json_prints_only_the_document_and_the_profile_flag_wins(project: Path) -> None:
    done = orchestrate(project, "test", "--profile", "quiet", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert summary["profile"] == "quiet"
    assert summary["driver_exit_codes"] == {"command": 1}
    assert "capture: started (command-driver)" in done.stderr


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_dry_run_prints_the_tracker_requests_and_sends_nothing(project: Path) -> None:
    done = orchestrate(project, "test", "--dry-run", "--triage", "create")
    assert done.returncode == 1, done.stderr
    assert len(done.stdout.splitlines()) == 2
    assert "Dry run: 1 tracker request(s) would have been sent; nothing was sent." in done.stderr
    request = next(line for line in done.stderr.splitlines() if line.startswith("  local create "))
    assert "title=" in request and "bytes" in request
    issues = project / ".orchestrator" / "issues"
    assert not issues.exists() or not list(issues.glob("*.md"))
    run_id = done.stdout.split("run_id=")[1].split()[0]
    report = (project / ".orchestrator" / "runs" / run_id / "report.md").read_text(encoding="utf-8")
    assert "## Tracker Requests (dry run on local: nothing was sent)" in report
    assert "would be created" in report


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_verbose_shows_our_debug_lines_and_no_third_party_chatter(project: Path) -> None:
    # A target with a start command: a health check over httpx, a process, a free port.
    (project / "orchestrate.toml").write_text(
        '[targets.unit]\ndriver = "command"\nprofile = "unit"\n'
        'base_url = "http://127.0.0.1:{port}"\n'
        'start_command = ["python", "-m", "http.server", "{port}", "--bind", "127.0.0.1"]\n'
    )
    done = orchestrate(project, "-v", "--log-json", "test", "--triage", "skip")
    assert done.returncode == 1, done.stderr
    records = [json.loads(line) for line in done.stderr.splitlines()]
    debug = [r for r in records if r["level"] == "debug"]
    assert any(r["event"] == "target started" for r in debug)
    assert all(r["logger"].startswith("orchestrator.") for r in debug), {r["logger"] for r in debug}
    assert not [r for r in records if r["logger"].split(".")[0] in ("httpx", "httpcore", "pykka", "asyncio")]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_on_a_terminal_the_progress_is_a_live_display_and_stdout_keeps_its_lines(project: Path) -> None:
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "orchestrator.cli", "-C", str(project), "test", "--triage", "skip"],
        env={**environment(), "COLUMNS": "120", "TERM": "xterm"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
    )
    os.close(terminal)
    chunks: list[bytes] = []
    try:
        while True:
            ready, _, _ = select.select([controller], [], [], 120)
            if not ready:
                pytest.fail("no output on the terminal within 120 s")
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the terminal closed: the process is done writing
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.stdout is not None
        stdout = process.stdout.read().decode()
        assert process.wait(timeout=60) == 1
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
        if process.stdout is not None:
            process.stdout.close()
    lines = stdout.splitlines()
    assert len(lines) == 2 and FIRST.fullmatch(lines[0]) and LAST.fullmatch(lines[1]), stdout
    screen = b"".join(chunks).decode("utf-8", errors="replace")
    assert "✓ capture (command-driver): done" in screen
    assert "✓ reconcile (issue-reconciler): done" in screen
    assert "\x1b[" in screen  # drawn and redrawn in place, not printed line by line
    assert "capture: started" not in screen
