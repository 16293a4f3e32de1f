"""The LLM analyst against the shipped openai twin: scripted analyses over real HTTP.

The twin answers a request whose last user message matches a rule's ``match`` with the rule's
``reply`` verbatim, so each test scripts the JSON the model "says"; what the analyst asked is
read back from the twin's ``completions`` records and from the request bodies the client sent
(a recording transport over httpx's own). Retries never sleep: the client is given a recorder as
its ``sleep``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orchestrator.agents.analyst import (
    FORMULA,
    PROMPT_VERSION,
    AnalysisRequest,
    AnalystSettings,
    ExpectationResult,
    IterationHistory,
    StepOutcome,
    analysis_prompt,
    count_statuses,
    llm_analyse,
)
from orchestrator.correlation import correlation_scope
from orchestrator.llm import LlmAnswerError, LlmClient, LlmSection
from orchestrator.testing import CapturedEvents, capture_events
from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins

TWIN_KEY = "sk-twin-valid"
MODEL = "gpt-4o-mini"
PROMPT = r"## Steps \("  # what every analyst prompt holds
ASKED_AGAIN = "not accepted"  # what the client's second request holds

STOCK_BRIEF = "A store manager checks the stock of one product and asks where the figure comes from."


def outcomes() -> list[StepOutcome]:
    """Three steps over two scenarios: accepted, partial (evidence unmet), missing a capability."""
    return [
        StepOutcome(
            scenario="stock-check",
            step="step_01",
            status="accepted",
            decision=False,
            expectations=[
                ExpectationResult(kind="contains", category="presentation", met=True, detail="names SKU-1")
            ],
            evidence_paths=["steps/step_01/output.md"],
        ),
        StepOutcome(
            scenario="stock-check",
            step="step_02",
            status="partial",
            decision=False,
            expectations=[
                ExpectationResult(
                    kind="route", category="route", met=True, detail="route stock_level called"
                ),
                ExpectationResult(kind="evidence", category="evidence", met=False, detail="no source cited"),
            ],
            evidence_paths=["steps/step_02/output.md", "steps/step_02/debug.json"],
        ),
        StepOutcome(
            scenario="reorder",
            step="step_01",
            status="needs_exact_capability",
            decision=False,
            expectations=[
                ExpectationResult(
                    kind="route", category="route", met=False, detail="route low_stock not called"
                )
            ],
            evidence_paths=["steps/step_01/debug.json"],
            error="no capability low_stock",
        ),
    ]


def request(**changes: Any) -> AnalysisRequest:
    fields: dict[str, Any] = {
        "pack_id": "inventory",
        "iteration": 2,
        "outcomes": outcomes(),
        "history": [IterationHistory(n=1, score=30, coder_exit_code=0, coder_changed_paths=["src/app.py"])],
        "settings": AnalystSettings(stall_limit=2, allowed_paths=["src/**"]),
        "briefs": {"stock-check": STOCK_BRIEF, "reorder": "Reorder a product running low."},
    }
    fields.update(changes)
    return AnalysisRequest(**fields)


def item(
    scenario: str, step: str, category: str = "route", evidence: list[str] | None = None
) -> dict[str, Any]:
    return {
        "scenario": scenario,
        "step": step,
        "category": category,
        "problem": f"{scenario}/{step} falls short",
        "evidence": evidence if evidence is not None else [],
        "suggested_change": f"fix {scenario}/{step}",
    }


def answer(
    score: int = 55,
    backlog: list[dict[str, Any]] | None = None,
    requires: bool = False,
    reason: str | None = None,
) -> str:
    items = (
        backlog
        if backlog is not None
        else [
            item("reorder", "step_01", "route", ["steps/step_01/debug.json"]),
            item("stock-check", "step_02", "evidence", ["steps/step_02/output.md"]),
        ]
    )
    return json.dumps(
        {"score": score, "backlog": items, "requires_user_decision": requires, "decision_reason": reason}
    )


class RecordingTransport(httpx.HTTPTransport):
    """httpx's own transport, keeping each request's headers and body as sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[dict[str, str], bytes]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((dict(request.headers), request.read()))
        return super().handle_request(request)


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
def transport() -> RecordingTransport:
    return RecordingTransport()


@pytest.fixture
def llm(twins: RunningTwins, sleeps: list[float], transport: RecordingTransport) -> Iterator[LlmClient]:
    settings = LlmSection(model=MODEL, base_url=twins["openai"], max_retries=2)
    with LlmClient(
        settings,
        env={"OPENAI_API_KEY": TWIN_KEY},
        transport=transport,
        sleep=sleeps.append,
        rng=random.Random(7),
    ) as client:
        yield client


def emitter(captured: CapturedEvents) -> Any:
    def emit(event_type: str, **payload: Any) -> None:
        captured.emit(event_type, payload, actor="analyst")

    return emit


def twin_usage(record: dict[str, Any]) -> dict[str, int]:
    usage = record["usage"]
    return {
        "input_tokens": usage["prompt_tokens"],
        "output_tokens": usage["completion_tokens"],
        "cached_input_tokens": 0,
        "total_tokens": usage["total_tokens"],
    }


