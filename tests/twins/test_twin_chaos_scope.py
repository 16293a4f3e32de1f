"""Where chaos applies: one profile for several twins (overrides keyed twin.route), and stale
reads on every route a twin marks read-only, whatever its HTTP method."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from orchestrator.errors import ConfigError
from orchestrator.twins import load_twin_definition
from tests.twins.helpers import ServeFn, write_twin

PROFILE = """
profiles:
  flaky-writes:
    routes:
      github.create_issue: {error_500: {probability: 1}}
      openai.chat_completions: {error_429: {probability: 1, retry_after_s: 2}}
"""


def test_one_profile_serves_github_next_to_openai(serve: ServeFn, tmp_path: Path) -> None:
    policy = tmp_path / ".orchestrator" / "policy"
    policy.mkdir(parents=True)
    (policy / "chaos-profiles.yaml").write_text(PROFILE, encoding="utf-8")
    twins = serve(["github", "openai"], project_root=tmp_path, chaos_profile="flaky-writes", seed=3)
    github = {"Authorization": "Bearer ghp_twin_valid"}
    issues = f"{twins['github']}/repos/octo-org/hello-world/issues"
    assert httpx.post(issues, json={"title": "x"}, headers=github).status_code == 500
    assert httpx.get(issues, headers=github).status_code == 200
    openai = {"Authorization": "Bearer sk-twin-valid"}
    chat = httpx.post(
        f"{twins['openai']}/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        headers=openai,
    )
    assert chat.status_code == 429
    assert chat.headers["retry-after"] == "2"
    assert httpx.get(f"{twins['openai']}/models", headers=openai).status_code == 200


def test_a_profile_key_naming_a_route_the_twin_lacks_is_refused(serve: ServeFn, tmp_path: Path) -> None:
    policy = tmp_path / ".orchestrator" / "policy"
    policy.mkdir(parents=True)
    (policy / "chaos-profiles.yaml").write_text(
        "profiles:\n  typo:\n    routes:\n      github.create_isue: {error_500: {probability: 1}}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        serve(["github"], project_root=tmp_path, chaos_profile="typo")
    assert caught.value.field == "profiles.typo.routes.github.create_isue"
    assert "github.create_issue" in caught.value.problem


def test_stale_data_reaches_reads_that_are_posts(serve: ServeFn) -> None:
    twins = serve(["slack"], seed=1)
    api = twins["slack"]
    auth = {"Authorization": "Bearer xoxb-twin-valid"}
    posted = httpx.post(f"{api}/chat.postMessage", json={"channel": "general", "text": "fresh"}, headers=auth)
    assert posted.json()["ok"]
    chaos = httpx.put(
        f"{twins.admin_url('slack')}/chaos",
        json={"config": {"stale_data": {"probability": 1, "age_s": 3600}}},
    )
    assert chaos.status_code == 200
    history = httpx.post(f"{api}/conversations.history", json={"channel": "C01GENERAL"}, headers=auth)
    assert history.json()["ok"]
    assert history.json()["messages"] == []  # read from the state as it was before the post
    again = httpx.post(f"{api}/chat.postMessage", json={"channel": "general", "text": "more"}, headers=auth)
    assert again.json()["ok"]  # a write still works on the live state
    entries = httpx.get(f"{twins.admin_url('slack')}/journal").json()["entries"]
    by_route = {entry["route"]: entry for entry in entries}
    assert "snapshot_age_s" in by_route["conversations_history"]["chaos"]
    assert by_route["post_message"]["chaos"]["applied"] is False
    info = httpx.get(f"{twins.admin_url('slack')}/").json()
    read_only = {route["id"]: route["read_only"] for route in info["routes"]}
    assert read_only["conversations_history"] is True
    assert read_only["post_message"] is False


def test_a_declarative_write_cannot_be_marked_read_only(tmp_path: Path) -> None:
    folder = write_twin(
        tmp_path / "billing",
        routes="""
        routes:
          - {id: create_invoice, method: POST, path: /invoices, action: create, entity: invoices,
             read_only: true}
          - {id: search, method: POST, path: /invoices/search, action: list, entity: invoices}
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_twin_definition(folder)
    assert caught.value.field == "routes[0]"
    assert "cannot be read_only" in caught.value.problem
    good = write_twin(
        tmp_path / "good",
        routes="""
        routes:
          - {id: search, method: POST, path: /invoices/search, action: list, entity: invoices}
          - {id: make, method: POST, path: /invoices, action: create, entity: invoices}
        """,
    )
    routes = {route.id: route.read_only for route in load_twin_definition(good).routes}
    assert routes == {"search": True, "make": False}
