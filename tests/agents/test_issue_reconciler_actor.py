"""The IssueReconciler worker: capability "reconcile", issues.json, tool events, and no token anywhere."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from orchestrator.actors import spawn
from orchestrator.agents.issue_reconciler import ISSUES_FILE, IssueReconciler
from orchestrator.agents.issue_reconciler.backends import LocalTracker
from orchestrator.errors import ConfigError, ContractError, UnknownCapabilityError, UsageError
from orchestrator.events import EventBus
from orchestrator.gate import RECONCILE, ReconcileRequest
from orchestrator.messages import WorkRequest, WorkResult
from orchestrator.plugins import load_plugin
from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins
from tests.agents.reconciler_support import RUN_ID, ScriptedPrompter, sample_findings, write_findings

TOKEN = "ghp_twin_valid"


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    directory = tmp_path / ".orchestrator" / "runs" / RUN_ID
    write_findings(directory, sample_findings())
    return directory


@pytest.fixture
def bus(run_dir: Path) -> Iterator[EventBus]:
    event_bus = EventBus(None)
    event_bus.open_run(RUN_ID, run_dir / "events.jsonl")
    yield event_bus
    event_bus.stop()


def request(project: Path, run_dir: Path, **params: Any) -> WorkRequest:
    """A reconcile request as the gate builds it; ``params`` replace keys of its JSON form as given."""
    base = ReconcileRequest(run_id=RUN_ID, run_dir=run_dir, project_root=project).model_dump(mode="json")
    return WorkRequest(
        run_id=RUN_ID,
        task_id="task-1",
        call_id="call-1",
        capability="reconcile",
        objective="file findings",
        phase="reconcile",
        params={**base, **params},
    )


def ask(bus: EventBus, message: WorkRequest, **kwargs: Any) -> tuple[WorkResult, list[dict[str, Any]]]:
    worker = spawn(IssueReconciler, events=bus, **kwargs)
    try:
        result = worker.ask(message, timeout=30)
    finally:
        worker.stop()
    bus.flush()
    events_path = Path(str(message.params["run_dir"])) / "events.jsonl"
    events = [json.loads(line) for line in events_path.read_text().splitlines()]
    return result, events


def test_the_entry_point_names_this_worker() -> None:
    assert load_plugin("orchestrate.agents", "issue-reconciler") is IssueReconciler
    for name in ("local", "github", "gitlab", "gh", "glab"):
        assert hasattr(load_plugin("orchestrate.trackers", name), "from_config")


def test_reconcile_files_findings_and_writes_issues_json(
    tmp_path: Path, run_dir: Path, bus: EventBus
) -> None:
    result, events = ask(bus, request(tmp_path, run_dir))
    assert result.success
    issues = RECONCILE.parse_result(result.data)
    assert issues.created == [1, 2]
    assert len(issues.skipped) == 2
    assert issues.triage == "skip"
    assert [a.action for a in issues.actions] == ["created", "created", "skipped", "skipped"]
    assert result.summary == "local: created 2, commented 0, unchanged 0, skipped 2"
    assert json.loads((run_dir / ISSUES_FILE).read_text()) == result.data
    assert [i.number for i in LocalTracker(tmp_path).list_open_issues()] == [1, 2]
    calls = [e for e in events if e["event_type"] == "worker.tool.call"]
    results = [e for e in events if e["event_type"] == "worker.tool.result"]
    assert [e["payload"]["tool_name"] for e in calls] == [
        "tracker.local.list_open_issues",
        "tracker.local.find_open_issue",
        "tracker.local.create_issue",
        "tracker.local.find_open_issue",
        "tracker.local.create_issue",
    ]
    assert [e["payload"]["tool_trace_id"] for e in calls] == [e["payload"]["tool_trace_id"] for e in results]
    assert all(e["tool_trace_id"] == e["payload"]["tool_trace_id"] for e in calls + results)
    assert all(e["payload"]["success"] and e["payload"]["duration_ms"] >= 0 for e in results)
    assert all(e["task_id"] == "task-1" and e["run_id"] == RUN_ID for e in calls)
    assert "title='[test-runner] Buttons must have discernible text'" in calls[2]["payload"]["args_summary"]
    assert {"worker.task.started", "worker.task.progress", "worker.task.completed"} <= {
        e["event_type"] for e in events
    }


def test_a_second_request_creates_nothing_new(tmp_path: Path, run_dir: Path, bus: EventBus) -> None:
    first, _ = ask(bus, request(tmp_path, run_dir, triage="create"))
    second, _ = ask(bus, request(tmp_path, run_dir, triage="create"))
    assert first.data["created"] == [1, 2, 3, 4]
    assert second.data["created"] == []
    assert second.data["noop"] == [1, 2, 3, 4]


def test_interactive_triage_uses_the_prompter(tmp_path: Path, run_dir: Path, bus: EventBus) -> None:
    prompter = ScriptedPrompter(["create"])
    result, _ = ask(bus, request(tmp_path, run_dir, interactive=True), prompter=prompter)
    assert result.data["triage"] == "prompt"
    assert result.data["created"] == [1, 2, 3, 4]
    assert prompter.asked


def test_missing_findings_block_the_capability(tmp_path: Path, run_dir: Path, bus: EventBus) -> None:
    (run_dir / "findings.jsonl").unlink()
    result, _ = ask(bus, request(tmp_path, run_dir))
    assert not result.success
    assert result.blocked_reason is not None
    assert "findings.jsonl does not exist" in result.blocked_reason


def test_bad_requests_are_refused_before_any_work(tmp_path: Path, run_dir: Path, bus: EventBus) -> None:
    worker = spawn(IssueReconciler, events=bus)
    try:
        with pytest.raises(UnknownCapabilityError, match="does not offer 'evaluate'; it offers: reconcile"):
            worker.ask(request(tmp_path, run_dir).model_copy(update={"capability": "evaluate"}), timeout=10)
        for bad, field in (
            ({"findings_path": "../../../../etc/passwd"}, r"params\.findings_path: .*stay inside it"),
            ({"triage": "sometimes"}, r"params\.triage"),
            ({"dry_rn": True}, r"params\.dry_rn: "),  # misspelt: refused, never dropped
            ({"issues": {"backend": "local", "token": "x"}}, r"params\.issues\.token: "),
        ):
            with pytest.raises(ContractError, match=field) as refused:
                worker.ask(request(tmp_path, run_dir, **bad), timeout=10)
            assert "Fix:" in str(refused.value) and refused.value.side == "request"
        # A link out of the run dir is caught where the path is followed.
        (tmp_path / "elsewhere.jsonl").write_text("")
        (run_dir / "link.jsonl").symlink_to(tmp_path / "elsewhere.jsonl")
        with pytest.raises(UsageError, match="outside the run dir"):
            worker.ask(request(tmp_path, run_dir, findings_path="link.jsonl"), timeout=10)
        with pytest.raises(ConfigError, match="no tracker named 'jira-cloud'"):
            worker.ask(request(tmp_path, run_dir, issues={"backend": "jira-cloud"}), timeout=10)
    finally:
        worker.stop()
    assert not (run_dir / ISSUES_FILE).exists()


@pytest.fixture(scope="module")
def github_twin() -> Iterator[RunningTwins]:
    with serve_twins(["github"], seed=5) as running:
        yield running


@pytest.mark.parametrize("dry_run", [False, True])
def test_the_token_never_reaches_events_logs_results_or_artifacts(
    tmp_path: Path,
    run_dir: Path,
    bus: EventBus,
    github_twin: RunningTwins,
    caplog: pytest.LogCaptureFixture,
    dry_run: bool,
) -> None:
    with TwinAdmin(github_twin.endpoints["github"].origin) as admin:
        admin.reset({"issues": [], "comments": []}, seed=5)
    issues = {
        "backend": "github",
        "repository": "acme/app",
        "api_url": github_twin["github"],
        "token_env": "GH_PAT",
    }
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as logs:
        result, events = ask(
            bus,
            request(tmp_path, run_dir, issues=issues, triage="create", dry_run=dry_run),
            env={"GH_PAT": TOKEN},
        )
    assert result.success
    if dry_run:
        assert result.data["created"] == []
        assert len(result.data["requests"]) == 4  # type: ignore[arg-type]
    else:
        assert result.data["created"] == [1, 2, 3, 4]
    assert any(e["event_type"] == "worker.tool.call" for e in events)
    for text in (
        (run_dir / "events.jsonl").read_text(),
        (run_dir / ISSUES_FILE).read_text(),
        result.model_dump_json(),
        repr(logs),
        caplog.text,
    ):
        assert TOKEN not in text
        assert "Bearer" not in text


def test_an_unreachable_tracker_fails_the_result_with_issues_json(
    tmp_path: Path, run_dir: Path, bus: EventBus
) -> None:
    issues = {
        "backend": "gitlab",
        "repository": "g/p",
        "api_url": "http://127.0.0.1:9/api/v4",
        "retry_budget_s": 0,
    }
    result, events = ask(
        bus, request(tmp_path, run_dir, issues=issues), env={"GITLAB_TOKEN": "glpat-secret-7"}
    )
    assert not result.success
    assert "gitlab: GET /api/v4/projects/g%2Fp/issues failed" in result.summary
    written = json.loads((run_dir / ISSUES_FILE).read_text())
    assert written["error_code"] == "tracker_unavailable"
    assert written["created"] == []
    # The critical and the high finding needed the tracker; the medium and low ones were skipped.
    assert [f["severity"] for f in written["failed"]] == ["critical", "high"]
    assert {f["error_code"] for f in written["failed"]} == {"tracker_unavailable"}
    assert str(written["error"]).startswith("2 findings not filed in the gitlab tracker: gitlab: GET")
    failed_calls = [
        e for e in events if e["event_type"] == "worker.tool.result" and not e["payload"]["success"]
    ]
    assert len(failed_calls) == 1
    assert "glpat-secret-7" not in (run_dir / "events.jsonl").read_text()


def test_a_missing_tracker_cli_fails_the_result(tmp_path: Path, run_dir: Path, bus: EventBus) -> None:
    issues = {"backend": "gh", "repository": "a/b"}
    result, _ = ask(bus, request(tmp_path, run_dir, issues=issues), env={"PATH": str(tmp_path)})
    assert not result.success
    assert "the gh command is not installed or not on PATH" in result.summary
    written = json.loads((run_dir / ISSUES_FILE).read_text())
    assert written["error_code"] == "tracker_error"
    assert [f["severity"] for f in written["failed"]] == ["critical", "high"]
    assert "install gh" in str(written["failed"][0]["fix"])
