"""`orchestrate issues list`, and the interactive triage prompt driven through a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from orchestrator.agents.issue_reconciler.backends import LocalTracker, issues_dir_of
from orchestrator.cli._context import CliContext
from orchestrator.cli._issues import issues_app
from orchestrator.errors import UsageError
from orchestrator.trackers import IssueDraft
from tests.agents.reconciler_support import sample_findings, sentinel_body, write_findings


def cli() -> typer.Typer:
    """A root app like the real one: -C sets the project; `issues` is mounted under it."""
    root = typer.Typer()

    @root.callback()
    def _root(
        ctx: typer.Context, project: Annotated[Path | None, typer.Option("-C", file_okay=False)] = None
    ) -> None:
        ctx.obj = CliContext(project_option=project)

    root.add_typer(issues_app, name="issues")
    return root


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli(), list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def project(tmp_path: Path) -> Path:
    tracker = LocalTracker(tmp_path, clock=lambda: "2025-03-04T05:06:07Z")
    tracker.create_issue(
        IssueDraft(
            title="[test-runner] Buttons must have discernible text",
            body=sentinel_body("0123456789abcdef"),
            labels=("from:test-runner", "priority:critical"),
        )
    )
    tracker.create_issue(
        IssueDraft(
            title="[test-runner] A resource answered 404",
            body=sentinel_body("fedcba9876543210"),
            labels=("from:test-runner", "priority:medium"),
        )
    )
    tracker.add_comment(2, "seen again\n")
    path = issues_dir_of(tmp_path) / "0001.md"
    path.write_text(path.read_text().replace("state: open", "state: closed"))
    return tmp_path


def test_issues_list_shows_open_issues(project: Path) -> None:
    lines = invoke("-C", str(project), "issues", "list").splitlines()
    assert lines[0].split() == ["#", "state", "priority", "title", "fingerprint", "comments", "updated"]
    assert len(lines) == 2
    assert lines[1].split() == [
        "2",
        "open",
        "medium",
        "[test-runner]",
        "A",
        "resource",
        "answered",
        "404",
        "fedcba9876543210",
        "1",
        "2025-03-04T05:06:07Z",
    ]


def test_issues_list_json_and_state(project: Path) -> None:
    everything = json.loads(invoke("-C", str(project), "issues", "list", "--state", "all", "--json"))
    assert [(i["number"], i["state"]) for i in everything] == [(1, "closed"), (2, "open")]
    first = everything[0]
    assert first == {
        "backend": "local",
        "number": 1,
        "title": "[test-runner] Buttons must have discernible text",
        "fingerprints": ["0123456789abcdef"],
        "state": "closed",
        "labels": ["from:test-runner", "priority:critical"],
        "url": ".orchestrator/issues/0001.md",
        "created_at": "2025-03-04T05:06:07Z",
        "updated_at": "2025-03-04T05:06:07Z",
        "comments": 0,
    }
    closed = json.loads(invoke("-C", str(project), "issues", "list", "--state", "closed", "--json"))
    assert [i["number"] for i in closed] == [1]


def test_issues_list_on_a_project_without_issues(tmp_path: Path) -> None:
    assert invoke("-C", str(tmp_path), "issues", "list").strip() == "No open issues in .orchestrator/issues."
    assert json.loads(invoke("-C", str(tmp_path), "issues", "list", "--json")) == []


def test_a_remote_backend_lists_open_issues_only(tmp_path: Path) -> None:
    (tmp_path / "orchestrate.toml").write_text('[issues]\nbackend = "gh"\nrepository = "a/b"\n')
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(
        f'#!{sys.executable}\nprint(\'[{{"number": 9, "title": "T", "body": "", "state": "OPEN"}}]\')\n'
    )
    gh.chmod(0o755)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    result = CliRunner().invoke(cli(), ["-C", str(tmp_path), "issues", "list", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert [i["number"] for i in json.loads(result.output)] == [9]
    refused = CliRunner().invoke(cli(), ["-C", str(tmp_path), "issues", "list", "--state", "all"], env=env)
    assert isinstance(refused.exception, UsageError)
    assert "lists open issues only" in str(refused.exception)


DRIVER = """
import json, sys
from pathlib import Path
from orchestrator.agents.issue_reconciler import RichPrompter, load_findings, reconcile
from orchestrator.agents.issue_reconciler.backends import LocalTracker
findings = load_findings(Path(sys.argv[1]))
outcome = reconcile(findings, LocalTracker(Path(sys.argv[2])), triage="prompt", prompter=RichPrompter())
print("OUTCOME " + json.dumps(outcome.as_data()), flush=True)
"""
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Terminal:
    """The parent side of a pseudo-terminal: read until a text shows up (with a deadline), type."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.screen = ""

    def expect(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"{text!r} never appeared; the terminal shows:\n{self.screen}"
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if ready:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                if not chunk:
                    assert text in self.screen, f"{text!r} never appeared; the terminal shows:\n{self.screen}"
                self.screen += ANSI.sub("", chunk.decode("utf-8", "replace")).replace("\r", "")

    def read_to_end(self, timeout: float = 30.0) -> None:
        """Read until the child closes the terminal (it exited)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"the child never closed the terminal; it shows:\n{self.screen}"
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                return
            if not chunk:
                return
            self.screen += ANSI.sub("", chunk.decode("utf-8", "replace")).replace("\r", "")

    def type(self, line: str) -> None:
        os.write(self.fd, (line + "\n").encode())


@pytest.mark.timeout(90)
@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_the_prompt_on_a_real_terminal(tmp_path: Path) -> None:
    import pty

    findings = sample_findings()
    path = write_findings(tmp_path / "run", findings)
    parent, child = pty.openpty()
    env = {**os.environ, "COLUMNS": "200", "TERM": "xterm"}
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(path), str(tmp_path)],
        stdin=child,
        stdout=child,
        stderr=child,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    os.close(child)
    terminal = Terminal(parent)
    try:
        terminal.expect("2 medium/low findings to triage:")
        terminal.expect("[create/review/skip] (create):")
        terminal.type("maybe")
        terminal.expect("Please select one of the available options")
        terminal.type("review")
        terminal.expect("[1/2] [medium] A resource answered 404 Not Found")
        terminal.expect("Create or skip? [create/skip] (create):")
        terminal.type("skip")
        terminal.expect("[2/2] [low] A stylesheet is permanently gone")
        terminal.type("")  # Enter takes the default: create
        terminal.expect("OUTCOME ")
        terminal.read_to_end()
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        os.close(parent)
    outcome = json.loads(terminal.screen.split("OUTCOME ", 1)[1].splitlines()[0])
    assert outcome["created"] == [1, 2, 3]
    assert outcome["skipped"] == [findings[2].fingerprint]
    assert [i.title for i in LocalTracker(tmp_path).list_open_issues()][
        -1
    ] == "[test-runner] A stylesheet is permanently gone"
