"""The verdict: what rules decide alone, when the model is needed, and what happens without one.

Every test here gives the judge a configured model whose requests are recorded and refused, so
"decided without a model" is proven by the model having received nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from orchestrator.agents.judge import judge_trajectory
from orchestrator.llm import LlmClient, LlmSection
from orchestrator.scenarios import Judgment
from tests.scenarios.judge_support import chaos_record, scenario, trajectory, untouchable_model

FILED = {"twin_state": {"service": "jira", "path": "$.issues[?@.status == 'open']", "exists": True}}
POSTED = {
    "api_call": {"service": "slack", "method": "POST", "path": "/api/chat.postMessage"},
    "label": "told Slack",
}
DOUBLE_FILED = {
    "api_call": {"service": "jira", "method": "POST", "path": "/rest/api/2/issue", "count": {"min": 2}}
}
FIVE_XX = {"api_call": {"service": "jira", "status": 500}}
TEXT = "The assistant told the user which issue it filed"
TEXT_ANTI = "The assistant claims success without filing anything"


@pytest.fixture
def asked() -> list[httpx.Request]:
    return []


@pytest.fixture
def model(asked: list[httpx.Request]) -> Iterator[LlmClient]:
    with untouchable_model(asked) as client:
        yield client


def judge(llm: LlmClient | None, **fields: Any) -> Judgment:
    return judge_trajectory(scenario(**fields), trajectory(), llm=llm)


def test_an_errored_trajectory_is_unsatisfactory_with_its_error(
    model: LlmClient, asked: list[httpx.Request]
) -> None:
    broken = trajectory(status="errored", error="step ask: the SUT refused the connection", steps=[])
    judgment = judge_trajectory(
        scenario(), broken, llm=model, now=lambda: datetime(2026, 1, 2, 10, 5, tzinfo=UTC)
    )
    assert judgment.verdict == "unsatisfactory"
    assert judgment.reasoning.endswith("the user got nothing: step ask: the SUT refused the connection")
    assert (judgment.judge, judgment.confidence, judgment.trajectory_status) == ("rule", 1.0, "errored")
    assert judgment.judged_at == "2026-01-02T10:05:00Z"
    assert (judgment.model, judgment.prompt_version, judgment.usage) == (None, None, {})
    assert asked == []


def test_a_timed_out_trajectory_is_unsatisfactory(model: LlmClient, asked: list[httpx.Request]) -> None:
    late = trajectory(status="timed_out", error=None, chaos=[chaos_record("timeout", "jira", None, 100)])
    judgment = judge_trajectory(scenario(), late, llm=model)
    assert judgment.verdict == "unsatisfactory" and "timed out" in judgment.reasoning
    assert "no error was recorded" in judgment.reasoning
    assert judgment.chaos_injected and asked == []


def test_any_mode_one_structured_criterion_met_is_enough(
    model: LlmClient, asked: list[httpx.Request]
) -> None:
    judgment = judge(model, satisfaction_criteria=[POSTED, FILED, TEXT])
    assert judgment.verdict == "satisfactory"
    assert judgment.criteria_matched == ["jira state $.issues[?@.status == 'open'] exists True"]
    assert judgment.criteria_unmet == ["told Slack"]
    assert judgment.criteria_unjudged == [TEXT]  # not needed, not asked
    assert (judgment.judge, judgment.confidence, judgment.model) == ("rule", 1.0, None)
    assert (
        "told Slack: api_call slack POST /api/chat.postMessage: found 0, wanted at least 1"
        in judgment.reasoning
    )
    assert not judgment.chaos_injected
    assert asked == []


def test_any_mode_nothing_met_is_unsatisfactory(model: LlmClient, asked: list[httpx.Request]) -> None:
    judgment = judge(model, satisfaction_criteria=[POSTED, DOUBLE_FILED])
    assert judgment.verdict == "unsatisfactory" and judgment.reasoning.startswith(
        "Unsatisfactory: no criterion"
    )
    assert judgment.criteria_matched == [] and len(judgment.criteria_unmet) == 2
    assert asked == []


def test_all_mode_one_structured_criterion_unmet_decides_without_the_model(
    model: LlmClient, asked: list[httpx.Request]
) -> None:
    judgment = judge(model, criteria_mode="all", satisfaction_criteria=[FILED, POSTED, TEXT])
    assert judgment.verdict == "unsatisfactory"
    assert judgment.reasoning.startswith("Unsatisfactory: a criterion was not met (told Slack).")
    assert judgment.criteria_unjudged == [TEXT]
    assert judgment.judge == "rule" and asked == []


def test_all_mode_every_structured_criterion_met_is_satisfactory(
    model: LlmClient, asked: list[httpx.Request]
) -> None:
    judgment = judge(model, criteria_mode="all", satisfaction_criteria=[FILED], anti_patterns=[FIVE_XX])
    assert judgment.verdict == "satisfactory" and judgment.anti_patterns_matched == []
    assert asked == []


def test_a_structured_anti_pattern_in_strict_mode_decides_without_the_model(
    model: LlmClient, asked: list[httpx.Request]
) -> None:
    judgment = judge(
        model,
        satisfaction_criteria=[TEXT],
        anti_patterns=[
            {"twin_state": {"service": "jira", "path": "$.issues[*]", "count": {"min": 2}}},
            TEXT_ANTI,
        ],
        judge={"strict_mode": True},
    )
    assert judgment.verdict == "unsatisfactory"
    assert judgment.anti_patterns_matched == ["jira state $.issues[*] count {min: 2}"]
    assert "Strict mode: decided without a model." in judgment.reasoning
    assert judgment.criteria_unjudged == [TEXT]
    assert (judgment.judge, judgment.confidence) == ("rule", 1.0)
    assert asked == []


def test_a_structured_anti_pattern_without_text_items_decides_without_the_model(
    model: LlmClient, asked: list[httpx.Request]
) -> None:
    open_issue = {**FILED, "label": "left an issue open"}
    judgment = judge(model, satisfaction_criteria=[FILED], anti_patterns=[DOUBLE_FILED, FIVE_XX, open_issue])
    assert judgment.verdict == "unsatisfactory"
    assert judgment.anti_patterns_matched == ["left an issue open"]
    assert judgment.reasoning.startswith("Unsatisfactory: an anti-pattern matched (left an issue open).")
    assert "anti-pattern left an issue open: jira state" in judgment.reasoning
    assert judgment.judge == "rule" and asked == []


def test_text_criteria_without_a_model_are_unjudged_with_how_to_configure_one() -> None:
    for llm in (None, LlmClient(LlmSection(), env={})):
        judgment = judge(llm, satisfaction_criteria=[POSTED, TEXT], anti_patterns=[TEXT_ANTI])
        assert judgment.verdict == "unjudged"
        assert (
            f"criterion {TEXT!r}" in judgment.reasoning
            and f"anti-pattern {TEXT_ANTI!r}" in judgment.reasoning
        )
        for hint in ("orchestrate.toml", '[llm] model = "', "base_url", "api_key_env"):
            assert hint in judgment.reasoning
        assert judgment.criteria_unjudged == [TEXT] and judgment.criteria_unmet == ["told Slack"]
        assert (judgment.judge, judgment.confidence, judgment.model) == ("rule", 0.0, None)
        if llm is not None:
            llm.close()


def test_a_text_anti_pattern_left_to_check_needs_a_model_even_when_a_criterion_is_met() -> None:
    judgment = judge(None, satisfaction_criteria=[FILED], anti_patterns=[TEXT_ANTI])
    assert judgment.verdict == "unjudged"
    assert judgment.criteria_matched == ["jira state $.issues[?@.status == 'open'] exists True"]
    assert judgment.criteria_unjudged == []  # the criteria are decided; the anti-pattern is not
    assert f"anti-pattern {TEXT_ANTI!r}" in judgment.reasoning


def test_the_judgment_names_its_trajectory_and_run() -> None:
    judgment = judge(None, satisfaction_criteria=[FILED])
    assert (judgment.trajectory_id, judgment.scenario_id, judgment.run_id) == (
        "file-a-bug-001",
        "file-a-bug",
        "2026-01-02-001",
    )
    assert Judgment.model_validate_json(judgment.model_dump_json()) == judgment