def test_a_valid_answer_becomes_the_analysis_with_counts_from_the_facts(
    llm: LlmClient, admin: TwinAdmin
) -> None:
    admin.reset({"rules": [{"match": PROMPT, "reply": answer(score=55)}]})
    with capture_events() as captured, correlation_scope(run_id="r1"):
        analysis, usage = llm_analyse(request(), llm, emit=emitter(captured))

    assert analysis.score == 55
    assert analysis.counts == count_statuses(outcomes())
    assert analysis.counts.model_dump() == {
        "accepted": 1,
        "partial": 1,
        "needs_exact_capability": 1,
        "blocked": 0,
    }
    assert [(i.scenario, i.step, i.category) for i in analysis.backlog] == [
        ("reorder", "step_01", "route"),
        ("stock-check", "step_02", "evidence"),
    ]
    assert analysis.backlog[1].evidence == ["steps/step_02/output.md"]
    assert analysis.backlog[1].suggested_change == "fix stock-check/step_02"
    assert (analysis.requires_user_decision, analysis.decision_reason) == (False, None)
    assert f"judged by the model {MODEL} (prompt {PROMPT_VERSION})" in analysis.formula
    assert analysis.formula.endswith(f"the rule formula gives 50: {FORMULA}")  # (1 + 0.5 + 0) / 3

    (completion,) = admin.state("completions")
    assert usage == twin_usage(completion) and usage["input_tokens"] > 0
    assert captured.types() == ["llm.call.started", "llm.call.completed"]
    completed = captured.events[1]
    assert completed.run_id == "r1" and completed.payload["model"] == MODEL
    assert completed.payload["usage"] == usage


def test_an_invalid_answer_is_asked_again_once_and_the_second_answer_counts(
    llm: LlmClient, admin: TwinAdmin
) -> None:
    rules = [
        {"match": ASKED_AGAIN, "reply": answer(score=61)},
        {"match": PROMPT, "reply": answer(score=140)},
    ]
    admin.reset({"rules": rules})
    analysis, usage = llm_analyse(request(), llm)
    assert analysis.score == 61
    first, second = admin.state("completions")
    assert "score" in second["last_user_message"] and ASKED_AGAIN in second["last_user_message"]
    assert usage["total_tokens"] == first["usage"]["total_tokens"] + second["usage"]["total_tokens"]


def test_an_answer_invalid_twice_raises_with_what_was_wrong(llm: LlmClient, admin: TwinAdmin) -> None:
    rules = [
        {"match": ASKED_AGAIN, "reply": answer(requires=True, reason=None)},  # a decision without a reason
        {"match": PROMPT, "reply": "The assistant is doing fine, about 60."},
    ]
    admin.reset({"rules": rules})
    with pytest.raises(LlmAnswerError) as raised:
        llm_analyse(request(), llm)
    assert "say why the user must decide" in raised.value.reason
    _, second = admin.state("completions")
    assert "it is not JSON" in second["last_user_message"]


def test_the_model_cannot_take_back_a_decision_the_rules_require(llm: LlmClient, admin: TwinAdmin) -> None:
    steps = outcomes()
    steps[1] = steps[1].model_copy(update={"decision": True})  # a partial decision step
    admin.reset({"rules": [{"match": PROMPT, "reply": answer(score=90, requires=False)}]})
    analysis, _ = llm_analyse(request(outcomes=steps), llm)
    assert analysis.requires_user_decision and analysis.score == 90
    reason = analysis.decision_reason or ""
    assert reason.startswith("step step_02 of scenario stock-check needs a decision: it ended partial")
    assert f"the model {MODEL} did not ask for a decision, but the rule applies" in reason


def test_the_rules_apply_to_the_models_score_and_its_own_reason_comes_after_theirs(
    llm: LlmClient, admin: TwinAdmin
) -> None:
    history = [
        IterationHistory(n=1, score=50, coder_exit_code=0, coder_changed_paths=["src/app.py"]),
        IterationHistory(n=2, score=50, coder_exit_code=0, coder_changed_paths=["src/app.py"]),
    ]
    reply = answer(score=50, requires=True, reason="the low_stock route needs a product decision")
    admin.reset({"rules": [{"match": PROMPT, "reply": reply}]})
    analysis, _ = llm_analyse(request(iteration=3, history=history), llm)
    reason = analysis.decision_reason or ""
    assert reason.startswith("the last 2 coder runs (after iterations 1, 2) did not raise the score: 50")
    assert reason.endswith(f"the model {MODEL} also said: the low_stock route needs a product decision)")


def test_the_model_may_ask_for_a_decision_the_rules_do_not_require(llm: LlmClient, admin: TwinAdmin) -> None:
    reply = answer(requires=True, reason="the reorder  flow   needs a supplier the user must pick")
    admin.reset({"rules": [{"match": PROMPT, "reply": reply}]})
    analysis, _ = llm_analyse(request(), llm)
    assert analysis.requires_user_decision
    assert (
        analysis.decision_reason
        == f"the model {MODEL} asks: the reorder flow needs a supplier the user must pick"
    )


