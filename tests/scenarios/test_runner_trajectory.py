"""run_trajectory on a real slot: real twins, a real SUT over loopback, every step kind but the browser."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orchestrator.agents.runner import Slot, run_trajectory
from orchestrator.policy.chaos import ChaosConfig
from orchestrator.scenarios import Trajectory, TrajectoryEvent, twin_seed
from orchestrator.services import free_port
from tests.scenarios.runner_support import (
    JIRA_TOKEN,
    running_slot,
    scenario,
    slot_settings,
    spec,
    sut_section,
)


@pytest.fixture
def slot(tmp_path: Path) -> Iterator[Slot]:
    with running_slot(slot_settings(tmp_path)) as running:
        yield running


def events_of(trajectory: Trajectory, kind: str) -> list[TrajectoryEvent]:
    return [event for event in trajectory.events if event.type == kind]


def post(path: str, body: Any) -> dict[str, Any]:
    return {"method": "POST", "path": path, "json": body}


def jira_assert(path: str, **test: Any) -> dict[str, Any]:
    return {"service": "jira", "assert": {"path": path, **test}}


def statuses(trajectory: Trajectory) -> list[str]:
    return [step.status for step in trajectory.steps]


def issue_summaries(trajectory: Trajectory) -> list[str]:
    twins: Any = trajectory.final_state["twins"]
    return [issue["summary"] for issue in twins["jira"]["issues"]]


def test_user_steps_share_one_session_which_is_read_back_at_the_end(slot: Slot) -> None:
    trajectory = run_trajectory(
        slot,
        spec(scenario([{"id": "hello", "user": "hi"}, {"id": "make", "user": "create Checkout is down"}])),
    )

    assert trajectory.status == "completed", trajectory.error
    first, second = trajectory.steps
    assert "session_id" not in first.request["json"]  # type: ignore[operator]
    session_id = first.json_body["session_id"]  # type: ignore[index,call-overload]
    assert second.request["json"] == {"session_id": session_id, "message": "create Checkout is down"}
    assert second.text == "Created OPS-1"
    session: Any = trajectory.final_state["session"]
    assert [turn["message"] for turn in session["turns"]] == ["hi", "create Checkout is down"]
    assert trajectory.final_state["last_responses"] == {"hello": 200, "make": 200}
    # Per step: what the user did, the requests the twins served meanwhile, what the SUT said it did.
    assert [(event.type, event.step_id) for event in trajectory.events] == [
        ("system_event", None),
        ("user_action", "hello"),
        ("agent_action", "hello"),
        ("user_action", "make"),
        ("api_call", "make"),
        ("agent_action", "make"),
        ("state_transition", None),
    ]
    (call,) = events_of(trajectory, "api_call")
    assert {key: call.detail[key] for key in ("service", "method", "path", "route", "response_code")} == {
        "service": "jira",
        "method": "POST",
        "path": "/rest/api/2/issue",
        "route": "create_issue",
        "response_code": 201,
    }
    assert call.detail["chaos"] is None and "Checkout is down" in str(call.detail["request_summary"])
    assert [event.detail["route"] for event in events_of(trajectory, "agent_action")] == [
        "help",
        "create_issue",
    ]
    (created,) = events_of(trajectory, "state_transition")
    assert created.detail["change"] == "created" and created.detail["id"] == "OPS-1"
    assert trajectory.outcome["steps_passed"] == 2 and trajectory.outcome["api_calls"] == 1


def test_an_unmet_expectation_fails_its_step_and_the_trajectory_goes_on(slot: Slot) -> None:
    steps = [
        {"id": "direct", "http": post("/api/issues", {"summary": "By hand"})},
        {
            "id": "wrong",
            "http": {"method": "POST", "path": "/api/issues", "json": {"summary": "Again"}},
            "expect": {"status": 200, "path": "$.key", "equals": "OPS-9"},
        },
        {"id": "count", "user": "count issues", "expect": {"contains": "there are 2 ISSUES"}},
    ]
    trajectory = run_trajectory(slot, spec(scenario(steps)))

    assert trajectory.status == "completed"
    assert statuses(trajectory) == ["passed", "failed", "passed"]
    assert trajectory.steps[1].failures == ["status 201, expected 200", '$.key is "OPS-2", expected "OPS-9"']
    assert trajectory.steps[0].json_body["key"] == "OPS-1"  # type: ignore[index,call-overload]
    assert trajectory.steps[0].response_status == 201
    assert trajectory.outcome["steps_failed"] == 1
    assert "1 failed" in str(trajectory.outcome["summary"])


def test_stop_on_fail_ends_the_trajectory_at_the_failed_step(slot: Slot) -> None:
    steps = [
        {"id": "plain", "http": {"path": "/api/plain"}, "expect": {"contains": "json"}, "stop_on_fail": True},
        {"id": "never", "user": "create Never"},
    ]
    trajectory = run_trajectory(slot, spec(scenario(steps)))

    assert trajectory.status == "completed"
    assert statuses(trajectory) == ["failed", "skipped"]
    assert trajectory.steps[0].text == "just text" and trajectory.steps[0].json_body is None
    assert [event.step_id for event in events_of(trajectory, "user_action")] == ["plain"]
    assert issue_summaries(trajectory) == []


def test_placeholders_take_values_from_answers_context_state_and_twins(slot: Slot) -> None:
    steps = [
        {"id": "make", "user": "create {{ context.state.summary }}"},
        {"id": "follow", "http": post("/api/issues", {"summary": "{{make.json.data.key}} follow-up"})},
        {"id": "said", "http": post("/api/issues", {"summary": "{{make.status}}: {{make.text}}"})},
        {
            "id": "typed",
            "http": post("/api/plain", {"n": "{{make.json.data.ok}}", "keys": "{{follow.json}}"}),
        },
        {"id": "where", "http": {"path": "/api/plain", "query": {"jira": "{{twins.jira.url}}"}}},
    ]
    trajectory = run_trajectory(slot, spec(scenario(steps, context={"state": {"summary": "From state"}})))

    assert trajectory.status == "completed", trajectory.error
    assert issue_summaries(trajectory) == ["From state", "OPS-1 follow-up", "200: Created OPS-1"]
    # A string that is one placeholder takes the value as it is: a boolean, an object.
    typed: Any = trajectory.steps[3].request["json"]
    assert typed["n"] is True and typed["keys"]["key"] == "OPS-2"
    # The slot's twin URL, named in the record (ports differ from slot to slot).
    assert trajectory.steps[4].request["query"] == {"jira": "<twin:jira>/rest/api/2"}


def test_an_unresolvable_placeholder_ends_the_trajectory_errored_naming_it_and_its_step(slot: Slot) -> None:
    steps = [
        {"id": "hello", "user": "hi"},
        {"id": "bad_step", "user": "tell me about {{hello.json.data.missing}}"},
        {"id": "after", "user": "hi"},
    ]
    trajectory = run_trajectory(slot, spec(scenario(steps)))

    assert trajectory.status == "errored"
    assert statuses(trajectory) == ["passed", "errored", "skipped"]
    (error,) = events_of(trajectory, "error")
    assert error.step_id == "bad_step"
    assert "{{hello.json.data.missing}}" in error.description and "bad_step" in error.description
    assert trajectory.error == error.description
    assert "errored at step bad_step" in str(trajectory.outcome["summary"])


def test_wait_for_sees_a_request_made_after_the_answer(slot: Slot) -> None:
    steps = [
        {"id": "later", "http": post("/api/later", {"summary": "Later"}), "expect": {"status": 202}},
        {
            "id": "wait",
            "wait_for": {
                "api_call": {"service": "jira", "method": "post", "path": "/rest/api/2/*", "status": 201},
                "timeout_ms": 10000,
            },
        },
        {"id": "there", "twin": jira_assert("$.issues[0].summary", equals="Later")},
    ]
    trajectory = run_trajectory(slot, spec(scenario(steps)))

    assert statuses(trajectory) == ["passed", "passed", "passed"], [s.failures for s in trajectory.steps]
    assert trajectory.steps[1].json_body == {
        "matched": 1,
        "calls": [{"method": "POST", "path": "/rest/api/2/issue", "status": 201}],
    }
    # The request is recorded once, with one of the two steps it happened around.
    (call,) = events_of(trajectory, "api_call")
    assert call.step_id in ("later", "wait")


def test_wait_for_a_request_that_never_comes_fails_at_its_timeout(slot: Slot) -> None:
    steps = [
        {
            "id": "wait",
            "wait_for": {
                "api_call": {"service": "slack", "path": "/api/chat.postMessage"},
                "timeout_ms": 200,
            },
        },
        {
            "id": "wait_state",
            "wait_for": {
                "twin_state": {"service": "jira", "path": "$.issues[*]", "count": 1},
                "timeout_ms": 200,
            },
        },
        {"id": "after", "user": "hi"},
    ]
    trajectory = run_trajectory(slot, spec(scenario(steps)))

    assert trajectory.status == "completed"
    assert statuses(trajectory) == ["failed", "failed", "passed"]
    assert "slack * /api/chat.postMessage: 0 seen within 200 ms" in trajectory.steps[0].failures[0]
    assert "$.issues[*] finds 0" in trajectory.steps[1].failures[0]


def test_twin_steps_seed_reset_and_assert(slot: Slot) -> None:
    seeded = {"key": "OPS-7", "id": 7, "project": "OPS", "summary": "Seeded"}
    steps = [
        {"id": "seed", "twin": {"service": "jira", "seed": {"issues": [seeded]}}},
        {"id": "seen", "twin": jira_assert("$.issues[?@.key == 'OPS-7'].summary", equals="Seeded")},
        {"id": "kept", "twin": jira_assert("$.projects[*].key", equals="OPS")},
        {"id": "count", "user": "count issues", "expect": {"path": "$.data.total", "equals": 1}},
        {"id": "reset", "twin": {"service": "jira", "reset": True}},
        {"id": "gone", "twin": jira_assert("$.issues[*]", count=0)},
        {"id": "wrong", "twin": jira_assert("$.issues[*]", count={"min": 5})},
    ]
    trajectory = run_trajectory(slot, spec(scenario(steps)))

    assert trajectory.status == "completed"
    assert statuses(trajectory) == ["passed"] * 6 + ["failed"]
    assert "$.issues[*] finds 0" in trajectory.steps[6].failures[0]
    # The count was served while the seeded issue was there, and recorded with its step.
    assert [event.step_id for event in events_of(trajectory, "api_call")] == ["count"]
    assert issue_summaries(trajectory) == []


def test_trajectories_on_one_slot_never_share_state(slot: Slot) -> None:
    steps = [
        {"id": "make", "user": "create Only once"},
        {"id": "one", "twin": jira_assert("$.issues[*]", count=1)},
    ]
    first = run_trajectory(slot, spec(scenario(steps), index=1))
    second = run_trajectory(slot, spec(scenario(steps), index=2))

    for trajectory in (first, second):
        assert statuses(trajectory) == ["passed", "passed"]
        assert trajectory.steps[0].text == "Created OPS-1"
        assert issue_summaries(trajectory) == ["Only once"]
        assert len(events_of(trajectory, "api_call")) == 1


def test_chaos_from_the_spec_is_injected_and_recorded(slot: Slot) -> None:
    chaos = ChaosConfig.model_validate({"routes": {"jira.create_issue": {"error_500": {"probability": 1.0}}}})
    steps = [
        {"id": "make", "user": "create Doomed", "expect": {"contains": "Created"}},
        {"id": "count", "user": "count issues"},
    ]
    trajectory = run_trajectory(slot, spec(scenario(steps), chaos=chaos, seed=11))

    assert statuses(trajectory) == ["failed", "passed"]
    assert trajectory.steps[0].text == "Jira failed with 500"
    (record,) = trajectory.chaos
    assert (record.mode, record.twin, record.route, record.probability, record.seed) == (
        "error_500",
        "jira",
        "create_issue",
        1.0,
        twin_seed(11, "jira"),  # each twin rolls from its own stream, derived from the trajectory's seed
    )
    create, search = events_of(trajectory, "api_call")
    assert create.detail["response_code"] == 500
    assert isinstance(create.detail["chaos"], dict) and create.detail["chaos"]["mode"] == "error_500"
    assert search.detail["chaos"] is None
    assert trajectory.chaos_profile == "test" and trajectory.outcome["chaos_injections"] == 1
    assert issue_summaries(trajectory) == []

    # The next trajectory on the slot runs without chaos: none carries over.
    calm = run_trajectory(slot, spec(scenario(steps), index=2, seed=11))
    assert statuses(calm) == ["passed", "passed"] and calm.chaos == []


def test_no_token_reaches_the_record(slot: Slot) -> None:
    steps = [{"id": "leak", "user": "leak"}, {"id": "make", "user": "create With a token"}]
    trajectory = run_trajectory(slot, spec(scenario(steps)))

    text = json.dumps(trajectory.document())
    assert trajectory.status == "completed"
    for token in (JIRA_TOKEN, "xoxb-twin-valid", "jira-twin-dev", "jira-twin-expired"):
        assert token not in text
    assert trajectory.steps[0].text == "My Jira token is [redacted]"
    assert trajectory.steps[0].json_body["data"]["token_used"] == "[redacted]"  # type: ignore[index,call-overload]


def test_a_user_step_answered_with_text_errors_the_trajectory(tmp_path: Path) -> None:
    settings = slot_settings(tmp_path, sut=sut_section(message_path="POST /api/plain"))
    with running_slot(settings) as slot:
        trajectory = run_trajectory(slot, spec(scenario([{"id": "hello", "user": "hi"}, {"user": "again"}])))

    assert trajectory.status == "errored"
    assert statuses(trajectory) == ["errored", "skipped"]
    (error,) = events_of(trajectory, "error")
    assert error.step_id == "hello" and "is not JSON (HTTP 200, text/plain" in error.description


def test_an_unreachable_system_under_test_errors_the_trajectory(tmp_path: Path) -> None:
    gone = f"http://127.0.0.1:{free_port()}"
    with running_slot(slot_settings(tmp_path, sut={"base_url": gone})) as slot:
        trajectory = run_trajectory(slot, spec(scenario([{"id": "hello", "user": "hi"}])))
        after = run_trajectory(slot, spec(scenario([{"twin": {"service": "jira", "reset": True}}]), index=2))

    assert trajectory.status == "errored"
    assert "the system under test is unreachable for POST /api/assistant/message" in (trajectory.error or "")
    assert [event.type for event in trajectory.events] == ["system_event", "error"]
    # A slot whose system under test is down still serves its twins: the run goes on.
    assert after.status == "completed"


def test_the_deadline_ends_the_trajectory_timed_out(slot: Slot) -> None:
    steps = [
        {"id": "hello", "user": "hi"},
        {
            "id": "forever",
            "wait_for": {
                "twin_state": {"service": "jira", "path": "$.issues[*]", "count": 3},
                "timeout_ms": 60000,
            },
        },
        {"id": "never", "user": "hi"},
    ]
    trajectory = run_trajectory(slot, spec(scenario(steps), deadline_s=1.0))

    assert trajectory.status == "timed_out"
    assert statuses(trajectory) == ["passed", "errored", "skipped"]
    (error,) = events_of(trajectory, "error")
    assert error.step_id == "forever" and "deadline" in error.description
    assert trajectory.final_state["session"] is None


def test_a_scenario_twin_the_slot_does_not_serve_errors_the_trajectory(tmp_path: Path) -> None:
    with running_slot(slot_settings(tmp_path, twins=("jira",), sut={})) as slot:
        trajectory = run_trajectory(slot, spec(scenario([{"user": "hi"}])))
    assert trajectory.status == "errored"
    assert "uses twin 'slack', which this slot does not serve (served: jira)" in (trajectory.error or "")
    assert statuses(trajectory) == ["skipped"]
