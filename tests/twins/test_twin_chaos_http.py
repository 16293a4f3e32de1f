"""Chaos as a client sees it: each mode's effect over real HTTP, replay by seed, rates end to end."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orchestrator.policy.chaos import ChaosConfig
from orchestrator.twins import (
    RunningTwins,
    TwinRuntime,
    build_twin_app,
    load_chaos_profiles,
    load_twin,
    serve_twins,
)
from tests.twins.helpers import binomial_interval

AUTH = {"Authorization": "Bearer ghp_twin_valid"}
ISSUES = "/repos/octo-org/hello-world/issues"


@pytest.fixture(scope="module")
def github() -> Iterator[RunningTwins]:
    with serve_twins(["github"], seed=1) as twins:
        yield twins


@pytest.fixture
def twin(github: RunningTwins) -> Iterator[RunningTwins]:
    """The shared github twin, reset before the test and with chaos off after it."""
    admin = github.admin_url("github")
    httpx.post(f"{admin}/reset", json={"seed": 1}).raise_for_status()
    yield github
    httpx.put(f"{admin}/chaos", json={"config": None}).raise_for_status()


def set_chaos(twins: RunningTwins, config: dict[str, Any]) -> None:
    answer = httpx.put(f"{twins.admin_url('github')}/chaos", json={"config": config})
    assert answer.status_code == 200, answer.text


def journal(twins: RunningTwins) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = httpx.get(f"{twins.admin_url('github')}/journal").json()["entries"]
    return entries


def test_latency_delays_the_answer_and_is_journaled(twin: RunningTwins) -> None:
    set_chaos(twin, {"latency": {"probability": 1, "min_ms": 300, "max_ms": 300}})
    started = time.perf_counter()
    answer = httpx.get(f"{twin['github']}{ISSUES}", headers=AUTH)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200
    assert elapsed >= 0.3
    chaos = journal(twin)[-1]["chaos"]
    assert chaos["mode"] == "latency"
    assert chaos["probability"] == 1
    assert chaos["seed"] == 1
    assert chaos["injections"] == [{"mode": "latency", "probability": 1.0, "delay_ms": 300.0}]


def test_latency_is_scaled_by_the_time_scale(twin: RunningTwins) -> None:
    set_chaos(twin, {"latency": {"probability": 1, "min_ms": 60_000, "max_ms": 60_000}, "time_scale": 0.001})
    answer = httpx.get(f"{twin['github']}{ISSUES}", headers=AUTH, timeout=10)
    assert answer.status_code == 200
    assert journal(twin)[-1]["chaos"]["injections"][0]["delay_ms"] == 60.0


def test_latency_on_a_write_delays_the_answer_but_not_the_write(twin: RunningTwins) -> None:
    """A client that gives up on a slow create has still created the record (an ambiguous timeout)."""
    set_chaos(
        twin,
        {
            "routes": {
                "github.create_issue": {"latency": {"probability": 1, "min_ms": 60_000, "max_ms": 60_000}}
            }
        },
    )
    runtime = twin.runtimes["github"]
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{twin['github']}{ISSUES}", json={"title": "slow write"}, headers=AUTH, timeout=0.5)
    entry = runtime.journal.wait_for(lambda e: e["route"] == "create_issue", timeout=10)
    assert entry is not None
    assert entry["outcome"] == "client_disconnected"
    assert entry["status"] == 201  # what the handler answered, though the client never saw it
    assert entry["chaos"]["mode"] == "latency"
    set_chaos(twin, {})
    titles = [issue["title"] for issue in httpx.get(f"{twin['github']}{ISSUES}", headers=AUTH).json()]
    assert titles.count("slow write") == 1


def test_latency_on_a_write_that_the_client_waits_for_answers_normally(twin: RunningTwins) -> None:
    set_chaos(twin, {"latency": {"probability": 1, "min_ms": 50, "max_ms": 50}})
    answer = httpx.post(f"{twin['github']}{ISSUES}", json={"title": "patient"}, headers=AUTH, timeout=10)
    assert answer.status_code == 201
    assert answer.json()["title"] == "patient"
    entry = journal(twin)[-1]
    assert (entry["route"], entry["status"], entry["outcome"]) == ("create_issue", 201, "answered")
    assert entry["chaos"]["injections"] == [{"mode": "latency", "probability": 1.0, "delay_ms": 50.0}]


def test_latency_on_a_read_holds_before_serving_and_a_leaving_client_gets_no_answer(
    twin: RunningTwins,
) -> None:
    set_chaos(
        twin,
        {"routes": {"github.get_issue": {"latency": {"probability": 1, "min_ms": 60_000, "max_ms": 60_000}}}},
    )
    runtime = twin.runtimes["github"]
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{twin['github']}{ISSUES}/1", headers=AUTH, timeout=0.5)
    entry = runtime.journal.wait_for(lambda e: e["route"] == "get_issue", timeout=10)
    assert entry is not None
    assert entry["outcome"] == "client_disconnected"
    assert entry["status"] is None  # the read was never served
    assert entry["response_bytes"] == 0
    assert entry["chaos"]["mode"] == "latency"


@pytest.mark.parametrize(
    ("mode", "status", "message"),
    [
        ("error_429", 429, "API rate limit exceeded for user."),
        ("error_500", 500, "Server Error"),
        ("error_503", 503, "Service Unavailable"),
        ("auth_expired", 401, "Bad credentials"),
    ],
)
def test_error_modes_answer_with_the_twins_own_error(
    twin: RunningTwins, mode: str, status: int, message: str
) -> None:
    set_chaos(twin, {mode: {"probability": 1}})
    answer = httpx.get(f"{twin['github']}{ISSUES}", headers=AUTH)
    assert answer.status_code == status
    assert answer.json()["message"] == message
    if mode == "error_429":
        assert answer.headers["retry-after"] == "1"
        assert answer.headers["x-ratelimit-remaining"] == "0"
    if mode == "auth_expired":
        assert answer.json()["error"] == "token_expired"
    entry = journal(twin)[-1]
    assert entry["status"] == status
    assert entry["chaos"]["mode"] == mode
    assert entry["chaos"]["probability"] == 1.0


def test_a_timeout_holds_the_connection_without_blocking_other_requests(twin: RunningTwins) -> None:
    set_chaos(twin, {"routes": {"github.get_issue": {"timeout": {"probability": 1, "hold_s": 60}}}})
    runtime = twin.runtimes["github"]
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        held = pool.submit(httpx.get, f"{twin['github']}{ISSUES}/1", headers=AUTH, timeout=2.0)
        # While that connection is held, the twin keeps answering others at once.
        started = time.perf_counter()
        other = httpx.get(f"{twin['github']}{ISSUES}", headers=AUTH, timeout=5.0)
        assert other.status_code == 200
        assert time.perf_counter() - started < 1.5
        with pytest.raises(httpx.ReadTimeout):
            held.result(timeout=10)
    entry = runtime.journal.wait_for(lambda e: e["route"] == "get_issue", timeout=10)
    assert entry is not None
    assert entry["outcome"] == "client_disconnected"
    assert entry["status"] is None
    assert entry["chaos"]["mode"] == "timeout"
    assert 1900 <= entry["duration_ms"] < 10_000


def test_a_timeout_that_runs_its_course_answers_504(twin: RunningTwins) -> None:
    set_chaos(twin, {"timeout": {"probability": 1, "hold_s": 30}, "time_scale": 0.01})
    answer = httpx.get(f"{twin['github']}{ISSUES}", headers=AUTH, timeout=5.0)
    assert answer.status_code == 504
    assert journal(twin)[-1]["duration_ms"] >= 300


def test_a_connection_reset_is_a_transport_error_for_the_client(twin: RunningTwins) -> None:
    set_chaos(twin, {"connection_reset": {"probability": 1}})
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{twin['github']}{ISSUES}", headers=AUTH)
    with httpx.Client(headers=AUTH) as client, pytest.raises(httpx.TransportError):
        client.post(f"{twin['github']}{ISSUES}", json={"title": "never stored"})
    set_chaos(twin, {})
    entries = journal(twin)
    assert [(e["outcome"], e["status"]) for e in entries] == [("connection_reset", None)] * 2
    titles = [issue["title"] for issue in httpx.get(f"{twin['github']}{ISSUES}", headers=AUTH).json()]
    assert "never stored" not in titles


def test_a_partial_response_is_well_framed_but_unparsable(twin: RunningTwins) -> None:
    set_chaos(twin, {"partial_response": {"probability": 1, "keep_fraction": 0.5}})
    answer = httpx.get(f"{twin['github']}{ISSUES}?state=all", headers=AUTH)
    assert answer.status_code == 200
    assert len(answer.content) == int(answer.headers["content-length"]) > 0
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer.content)
    set_chaos(twin, {})
    full = httpx.get(f"{twin['github']}{ISSUES}?state=all", headers=AUTH)
    assert answer.content == full.content[: len(full.content) // 2]


def test_stale_data_serves_an_older_snapshot(twin: RunningTwins) -> None:
    created = httpx.post(f"{twin['github']}{ISSUES}", json={"title": "fresh"}, headers=AUTH)
    assert created.status_code == 201
    set_chaos(twin, {"stale_data": {"probability": 1, "age_s": 3600}})
    stale = [i["title"] for i in httpx.get(f"{twin['github']}{ISSUES}", headers=AUTH).json()]
    assert "fresh" not in stale
    assert "Found a bug" in stale
    entry = journal(twin)[-1]
    assert entry["chaos"]["mode"] == "stale_data"
    assert entry["chaos"]["age_s"] == 3600
    assert 0 <= entry["chaos"]["snapshot_age_s"] < 60
    set_chaos(twin, {})
    assert "fresh" in [i["title"] for i in httpx.get(f"{twin['github']}{ISSUES}", headers=AUTH).json()]


def test_stale_data_leaves_writes_on_the_live_state(twin: RunningTwins) -> None:
    url = twin["github"]
    before = httpx.get(f"{url}{ISSUES}/1", headers=AUTH).json()["comments"]
    set_chaos(twin, {"stale_data": {"probability": 1, "age_s": 3600}})
    numbers = [
        httpx.post(f"{url}{ISSUES}", json={"title": f"t{index}"}, headers=AUTH).json()["number"]
        for index in range(3)
    ]
    for _ in range(3):
        assert httpx.post(f"{url}{ISSUES}/1/comments", json={"body": "x"}, headers=AUTH).status_code == 201
    writes = journal(twin)[1:]  # after the read of the count
    set_chaos(twin, {})
    assert len(set(numbers)) == 3
    assert numbers == sorted(numbers)
    assert httpx.get(f"{url}{ISSUES}/1", headers=AUTH).json()["comments"] == before + 3
    # Writes still roll (a seed replays the same draws) but say the fault was not applied.
    assert [entry["chaos"]["roll"] for entry in writes] == [1, 2, 3, 4, 5, 6]
    assert all(entry["chaos"]["mode"] == "stale_data" for entry in writes)
    assert all(entry["chaos"]["applied"] is False for entry in writes)
    assert all("snapshot_age_s" not in entry["chaos"] for entry in writes)


def _slow_first_app(runtime: TwinRuntime) -> Any:
    """Chaos holding ``get_issue`` for a minute (until the client goes), other routes untouched."""
    runtime.set_chaos(
        ChaosConfig.model_validate(
            {"routes": {"github.get_issue": {"timeout": {"probability": 1, "hold_s": 60}}}}
        )
    )
    return build_twin_app(runtime)


async def _request(app: Any, path: str, *, holding: asyncio.Event | None = None) -> None:
    """One GET through the app; with ``holding``, a client that stays until cancelled, and says when held."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"twin"), (b"authorization", AUTH["Authorization"].encode())],
        "server": ("twin", 80),
    }
    delivered = False

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": b"", "more_body": False}
        if holding is not None:
            holding.set()  # the dispatcher now waits for the client to go
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        pass

    await app(scope, receive, send)


