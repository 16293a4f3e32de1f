"""The twin state store (snapshots for stale reads) and the journal, without a server."""

from __future__ import annotations

import json
import threading

import pytest

import orchestrator.twins as twins_api
from orchestrator.twins import Journal, TwinState
from orchestrator.twins._journal import REDACTED, redact_data, redact_headers, summarize


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> TwinState:
    store = TwinState({"items": "id", "tags": "name"}, history_s=60, granularity_s=0.5, clock=clock)
    store.reset({"items": [{"id": 7, "title": "seeded"}], "tags": [{"name": "a"}]})
    return store


def test_ids_are_assigned_above_seeded_ones_and_never_reused(state: TwinState) -> None:
    assert state.insert("items", {"title": "new"})["id"] == 8
    assert state.insert("tags", {"name": "b"})["name"] == "b"
    with pytest.raises(ValueError, match="already has a record with id 8"):
        state.insert("items", {"id": 8, "title": "again"})
    assert state.delete("items", 8)
    assert state.insert("items", {"title": "after delete"})["id"] == 9
    assert [item["id"] for item in state.list("items")] == [7, 9]


def test_updates_replace_records_and_keep_ids(state: TwinState) -> None:
    before = state.get("items", "7")
    after = state.update("items", 7, {"title": "changed"})
    assert before == {"id": 7, "title": "seeded"}  # the old record object is untouched
    assert after == {"id": 7, "title": "changed"}
    assert state.update("items", 99, {"title": "x"}) is None
    with pytest.raises(ValueError, match="cannot change"):
        state.update("items", 7, {"id": 8})


def test_stale_views_read_the_state_as_it_was(state: TwinState, clock: Clock) -> None:
    clock.now += 10
    state.insert("items", {"title": "at 1010"})
    clock.now += 10
    state.update("items", 7, {"title": "changed at 1020"})
    clock.now += 10  # now 1030
    assert [i["title"] for i in state.as_of(5).list("items")] == ["changed at 1020", "at 1010"]
    fifteen = state.as_of(15)
    assert [i["title"] for i in fifteen.list("items")] == ["seeded", "at 1010"]
    assert fifteen.stale
    assert fifteen.age_s == 20
    oldest = state.as_of(3600)  # older than anything kept: the state right after the reset
    assert [i["title"] for i in oldest.list("items")] == ["seeded"]
    assert state.live.age_s is None


def test_writes_through_a_stale_view_reach_the_live_state(state: TwinState, clock: Clock) -> None:
    clock.now += 100
    view = state.as_of(50)
    view.insert("items", {"title": "written while stale"})
    assert "written while stale" not in [i["title"] for i in view.list("items")]
    assert "written while stale" in [i["title"] for i in state.list("items")]


def test_quick_writes_share_a_snapshot_and_old_ones_are_dropped(state: TwinState, clock: Clock) -> None:
    for _ in range(100):
        clock.now += 0.01
        state.insert("items", {"title": "burst"})
    assert len(state._history) <= 3  # the reset snapshot, and one for the burst
    for _ in range(200):
        clock.now += 1
        state.insert("items", {"title": "steady"})
    assert len(state._history) <= 62


def test_dump_is_a_deep_copy(state: TwinState) -> None:
    dump = state.dump()
    dump["items"][0]["title"] = "mutated"
    assert state.get("items", 7) == {"id": 7, "title": "seeded"}
    assert state.counts() == {"items": 1, "tags": 1}


def test_unknown_entities_are_named(state: TwinState) -> None:
    with pytest.raises(KeyError, match=r"no entity 'users'.*items, tags"):
        state.list("users")


