"""The triage policy: severity routing, the decision per finding, and how the batch is handled."""

from __future__ import annotations

from pathlib import Path

import pytest
from rapidfuzz.distance import Levenshtein

from orchestrator.errors import ConfigError
from orchestrator.policy.triage import (
    Decision,
    KnownIssue,
    TriagePolicy,
    decide,
    resolve_triage,
    route,
    strip_prefix,
)
from orchestrator.policyfiles import load_policy_model

POLICY = TriagePolicy()


def levenshtein(a: str, b: str) -> int:
    return int(Levenshtein.distance(a, b))


def issue(number: int, title: str, *fingerprints: str) -> KnownIssue:
    return KnownIssue(number, title, frozenset(fingerprints))


def test_shipped_defaults_are_the_documented_ones() -> None:
    policy = load_policy_model("triage", TriagePolicy, None)
    assert policy == TriagePolicy()
    assert policy.default_triage == "skip"
    assert policy.title_prefix == "[test-runner]"
    assert policy.labels_for("high") == ("from:test-runner", "priority:high")
    assert policy.max_body_bytes == 65536
    assert policy.title_for("Broken button") == "[test-runner] Broken button"


def test_critical_and_high_are_filed_without_asking_medium_and_low_are_batched() -> None:
    assert [route(s, POLICY) for s in ("critical", "high", "medium", "low")] == [
        "auto",
        "auto",
        "batch",
        "batch",
    ]


def test_a_project_can_reroute_severities(tmp_path: Path) -> None:
    policy_dir = tmp_path / ".orchestrator" / "policy"
    policy_dir.mkdir(parents=True)
    (policy_dir / "triage.yaml").write_text("auto_file: [critical]\nbatch: [high, medium, low]\n")
    policy = load_policy_model("triage", TriagePolicy, tmp_path)
    assert route("high", policy) == "batch"
    assert policy.default_triage == "skip"  # untouched fields keep the shipped value


@pytest.mark.parametrize(
    ("document", "words"),
    [
        ("auto_file: [critical, high]\nbatch: [high, medium, low]\n", "both auto_file and batch"),
        ("auto_file: [critical]\nbatch: [medium, low]\n", "high is in neither"),
        ('priority_label: "prio"\n', "must contain {severity}"),
        ("default_triage: maybe\n", "default_triage"),
        ("max_body_bytes: 1000000\n", "max_body_bytes"),
    ],
)
def test_a_bad_project_policy_names_its_file_and_the_fix(tmp_path: Path, document: str, words: str) -> None:
    policy_dir = tmp_path / ".orchestrator" / "policy"
    policy_dir.mkdir(parents=True)
    (policy_dir / "triage.yaml").write_text(document)
    with pytest.raises(ConfigError) as caught:
        load_policy_model("triage", TriagePolicy, tmp_path)
    assert "triage.yaml" in str(caught.value)
    assert words in str(caught.value)


def test_a_fingerprint_already_filed_is_ignored_even_when_a_title_is_closer() -> None:
    issues = [
        issue(7, "[test-runner] Images must have alternate text"),
        issue(9, "Other", "aaaaaaaaaaaaaaaa"),
    ]
    decision = decide(
        "aaaaaaaaaaaaaaaa", "Images must have alternate text", issues, policy=POLICY, distance=levenshtein
    )
    assert decision == Decision("ignore", 9)


def test_the_lowest_issue_holding_the_fingerprint_is_named() -> None:
    issues = [issue(12, "A", "bbbbbbbbbbbbbbbb"), issue(3, "B", "bbbbbbbbbbbbbbbb")]
    assert decide("bbbbbbbbbbbbbbbb", "x", issues, policy=POLICY, distance=levenshtein) == Decision(
        "ignore", 3
    )


def test_a_title_within_two_edits_minus_our_prefix_gets_a_comment() -> None:
    issues = [issue(4, "[test-runner] Images must have alternate text!!")]
    decision = decide(
        "cccccccccccccccc", "Images must have alternate text", issues, policy=POLICY, distance=levenshtein
    )
    assert decision == Decision("comment", 4, 2)


def test_three_edits_is_a_new_issue() -> None:
    issues = [issue(4, "[test-runner] Images must have alternate text!!!")]
    decision = decide(
        "cccccccccccccccc", "Images must have alternate text", issues, policy=POLICY, distance=levenshtein
    )
    assert decision == Decision("create")


def test_the_closest_title_wins_then_the_lowest_number() -> None:
    issues = [
        issue(8, "[test-runner] Buttons must have discernible text."),
        issue(5, "[test-runner] Buttons must have discernible tex"),
        issue(2, "[test-runner] Buttons must have discernible text!"),
    ]
    decision = decide(
        "dddddddddddddddd", "Buttons must have discernible text", issues, policy=POLICY, distance=levenshtein
    )
    assert decision == Decision("comment", 2, 1)


def test_titles_without_our_prefix_are_compared_whole() -> None:
    assert strip_prefix("[test-runner] Crash on save", "[test-runner]") == "Crash on save"
    assert strip_prefix("Crash on save", "[test-runner]") == "Crash on save"
    decision = decide(
        "eeeeeeeeeeeeeeee", "Crash on save", [issue(1, "Crash on save")], policy=POLICY, distance=levenshtein
    )
    assert decision.action == "comment"


def test_the_distance_function_is_an_argument() -> None:
    def never_close(a: str, b: str) -> int:
        return 99

    assert (
        decide("f" * 16, "Same", [issue(1, "Same")], policy=POLICY, distance=never_close).action == "create"
    )


@pytest.mark.parametrize(
    ("requested", "interactive", "mode"),
    [
        ("create", False, "create"),
        ("skip", True, "skip"),
        ("create", True, "create"),
        (None, True, "prompt"),
        ("prompt", True, "prompt"),
        (None, False, "skip"),
        ("prompt", False, "skip"),
    ],
)
def test_how_the_batch_is_handled(requested: str | None, interactive: bool, mode: str) -> None:
    resolution = resolve_triage(requested, interactive=interactive, policy=POLICY)  # type: ignore[arg-type]
    assert resolution.mode == mode
    assert resolution.reason


def test_without_a_terminal_the_policy_default_applies() -> None:
    policy = TriagePolicy(default_triage="create")
    resolution = resolve_triage(None, interactive=False, policy=policy)
    assert resolution.mode == "create"
    assert "default_triage=create" in resolution.reason
