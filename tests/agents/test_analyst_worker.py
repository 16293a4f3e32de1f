"""The analyst actor through a conductor: which analyst answers in each mode, and how a model failure shows.

Each test runs a real conductor (:func:`run_conductor` over :func:`capture_events`) that starts
one :class:`Analyst` and delegates ``analyse_iteration`` to it; the model is the shipped openai
twin with scripted answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from orchestrator.actors import Conductor, Done, run_conductor, spawn
from orchestrator.agents.analyst import (
    ANALYSE_ITERATION,
    AnalysisDone,
    Analyst,
    AnalystMode,
    analyse,
    llm_analyse,
)
from orchestrator.errors import EscalationError
from orchestrator.llm import LlmClient, LlmNotConfiguredError, LlmSection
from orchestrator.messages import RunOutcome, StartRun
from orchestrator.testing import CapturedEvents, capture_events
from orchestrator.twins import RunningTwins, TwinAdmin, serve_twins
from tests.agents.test_analyst_llm import PROMPT, answer, request

ENV = {"OPENAI_API_KEY": "sk-twin-valid"}
MODEL = "gpt-4o-mini"


class AnalysisConductor(Conductor):
    """Delegates one analysis to one analyst worker; keeps the answer or the failure."""

    settings: ClassVar[LlmSection] = LlmSection()
    mode: ClassVar[AnalystMode] = "auto"
    answers: ClassVar[list[Done[AnalysisDone]]] = []
    failures: ClassVar[list[EscalationError]] = []

    def conduct(self, start: StartRun) -> RunOutcome:
        worker = self.start_worker(
            Analyst, llm_settings=self.settings, mode=self.mode, env=ENV, max_restarts=0
        )
        try:
            self.answers.append(
                self.delegate(worker, ANALYSE_ITERATION, "analyse", params=request(), timeout=30)
            )
        except EscalationError as failed:
            self.failures.append(failed)
        return RunOutcome(run_id=start.run_id, status="completed", summary="analysed")


@pytest.fixture(scope="module")
def twins() -> Iterator[RunningTwins]:
    with serve_twins(["openai"], seed=1) as running:
        yield running


@pytest.fixture
def admin(twins: RunningTwins) -> Iterator[TwinAdmin]:
    with TwinAdmin(twins.endpoints["openai"].origin) as client:
        client.reset({"rules": [{"match": PROMPT, "reply": answer(score=55)}]}, seed=1)
        yield client


@pytest.fixture
def configured(twins: RunningTwins) -> LlmSection:
    return LlmSection(model=MODEL, base_url=twins["openai"])


def conduct(tmp_path: Path, settings: LlmSection, mode: AnalystMode) -> CapturedEvents:
    AnalysisConductor.settings = settings
    AnalysisConductor.mode = mode
    AnalysisConductor.answers = []
    AnalysisConductor.failures = []
    with capture_events() as captured:
        run_conductor(
            AnalysisConductor,
            events=captured,
            run_id="r1",
            events_path=tmp_path / "events.jsonl",
            objective="analyse",
        )
    return captured


def only_answer() -> AnalysisDone:
    (done,) = AnalysisConductor.answers
    assert done.success
    return done.result


def rule_analysis() -> Any:
    the_request = request()
    return analyse(the_request.outcomes, history=the_request.history, settings=the_request.settings)


@pytest.mark.parametrize("mode", ["rules", "auto"])
def test_without_a_model_the_rules_answer_and_no_model_is_asked(
    tmp_path: Path, admin: TwinAdmin, mode: AnalystMode
) -> None:
    captured = conduct(tmp_path, LlmSection(), mode)
    done = only_answer()
    assert (done.analyst, done.model, done.fallback, done.usage) == ("rule", None, None, {})
    assert done.analysis == rule_analysis()
    assert AnalysisConductor.answers[0].summary == (
        "iteration 2 of inventory: score 50, 2 backlog items (rule)"
    )
    assert captured.types("llm.") == [] and admin.state("completions") == []
    assert captured.types("conductor.capability") == ["conductor.capability.completed"]


def test_rules_mode_asks_no_model_even_when_one_is_configured(
    tmp_path: Path, admin: TwinAdmin, configured: LlmSection
) -> None:
    captured = conduct(tmp_path, configured, "rules")
    assert only_answer().analyst == "rule" and only_answer().analysis == rule_analysis()
    assert captured.types("llm.") == [] and admin.state("completions") == []


def test_auto_with_a_model_asks_it_and_answers_as_the_function_does(
    tmp_path: Path, admin: TwinAdmin, configured: LlmSection
) -> None:
    captured = conduct(tmp_path, configured, "auto")
    done = only_answer()
    assert (done.analyst, done.model, done.fallback) == ("llm", MODEL, None)
    assert done.analysis.score == 55 and len(done.analysis.backlog) == 2
    assert AnalysisConductor.answers[0].summary == (
        f"iteration 2 of inventory: score 55, 2 backlog items (llm, {MODEL})"
    )
    with LlmClient(configured, env=ENV) as client:
        direct, usage = llm_analyse(request(), client)
    assert done.analysis == direct and done.usage == usage

    started = captured.of_type("worker.task.started")[0]
    assert started.payload["model_used"] == MODEL
    (completed,) = captured.of_type("llm.call.completed")
    assert completed.actor == started.actor and completed.actor.startswith("analyst-")
    assert (completed.run_id, completed.task_id, completed.call_id) == (
        "r1",
        started.task_id,
        started.call_id,
    )
    assert completed.payload["usage"] == done.usage
    assert captured.types("conductor.task")[-1] == "conductor.task.completed"


def test_auto_falls_back_to_the_rules_when_the_model_answers_garbage(
    tmp_path: Path, admin: TwinAdmin, configured: LlmSection
) -> None:
    admin.reset({"rules": [{"match": ".", "reply": "Looks good to me, maybe 70?"}]}, seed=1)
    captured = conduct(tmp_path, configured, "auto")
    done = only_answer()
    assert (done.analyst, done.model, done.usage) == ("rule", None, {})
    assert done.analysis == rule_analysis()
    fallback = done.fallback or ""
    assert fallback.startswith(f"the LLM analysis by {MODEL} failed, so the rules answered:")
    assert "it is not JSON" in fallback
    assert AnalysisConductor.answers[0].summary.endswith("(rule, after the model failed)")
    assert len(admin.state("completions")) == 2  # asked once more, then gave up on the model
    assert captured.types("llm.call") == ["llm.call.started", "llm.call.completed"] * 2
    assert captured.types("conductor.capability") == ["conductor.capability.completed"]


def test_llm_mode_lets_a_model_failure_fail_the_delegation(
    tmp_path: Path, admin: TwinAdmin, configured: LlmSection
) -> None:
    admin.reset({"rules": [{"match": ".", "reply": "no json here"}]}, seed=1)
    captured = conduct(tmp_path, configured, "llm")
    assert AnalysisConductor.answers == []
    (failed,) = AnalysisConductor.failures
    assert (failed.failure.kind, failed.failure.error_type) == ("raised", "LlmAnswerError")
    assert failed.failure.error_code == "llm_answer_invalid" and "it is not JSON" in failed.failure.error
    (event,) = captured.of_type("conductor.capability.failed")
    assert event.payload["capability"] == "analyse_iteration"
    assert captured.types("worker.task") == ["worker.task.started", "worker.task.failed"]


def test_llm_mode_without_a_model_is_refused_when_the_actor_is_made(tmp_path: Path) -> None:
    with pytest.raises(LlmNotConfiguredError, match=r"\[llm\] section") as raised:
        spawn(Analyst, llm_settings=LlmSection(), mode="llm")
    assert 'model = "gpt-4o-mini"' in str(raised.value)

    AnalysisConductor.settings, AnalysisConductor.mode = LlmSection(), "llm"
    AnalysisConductor.answers, AnalysisConductor.failures = [], []
    with capture_events() as captured, pytest.raises(LlmNotConfiguredError):
        run_conductor(
            AnalysisConductor,
            events=captured,
            run_id="r1",
            events_path=tmp_path / "events.jsonl",
            objective="x",
        )
    assert AnalysisConductor.answers == [] and AnalysisConductor.failures == []
    (terminal,) = captured.of_type("conductor.task.failed")
    assert terminal.payload["error_code"] == "llm_not_configured"
