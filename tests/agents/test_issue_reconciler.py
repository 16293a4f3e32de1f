"""The reconciler's function API on the local tracker: decisions, routing, triage, dry run, idempotence."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.agents.issue_reconciler import ReconcileOutcome, load_findings, reconcile
from orchestrator.agents.issue_reconciler.backends import LocalTracker, issues_dir_of
from orchestrator.errors import ArtifactError, UsageError
from orchestrator.gate import Finding
from orchestrator.trackers import IssueDraft
from tests.agents.reconciler_support import (
    ScriptedPrompter,
    make_finding,
    sample_findings,
    sentinel_body,
    write_findings,
)


def run(tmp_path: Path, findings: list[Finding], **kwargs: object) -> ReconcileOutcome:
    kwargs.setdefault("triage", "skip")
    return reconcile(findings, LocalTracker(tmp_path), **kwargs)  # type: ignore[arg-type]


def test_critical_and_high_are_filed_and_the_batch_skipped_by_default(tmp_path: Path) -> None:
    findings = sample_findings()
    outcome = run(tmp_path, findings)
    assert outcome.created == [1, 2]
    assert outcome.skipped == [findings[2].fingerprint, findings[3].fingerprint]
    assert outcome.commented == outcome.noop == outcome.requests == outcome.failed == []
    issues = LocalTracker(tmp_path).list_open_issues()
    assert [(i.title, i.labels, i.fingerprints) for i in issues] == [
        (
            "[test-runner] Buttons must have discernible text",
            ("from:test-runner", "priority:critical"),
            [findings[0].fingerprint],
        ),
        (
            "[test-runner] Images must have alternate text",
            ("from:test-runner", "priority:high"),
            [findings[1].fingerprint],
        ),
    ]
    assert outcome.summary() == "local: created 2, commented 0, unchanged 0, skipped 2"


def test_a_second_run_over_the_same_findings_creates_nothing(tmp_path: Path) -> None:
    findings = sample_findings()
    run(tmp_path, findings, triage="create")
    again = run(tmp_path, findings, triage="create")
    assert again.created == again.commented == again.skipped == []
    assert again.noop == [1, 2, 3, 4]
    assert [a["action"] for a in again.actions] == ["noop"] * 4
    assert len(LocalTracker(tmp_path).list_open_issues()) == 4


def test_a_close_title_gets_a_comment_once(tmp_path: Path) -> None:
    first = make_finding(locator="img.a", title="Images must have alternate text")
    run(tmp_path, [first])
    moved = make_finding(locator="img.b", title="Images must have alternate text!")
    outcome = run(tmp_path, [first, moved])
    assert outcome.created == []
    assert outcome.noop == [1]
    assert outcome.commented == [1]
    tracker = LocalTracker(tmp_path)
    (comment,) = tracker.list_comments(1)
    assert comment.rstrip().endswith(f"<!-- orchestrate:fingerprint={moved.fingerprint} -->")
    third = run(tmp_path, [first, moved])  # the comment carries the fingerprint: nothing to add
    assert third.commented == []
    assert third.noop == [1]
    assert len(tracker.list_comments(1)) == 1


def test_a_different_title_is_a_new_issue(tmp_path: Path) -> None:
    run(tmp_path, [make_finding(locator="img.a", title="Images must have alternate text")])
    outcome = run(tmp_path, [make_finding(locator="img.b", title="Images must have a caption")])
    assert outcome.created == [2]


def test_the_same_defect_twice_in_one_file_is_filed_once(tmp_path: Path) -> None:
    finding = make_finding()
    assert run(tmp_path, [finding, finding]).created == [1]


def test_triage_create_files_the_batch_with_recommended_actions(tmp_path: Path) -> None:
    LocalTracker(tmp_path).create_issue(
        IssueDraft(
            title="[test-runner] A resource answered 404 Not Found.",
            body="old\n",
            labels=("from:test-runner",),
        )
    )
    findings = sample_findings()
    outcome = run(tmp_path, findings, triage="create")
    assert outcome.commented == [1]  # the medium one's title is one edit away from issue 1
    assert outcome.created == [2, 3, 4]


def test_the_prompt_create_all(tmp_path: Path) -> None:
    prompter = ScriptedPrompter(["create"])
    outcome = run(tmp_path, sample_findings(), triage="prompt", prompter=prompter)
    assert outcome.created == [1, 2, 3, 4]
    assert len(prompter.asked) == 1
    _question, choices, default = prompter.asked[0]
    assert choices == ["create", "review", "skip"]
    assert default == "create"
    assert "2 medium/low findings to triage:" in prompter.said
    assert any("[medium] A resource answered 404 Not Found" in line for line in prompter.said)


def test_the_prompt_skip_all(tmp_path: Path) -> None:
    findings = sample_findings()
    outcome = run(tmp_path, findings, triage="prompt", prompter=ScriptedPrompter(["skip"]))
    assert outcome.created == [1, 2]
    assert outcome.skipped == [findings[2].fingerprint, findings[3].fingerprint]


def test_the_prompt_review_each(tmp_path: Path) -> None:
    tracker = LocalTracker(tmp_path)
    tracker.create_issue(
        IssueDraft(
            title="[test-runner] A resource answered 404 Not Found!", body="x\n", labels=("from:test-runner",)
        )
    )
    findings = sample_findings()
    prompter = ScriptedPrompter(["review", "comment", "skip"])
    outcome = run(tmp_path, findings, triage="prompt", prompter=prompter)
    assert outcome.commented == [1]
    assert outcome.skipped == [findings[3].fingerprint]
    assert outcome.created == [2, 3]
    review = prompter.asked[1:]
    assert review[0][1:] == (["create", "comment", "skip"], "comment")
    assert "#1" in review[0][0]
    assert review[1][1:] == (["create", "skip"], "create")


def test_the_prompt_review_can_create_instead_of_comment(tmp_path: Path) -> None:
    LocalTracker(tmp_path).create_issue(
        IssueDraft(
            title="[test-runner] A resource answered 404 Not Found!", body="x\n", labels=("from:test-runner",)
        )
    )
    outcome = run(
        tmp_path,
        sample_findings(),
        triage="prompt",
        prompter=ScriptedPrompter(["review", "create", "create"]),
    )
    assert outcome.commented == []
    assert outcome.created == [2, 3, 4, 5]


def test_nothing_to_ask_when_the_batch_is_already_filed(tmp_path: Path) -> None:
    findings = sample_findings()
    run(tmp_path, findings, triage="create")
    prompter = ScriptedPrompter([])
    outcome = run(tmp_path, findings, triage="prompt", prompter=prompter)
    assert prompter.asked == []
    assert outcome.noop == [1, 2, 3, 4]


def test_prompt_without_a_prompter_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="prompter"):
        run(tmp_path, sample_findings(), triage="prompt")


def test_dry_run_describes_and_sends_nothing(tmp_path: Path) -> None:
    findings = sample_findings()
    outcome = run(tmp_path, findings, triage="create", dry_run=True)
    assert not issues_dir_of(tmp_path).exists()
    assert outcome.created == []
    assert [r["action"] for r in outcome.requests] == ["create"] * 4
    assert outcome.requests[0]["title"] == "[test-runner] Buttons must have discernible text"
    assert [a["action"] for a in outcome.actions] == ["would_create"] * 4
    assert outcome.summary() == "dry run on local: would create 4, would comment 0, unchanged 0, skipped 0"
    line = outcome.request_lines()[0]
    assert line.startswith(
        "local create .orchestrator/issues title='[test-runner] Buttons must have discernible text'"
    )
    assert "labels=from:test-runner,priority:critical body=" in line
    real = run(tmp_path, findings, triage="create")
    assert len(real.created) == 4  # the dry run foretold exactly this


def test_an_oversized_finding_fails_alone(tmp_path: Path) -> None:
    huge = make_finding(severity="critical", locator="div.huge", title="Huge", description="a" * 70_000)
    findings = [huge, *sample_findings()]
    outcome = run(tmp_path, findings)
    assert outcome.created == [1, 2]
    assert outcome.failed == [
        {
            "fingerprint": huge.fingerprint,
            "severity": "critical",
            "title": "Huge",
            "error_code": "issue_body_too_large",
            "error": outcome.failed[0]["error"],
            "reason": outcome.failed[0]["reason"],
            "tracker": "local",
            "status": None,
            "fix": outcome.failed[0]["fix"],
        }
    ]
    assert "65536" in str(outcome.failed[0]["reason"])
    assert "max_body_bytes" in str(outcome.failed[0]["fix"])
    assert outcome.summary().endswith("failed 1")
    assert not outcome.succeeded
    assert outcome.as_data()["error_code"] == "issue_body_too_large"
    error = str(outcome.as_data()["error"])
    assert error.startswith("1 finding not filed in the local tracker: the issue body")


def test_outcome_data_has_the_contract_keys(tmp_path: Path) -> None:
    data = run(tmp_path, sample_findings()).as_data()
    assert {"created", "commented", "noop", "skipped", "requests"} <= set(data)
    assert data["backend"] == "local"
    assert data["triage"] == "skip"


def test_findings_are_read_without_the_meta_line(tmp_path: Path) -> None:
    findings = sample_findings()
    path = write_findings(tmp_path / "run", findings)
    assert load_findings(path) == sorted(
        findings, key=lambda f: ["critical", "high", "medium", "low"].index(f.severity)
    )
    path.write_text(path.read_text() + '{"title": "no"}\n')
    with pytest.raises(ArtifactError, match="record 6 is not a finding"):
        load_findings(path)


def test_existing_issue_bodies_are_matched_by_sentinel(tmp_path: Path) -> None:
    finding = make_finding()
    LocalTracker(tmp_path).create_issue(
        IssueDraft(
            title="Renamed by a person", body=sentinel_body(finding.fingerprint), labels=("from:test-runner",)
        )
    )
    assert run(tmp_path, [finding]).noop == [1]
