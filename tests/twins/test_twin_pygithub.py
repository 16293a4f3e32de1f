"""The github twin driven by PyGithub, GitHub's official Python client, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import github
import pytest
from github import Auth, Github

from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins

LABEL = "from:test-runner"  # the label the issue reconciler files its issues under
FINGERPRINT = "0123456789abcdef"


def sentinel(fingerprint: str) -> str:
    """The line the issue reconciler ends every issue body with."""
    return f"<!-- orchestrate:fingerprint={fingerprint} -->"


def seed() -> dict[str, Any]:
    issues: list[dict[str, Any]] = [
        {
            "repository": "acme/app",
            "number": number,
            "title": f"Issue {number}",
            "body": f"Details of {number}.\n\n" + sentinel(f"{number:016x}"),
            "state": "closed" if number % 5 == 0 else "open",
            "labels": [{"name": "bug" if number % 2 else "feature"}, {"name": LABEL}],
            "user": {"login": "hubot" if number % 3 == 0 else "octocat"},
        }
        for number in range(1, 13)
    ]
    issues.append(
        {
            "repository": "acme/app",
            "number": 13,
            "title": "The one we look for",
            "body": "A finding.\n\n" + sentinel(FINGERPRINT),
            "labels": [{"name": LABEL}],
        }
    )
    issues.append(
        {
            "repository": "other/repo",
            "number": 1,
            "title": "Same fingerprint, other repository",
            "body": sentinel(FINGERPRINT),
            "labels": [{"name": LABEL}],
        }
    )
    return {
        "repositories": [
            {
                "id": 7,
                "name": "app",
                "full_name": "acme/app",
                "owner": {"login": "acme", "type": "Organization"},
            }
        ],
        "labels": [
            {"repository": "acme/app", "name": name, "color": "ededed"} for name in ("bug", "feature", LABEL)
        ],
        "issues": issues,
    }


@pytest.fixture(scope="module")
def twins() -> Iterator[RunningTwins]:
    with serve_twins(["github"], seed=1) as running:
        yield running


@pytest.fixture
def gh(twins: RunningTwins) -> Iterator[Github]:
    with TwinAdmin(twins.endpoints["github"].origin) as admin:
        admin.reset(seed(), seed=1)
    client = Github(
        base_url=twins["github"],
        auth=Auth.Token("ghp_twin_valid"),
        per_page=5,
        retry=None,
        seconds_between_requests=None,  # PyGithub paces requests to spare github.com; a twin needs none
        seconds_between_writes=None,
    )
    yield client
    client.close()


def test_get_user_and_get_repo(gh: Github) -> None:
    me = gh.get_user()
    assert me.login == "octocat"
    assert gh.get_user("hubot").name == "Hubot"
    repo = gh.get_repo("acme/app")
    assert repo.full_name == "acme/app"
    assert repo.owner.login == "acme"
    assert repo.id == 7
    with pytest.raises(github.UnknownObjectException):
        gh.get_repo("acme/nothing")


def test_create_issue_carries_url_html_url_number_and_user(gh: Github, twins: RunningTwins) -> None:
    repo = gh.get_repo("acme/app")
    issue = repo.create_issue(title="Crash on save", body="Steps...", labels=["bug"])
    assert issue.number == 14
    assert issue.user.login == "octocat"
    assert issue.url == f"{twins['github']}/repos/acme/app/issues/14"
    assert issue.html_url.endswith("/acme/app/issues/14")
    assert [label.name for label in issue.labels] == ["bug"]
    assert issue.state == "open"
    assert issue.closed_at is None
    again = repo.get_issue(14)
    assert again.title == "Crash on save"
    assert again.body == "Steps..."
    assert again.repository.full_name == "acme/app"


def test_get_issues_filters_and_pages(gh: Github) -> None:
    repo = gh.get_repo("acme/app")
    open_issues = repo.get_issues(state="open")
    numbers = [issue.number for issue in open_issues]  # 11 open issues, in pages of 5
    assert numbers == [13, 12, 11, 9, 8, 7, 6, 4, 3, 2, 1]
    assert open_issues.totalCount == 11
    bugs = [issue.number for issue in repo.get_issues(state="all", labels=[repo.get_label("bug")])]
    assert bugs == [11, 9, 7, 5, 3, 1]
    by_hubot = [issue.number for issue in repo.get_issues(state="all", creator="hubot", direction="asc")]
    assert by_hubot == [3, 6, 9, 12]
    closed = [issue.number for issue in repo.get_issues(state="closed")]
    assert closed == [10, 5]
    second_page = repo.get_issues(state="all").get_page(1)
    assert [issue.number for issue in second_page] == [8, 7, 6, 5, 4]


def test_comments_create_and_list(gh: Github) -> None:
    issue = gh.get_repo("acme/app").get_issue(2)
    first = issue.create_comment("First!")
    issue.create_comment("Second")
    assert first.user.login == "octocat"
    assert first.body == "First!"
    assert first.html_url.endswith(f"/acme/app/issues/2#issuecomment-{first.id}")
    assert [comment.body for comment in issue.get_comments()] == ["First!", "Second"]
    assert gh.get_repo("acme/app").get_issue(2).comments == 2


def test_closing_an_issue_sets_closed_at(gh: Github) -> None:
    issue = gh.get_repo("acme/app").get_issue(1)
    assert issue.closed_at is None
    issue.edit(state="closed")
    assert issue.state == "closed"
    assert issue.closed_at is not None
    assert issue.state_reason == "completed"
    fetched = gh.get_repo("acme/app").get_issue(1)
    assert fetched.closed_at == issue.closed_at
    issue.edit(state="open")
    assert issue.closed_at is None


def test_get_labels(gh: Github) -> None:
    labels = gh.get_repo("acme/app").get_labels()
    assert [label.name for label in labels] == ["bug", "feature", LABEL]
    assert labels.totalCount == 3


def test_search_issues_finds_the_fingerprint_the_reconciler_looks_for(gh: Github) -> None:
    query = f'repo:acme/app is:issue is:open label:"{LABEL}" "{sentinel(FINGERPRINT)}" in:body'
    found = gh.search_issues(query)
    assert found.totalCount == 1
    (issue,) = list(found)
    assert issue.number == 13
    assert issue.title == "The one we look for"
    assert issue.html_url.endswith("/acme/app/issues/13")
    assert issue.user.login == "octocat"
    # The issue found is the real one: following its url reaches it.
    issue.create_comment("Seen again")
    assert gh.get_repo("acme/app").get_issue(13).comments == 1


def test_search_issues_pages_sorts_and_qualifies(gh: Github) -> None:
    everything = gh.search_issues("repo:acme/app", sort="created", order="asc")
    assert everything.totalCount == 13
    assert len(list(everything)) == 13
    assert [issue.number for issue in gh.search_issues("", repo="acme/app", author="hubot")] == [12, 9, 6, 3]
    closed = gh.search_issues("repo:acme/app is:closed label:bug")
    assert [issue.number for issue in closed] == [5]
    no_bugs = gh.search_issues("repo:acme/app -label:bug -label:feature")
    assert [issue.number for issue in no_bugs] == [13]
    assert gh.search_issues(f'"{sentinel(FINGERPRINT)}"').totalCount == 2
    assert gh.search_issues("repo:acme/app is:pr").totalCount == 0
    with pytest.raises(github.GithubException) as caught:
        gh.search_issues("repo:acme/app created:>2024-01-01").totalCount  # noqa: B018 - the request
    assert caught.value.status == 422
    assert "created:" in str(caught.value.data)


def test_a_bad_token_is_an_exception_pygithub_knows(twins: RunningTwins) -> None:
    client = Github(base_url=twins["github"], auth=Auth.Token("ghp_wrong"), retry=None)
    with pytest.raises(github.BadCredentialsException):
        client.get_user().login  # noqa: B018 - the request
    client.close()
