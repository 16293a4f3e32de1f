"""The demo system under test (examples/integration/sut.py) against real okta, slack and jira twins.

Its flows, its assistant's sessions, the trajectory header it forwards, and its known defects as a
scenario run meets them: no retry on a Jira 429, and a blind retry after a timed-out create that
leaves two issues when the slow Jira did apply the first one.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from orchestrator.policy.chaos import ChaosConfig
from orchestrator.twins import RunningTwins, serve_twins
from tests.integration_example import EXAMPLE, SUT_FILE, TRAJECTORY, journal, sut, sut_env
from tests.loopback import serve_app, serve_script

SUPPORT_TEXT = "Checkout page returns 500 for EU customers\nSeen since the 14:00 deploy."
DATA: dict[str, Any] = {
    "slack": {
        "channels": [
            {"id": "C01GENERAL", "name": "general", "is_archived": False},
            {"id": "C04SUPPORT", "name": "support", "is_archived": False},
        ],
        "messages": [
            {"ts": "1700000001.000001", "channel": "C04SUPPORT", "user": "U01ALICE", "text": "An old one"},
            {"ts": "1700000002.000002", "channel": "C04SUPPORT", "user": "U01ALICE", "text": SUPPORT_TEXT},
        ],
    },
    "jira": {"projects": [{"key": "OPS", "name": "Operations", "id": "10100"}], "issues": []},
}


@contextlib.contextmanager
def demo(
    chaos: Mapping[str, Mapping[str, Any]] | None = None, **env: str
) -> Iterator[tuple[RunningTwins, httpx.Client]]:
    """Twins seeded with ``DATA``, ``chaos`` per twin name, the SUT in process, and a client of the SUT."""
    # A generous timeout unless a test is about timeouts: a first request on a busy machine can
    # take longer than the SUT's 1 s default, and that is not what these tests look at.
    env.setdefault("SUT_TWIN_TIMEOUT_S", "5")
    with (
        serve_twins(["okta", "slack", "jira"], seed=11, data=DATA) as twins,
        serve_app(sut.create_app(sut_env(twins, **env))) as origin,
        httpx.Client(base_url=origin, timeout=10) as client,
    ):
        for name, config in (chaos or {}).items():
            twins.runtimes[name].set_chaos(ChaosConfig.model_validate(config))
        yield twins, client


def issues(twins: RunningTwins) -> list[dict[str, Any]]:
    return twins.runtimes["jira"].state.list("issues")


# ------------------------------------------------------------------------------------------- login


@pytest.mark.parametrize(
    ("username", "password", "status", "outcome", "says"),
    [
        (
            "alice@example.com",
            "correct-horse-battery",
            200,
            "SUCCESS",
            "You are signed in as alice@example.com.",
        ),
        ("carol@example.com", "locked-password-1", 403, "LOCKED_OUT", "is locked"),
        ("bob@example.com", "old-password-1", 403, "PASSWORD_EXPIRED", "has expired"),
        ("alice@example.com", "wrong", 401, "AUTHENTICATION_FAILED", "username or password is not right"),
        ("nobody@example.com", "whatever", 401, "AUTHENTICATION_FAILED", "Check both and try again"),
    ],
)
def test_login_answers_each_okta_outcome_in_words(
    username: str, password: str, status: int, outcome: str, says: str
) -> None:
    with demo() as (twins, client):
        answer = client.post("/api/login", json={"username": username, "password": password})
        assert answer.status_code == status
        body = answer.json()
        assert (body["ok"], body["status"]) == (outcome == "SUCCESS", outcome)
        assert says in body["message"]
        if outcome == "SUCCESS":
            assert body["user"] == "alice@example.com"
            assert body["session_token"].startswith("twin-session-token-")
        else:
            assert "signed in" not in body["message"]
            assert "session_token" not in body
        [call] = journal(twins, "okta")
        assert (call["method"], call["path"], call["route"]) == ("POST", "/api/v1/authn", "authn")


def test_failed_passwords_reach_okta_so_its_lockout_applies() -> None:
    with demo() as (twins, client):
        for _ in range(3):
            wrong = client.post("/api/login", json={"username": "alice@example.com", "password": "nope"})
            assert wrong.json()["status"] == "AUTHENTICATION_FAILED"
        right = client.post(
            "/api/login", json={"username": "alice@example.com", "password": "correct-horse-battery"}
        )
        assert (right.status_code, right.json()["status"]) == (403, "LOCKED_OUT")
        alice = twins.runtimes["okta"].state.get("users", "00utwinalice")
        assert alice is not None and alice["status"] == "LOCKED_OUT"


@pytest.mark.parametrize(
    "body", [None, {}, {"username": "alice@example.com"}, {"username": 3, "password": "x"}, [1]]
)
def test_a_malformed_login_is_a_400_that_calls_nobody(body: Any) -> None:
    with demo() as (twins, client):
        answer = client.post("/api/login", content=b"{" if body is None else None, json=body)
        assert answer.status_code == 400
        assert answer.json()["message"].startswith("Bad request: send {")
        assert journal(twins, "okta") == []


# ---------------------------------------------------------------------------------- slack to jira


def test_slack_to_jira_creates_one_issue_and_one_reply() -> None:
    with demo() as (twins, client):
        answer = client.post("/api/slack-to-jira", json={"channel": "#support"})
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["ok"] is True
        assert body["issue_key"] == "OPS-1"
        assert "OPS-1" in body["message"]
        [issue] = issues(twins)
        assert issue["key"] == "OPS-1"
        assert issue["project"] == "OPS"
        assert issue["labels"] == ["from-slack"]
        assert issue["summary"] == "Checkout page returns 500 for EU customers"
        assert SUPPORT_TEXT in issue["description"]
        assert "#support" in issue["description"]
        replies = [m for m in twins.runtimes["slack"].state.list("messages") if m["user"] == "U0TWINBOT"]
        assert [(m["channel"], m["text"], m["thread_ts"]) for m in replies] == [
            ("C04SUPPORT", "Created OPS-1: Checkout page returns 500 for EU customers", "1700000002.000002")
        ]
        creates = [e for e in journal(twins, "jira") if e["route"] == "create_issue"]
        assert [(e["method"], e["path"], e["status"]) for e in creates] == [
            ("POST", "/rest/api/2/issue", 201)
        ]


def test_given_text_skips_slack_history_and_an_unknown_channel_is_a_404() -> None:
    with demo() as (twins, client):
        given = client.post("/api/slack-to-jira", json={"channel": "general", "text": "Rotate the API keys"})
        assert given.status_code == 201
        assert issues(twins)[0]["summary"] == "Rotate the API keys"
        assert [e["route"] for e in journal(twins, "slack")] == ["post_message"]
        missing = client.post("/api/slack-to-jira", json={"channel": "nowhere"})
        assert missing.status_code == 404
        assert missing.json() == {"ok": False, "message": "I could not find the Slack channel #nowhere."}
        assert len(issues(twins)) == 1


def test_the_trajectory_header_reaches_every_twin_journal() -> None:
    with demo() as (twins, client):
        client.post("/api/slack-to-jira", json={"channel": "support"}, headers={TRAJECTORY: "traj-0042"})
        client.post("/api/login", json={"username": "carol@example.com", "password": "x"})
        slack, jira = journal(twins, "slack"), journal(twins, "jira")
        assert [e["route"] for e in slack] == ["conversations_history", "post_message"]
        assert [e["route"] for e in jira] == ["create_issue"]
        assert {e["trajectory_id"] for e in slack + jira} == {"traj-0042"}
        assert [e["trajectory_id"] for e in journal(twins, "okta")] == [None]


# --------------------------------------------------------------------------------------- assistant


def test_the_assistant_keeps_one_session_across_turns() -> None:
    with demo() as (twins, client):

        def say(message: str, session_id: str | None) -> dict[str, Any]:
            sent: dict[str, Any] = {"message": message}
            if session_id is not None:
                sent["session_id"] = session_id
            answer = client.post("/api/assistant/message", json=sent)
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            return body

        first = say("Sign in as alice@example.com with password correct-horse-battery", None)
        session_id = first["session_id"]
        assert len(session_id) == 32 and int(session_id, 16) >= 0
        assert (first["route"], first["answer"]) == ("login", "You are signed in as alice@example.com.")
        assert first["data"]["ok"] is True
        second = say("Please turn the latest message in #support into a Jira ticket", session_id)
        assert (second["session_id"], second["route"]) == (session_id, "slack_to_jira")
        assert second["answer"].startswith("I created OPS-1 from the latest message in #support")
        assert second["data"]["issue_key"] == "OPS-1"
        third = say("What's the status of it?", session_id)
        assert (third["route"], third["answer"]) == (
            "issue_status",
            "OPS-1 (Checkout page returns 500 for EU customers) is To Do.",
        )
        named = say("what's the status of TWIN-9", session_id)
        assert named["answer"] == "I could not find TWIN-9 in Jira."
        again = say("log me in as bob@example.com using password 'old-password-1'.", session_id)
        assert (again["route"], again["data"]["status"]) == ("login", "PASSWORD_EXPIRED")
        other = say("hello there", None)
        assert other["session_id"] != session_id
        assert (other["route"], other["data"]["ok"]) == ("help", False)
        assert "I can sign you in" in other["answer"]

        read = client.get(f"/api/assistant/session/{session_id}").json()
        assert read["session_id"] == session_id
        assert read["last_issue_key"] == "OPS-1"
        assert read["signed_in_user"] == "alice@example.com"
        routes = [turn["route"] for turn in read["turns"]]
        assert routes == ["login", "slack_to_jira", "issue_status", "issue_status", "login"]
        assert read["turns"][0]["message"] == "Sign in as alice@example.com with password [redacted]"
        assert "correct-horse-battery" not in str(read)
        assert "Checkout page returns 500" in str(issues(twins))
        unknown = client.get("/api/assistant/session/0123456789abcdef")
        assert unknown.status_code == 404


def test_a_locked_account_through_the_assistant_is_explained_not_signed_in() -> None:
    with demo() as (_, client):
        body = client.post(
            "/api/assistant/message", json={"message": "sign in as carol@example.com with password 'x y'"}
        ).json()
        assert body["route"] == "login"
        assert body["data"]["status"] == "LOCKED_OUT"
        assert "locked" in body["answer"]
        session = client.get(f"/api/assistant/session/{body['session_id']}").json()
        assert session["signed_in_user"] is None


@pytest.mark.parametrize("session_id", ["", "has space", "x" * 129, 7])
def test_a_bad_session_id_is_a_400(session_id: Any) -> None:
    with demo() as (_, client):
        answer = client.post("/api/assistant/message", json={"message": "hi", "session_id": session_id})
        assert answer.status_code == 400


# ------------------------------------------------------------------------------ failures and defects


def test_a_jira_429_ends_the_flow_with_an_apology_and_no_retry() -> None:
    """Known defect 1: the create is not retried, so nothing is created."""
    chaos = {"routes": {"jira.create_issue": {"error_429": {"probability": 1.0, "retry_after_s": 1}}}}
    with demo({"jira": chaos}) as (twins, client):
        answer = client.post("/api/slack-to-jira", json={"channel": "support"})
        assert answer.status_code == 503
        body = answer.json()
        assert body["ok"] is False
        assert "rate limiting" in body["message"]
        assert "try again later" in body["message"]
        assert issues(twins) == []
        creates = [e for e in journal(twins, "jira") if e["route"] == "create_issue"]
        assert [(e["status"], e["chaos"]["mode"]) for e in creates] == [(429, "error_429")]
        assert [e["route"] for e in journal(twins, "slack")] == ["conversations_history"]


def test_a_jira_outage_is_reported_honestly_and_creates_nothing() -> None:
    with demo({"jira": {"error_503": {"probability": 1.0}}}) as (twins, client):
        answer = client.post("/api/assistant/message", json={"message": "make a jira ticket from #support"})
        body = answer.json()
        assert body["data"]["ok"] is False
        assert body["answer"] == "Sorry, Jira is having problems (HTTP 503); no ticket was created."
        assert issues(twins) == []
        assert [e["status"] for e in journal(twins, "jira")] == [503]


def test_a_slow_jira_create_is_retried_blindly_and_leaves_two_issues() -> None:
    """Known defect 2: the create outlasts the SUT's timeout, lands anyway, and is sent again."""
    latency = {"probability": 1.0, "min_ms": 30_000, "max_ms": 30_000}
    with demo(
        {"jira": {"routes": {"jira.create_issue": {"latency": latency}}}}, SUT_TWIN_TIMEOUT_S="0.3"
    ) as (
        twins,
        client,
    ):
        answer = client.post("/api/slack-to-jira", json={"channel": "support"})
        assert answer.status_code == 504
        body = answer.json()
        assert body["ok"] is False
        assert "did not answer in time" in body["message"]
        assert "cannot tell whether the ticket was created" in body["message"]
        created = issues(twins)
        assert [issue["key"] for issue in created] == ["OPS-1", "OPS-2"]
        assert {issue["summary"] for issue in created} == {"Checkout page returns 500 for EU customers"}
        runtime = twins.runtimes["jira"]
        first = runtime.journal.wait_for(lambda e: e["route"] == "create_issue")
        assert first is not None
        second = runtime.journal.wait_for(lambda e: e["route"] == "create_issue", since=first["seq"])
        assert second is not None
        # Both creates ran (201) but their answers were held past the SUT's patience.
        for entry in (first, second):
            assert (entry["status"], entry["outcome"]) == (201, "client_disconnected")
            assert entry["chaos"]["mode"] == "latency"
        # The reply never went out: the flow ended on the second timeout.
        assert [e["route"] for e in journal(twins, "slack")] == ["conversations_history"]


