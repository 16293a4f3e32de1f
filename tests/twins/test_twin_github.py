"""The github twin used the way a REST client uses GitHub: token auth, filters, Link pagination."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins

REPO = "/repos/acme/app"


@pytest.fixture(scope="module")
def twins() -> Iterator[RunningTwins]:
    with serve_twins(["github"], seed=1) as running:
        yield running


def seed_issues(count: int) -> list[dict[str, Any]]:
    issues = []
    for number in range(1, count + 1):
        labels = [{"name": "bug"}] if number % 2 else [{"name": "feature"}]
        if number % 5 == 0:
            labels.append({"name": "ui"})
        issues.append(
            {
                "repository": "acme/app",
                "number": number,
                "title": f"Issue {number}",
                "state": "closed" if number % 7 == 0 else "open",
                "labels": labels,
            }
        )
    issues.append({"repository": "other/repo", "number": 1, "title": "Elsewhere"})
    return issues


@pytest.fixture
def client(twins: RunningTwins) -> Iterator[httpx.Client]:
    with TwinAdmin(twins.endpoints["github"].origin) as admin:
        admin.reset({"issues": seed_issues(65)}, seed=1)
    headers = {"Authorization": "token ghp_twin_valid", "Accept": "application/vnd.github+json"}
    with httpx.Client(base_url=twins["github"], headers=headers) as http:
        yield http


def all_pages(client: httpx.Client, path: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Follow rel="next" links as GitHub clients do; the items and the number of pages."""
    items: list[dict[str, Any]] = []
    response = client.get(path, params=params)
    pages = 1
    while True:
        response.raise_for_status()
        items.extend(response.json())
        next_link = response.links.get("next")
        if next_link is None:
            return items, pages
        response = client.get(next_link["url"])
        pages += 1


def test_list_follows_link_pagination(client: httpx.Client) -> None:
    first = client.get(f"{REPO}/issues", params={"state": "all", "per_page": 30})
    assert len(first.json()) == 30
    assert set(first.links) == {"next", "last"}
    assert "page=3" in first.links["last"]["url"]
    issues, pages = all_pages(client, f"{REPO}/issues", {"state": "all", "per_page": 30})
    assert pages == 3
    assert [issue["number"] for issue in issues] == list(range(65, 0, -1))
    last = client.get(first.links["last"]["url"])
    assert set(last.links) == {"prev", "first"}


def test_default_list_is_open_issues_newest_first(client: httpx.Client) -> None:
    issues, _ = all_pages(client, f"{REPO}/issues", {})
    expected = [n for n in range(65, 0, -1) if n % 7]
    assert [issue["number"] for issue in issues] == expected
    ascending = client.get(f"{REPO}/issues", params={"direction": "asc", "per_page": 3}).json()
    assert [issue["number"] for issue in ascending] == [1, 2, 3]


def test_labels_and_state_filter(client: httpx.Client) -> None:
    closed, _ = all_pages(client, f"{REPO}/issues", {"state": "closed"})
    assert sorted(issue["number"] for issue in closed) == [7, 14, 21, 28, 35, 42, 49, 56, 63]
    both, _ = all_pages(client, f"{REPO}/issues", {"state": "all", "labels": "bug,ui"})
    assert sorted(issue["number"] for issue in both) == [5, 15, 25, 35, 45, 55, 65]
    assert all({"bug", "ui"} <= {label["name"] for label in issue["labels"]} for issue in both)
    other = client.get("/repos/other/repo/issues").json()
    assert [issue["title"] for issue in other] == ["Elsewhere"]


def test_create_get_update_and_close(client: httpx.Client) -> None:
    created = client.post(
        f"{REPO}/issues", json={"title": "Crash on save", "body": "Steps...", "labels": ["bug"]}
    )
    assert created.status_code == 201
    issue = created.json()
    assert issue["number"] == 66
    assert issue["state"] == "open"
    assert issue["labels"] == [{"name": "bug"}]
    assert issue["user"]["login"] == "octocat"
    assert issue["html_url"].endswith("/acme/app/issues/66")
    assert issue["url"].endswith("/repos/acme/app/issues/66")
    assert client.get("/repos/other/repo/issues/2").status_code == 404
    other = client.post("/repos/other/repo/issues", json={"title": "Second elsewhere"})
    assert other.json()["number"] == 2
    fetched = client.get(f"{REPO}/issues/66").json()
    assert fetched["title"] == "Crash on save"
    assert fetched["body"] == "Steps..."
    patched = client.patch(f"{REPO}/issues/66", json={"state": "closed", "labels": [{"name": "wontfix"}]})
    assert patched.status_code == 200
    assert patched.json()["state"] == "closed"
    assert patched.json()["labels"] == [{"name": "wontfix"}]
    assert patched.json()["title"] == "Crash on save"
    closed = [issue["number"] for issue in all_pages(client, f"{REPO}/issues", {"state": "closed"})[0]]
    assert 66 in closed


def test_comments_count_on_the_issue(client: httpx.Client) -> None:
    for text in ("First!", "Second"):
        answer = client.post(f"{REPO}/issues/3/comments", json={"body": text})
        assert answer.status_code == 201
        assert answer.json()["user"]["login"] == "octocat"
    comments = client.get(f"{REPO}/issues/3/comments").json()
    assert [comment["body"] for comment in comments] == ["First!", "Second"]
    assert client.get(f"{REPO}/issues/3").json()["comments"] == 2
    assert client.get(f"{REPO}/issues/4/comments").json() == []
    missing = client.post(f"{REPO}/issues/999/comments", json={"body": "nobody home"})
    assert missing.status_code == 404
    assert missing.json()["message"] == "Not Found"


def test_validation_and_not_found_errors_look_like_githubs(client: httpx.Client) -> None:
    missing_title = client.post(f"{REPO}/issues", json={"body": "no title"})
    assert missing_title.status_code == 422
    error = missing_title.json()
    assert error["message"] == "Validation Failed"
    assert error["errors"][0]["field"] == "title"
    assert error["errors"][0]["code"] == "missing_field"
    bad_state = client.patch(f"{REPO}/issues/1", json={"state": "resolved"})
    assert bad_state.status_code == 422
    assert bad_state.json()["errors"][0]["field"] == "state"
    not_found = client.get(f"{REPO}/issues/4242")
    assert not_found.status_code == 404
    assert not_found.json()["message"] == "Not Found"
    assert client.get(f"{REPO}/issues/abc").status_code == 404  # not an issue number: not covered


def test_the_authenticated_user_is_the_tokens_principal(twins: RunningTwins) -> None:
    url = twins["github"]
    assert (
        httpx.get(f"{url}/user", headers={"Authorization": "Bearer ghp_twin_hubot"}).json()["login"]
        == "hubot"
    )
    created = httpx.post(
        f"{url}{REPO}/issues", json={"title": "by hubot"}, headers={"Authorization": "Bearer ghp_twin_hubot"}
    )
    assert created.json()["user"]["login"] == "hubot"
    anonymous = httpx.get(f"{url}{REPO}/issues")
    assert anonymous.status_code == 401
    assert anonymous.json()["message"] == "Requires authentication"