def test_the_journal_lists_requests_in_arrival_order() -> None:
    runtime = TwinRuntime(load_twin("github"), seed=1)
    app = _slow_first_app(runtime)

    async def scenario() -> None:
        holding = asyncio.Event()
        slow = asyncio.ensure_future(_request(app, f"{ISSUES}/1", holding=holding))
        await asyncio.wait_for(holding.wait(), 5)
        await _request(app, ISSUES)
        assert [entry["route"] for entry in runtime.journal.entries()] == ["list_issues"]
        assert runtime.journal.next_seq == 1  # the held request may still land below the fast one
        runtime.stopping.set()  # ends the hold
        await asyncio.wait_for(slow, 5)

    asyncio.run(scenario())
    entries = runtime.journal.entries()
    assert [(entry["seq"], entry["route"]) for entry in entries] == [(1, "get_issue"), (2, "list_issues")]
    assert entries[0]["outcome"] == "server_stopping"
    assert runtime.journal.next_seq == 3


def test_a_request_in_flight_during_a_reset_stays_out_of_the_new_journal() -> None:
    runtime = TwinRuntime(load_twin("github"), seed=1)
    app = _slow_first_app(runtime)

    async def scenario() -> None:
        holding = asyncio.Event()
        slow = asyncio.ensure_future(_request(app, f"{ISSUES}/1", holding=holding))
        await asyncio.wait_for(holding.wait(), 5)
        runtime.reset()
        await _request(app, ISSUES)
        runtime.stopping.set()
        await asyncio.wait_for(slow, 5)

    asyncio.run(scenario())
    assert [(entry["seq"], entry["route"]) for entry in runtime.journal.entries()] == [(2, "list_issues")]
    assert runtime.journal.next_seq == 3


