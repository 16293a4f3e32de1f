"""The gitlab twin used the way python-gitlab-style clients use GitLab: PRIVATE-TOKEN, X-Next-Page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins

PROJECT = "/projects/group%2Fproject"


@pytest.fixture(scope="module")
def twins() -> Iterator[RunningTwins]:
    with serve_twins(["gitlab"], seed=1) as running:
        yield running


@pytest.fixture
def client(twins: RunningTwins) -> Iterator[httpx.Client]:
    issues = [
        {
            "project": "group/project",
            "iid": iid,
            "title": f"Issue {iid}",
            "labels": ["bug", "backend"] if iid % 3 == 0 else ["frontend"],
            "state": "closed" if iid % 4 == 0 else "opened",
        }
        for iid in range(1, 46)
    ]
    issues.append({"project": "42", "iid": 1, "title": "Numeric project"})
    with TwinAdmin(twins.endpoints["gitlab"].origin) as admin:
        admin.reset({"issues": issues}, seed=1)
    with httpx.Client(base_url=twins["gitlab"], headers={"PRIVATE-TOKEN": "glpat-twin-valid"}) as http:
        yield http


def pages(client: httpx.Client, path: str, params: dict[str, Any]) -> list[list[dict[str, Any]]]:
    """Walk X-Next-Page until it is empty, as GitLab clients do."""
    found = []
    page = "1"
    while page:
        response = client.get(path, params={**params, "page": page})
        response.raise_for_status()
        found.append(response.json())
        page = response.headers["x-next-page"]
    return found


def test_pagination_headers_walk_every_page(client: httpx.Client) -> None:
    first = client.get(f"{PROJECT}/issues", params={"per_page": 20})
    assert first.headers["x-total"] == "45"
    assert first.headers["x-total-pages"] == "3"
    assert first.headers["x-per-page"] == "20"
    assert first.headers["x-page"] == "1"
    assert first.headers["x-next-page"] == "2"
    assert first.headers["x-prev-page"] == ""
    assert "next" in first.links
    walked = pages(client, f"{PROJECT}/issues", {"per_page": 20})
    assert [len(page) for page in walked] == [20, 20, 5]
    assert [issue["iid"] for page in walked for issue in page] == list(range(45, 0, -1))


def test_default_page_size_and_limit(client: httpx.Client) -> None:
    assert len(client.get(f"{PROJECT}/issues").json()) == 20
    assert client.get(f"{PROJECT}/issues", params={"per_page": 500}).headers["x-per-page"] == "100"


def test_state_and_label_filters(client: httpx.Client) -> None:
    closed = [i["iid"] for page in pages(client, f"{PROJECT}/issues", {"state": "closed"}) for i in page]
    assert sorted(closed) == list(range(4, 46, 4))
    labelled = [i for page in pages(client, f"{PROJECT}/issues", {"labels": "bug,backend"}) for i in page]
    assert sorted(i["iid"] for i in labelled) == list(range(3, 46, 3))
    both = client.get(
        f"{PROJECT}/issues", params={"labels": "bug", "state": "opened", "per_page": 100}
    ).json()
    assert all(i["state"] == "opened" and "bug" in i["labels"] for i in both)
    assert both
    numeric = client.get("/projects/42/issues").json()
    assert [i["title"] for i in numeric] == ["Numeric project"]


def test_create_update_close_and_notes(client: httpx.Client) -> None:
    created = client.post(f"{PROJECT}/issues", json={"title": "Broken deploy", "labels": "ops,urgent"})
    assert created.status_code == 201
    issue = created.json()
    assert issue["iid"] == 46
    assert issue["state"] == "opened"
    assert issue["labels"] == ["ops", "urgent"]
    assert issue["author"]["username"] == "root"
    iid = issue["iid"]
    renamed = client.put(f"{PROJECT}/issues/{iid}", json={"title": "Broken deploy on Friday"})
    assert renamed.json()["title"] == "Broken deploy on Friday"
    assert renamed.json()["state"] == "opened"
    closed = client.put(f"{PROJECT}/issues/{iid}", json={"state_event": "close"})
    assert closed.json()["state"] == "closed"
    reopened = client.put(f"{PROJECT}/issues/{iid}", json={"state_event": "reopen"})
    assert reopened.json()["state"] == "opened"
    bad = client.put(f"{PROJECT}/issues/{iid}", json={"state_event": "explode"})
    assert bad.status_code == 400
    assert "state_event" in bad.json()["error"]
    note = client.post(f"{PROJECT}/issues/{iid}/notes", json={"body": "Looking into it"})
    assert note.status_code == 201
    assert note.json()["author"]["username"] == "root"
    notes = client.get(f"{PROJECT}/issues/{iid}/notes").json()
    assert [n["body"] for n in notes] == ["Looking into it"]
    assert client.get(f"{PROJECT}/issues/{iid}").json()["user_notes_count"] == 1


def test_errors_look_like_gitlabs(client: httpx.Client) -> None:
    missing = client.post(f"{PROJECT}/issues", json={"description": "no title"})
    assert missing.status_code == 400
    assert missing.json() == {"error": "title is required"}
    assert client.get(f"{PROJECT}/issues/999").json() == {"message": "404 Not found"}
    assert client.get(f"{PROJECT}/issues/999/notes").status_code == 404
    base = str(client.base_url).rstrip("/")
    unauthorized = httpx.get(f"{base}{PROJECT}/issues", headers={"PRIVATE-TOKEN": "nope"})
    assert unauthorized.status_code == 401
    assert unauthorized.json() == {"message": "401 Unauthorized"}
