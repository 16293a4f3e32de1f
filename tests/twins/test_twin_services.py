"""The slack, jira and okta twins used the way their clients use them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins


@pytest.fixture(scope="module")
def running() -> Iterator[RunningTwins]:
    with serve_twins(["slack", "jira", "okta"], seed=1) as twins:
        yield twins


@pytest.fixture
def twins(running: RunningTwins) -> RunningTwins:
    for name in running:
        with TwinAdmin(running.endpoints[name].origin) as admin:
            admin.reset(seed=1)
    return running


# ---------------------------------------------------------------------------------------------- slack


@pytest.fixture
def slack(twins: RunningTwins) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=twins["slack"], headers={"Authorization": "Bearer xoxb-twin-valid"}) as client:
        yield client


def test_slack_posts_and_reads_channel_history(slack: httpx.Client) -> None:
    for text in ("deploy started", "deploy finished", "all good"):
        answer = slack.post("/chat.postMessage", json={"channel": "C01GENERAL", "text": text})
        assert answer.status_code == 200
        assert answer.json()["ok"] is True
        assert answer.json()["message"]["user"] == "U0TWINBOT"
    by_name = slack.post("/chat.postMessage", data={"channel": "#random", "text": "form-encoded"}).json()
    assert by_name["ok"] is True
    assert by_name["channel"] == "C02RANDOM"
    first = slack.get("/conversations.history", params={"channel": "C01GENERAL", "limit": 2}).json()
    assert [m["text"] for m in first["messages"]] == ["all good", "deploy finished"]
    assert first["has_more"] is True
    cursor = first["response_metadata"]["next_cursor"]
    rest = slack.post(
        "/conversations.history", json={"channel": "C01GENERAL", "limit": 2, "cursor": cursor}
    ).json()
    assert [m["text"] for m in rest["messages"]] == ["deploy started"]
    assert rest["has_more"] is False
    assert rest["response_metadata"]["next_cursor"] == ""


def test_slack_failures_are_ok_false(slack: httpx.Client, twins: RunningTwins) -> None:
    assert slack.post("/chat.postMessage", json={"channel": "C404", "text": "x"}).json() == {
        "ok": False,
        "error": "channel_not_found",
    }
    assert slack.post("/chat.postMessage", json={"channel": "C01GENERAL"}).json()["error"] == "no_text"
    assert (
        slack.post("/chat.postMessage", json={"channel": "old-news", "text": "x"}).json()["error"]
        == "is_archived"
    )
    unauthenticated = httpx.post(
        f"{twins['slack']}/chat.postMessage", json={"channel": "C01GENERAL", "text": "x"}
    )
    assert unauthenticated.status_code == 200
    assert unauthenticated.json() == {
        "ok": False,
        "error": "not_authed",
    }
    expired = httpx.post(
        f"{twins['slack']}/auth.test", headers={"Authorization": "Bearer xoxb-twin-expired"}
    ).json()
    assert expired == {"ok": False, "error": "token_expired"}


def test_slack_users_and_auth_test(slack: httpx.Client) -> None:
    members = slack.get("/users.list").json()["members"]
    assert {m["name"] for m in members} == {"twin-bot", "alice"}
    assert (
        slack.get("/users.info", params={"user": "U01ALICE"}).json()["user"]["real_name"] == "Alice Example"
    )
    assert slack.get("/users.info", params={"user": "U404"}).json()["error"] == "user_not_found"
    identity = slack.post("/auth.test").json()
    assert identity["ok"] is True
    assert identity["user_id"] == "U0TWINBOT"
    assert identity["user"] == "twin-bot"


# ----------------------------------------------------------------------------------------------- jira


@pytest.fixture
def jira(twins: RunningTwins) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=twins["jira"], headers={"Authorization": "Bearer jira-twin-valid"}) as client:
        yield client


def test_jira_creates_finds_and_transitions_an_issue(jira: httpx.Client) -> None:
    assert [p["key"] for p in jira.get("/project").json()] == ["TWIN"]
    created = jira.post(
        "/issue",
        json={
            "fields": {
                "project": {"key": "TWIN"},
                "summary": "Login fails",
                "issuetype": {"name": "Bug"},
                "labels": ["auth"],
            }
        },
    )
    assert created.status_code == 201
    key = created.json()["key"]
    assert key == "TWIN-2"
    issue = jira.get(f"/issue/{key}").json()
    assert issue["fields"]["summary"] == "Login fails"
    assert issue["fields"]["status"]["name"] == "To Do"
    assert issue["fields"]["reporter"]["name"] == "admin"
    transitions = jira.get(f"/issue/{key}/transitions").json()["transitions"]
    assert {t["name"] for t in transitions} == {"In Progress", "Done"}
    assert jira.post(f"/issue/{key}/transitions", json={"transition": {"id": "21"}}).status_code == 204
    assert jira.get(f"/issue/{key}").json()["fields"]["status"]["name"] == "In Progress"
    invalid = jira.post(f"/issue/{key}/transitions", json={"transition": {"id": "21"}})
    assert invalid.status_code == 400
    assert "not valid" in invalid.json()["errorMessages"][0]
    found = jira.get("/search", params={"jql": 'project = TWIN AND status = "In Progress"'}).json()
    assert found["total"] == 1
    assert found["issues"][0]["key"] == key
    todo = jira.post(
        "/search", json={"jql": "project = TWIN AND status != 'In Progress' ORDER BY key DESC"}
    ).json()
    assert [i["key"] for i in todo["issues"]] == ["TWIN-1"]
    text = jira.get("/search", params={"jql": "text ~ login AND labels in (auth, ci)"}).json()
    assert [i["key"] for i in text["issues"]] == [key]


def test_jira_errors(jira: httpx.Client, twins: RunningTwins) -> None:
    assert jira.get("/issue/TWIN-99").status_code == 404
    no_summary = jira.post("/issue", json={"fields": {"project": {"key": "TWIN"}}})
    assert no_summary.status_code == 400
    assert "summary" in no_summary.json()["errors"]
    bad_jql = jira.get("/search", params={"jql": "project = TWIN OR status = Done"})
    assert bad_jql.status_code == 400
    assert "OR is not supported" in bad_jql.json()["errorMessages"][0]
    assert httpx.get(f"{twins['jira']}/project").status_code == 401


# ----------------------------------------------------------------------------------------------- okta


@pytest.fixture
def okta(twins: RunningTwins) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=twins["okta"], headers={"Authorization": "SSWS okta-twin-valid"}) as client:
        yield client


def test_okta_valid_user_signs_in_and_gets_a_session(okta: httpx.Client, twins: RunningTwins) -> None:
    authn = httpx.post(
        f"{twins['okta']}/authn", json={"username": "alice@example.com", "password": "correct-horse-battery"}
    )
    assert authn.status_code == 200
    body = authn.json()
    assert body["status"] == "SUCCESS"
    assert body["_embedded"]["user"]["profile"]["login"] == "alice@example.com"
    session = okta.post("/sessions", json={"sessionToken": body["sessionToken"]})
    assert session.status_code == 200
    session_id = session.json()["id"]
    assert session.json()["login"] == "alice@example.com"
    assert session.json()["status"] == "ACTIVE"
    reused = okta.post("/sessions", json={"sessionToken": body["sessionToken"]})
    assert reused.status_code == 401
    assert reused.json()["errorCode"] == "E0000005"
    assert okta.get(f"/sessions/{session_id}").json()["userId"] == "00utwinalice"
    assert okta.post(f"/sessions/{session_id}/lifecycle/refresh").status_code == 200
    assert okta.delete(f"/sessions/{session_id}").status_code == 204
    gone = okta.get(f"/sessions/{session_id}")
    assert gone.status_code == 404
    assert gone.json()["errorCode"] == "E0000007"


def test_okta_expired_and_locked_users(twins: RunningTwins) -> None:
    url = twins["okta"]
    expired = httpx.post(
        f"{url}/authn", json={"username": "bob@example.com", "password": "old-password-1"}
    ).json()
    assert expired["status"] == "PASSWORD_EXPIRED"
    assert expired["stateToken"]
    locked = httpx.post(
        f"{url}/authn", json={"username": "carol@example.com", "password": "locked-password-1"}
    )
    assert locked.status_code == 200
    assert locked.json() == {"status": "LOCKED_OUT"}


def test_okta_locks_a_user_out_after_three_failures(okta: httpx.Client, twins: RunningTwins) -> None:
    url = twins["okta"]
    for _ in range(3):
        failed = httpx.post(f"{url}/authn", json={"username": "alice@example.com", "password": "wrong"})
        assert failed.status_code == 401
        assert failed.json()["errorCode"] == "E0000004"
    right = httpx.post(
        f"{url}/authn", json={"username": "alice@example.com", "password": "correct-horse-battery"}
    )
    assert right.json() == {"status": "LOCKED_OUT"}
    user = okta.get("/users/alice@example.com").json()
    assert user["status"] == "LOCKED_OUT"
    assert "password" not in user
    assert okta.post("/users/00utwinalice/lifecycle/unlock").status_code == 200
    again = httpx.post(
        f"{url}/authn", json={"username": "alice@example.com", "password": "correct-horse-battery"}
    )
    assert again.json()["status"] == "SUCCESS"


def test_okta_management_calls_need_an_api_token(twins: RunningTwins) -> None:
    assert httpx.get(f"{twins['okta']}/users").status_code == 401
    expired = httpx.get(f"{twins['okta']}/users", headers={"Authorization": "SSWS okta-twin-expired"})
    assert expired.status_code == 401
    assert "expired" in expired.json()["errorSummary"]
    unknown = httpx.post(f"{twins['okta']}/authn", json={"username": "nobody@example.com", "password": "x"})
    assert unknown.status_code == 401
    assert unknown.json()["errorSummary"] == "Authentication failed"