def run_sequence(twins: RunningTwins, seed: int) -> list[Any]:
    """Reset with ``seed`` and send a fixed request sequence; the chaos the journal recorded."""
    httpx.post(f"{twins.admin_url('github')}/reset", json={"seed": seed}).raise_for_status()
    with httpx.Client(headers=AUTH, timeout=5.0) as client:
        for index in range(60):
            path = ISSUES if index % 3 else f"{ISSUES}/1"
            client.get(f"{twins['github']}{path}")
    return [(entry["route"], entry["status"], entry["chaos"]) for entry in journal(twins)]


def test_the_same_seed_and_requests_replay_the_same_injections(twin: RunningTwins) -> None:
    hostile = load_chaos_profiles(None)["hostile"].model_dump(mode="json")
    set_chaos(twin, {**hostile, "time_scale": 0})
    first = run_sequence(twin, seed=1234)
    second = run_sequence(twin, seed=1234)
    other = run_sequence(twin, seed=4321)
    assert first == second
    assert first != other
    injected = [chaos for _, _, chaos in first if chaos is not None]
    assert len(injected) > 10
    assert all(chaos["seed"] == 1234 for chaos in injected)
    assert [chaos["roll"] for chaos in injected] == sorted({chaos["roll"] for chaos in injected})


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_rates_through_the_app_match_the_hostile_profile() -> None:
    """10,000 requests through the twin's ASGI app: each mode fires at its configured rate."""
    hostile = load_chaos_profiles(None)["hostile"].model_copy(update={"time_scale": 0.0})
    runtime = TwinRuntime(load_twin("github"), seed=31337, chaos=hostile)
    app = build_twin_app(runtime)
    requests = 10_000

    async def hammer() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://twin", headers=AUTH) as client:
            for _ in range(requests):
                await client.get(f"{ISSUES}/1")

    asyncio.run(hammer())
    counts: Counter[str] = Counter()
    for entry in runtime.journal.entries():
        for injection in (entry["chaos"] or {}).get("injections", []):
            counts[injection["mode"]] += 1
    assert sum(1 for _ in runtime.journal.entries()) == requests
    for name in (
        "latency",
        "error_429",
        "error_500",
        "error_503",
        "timeout",
        "partial_response",
        "auth_expired",
    ):
        probability = getattr(hostile, name).probability
        low, high = binomial_interval(requests, probability)
        assert low <= counts[name] <= high, f"{name}: {counts[name]} of {requests}, expected {low}..{high}"
    assert counts["stale_data"] == counts["connection_reset"] == 0