def test_items_for_steps_that_did_not_run_are_dropped_and_evidence_stays_the_steps_own(
    llm: LlmClient, admin: TwinAdmin
) -> None:
    backlog = [
        item("stock-check", "step_09"),  # no such step
        item("ghost", "step_01"),  # no such scenario
        item("reorder", "step_01", "route", ["/etc/passwd", "steps/step_01/debug.json"]),
        item("stock-check", "step_02", "evidence", ["made/up.md"]),
    ]
    admin.reset({"rules": [{"match": PROMPT, "reply": answer(backlog=backlog)}]})
    analysis, _ = llm_analyse(request(), llm)
    assert [(i.scenario, i.step, i.evidence) for i in analysis.backlog] == [
        ("reorder", "step_01", ["steps/step_01/debug.json"]),
        ("stock-check", "step_02", ["steps/step_02/output.md", "steps/step_02/debug.json"]),
    ]


def test_the_prompt_holds_every_step_expectation_iteration_and_limit(
    llm: LlmClient, admin: TwinAdmin, transport: RecordingTransport
) -> None:
    steps = outcomes()
    steps[0] = steps[0].model_copy(update={"decision": True})
    the_request = request(outcomes=steps)
    admin.reset({"rules": [{"match": PROMPT, "reply": answer()}]})
    llm_analyse(the_request, llm)

    (completion,) = admin.state("completions")
    prompt = completion["last_user_message"]
    assert prompt == analysis_prompt(the_request) == analysis_prompt(request(outcomes=list(steps)))
    assert "# Iteration 2 of the pack inventory" in prompt
    assert f"- stock-check: {STOCK_BRIEF}" in prompt and "- reorder: Reorder a product running low." in prompt
    assert "## Steps (3: 1 accepted, 1 partial, 1 needs_exact_capability, 0 blocked)" in prompt
    assert "- stock-check/step_01: accepted, a decision for the user" in prompt
    assert "  - met: contains (presentation): names SKU-1" in prompt
    assert "- stock-check/step_02: partial\n" in prompt
    assert "  - met: route (route): route stock_level called" in prompt
    assert "  - NOT MET: evidence (evidence): no source cited" in prompt
    assert "  Evidence: steps/step_02/output.md, steps/step_02/debug.json" in prompt
    assert "- reorder/step_01: needs_exact_capability\n  Error: no capability low_stock" in prompt
    assert "  - NOT MET: route (route): route low_stock not called" in prompt
    assert prompt.index("- reorder/step_01") < prompt.index("- stock-check/step_01")  # sorted by scenario
    assert "- iteration 1: score 30; then the coder exited 0 and changed 1 files: src/app.py" in prompt
    assert "Files the coder may change: src/**" in prompt
    assert "Stall limit: 2 coder runs in a row that do not raise the score" in prompt
    assert f"The rule formula ({FORMULA}) gives 50." in prompt

    ((_, body),) = transport.sent
    sent = json.loads(body)
    system = sent["messages"][0]
    assert system["role"] == "system" and "the improvement loop of an AI assistant" in system["content"]
    assert sent["response_format"]["json_schema"]["name"] == "AnalystAnswer"


def test_the_api_key_reaches_only_the_authorization_header(
    llm: LlmClient, admin: TwinAdmin, transport: RecordingTransport
) -> None:
    rules = [{"match": ASKED_AGAIN, "reply": answer()}, {"match": PROMPT, "reply": "not json"}]
    admin.reset({"rules": rules})
    with capture_events() as captured, correlation_scope(run_id="r1"):
        llm_analyse(request(), llm, emit=emitter(captured))
    assert len(transport.sent) == 2
    for headers, body in transport.sent:
        assert TWIN_KEY in headers["authorization"]  # sent, so its absence below means something
        assert TWIN_KEY.encode() not in body
    assert captured.types() == ["llm.call.started", "llm.call.completed"] * 2
    assert TWIN_KEY not in json.dumps([event.model_dump(mode="json") for event in captured.events])


def test_long_text_is_cut_and_many_steps_are_summed_up_deterministically() -> None:
    many = [
        StepOutcome(
            scenario=f"s-{index:03d}",
            step="step_01",
            status="blocked",
            decision=False,
            expectations=[],
            error="x" * 5_000,
            evidence_paths=[f"steps/step_01/file_{n}.json" for n in range(12)],
        )
        for index in range(200)
    ]
    the_request = request(outcomes=list(reversed(many)), history=[], briefs={"s-000": "y" * 5_000})
    prompt = analysis_prompt(the_request)
    assert prompt == analysis_prompt(
        request(outcomes=list(reversed(many)), history=[], briefs={"s-000": "y" * 5_000})
    )
    assert "- ... and 50 more steps, not shown" in prompt
    assert prompt.index("- s-000/step_01") < prompt.index("- s-001/step_01")
    assert "s-199/step_01" not in prompt
    assert "[... 4700 more characters cut]" in prompt and "[... 4200 more characters cut]" in prompt
    assert "(and 4 more)" in prompt
    assert "(none: this is the first iteration)" in prompt and "Expectations: none" in prompt
