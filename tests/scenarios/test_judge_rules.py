"""The rule judge: every structured check kind and test, over hand-built trajectories, no model."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter

from orchestrator.agents.judge import (
    RuleResult,
    check_api_calls,
    check_criterion,
    check_step,
    check_twin_state,
)
from orchestrator.scenarios import ApiCallCheck, Criterion, StepCheck, TwinStateCheck, json_equal
from tests.scenarios.judge_support import api_call, step, trajectory

TRAJECTORY = trajectory()


def twin_state(**check: Any) -> RuleResult:
    return check_twin_state(TwinStateCheck.model_validate({"service": "jira", **check}), TRAJECTORY)


def calls(**check: Any) -> RuleResult:
    return check_api_calls(ApiCallCheck.model_validate({"service": "jira", **check}), TRAJECTORY)


def step_check(**check: Any) -> RuleResult:
    return check_step(StepCheck.model_validate({"id": "ask", **check}), TRAJECTORY)


# ------------------------------------------------------------------------------- twin state


@pytest.mark.parametrize(
    ("check", "held"),
    [
        ({"path": "$.issues[0].summary", "equals": "Login page is down"}, True),
        ({"path": "$.issues[*].summary", "equals": "Login page is down"}, True),  # the first match
        ({"path": "$.issues[1].summary", "equals": "Login page is down"}, False),
        ({"path": "$.issues[0].votes", "equals": 3.0}, True),  # 3 == 3.0 in JSON
        ({"path": "$.projects[0].public", "equals": 1}, False),  # true is not 1
        ({"path": "$.projects[0].public", "equals": True}, True),
        ({"path": "$.issues[0].labels", "equals": ["bug", "p1"]}, True),
        ({"path": "$.issues[0].assignee", "equals": None}, False),  # nothing there is not null
        ({"path": "$.issues[?@.status == 'open'].key", "equals": "OPS-1"}, True),
    ],
)
def test_equals_compares_the_first_match_as_json(check: dict[str, Any], held: bool) -> None:
    assert twin_state(**check).held is held


@pytest.mark.parametrize(
    ("check", "held"),
    [
        ({"path": "$.issues[0].summary", "contains": "page is"}, True),
        ({"path": "$.issues[0].summary", "contains": "PAGE IS"}, False),  # exact text in twin state
        ({"path": "$.issues[0].labels", "contains": "p1"}, True),
        ({"path": "$.issues[0].labels", "contains": "p2"}, False),
        ({"path": "$.issues[0].votes", "contains": 3}, False),  # a number contains nothing
        ({"path": "$.issues[0].summary", "contains": 3}, False),
        ({"path": "$.tickets[0].summary", "contains": "x"}, False),
    ],
)
def test_contains_looks_into_the_first_match_text_or_list(check: dict[str, Any], held: bool) -> None:
    assert twin_state(**check).held is held


@pytest.mark.parametrize(
    ("check", "held"),
    [
        ({"path": "$.issues[?@.status == 'open']", "exists": True}, True),
        ({"path": "$.issues[?@.status == 'closed']", "exists": True}, False),
        ({"path": "$.issues[?@.status == 'closed']", "exists": False}, True),
        ({"path": "$.issues[*]", "count": 2}, True),
        ({"path": "$.issues[*]", "count": 1}, False),
        ({"path": "$.issues[*]", "count": {"min": 1, "max": 2}}, True),
        ({"path": "$.issues[*]", "count": {"min": 3}}, False),
        ({"path": "$.issues[*]", "count": {"max": 1}}, False),
        ({"path": "$.tickets[*]", "count": 0}, True),
    ],
)
def test_exists_and_count(check: dict[str, Any], held: bool) -> None:
    assert twin_state(**check).held is held


def test_details_say_what_was_found_and_what_was_wanted() -> None:
    assert twin_state(path="$.issues[*]", count=1).detail == "jira state $.issues[*] count: found 2, wanted 1"
    assert twin_state(path="$.issues[*]", count={"min": 3, "max": 5}).detail.endswith(
        "found 2, wanted at least 3 and at most 5"
    )
    assert twin_state(path="$.issues[1].summary", equals="Login page is down").detail == (
        'jira state $.issues[1].summary equals: found "Typo on pricing", wanted "Login page is down"'
    )
    assert "nothing at this path" in twin_state(path="$.nope", equals=1).detail


def test_a_twin_without_recorded_state_holds_nothing_not_even_exists_false() -> None:
    result = check_twin_state(TwinStateCheck(service="github", path="$.issues[*]", exists=False), TRAJECTORY)
    assert not result.held
    assert result.detail == "no final state of twin 'github' was recorded (recorded: jira, slack)"


# -------------------------------------------------------------------------------- api calls


@pytest.mark.parametrize(
    ("check", "held"),
    [
        ({}, True),  # at least one jira call
        ({"method": "post"}, True),  # methods compare upper-case
        ({"method": "DELETE"}, False),
        ({"path": "/rest/api/2/issue"}, True),
        ({"path": "/rest/api/2/issue", "count": 1}, True),  # exact: sub-paths are not counted
        ({"path": "/rest/api/2/issue/OPS-1"}, True),  # the query string is ignored
        ({"path": "/rest/api/2/issue/*", "count": 2}, True),  # a glob crosses /
        ({"path": "/rest/api/2/issue/OPS-1?fields=*"}, True),  # ? in the pattern: the query counts
        ({"path": "/rest/api/2/issue/OPS-1?fields=*", "count": 1}, True),
        ({"path": "/rest/api/2/issue/OPS-1Xfields=*"}, False),  # ? is no wildcard
        ({"path": "/rest/*", "status": 201, "count": 2}, True),
        ({"status": 500}, False),
        ({"within_ms": 300, "count": 1}, True),  # at_ms <= within_ms
        ({"within_ms": 299}, False),
        ({"count": 3}, True),
        ({"count": {"min": 4}}, False),
        ({"count": 0, "method": "DELETE"}, True),
    ],
)
def test_api_calls_filter_by_method_path_status_and_time(check: dict[str, Any], held: bool) -> None:
    assert calls(**check).held is held


def test_api_calls_of_other_services_and_other_events_do_not_count() -> None:
    only_slack = trajectory(
        events=[
            api_call(10, "slack", "POST", "/api/chat.postMessage", 200),
            {
                "type": "user_action",
                "at_ms": 5,
                "detail": {"service": "jira", "method": "POST", "path": "/x"},
            },
        ]
    )
    result = check_api_calls(ApiCallCheck(service="jira"), only_slack)
    assert not result.held
    assert result.detail == "api_call jira * *: found 0, wanted at least 1"
    check = ApiCallCheck(service="slack", method="POST", status=200, within_ms=50, count=1)
    assert check_api_calls(check, only_slack).detail == (
        "api_call slack POST * -> 200 within 50 ms: found 1, wanted 1"
    )


# ------------------------------------------------------------------------------------ steps


@pytest.mark.parametrize(
    ("check", "held"),
    [
        ({"status": 200}, True),
        ({"status": 201}, False),
        ({"path": "$.issue.key", "equals": "OPS-1"}, True),
        ({"path": "$.issue.key", "equals": "OPS-2"}, False),
        ({"path": "$.ok", "equals": 1}, False),  # true is not 1
        ({"path": "$.issue.priority"}, True),  # a path alone: something is there
        ({"path": "$.issue.assignee"}, False),
        ({"contains": "filed ops-1"}, True),  # case-insensitive
        ({"contains": "OPS-9"}, False),
        ({"status": 200, "contains": "filed", "path": "$.ok", "equals": True}, True),
        ({"status": 200, "contains": "cancelled"}, False),  # every test must hold
    ],
)
def test_a_step_is_checked_on_its_status_json_and_text(check: dict[str, Any], held: bool) -> None:
    assert step_check(**check).held is held


def test_step_details_list_each_test() -> None:
    result = step_check(status=201, contains="filed")
    assert result.detail == 'step ask: status 200, wanted 201; answer contains "filed"'


def test_a_json_only_answer_is_searched_as_its_json_text() -> None:
    answered = trajectory(steps=[step("ask", response_status=200, json={"reply": "Filed OPS-1"})])
    assert check_step(StepCheck(id="ask", contains="filed ops-1"), answered).held
    silent = trajectory(steps=[step("ask", response_status=204)])
    result = check_step(StepCheck(id="ask", contains="filed"), silent)
    assert not result.held and "holds no text" in result.detail


@pytest.mark.parametrize(
    ("steps", "said"),
    [
        ([], "did not run (it is not in the trajectory)"),
        ([step("ask", "skipped")], "did not run (skipped)"),
        ([step("ask", "errored", failures=["the SUT refused the connection"])], "the SUT refused"),
    ],
)
def test_a_step_that_did_not_run_holds_nothing(steps: list[Any], said: str) -> None:
    ran = trajectory(steps=steps)
    result = check_step(StepCheck(id="ask", contains=""), ran)  # would hold for any text
    assert not result.held and said in result.detail


def test_a_failed_step_still_ran_and_is_checked() -> None:
    failed = trajectory(steps=[step("ask", "failed", response_status=500, text="Internal error")])
    assert check_step(StepCheck(id="ask", status=500), failed).held


# ----------------------------------------------------------------------- criteria from files


def test_criteria_as_scenario_files_write_them() -> None:
    adapter: TypeAdapter[Criterion] = TypeAdapter(Criterion)
    written = [
        ({"twin_state": {"service": "jira", "path": "$.issues[*]", "count": 2}}, True),
        ({"api_call": {"service": "jira", "method": "POST", "path": "/rest/api/2/issue"}}, True),
        ({"step": {"id": "ask", "contains": "outage"}, "label": "mentions the outage"}, False),
    ]
    for document, held in written:
        criterion = adapter.validate_python(document)
        assert not isinstance(criterion, str)
        assert check_criterion(criterion, TRAJECTORY).held is held


def test_json_equality() -> None:
    assert json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert not json_equal({"a": [True]}, {"a": [1]})
    assert not json_equal(0, False)
    assert not json_equal(None, 0)
    assert not json_equal("1", 1)
    assert not json_equal({"a": 1}, {"a": 1, "b": 2})
    assert not json_equal([1], [1, 1])
