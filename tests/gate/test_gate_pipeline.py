"""`orchestrate test` end to end, without a browser: the command driver and a plugin driver.

Every run goes through the real console entry point in a subprocess, the real actors, the real
event bus, the UX evaluator, the local tracker and the report; the browser path is covered by
the web driver's tests and tests/gate/test_gate_web.py.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.gate_support import PROFILES, command_project, orchestrate
from tests.plugin_support import install_example_plugin

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return command_project(tmp_path / "project")


def events(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_failing_suite_is_filed_once_and_gates_the_release(project: Path) -> None:
    first = orchestrate(project, "test", "--triage", "create")
    assert first.returncode == 1, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0].startswith("Test Runner: target=unit profile=unit run_id=unit-")
    assert lines[0].endswith("driver=command")
    assert lines[-1].startswith("Test Runner complete: run_id=unit-")
    assert " findings=1 issues_created=1 duration=" in lines[-1]
    run_id = lines[0].split("run_id=")[1].split()[0]
    run_dir = project / ".orchestrator" / "runs" / run_id

    for artifact in ("report.md", "findings.jsonl", "issues.json", "events.jsonl", "captures/command.json"):
        assert (run_dir / artifact).is_file(), artifact
    report = (run_dir / "report.md").read_text()
    assert "| high | 1 |" in report
    assert "| command | 1 |" in report
    assert "**Created:** #1" in report

    metrics = [
        json.loads(x) for x in (project / ".orchestrator/metrics/test-runs.jsonl").read_text().splitlines()
    ]
    assert metrics[0]["schema_version"] == 1
    assert metrics[0]["finding_counts"] == {"critical": 0, "high": 1, "medium": 0, "low": 0}
    assert metrics[0]["issues"] == {"created": [1], "commented": [], "noop": []}
    assert metrics[0]["exit_code"] == 1

    recorded = events(run_dir)
    types = [e["event_type"] for e in recorded]
    assert types[-1] == "conductor.task.completed"
    assert sum(t in ("conductor.task.completed", "conductor.task.failed") for t in types) == 1
    calls = [e["payload"]["worker_type"] for e in recorded if e["event_type"] == "conductor.worker.call"]
    assert calls == ["command-driver", "ux-evaluator", "issue-reconciler"]

    second = orchestrate(project, "test", "--json")
    assert second.returncode == 1
    summary = json.loads(second.stdout)
    assert summary["issues"]["created"] == []
    assert summary["issues"]["noop"] == [1]
    listed = json.loads(orchestrate(project, "issues", "list", "--json").stdout)
    assert len(listed) == 1


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_driver_framework_error_fails_the_gate_with_exit_2(project: Path) -> None:
    policy = project / ".orchestrator" / "policy" / "test-profiles.yaml"
    policy.write_text(
        PROFILES.replace(
            "junit: junit.xml\n    checks: [console_errors]",
            "junit: absent.xml\n    checks: [console_errors]",
            1,
        )
    )
    done = orchestrate(project, "test", "--json")
    assert done.returncode == 2, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert summary["driver_exit_codes"] == {"command": 2}
    assert any(error.startswith("capture (command):") for error in summary["errors"])
    assert events(Path(summary["run_dir"]))[-1]["event_type"] == "conductor.task.failed"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_profile_checks_select_what_is_evaluated(project: Path) -> None:
    done = orchestrate(project, "test", "--profile", "quiet", "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["findings"] == 0
    assert summary["skipped_checks"]["console_errors"] == "not selected by the profile"
    assert summary["driver_exit_codes"] == {"command": 1}


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_dry_run_files_nothing(project: Path) -> None:
    done = orchestrate(project, "test", "--triage", "create", "--dry-run", "--json")
    assert done.returncode == 1
    summary = json.loads(done.stdout)
    assert summary["dry_run"] is True
    assert not (project / ".orchestrator" / "issues").exists() or not list(
        (project / ".orchestrator" / "issues").glob("*.md")
    )


@pytest.mark.timeout(120)
def test_since_with_nothing_changed_skips_the_run(project: Path) -> None:
    for args in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.email=t@e", "-c", "user.name=t", "commit", "-qm", "x"],
    ):
        subprocess.run(["git", *args], cwd=project, check=True, capture_output=True)
    done = orchestrate(project, "test", "--since", "HEAD")
    assert done.returncode == 0
    assert done.stdout == "No files changed since HEAD. Skipping test run.\n"
    assert not (project / ".orchestrator" / "runs").exists()


@pytest.mark.timeout(120)
def test_configuration_errors_exit_2_and_write_nothing(project: Path) -> None:
    done = orchestrate(project, "test", "--profile", "nightly")
    assert done.returncode == 2
    assert "no profile named 'nightly'" in done.stderr
    assert not (project / ".orchestrator" / "runs").exists()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_an_unknown_driver_is_a_framework_error_after_a_recorded_run(project: Path) -> None:
    policy = project / ".orchestrator" / "policy" / "test-profiles.yaml"
    policy.write_text(PROFILES.replace("driver: command\n    command", "driver: nonesuch\n    command", 1))
    (project / "orchestrate.toml").write_text('[targets.unit]\ndriver = "nonesuch"\n')
    done = orchestrate(project, "test", "--json")
    assert done.returncode == 2
    summary = json.loads(done.stdout)
    assert any("no driver named 'nonesuch'" in error for error in summary["errors"])
    run_dir = Path(summary["run_dir"])
    assert "## Errors" in (run_dir / "report.md").read_text()
    assert events(run_dir)[-1]["event_type"] == "conductor.task.failed"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_third_party_driver_plugin_runs_a_profile(tmp_path: Path) -> None:
    site = install_example_plugin(tmp_path / "plugin")
    root = tmp_path / "static"
    (root / "site").mkdir(parents=True)
    (root / "site" / "index.html").write_text(
        '<html lang="en"><body><img src="a.png"><button></button></body></html>'
    )
    (root / "site" / "a.png").write_bytes(b"\x89PNG")
    (root / "orchestrate.toml").write_text('[targets.static]\ndriver = "static-html"\nbase_url = "site"\n')
    (root / ".orchestrator" / "policy").mkdir(parents=True)
    (root / ".orchestrator" / "policy" / "test-profiles.yaml").write_text(
        "profiles:\n  pages:\n    driver: static-html\n    routes: ['/']\n    checks: [axe_violations]\n"
    )
    done = orchestrate(
        root,
        "test",
        "--target",
        "static",
        "--profile",
        "pages",
        "--triage",
        "skip",
        "--json",
        env={"PYTHONPATH": str(site)},
    )
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert summary["driver_exit_codes"] == {"static-html": 0}
    assert summary["finding_counts"]["critical"] == 2
