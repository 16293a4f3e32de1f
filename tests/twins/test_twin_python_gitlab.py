"""The gitlab twin driven by python-gitlab, GitLab's Python client, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gitlab
import pytest

from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins


def seed() -> dict[str, Any]:
    issues = [
        {
            "project": "group/project",
            "project_id": 1,
            "iid": iid,
            "title": f"Issue {iid}" if iid != 7 else "Checkout fails on Safari",
            "labels": ["bug", "backend"] if iid % 3 == 0 else ["frontend"],
            "state": "closed" if iid % 4 == 0 else "opened",
            "author": {"username": "reporter" if iid % 2 else "root", "name": "someone"},
        }
        for iid in range(1, 26)
    ]
    issues.append({"project": "other/project", "iid": 1, "title": "Elsewhere"})
    projects = [
        {"id": 1, "name": "project", "path": "project", "path_with_namespace": "group/project"},
        {"id": 2, "name": "project", "path": "project", "path_with_namespace": "other/project"},
    ]
    return {"projects": projects, "issues": issues}


@pytest.fixture(scope="module")
def twins() -> Iterator[RunningTwins]:
    with serve_twins(["gitlab"], seed=1) as running:
        yield running


@pytest.fixture
def gl(twins: RunningTwins) -> Iterator[gitlab.Gitlab]:
    with TwinAdmin(twins.endpoints["gitlab"].origin) as admin:
        admin.reset(seed(), seed=1)
    # python-gitlab takes the host and adds /api/v4 itself.
    with gitlab.Gitlab(
        twins.endpoints["gitlab"].origin, private_token="glpat-twin-valid", per_page=10
    ) as client:
        yield client


def test_projects_get_by_path_and_by_id(gl: gitlab.Gitlab) -> None:
    project = gl.projects.get("group/project")
    assert project.id == 1
    assert project.path_with_namespace == "group/project"
    assert gl.projects.get(1).path_with_namespace == "group/project"
    with pytest.raises(gitlab.GitlabGetError) as caught:
        gl.projects.get("group/nothing")
    assert caught.value.response_code == 404
    gl.auth()
    assert gl.user is not None
    assert gl.user.username == "root"


def test_issues_list_and_filter(gl: gitlab.Gitlab) -> None:
    project = gl.projects.get("group/project")
    everything = project.issues.list(get_all=True)
    assert [issue.iid for issue in everything] == list(range(25, 0, -1))
    assert len(project.issues.list(page=1)) == 10
    opened = project.issues.list(state="opened", get_all=True)
    assert sorted(issue.iid for issue in opened) == [iid for iid in range(1, 26) if iid % 4]
    bugs = project.issues.list(labels=["bug", "backend"], get_all=True)
    assert sorted(issue.iid for issue in bugs) == [3, 6, 9, 12, 15, 18, 21, 24]
    closed_bugs = project.issues.list(labels=["bug"], state="closed", get_all=True)
    assert sorted(issue.iid for issue in closed_bugs) == [12, 24]
    by_root = project.issues.list(author_username="root", state="opened", get_all=True)
    assert sorted(issue.iid for issue in by_root) == [2, 6, 10, 14, 18, 22]
    assert [issue.iid for issue in project.issues.list(search="safari", get_all=True)] == [7]
    lazily = list(project.issues.list(iterator=True))
    assert len(lazily) == 25


def test_create_close_and_reopen(gl: gitlab.Gitlab) -> None:
    project = gl.projects.get("group/project")
    issue = project.issues.create(
        {"title": "Broken deploy", "description": "Friday", "labels": ["ops", "urgent"]}
    )
    assert issue.iid == 26
    assert issue.state == "opened"
    assert issue.labels == ["ops", "urgent"]
    assert issue.author["username"] == "root"
    assert issue.closed_at is None
    issue.state_event = "close"
    issue.save()
    assert issue.state == "closed"
    assert issue.closed_at is not None
    assert issue.attributes["closed_by"]["username"] == "root"
    fetched = project.issues.get(26)
    assert fetched.state == "closed"
    assert fetched.closed_at == issue.closed_at
    fetched.state_event = "reopen"
    fetched.save()
    assert fetched.state == "opened"
    assert fetched.closed_at is None
    other = gl.projects.get("other/project").issues.create({"title": "Second elsewhere"})
    assert other.iid == 2


def test_notes_create_and_list(gl: gitlab.Gitlab) -> None:
    issue = gl.projects.get("group/project").issues.get(5)
    note = issue.notes.create({"body": "Looking into it"})
    assert note.author["username"] == "root"
    issue.notes.create({"body": "Found it"})
    assert [n.body for n in issue.notes.list(get_all=True)] == ["Looking into it", "Found it"]
    assert gl.projects.get(1).issues.get(5).user_notes_count == 2


def test_errors_are_python_gitlab_exceptions(gl: gitlab.Gitlab, twins: RunningTwins) -> None:
    project = gl.projects.get("group/project")
    with pytest.raises(gitlab.GitlabGetError):
        project.issues.get(999)
    issue = project.issues.get(1)
    issue.state_event = "explode"
    with pytest.raises(gitlab.GitlabUpdateError) as caught:
        issue.save()
    assert caught.value.response_code == 400
    assert "state_event" in caught.value.error_message
    with (
        gitlab.Gitlab(twins.endpoints["gitlab"].origin, private_token="nope") as stranger,
        pytest.raises(gitlab.GitlabAuthenticationError),
    ):
        stranger.auth()
