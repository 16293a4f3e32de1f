"""Every message round-trips through JSON unchanged, and the union dispatches on ``kind``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from orchestrator.messages import (
    MESSAGE_ADAPTER,
    Message,
    Ping,
    RunOutcome,
    StartRun,
    WorkRequest,
    WorkResult,
)

ids = st.text(alphabet="abcdef0123456789-", min_size=1, max_size=24)
optional_ids = st.none() | ids
json_scalars = st.none() | st.booleans() | st.integers() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
params = st.dictionaries(st.text(max_size=10), json_values, max_size=5)

messages = st.one_of(
    st.builds(Ping, run_id=optional_ids, task_id=optional_ids, call_id=optional_ids),
    st.builds(
        WorkRequest,
        run_id=ids,
        task_id=optional_ids,
        call_id=optional_ids,
        trace_id=optional_ids,
        tool_trace_id=optional_ids,
        capability=st.text(max_size=20),
        objective=st.text(max_size=40),
        phase=st.text(max_size=10),
        params=params,
    ),
    st.builds(
        WorkResult,
        run_id=ids,
        success=st.booleans(),
        summary=st.text(max_size=40),
        data=params,
        blocked_reason=st.none() | st.text(max_size=20),
    ),
    st.builds(StartRun, run_id=ids, objective=st.text(max_size=40), params=params),
    st.builds(
        RunOutcome,
        run_id=ids,
        status=st.sampled_from(["completed", "failed"]),
        summary=st.text(max_size=40),
        report_path=st.none() | st.text(max_size=20),
    ),
)


@pytest.mark.timeout(60)
@given(messages)
def test_every_message_round_trips_through_json_unchanged(message: Message) -> None:
    wire = message.model_dump_json()
    again = MESSAGE_ADAPTER.validate_json(wire)
    assert type(again) is type(message)
    assert again == message
    assert again.model_dump_json() == wire


def test_messages_are_frozen_and_refuse_unknown_fields() -> None:
    request = WorkRequest(run_id="r", capability="c", objective="o")
    with pytest.raises(ValidationError):
        request.objective = "changed"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        WorkRequest(run_id="r", capability="c", objective="o", surprise=1)  # type: ignore[call-arg]


def test_unknown_kind_is_refused_by_the_union() -> None:
    with pytest.raises(ValidationError):
        MESSAGE_ADAPTER.validate_json('{"kind": "nope", "run_id": "r"}')


def test_correlation_holds_only_the_ids_that_are_set() -> None:
    request = WorkRequest(run_id="r1", task_id="t1", call_id="c1", capability="c", objective="o")
    assert request.correlation() == {"run_id": "r1", "task_id": "t1", "call_id": "c1"}
