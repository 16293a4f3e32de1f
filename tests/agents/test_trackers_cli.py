"""The gh and glab backends against fake executables on PATH, and the safe command runner."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from orchestrator.agents.issue_reconciler import UnsafeCommandError, reconcile
from orchestrator.agents.issue_reconciler.backends import (
    MAX_OUTPUT_BYTES,
    GhCliTracker,
    GlabCliTracker,
    check_arguments,
    run_command,
)
from orchestrator.config import IssuesSection
from orchestrator.trackers import IssueDraft, Tracker, TrackerError, open_tracker
from tests.agents.reconciler_support import (
    FakeCli,
    install_fake_cli,
    make_finding,
    sample_findings,
    sentinel_body,
)

LABEL = "from:test-runner"


def fp(n: int) -> str:
    return f"{n:016x}"


def open_cli(tmp_path: Path, name: str, **section: Any) -> tuple[Tracker, FakeCli]:
    fake = install_fake_cli(tmp_path, name)
    issues = IssuesSection(backend=name, **section)
    tracker = open_tracker(issues, project_root=tmp_path, label=LABEL, env=fake.env(MY_TOKEN="tok-secret-42"))
    return tracker, fake


def seed(fake: FakeCli, count: int) -> None:
    fake.seed(
        [
            {
                "number": n,
                "title": f"[test-runner] Old finding {n}",
                "body": sentinel_body(fp(n)),
                "labels": [LABEL],
                "state": "open",
                "comments": [],
            }
            for n in range(1, count + 1)
        ]
    )


def test_gh_commands_are_exactly_these(tmp_path: Path) -> None:
    tracker, fake = open_cli(tmp_path, "gh", repository="acme/app", token_env="MY_TOKEN")
    body = sentinel_body("abcdefabcdefabcd", "New.")
    number = tracker.create_issue(
        IssueDraft(title="[test-runner] -rf New", body=body, labels=(LABEL, "priority:high"))
    )
    tracker.add_comment(number, "hello\nthere")
    tracker.list_open_issues()
    tracker.list_comments(number)
    calls = fake.calls()
    assert [c["argv"] for c in calls] == [
        [
            "issue",
            "create",
            "--repo=acme/app",
            "--title=[test-runner] -rf New",
            f"--label={LABEL}",
            "--label=priority:high",
            "--body-file=-",
        ],
        ["issue", "comment", "1", "--repo=acme/app", "--body-file=-"],
        [
            "issue",
            "list",
            "--repo=acme/app",
            "--state=open",
            f"--label={LABEL}",
            "--json=number,title,body,state,labels,url,createdAt,updatedAt",
            "--limit=1000",
        ],
        ["issue", "view", "1", "--repo=acme/app", "--json=comments"],
    ]
    assert [c["stdin"] for c in calls[:2]] == [body, "hello\nthere"]  # bodies go through stdin, never argv
    assert all(c["token"] == "tok-secret-42" for c in calls)  # in the child's environment only
    assert all("tok-secret-42" not in " ".join(c["argv"]) for c in calls)


def test_glab_commands_are_exactly_these(tmp_path: Path) -> None:
    tracker, fake = open_cli(
        tmp_path, "glab", repository="group/sub/project", api_url="https://gitlab.example.com/api/v4"
    )
    body = sentinel_body("abcdefabcdefabcd", "New.")
    number = tracker.create_issue(
        IssueDraft(title="[test-runner] New", body=body, labels=(LABEL, "priority:low"))
    )
    tracker.add_comment(number, "hello\nthere")
    tracker.list_open_issues()
    tracker.list_comments(number)
    project = "projects/group%2Fsub%2Fproject"
    assert [c["argv"] for c in fake.calls()] == [
        [
            "api",
            "--hostname=gitlab.example.com",
            "--method=POST",
            f"{project}/issues",
            "--raw-field=title=[test-runner] New",
            f"--raw-field=labels={LABEL},priority:low",
            "--field=description=@-",
        ],
        [
            "api",
            "--hostname=gitlab.example.com",
            "--method=POST",
            f"{project}/issues/1/notes",
            "--field=body=@-",
        ],
        [
            "api",
            "--hostname=gitlab.example.com",
            "--method=GET",
            f"{project}/issues?state=opened&labels=from%3Atest-runner&per_page=100&page=1",
        ],
        [
            "api",
            "--hostname=gitlab.example.com",
            "--method=GET",
            f"{project}/issues/1/notes?sort=asc&per_page=100&page=1",
        ],
    ]
    assert [c["stdin"] for c in fake.calls()[:2]] == [body, "hello\nthere"]
    assert all(c["token"] is None for c in fake.calls())  # no token_env: glab's own login


def test_without_a_repository_the_cli_uses_the_project_directory(tmp_path: Path) -> None:
    gh, gh_fake = open_cli(tmp_path / "a", "gh")
    gh.list_open_issues()
    assert not any(a.startswith("--repo") for a in gh_fake.calls()[0]["argv"])
    glab, glab_fake = open_cli(tmp_path / "b", "glab")
    glab.list_open_issues()
    assert glab_fake.calls()[0]["argv"][2].startswith("projects/:id/issues?")


@pytest.mark.parametrize("name", ["gh", "glab"])
def test_listing_goes_to_the_end(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestrator.agents.issue_reconciler.backends import _gh

    monkeypatch.setattr(_gh, "FIRST_LIMIT", 50)  # so 120 issues need the limit raised once
    tracker, fake = open_cli(tmp_path, name, repository="a/b")
    seed(fake, 120)
    issues = tracker.list_open_issues()
    assert sorted(i.number for i in issues) == list(range(1, 121))
    assert {f for i in issues for f in i.fingerprints} == {fp(n) for n in range(1, 121)}
    assert len(fake.calls()) == 2  # gh: --limit=50 then --limit=200; glab: page 1 (100) then page 2 (20)


@pytest.mark.parametrize("name", ["gh", "glab"])
def test_reconcile_twice_creates_nothing_new(tmp_path: Path, name: str) -> None:
    tracker, fake = open_cli(tmp_path, name, repository="a/b")
    seed(fake, 3)
    findings = [*sample_findings(), make_finding(severity="high", locator="x2", title="Old finding 2!")]
    first = reconcile(findings, tracker, triage="create")
    assert first.created == [4, 5, 6, 7]
    assert first.commented == [2]
    assert first.failed == []
    again = reconcile(findings, tracker, triage="create")
    assert again.created == again.commented == []
    assert sorted(again.noop) == [2, 4, 5, 6, 7]
    assert len(fake.issues()) == 7
    assert fake.issues()[6]["labels"] == [LABEL, "priority:low"]


@pytest.mark.parametrize("name", ["gh", "glab"])
def test_dry_run_prints_the_commands_and_runs_only_the_listing(tmp_path: Path, name: str) -> None:
    tracker, fake = open_cli(tmp_path, name, repository="a/b", token_env="MY_TOKEN")
    outcome = reconcile(sample_findings(), tracker, triage="create", dry_run=True)
    assert len(fake.calls()) == 1  # the listing
    assert fake.issues() == []
    request = outcome.requests[0]
    assert request["argv"][0] == name  # type: ignore[index]
    assert str(request["command"]).startswith(f"{name} ")
    assert str(request["command"]).endswith(" < body")
    assert str(request["stdin"]).rstrip().endswith("-->")
    assert outcome.request_lines()[0] == request["command"]
    assert "tok-secret-42" not in repr(outcome.as_data())


def test_arguments_with_newline_cr_or_nul_are_refused() -> None:
    for bad in ("a\nb", "a\rb", "a\x00b"):
        with pytest.raises(UnsafeCommandError, match="single-line"):
            check_arguments(["issue", bad])
    with pytest.raises(UnsafeCommandError, match="not a string"):
        check_arguments(["issue", 3])  # type: ignore[list-item]


def test_a_title_with_a_newline_never_reaches_the_cli(tmp_path: Path) -> None:
    tracker, fake = open_cli(tmp_path, "gh", repository="a/b")
    with pytest.raises(UnsafeCommandError):
        tracker.create_issue(IssueDraft(title="two\nlines", body="x\n", labels=(LABEL,)))
    assert fake.calls() == []


def test_only_allowlisted_bare_binaries_run(tmp_path: Path) -> None:
    fake = install_fake_cli(tmp_path, "gh")
    for name in ("sh", "/usr/bin/gh", f"{fake.bin_dir}/gh", "../gh"):
        with pytest.raises(UnsafeCommandError, match="not an allowed tracker command"):
            run_command(name, ["--version"], env=fake.env())


def test_a_missing_binary_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}
    with pytest.raises(TrackerError, match="the glab command is not installed or not on PATH"):
        GlabCliTracker.from_config(IssuesSection(backend="glab"), project_root=tmp_path, label=LABEL, env=env)


def test_output_is_capped(tmp_path: Path) -> None:
    fake = install_fake_cli(tmp_path, "gh")
    assert MAX_OUTPUT_BYTES == 4 * 1024 * 1024
    with pytest.raises(TrackerError, match="printed more than 4 MiB; stopped"):
        run_command("gh", ["issue", "list"], env=fake.env(FAKE_TRACKER_MODE="flood"))


def test_a_hung_command_times_out(tmp_path: Path) -> None:
    fake = install_fake_cli(tmp_path, "gh")
    with pytest.raises(TrackerError, match=r"did not finish within 0\.5 s"):
        run_command("gh", ["issue", "list"], env=fake.env(FAKE_TRACKER_MODE="hang"), timeout_s=0.5)


def test_a_failing_command_is_a_tracker_error_without_the_token(tmp_path: Path) -> None:
    tracker, _ = open_cli(tmp_path, "gh", repository="a/b", token_env="MY_TOKEN")
    assert isinstance(tracker, GhCliTracker)
    tracker._env["FAKE_TRACKER_MODE"] = "fail"
    with pytest.raises(TrackerError) as caught:
        tracker.list_open_issues()
    message = str(caught.value)
    assert message.startswith("gh issue list: exited with status 1: HTTP 401: Bad credentials")
    assert "tok-secret-42" not in message
    assert "***" in message
