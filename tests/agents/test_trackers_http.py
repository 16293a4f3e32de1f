"""The github and gitlab backends against the shipped twins of their REST APIs, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.agents.issue_reconciler import IssueBodyTooLargeError, reconcile
from orchestrator.agents.issue_reconciler.backends import GitHubTracker, GitLabTracker
from orchestrator.config import IssuesSection
from orchestrator.errors import ConfigError
from orchestrator.trackers import IssueDraft, Tracker, TrackerError, open_tracker
from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins
from tests.agents.reconciler_support import make_finding, sample_findings, sentinel_body

GH_TOKEN = "ghp_twin_valid"
GL_TOKEN = "glpat-twin-valid"
LABEL = "from:test-runner"
SEEDED = 120


def fp(n: int) -> str:
    return f"{n:016x}"


@pytest.fixture(scope="module")
def twins() -> Iterator[RunningTwins]:
    with serve_twins(["github", "gitlab"], seed=3) as running:
        yield running


def github_seed() -> list[dict[str, Any]]:
    """120 open issues of ours (two pages of 100), plus noise the listing must leave out."""
    issues: list[dict[str, Any]] = [
        {
            "repository": "acme/app",
            "number": n,
            "title": f"[test-runner] Old finding {n}",
            "state": "open",
            "body": sentinel_body(fp(n)),
            "labels": [{"name": LABEL}, {"name": "priority:medium"}],
        }
        for n in range(1, SEEDED + 1)
    ]
    issues += [
        {
            "repository": "acme/app",
            "number": 121,
            "title": "Closed one",
            "state": "closed",
            "body": sentinel_body(fp(121)),
            "labels": [{"name": LABEL}],
        },
        {
            "repository": "acme/app",
            "number": 122,
            "title": "Someone else's",
            "state": "open",
            "body": sentinel_body(fp(122)),
            "labels": [{"name": "bug"}],
        },
        {
            "repository": "other/repo",
            "number": 1,
            "title": "Elsewhere",
            "state": "open",
            "body": sentinel_body(fp(123)),
            "labels": [{"name": LABEL}],
        },
    ]
    return issues


def gitlab_seed() -> list[dict[str, Any]]:
    issues: list[dict[str, Any]] = [
        {
            "project": "group/project",
            "iid": n,
            "title": f"[test-runner] Old finding {n}",
            "state": "opened",
            "description": sentinel_body(fp(n)),
            "labels": [LABEL, "priority:medium"],
        }
        for n in range(1, SEEDED + 1)
    ]
    issues += [
        {
            "project": "group/project",
            "iid": 121,
            "title": "Closed",
            "state": "closed",
            "description": sentinel_body(fp(121)),
            "labels": [LABEL],
        },
        {
            "project": "group/project",
            "iid": 122,
            "title": "Not ours",
            "state": "opened",
            "description": sentinel_body(fp(122)),
            "labels": ["bug"],
        },
    ]
    return issues


@pytest.fixture
def github(twins: RunningTwins, tmp_path: Path) -> Iterator[tuple[Tracker, TwinAdmin]]:
    with TwinAdmin(twins.endpoints["github"].origin) as admin:
        admin.reset({"issues": github_seed(), "comments": []}, seed=3)
        section = IssuesSection(backend="github", repository="acme/app", api_url=twins["github"])
        tracker = open_tracker(section, project_root=tmp_path, label=LABEL, env={"GITHUB_TOKEN": GH_TOKEN})
        yield tracker, admin
        tracker.close()


@pytest.fixture
def gitlab(twins: RunningTwins, tmp_path: Path) -> Iterator[tuple[Tracker, TwinAdmin]]:
    with TwinAdmin(twins.endpoints["gitlab"].origin) as admin:
        admin.reset({"issues": gitlab_seed(), "notes": []}, seed=3)
        section = IssuesSection(
            backend="gitlab", repository="group/project", api_url=twins["gitlab"], token_env="MY_GITLAB"
        )
        tracker = open_tracker(section, project_root=tmp_path, label=LABEL, env={"MY_GITLAB": GL_TOKEN})
        yield tracker, admin
        tracker.close()


BACKENDS = ["github", "gitlab"]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> tuple[Tracker, TwinAdmin]:
    value: tuple[Tracker, TwinAdmin] = request.getfixturevalue(request.param)
    return value


def writes(admin: TwinAdmin) -> list[dict[str, Any]]:
    return [e for e in admin.journal()["entries"] if e["method"] != "GET"]


def test_the_listing_follows_pagination_to_the_end(backend: tuple[Tracker, TwinAdmin]) -> None:
    tracker, admin = backend
    issues = tracker.list_open_issues()
    assert sorted(i.number for i in issues) == list(range(1, SEEDED + 1))
    assert {f for i in issues for f in i.fingerprints} == {fp(n) for n in range(1, SEEDED + 1)}
    assert all(LABEL in i.labels and i.state == "open" for i in issues)
    lists = [e for e in admin.journal()["entries"] if e["method"] == "GET"]
    assert len(lists) == 2  # 100 + 20
    assert all(e["status"] == 200 for e in lists)


def test_create_and_comment_reach_the_twin(backend: tuple[Tracker, TwinAdmin]) -> None:
    tracker, admin = backend
    body = sentinel_body("abcdefabcdefabcd", "New.")
    number = tracker.create_issue(
        IssueDraft(title="[test-runner] New", body=body, labels=(LABEL, "priority:high"))
    )
    assert number == 123  # after the highest number the project has ever used
    tracker.add_comment(number, sentinel_body("1234123412341234", "Again."))
    assert tracker.list_comments(number) == [sentinel_body("1234123412341234", "Again.")]
    created = next(i for i in tracker.list_open_issues() if i.number == number)
    assert created.title == "[test-runner] New"
    assert created.body == body
    assert set(created.labels) == {LABEL, "priority:high"}
    assert [e["status"] for e in writes(admin)] == [201, 201]


def test_reconcile_twice_creates_nothing_new(backend: tuple[Tracker, TwinAdmin]) -> None:
    tracker, admin = backend
    on_page_two = make_finding(severity="critical", locator="old")
    findings = [
        *sample_findings(),
        # Filed long ago: its sentinel is in issue 5, which the second page of the listing holds.
        on_page_two.model_copy(update={"fingerprint": fp(5)}),
        # Close to "Old finding 77" but a new fingerprint: a comment on 77.
        make_finding(severity="high", locator="x77", title="Old finding 77!"),
    ]
    first = reconcile(findings, tracker, triage="create")
    assert len(first.created) == 4
    assert first.commented == [77]
    assert first.noop == [5]
    assert first.failed == []
    again = reconcile(findings, tracker, triage="create")
    assert again.created == again.commented == []
    assert sorted(again.noop) == sorted([*first.created, 5, 77])
    assert len(writes(admin)) == 5


def test_dry_run_sends_no_write(backend: tuple[Tracker, TwinAdmin]) -> None:
    tracker, admin = backend
    findings = [*sample_findings(), make_finding(severity="high", locator="x77", title="Old finding 77!")]
    outcome = reconcile(findings, tracker, triage="create", dry_run=True)
    assert writes(admin) == []
    assert [r["action"] for r in outcome.requests] == ["create", "create", "comment", "create", "create"]
    request = outcome.requests[0]
    assert request["method"] == "POST"
    assert str(request["url"]).startswith("http://127.0.0.1:")
    payload = request["json"]
    assert isinstance(payload, dict)
    if tracker.name == "github":
        assert str(request["url"]).endswith("/repos/acme/app/issues")
        assert payload["labels"] == [LABEL, "priority:critical"]
        assert str(payload["body"]).rstrip().endswith("-->")
    else:
        assert str(request["url"]).endswith("/projects/group%2Fproject/issues")
        assert payload["labels"] == f"{LABEL},priority:critical"
        assert str(payload["description"]).rstrip().endswith("-->")
    line = outcome.request_lines()[0]
    assert line.startswith(f"POST {request['url']} title='[test-runner] Buttons must have discernible text'")
    assert "labels=from:test-runner,priority:critical" in line
    text = repr(outcome.as_data()) + "\n".join(outcome.request_lines())
    assert GH_TOKEN not in text
    assert GL_TOKEN not in text
    assert "Authorization" not in text
    assert "PRIVATE-TOKEN" not in text


def test_oversized_bodies_are_refused_before_sending(backend: tuple[Tracker, TwinAdmin]) -> None:
    tracker, admin = backend
    with pytest.raises(IssueBodyTooLargeError):
        tracker.create_issue(IssueDraft(title="t", body="a" * 70_000, labels=(LABEL,)))
    with pytest.raises(IssueBodyTooLargeError):
        tracker.add_comment(1, "a" * 70_000)
    assert writes(admin) == []


def test_a_bad_token_is_a_tracker_error_without_the_token(twins: RunningTwins, tmp_path: Path) -> None:
    bad = "ghp_not_a_real_token_123"
    section = IssuesSection(backend="github", repository="acme/app", api_url=twins["github"])
    tracker = open_tracker(section, project_root=tmp_path, label=LABEL, env={"GITHUB_TOKEN": bad})
    with pytest.raises(TrackerError) as caught:
        tracker.list_open_issues()
    assert "401" in str(caught.value)
    assert "$GITHUB_TOKEN" in str(caught.value)
    assert bad not in str(caught.value)
    assert bad not in repr(tracker)
    tracker.close()


@pytest.mark.parametrize(
    ("backend_name", "variable"), [("github", "GITHUB_TOKEN"), ("gitlab", "GITLAB_TOKEN")]
)
def test_a_missing_token_names_the_variable(tmp_path: Path, backend_name: str, variable: str) -> None:
    section = IssuesSection(backend=backend_name, repository="a/b")
    with pytest.raises(ConfigError) as caught:
        open_tracker(section, project_root=tmp_path, label=LABEL, env={})
    assert caught.value.field == "issues.token_env"
    assert variable in str(caught.value)


def test_a_missing_or_malformed_repository_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"issues\.repository"):
        GitHubTracker.from_config(
            IssuesSection(backend="github"), project_root=tmp_path, label=LABEL, env={"GITHUB_TOKEN": "t"}
        )
    with pytest.raises(ConfigError, match="owner/name"):
        GitHubTracker.from_config(
            IssuesSection(backend="github", repository="just-a-name"),
            project_root=tmp_path,
            label=LABEL,
            env={"GITHUB_TOKEN": "t"},
        )


def test_an_unreachable_api_is_a_tracker_error(tmp_path: Path) -> None:
    section = IssuesSection(
        backend="gitlab", repository="g/p", api_url="http://127.0.0.1:9/api/v4", retry_budget_s=0
    )
    tracker = GitLabTracker.from_config(
        section, project_root=tmp_path, label=LABEL, env={"GITLAB_TOKEN": "secret-x"}
    )
    with pytest.raises(TrackerError, match="gitlab: GET /api/v4/projects/g%2Fp/issues failed") as caught:
        tracker.list_open_issues()
    assert "secret-x" not in str(caught.value)


def test_requests_never_leave_the_api_origin(tmp_path: Path) -> None:
    section = IssuesSection(backend="github", repository="a/b", api_url="https://ghe.example.com/api/v3")
    tracker = GitHubTracker.from_config(
        section, project_root=tmp_path, label=LABEL, env={"GITHUB_TOKEN": "t"}
    )
    with pytest.raises(TrackerError, match=r"outside https://ghe\.example\.com"):
        tracker._http.request("GET", "https://evil.example.net/repos/a/b/issues")
