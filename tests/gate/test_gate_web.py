"""The README's main command on the bundled demo app: real app, real Chromium, real findings.

Runs ``orchestrate test --target web --profile smoke`` on a copy of ``examples/webapp`` twice and
checks what the README promises: the four known defects with their checks and severities, the
same fingerprints in both runs, four issues filed once, and exit code 1.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
ORCHESTRATE = [sys.executable, "-m", "orchestrator.cli"]

EXPECTED = {
    ("axe_violations", "critical", "image-alt", "/gallery"),
    ("axe_violations", "critical", "button-name", "/gallery"),
    ("console_errors", "high", "uncaught-exception", "/checkout"),
    ("console_errors", "medium", "http-404", "network"),
}


def run_smoke(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            *ORCHESTRATE,
            "-C",
            str(project),
            "test",
            "--target",
            "web",
            "--profile",
            "smoke",
            "--triage",
            "create",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env={**os.environ},
        check=False,
    )


def findings(project: Path, run_id: str) -> list[dict[str, Any]]:
    lines = (project / ".orchestrator" / "runs" / run_id / "findings.jsonl").read_text().splitlines()
    assert "_meta" in json.loads(lines[0])
    return [json.loads(line) for line in lines[1:]]


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_smoke_gate_on_the_demo_app(tmp_path: Path) -> None:
    project = tmp_path / "webapp"
    shutil.copytree(
        REPO / "examples" / "webapp",
        project,
        ignore=shutil.ignore_patterns("runs", "issues", "metrics", "events.db*", "__pycache__"),
    )

    first = run_smoke(project)
    assert first.returncode == 1, first.stdout + first.stderr
    run_id = first.stdout.splitlines()[0].split("run_id=")[1].split()[0]
    assert first.stdout.splitlines()[-1].startswith(
        f"Test Runner complete: run_id={run_id} findings=4 issues_created=4 "
    )
    found = findings(project, run_id)
    assert {(f["check"], f["severity"], f["checkId"], f["scope"]) for f in found} == EXPECTED
    for finding in found:
        assert (project / ".orchestrator" / "runs" / run_id / finding["evidence_path"]).is_file()

    second = run_smoke(project)
    assert second.returncode == 1
    second_id = second.stdout.splitlines()[0].split("run_id=")[1].split()[0]
    assert second_id != run_id
    assert " findings=4 issues_created=0 " in second.stdout.splitlines()[-1]
    assert [f["fingerprint"] for f in findings(project, second_id)] == [f["fingerprint"] for f in found]

    issues = json.loads(
        subprocess.run(
            [*ORCHESTRATE, "-C", str(project), "issues", "list", "--json"],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
    )
    assert len(issues) == 4
