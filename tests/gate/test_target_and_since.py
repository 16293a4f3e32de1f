"""Starting a target on a free port and stopping it; changed files since a git ref."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from orchestrator.config import TargetSection
from orchestrator.errors import ConfigError, UsageError
from orchestrator.pipelines.test import TargetStartError, changed_files_since, looks_secret, running_target


@pytest.mark.timeout(60)
def test_target_is_started_on_a_free_port_and_always_stopped(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<h1>up</h1>")
    settings = TargetSection(
        base_url="http://127.0.0.1:{port}",
        start_command=[sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "{port}"],
        health_path="/index.html",
    )
    with running_target("web", settings, root=tmp_path, log_path=tmp_path / "target.log") as target:
        assert target.base_url is not None and "{port}" not in target.base_url
        assert httpx.get(f"{target.base_url}/index.html").text == "<h1>up</h1>"
        pid = target.pid
    assert pid is not None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.timeout(60)
def test_a_command_that_exits_early_is_reported_with_its_output(tmp_path: Path) -> None:
    settings = TargetSection(
        base_url="http://127.0.0.1:{port}",
        start_command=[sys.executable, "-c", "import sys; print('port taken'); sys.exit(3)"],
    )
    with (
        pytest.raises(TargetStartError, match=r"exited with 3 .* its output is in .*t\.log"),
        running_target("web", settings, root=tmp_path, log_path=tmp_path / "t.log"),
    ):
        pass
    assert "port taken" in (tmp_path / "t.log").read_text()


@pytest.mark.timeout(60)
def test_what_the_start_command_started_is_stopped_too(tmp_path: Path) -> None:
    """A shell that starts the server: stopping the target stops the server (the whole group)."""
    settings = TargetSection(
        base_url="http://127.0.0.1:{port}",
        start_command=["sh", "-c", f"{sys.executable} -m http.server --bind 127.0.0.1 {{port}}; echo done"],
    )
    with running_target("web", settings, root=tmp_path, log_path=tmp_path / "t.log") as target:
        assert target.base_url is not None
        assert httpx.get(target.base_url).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(target.base_url)


def test_a_missing_executable_is_a_config_error(tmp_path: Path) -> None:
    settings = TargetSection(base_url="http://127.0.0.1:{port}", start_command=["no-such-server-binary"])
    with (
        pytest.raises(
            ConfigError, match=r"targets.web.start_command: 'no-such-server-binary' is not an executable"
        ),
        running_target("web", settings, root=tmp_path, log_path=tmp_path / "t.log"),
    ):
        pass


SERVE_AND_DUMP_ENV = """\
import http.server, json, os, sys

with open("env.json", "w") as fh:
    json.dump(dict(os.environ), fh)
handler = http.server.SimpleHTTPRequestHandler
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""


@pytest.mark.timeout(60)
def test_secrets_stay_out_of_the_target_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "serve.py").write_text(SERVE_AND_DUMP_ENV)
    secrets = {
        "GITHUB_TOKEN": "ghp_tracker",
        "GITLAB_TOKEN": "glpat-tracker",
        "TEAM_TRACKER_CRED": "from-token-env",
        "OPENAI_API_KEY": "sk-model",
        "AWS_SECRET_ACCESS_KEY": "aws-secret",
        "DB_PASSWORD": "hunter2",
        "STRIPE_KEY": "sk_live",
    }
    for name, value in {**secrets, "SHARED_SECRET": "needed", "APP_MODE": "demo"}.items():
        monkeypatch.setenv(name, value)
    settings = TargetSection(
        base_url="http://127.0.0.1:{port}",
        start_command=["python", "serve.py", "{port}"],
        env={"FEATURE_FLAG": "on"},
        env_passthrough=["SHARED_SECRET"],
    )
    with running_target(
        "web", settings, root=tmp_path, log_path=tmp_path / "t.log", withheld_env=["TEAM_TRACKER_CRED"]
    ) as target:
        seen = json.loads((tmp_path / "env.json").read_text())
    assert not secrets.keys() & seen.keys()
    assert not set(secrets.values()) & set(seen.values())
    assert (seen["SHARED_SECRET"], seen["APP_MODE"], seen["FEATURE_FLAG"]) == ("needed", "demo", "on")
    assert target.base_url is not None and seen["PORT"] == target.base_url.rsplit(":", 1)[1]


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("GITHUB_TOKEN", True),
        ("HF_TOKEN", True),
        ("npm_token", True),
        ("OPENAI_API_KEY", True),
        ("ANTHROPIC_APIKEY", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("PGPASSWORD", True),
        ("GOOGLE_APPLICATION_CREDENTIALS", True),
        ("SESSION_COOKIE", True),
        ("GH_PAT", True),
        ("PATH", False),
        ("HOME", False),
        ("TOKENIZERS_PARALLELISM", False),
        ("KEYBOARD_LAYOUT", False),
        ("PYTHONPATH", False),
        ("MAX_TOKENS", False),
    ],
)
def test_secret_looking_names(name: str, secret: bool) -> None:
    assert looks_secret(name) is secret


