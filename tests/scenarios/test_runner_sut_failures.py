"""A slot's SUT process that leaks secrets into its output, fails to start, or dies and cannot come back."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from orchestrator.agents.runner import MAX_START_FAILURES, Slot, SlotSettings
from orchestrator.scenarios import Trajectory
from tests.scenarios.runner_support import running_slot, scenario, spec

API_KEY = "sk-live-SUPERSECRET-12345"
TWIN_TOKEN = "jira-twin-valid"

# A careless system under test: it prints every credential it was given, counts its starts in
# starts.txt, exits with 3 while a file named "broken" exists, and otherwise serves 200 to any GET.
SUT_SCRIPT = """
import os, pathlib, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

with open("starts.txt", "a") as starts:
    starts.write("start\\n")
print("booting the assistant", flush=True)
print("token", os.environ["JIRA_TOKEN"], "key", os.environ["SUT_API_KEY"], flush=True)
print("config", os.environ["JIRA_CONFIG"], flush=True)
if pathlib.Path("broken").exists():
    print("cannot start: broken", flush=True)
    sys.exit(3)

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass

print("listening", flush=True)
HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""

HEALTHY = scenario(
    [{"id": "ping", "http": {"path": "/health"}, "expect": {"status": 200}}],
    data={"jira": {"projects": [{"key": "OPS", "name": "Operations"}], "issues": []}},
    context={"services": ["jira"]},
)


def settings_for(root: Path) -> SlotSettings:
    (root / "sut.py").write_text(SUT_SCRIPT)
    return SlotSettings.model_validate(
        {
            "project_root": root,
            "twins": ["jira"],
            "log_dir": root / "logs",
            "sut": {
                "base_url": "http://127.0.0.1:{port}",
                "start_command": ["python", "sut.py", "{port}"],
                "env": {
                    "JIRA_TOKEN": "{twins.jira.token}",
                    # Not a secret-looking name, but it holds a twin token all the same.
                    "JIRA_CONFIG": "{twins.jira.url}?auth={twins.jira.token}",
                    "SUT_API_KEY": API_KEY,
                },
                "start_timeout_s": 30,
            },
        }
    )


def starts(root: Path) -> int:
    return len((root / "starts.txt").read_text().splitlines())


def assert_clean(log: Path) -> str:
    text = log.read_text()
    assert "booting the assistant" in text
    assert "[redacted]" in text
    assert TWIN_TOKEN not in text and API_KEY not in text
    return text


def kill_sut(slot: Slot) -> None:
    assert slot.sut is not None and slot.sut.pid is not None
    pid = slot.sut.pid
    os.killpg(pid, signal.SIGKILL)
    # Wait until it is dead, without reaping it: the slot's own handle still waits for it.
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


def test_the_sut_log_keeps_its_output_but_no_secret_once_the_slot_stops(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    log = tmp_path / "logs" / "slot-1-sut.log"
    with running_slot(settings) as slot:
        trajectory = slot.run(spec(HEALTHY))
        assert trajectory.status == "completed", trajectory.error
        assert trajectory.outcome["slot_failure"] is False
    text = assert_clean(log)
    assert "listening" in text
    assert "token [redacted] key [redacted]" in text
    assert "?auth=[redacted]" in text


def assert_slot_failure(trajectory: Trajectory, *words: str) -> str:
    assert trajectory.status == "errored"
    assert trajectory.outcome["slot_failure"] is True
    error = trajectory.error or ""
    for word in words:
        assert word in error
    return error


def test_a_sut_that_never_starts_is_tried_three_times_then_given_up(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    (tmp_path / "broken").touch()
    log = tmp_path / "logs" / "slot-1-sut.log"
    slot = Slot(settings)
    try:
        tried = [slot.run(spec(HEALTHY, index=index)) for index in range(1, MAX_START_FAILURES + 1)]
        for trajectory in tried:
            error = assert_slot_failure(trajectory, "could not start", "exited with 3", str(log))
            assert all(step.status == "skipped" for step in trajectory.steps)
        assert not slot.started and slot.gave_up
        later = [slot.run(spec(HEALTHY, index=index)) for index in (4, 5)]
        for trajectory in later:
            assert_slot_failure(
                trajectory,
                f"the system under test failed to start {MAX_START_FAILURES} times in a row",
                f"last: {error}",
            )
        assert starts(tmp_path) == MAX_START_FAILURES  # nothing was started for the later ones
        assert "cannot start: broken" in assert_clean(log)
    finally:
        slot.stop()


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "waitid"), reason="waits for the killed process with waitid")
def test_a_start_that_succeeds_resets_the_count_and_failed_restarts_count_too(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    broken = tmp_path / "broken"
    broken.touch()
    log = tmp_path / "logs" / "slot-1-sut.log"
    slot = Slot(settings)
    try:
        for index in (1, 2):
            assert_slot_failure(slot.run(spec(HEALTHY, index=index)), "could not start")
        broken.unlink()
        working = slot.run(spec(HEALTHY, index=3))
        assert working.status == "completed", working.error
        assert working.outcome["slot_failure"] is False

        broken.touch()
        kill_sut(slot)
        # Two failures before the success would give up here without the reset.
        for index in range(4, 4 + MAX_START_FAILURES):
            assert_slot_failure(
                slot.run(spec(HEALTHY, index=index)), "could not be started again", "exited with 3", str(log)
            )
            assert_clean(log)
        given_up = slot.run(spec(HEALTHY, index=10))
        assert_slot_failure(
            given_up,
            f"the system under test failed to start {MAX_START_FAILURES} times in a row",
            "last: the system under test could not be started again",
        )
        assert starts(tmp_path) == 2 + 1 + MAX_START_FAILURES
    finally:
        slot.stop()
    assert_clean(log)
