"""`orchestrate test` as a process: its target dies with it, signals exit 128 + n, start-up errors are told.

Each test runs the real console entry point in a subprocess against a project whose target is a
real HTTP server (which forks a child of its own) and whose test command blocks until the test
releases it, so the CLI can be signalled mid-capture.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/stat").is_file(), reason="reads process groups from /proc"
)

# The target: forks a child (a second process in its group), then serves HTTP. Its pids, group
# and port go to target.json (written whole, then renamed) once it is about to serve.
SERVER = """\
import http.server, json, os, subprocess, sys

child = subprocess.Popen([sys.executable, "-c", "import time\\nwhile True: time.sleep(60)"])
port = int(sys.argv[1])
with open("target.json.tmp", "w") as fh:
    json.dump({"pid": os.getpid(), "child": child.pid, "group": os.getpgid(0), "port": port}, fh)
os.replace("target.json.tmp", "target.json")
http.server.ThreadingHTTPServer(("127.0.0.1", port), http.server.SimpleHTTPRequestHandler).serve_forever()
"""

# The test command: says it is capturing, then waits until the test releases it (or 120 s).
BLOCK = """\
import os, sys, time
from pathlib import Path

Path("capturing").write_text(str(os.getpid()))
deadline = time.monotonic() + 120
while not Path("release").exists() and time.monotonic() < deadline:
    time.sleep(0.05)
"""


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        pause.wait(0.02)


def group_members(group: int) -> list[int]:
    """Live (not zombie) processes whose process group is ``group``."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] not in ("Z", "X") and int(fields[2]) == group:
            members.append(int(entry.name))
    return members


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@dataclass
class Project:
    root: Path

    @property
    def target(self) -> dict[str, int]:
        document = json.loads((self.root / "target.json").read_text())
        assert isinstance(document, dict)
        return document

    def capturing(self) -> bool:
        return (self.root / "capturing").exists()


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    root = tmp_path / "project"
    (root / ".orchestrator" / "policy").mkdir(parents=True)
    (root / "server.py").write_text(SERVER)
    (root / "block.py").write_text(BLOCK)
    (root / "orchestrate.toml").write_text(
        '[targets.unit]\ndriver = "command"\nbase_url = "http://127.0.0.1:{port}"\n'
        'start_command = ["python", "server.py", "{port}"]\nhealth_path = "/"\n'
    )
    (root / ".orchestrator" / "policy" / "test-profiles.yaml").write_text(
        "default_target: unit\ntargets: {unit: unit}\nprofiles:\n  unit:\n    driver: command\n"
        f"    command: [{json.dumps(sys.executable)}, block.py]\n    junit: junit.xml\n"
        "    checks: [console_errors]\n    timeout_s: 120\n"
    )
    made = Project(root)
    yield made
    # Release the test command and make sure nothing of the target is left, whatever happened.
    (root / "release").write_text("")
    if (root / "target.json").exists():
        for pid in group_members(made.target["group"]):
            os.kill(pid, signal.SIGKILL)


def start_gate(root: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "orchestrator.cli", "-C", str(root), "test", "--triage", "skip"],
            stdout=output,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_the_target_group_dies_when_orchestrate_is_killed(project: Project, tmp_path: Path) -> None:
    gate = start_gate(project.root, tmp_path / "gate.log")
    try:
        wait_until(lambda: project.capturing() or gate.poll() is not None, 90, "the capture to start")
        assert gate.poll() is None, (tmp_path / "gate.log").read_text()
        target = project.target
        assert sorted(group_members(target["group"])) == sorted([target["pid"], target["child"]])
        assert not port_is_free(target["port"])
    finally:
        gate.send_signal(signal.SIGKILL)
        gate.wait(timeout=30)

    wait_until(
        lambda: port_is_free(target["port"]) and not group_members(target["group"]),
        5,
        "the target's port to be free and its process group to be gone",
    )


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_sigterm_ends_the_gate_with_143_and_an_interrupted_run(project: Project, tmp_path: Path) -> None:
    log = tmp_path / "gate.log"
    gate = start_gate(project.root, log)
    try:
        wait_until(lambda: project.capturing() or gate.poll() is not None, 90, "the capture to start")
        assert gate.poll() is None, log.read_text()
        gate.send_signal(signal.SIGTERM)
        assert gate.wait(timeout=60) == 143, log.read_text()
    finally:
        if gate.poll() is None:
            gate.kill()
            gate.wait(timeout=30)
    assert "stopped by SIGTERM" in log.read_text()
    [run_dir] = (project.root / ".orchestrator" / "runs").iterdir()
    manifest = json.loads((run_dir / "run.json").read_text())
    assert manifest["status"] == "interrupted"
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert events[-1]["event_type"] == "conductor.task.failed"
    assert events[-1]["payload"]["error_code"] == "interrupted"
    target = project.target
    assert not group_members(target["group"])  # stopped by orchestrate itself on the way out


@pytest.mark.timeout(120)
def test_a_health_path_that_answers_404_is_reported_on_stderr(project: Project) -> None:
    config = project.root / "orchestrate.toml"
    config.write_text(config.read_text().replace('health_path = "/"', 'health_path = "/healthz"'))
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "-C", str(project.root), "test", "--json"],
        capture_output=True,
        text=True,
        timeout=110,
        cwd=REPO,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    summary = json.loads(done.stdout)
    log_path = Path(summary["run_dir"]) / "target" / "output.log"
    assert "/healthz answered HTTP 404" in done.stderr
    assert str(log_path) in done.stderr
    assert log_path.is_file()
    assert not project.capturing()  # the drivers never ran