@pytest.mark.timeout(60)
def test_a_health_path_answering_404_fails_at_once_naming_the_cause_and_the_log(tmp_path: Path) -> None:
    settings = TargetSection(
        base_url="http://127.0.0.1:{port}",
        start_command=[sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "{port}"],
        health_path="/healthz",
        start_timeout_s=50,  # far longer than the test may take: only the 404 can end the wait in time
    )
    log_path = tmp_path / "target" / "output.log"
    with (
        pytest.raises(TargetStartError) as caught,
        running_target("web", settings, root=tmp_path, log_path=log_path),
    ):
        pass
    message = str(caught.value)
    assert "/healthz answered HTTP 404 File not found, which waiting will not change" in message
    assert "set targets.web.health_path to a path that answers" in message
    assert message.endswith(f"its output is in {log_path}")


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.mark.timeout(60)
def test_changed_files_since_a_ref(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    (tmp_path / "a.txt").write_text("1")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "one")
    assert changed_files_since(tmp_path, "HEAD") == []
    (tmp_path / "a.txt").write_text("2")
    (tmp_path / "new.txt").write_text("x")
    assert changed_files_since(tmp_path, "HEAD") == ["a.txt", "new.txt"]
    (tmp_path / "naïve ✓.txt").write_text("x")
    assert "naïve ✓.txt" in changed_files_since(tmp_path, "HEAD")
    with pytest.raises(UsageError, match="git does not know this ref"):
        changed_files_since(tmp_path, "no-such-ref")
    with pytest.raises(UsageError, match="is not a git ref"):
        changed_files_since(tmp_path, "--output=/tmp/x")


TALKER = """
import http.server, sys
print("starting with token tok-SECRET-123 and key sk-live-42; not secret: hello", flush=True)
http.server.test(HandlerClass=http.server.SimpleHTTPRequestHandler, port=int(sys.argv[1]), bind="127.0.0.1")
"""


@pytest.mark.timeout(60)
def test_redacted_values_never_reach_the_log_even_while_the_command_runs(tmp_path: Path) -> None:
    (tmp_path / "talker.py").write_text(TALKER)
    (tmp_path / "index.html").write_text("<h1>up</h1>")
    settings = TargetSection(
        base_url="http://127.0.0.1:{port}",
        start_command=["python", "talker.py", "{port}"],
        health_path="/index.html",
    )
    log = tmp_path / "target.log"
    with running_target(
        "web", settings, root=tmp_path, log_path=log, redact=["tok-SECRET-123", "sk-live-42"]
    ) as target:
        assert target.base_url is not None
        httpx.get(f"{target.base_url}/index.html")
        # Healthy means the banner was printed before; the copy is line by line, so it is there now
        # or very soon: wait on it with a deadline.
        deadline = time.monotonic() + 10
        while "hello" not in log.read_text() and time.monotonic() < deadline:
            threading.Event().wait(0.02)
        running = log.read_text()
    assert "hello" in running and "[redacted]" in running
    assert "tok-SECRET-123" not in running and "sk-live-42" not in running
    assert "tok-SECRET-123" not in log.read_text() and "GET /index.html" in log.read_text()
