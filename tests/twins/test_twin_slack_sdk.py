"""The slack twin driven by slack_sdk, Slack's official Python client, over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins


@pytest.fixture(scope="module")
def twins() -> Iterator[RunningTwins]:
    with serve_twins(["slack"], seed=1) as running:
        yield running


@pytest.fixture
def slack(twins: RunningTwins) -> WebClient:
    with TwinAdmin(twins.endpoints["slack"].origin) as admin:
        admin.reset(seed=1)
    # slack_sdk joins method names onto its base URL, so the URL ends with a slash.
    return WebClient(token="xoxb-twin-valid", base_url=f"{twins['slack']}/")


def test_post_then_update_a_message(slack: WebClient) -> None:
    assert slack.auth_test()["user_id"] == "U0TWINBOT"
    posted = slack.chat_postMessage(channel="#general", text="Deploy started")
    updated = slack.chat_update(channel=posted["channel"], ts=posted["ts"], text="Deploy finished")
    assert updated["ok"]
    assert updated["ts"] == posted["ts"]
    assert updated["text"] == "Deploy finished"
    assert updated["message"]["edited"]["user"] == "U0TWINBOT"
    history = slack.conversations_history(channel=posted["channel"])
    assert [m["text"] for m in history["messages"]] == ["Deploy finished"]


def test_update_refuses_what_slack_refuses(slack: WebClient, twins: RunningTwins) -> None:
    posted = slack.chat_postMessage(channel="C01GENERAL", text="mine")
    with pytest.raises(SlackApiError) as missing:
        slack.chat_update(channel="C01GENERAL", ts="1.000001", text="x")
    assert missing.value.response["error"] == "message_not_found"
    with pytest.raises(SlackApiError) as elsewhere:
        slack.chat_update(channel="C02RANDOM", ts=posted["ts"], text="x")
    assert elsewhere.value.response["error"] == "message_not_found"
    alice = WebClient(token="xoxp-twin-alice", base_url=f"{twins['slack']}/")
    with pytest.raises(SlackApiError) as foreign:
        alice.chat_update(channel="C01GENERAL", ts=posted["ts"], text="hijacked")
    assert foreign.value.response["error"] == "cant_update_message"


def test_reactions_add(slack: WebClient, twins: RunningTwins) -> None:
    posted = slack.chat_postMessage(channel="#general", text="Ship it?")
    assert slack.reactions_add(channel=posted["channel"], timestamp=posted["ts"], name="thumbsup")["ok"]
    alice = WebClient(token="xoxp-twin-alice", base_url=f"{twins['slack']}/")
    alice.reactions_add(channel=posted["channel"], timestamp=posted["ts"], name=":thumbsup:")
    alice.reactions_add(channel=posted["channel"], timestamp=posted["ts"], name="rocket")
    with pytest.raises(SlackApiError) as twice:
        slack.reactions_add(channel=posted["channel"], timestamp=posted["ts"], name="thumbsup")
    assert twice.value.response["error"] == "already_reacted"
    with pytest.raises(SlackApiError) as nowhere:
        slack.reactions_add(channel=posted["channel"], timestamp="9.000009", name="eyes")
    assert nowhere.value.response["error"] == "message_not_found"
    (message,) = slack.conversations_history(channel=posted["channel"])["messages"]
    assert message["reactions"] == [
        {"name": "thumbsup", "users": ["U0TWINBOT", "U01ALICE"], "count": 2},
        {"name": "rocket", "users": ["U01ALICE"], "count": 1},
    ]


def test_lists_and_users(slack: WebClient) -> None:
    names = [channel["name"] for channel in slack.conversations_list()["channels"]]
    assert names == ["general", "random", "old-news"]
    assert slack.users_info(user="U01ALICE")["user"]["name"] == "alice"
    with pytest.raises(SlackApiError) as archived:
        slack.chat_postMessage(channel="#old-news", text="hello?")
    assert archived.value.response["error"] == "is_archived"