def test_the_sut_never_hangs_on_a_twin_that_holds_every_request() -> None:
    chaos = {"timeout": {"probability": 1.0, "hold_s": 60}}
    with demo(dict.fromkeys(("okta", "slack", "jira"), chaos), SUT_TWIN_TIMEOUT_S="0.3") as (_, client):
        login = client.post("/api/login", json={"username": "alice@example.com", "password": "x"})
        assert login.status_code == 504
        assert login.json()["message"] == "Sorry, Okta did not answer in time; I could not sign you in."
        ticket = client.post("/api/slack-to-jira", json={"channel": "support"})
        assert ticket.status_code == 504
        assert ticket.json()["message"] == "Sorry, Slack did not answer in time; no ticket was created."
        status = client.post("/api/assistant/message", json={"message": "status of OPS-1?"})
        assert (
            status.json()["answer"]
            == "Sorry, Jira did not answer in time; I cannot tell the status of OPS-1."
        )


def test_an_unreachable_or_unconfigured_service_is_an_honest_error() -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
    port = closed.getsockname()[1]
    try:
        with demo(OKTA_URL=f"http://127.0.0.1:{port}/api/v1", JIRA_URL="") as (_, client):
            login = client.post("/api/login", json={"username": "alice@example.com", "password": "x"})
            assert (login.status_code, login.json()["message"]) == (
                502,
                "Sorry, I could not reach Okta; I could not sign you in.",
            )
            ticket = client.post("/api/slack-to-jira", json={"channel": "support"})
            assert (ticket.status_code, ticket.json()["message"]) == (
                503,
                "Sorry, the Jira connection is not configured; no ticket was created.",
            )
    finally:
        closed.close()


