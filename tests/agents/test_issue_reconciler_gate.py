"""`orchestrate test` with a tracker that fails: the run fails loudly, never "completed" with nothing filed.

The real console entry point runs in a subprocess: the command driver runs a failing pytest
suite (one high finding), the evaluator rates it and the reconciler files it in a GitHub twin
served by this test on loopback, which refuses the token or answers 503 to everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins

PROFILES = """\
default_target: unit
targets: {unit: unit}
profiles:
  unit:
    driver: command
    command: [python, -m, pytest, -q, -p, no:cacheprovider, --junitxml, junit.xml, test_sample.py]
    junit: junit.xml
    checks: [console_errors]
    timeout_s: 120
"""

SAMPLE = """\
def test_bad():
    assert 1 == 2, "math is broken"
"""

REFUSED_TOKEN = "ghp_refused_by_the_twin_42"


@pytest.fixture(scope="module")
def twins() -> Iterator[RunningTwins]:
    with serve_twins(["github"], seed=8) as running:
        yield running


@pytest.fixture
def project(tmp_path: Path, twins: RunningTwins) -> Path:
    root = tmp_path / "project"
    (root / ".orchestrator" / "policy").mkdir(parents=True)
    (root / ".orchestrator" / "policy" / "test-profiles.yaml").write_text(PROFILES)
    (root / "test_sample.py").write_text(SAMPLE)
    (root / "orchestrate.toml").write_text(
        '[targets.unit]\ndriver = "command"\n\n'
        f'[issues]\nbackend = "github"\nrepository = "acme/app"\napi_url = "{twins["github"]}"\n'
        'token_env = "GATE_GH_TOKEN"\nretry_budget_s = 0\n'
    )
    return root


def orchestrate(root: Path, *args: str, token: str) -> subprocess.CompletedProcess[str]:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GATE_GH_TOKEN": token}
    return subprocess.run(
        [sys.executable, "-m", "orchestrator.cli", "-C", str(root), *args],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        check=False,
    )


def events(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    ("failure", "token", "code", "status", "fix"),
    [
        ("refused token", REFUSED_TOKEN, "tracker_auth_failed", 401, "check the token in $GATE_GH_TOKEN"),
        ("503 to everything", "ghp_twin_valid", "tracker_unavailable", 503, "run again later"),
    ],
)
def test_a_finding_the_tracker_would_not_take_fails_the_gate_loudly(
    project: Path, twins: RunningTwins, failure: str, token: str, code: str, status: int, fix: str
) -> None:
    with TwinAdmin(twins.endpoints["github"].origin) as admin:
        admin.reset({"issues": [], "comments": []}, seed=8)
        admin.set_chaos(config={"error_503": {"probability": 1.0}} if status == 503 else None)
        try:
            done = orchestrate(project, "test", "--json", token=token)
        finally:
            admin.set_chaos(config=None)
        assert admin.state("issues") == []

    assert done.returncode == 2, f"{failure}: {done.stdout}\n{done.stderr}"
    # One line on stderr names the tracker, the status and the fix.
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:") and code in line]
    assert len(lines) == 1, done.stderr
    assert "github" in lines[0] and f"answered {status}" in lines[0] and fix in lines[0]

    summary = json.loads(done.stdout)
    assert summary["exit_code"] == 2
    assert summary["finding_counts"]["high"] == 1
    (unfiled,) = summary["issues"]["failed"]
    assert (unfiled["severity"], unfiled["tracker"], unfiled["status"]) == ("high", "github", status)
    assert unfiled["error_code"] == code
    assert fix in unfiled["fix"]
    assert summary["issues"]["created"] == []
    assert any(code in error for error in summary["errors"])

    run_dir = Path(summary["run_dir"])
    report = (run_dir / "report.md").read_text()
    assert "**Exit code:** 2" in report
    assert "- **Failed (not filed):** 1" in report
    assert f"`{unfiled['fingerprint']}` high" in report
    assert f"answered {status}" in report and f"[{code}]" in report

    recorded = events(run_dir)
    terminal = [
        e for e in recorded if e["event_type"] in ("conductor.task.completed", "conductor.task.failed")
    ]
    assert [e["event_type"] for e in terminal] == ["conductor.task.failed"]
    assert terminal[0]["payload"]["error_code"] == code
    assert code in terminal[0]["payload"]["error_message"]

    for text in (done.stdout, done.stderr, report, (run_dir / "events.jsonl").read_text()):
        assert REFUSED_TOKEN not in text
