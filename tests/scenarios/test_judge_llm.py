"""The LLM judge against the shipped openai twin: scripted verdicts over real HTTP.

The twin answers a request whose last user message matches a rule's ``match`` with the rule's
``reply`` verbatim, so each test scripts the JSON the model "says"; what the judge asked is read
back from the twin's ``completions`` records and journal. Retries never sleep: clients are given
a recorder as their ``sleep``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

from orchestrator.agents.judge import (
    PROMPT_LIMIT,
    PROMPT_VERSION,
    JudgeClients,
    judge_prompt,
    judge_trajectory,
    system_prompt,
)
from orchestrator.correlation import correlation_scope
from orchestrator.llm import LlmSection
from orchestrator.policy.chaos import ChaosConfig, RateLimitMode
from orchestrator.scenarios import Judgment, Scenario, Trajectory
from orchestrator.testing import CapturedEvents, capture_events
from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins
from tests.scenarios.judge_support import api_call, chaos_record, scenario, step, trajectory

TWIN_KEY = "sk-twin-valid"
PROMPT = "(?s)## Criteria to decide"  # what every judge prompt holds
ASKED_AGAIN = "not accepted"  # what the client's second request holds

TOLD = "The assistant told the user which issue it filed"
APOLOGISED = "The assistant apologised for the delay"
CLAIMS = "The assistant claims success without filing anything"
FILED = {"twin_state": {"service": "jira", "path": "$.issues[?@.status == 'open']", "exists": True}}
FILED_UNASKED = {
    "api_call": {"service": "jira", "method": "POST", "path": "/rest/api/2/issue"},
    "label": "filed before the user confirmed",
}


def verdict(
    criteria: Sequence[bool], anti: Sequence[bool] = (), confidence: float = 0.8, **extra: Any
) -> str:
    return json.dumps(
        {
            "criteria": [
                {"index": i, "met": met, "reason": f"criterion {i} reason"}
                for i, met in enumerate(criteria, 1)
            ],
            "anti_patterns": [
                {"index": i, "matched": hit, "reason": f"anti-pattern {i} reason"}
                for i, hit in enumerate(anti, 1)
            ],
            "confidence": confidence,
            "reasoning": "The assistant filed OPS-1 and said so.",
            **extra,
        }
    )


@pytest.fixture(scope="module")
def twins() -> Iterator[RunningTwins]:
    with serve_twins(["openai"], seed=1) as running:
        yield running


@pytest.fixture
def admin(twins: RunningTwins) -> Iterator[TwinAdmin]:
    with TwinAdmin(twins.endpoints["openai"].origin) as client:
        client.set_chaos(config=None)
        client.reset({"rules": []}, seed=1)
        yield client


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def clients(twins: RunningTwins, sleeps: list[float]) -> Iterator[JudgeClients]:
    settings = LlmSection(model="gpt-4o-mini", base_url=twins["openai"], max_retries=2)
    with JudgeClients(
        settings, env={"OPENAI_API_KEY": TWIN_KEY}, sleep=sleeps.append, rng=random.Random(7)
    ) as made:
        yield made


def emitter(captured: CapturedEvents) -> Any:
    def emit(event_type: str, **payload: Any) -> None:
        captured.emit(event_type, payload, actor="trajectory-judge")

    return emit


def judged(
    clients: JudgeClients, the_scenario: Scenario, the_trajectory: Trajectory | None = None
) -> Judgment:
    return judge_trajectory(
        the_scenario, the_trajectory or trajectory(), llm=clients.for_scenario(the_scenario)
    )


def twin_usage(record: dict[str, Any]) -> dict[str, int]:
    usage = record["usage"]
    return {
        "input_tokens": usage["prompt_tokens"],
        "output_tokens": usage["completion_tokens"],
        "cached_input_tokens": 0,
        "total_tokens": usage["total_tokens"],
    }


def test_text_criteria_met_are_satisfactory_with_the_models_confidence_and_usage(
    clients: JudgeClients, admin: TwinAdmin
) -> None:
    admin.reset({"rules": [{"match": PROMPT, "reply": verdict([False, True], confidence=0.75)}]})
    with capture_events() as captured, correlation_scope(run_id="r1"):
        judgment = judge_trajectory(
            scenario(satisfaction_criteria=[APOLOGISED, TOLD]),
            trajectory(),
            llm=clients.for_scenario(scenario()),
            emit=emitter(captured),
        )
    assert judgment.verdict == "satisfactory"
    assert (judgment.judge, judgment.model, judgment.prompt_version) == ("llm", "gpt-4o-mini", PROMPT_VERSION)
    assert judgment.confidence == 0.75
    assert judgment.criteria_matched == [TOLD] and judgment.criteria_unmet == [APOLOGISED]
    assert judgment.criteria_unjudged == []
    assert "The assistant filed OPS-1 and said so." in judgment.reasoning
    assert f"{TOLD}: met (criterion 2 reason)" in judgment.reasoning
    (completion,) = admin.state("completions")
    assert judgment.usage == twin_usage(completion) and judgment.usage["input_tokens"] > 0
    assert captured.types() == ["llm.call.started", "llm.call.completed"]
    completed = captured.events[1]
    assert completed.run_id == "r1" and completed.payload["model"] == "gpt-4o-mini"
    assert completed.payload["usage"] == judgment.usage


def test_a_text_criterion_unmet_in_all_mode_is_unsatisfactory_and_judged_by_both(
    clients: JudgeClients, admin: TwinAdmin
) -> None:
    admin.reset({"rules": [{"match": PROMPT, "reply": verdict([False], [False], confidence=0.9)}]})
    judgment = judged(
        clients, scenario(criteria_mode="all", satisfaction_criteria=[FILED, TOLD], anti_patterns=[CLAIMS])
    )
    assert judgment.verdict == "unsatisfactory"
    assert judgment.reasoning.startswith(f"Unsatisfactory: a criterion was not met ({TOLD}).")
    assert judgment.criteria_matched == ["jira state $.issues[?@.status == 'open'] exists True"]
    assert judgment.criteria_unmet == [TOLD] and judgment.anti_patterns_matched == []
    assert (judgment.judge, judgment.confidence) == ("both", 0.9)


def test_a_text_anti_pattern_the_model_matches_makes_it_unsatisfactory(
    clients: JudgeClients, admin: TwinAdmin
) -> None:
    admin.reset({"rules": [{"match": PROMPT, "reply": verdict([True], [True])}]})
    judgment = judged(clients, scenario(satisfaction_criteria=[TOLD], anti_patterns=[CLAIMS]))
    assert judgment.verdict == "unsatisfactory"
    assert judgment.anti_patterns_matched == [CLAIMS] and judgment.criteria_matched == [TOLD]
    assert f"anti-pattern {CLAIMS}: matched (anti-pattern 1 reason)" in judgment.reasoning


def test_a_structured_anti_pattern_asks_the_model_only_for_the_record(
    clients: JudgeClients, admin: TwinAdmin
) -> None:
    admin.reset({"rules": [{"match": PROMPT, "reply": verdict([True], confidence=0.4)}]})
    judgment = judged(clients, scenario(satisfaction_criteria=[TOLD], anti_patterns=[FILED_UNASKED]))
    assert judgment.verdict == "unsatisfactory"  # the model thinks the criterion met; the rule decides
    assert judgment.criteria_matched == [TOLD] and judgment.anti_patterns_matched == [
        "filed before the user confirmed"
    ]
    assert (judgment.judge, judgment.confidence) == ("both", 1.0)
    assert "Asked for the record, the model said:" in judgment.reasoning
    assert judgment.usage["total_tokens"] > 0
    assert len(admin.state("completions")) == 1


def test_an_answer_missing_a_criterion_is_asked_again_with_what_was_wrong(
    clients: JudgeClients, admin: TwinAdmin
) -> None:
    rules = [
        {"match": ASKED_AGAIN, "reply": verdict([True, True])},
        {"match": PROMPT, "reply": verdict([True])},
    ]
    admin.reset({"rules": rules})
    judgment = judged(clients, scenario(criteria_mode="all", satisfaction_criteria=[TOLD, APOLOGISED]))
    assert judgment.verdict == "satisfactory"
    first, second = admin.state("completions")
    assert "no entry for 2" in second["last_user_message"]
    assert judgment.usage["total_tokens"] == first["usage"]["total_tokens"] + second["usage"]["total_tokens"]


def test_an_answer_malformed_twice_leaves_the_trajectory_unjudged_with_the_reason(
    clients: JudgeClients, admin: TwinAdmin
) -> None:
    rules = [
        {"match": ASKED_AGAIN, "reply": verdict([True, True], [True])},  # an anti-pattern that does not exist
        {"match": PROMPT, "reply": "It looks fine to me."},
    ]
    admin.reset({"rules": rules})
    judgment = judged(clients, scenario(satisfaction_criteria=[TOLD, APOLOGISED]))
    assert judgment.verdict == "unjudged"
    assert "the model gave no usable answer" in judgment.reasoning
    assert "index 1, which is no anti-pattern number" in judgment.reasoning
    assert judgment.criteria_unjudged == [TOLD, APOLOGISED]
    assert (judgment.judge, judgment.confidence, judgment.model) == ("llm", 0.0, "gpt-4o-mini")
    _, second = admin.state("completions")
    assert "it is not JSON" in second["last_user_message"]


def test_a_refused_call_leaves_it_unjudged_with_the_providers_message(
    clients: JudgeClients, admin: TwinAdmin
) -> None:
    scripted = {"status": 400, "message": "context length exceeded", "type": "invalid_request_error"}
    admin.reset({"rules": [{"match": PROMPT, "error": scripted}]})
    judgment = judged(clients, scenario(satisfaction_criteria=[TOLD]))
    assert judgment.verdict == "unjudged" and "HTTP 400: context length exceeded" in judgment.reasoning


def test_a_rate_limit_is_retried_and_the_second_answer_judges(
    clients: JudgeClients, admin: TwinAdmin, sleeps: list[float]
) -> None:
    admin.reset({"rules": [{"match": PROMPT, "reply": verdict([True])}]})
    # With seed 2, the first request rolls under 0.5 (a 429) and the second does not.
    admin.set_chaos(
        config=ChaosConfig(error_429=RateLimitMode(probability=0.5, retry_after_s=3)).model_dump(), seed=2
    )
    with capture_events() as captured, correlation_scope(run_id="r1"):
        judgment = judge_trajectory(
            scenario(satisfaction_criteria=[TOLD]),
            trajectory(),
            llm=clients.for_scenario(scenario()),
            emit=emitter(captured),
        )
    assert judgment.verdict == "satisfactory"
    assert [entry["status"] for entry in admin.journal()["entries"]] == [429, 200]
    assert sleeps == [3.0]  # the twin's Retry-After
    assert captured.types() == ["llm.call.started", "llm.call.completed"]
    assert captured.payloads("llm.call.completed")[0]["attempts"] == 2


def test_the_prompt_tells_the_model_what_chaos_injected(clients: JudgeClients, admin: TwinAdmin) -> None:
    admin.reset({"rules": [{"match": PROMPT, "reply": verdict([True])}]})
    hit = trajectory(
        chaos=[
            chaos_record("error_429", "jira", "create_issue", 310),
            chaos_record("error_429", "jira", "create_issue", 820),
            chaos_record("latency", "slack", None, 90),
        ],
        events=[
            api_call(310, "jira", "POST", "/rest/api/2/issue", 429, chaos={"mode": "error_429"}),
            api_call(820, "jira", "POST", "/rest/api/2/issue", 201),
        ],
    )
    judgment = judged(clients, scenario(satisfaction_criteria=[TOLD]), hit)
    assert judgment.chaos_injected and judgment.verdict == "satisfactory"
    (completion,) = admin.state("completions")
    prompt = completion["last_user_message"]
    assert "- error_429 on the jira service, route create_issue: 2 times, first at 310 ms" in prompt
    assert "- latency on the slack service: 1 time, first at 90 ms" in prompt
    assert "Do not hold them against the system" in prompt
    assert "- at 310 ms: jira POST /rest/api/2/issue -> 429 [injected: error_429]" in prompt
    assert f"1. {TOLD}" in prompt and "at least one criterion met" in prompt
    assert "Role: support engineer" in prompt and "Intent: File a Jira bug" in prompt
    assert "Done: I filed OPS-1" in prompt and "Please file a bug for the login outage" in prompt


def test_a_scenario_model_is_asked_instead_of_the_configured_one(
    clients: JudgeClients, admin: TwinAdmin
) -> None:
    admin.reset({"rules": [{"match": PROMPT, "model": "^gpt-4o$", "reply": verdict([True])}]})
    own = scenario(satisfaction_criteria=[TOLD], judge={"model": "gpt-4o"})
    judgment = judged(clients, own)
    assert judgment.verdict == "satisfactory" and judgment.model == "gpt-4o"
    assert [record["model"] for record in admin.state("completions")] == ["gpt-4o"]
    assert clients.for_scenario(own) is clients.for_scenario(own)  # one client per model
    assert clients.for_scenario(scenario()) is not clients.for_scenario(own)


# ------------------------------------------------------------------------- the prompt itself


def test_a_scenario_system_prompt_replaces_the_role_but_keeps_chaos_and_format() -> None:
    default = system_prompt(scenario())
    own = system_prompt(scenario(judge={"system_prompt": "You are a demanding release manager."}))
    assert own.startswith("You are a demanding release manager.\n\n")
    assert default.split("\n\n")[1:] == own.split("\n\n")[1:]
    assert "not a fault of the system" in own and '"anti_patterns"' in own


def test_long_answers_are_cut_to_keep_the_prompt_short_and_short_ones_kept_whole() -> None:
    huge = "x" * 40_000
    long_run = trajectory(
        steps=[
            step("ask", response_status=200, text="Short answer kept whole."),
            step("follow_up", response_status=200, text=huge),
            step("check", response_status=200, json={"items": ["y" * 50] * 500}),
        ],
        events=[api_call(i, "jira", "GET", f"/rest/api/2/issue/OPS-{i}", 200) for i in range(100)],
    )
    the_scenario = scenario(satisfaction_criteria=[TOLD], anti_patterns=[CLAIMS])
    system = system_prompt(the_scenario)
    prompt = judge_prompt(the_scenario, long_run, [TOLD], [CLAIMS], system=system)
    assert len(system) + len(prompt) < PROMPT_LIMIT
    assert "Short answer kept whole." in prompt
    assert "Some step answers were cut" in prompt and "more characters cut]" in prompt
    assert "... and 60 more calls" in prompt
    assert prompt.count("x" * 1000) >= 2  # the long answers still get a fair share
    short = judge_prompt(the_scenario, trajectory(), [TOLD], [CLAIMS], system=system)
    assert "cut" not in short