def test_settings_add_the_api_path_to_a_bare_origin_and_refuse_a_bad_timeout() -> None:
    settings = sut.Settings.from_env({"JIRA_URL": "http://jira.test/", "OKTA_URL": "http://okta.test/api/v1"})
    assert settings.jira_url == "http://jira.test/rest/api/2"
    assert settings.okta_url == "http://okta.test/api/v1"
    assert settings.slack_url is None
    assert (settings.jira_project, settings.timeout_s) == ("OPS", 1.0)
    for bad in ("soon", "0", "-1"):
        with pytest.raises(ValueError, match="SUT_TWIN_TIMEOUT_S"):
            sut.Settings.from_env({"SUT_TWIN_TIMEOUT_S": bad})


# -------------------------------------------------------------------------------------- subprocess


@pytest.mark.slow
def test_the_sut_runs_from_its_command_line_and_stops_cleanly() -> None:
    with serve_twins(["okta", "slack", "jira"], seed=3, data=DATA) as twins:
        env = {**os.environ, **sut_env(twins)}
        argv = [sys.executable, str(SUT_FILE), "--port", "0"]
        with (
            serve_script(argv, cwd=EXAMPLE, env=env, banner="Demo SUT on") as origin,
            httpx.Client(base_url=origin, timeout=10) as client,
        ):
            health = client.get("/health")  # waits in the listen backlog until the server accepts
            assert (health.status_code, health.text) == (200, "ok")
            answer = client.post(
                "/api/assistant/message",
                json={"message": "turn the latest message in #support into a Jira ticket"},
                headers={TRAJECTORY: "traj-subprocess"},
            )
            assert answer.json()["data"]["issue_key"] == "OPS-1"
        assert {e["trajectory_id"] for e in journal(twins, "jira")} == {"traj-subprocess"}


@pytest.mark.slow
def test_a_bad_timeout_setting_stops_the_command_with_a_clear_message() -> None:
    done = subprocess.run(
        [sys.executable, str(SUT_FILE), "--port", "0"],
        env={**os.environ, "SUT_TWIN_TIMEOUT_S": "soon"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        == "sut.py: SUT_TWIN_TIMEOUT_S='soon' is not a number of seconds; set it to e.g. 1.0"
    )
    assert done.stdout == ""
