"""Abuse a twin must survive: oversized bodies, cross-origin admin writes, malformed admin input."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from orchestrator.twins import RunningTwins, serve_twins
from tests.twins.helpers import ServeFn

AUTH = {"Authorization": "Bearer ghp_twin_valid"}
ISSUES = "/repos/octo-org/hello-world/issues"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def github() -> Iterator[RunningTwins]:
    with serve_twins(["github"], seed=1) as twins:
        yield twins


@pytest.fixture
def twin(github: RunningTwins) -> RunningTwins:
    httpx.post(f"{github.admin_url('github')}/reset", json={}).raise_for_status()
    return github


def issue_count(twins: RunningTwins) -> int:
    return len(httpx.get(f"{twins.admin_url('github')}/state", params={"entity": "issues"}).json())


def test_a_body_over_one_mib_is_413_and_never_stored(twin: RunningTwins) -> None:
    before = issue_count(twin)
    big = '{"title": "' + "x" * (MIB + 10) + '"}'
    answer = httpx.post(
        f"{twin['github']}{ISSUES}",
        content=big.encode(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json()["error"] == "body_too_large"
    assert "1048576 bytes" in answer.json()["message"]
    assert answer.headers["connection"] == "close"
    assert issue_count(twin) == before
    (entry,) = httpx.get(f"{twin.admin_url('github')}/journal").json()["entries"]
    assert entry["outcome"] == "body_too_large"
    assert entry["status"] == 413
    assert entry["route"] == "create_issue"
    assert entry["request_summary"] is None
    assert entry["chaos"] is None


def test_a_chunked_body_is_checked_as_it_arrives(twin: RunningTwins) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"title": "'
        for _ in range(20):
            yield b"y" * (64 * 1024)
        yield b'"}'

    answer = httpx.post(
        f"{twin['github']}{ISSUES}", content=chunks(), headers={**AUTH, "Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert issue_count(twin) == 2
    # The connection was closed, the twin serves the next request as usual.
    assert httpx.get(f"{twin['github']}{ISSUES}", headers=AUTH).status_code == 200


def test_just_under_the_cap_is_served(twin: RunningTwins) -> None:
    title = "z" * (MIB - 100)
    answer = httpx.post(f"{twin['github']}{ISSUES}", json={"title": title}, headers=AUTH)
    assert answer.status_code == 201
    assert issue_count(twin) == 3


def test_the_cap_is_configurable(serve: ServeFn) -> None:
    twins = serve(["github"], max_body_bytes=1000)
    url = f"{twins['github']}{ISSUES}"
    assert httpx.post(url, json={"title": "a" * 900}, headers=AUTH).status_code == 201
    refused = httpx.post(url, json={"title": "a" * 1000}, headers=AUTH)
    assert refused.status_code == 413
    assert "1000 bytes" in refused.json()["message"]
    admin = httpx.post(f"{twins.admin_url('github')}/reset", json={"data": {"issues": []}, "pad": "p" * 1000})
    assert admin.status_code == 413
    assert len(httpx.get(f"{twins.admin_url('github')}/state").json()["issues"]) == 3


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({}, b""),  # fetch(url, {method: "POST", mode: "no-cors"})
        ({"Content-Type": "text/plain;charset=UTF-8"}, b'{"data": {"issues": []}}'),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"seed=1"),
        ({"Content-Type": "multipart/form-data; boundary=x"}, b"--x--"),
    ],
    ids=["no-body", "text-plain", "form", "multipart"],
)
def test_admin_writes_a_browser_can_send_without_cors_are_refused(
    twin: RunningTwins, headers: dict[str, str], body: bytes
) -> None:
    created = httpx.post(f"{twin['github']}{ISSUES}", json={"title": "keep me"}, headers=AUTH)
    assert created.status_code == 201
    admin = twin.admin_url("github")
    page = {"Origin": "http://127.0.0.1:1", "Referer": "http://127.0.0.1:1/"}
    for extra in ({}, page):
        reset = httpx.post(f"{admin}/reset", content=body, headers={**headers, **extra})
        assert reset.status_code in (403, 415)
        chaos = httpx.put(f"{admin}/chaos", content=body, headers={**headers, **extra})
        assert chaos.status_code in (403, 415)
    assert httpx.post(f"{admin}/reset", content=body, headers=headers).status_code == 415
    assert issue_count(twin) == 3
    assert len(httpx.get(f"{admin}/journal").json()["entries"]) == 1
    assert httpx.get(f"{admin}/chaos").json()["config"] is None


def test_admin_writes_from_another_origin_are_403_even_as_json(twin: RunningTwins) -> None:
    admin = twin.admin_url("github")
    port = twin.endpoints["github"].port
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{port + 1}", "https://127.0.0.1"):
        answer = httpx.post(f"{admin}/reset", json={"data": {"issues": []}}, headers={"Origin": origin})
        assert answer.status_code == 403, origin
        assert answer.json()["error"] == "cross_origin"
        chaos = httpx.put(f"{admin}/chaos", json={"profile": "hostile"}, headers={"Origin": origin})
        assert chaos.status_code == 403
    assert issue_count(twin) == 2
    assert httpx.get(f"{admin}/chaos").json()["profile"] is None
    for own in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
        answer = httpx.post(f"{admin}/reset", json={}, headers={"Origin": own})
        assert answer.status_code == 200, own


@pytest.mark.parametrize("profile", [["a"], {"name": "hostile"}, 7, True])
def test_a_chaos_profile_that_is_not_a_name_is_422(twin: RunningTwins, profile: object) -> None:
    chaos = f"{twin.admin_url('github')}/chaos"
    before = httpx.get(chaos).json()
    answer = httpx.put(chaos, json={"profile": profile})
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_chaos"
    assert answer.json()["message"].startswith("profile: must be a profile name or null")
    assert httpx.get(chaos).json() == before


def test_a_negative_journal_limit_is_422(twin: RunningTwins) -> None:
    journal = f"{twin.admin_url('github')}/journal"
    httpx.get(f"{twin['github']}{ISSUES}", headers=AUTH)
    answer = httpx.get(journal, params={"limit": -1})
    assert answer.status_code == 422
    assert "limit must be 0 or more" in answer.json()["message"]
    assert httpx.get(journal, params={"limit": 0}).json()["entries"] == []
    assert len(httpx.get(journal, params={"limit": 5}).json()["entries"]) == 1


def test_json_nested_too_deeply_is_400_and_the_journal_keeps_going(twin: RunningTwins) -> None:
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    headers = {**AUTH, "Content-Type": "application/json"}
    answer = httpx.post(f"{twin['github']}{ISSUES}", content=deep, headers=headers)
    assert answer.status_code == 400
    admin = httpx.post(
        f"{twin.admin_url('github')}/reset", content=deep, headers={"Content-Type": "application/json"}
    )
    assert admin.status_code == 400 and "nested too deeply" in admin.json()["message"]
    httpx.get(f"{twin['github']}{ISSUES}", headers=AUTH).raise_for_status()
    journal = httpx.get(f"{twin.admin_url('github')}/journal").json()
    # Every request was journalled in order: no sequence number is left pending.
    assert [entry["status"] for entry in journal["entries"]] == [400, 200]
    assert journal["next_seq"] == journal["entries"][-1]["seq"] + 1