def test_redaction_covers_headers_keys_and_token_values() -> None:
    headers = redact_headers(
        [("Authorization", "Bearer x"), ("X-Custom-Key", "k"), ("Accept", "*/*"), ("X-Api-Key", "abc")],
        sensitive=frozenset({"x-custom-key"}),
    )
    assert headers == {
        "authorization": REDACTED,
        "x-custom-key": REDACTED,
        "accept": "*/*",
        "x-api-key": REDACTED,
    }
    data = {"password": "p", "max_tokens": 5, "nested": [{"sessionToken": "s", "note": "has sk-1 inside"}]}
    assert redact_data(data, ["sk-1"]) == {
        "password": REDACTED,
        "max_tokens": 5,
        "nested": [{"sessionToken": REDACTED, "note": f"has {REDACTED} inside"}],
    }
    assert summarize(b"token sk-1 in raw bytes", secrets=["sk-1"]) == f"token {REDACTED} in raw bytes"
    assert summarize({"text": "x" * 500}) is not None
    assert len(summarize({"text": "x" * 500}) or "") == 241
    assert summarize(None) is None
    assert summarize(b"") is None


def test_bodies_that_are_not_json_have_secret_looking_values_redacted() -> None:
    broken = b'{"title": "keep me", "password": "hunter2", "client_secret":"s3", "max_tokens": 5, "token": 99'
    summary = summarize(broken) or ""
    assert "hunter2" not in summary
    assert "s3" not in summary
    assert "99" not in summary
    assert summary == (
        f'{{"title": "keep me", "password": "{REDACTED}", "client_secret":"{REDACTED}", '
        f'"max_tokens": 5, "token": "{REDACTED}"'
    )
    cut = summarize(b'{"note": "' + b"x" * 200 + b'", "password": "' + b"p" * 300)
    assert cut is not None
    assert "ppp" not in cut
    text = "user=alice&password=hunter2&access_token=abc"
    assert summarize(text) == json.dumps(f"user=alice&password={REDACTED}&access_token={REDACTED}")
    assert summarize(text.encode()) == f"user=alice&password={REDACTED}&access_token={REDACTED}"


def test_the_journal_orders_entries_by_arrival_and_drops_those_from_before_a_clear() -> None:
    journal = Journal(max_entries=3)
    first, second, third = journal.reserve(), journal.reserve(), journal.reserve()
    assert journal.append({"seq": third, "route": "fast"}) == third
    assert journal.next_seq == first  # first and second may still land below it
    journal.append({"seq": first, "route": "slow"})
    journal.append({"seq": second, "route": "middle"})
    assert [entry["route"] for entry in journal.entries()] == ["slow", "middle", "fast"]
    assert journal.next_seq == third + 1
    late = journal.reserve()
    fourth = journal.append({"route": "unreserved"})
    assert journal.append({"seq": late, "route": "late"}) == late
    assert [entry["route"] for entry in journal.entries()] == ["fast", "late", "unreserved"]
    assert journal.dropped == 2
    in_flight = journal.reserve()
    journal.clear()
    assert journal.append({"seq": in_flight, "route": "before the reset"}) is None
    assert journal.entries() == []
    assert journal.next_seq == in_flight + 1
    assert fourth == late + 1


def test_the_journal_keeps_sequence_numbers_and_waits_for_entries() -> None:
    journal = Journal(max_entries=3)
    for index in range(5):
        journal.append({"route": f"r{index}"})
    assert [entry["seq"] for entry in journal.entries()] == [3, 4, 5]
    assert journal.dropped == 2
    assert journal.next_seq == 6
    journal.clear()
    assert journal.entries() == []
    assert journal.next_seq == 6
    appender = threading.Timer(0.05, lambda: journal.append({"route": "late"}))
    appender.start()
    try:
        found = journal.wait_for(lambda entry: entry["route"] == "late", timeout=5)
    finally:
        appender.join()
    assert found is not None
    assert found["seq"] == 6
    assert journal.wait_for(lambda entry: entry["route"] == "never", timeout=0.01) is None


def test_the_public_api_is_curated() -> None:
    names = twins_api.__all__
    assert names == sorted(names, key=lambda name: (not name.isupper(), name))
    for name in names:
        assert getattr(twins_api, name) is not None
    assert not [name for name in names if name.startswith("_")]
